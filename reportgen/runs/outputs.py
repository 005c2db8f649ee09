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
import fcntl
import logging
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from reportgen.data.files import UnreadableFile
from reportgen.errors import InputError, ReportgenError, RunError
from reportgen.report import ReportDoc

log = logging.getLogger(__name__)

HTML_NAME = "report.html"
JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"
HISTORY_NAME = "index.html"  # the history page
RUNS = "runs"
LOCK = ".reportgen.lock"
LATEST = "latest"
PUBLISHED = (JSON_NAME, MARKDOWN_NAME, HTML_NAME)  # each DIR/<name> is a link to latest/<name>
RUN_NAME = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
LEFTOVER = re.compile(r"^\.(?:staging-|report\.(?:html|json|md)\.|index\.html\.|latest\.)(\d+)[.-]")


class LockedError(ReportgenError):
    """Another run holds the output folder."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply try again later


class RunLock:
    """An exclusive `flock` on DIR/.reportgen.lock, with the holder's pid written inside.

    The kernel drops the lock when its holder dies, so a lock is never stuck; a
    file still naming a dead pid only tells us that run ended badly, and we say so.
    The file is never deleted: unlinking a lock others wait on would let two runs in.
    """

    def __init__(self, folder: Path, wait: float = 0.0) -> None:
        self.path = folder / LOCK
        self.wait = wait
        self.waited = 0.0  # seconds spent waiting for another run; not part of this run's timings
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from exc
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunError(f"{folder}: cannot write in the output folder ({exc.strerror or exc})") from exc
        started = time.monotonic()
        deadline, holder = started + self.wait, None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise RunError(f"{self.path}: cannot lock ({exc.strerror})") from exc
                holder = _read_pid(fd) or holder
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockedError(f"another reportgen run holds {self.path} (pid {holder or 'unknown'})") from None
                time.sleep(0.1)
        self.waited = time.monotonic() - started if holder is not None else 0.0
        if holder is not None:
            log.info("waited %.1f s for the output folder, held by pid %s", self.waited, holder)
        stale = _read_pid(fd)
        if stale and stale != os.getpid() and not pid_alive(stale):
            log.warning(
                "warning: taking over the stale lock %s of pid %d, which is no longer running", self.path, stale
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)  # a released lock names nobody
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete staging folders and temporary files left by runs that died (their pid is gone)."""
    removed = []
    for parent in (folder, folder / RUNS):
        if not parent.is_dir():
            continue
        for entry in parent.iterdir():
            match = LEFTOVER.match(entry.name)
            if match and not pid_alive(int(match.group(1))):
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
                removed.append(entry)
    for entry in removed:
        log.warning("warning: removed %s, left by a run that did not finish", entry)
    return removed


def run_name(moment: dt.datetime, runs: Path) -> str:
    """`20261127T191500Z`, with `-1`, `-2`… if that second is taken already."""
    base = moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    name, n = base, 0
    while (runs / name).exists():
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


def write_atomic(files: dict[Path, bytes]) -> None:
    """Write each file to a fresh hidden name beside its target, fsync it, then `os.replace` them all.

    Nothing is replaced until every file is written, so a failure (a full disk)
    leaves every target as it was; the temporary names carry the pid, so a run
    killed in between leaves files `remove_leftovers` recognises.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for target, payload in files.items():
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


def write_run(folder: Path, html: str, json_text: str) -> Path:
    """A run's report.html and report.json, written atomically into `folder` (created if needed)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from exc
    try:
        write_atomic({folder / JSON_NAME: json_text.encode("utf-8"), folder / HTML_NAME: html.encode("utf-8")})
    except OSError as exc:
        raise RunError(f"{folder}: cannot write the report ({exc.strerror or exc})") from exc
    return folder / HTML_NAME


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """More files of a run (report.md, the kept model) written atomically into `folder`, by name."""
    try:
        write_atomic({folder / name: payload for name, payload in files.items()})
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
    """The run DIR/latest points to, if it is one of ours."""
    link = folder / LATEST
    if not link.is_symlink():
        return None
    target = Path(os.readlink(link))
    run = folder / RUNS / target.name
    return run if target == Path(RUNS) / target.name and RUN_NAME.match(target.name) and run.is_dir() else None


def runs(folder: Path) -> list[Path]:
    """Finished runs, oldest first: real folders named like a run (links and files are not ours)."""
    root = folder / RUNS
    if root.is_symlink() or not root.is_dir():
        return []
    found = (p for p in root.iterdir() if RUN_NAME.match(p.name) and p.is_dir() and not p.is_symlink())
    return sorted(found, key=run_order)


def run_order(path: Path) -> tuple[str, int]:
    stamp, _, n = path.name.partition("-")
    return stamp, int(n or 0)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` runs; never the published one, never through a link."""
    latest = latest_run(folder)
    finished = [run for run in runs(folder) if run != latest]
    others = keep - 1 if latest is not None else keep  # the published run counts as one of `keep`
    doomed = finished[: max(0, len(finished) - others)]
    for run in doomed:
        shutil.rmtree(run)
    if doomed:
        log.info("pruned %d old run(s), keeping %d", len(doomed), keep)
    return doomed


def previous_report(folder: Path, explicit: Path | None = None) -> tuple[Path, ReportDoc] | None:
    """The report.json to compare with: `explicit`, else the latest published one.

    A damaged automatic one (not a regular file, too large or too deep, a number
    that is not finite, values of the wrong kind) is skipped with a warning:
    yesterday's bad file must not stop tonight's run. A damaged explicit one is an
    input error. Both are read bounded (`ReportDoc.read`), so neither can hang a run.
    """
    path = explicit if explicit is not None else folder / JSON_NAME
    if explicit is None and not os.path.lexists(path):  # the first run; anything else there is read, or warned of
        return None
    try:
        doc = ReportDoc.read(path)
        doc.ranked_lists(), doc.item_biases()  # check now what the comparison will read
    except (UnreadableFile, ValueError) as exc:
        problem = exc.problem if isinstance(exc, UnreadableFile) else str(exc)
        if explicit is not None:
            raise InputError(f"{path}: cannot read it as a report.json ({problem})") from exc
        log.warning("warning: not comparing with %s: %s", path, problem)
        return None
    return path, doc
