"""The output folder: its file names, the one atomic writer, the lock, the runs, publishing.

Layout of `--output DIR`:

    DIR/runs/<UTC timestamp>/          every successful run's own report.html and report.json
    DIR/latest -> runs/<UTC timestamp> the latest successful run (a relative symbolic link)
    DIR/report.html -> latest/report.html, DIR/report.json -> latest/report.json
    DIR/.reportgen.lock                held (flock) while a run writes; holds its pid

A run renders into a hidden staging folder `runs/.staging-<pid>-…`, renames it to
its final name, then publishes it by replacing the one link `latest` with
`os.replace`: at every instant `report.html` and `report.json` are the same run's,
and a run that did not succeed is never published, never kept and never compared
with. A run killed at any point leaves at most a staging folder or hidden temporary
file or link named after its pid; the next run removes those once that pid is dead.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from reportgen.analysis.review import Baseline
from reportgen.data.documents import REPORT_BYTES
from reportgen.data.files import UnreadableFile, refusal
from reportgen.errors import InputError, RunError
from reportgen.report import ReportDoc
from reportgen.runs import files
from reportgen.runs.lock import LOCK as LOCK  # the lock lives in `lock`; its names are the folder's too
from reportgen.runs.lock import LockedError as LockedError
from reportgen.runs.lock import RunLock as RunLock
from reportgen.runs.lock import pid_alive
from reportgen.train.kept import VOCABULARY_NAME, load_factors

log = logging.getLogger(__name__)

HTML_NAME = "report.html"
JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"
HISTORY_NAME = "index.html"  # the history page
RUNS = "runs"
LATEST = "latest"
PUBLISHED = (JSON_NAME, MARKDOWN_NAME, HTML_NAME)  # each DIR/<name> is a link to latest/<name>
RUN_NAME = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
LEFTOVER = re.compile(r"^\.(?:staging-|report\.(?:html|json|md)\.|index\.html\.|latest\.)(\d+)[.-]")


def remove_leftovers(folder: Path) -> list[Path]:
    """Under DIR's lock: delete every staging folder and temporary file a run or a render left behind.

    Whatever pid its name carries: every reportgen that writes in DIR (a build, a render of one
    of its runs, `reportgen history`) holds this lock, so none of them is being written now,
    and a pid that is alive again belongs to some other process. Looked for in DIR, in DIR/runs
    and in each kept run (a render's temporaries), only where that is a real folder: a link
    is never entered (`staging_folder` sets a linked DIR/runs aside later), and a leftover that
    is a link is removed itself, not what it points to. One that cannot be removed is a
    warning; the run goes on.
    """
    return _sweep(folder, [Path("."), Path(RUNS), *(Path(RUNS) / run.name for run in runs(folder))])


def remove_dead_temporaries(run: Path) -> list[Path]:
    """The temporary files of renders that died, in a run folder outside any output folder (so no lock says
    whether another render writes there now): those whose pid is no longer running."""
    return _sweep(run, [Path(".")], keep=pid_alive)


def _sweep(folder: Path, parents: list[Path], keep: Callable[[int], bool] = lambda pid: False) -> list[Path]:
    """Remove the entries named like `LEFTOVER` in each of `parents` (relative to `folder`) unless `keep(pid)`."""
    removed = []
    for parent in parents:
        if parent != Path(".") and not files.is_real_dir(folder / parent):
            continue
        try:
            names = files.entries(folder, parent)
        except OSError as exc:
            log.warning("warning: cannot look for leftovers in %s: %s", folder / parent, exc.strerror or exc)
            continue
        for name in names:
            match = LEFTOVER.match(name)
            if not match or keep(int(match.group(1))):
                continue
            entry = folder / parent / name
            try:
                files.remove_in(folder, parent / name)
            except OSError as exc:
                log.warning(
                    "warning: cannot remove %s, left by a run that did not finish: %s", entry, exc.strerror or exc
                )
                continue
            removed.append(entry)
    for entry in removed:
        log.warning("warning: removed %s, left by a run that did not finish", entry)
    return removed


def run_name(moment: dt.datetime, runs: Path) -> str:
    """`20261127T191500Z`, with `-1`, `-2`… if that second is taken already."""
    base = moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name, n = base, 0
    while os.path.lexists(runs / name):
        n += 1
        name = f"{base}-{n}"
    return name


def staging_folder(folder: Path) -> Path:
    """A fresh hidden folder under DIR/runs for this run's files.

    DIR/runs that is not reportgen's folder (a file, a link) is renamed aside,
    with a warning, rather than deleted or followed.
    """
    runs = folder / RUNS
    if runs.is_symlink() or (runs.exists() and not runs.is_dir()):
        aside = folder / f"{RUNS}.not-reportgen-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
        os.rename(runs, aside)
        log.warning(
            "warning: %s was not a folder of runs; renamed it to %s and started a new history", runs, aside.name
        )
    runs.mkdir(parents=True, exist_ok=True)
    staging = runs / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    return staging


def commit_run(staging: Path, moment: dt.datetime) -> Path:
    """Give a finished staging folder its final, timestamped name."""
    final = staging.parent / run_name(moment, staging.parent)
    os.rename(staging, final)
    return final


def write_atomic(payloads: dict[Path, bytes]) -> None:
    """Write each file to a fresh hidden name beside its target, fsync it, then `os.replace` them all.

    Nothing is replaced until every file is written, so a failure (a full disk)
    leaves every target as it was; the temporary names carry the pid, so a run
    killed in between leaves files `remove_leftovers` recognises.
    """
    staged: list[tuple[Path, Path]] = []
    for target in payloads:
        if files.is_real_dir(target):  # os.replace would fail there, after the others were replaced
            raise IsADirectoryError(errno.EISDIR, f"{target.name} is a folder", str(target))
    try:
        for target, payload in payloads.items():
            temporary = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            staged.append((temporary, target))
            with open(temporary, "xb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
        for temporary, target in staged:
            os.replace(temporary, target)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def write_run(folder: Path, payloads: dict[str, bytes]) -> Path:
    """A run's files (report.json, report.html, report.md…) by name, written into `folder` (created if needed)
    as one set: all to temporaries first, then each replaced, so a failure leaves every file as it was."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from exc
    write_files(folder, payloads)
    return folder / HTML_NAME


def write_files(folder: Path, payloads: dict[str, bytes]) -> None:
    """More files of a run (report.md, the kept model) written atomically into `folder`, by name."""
    try:
        write_atomic({folder / name: payload for name, payload in payloads.items()})
    except OSError as exc:
        raise RunError(f"{folder}: cannot write the report ({exc.strerror or exc})") from exc


def publish(run: Path, folder: Path) -> None:
    """Make `run` the latest: one atomic `os.replace` of the link DIR/latest.

    DIR/report.html and DIR/report.json are links into `latest/`, made once (the
    first publication replaces plain files left by an older reportgen). Anything in
    their way that cannot be replaced (a folder) stops the run before it changes anything.
    """
    entries = [folder / name for name in PUBLISHED]
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            raise RunError(f"{entry}: is a folder, so the report cannot be published there; move it away")
    try:
        if (folder / LATEST).is_symlink():  # links first: they still show the previous run until the swap
            _link_entries(entries)
            _replace_link(folder / LATEST, Path(RUNS) / run.name)
        else:
            _replace_link(folder / LATEST, Path(RUNS) / run.name)
            _link_entries(entries)
    except OSError as exc:
        raise RunError(f"{folder}: cannot publish the report ({exc.strerror or exc})") from exc


def _link_entries(entries: list[Path]) -> None:
    for entry in entries:
        target = Path(LATEST) / entry.name
        if not (entry.is_symlink() and Path(os.readlink(entry)) == target):
            _replace_link(entry, target)


def _replace_link(link: Path, target: Path) -> None:
    """Point `link` at `target` (relative), replacing whatever file or link is there, atomically."""
    temporary = link.with_name(f".{link.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    os.symlink(target, temporary)
    try:
        os.replace(temporary, link)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def latest_run(folder: Path) -> Path | None:
    """The run DIR/latest points to, if it is one of ours: `runs/<run name>`, a real folder in a real DIR/runs."""
    link = folder / LATEST
    if not link.is_symlink():
        return None
    target = Path(os.readlink(link))
    run = folder / RUNS / target.name
    ours = target == Path(RUNS) / target.name and RUN_NAME.match(target.name)
    return run if ours and files.is_real_dir(folder / RUNS) and files.is_real_dir(run) else None


def runs(folder: Path) -> list[Path]:
    """Finished runs, oldest first: real folders named like a run (links and files are not ours)."""
    root = folder / RUNS
    if not files.is_real_dir(root):
        return []
    found = (root / name for name in files.entries(folder, RUNS) if RUN_NAME.match(name))
    return sorted((p for p in found if files.is_real_dir(p)), key=run_order)


def run_order(path: Path) -> tuple[str, int]:
    stamp, _, n = path.name.partition("-")
    return stamp, int(n or 0)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` runs; never the published one, never through a link.

    The report is published already, so a run that cannot be deleted is a warning naming
    it: the others are still pruned, and it is tried again by the next run.
    """
    latest = latest_run(folder)
    finished = [run for run in runs(folder) if run != latest]
    others = keep - 1 if latest is not None else keep  # the published run counts as one of `keep`
    doomed = finished[: max(0, len(finished) - others)]
    pruned = []
    for run in doomed:
        try:
            files.remove_in(folder, Path(RUNS) / run.name)
        except OSError as exc:
            log.warning("warning: cannot delete the old run %s (%s); it is kept for now", run, _reason(exc))
            continue
        pruned.append(run)
    if pruned:
        log.info("pruned %d old run(s), keeping %d", len(pruned), keep)
    return pruned


def _reason(exc: OSError) -> str:
    """`Operation not permitted: report.json`: what failed, on which file of the run."""
    return f"{exc.strerror or exc}: {Path(exc.filename).name}" if exc.filename else str(exc.strerror or exc)


def previous_report(folder: Path, explicit: Path | None = None) -> tuple[Path, ReportDoc] | None:
    """The report.json to compare with: `explicit`, else the latest published one.

    A damaged automatic one (not a regular file, too large or too deep, a number that
    is not finite, values of the wrong kind) is skipped with a warning: yesterday's bad
    file must not stop tonight's run; a damaged explicit one is an input error. Both are
    read bounded, so neither can hang a run. The automatic one is read only inside DIR,
    never through a link of anyone's but reportgen's own (`report.json ->
    latest/report.json`, `latest -> runs/<run>`): one pointing anywhere else is no
    previous run, with a warning, and this run's publication replaces it.
    """
    if explicit is not None:
        try:
            return explicit, _checked(ReportDoc.read(explicit))
        except (UnreadableFile, OSError, ValueError) as exc:
            raise InputError(f"{explicit}: cannot read it as a report.json ({_problem(exc)})") from exc
    path = folder / JSON_NAME
    try:
        relative = _published_json(folder)
        if relative is None:
            return None
        doc = _checked(ReportDoc.read_text(files.read_in(folder, relative, REPORT_BYTES, "a report.json"), JSON_NAME))
    except (UnreadableFile, OSError, ValueError) as exc:
        log.warning("warning: not comparing with %s: %s", path, _problem(exc))
        return None
    return path, doc


def baseline_model(folder: Path, explicit: Path | None = None) -> Baseline | None:
    """The model tonight's is reviewed against: `explicit` (a run folder, or its model.json or
    model.safetensors; a missing or damaged one is an `InputError`), else the latest published run's.

    The latest run's is read inside DIR without following a link (`files.read_in`); where that run
    kept no model (--no-model) there is none, and a damaged one is a warning, as a damaged report.json
    is: yesterday's bad file must not stop tonight's run.
    """
    if explicit is not None:
        run = explicit if explicit.is_dir() else explicit.parent
        return Baseline(run.name, _generated_at(lambda: ReportDoc.read(run / JSON_NAME)), load_factors(explicit))
    run = latest_run(folder)
    if run is None or not os.path.lexists(run / VOCABULARY_NAME):
        return None
    inside = Path(RUNS) / run.name

    def read(path: Path, limit: int, what: str) -> bytes:
        return files.read_in(folder, inside / path.name, limit, what)

    try:
        model = load_factors(run, read)
    except (InputError, OSError) as exc:
        log.warning("warning: not reviewing against the previous run's model: %s", _problem(exc))
        return None
    report = _generated_at(lambda: ReportDoc.read_text(read(run / JSON_NAME, REPORT_BYTES, "a report.json"), JSON_NAME))
    return Baseline(run.name, report, model)


def _generated_at(read: Callable[[], ReportDoc]) -> str:
    """When the baseline's run wrote its report.json ("" where it has none, or one that cannot be read)."""
    try:
        return read().generated_at
    except (UnreadableFile, OSError, ValueError):
        return ""


def _problem(exc: Exception) -> str:
    """What is wrong with a previous report.json, without the path (the message names it)."""
    if isinstance(exc, UnreadableFile):
        return exc.problem
    return (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)


def _checked(doc: ReportDoc) -> ReportDoc:
    doc.ranked_lists(), doc.item_biases()  # check now what the comparison will read
    return doc


def _published_json(folder: Path) -> Path | None:
    """Where DIR/report.json is, relative to DIR: None if there is none, `FollowError` if a link leads elsewhere."""
    path = folder / JSON_NAME
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return Path(JSON_NAME)  # a plain file left by an older reportgen
    if not stat.S_ISLNK(mode):
        raise refusal(path, mode) or UnreadableFile(path, "is not a regular file")
    if Path(os.readlink(path)) != Path(LATEST) / JSON_NAME:
        raise files.FollowError(0, files.describe_link(path))
    run = latest_run(folder)
    if run is None:
        latest = folder / LATEST
        what = files.describe_link(latest) if latest.is_symlink() else "not a link of reportgen's"
        raise files.FollowError(0, f"{LATEST} does not point to a run in {RUNS}/ (it is {what})")
    return Path(RUNS) / run.name / JSON_NAME


def output_folder_of(run: Path) -> Path | None:
    """The output folder whose kept run `run` is (DIR for DIR/runs/<run name>, one with a lock), else None."""
    resolved = Path(run).resolve()
    home = resolved.parent.parent
    inside = resolved.parent.name == RUNS and RUN_NAME.match(resolved.name)
    return home if inside and os.path.lexists(home / LOCK) else None


def render_target(run: Path, target: Path, *, own: bool = True) -> bool:
    """Check that `reportgen render` may write into `target`: the run's own folder (if `own`: `reportgen compare`
    may not), or an empty or new one.

    Never another kept run (least of all the published one), never a new folder among
    an output folder's runs. Returns whether `target` is new (to be created); `InputError` if refused.
    """
    run, target = Path(run), Path(target)
    if own:
        rule = f"render writes only into the run's own folder ({run}) or into an empty or new one"
    else:
        rule = "compare writes only into an empty or new folder"
    if own and target.exists() and run.exists() and os.path.samefile(run, target):
        return False
    resolved = target.resolve()
    home = resolved.parent.parent if resolved.parent.name == RUNS else None
    if not os.path.lexists(target):
        if home is not None and os.path.lexists(home / LOCK):
            raise InputError(f"{target}: is inside the runs of the output folder {home}, where only build adds runs")
        return True
    if not target.is_dir():
        raise InputError(f"{target}: is not a folder; {rule}")
    if not any(target.iterdir()):
        return False
    what = "is not empty"
    if home is not None and RUN_NAME.match(resolved.name):
        latest = latest_run(home)
        published = latest is not None and os.path.samefile(latest, resolved)
        what = f"is {'the published run' if published else 'another kept run'} of {home}"
    raise InputError(f"{target}: {what}; {rule}")
