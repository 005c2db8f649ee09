"""Data-parallel training across processes: the world torchrun starts, and the collectives the sparse loop needs.

`torchrun --nproc-per-node N [--nnodes M --rdzv-endpoint HOST:PORT] -m reportgen build …`
(or `reportgen build --nproc N`, which starts the same thing through
`torch.distributed.run`) runs one process per rank with RANK, WORLD_SIZE and
LOCAL_RANK in its environment. Every rank loads the same data and trains the same
model on its own share of every global batch; the rows' gradients are gathered so
that each rank applies the whole batch's update and all end with identical weights.
Rank 0 alone owns the output folder. gloo on the CPU, NCCL on CUDA.

Every rank dies with its launcher (`die_with_launcher`, called by `python -m reportgen`
as it starts): torch's launcher puts each rank in a session of its own, so a launcher
killed with SIGKILL would otherwise leave its ranks training, rank 0 holding the output
folder's lock and later publishing a run that was killed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reportgen.errors import InputError, RunError

TIMEOUT = dt.timedelta(minutes=5)  # a collective waits this long for a rank that stopped answering
LAUNCHER = "REPORTGEN_LAUNCHER_PID"  # set by `launch` for its ranks: the pid of the process they die with
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True)
class World:
    """This process's place among the ranks training one model."""

    rank: int
    size: int
    local_rank: int
    backend: str  # "gloo" (CPU) or "nccl" (CUDA)

    @property
    def leader(self) -> bool:
        """Rank 0: the one that writes the report."""
        return self.rank == 0


def environment() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) when started by torchrun with more than one rank, else None.

    torchrun sets WORLD_SIZE, RANK and LOCAL_RANK together; anything else (a stray or
    half-set world, a rank outside it) is an `InputError` naming the variable, before any work.
    """
    size = _whole("WORLD_SIZE")
    if size is None:
        return None
    if size < 1:
        raise InputError(f"WORLD_SIZE={size} in the environment: a world has at least one process")
    rank = _whole("RANK")
    if rank is None:
        if size == 1:
            return None
        raise InputError(
            f"WORLD_SIZE={size} is set in the environment but RANK is not: torchrun sets both "
            "(unset WORLD_SIZE to run alone)"
        )
    if rank >= size:
        raise InputError(f"RANK={rank} in the environment is outside WORLD_SIZE={size} (ranks 0 to {size - 1})")
    local_rank = _whole("LOCAL_RANK")
    if local_rank is not None and local_rank > rank:
        raise InputError(f"LOCAL_RANK={local_rank} in the environment is above RANK={rank}")
    return None if size == 1 else (rank, size, local_rank or 0)


def _whole(name: str) -> int | None:
    """A whole number from the environment variable `name`; None when unset or empty."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    if not re.fullmatch(r"[0-9]{1,9}", raw.strip()):
        raise InputError(
            f"{name}={raw!r} in the environment is not a whole number: torchrun sets WORLD_SIZE, RANK "
            "and LOCAL_RANK (unset them to run alone)"
        )
    return int(raw.strip())


def die_with_launcher() -> None:
    """In a rank: end when the process that started it ends, however it ends (SIGKILL included).

    On Linux the kernel sends this rank SIGKILL the moment its parent dies
    (`prctl(PR_SET_PDEATHSIG)`); a launcher that died before this call is seen here, as a
    parent other than the launcher `launch` named (`LAUNCHER`), or than the parent this rank
    had when it started, and the rank ends at once. Killed, a rank leaves what a killed
    `reportgen build` leaves: the lock released by its death, at most a staging folder that
    the next run removes. Elsewhere the kernel offers no such signal: `launcher_gone` stops
    rank 0 before it publishes.
    """
    expected = _launcher_pid() or os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # a libc without prctl: launcher_gone still guards publishing
            pass
    if os.getppid() != expected:
        os.kill(os.getpid(), signal.SIGKILL)


def launcher_gone() -> bool:
    """True in a rank of `launch` whose launcher is no longer its parent: the run was stopped, never publish it."""
    pid = _launcher_pid()
    return pid is not None and environment() is not None and os.getppid() != pid


def _launcher_pid() -> int | None:
    raw = os.environ.get(LAUNCHER, "")
    return int(raw) if raw.isdigit() else None


def is_leader() -> bool:
    """True unless this process is a rank other than 0 of a torchrun world."""
    found = environment()
    return found is None or found[0] == 0


def join(device: str) -> World | None:
    """Join torchrun's process group (once) for training on `device`; None when running alone."""
    import torch
    import torch.distributed as dist

    found = environment()
    if found is None:
        return None
    rank, size, local_rank = found
    backend = "nccl" if device == "cuda" else "gloo"
    if not dist.is_initialized():
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend, rank=rank, world_size=size, timeout=TIMEOUT)
    return World(rank=rank, size=size, local_rank=local_rank, backend=backend)


def gather(tensor: Any) -> Any:
    """Every rank's `tensor` (all of one shape), concatenated in rank order along the first axis."""
    import torch
    import torch.distributed as dist

    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    with _peers():
        dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def total(value: Any) -> Any:
    """The sum over every rank of a tensor (in place, returned)."""
    import torch.distributed as dist

    with _peers():
        dist.all_reduce(value)
    return value


def leave() -> None:
    """Leave the process group, if this process joined one (a clean exit, also after a failure)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        try:
            dist.destroy_process_group()
        except RuntimeError:  # a peer is gone already: nothing left to say goodbye to
            pass


@contextlib.contextmanager
def _peers() -> Iterator[None]:
    """A collective whose peer stopped (killed, out of memory) fails as one line, not a backend's traceback."""
    try:
        yield
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"another process of this data-parallel run stopped ({first[:160]})") from exc


def launch(nproc: int, command: list[str], *, quiet: bool) -> int:
    """Run `command` (launcher arguments: `--module reportgen build …`) in `nproc` processes on this machine.

    PyTorch's own launcher, as `torchrun --standalone --nproc-per-node N`; each process
    finds its rank in its environment. Returns the exit status: rank 0's when it failed
    (it printed why), else the first failed rank's; 128 + N for a rank killed by signal N,
    and for the launcher itself stopped by SIGINT or SIGTERM (it stopped the ranks with the
    same signal, and rank 0 said so).
    """
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    if quiet:  # torch's elastic modules each set their own logger's level: quiet them one by one
        for name in [n for n in logging.root.manager.loggerDict if n.startswith("torch.distributed")]:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    before = os.environ.get(LAUNCHER)
    os.environ[LAUNCHER] = str(os.getpid())  # the ranks inherit the environment: they die with this process
    try:
        run(parse_args(["--standalone", "--nproc-per-node", str(nproc), "--max-restarts", "0", *command]))
    except SignalException as stopped:  # raised by torch's handler once the ranks have been stopped
        return 128 + int(stopped.sigval)
    except ChildFailedError as failed:
        first = failed.failures.get(0) or next(iter(failed.failures.values()))
        code = first.exitcode
        return code if code > 0 else 128 - code
    finally:
        if before is None:
            os.environ.pop(LAUNCHER, None)
        else:
            os.environ[LAUNCHER] = before
    return 0
