"""The stages glued together: `make_report` computes a `Report`, `build` publishes one.

`make_report(ratings, config)` is pure computing (train → analyse → draw), with no
file touched and no lock; `build(options)` is what `reportgen build` runs:
load → lock → make_report → compare → write → publish → prune (an output folder
that has its lock file already is locked before the load, creating nothing). Nothing in the
output folder changes until every stage has succeeded: the new report is written
into a staging folder under `runs/`, renamed to its timestamped name, and only
then published by swapping the one link `latest` (`outputs.publish`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reportgen import __version__, analysis, data, train
from reportgen.analysis import defaults
from reportgen.data import DbData, Downloader, OwnData, Ratings, download_with_fastai
from reportgen.data.types import check_ratings
from reportgen.errors import RunError
from reportgen.render.figures import draw as draw_figures
from reportgen.render.formatting import seconds
from reportgen.render.history import history_view
from reportgen.render.html import check_templates, render_history, render_html
from reportgen.render.labels import TIMES
from reportgen.render.markdown import render_markdown
from reportgen.report import Report, ReportDoc, Timings, dumps, summarise, versions
from reportgen.report.compare import compare
from reportgen.runs import history, outputs
from reportgen.train import distributed
from reportgen.train.kept import VOCABULARY_NAME, WEIGHTS_NAME, model_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    """What one `reportgen build` run does.

    `source`: an own ratings file, a GroupLens folder/zip, or None for the built-in
    ml-100k. A `train.y_range` of None is derived from the data (`train.default_y_range`).
    `source_date` (from SOURCE_DATE_EPOCH) replaces the clock in the report and
    leaves durations out, so two runs give byte-identical files.
    """

    source: Path | OwnData | DbData | None = None
    output: Path = Path("output")
    train: train.TrainConfig = train.TrainConfig()
    item_key: str = "title"
    duplicates: str = "last"
    top_n: int | None = None  # None: defaults.TOP_N, with no warning when the data has fewer items
    k: int = defaults.K
    relevant_from: float | None = None
    templates: Path | None = None
    progress: bool = False
    download: Downloader | None = download_with_fastai
    keep: int = 30
    compare_with: Path | None = None
    wait: float = 0.0
    source_date: dt.datetime | None = None
    keep_model: bool = True  # model.safetensors + model.json in the run's folder (--no-model: False)
    baseline: Path | None = None  # the model to review tonight's against (a run folder); None: the previous run's


@dataclass(frozen=True)
class BuildResult:
    report: Report
    html: Path  # the published latest report
    json: Path
    run: Path  # this run's folder under runs/


def make_report(
    ratings: Ratings,
    config: train.TrainConfig | None = None,
    *,
    top_n: int | None = None,
    k: int = defaults.K,
    relevant_from: float | None = None,
    source_date: dt.datetime | None = None,
    progress: bool = False,
    on_epoch: train.EpochHook | None = None,
    on_progress: train.ProgressHook | None = None,
    load_seconds: float = 0.0,
    on_model: Callable[[train.TrainedModel], None] | None = None,
    baseline: analysis.Baseline | None = None,
) -> Report:
    """Train on `ratings`, analyse what the model learned and draw the figures: the report, in memory.

    `top_n` (None: `defaults.TOP_N`, quietly clamped), `k` and `relevant_from` are `analysis.analyse`'s;
    `source_date` replaces the clock and leaves durations out (reproducible bytes);
    `load_seconds` is how long the caller took to load `ratings`, for the timings;
    `on_model(model)` receives the trained model (to keep it: `model.model_files`);
    `baseline`: a model to review tonight's against (`analysis.review`: on the ratings neither trained on).
    """
    check_inputs(ratings, config, top_n=top_n, k=k, relevant_from=relevant_from)
    started = time.perf_counter()
    model = train.fit(
        ratings, config or train.TrainConfig(), progress=progress, on_epoch=on_epoch, on_progress=on_progress
    )
    if on_model is not None:
        on_model(model)
    trained = time.perf_counter()
    # Each duration under its one name (render/labels.py), written as the page writes it.
    fit = "" if model.runtime is None else f", {TIMES['fit']} {seconds(model.runtime.fit_seconds)}"
    log.info(
        "trained: %s %s%s; valid MSE %.4f, RMSE %.4f",
        TIMES["train"],
        seconds(trained - started),
        fit,
        model.metrics.valid_mse,
        model.metrics.valid_rmse,
    )
    for note in model.notes:
        log.warning("warning: %s", note)

    result = analysis.analyse(ratings, model, top_n=top_n, k=k, relevant_from=relevant_from)
    reviewing = time.perf_counter()
    reviewed = None if baseline is None else reviewed_against(ratings, model, result, baseline)
    analysed = time.perf_counter()
    b = result.baselines
    log.info(
        "analysed in %s: RMSE %.4f (model) vs %.4f (biases only) vs %.4f (global mean)",
        seconds(analysed - trained),
        b.model_rmse,
        b.bias_only_rmse,
        b.global_mean_rmse,
    )
    if reviewed is not None:
        log.info(
            "reviewed against run %s in %s: %s", reviewed.baseline, seconds(analysed - reviewing), reviewed.sentence
        )
    for shortfall in result.shortfalls:
        log.warning("warning: %s", shortfall.sentence)
    for note in result.notes:
        log.warning("warning: %s", note)

    figures = draw_figures(result, model.metrics.epochs)
    drawn = time.perf_counter()
    total = load_seconds + drawn - started
    log.info("drew the figures in %s; %s %s", seconds(drawn - analysed), TIMES["total"], seconds(total))
    moment = source_date or dt.datetime.now(dt.UTC)
    return Report(
        generated_at=moment.replace(microsecond=0).isoformat(),
        dataset=summarise(ratings),
        config=model.config,
        top_n=result.top_n_requested,
        metrics=model.metrics,
        analysis=result,
        timings=None
        if source_date is not None
        else Timings(
            load=load_seconds,
            train=trained - started,
            analyse=analysed - trained,
            render=drawn - analysed,
            total=total,
        ),
        figures=figures,
        versions=versions(),
        notes=ratings.notes + model.notes + result.notes,
        runtime=model.runtime,
        citation=data.CITATION if ratings.is_movielens else "",
        split=train.describe_split(ratings.frame, model.config, model.split),
        review=reviewed,
    )


def reviewed_against(
    ratings: Ratings, model: train.TrainedModel, result: analysis.Analysis, baseline: analysis.Baseline
) -> analysis.Review:
    """Tonight's fit against `baseline` (`analysis.review`), its lists scored as tonight's quality is."""
    import numpy as np

    held_out = np.zeros(len(ratings.frame), dtype=bool)
    held_out[model.split[1]] = True  # the fit's own validation rows: no need to hash every rating again
    return analysis.review_models(
        ratings,
        train.FactorModel.of_trained(model),
        baseline.model,
        name=baseline.name,
        generated_at=baseline.generated_at,
        top_items=result.top_items,
        factor_map=result.factor_map,
        k=result.quality.k,
        threshold=result.quality.threshold,
        held_out=held_out,
    )


def check_inputs(ratings: object, config: object, *, top_n: object, k: object, relevant_from: object) -> None:
    """What `make_report` is given, checked before it trains: `InputError`s that name the setting."""
    check_ratings(ratings)
    if config is not None:
        train.check_config(config)
    defaults.check_settings(top_n, k, relevant_from)


def write(report: Report, folder: Path, templates: Path | None = None, model: train.TrainedModel | None = None) -> Path:
    """Write `report.html`, `report.json` and `report.md` (and, given `model`, the kept model) into `folder`.

    Everything is rendered before anything is written, then written as one set
    (`outputs.write_run`); returns the page's path.
    """
    return outputs.write_run(Path(folder), payloads(report, templates, model))


def payloads(
    report: Report, templates: Path | None = None, model: train.TrainedModel | None = None
) -> dict[str, bytes]:
    """A run's files by name, rendered in memory: report.html, report.json, report.md (and the kept model)."""
    rendered = {
        outputs.JSON_NAME: dumps(report).encode("utf-8"),
        outputs.HTML_NAME: render_html(report, templates).encode("utf-8"),
        outputs.MARKDOWN_NAME: render_markdown(report).encode("utf-8"),
    }
    return rendered | (model_files(model) if model is not None else {})


