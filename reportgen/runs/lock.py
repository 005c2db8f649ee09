"""The output folder's lock: an exclusive `flock` on OUTPUT/.reportgen.lock, opened without following a link."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import stat
import time
from pathlib import Path

from reportgen.errors import ReportgenError, RunError
from reportgen.runs import files

log = logging.getLogger(__name__)

LOCK = ".reportgen.lock"


class LockedError(ReportgenError):
    """Another run holds the output folder."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply try again later


class RunLock:
    """An exclusive `flock` on DIR/.reportgen.lock, with the holder's pid written inside.

    The kernel drops the lock when its holder dies, so a lock is never stuck; a
    file still naming a dead pid only tells us that run ended badly, and we say so.
    The file is never deleted: unlinking a lock others wait on would let two runs in.
    It is opened with `O_NOFOLLOW` and without `O_TRUNC`, and used only if it is a plain
    file with no other name: a link or hard link planted there (a cron job running as a more
    privileged user would truncate whatever it points to) is refused before anything is written.
    A `lazy` lock creates nothing on entering: it holds a lock file that is there already and
    leaves a new folder alone until `take()`.
    """

    def __init__(self, folder: Path, wait: float = 0.0, *, lazy: bool = False) -> None:
        self.path = folder / LOCK
        self.wait = wait
        self.lazy = lazy
        self.waited = 0.0  # seconds spent waiting for another run; not part of this run's timings
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        """Take the lock; a `lazy` one only if its file exists already (`take_existing`), else at `take()`."""
        if self.lazy:
            self.take_existing()
        else:
            self.take()
        return self

    @property
    def held(self) -> bool:
        return self._fd is not None

    def take(self) -> RunLock:
        """Hold the lock, creating the folder and the lock file if need be (nothing if held already)."""
        if self._fd is None:
            folder = self.path.parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RunError(f"{folder}: cannot create the output folder ({exc.strerror or exc})") from exc
            self._hold(self._open(create=True))
        return self

    def take_existing(self) -> bool:
        """Hold the lock if its file is there already, creating nothing; False where the folder or the file is not.

        So a run into an output folder that has had a run stops at once (or waits) while another
        holds it, before it reads any input, and a run into a new folder creates nothing until
        it calls `take` (`pipeline.build`: once its input is read and checked).
        """
        if self._fd is None:
            fd = self._open(create=False)
            if fd is None:
                return False
            self._hold(fd)
        return True

    def _hold(self, fd: int) -> None:
        """`flock` `fd`, waiting up to `wait` seconds for another holder, then write our pid into it."""
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

    def _open(self, create: bool) -> int | None:
        """The lock file's descriptor: never truncated on open, never through a link; created if missing and
        `create`, else None where it (or the folder) is missing."""
        folder = self.path.parent
        flags = os.O_RDWR | os.O_NONBLOCK | (os.O_CREAT if create else 0)
        try:
            fd = files.open_in(folder, LOCK, flags, 0o644)
        except files.FollowError as exc:
            raise RunError(f"{self.path}: is {exc.strerror}; remove it (reportgen makes its own lock)") from exc
        except OSError as exc:
            if not create and exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise RunError(f"{folder}: cannot write in the output folder ({exc.strerror or exc})") from exc
        info = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(info.st_mode):
            problem = "is not a plain file"
        elif info.st_nlink != 1:
            problem = f"is a file with {info.st_nlink} names (a hard link), not reportgen's own lock"
        if problem:
            os.close(fd)
            raise RunError(f"{self.path}: {problem}; remove it (reportgen makes its own lock)")
        return fd

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
