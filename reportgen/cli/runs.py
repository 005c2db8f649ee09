"""The commands over kept runs, without training: `render` (a run's report again), `compare` (another run's
model reviewed against it) and `history` (OUTPUT/index.html). Each error of theirs is one line (`one_line`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import cloup

from reportgen.cli.options import column_options, data_options
from reportgen.cli.params import flag, option
from reportgen.cli.process import EXIT_FAILED, fail, unexpected
from reportgen.cli.sources import check_source_options, data_source
from reportgen.errors import ReportgenError


@contextlib.contextmanager
def one_line(debug: bool) -> Iterator[None]:
    """A command's every error as one `Error:` line and its exit code: a `ReportgenError` its own
    (2 for bad input, 1 for a failed run), anything else exit 1 as unexpected (--debug: the traceback)."""
    try:
        yield
    except ReportgenError as exc:
        fail(exc.render(flag), exc.exit_code)
    except Exception as exc:
        if debug:
            raise
        fail(unexpected(exc), EXIT_FAILED)


@click.command("render", short_help="Rebuild a run's report from its report.json, no training")
@click.argument("run_folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the rebuilt report.html, report.md and report.json.  [default: RUN_FOLDER itself]",
)
@option(
    "--templates",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of Jinja templates that override the packaged ones, as for build.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def render_command(run_folder: Path, output: Path | None, templates: Path | None, debug: bool) -> None:
    """Rebuild a run's report.html and report.md from its report.json, without training.

    With the same reportgen and unchanged templates the page is byte-identical to the
    original; with --templates only what the templates change. A report.json written by
    another reportgen version, or one with a value of the wrong type, is refused (exit 2, as
    is a user template that fails); any other failure exits 1. Prints the page's path.

    -o must be RUN_FOLDER itself or an empty or new folder, never another kept run;
    the three files are replaced together, so a failed render leaves them as they were.

    \b
    Examples:
      reportgen render output/runs/20261127T191500Z
      reportgen render output/runs/20261127T191500Z -o /tmp/r --templates my-templates
    """
    with one_line(debug):
        from reportgen import revisit

        page = revisit.render_run(run_folder, output, templates)
    click.echo(str(page))


@cloup.command("compare", short_help="Review one kept run's model against another's, on the same ratings")
@click.argument("run_a", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False, path_type=Path))
@option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="An empty or new folder for RUN_B's report.html, report.json and report.md with the review.  "
    "[default: compare-RUN_A-RUN_B]",
)
@data_options
@column_options
@option(
    "--templates",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of Jinja templates that override the packaged ones, as for build.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
@click.pass_context
def compare_command(
    ctx: click.Context, run_a: Path, run_b: Path, output: Path | None, templates: Path | None, debug: bool, **opts: Any
) -> None:
    """Review RUN_A's kept model against RUN_B's on the ratings neither trained on, and write RUN_B's report
    with that review leading its changes section (a verdict with a 95 % interval, whose recommendations changed,
    what moved in the factor space).

    A report never holds its ratings, so give RUN_B's data as its build read it (the same --data, --ratings or
    --db and column options; nothing for MovieLens 100k): its SHA-256 must be the one RUN_B's report names.
    Where the two runs read different data, both models are scored on RUN_B's held-out ratings that RUN_A's run
    held out too, and the page says so. Prints the page's path; the verdict goes to stderr.

    \b
    Examples:
      reportgen build -o main-run && reportgen build -o pr-run --epochs 10
      reportgen compare main-run/latest pr-run/latest -o review
    """
    check_source_options(ctx, data=opts["data"], ratings=opts["ratings"], db=opts["db"])
    with one_line(debug):
        from reportgen import data, revisit

        folder = output or Path(f"compare-{run_a.resolve().name}-{run_b.resolve().name}")
        page = revisit.compare_runs(
            run_a,
            run_b,
            folder,
            data_source(opts),
            download=None if opts["offline"] else data.download_with_fastai,
            item_key=opts["item_key"],
            duplicates=opts["duplicates"],
            templates=templates,
        )
    click.echo(str(page))


@click.command("history", short_help="Rebuild OUTPUT/index.html, the table of every kept run")
@option(
    "--output",
    "-o",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("output"),
    help="The output folder whose runs/ to list; index.html is written there.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def history_command(output: Path, debug: bool) -> None:
    """Rebuild OUTPUT/index.html, the table and trend charts of every kept run (build does this after each run).

    Exit codes: 0 written, 1 the page could not be written (or failed otherwise), 2 bad usage,
    75 a build holds the output folder (it rebuilds the page itself when it ends).
    """
    with one_line(debug):
        from reportgen import pipeline

        page = pipeline.write_history(output)
    click.echo(str(page))
