"""Reading the history: every entry of OUTPUT/runs/ as one `RunRow` for the history page (index.html).

Runs are read only through `report.ReportDoc`, one at a time, and never trusted: a
symlink is listed and not followed, a file or folder that is not a finished run, a
run without a readable report.json or with values of the wrong kind is listed with
what is wrong, and the page is still written. Links go only to a run's own
`runs/<name>/report.html`, and only when that file is there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from reportgen.data.documents import REPORT_BYTES
from reportgen.data.files import NO_SUCH_FILE, UnreadableFile
from reportgen.report import ReportDoc, compare
from reportgen.runs import files, outputs

log = logging.getLogger(__name__)


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
    from dataclasses import replace

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
