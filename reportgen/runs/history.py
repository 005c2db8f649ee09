"""Reading the history: every entry of OUTPUT/runs/ as one `RunRow` for the history page (index.html).

Runs are read only through `report.ReportDoc`, one at a time, and never trusted: a
symlink is listed and not followed, a file or folder that is not a finished run, a
run without a readable report.json or with values of the wrong kind is listed with
what is wrong, and the page is still written. Links go only to a run's own
`runs/<name>/report.html`, and only when that file is there.

A run that reviewed a baseline model (report.json's `review`: tonight's model against the
previous run's on the ratings neither trained on) carries what the page shows of it as a
`RunReview`; its verdict is `analysis.bootstrap.PairedDifference`'s own rule, applied to the
interval the file holds (report.json stores no verdict). A file written before reviews has none.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

from reportgen.analysis.bootstrap import CONFIDENCE, NO_VERDICT, PairedDifference
from reportgen.data.documents import REPORT_BYTES
from reportgen.data.files import NO_SUCH_FILE, UnreadableFile
from reportgen.report import ReportDoc, compare
from reportgen.runs import files, outputs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunReview:
    """What a run's review (report.json's `review`) says against its baseline model, as the history shows it.

    `rmse` and `ndcg` are the paired differences (tonight − baseline) with their intervals, None where the
    review has no verdict (`reason` says why) or the measure was not taken; their `verdict` is the one rule
    of `analysis.bootstrap.PairedDifference`, derived from the interval as the run itself derived it.
    """

    baseline: str  # the run whose kept model was the baseline: its folder name, as the review names it
    compared: int  # the held-out ratings both runs held out: what the differences were measured on
    reason: str  # why there is no verdict ("" where there is one)
    confidence: float = CONFIDENCE  # the intervals' level (report.json's `review.paired.confidence`)
    rmse: PairedDifference | None = None
    ndcg: PairedDifference | None = None
    changed: float | None = None  # the share of the compared users whose top-10 list changed
    rbo: float | None = None  # the mean rank-biased overlap of their two lists (1: the same lists)
    agreement: float | None = None  # how well the two factor spaces agree after the Procrustes rotation (1: fully)
    mean_overlap: float | None = None  # the mean Jaccard overlap of each item's nearest neighbours (1: all kept)

    @property
    def verdict(self) -> str:
        """RMSE's: better, worse, no detectable difference, or no verdict."""
        return self.rmse.verdict if self.rmse is not None else NO_VERDICT


@dataclass(frozen=True)
class RunRow:
    """One entry of runs/: what the table shows, or why it cannot show it (`problem`)."""

    name: str
    number: int | None = None  # position among the readable runs, oldest first (the charts' x)
    href: str | None = None  # "runs/<name>/report.html", when that file exists
    problem: str | None = None
    generated_at: str | None = None
    dataset: str | None = None
    sha256: str | None = None
    n_ratings: float | None = None
    valid_rmse: float | None = None
    bias_only_rmse: float | None = None
    global_mean_rmse: float | None = None
    fit_seconds: float | None = None
    preset: str | None = None
    seed: int | None = None  # report.json's `config.seed`: the one setting that changes a run by chance alone
    change_pct: float | None = None
    verdict: str | None = None
    split: str = "random"  # which split scored the run (`ReportDoc.split`: random, stable or time)
    review: RunReview | None = None  # report.json's `review`, where the run reviewed a baseline model


def _dataset(doc: ReportDoc) -> str | None:
    """The data set's name, and for a database its kind: `shop (postgresql)`."""
    name, kind = doc.text("dataset", "name"), doc.text("dataset", "database", "kind")
    return f"{name} ({kind})" if name is not None and kind is not None else name


def _whole(doc: ReportDoc, *keys: str) -> int | None:
    """The whole number at `keys`; None where it is missing; `ValueError` where it is anything else."""
    value = doc.number(*keys)
    if value is not None and not value.is_integer():
        raise ValueError(f"not a reportgen report.json: {'.'.join(keys)} is not a whole number")
    return None if value is None else int(value)


def _share(doc: ReportDoc, *keys: str, low: float = 0.0) -> float | None:
    """The number at `keys`, which must lie between `low` and 1; None where it is missing."""
    value = doc.number(*keys)
    if value is not None and not low <= value <= 1:
        raise ValueError(f"not a reportgen report.json: {'.'.join(keys)} is {value:g}, outside {low:g} to 1")
    return value


def _difference(doc: ReportDoc, *keys: str, lower_is_better: bool) -> PairedDifference | None:
    """The paired difference at `keys` (tonight − baseline, its interval), each number checked; None where missing."""
    if doc.section(*keys) is None:
        return None
    numbers = {
        name: doc.number(*keys, name)
        for name in ("tonight", "baseline", "difference", "low", "high", "relative", "relative_low", "relative_high")
    }
    low, high = numbers["low"], numbers["high"]
    if (low is None) != (high is None) or (low is not None and high is not None and low > high):
        raise ValueError(f"not a reportgen report.json: {'.'.join(keys)} has no interval from low to high")
    return PairedDifference(doc.text(*keys, "measure") or keys[-1], lower_is_better, **numbers)


