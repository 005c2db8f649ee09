"""The analysis's independent passes over the ratings, side by side on the cores it may use.

numpy lets go of the GIL inside a gather, an `einsum` or an `exp`, and the compiled
loops (`loops`) run without it, so threads share out the work. Only independent
work is shared: every task computes what it would alone, in the same order, so the
numbers never depend on the thread count or the schedule. With one thread
everything runs in the caller's, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


class Workers:
    """Runs callables on `threads` threads (1: in the caller's thread, at once)."""

    def __init__(self, threads: int) -> None:
        self.threads = max(1, int(threads))
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="analysis") if self.threads > 1 else None

    def submit(self, task: Callable[[], T]) -> Future[T]:
        """`task` started (on a thread of the pool, or done here); its result when asked."""
        if self._pool is not None:
            return self._pool.submit(task)
        done: Future[T] = Future()
        try:
            done.set_result(task())
        except BaseException as exc:  # handed to whoever asks for the result, as the pool would
            done.set_exception(exc)
        return done

    def all(self, tasks: Sequence[Callable[[], Any]]) -> list[Any]:
        """Each task's result, in order: the first error raised, after every task has ended."""
        futures = [self.submit(task) for task in tasks]
        for future in futures:
            future.exception()  # wait for all before raising any
        return [future.result() for future in futures]

    def waves(self, starts: Sequence[int], task: Callable[[int], T]) -> Iterator[T]:
        """`task(start)` for each of `starts`, at most `threads` at once (so at most that many results or
        working sets are held), yielded in the order of `starts`."""
        for wave in range(0, len(starts), self.threads):
            yield from self.all([lambda s=s: task(s) for s in starts[wave : wave + self.threads]])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


@contextmanager
def workers(threads: int) -> Iterator[Workers]:
    pool = Workers(threads)
    try:
        yield pool
    finally:
        pool.close()


_serial = Workers(1)


def serial() -> Workers:
    """The one-thread runner: what a caller that was given no pool uses."""
    return _serial
