"""The command line: the only layer that knows click, environment variables and exit codes.

Heavy imports (pandas, fastai, torch, matplotlib) happen inside the commands, so
`reportgen --help` and `reportgen datasets` answer at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import cloup

from reportgen import __version__
from reportgen.cli.options import (
    build_options,
    column_options,
    data_options,
    output_options,
    performance_options,
    report_options,
    training_options,
)
from reportgen.cli.params import flag, old_names, option
from reportgen.cli.process import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REGRESSION,
    Stopped,
    TrainingProgress,
    command_logging,
    fail,
    stop_on_signals,
    unexpected,
)
from reportgen.cli.runs import compare_command, history_command, render_command
from reportgen.cli.sources import check_source_options
from reportgen.errors import InputError, ReportgenError
from reportgen.train import distributed

if TYPE_CHECKING:
    from reportgen.report import Report

log = logging.getLogger("reportgen")

AWAIT_LEADER = 60  # seconds another rank waits, after bad input, for the launcher to end the run
LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the last moment a date can print
CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}


class OneLineErrors(click.Group):
    """Every error, usage errors included, as one `Error: …` line on stderr.

    Cron mails and CI logs stay short, and scripts can match the line exactly.
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `reportgen`: the help, as it is
            click.echo(exc.ctx.get_help() if exc.ctx is not None else str(exc))
            sys.exit(EXIT_OK)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            fail("interrupted", EXIT_INTERRUPTED)
        except ReportgenError as exc:  # one raised before a command's own handling (the environment's world)
            fail(exc.render(flag), exc.exit_code)
        except Exception as exc:  # escaped a command's own handling too (an unreadable output folder)
            argv = kwargs["args"] if kwargs.get("args") is not None else (args[0] if args else sys.argv[1:])
            if "--debug" in argv:
                raise
            fail(unexpected(exc), EXIT_FAILED)
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else EXIT_OK)
        return result


@click.group(cls=OneLineErrors, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="reportgen", message="%(prog)s %(version)s")
def cli() -> None:
    """Train fastai's collaborative-filtering model on movie ratings and write one
    self-contained HTML report about what it learned (with report.json and report.md).

    \b
    Examples:
      reportgen build               # MovieLens 100k with the tutorial's settings
      reportgen build --seed 7 -o /srv/reports/nightly
      reportgen datasets            # where ml-100k would be read from
    """
    if os.environ.get("SOURCE_DATE_EPOCH") == "":
        # Set but empty reads as unset (as `${SOURCE_DATE_EPOCH:-…}` reads it), for every library too: numpy's
        # f2py, imported through scipy, fails on it. A --nproc run's ranks inherit the environment without it.
        del os.environ["SOURCE_DATE_EPOCH"]


for command in (render_command, compare_command, history_command):
    cli.add_command(command)


BUILD_EPILOG = """\b
Examples:
  reportgen build
  reportgen build --data ~/Downloads/ml-100k.zip --epochs 10 --output /tmp/r
  reportgen build --ratings export.csv --user-col customer --item-col sku \\
                  --rating-col stars --items products.csv --title-col name
  reportgen build --db sqlite:///shop.db --table ratings
  REPORTGEN_DB=postgresql://reports@db/shop reportgen build --query 'SELECT …'
  reportgen build --config nightly.toml --fail-on-regression 5 --quiet

\b
Exit codes:
  0   report written
  1   the run failed
  2   bad input or usage
  3   report written, but valid RMSE regressed (--fail-on-regression)
  75  another run holds the output folder (try again, or --wait)
  130 interrupted (SIGINT), 143 terminated (SIGTERM)
A run that fails before publishing leaves the previous report untouched; publishing
is one atomic swap of OUTPUT/latest, and every error says which report is there.
"""


