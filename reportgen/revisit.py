"""A kept run's report made again, without training: `render_run` (its own, re-rendered) and `compare_runs`
(another kept run's model reviewed against it, on the same held-out ratings).

Above `pipeline` (it writes through `pipeline.payloads`), below the CLI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shutil
from pathlib import Path

from reportgen import __version__, analysis, data
from reportgen.data.documents import REPORT_BYTES
from reportgen.data.files import UnreadableFile
from reportgen.errors import InputError, ReportgenError
from reportgen.pipeline import payloads
from reportgen.report import Report, ReportDoc, read_text
from reportgen.report.compare import compare
from reportgen.runs import files, outputs
from reportgen.train.kept import load_factors

log = logging.getLogger(__name__)


def render_run(run: Path, output: Path | None = None, templates: Path | None = None) -> Path:
    """`reportgen render`: rebuild a run's report.html and report.md from its report.json, without training.

    Written into `output` (default: the run's own folder) with a copy of the report.json;
    with the templates unchanged and the same reportgen, the bytes are the original's.
    `output` must be the run's own folder or an empty or new one (never another kept run:
    `outputs.render_target`); a run kept in an output folder is rendered under that
    folder's lock, which also removes what killed runs and renders left there. The three
    files are rendered first and replaced as a set, so a failed
    render leaves all three as they were. The run's report.json is read without following
    a link; what it holds that cannot be rendered is an `InputError` naming it.
    """
    run = Path(run)
    target = Path(output) if output is not None else run
    home = outputs.output_folder_of(run)
    with outputs.RunLock(home) if home is not None else contextlib.nullcontext():
        fresh = outputs.render_target(run, target)
        if home is not None:  # what killed runs and renders left there: all of it, under the lock
            outputs.remove_leftovers(home)
        elif not fresh:  # no lock: what renders whose pid is gone left there
            outputs.remove_dead_temporaries(target)
        source = run / outputs.JSON_NAME
        try:
            text = files.read_in(run, outputs.JSON_NAME, REPORT_BYTES, "a report.json")
        except UnreadableFile as exc:
            raise InputError(f"{source}: cannot read it as a report.json ({exc.problem})") from exc
        except OSError as exc:  # a link on the way (`FollowError`), or the OS refused
            raise InputError(f"{source}: cannot read it as a report.json ({exc.strerror or exc})") from exc
        report = read_text(text, source)
        try:
            rendered = payloads(report, templates)
        except ReportgenError:
            raise
        except Exception as exc:  # a value of the wrong kind that from_json let through, or a failing template
            how = f"with the templates in {templates}" if templates is not None else f"by reportgen {__version__}"
            raise InputError(f"{source}: cannot be rendered {how} ({type(exc).__name__}: {exc})") from exc
        try:
            outputs.write_run(target, rendered)
        except BaseException:
            if fresh:
                shutil.rmtree(target, ignore_errors=True)  # made by this render, and nothing of it published
            raise
    return target / outputs.HTML_NAME


def compare_runs(
    run_a: Path,
    run_b: Path,
    output: Path,
    source: Path | data.OwnData | data.DbData | None = None,
    *,
    download: data.Downloader | None = None,
    item_key: str = "title",
    duplicates: str = "last",
    templates: Path | None = None,
) -> Path:
    """`reportgen compare A B`: run B's report with run A's model reviewed against B's, on the ratings neither
    trained on (`analysis.review`), written into `output` as report.html, report.json and report.md.

    `source` is run B's data, read again (its SHA-256 must be the one B's report names: a report never holds its
    ratings); A's held-out ratings are recomputed on it from A's model's split record, so two runs on different
    data are compared on B's ratings that A held out too, where that can be established. `output` must be an
    empty or new folder, never a kept run (`outputs.render_target`).
    """
    run_a, run_b, output = Path(run_a), Path(run_b), Path(output)
    home = outputs.output_folder_of(run_b)
    with outputs.RunLock(home) if home is not None else contextlib.nullcontext():
        fresh = outputs.render_target(run_b, output, own=False)
        report, before = _kept_report(run_b), ReportDoc.read(run_a / outputs.JSON_NAME)
        tonight, baseline = load_factors(run_b), load_factors(run_a)
        ratings = data.load(source, download=download, item_key=item_key, duplicates=duplicates)
        if ratings.provenance.sha256 != report.dataset.sha256:
            raise InputError(
                f"{run_b}: its report read data whose SHA-256 is {report.dataset.sha256[:12]}…, and the ratings given "
                f"have {ratings.provenance.sha256[:12]}…: give the same --data, --ratings or --db its build read"
            )
        a = report.analysis
        review = analysis.review_models(
            ratings,
            tonight,
            baseline,
            name=run_a.name,
            generated_at=before.generated_at,
            top_items=a.top_items,
            factor_map=a.factor_map,
            k=a.quality.k,
            threshold=a.quality.threshold,
        )
        log.info("run %s against run %s: %s", run_b.name, run_a.name, review.sentence)
        current = ReportDoc.read(run_b / outputs.JSON_NAME)
        compared = dataclasses.replace(
            report, comparison=compare(before, current, f"run {run_a.name}'s report.json"), review=review
        )
        try:
            outputs.write_run(output, payloads(compared, templates))
        except BaseException:
            if fresh:
                shutil.rmtree(output, ignore_errors=True)
            raise
    return output / outputs.HTML_NAME


def _kept_report(run: Path) -> Report:
    """A kept run's report.json as a `Report` (this version's only), read without following a link."""
    source = run / outputs.JSON_NAME
    try:
        text = files.read_in(run, outputs.JSON_NAME, REPORT_BYTES, "a report.json")
    except UnreadableFile as exc:
        raise InputError(f"{source}: cannot read it as a report.json ({exc.problem})") from exc
    except OSError as exc:
        raise InputError(f"{source}: cannot read it as a report.json ({exc.strerror or exc})") from exc
    return read_text(text, source)
