"""The output folder: its file names, the one atomic writer, the lock, the runs, publishing.

Layout of `--output DIR`:

    DIR/report.html, DIR/report.json   the latest run (plain copies, attachable)
    DIR/runs/<UTC timestamp>/          every run's own report.html and report.json
    DIR/.reportgen.lock                held (flock) while a run writes; holds its pid

A run renders into a hidden staging folder `runs/.staging-<pid>-…`, renames it to
its final name, then copies both files over the latest ones with `os.replace`.
A run killed at any point leaves at most a staging folder or hidden temporary
file named after its pid; the next run removes those once that pid is dead.
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

from reportgen.errors import InputError, ReportgenError, RunError
from reportgen.report import ReportDoc

log = logging.getLogger(__name__)

HTML_NAME = "report.html"
JSON_NAME = "report.json"
MARKDOWN_NAME = "report.md"
RUNS = "runs"
LOCK = ".reportgen.lock"
PUBLISHED = (JSON_NAME, MARKDOWN_NAME, HTML_NAME)  # JSON first: the page is the last thing to change
RUN_NAME = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
LEFTOVER = re.compile(r"^\.(?:staging-|report\.(?:html|json|md)\.|index\.html\.)(\d+)[.-]")  # + report.md, index.html


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
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunError(f"{self.path.parent}: cannot create the output folder ({exc.strerror or exc})") from exc
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise RunError(f"{self.path}: cannot lock ({exc.strerror})") from exc
                if time.monotonic() >= deadline:
                    holder = _read_pid(fd)
                    os.close(fd)
                    raise LockedError(f"another reportgen run holds {self.path} (pid {holder or 'unknown'})") from None
                time.sleep(0.1)
        stale = _read_pid(fd)
        if stale and stale != os.getpid() and not pid_alive(stale):
            log.warning("warning: taking over the stale lock %s of pid %d, which is no longer running", self.path, stale)
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
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                removed.append(entry)
    for entry in removed:
        log.warning("warning: removed %s, left by a run that did not finish", entry)
    return removed


def run_name(moment: dt.datetime, runs: Path) -> str:
    """`20261127T191500Z`, with `-1`, `-2`… if that second is taken already."""
    base = moment.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name, n = base, 0
    while (runs / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def staging_folder(folder: Path) -> Path:
    runs = folder / RUNS
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
    """Copy a run's files over DIR/report.*, through `write_atomic`."""
    try:
        write_atomic({folder / name: (run / name).read_bytes() for name in PUBLISHED})
    except OSError as exc:
        raise RunError(f"{folder}: cannot publish the report ({exc.strerror or exc})") from exc


def runs(folder: Path) -> list[Path]:
    """Finished runs, oldest first."""
    root = folder / RUNS
    if not root.is_dir():
        return []
    return sorted((p for p in root.iterdir() if p.is_dir() and RUN_NAME.match(p.name)), key=_run_order)


def _run_order(path: Path) -> tuple[str, int]:
    stamp, _, n = path.name.partition("-")
    return stamp, int(n or 0)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` runs."""
    finished = runs(folder)
    doomed = finished[: max(0, len(finished) - keep)]
    for run in doomed:
        shutil.rmtree(run)
    if doomed:
        log.info("pruned %d old run(s), keeping %d", len(doomed), keep)
    return doomed


def previous_report(folder: Path, explicit: Path | None = None) -> tuple[Path, ReportDoc] | None:
    """The report.json to compare with: `explicit`, else the latest published one.

    A damaged automatic one is skipped with a warning (yesterday's bad file must
    not stop tonight's run); a damaged explicit one is an input error.
    """
    path = explicit if explicit is not None else folder / JSON_NAME
    if explicit is None and not path.is_file():
        return None
    try:
        doc = ReportDoc.read(path)
        doc.ranked_lists(), doc.item_biases()  # check now what the comparison will read
    except (OSError, ValueError) as exc:
        if explicit is not None:
            raise InputError(f"{path}: cannot read it as a report.json ({exc})") from exc
        log.warning("warning: not comparing with %s: %s", path, exc)
        return None
    return path, doc