@cli.command(
    cls=cloup.Command,
    short_help="Train the model and write the report (HTML, JSON, Markdown)",
    epilog=BUILD_EPILOG,
)
@data_options
@column_options
@training_options
@report_options
@output_options
@performance_options
def build(**opts: Any) -> None:
    """Train the model and write report.html, report.json and report.md into --output.

    Prints the report's path when done; the log's last line names every file written.
    On a terminal fastai's progress bar shows training; otherwise (cron) each stage and
    epoch is one timestamped line on stderr. Every run is also kept, with its model,
    under OUTPUT/runs/<UTC time>/; the report compares itself with the previous run, and
    OUTPUT/index.html lists every kept run.

    Without --data, --ratings or --db it reads MovieLens 100k (`reportgen datasets`
    says from where). Every option but --debug can also be set as REPORTGEN_<NAME>
    (--top-n: REPORTGEN_TOP_N) or in a --config file; the command line wins, then the
    environment, then the file. With SOURCE_DATE_EPOCH set, the files are
    byte-identical between runs.
    """
    ctx = click.get_current_context()
    interactive = sys.stderr.isatty() and sys.stdout.isatty()
    leader = distributed.is_leader()  # rank 0 of a torchrun world, or a process alone
    ctx.with_resource(command_logging(quiet=opts["quiet"] or not leader, interactive=interactive))
    check_source_options(ctx, data=opts["data"], ratings=opts["ratings"], db=opts["db"])
    source_date = _source_date()
    from reportgen.runs.outputs import latest_run

    before = latest_run(opts["output"])
    if opts["nproc"] > 1 and distributed.environment() is None:
        try:
            with stop_on_signals():
                code = _launch(opts["nproc"], quiet=opts["quiet"])
        except Stopped as exc:  # before any rank started; once they run, rank 0 says why the run stopped
            fail(exc.message + _what_was_kept(opts["output"], before), exc.code)
        sys.exit(code)
    for note in old_names(ctx):  # here, not in a --nproc launcher: its rank 0 reads the same and says it once
        log.warning("warning: %s", note)
    try:
        with stop_on_signals():
            from reportgen import pipeline

            options = build_options(opts, progress=interactive and not opts["quiet"], source_date=source_date)
            # On a terminal fastai's own table shows each epoch; elsewhere, one log line each.
            shown = TrainingProgress(terminal=options.progress)
            result = pipeline.build(options, on_epoch=shown.epoch, on_progress=shown.within_epoch)
    except ReportgenError as exc:
        if not leader and isinstance(exc, InputError):
            # Rank 0 read the same input and says what is wrong with it, once. Leaving first would
            # make the launcher stop rank 0 before it has said so: wait for the launcher instead.
            time.sleep(AWAIT_LEADER)
            sys.exit(exc.exit_code)
        fail(exc.render(flag) + _what_was_kept(opts["output"], before, quiet_if_unchanged=True), exc.exit_code)
    except Stopped as exc:
        if not leader:  # every rank is stopped together: rank 0 alone says so
            sys.exit(exc.code)
        fail(exc.message + _what_was_kept(opts["output"], before), exc.code)
    except Exception as exc:
        if opts["debug"]:
            raise
        fail(unexpected(exc) + _what_was_kept(opts["output"], before, quiet_if_unchanged=True), EXIT_FAILED)
    if result is None:  # another rank of a torchrun world: it trained, rank 0 writes
        return
    if not opts["quiet"]:
        click.echo(str(result.html))
    limit = opts["fail_on_regression"]
    if limit is not None:
        _check_regression(result.report, limit)


def _check_regression(report: Report, limit: float) -> None:
    """Exit 3 when the model regressed by more than `limit` %: with a review, worse with 95 % confidence by more
    than that (the interval of the relative change in RMSE wholly above it); without one, each run's own valid
    RMSE got more than `limit` % worse (two different measurements, as before the review existed)."""
    review, comparison = report.review, report.comparison
    if review is not None and review.paired is not None:
        if review.regressed(limit):
            r = review.paired.rmse
            fail(
                f"valid RMSE regressed against run {review.baseline}: {r.tonight:.4f} against {r.baseline:.4f} on "
                f"the same {review.paired.n} held-out ratings, worse by {100 * r.relative_low:.2f} % to "
                f"{100 * r.relative_high:.2f} % (95 % interval), more than --fail-on-regression {limit:g}; the "
                "report was written",
                EXIT_REGRESSION,
            )
        return
    comparable = comparison is not None and not comparison.split_changed  # other splits: not one measurement
    if comparable and comparison.rmse_change_pct > limit:
        fail(
            f"valid RMSE regressed by {comparison.rmse_change_pct:.2f} % ({comparison.valid_rmse_before:.4f} -> "
            f"{comparison.valid_rmse_after:.4f}), more than --fail-on-regression {limit:g}; the report was written",
            EXIT_REGRESSION,
        )


