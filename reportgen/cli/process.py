"""The process a command runs in: its exit codes and one-line errors, its log lines, how training shows
itself, and the signals that stop it.

Part of the CLI layer (only `reportgen.cli` knows click); `reportgen.cli` configures
the logging once per command and wraps a run in `stop_on_signals`.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

import click

from reportgen.render.formatting import seconds

log = logging.getLogger("reportgen")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REGRESSION, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def fail(message: str, code: int) -> None:
    """End the command with one `Error: …` line on stderr (the message on one line) and `code`, every URL in it
    redacted (the library shows none whole; a library below it might)."""
    from reportgen.data.dburl import redact_in

    click.echo(f"Error: {redact_in(' '.join(str(message).split()))}", err=True)
    sys.exit(code)


def unexpected(exc: BaseException) -> str:
    """The line for an error no stage foresaw: its type and (the start of) its message."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= 300 else text[:299] + "…"
    return f"unexpected {type(exc).__name__}: {text} (rerun with --debug for the traceback)"


class Stopped(BaseException):
    """SIGINT or SIGTERM arrived: unwind (releasing the lock, removing staging) and exit."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        self.code = 128 + signum
        self.message = f"{'interrupted' if signum == signal.SIGINT else 'terminated'} ({name})"
        super().__init__(self.message)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Stopped` while a run is in progress.

    Only the first: a second signal (Ctrl-C reaches every process of the terminal's group,
    and torch's launcher forwards it to the ranks again) is ignored until the process exits,
    so the run unwinds and says why it stopped once. An error that escapes after the stop
    is the stop's doing (a module it interrupted mid-import fails when next used, with an
    AttributeError of a "partially initialized module"): it unwinds as that `Stopped`.
    """
    stopping: Stopped | None = None

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if stopping is None:
            stopping = Stopped(signum)
            raise stopping

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except Exception as exc:
        if stopping is not None:
            raise stopping from exc
        raise
    finally:
        if stopping is None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class Redacted(logging.Filter):
    """Every URL in a log line redacted (`dburl.redact_in`): no line of the log shows a password."""

    def filter(self, record: logging.LogRecord) -> bool:
        from reportgen.data.dburl import redact_in

        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = redact_in(message), ()
        return True


def configure_logging(quiet: bool, interactive: bool) -> None:
    """Plain lines on a terminal; timestamped lines elsewhere (cron, CI, files); every URL redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Redacted())
    fmt = "%(message)s" if interactive else "%(asctime)s %(message)s"
    handler.setFormatter(logging.Formatter(fmt, datefmt="%Y-%m-%dT%H:%M:%S%z"))
    log.handlers[:] = [handler]
    log.setLevel(logging.ERROR if quiet else logging.INFO)  # quiet: warnings go into the report only
    log.propagate = False
    if quiet:  # libraries' own complaints too (matplotlib's about an unwritable MPLCONFIGDIR)
        logging.getLogger("matplotlib").setLevel(logging.ERROR)
        warnings.simplefilter("ignore")


@contextlib.contextmanager
def command_logging(quiet: bool, interactive: bool) -> Iterator[None]:
    """The command's log lines (`configure_logging`) while it runs, and afterwards the process's logging and
    warning filters as they were: a command run in a process that goes on (click's CliRunner in the tests, a
    notebook) leaves nothing global behind, such as a quiet run's silenced warnings or logger."""
    libraries = logging.getLogger("matplotlib")
    saved = (list(log.handlers), log.level, log.propagate, libraries.level)
    with warnings.catch_warnings():
        configure_logging(quiet, interactive)
        try:
            yield
        finally:
            log.handlers[:], log.propagate = saved[0], saved[2]
            log.setLevel(saved[1])
            libraries.setLevel(saved[3])


class TrainingProgress:
    """How training shows itself. In a log (cron): a line per epoch, and for an epoch longer
    than a minute a line every tenth of it with the time left. On a terminal: fastai's own
    bar for its Learner; for the sparse engine, one line redrawn in place with the time left."""

    LONG_EPOCH = 60.0  # seconds

    def __init__(self, terminal: bool) -> None:
        self.terminal = terminal
        self.number, self.total, self.started = 1, 0, time.monotonic()

    def epoch(self, stats: Any, total: int) -> None:
        if self.terminal:
            click.echo("\r\033[K", nl=False, err=True)  # clear the redrawn line; fastai's bar shows the epoch
        else:
            log.info(
                "epoch %d/%d train_loss %.4f valid_loss %.4f %s",
                stats.epoch,
                total,
                stats.train_loss,
                stats.valid_loss,
                seconds(stats.seconds),  # as the page's epoch table writes it
            )
        self.number, self.total, self.started = stats.epoch + 1, total, time.monotonic()

    def within_epoch(self, done: float) -> None:
        elapsed = time.monotonic() - self.started
        left = elapsed * (1 - done) / done
        of = f"/{self.total}" if self.total else ""
        if self.terminal:
            click.echo(f"\repoch {self.number}{of}: {done:.0%}, about {left:.0f} s left", nl=False, err=True)
        elif elapsed / done > self.LONG_EPOCH:
            log.info("epoch %d%s: %.0f %% done, about %.0f s left", self.number, of, 100 * done, left)
