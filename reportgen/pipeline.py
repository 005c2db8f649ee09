"""`load → train → analyse → render`, timed, as one typed function the CLI calls.

The output folder is locked for the whole run (a second run is refused at once
or waits), and nothing in it changes until every stage has succeeded: the new
report is rendered into a staging folder under `runs/`, renamed to its
timestamped name, and only then copied over the latest `report.html`/`.json`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from reportgen import __version__, analysis, compare, data, history, insight, plots, render, train
from reportgen.data import Downloader, OwnData, Ratings, download_with_fastai

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    """What one `reportgen build` run does.

    `source`: an own ratings file, a GroupLens folder/zip, or None for the built-in
    ml-100k. A `train.y_range` of None is derived from the data (`data.default_y_range`).
    `source_date` (from SOURCE_DATE_EPOCH) replaces the clock in the report and
    leaves durations out, so two runs give byte-identical files.
    """

    source: Path | OwnData | None = None
    output: Path = Path("output")
    train: train.TrainConfig = train.TrainConfig()
    item_key: str = "title"
    duplicates: str = "last"
    top_n: int = 1000
    templates: Path | None = None
    progress: bool = False
    download: Downloader | None = download_with_fastai
    keep: int = 30
    compare_with: Path | None = None
    wait: float = 0.0
    source_date: dt.datetime | None = None


@dataclass(frozen=True)
class BuildResult:
    report: render.Report
    html: Path  # the published latest report
    json: Path
    run: Path  # this run's folder under runs/
    comparison: compare.Comparison | None


def summarise(ratings: Ratings) -> render.DatasetSummary:
    return render.DatasetSummary(
        provenance=ratings.provenance,
        n_ratings=ratings.n_ratings,
        n_users=ratings.n_users,
        n_items=ratings.n_items,
        n_titles=ratings.n_titles,
        item_key=ratings.item_key,
        duplicates_dropped=ratings.duplicates_dropped,
    )


def build(options: BuildOptions, on_epoch: train.EpochHook | None = None) -> BuildResult:
    """Run every stage and publish `report.html` and `report.json` in `options.output`."""
    started = time.perf_counter()
    with history.RunLock(options.output, wait=options.wait):
        log.info("start: reportgen %s, output %s", __version__, options.output)
        history.remove_leftovers(options.output)
        ratings = data.load(
            options.source, download=options.download, item_key=options.item_key, duplicates=options.duplicates
        )
        config = options.train
        if config.y_range is None:
            config = dataclasses.replace(config, y_range=data.default_y_range(ratings))
        data.check_range(ratings, config.y_range)
        loaded = time.perf_counter()
        log.info(
            "loaded %s from %s in %.1f s: %d ratings, %d users, %d items",
            ratings.provenance.name,
            ratings.provenance.source,
            loaded - started,
            ratings.n_ratings,
            ratings.n_users,
            ratings.n_items,
        )
        for note in ratings.notes:
            log.warning("warning: %s", note)

        model = train.fit(ratings, config, progress=options.progress, on_epoch=on_epoch)
        trained = time.perf_counter()
        log.info("trained in %.1f s: valid MSE %.4f, RMSE %.4f", trained - loaded, model.metrics.valid_mse, model.metrics.valid_rmse)

        findings = analysis.analyse(ratings, model, top_n=options.top_n)
        beyond = insight.insights(ratings, model, findings)
        analysed = time.perf_counter()
        log.info(
            "analysed in %.1f s: RMSE %.4f (model) vs %.4f (biases only) vs %.4f (global mean)",
            analysed - trained,
            beyond.baselines.model_rmse,
            beyond.baselines.bias_only_rmse,
            beyond.baselines.global_mean_rmse,
        )
        for note in findings.notes:
            log.warning("warning: %s", note)

        figures = plots.figures(findings, beyond, model.metrics.epochs)
        drawn = time.perf_counter()
        log.info("drew the figures in %.1f s", drawn - analysed)
        reproducible = options.source_date is not None
        moment = options.source_date or dt.datetime.now(dt.timezone.utc)
        report = render.Report(
            generated_at=moment.replace(microsecond=0).isoformat(),
            dataset=summarise(ratings),
            config=config,
            top_n=options.top_n,
            metrics=model.metrics,
            findings=findings,
            timings=None
            if reproducible
            else render.Timings(
                load=loaded - started,
                train=trained - loaded,
                analyse=analysed - trained,
                render=drawn - analysed,
                total=drawn - started,
            ),
            figures=figures,
            versions=render.versions(),
            notes=ratings.notes + findings.notes,
            insight=beyond,
            runtime=model.runtime,
        )
        previous = history.previous_report(options.output, options.compare_with)
        comparison = None
        if previous is not None:
            comparison = compare.compare(previous[1], render.to_json(report), str(previous[0]))
            report = dataclasses.replace(report, comparison=comparison)

        staging = history.staging_folder(options.output)
        try:
            written = render.write(report, staging, options.templates)
            run = history.commit_run(staging, dt.datetime.now(dt.timezone.utc))
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        history.publish(run, options.output)
        history.prune(options.output, options.keep)
    html, json_path = options.output / render.HTML_NAME, options.output / render.JSON_NAME
    log.info("wrote %s (%d bytes) and %s; this run is kept in %s", html, written.html_bytes, json_path.name, run)
    return BuildResult(report=report, html=html, json=json_path, run=run, comparison=comparison)