def write_history(output: Path) -> Path:
    """`reportgen history`: rebuild OUTPUT/index.html from what runs/ holds now (atomically); returns its path.

    Under the output folder's lock where it has one (as every writer in it is, so that a build
    may remove every leftover it finds), so while a build holds it this is `LockedError`.
    """
    output = Path(output)
    with outputs.RunLock(output, lazy=True):
        return _history_page(output)


def _history_page(output: Path) -> Path:
    """OUTPUT/index.html rebuilt, by a caller that holds the lock."""
    page = render_history(history_view(output.resolve().name, history.collect(output)))
    target = output / outputs.HISTORY_NAME
    try:
        outputs.write_atomic({target: page.encode("utf-8")})
    except OSError as exc:
        raise RunError(f"{output}: cannot write the history page ({exc.strerror or exc})") from exc
    return target


def _write_history(output: Path) -> bool:
    """Rebuild OUTPUT/index.html (True when it was); the run has succeeded already, so a failure here is a warning."""
    try:
        _history_page(output)
    except Exception as exc:  # tonight's report is published; the page can be rebuilt later
        log.warning("warning: the history page %s was not rebuilt: %s", output / outputs.HISTORY_NAME, exc)
        return False
    return True


def build(
    options: BuildOptions,
    on_epoch: train.EpochHook | None = None,
    on_progress: train.ProgressHook | None = None,
) -> BuildResult | None:
    """Run every stage, publish `report.html`, `report.json` and `report.md` in `options.output`, keep the
    run (with its model unless `keep_model` is off) under `runs/` and rebuild `index.html`.

    Interrupted at any point, the folder's latest report is either the previous one
    or this run's whole (`outputs.latest_run` tells which); nothing half-written stays.
    In a torchrun world only rank 0 does all that; another rank loads the same data,
    trains alongside it and returns None, having written nothing (`distributed`).
    """
    train.check_config(options.train)  # what the API was given, checked before the lock and the data
    defaults.check_settings(options.top_n, options.k, options.relevant_from)
    if not distributed.is_leader():
        ratings = data.load(
            options.source, download=options.download, item_key=options.item_key, duplicates=options.duplicates
        )
        train.fit(ratings, options.train)
        return None
    # Nothing is created in the output folder before the input is read and checked: a folder that
    # has a lock file is locked at once (a second run stops before reading anything), a new one
    # is made, with its lock, only once the data has loaded (two first runs both read, one waits).
    with outputs.RunLock(options.output, wait=options.wait, lazy=True) as lock:
        started = time.perf_counter()
        log.info("start: reportgen %s, output %s", __version__, options.output)
        # What can be checked without training is checked before it.
        if options.templates is not None:
            check_templates(options.templates)
        if options.compare_with is not None:
            outputs.previous_report(options.output, options.compare_with)
        ratings = data.load(
            options.source, download=options.download, item_key=options.item_key, duplicates=options.duplicates
        )
        loaded = time.perf_counter()
        log.info(
            "loaded %s from %s in %s: %d ratings, %d users, %d items",
            ratings.provenance.name,
            ratings.provenance.source,
            seconds(loaded - started),
            ratings.n_ratings,
            ratings.n_users,
            ratings.n_items,
        )
        for note in ratings.notes:
            log.warning("warning: %s", note)
        lock.take()
        outputs.remove_leftovers(options.output)
        baseline = outputs.baseline_model(options.output, options.baseline)

        kept: list[train.TrainedModel] = []
        report = make_report(
            ratings,
            options.train,
            top_n=options.top_n,
            k=options.k,
            relevant_from=options.relevant_from,
            source_date=options.source_date,
            progress=options.progress,
            on_epoch=on_epoch,
            on_progress=on_progress,
            load_seconds=loaded - started,
            on_model=kept.append if options.keep_model else None,
            baseline=baseline,
        )
        previous = outputs.previous_report(options.output, options.compare_with)
        if previous is not None:
            current = ReportDoc.read_text(dumps(report))
            # Named, never by path: the report is attached to reviews (ARCHITECTURE.md).
            name = previous[0].name if options.compare_with is not None else "the previous run's report.json"
            report = dataclasses.replace(report, comparison=compare(previous[1], current, name))

        staging = outputs.staging_folder(options.output)
        try:
            write(report, staging, options.templates, kept[0] if kept else None)
            with_model = bool(kept)
            kept.clear()  # the learner's memory can go before publishing
            run = outputs.commit_run(staging, dt.datetime.now(dt.UTC))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            if distributed.launcher_gone():  # where no kernel signal killed rank 0 with its launcher
                raise RunError("the launcher of this data-parallel run stopped; the run is not published")
            outputs.publish(run, options.output)
        except BaseException:
            if outputs.latest_run(options.output) != run:  # never published: not a run to keep or compare with
                shutil.rmtree(run, ignore_errors=True)
            raise
        try:
            outputs.prune(options.output, options.keep)
        except OSError as exc:  # published already: old runs that stay are tried again next time
            log.warning("warning: old runs were not pruned: %s", exc.strerror or exc)
        history_written = _write_history(options.output)
    published = options.output / outputs.HTML_NAME
    # Every file the run wrote, named: the published three, the history page, the run's folder and its model.
    beside = [outputs.JSON_NAME, outputs.MARKDOWN_NAME] + ([outputs.HISTORY_NAME] if history_written else [])
    log.info(
        "wrote %s (%d bytes), %s and %s; this run is kept in %s%s",
        published,
        published.stat().st_size,
        ", ".join(beside[:-1]),
        beside[-1],
        run,
        f" with its model ({WEIGHTS_NAME}, {VOCABULARY_NAME})" if with_model else ", without its model",
    )
    return BuildResult(report=report, html=published, json=options.output / outputs.JSON_NAME, run=run)