@cli.command(short_help="Say where ml-100k would be read from, in the order tried")
@option("--data", type=click.Path(path_type=Path), help="A folder or zip that `build --data` would read.")
def datasets(data: Path | None) -> None:
    """Say where the built-in dataset ml-100k would be read from, in the order tried."""
    from reportgen.data import candidates, data_path_problem

    found = candidates(data)
    problem = data_path_problem(data) if data is not None else None  # build's own check: it refuses, never skips
    chosen = None if problem else next((c for c in found if c.available), None)
    click.echo("ml-100k is looked for in this order:")
    for number, candidate in enumerate(found, start=1):
        if candidate.source == "download":
            state = "online only"
        else:
            state = "found" if candidate.available else "not found"
        marker = "->" if candidate is chosen else "  "
        click.echo(f"{marker} {number}. {candidate.source:<13} {state:<11} {candidate.location}")
        click.echo(f"      {candidate.note}")
    if chosen is not None:
        click.echo(f"reportgen build would read: {chosen.source} ({chosen.location})")
    elif problem:
        click.echo(f"reportgen build would refuse --data {data}: {problem}")


def _source_date() -> dt.datetime | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org): the time to print instead of now; unset or empty, none."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise click.UsageError(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not {raw!r}")
    if int(raw) > LAST_SECOND:
        raise click.UsageError(f"SOURCE_DATE_EPOCH {raw} is after the year 9999; give seconds since 1970")
    return dt.datetime.fromtimestamp(int(raw), tz=dt.UTC)


def _launch(nproc: int, *, quiet: bool) -> int:
    """`reportgen build` again in `nproc` processes on this machine, started by PyTorch's own launcher.

    The same as `torchrun --standalone --nproc-per-node N -m reportgen build …` (without
    --nproc); each process finds its rank in its environment. Returns the exit status:
    rank 0's when it failed (it printed why), else the first failed rank's.
    """
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg == "--nproc" or arg.startswith("--nproc="):
            skip = arg == "--nproc"
            continue
        args.append(arg)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # else the launcher warns that it sets it
    return distributed.launch(nproc, ["--module", "reportgen", *args], quiet=quiet)


def _what_was_kept(output: Path, before: Path | None, *, quiet_if_unchanged: bool = False) -> str:
    """The end of a failure's message, true to what the folder holds now: the previous report, or this run's."""
    from reportgen.runs.outputs import latest_run

    after = latest_run(output)
    if after != before and after is not None:
        return f"; the new report was published first (runs/{after.name})"
    return "" if quiet_if_unchanged else "; the previous report is unchanged"


def main() -> None:
    """The `reportgen` script (and `python -m reportgen`): the command line, then a quick exit."""
    try:
        cli(prog_name="reportgen")
    except SystemExit as exc:
        quick_exit(exc.code)
        raise
    quick_exit(EXIT_OK)


def quick_exit(code: object) -> None:
    """End the process with `code` without Python's teardown, once the command has nothing left to do.

    With torch loaded, the ordinary exit spends about a second after the last byte is
    written (freeing every module's objects, torch's libraries' destructors): 1.1 s of
    a 10 s ML-100k build. By now every file is written, synced and renamed into place;
    the exit handlers still run (logging's flush among them) and stdout and stderr are
    flushed, then `os._exit`. It returns, for the ordinary exit, in a torchrun world
    (whose process group torch tears down), while a non-daemon thread still runs, or
    for a code that is not a number (`sys.exit("message")`), and where the Python has no
    way to run the exit handlers first.
    """
    import atexit
    import threading

    if code is None:
        code = EXIT_OK
    if not isinstance(code, int) or os.environ.get("WORLD_SIZE") is not None:
        return
    if any(t is not threading.main_thread() and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's; elsewhere, the ordinary exit
    if run_exit_handlers is None:
        return
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can reach it
            pass
    os._exit(code)
