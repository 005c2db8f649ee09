"""`reportgen` in a process of its own, started in milliseconds instead of seconds.

The process tests (SIGTERM, SIGINT, SIGKILL mid-training) need a real, separate
process running the command line: the one that takes the lock under its own pid,
receives the signal and exits with its own status. A fresh `python -m reportgen`
first spends about 3 s importing torch and fastai. These processes are forked
instead from multiprocessing's forkserver, a fresh interpreter that imported those
modules once and has run nothing (so no thread pool or lock state is inherited). The
child runs `reportgen.cli.main`, the function `python -m reportgen` runs, with the
caller's arguments, environment and working folder; its stdout and stderr go to
files. The start-up itself (`python -m reportgen`, matplotlib's config folder) is
tested by tests that start a fresh interpreter.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path

PRELOAD = ["reportgen.cli", "reportgen.pipeline", "reportgen.train.learner"]  # lean imports torch and fastai
_context: multiprocessing.context.ForkServerContext | None = None


def _forkserver() -> multiprocessing.context.ForkServerContext:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def _child(argv: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str) -> None:
    """In the forked process: become `reportgen ARGV` (exits through SystemExit, as the script does)."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    for fd, path in ((1, stdout), (2, stderr)):
        opened = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(opened, fd)
        os.close(opened)
    # As Python sets them up when they are files: stdout buffered, stderr written line by line.
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
    sys.argv = ["reportgen", *argv]
    from reportgen.cli import main

    main()


@dataclass
class Running:
    """A started `reportgen` process and the files its output goes to."""

    process: BaseProcess
    stdout: Path
    stderr: Path

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def send_signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait(self, timeout: float = 60) -> int:
        """The exit status: the code it exited with, or minus the signal that killed it."""
        self.process.join(timeout)
        if self.process.exitcode is None:
            self.process.kill()
            raise AssertionError(f"reportgen (pid {self.pid}) still running after {timeout} s")
        return self.process.exitcode

    def wait_for(self, needle: str, timeout: float = 120) -> None:
        """Until `needle` shows in its stderr (it must not end first)."""
        deadline = time.monotonic() + timeout
        while needle not in self.err():
            if not self.process.is_alive():
                raise AssertionError(f"it ended with {self.process.exitcode} before {needle!r}: {self.err()}")
            assert time.monotonic() < deadline, f"no {needle!r} after {timeout} s: {self.err()}"
            time.sleep(0.02)

    def err(self) -> str:
        return self.stderr.read_text(encoding="utf-8")


def start(*args: object, logs: Path) -> Running:
    """`reportgen ARGS…` in its own process; stdout and stderr are written into the folder `logs`."""
    logs.mkdir(parents=True, exist_ok=True)
    stdout, stderr = logs / "stdout", logs / "stderr"
    stdout.touch()
    stderr.touch()
    process = _forkserver().Process(
        target=_child, args=([str(a) for a in args], dict(os.environ), os.getcwd(), str(stdout), str(stderr))
    )
    process.start()
    return Running(process, stdout, stderr)


def rank_pids(launcher: int) -> dict[int, int]:
    """The ranks a `--nproc` launcher (torch's) started: RANK -> pid, read from each child's environment."""
    found = {}
    for child in Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split():
        try:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        rank = next((e.split(b"=", 1)[1] for e in environ if e.startswith(b"RANK=")), None)
        if rank is not None:
            found[int(rank)] = int(child)
    return found


def is_running(pid: int) -> bool:
    """Whether process `pid` still runs: any of its threads neither gone nor a zombie.

    Not its first thread's state alone: killed, that one can be a zombie while another thread is
    still exiting, and the process's files (a lock among them) are let go only once the last one has.
    """
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for thread in threads:
        try:
            stat = Path(f"/proc/{pid}/task/{thread}/stat").read_text()
        except OSError:
            continue
        if stat.rpartition(")")[2].split()[0] not in ("Z", "X"):
            return True
    return False


def catches(pid: int, sig: int) -> bool:
    """Whether process `pid` has a handler of its own for `sig` (the SigCgt mask in /proc/PID/status)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask, 16) >> (sig - 1) & 1)


def has_mapped(pid: int, fragment: str) -> bool:
    """Whether process `pid` has mapped a file whose path contains `fragment` (a library being imported)."""
    try:
        return fragment in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
