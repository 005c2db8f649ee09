"""`load → train → analyse → render`, timed, as one typed function the CLI calls.

Nothing is written until every stage has succeeded, so a failed run leaves the
previous report exactly as it was.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from reportgen import analysis, data, plots, render, train
from reportgen.data import Downloader, OwnData, Ratings, download_with_fastai

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildOptions:
    """What one `reportgen build` run does.

    `source`: an own ratings file, a GroupLens folder/zip, or None for the built-in
    ml-100k. A `train.y_range` of None is derived from the data (`data.default_y_range`).
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


@dataclass(frozen=True)
class BuildResult:
    report: render.Report
    written: render.Written


def summarise(ratings: Ratings) -> render.DatasetSummary:
    return render.DatasetSummary(
        provenance=ratings.provenance,
        n_ratings=ratings.n_ratings,
        n_users=ratings.n_users,
        n_items=ratings.n_items,
        n_titles=ratings.n_titles,
    )


def build(options: BuildOptions, on_epoch: train.EpochHook | None = None) -> BuildResult:
    """Run every stage and write `report.html` and `report.json` into `options.output`."""
    started = time.perf_counter()
    ratings = data.load(
        options.source, download=options.download, item_key=options.item_key, duplicates=options.duplicates
    )
    config = options.train
    if config.y_range is None:
        config = dataclasses.replace(config, y_range=data.default_y_range(ratings))
    data.check_range(ratings, config.y_range)
    loaded = time.perf_counter()
    log.info(
        "data: %s from %s (%d ratings, %d users, %d items)",
        ratings.provenance.name,
        ratings.provenance.source,
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
    analysed = time.perf_counter()
    for note in findings.notes:
        log.warning("warning: %s", note)

    figures = plots.figures(findings)
    drawn = time.perf_counter()
    report = render.Report(
        generated_at=dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        dataset=summarise(ratings),
        config=config,
        top_n=options.top_n,
        metrics=model.metrics,
        findings=findings,
        timings=render.Timings(
            load=loaded - started,
            train=trained - loaded,
            analyse=analysed - trained,
            render=drawn - analysed,
            total=drawn - started,
        ),
        figures=figures,
        versions=render.versions(),
    )
    written = render.write(report, options.output, options.templates)
    log.info("wrote %s (%d bytes) and %s", written.html, written.html_bytes, written.json.name)
    return BuildResult(report=report, written=written)