def _review(doc: ReportDoc) -> RunReview | None:
    """report.json's `review` (None in a file written before reviews, or without a baseline model), checked:
    each object on the way to a number must be one, each number finite and in its range, each interval ordered."""
    if doc.section("review") is None:
        return None
    baseline = doc.text("review", "baseline")
    if baseline is None:
        raise ValueError("not a reportgen report.json: review.baseline is missing")
    moved, paired = ("review", "movement"), ("review", "paired")
    ranking = (*paired, "ranking")
    for keys in (moved, paired, ranking, (*ranking, "churn")):
        doc.section(*keys)
    confidence = _share(doc, *paired, "confidence")
    return RunReview(
        baseline,
        _whole(doc, "review", "compared") or 0,
        doc.text("review", "reason") or "",
        confidence=CONFIDENCE if confidence is None else confidence,
        rmse=_difference(doc, *paired, "rmse", lower_is_better=True),
        ndcg=_difference(doc, *ranking, "ndcg", lower_is_better=False),
        changed=_share(doc, *ranking, "churn", "changed"),
        rbo=_share(doc, *ranking, "churn", "rbo"),
        agreement=_share(doc, *moved, "agreement", low=-math.inf),
        mean_overlap=_share(doc, *moved, "mean_overlap"),
    )


def _read_json(output: Path, name: str) -> ReportDoc:
    """runs/<name>/report.json, reached without following any link and read bounded; raises when it cannot be used."""
    path = Path(outputs.RUNS) / name / outputs.JSON_NAME
    return ReportDoc.read_text(files.read_in(output, path, REPORT_BYTES, "a report.json"), outputs.JSON_NAME)


def read_run(entry: Path) -> RunRow:
    """One entry of runs/ as a table row; never raises for what the entry holds."""
    name = entry.name
    if entry.is_symlink():
        return RunRow(name, problem="a symbolic link, not followed")
    if not entry.is_dir():
        return RunRow(name, problem="not a folder" if entry.exists() else "vanished while reading")
    if not outputs.RUN_NAME.match(name):
        return RunRow(name, problem="not a reportgen run: its name is not a UTC time")
    try:
        doc = _read_json(entry.parent.parent, name)
        change_pct = doc.number("comparison", "valid_rmse_change_pct")
        previous, current = doc.text("comparison", "previous_sha256"), doc.text("comparison", "current_sha256")
        row = RunRow(
            name,
            generated_at=doc.text("generated_at"),
            dataset=_dataset(doc),
            sha256=doc.text("dataset", "sha256"),
            n_ratings=doc.number("dataset", "n_ratings"),
            valid_rmse=doc.valid_rmse,
            bias_only_rmse=doc.number("insight", "baselines", "bias_only_rmse"),
            global_mean_rmse=doc.number("insight", "baselines", "global_mean_rmse"),
            fit_seconds=doc.number("runtime", "fit_seconds"),
            preset=doc.text("run", "preset") or doc.text("runtime", "preset"),
            seed=_whole(doc, "config", "seed"),
            change_pct=change_pct,
            verdict=None
            if change_pct is None
            else compare.verdict(
                change_pct, previous != current, (doc.text("comparison", "previous_split") or "random", doc.split)
            ),
            split=doc.split,
            review=_review(doc),
        )
    except FileNotFoundError:
        return RunRow(name, problem="no report.json")
    except files.FollowError:
        return RunRow(name, problem="report.json is a symbolic link, not followed")
    except OSError as exc:
        return RunRow(name, problem=f"report.json cannot be read ({exc.strerror or exc})")
    except UnreadableFile as exc:
        return RunRow(name, problem="no report.json" if exc.problem == NO_SUCH_FILE else f"report.json {exc.problem}")
    except ValueError as exc:
        return RunRow(name, problem=f"report.json is damaged or foreign: {exc}")
    page = entry / outputs.HTML_NAME
    if page.is_file() and not page.is_symlink():
        row = _with(row, href=f"{outputs.RUNS}/{name}/{outputs.HTML_NAME}")
    return row


def _with(row: RunRow, **changes: object) -> RunRow:
    return replace(row, **changes)


def collect(output: Path) -> tuple[RunRow, ...]:
    """Every entry of OUTPUT/runs/ but hidden ones (staging): finished runs oldest first, then the rest by name."""
    root = Path(output) / outputs.RUNS
    if not files.is_real_dir(root):
        return ()
    entries = [root / name for name in files.entries(Path(output), outputs.RUNS) if not name.startswith(".")]
    rows = [read_run(e) for e in entries]
    good = sorted((r for r in rows if r.problem is None), key=lambda r: outputs.run_order(Path(r.name)))
    bad = sorted((r for r in rows if r.problem is not None), key=lambda r: r.name)
    return tuple(_with(r, number=n) for n, r in enumerate(good, start=1)) + tuple(bad)
