"""The command line: the only module that knows click, environment variables and exit codes.

Heavy imports (pandas, fastai, torch, matplotlib) happen inside the commands, so
`reportgen --help` and `reportgen datasets` answer at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from reportgen import __version__
from reportgen.data import DUPLICATE_POLICIES, ITEM_KEYS  # light modules: pandas and torch load lazily
from reportgen.errors import ReportgenError
from reportgen.train import DEVICES, ENGINES, LOADERS, PRESETS

log = logging.getLogger("reportgen")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REGRESSION, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
CONTEXT = {"help_option_names": ["-h", "--help"], "show_default": True, "max_content_width": 100}


class OneLineErrors(click.Group):
    """Every error, usage errors included, as one `Error: …` line on stderr.

    Cron mails and CI logs stay short, and scripts can match the line exactly.
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            _fail("interrupted", EXIT_INTERRUPTED)
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else EXIT_OK)
        return result


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


def option(*decls: str, **kwargs: Any) -> Any:
    """`click.option` that also reads REPORTGEN_<NAME> (from the first long flag) and shows it in --help."""
    flag = next(d for d in decls if d.startswith("--"))
    return click.option(*decls, envvar=f"REPORTGEN_{flag[2:].replace('-', '_').upper()}", show_envvar=True, **kwargs)


@click.group(cls=OneLineErrors, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="reportgen", message="%(prog)s %(version)s")
def cli() -> None:
    """Train fastai's collaborative-filtering model on movie ratings and write one
    self-contained HTML report (plus report.json) about what it learned.

    \b
    Examples:
      reportgen build               # MovieLens 100k with the tutorial's settings
      reportgen build --seed 7 -o /srv/reports/nightly
      reportgen datasets            # where ml-100k would be read from
    """


@cli.command()
@option(
    "--data",
    type=click.Path(exists=True, path_type=Path),
    help="A GroupLens ml-100k folder or zip (u.data + u.item). Without it: fastai's cache, "
    "then the recbole copy, then a download.",
)
@option(
    "--ratings",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your own ratings file instead of MovieLens: .csv, .tsv, .txt/.data, .parquet, or a .gz/.zip CSV.",
)
@option(
    "--items",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --ratings: a file of item titles, joined on the item column.",
)
@option("--user-col", default="user", help="With --ratings: the user id column.")
@option("--item-col", default="item", help="With --ratings: the item id column.")
@option("--rating-col", default="rating", help="With --ratings: the rating column.")
@option("--title-col", default="title", help="With --ratings: the title column (in the ratings or --items file); without titles the item id is the label.")
@option("--sep", help="With --ratings: the field separator.  [default: by extension]")
@option("--encoding", default="utf-8", help="With --ratings: the text encoding, e.g. latin-1.")
@option(
    "--item-key",
    type=click.Choice(ITEM_KEYS),
    default="title",
    help="What is one item: items sharing a title are merged (title, like the tutorial) or kept apart "
    "and labelled 'Title [id]' (id).",
)
@option(
    "--duplicates",
    type=click.Choice(DUPLICATE_POLICIES),
    default="last",
    help="A (user, item) pair rated twice: keep the last rating, or stop with an error.",
)
@option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("output"),
    help="Folder that receives report.html and report.json.",
)
@option("--epochs", type=click.IntRange(min=1), default=5, help="Training epochs (one-cycle schedule).")
@option("--lr", type=click.FloatRange(min=0, min_open=True), default=5e-3, help="Maximum learning rate of the one-cycle schedule.")
@option("--wd", type=click.FloatRange(min=0), default=0.1, help="Weight decay.")
@option("--factors", type=click.IntRange(min=1), default=50, help="Latent factors per user and item.")
@option("--bs", type=click.IntRange(min=1), default=64, help="Batch size.")
@option(
    "--valid-pct",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    help="Share of ratings held out at random for validation.",
)
@option(
    "--y-range",
    type=(float, float),
    default=None,
    metavar="LOW HIGH",
    help="Range the predictions are squashed into (sigmoid); every rating must lie inside it.  "
    "[default: 0 5.5 for ml-100k; for --ratings, min to max + 10 % of the span]",
)
@option("--seed", type=int, default=42, help="Random seed: the same data and seed give the same numbers.")
@option("--top-n", type=click.IntRange(min=2), default=1000, help="How many of the most-rated items to analyse.")
@option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    default="tutorial",
    help="Starting settings: the tutorial's, or 'fast' (batch size 1024, 5 epochs, lr 0.01, wd 0.5: valid MSE "
    "<= 0.83 on ML-100k in a fraction of the time). Options given explicitly override the preset.",
)
@option(
    "--loader",
    type=click.Choice(LOADERS),
    default="lean",
    help="lean: the same split, vocabulary and model fed from tensors built once; fastai: the tutorial's CollabDataLoaders.",
)
@option(
    "--engine",
    type=click.Choice(ENGINES),
    default="auto",
    help="lean: fastai's Learner (the tutorial's recipe); sparse: the large-data engine (big batches, "
    "row-wise Adagrad, its own epochs/lr/batch size); auto: sparse from 500,000 ratings on.",
)
@option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads.  [default: chosen by batch size]")
@option("--device", type=click.Choice(DEVICES), default="auto", help="Where to train: auto uses a CUDA GPU when torch sees one.")
@option(
    "--templates",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of Jinja templates that override the packaged ones, file by file.",
)
@option("--offline", is_flag=True, help="Never download ml-100k; fail if no local copy is found.")
@option("--keep", type=click.IntRange(min=1), default=30, help="How many runs to keep under OUTPUT/runs/.")
@option(
    "--compare-with",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The report.json to compare with.  [default: OUTPUT/report.json, the previous run]",
)
@option(
    "--fail-on-regression",
    type=click.FloatRange(min=0),
    metavar="PCT",
    help="Exit 3 (after writing the report) when valid RMSE is more than PCT percent worse than the previous run's.",
)
@option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    metavar="SECONDS",
    help="If another run holds OUTPUT, wait up to this long instead of exiting 75 at once.",
)
@option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    is_eager=True,
    expose_value=False,
    callback=lambda ctx, param, value: _load_config(ctx, value),
    help="A TOML file of option values (epochs = 10, y-range = [1, 5], ...). Command-line options, "
    "then REPORTGEN_* variables, override it.",
)
@option("--quiet", "-q", is_flag=True, help="Print only errors.")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
def build(**opts: Any) -> None:
    """Train the model and write report.html and report.json into --output.

    Prints the report's path when done. On a terminal fastai's progress bar shows
    training; otherwise (cron) each stage and epoch is one timestamped line on stderr.
    Every run is also kept under OUTPUT/runs/<UTC time>/, and the report compares
    itself with the previous run.

    Without --data or --ratings it reads MovieLens 100k (`reportgen datasets`
    says from where). Every option can come from a --config file or a
    REPORTGEN_<OPTION> variable; the command line wins, then the environment.
    With SOURCE_DATE_EPOCH set, the files are byte-identical between runs.

    \b
    Examples:
      reportgen build
      reportgen build --data ~/Downloads/ml-100k.zip --epochs 10 --output /tmp/r
      reportgen build --ratings export.csv --user-col customer --item-col sku \\
                      --rating-col stars --items products.csv --title-col name
      reportgen build --config nightly.toml --fail-on-regression 5 --quiet

    \b
    Exit codes:
      0   report written
      1   the run failed
      2   bad input or usage
      3   report written, but valid RMSE regressed (--fail-on-regression)
      75  another run holds the output folder (try again, or --wait)
      130 interrupted (SIGINT), 143 terminated (SIGTERM)
    A run that does not finish leaves the previous report untouched.
    """
    ctx = click.get_current_context()
    interactive = sys.stderr.isatty() and sys.stdout.isatty()
    _configure_logging(quiet=opts["quiet"], interactive=interactive)
    _check_usage(ctx, opts)
    source_date = _source_date()
    try:
        with _signals_raise():
            from reportgen import pipeline

            options = _build_options(opts, progress=interactive and not opts["quiet"], source_date=source_date)
            # On a terminal fastai's own table shows each epoch; elsewhere, one log line each.
            result = pipeline.build(options, on_epoch=None if options.progress else _log_epoch)
    except ReportgenError as exc:
        _fail(str(exc), exc.exit_code)
    except Stopped as exc:
        _fail(exc.message, exc.code)
    except Exception as exc:
        if opts["debug"]:
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", EXIT_FAILED)
    if not opts["quiet"]:
        click.echo(str(result.html))
    limit = opts["fail_on_regression"]
    comparison = result.comparison
    if limit is not None and comparison is not None and comparison.rmse_change_pct > limit:
        _fail(
            f"valid RMSE regressed by {comparison.rmse_change_pct:.2f} % ({comparison.valid_rmse_before:.4f} -> "
            f"{comparison.valid_rmse_after:.4f}), more than --fail-on-regression {limit:g}; the report was written",
            EXIT_REGRESSION,
        )


def _build_options(opts: dict[str, Any], *, progress: bool, source_date: dt.datetime | None) -> Any:
    from reportgen import data as data_stage
    from reportgen import pipeline

    source: Path | data_stage.OwnData | None = opts["data"]
    if opts["ratings"] is not None:
        source = data_stage.OwnData(
            ratings=opts["ratings"],
            items=opts["items"],
            user_col=opts["user_col"],
            item_col=opts["item_col"],
            rating_col=opts["rating_col"],
            title_col=opts["title_col"],
            sep=opts["sep"],
            encoding=opts["encoding"],
        )
    return pipeline.BuildOptions(
        source=source,
        output=opts["output"],
        item_key=opts["item_key"],
        duplicates=opts["duplicates"],
        train=_train_config(opts),
        top_n=opts["top_n"],
        templates=opts["templates"],
        progress=progress,
        download=None if opts["offline"] else data_stage.download_with_fastai,
        keep=opts["keep"],
        compare_with=opts["compare_with"],
        wait=opts["wait"],
        source_date=source_date,
    )


@cli.command()
@option("--data", type=click.Path(path_type=Path), help="A folder or zip that `build --data` would read.")
def datasets(data: Path | None) -> None:
    """Say where the built-in dataset ml-100k would be read from, in the order tried."""
    from reportgen.data import candidates

    found = candidates(data)
    chosen = next((c for c in found if c.available), None)
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


OWN_DATA_OPTIONS = ("items", "user_col", "item_col", "rating_col", "title_col", "sep", "encoding")
PATH_OPTIONS = ("data", "ratings", "items", "output", "templates", "compare_with")


HYPER_PARAMETERS = ("epochs", "lr", "wd", "factors", "bs", "valid_pct", "y_range", "seed")
RUN_OPTIONS = ("loader", "threads", "device", "engine")


def _train_config(opts: dict[str, Any]) -> Any:
    """The preset's settings, overridden by every hyper-parameter the user gave (anywhere)."""
    from reportgen.train import TrainConfig

    ctx = click.get_current_context()
    defaulted = click.core.ParameterSource.DEFAULT
    given = {name: opts[name] for name in HYPER_PARAMETERS if ctx.get_parameter_source(name) != defaulted}
    if given.get("y_range") is not None:
        given["y_range"] = (float(given["y_range"][0]), float(given["y_range"][1]))
    if opts["y_range"] is None:
        given["y_range"] = None  # derived from the data by the pipeline
    return TrainConfig.from_preset(opts["preset"], **given, **{name: opts[name] for name in RUN_OPTIONS})


def _check_usage(ctx: click.Context, opts: dict[str, Any]) -> None:
    y_range = opts["y_range"]
    if y_range is not None and y_range[0] >= y_range[1]:
        _fail(f"Invalid value for '--y-range': LOW ({y_range[0]}) must be below HIGH ({y_range[1]})", EXIT_USAGE)
    _check_source_options(ctx, data=opts["data"], ratings=opts["ratings"])


def _load_config(ctx: click.Context, path: Path | None) -> None:
    """Make a TOML file's values the defaults of this command (below env vars and the command line).

    Keys are option names (`epochs`, `y-range` or `y_range`); relative paths are
    taken from the config file's folder, so a crontab can name just the file.
    """
    if path is None:
        return
    import tomllib

    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"{path}: not a readable TOML file ({exc})", ctx=ctx, param_hint="'--config'") from exc
    known = {p.name for p in ctx.command.params if p.name not in ("config", "help")}
    defaults: dict[str, Any] = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in known:
            raise click.BadParameter(f"{path}: unknown option {key!r}", ctx=ctx, param_hint="'--config'")
        if name in PATH_OPTIONS and isinstance(value, str):
            value = str((path.parent / value).resolve()) if not Path(value).is_absolute() else value
        defaults[name] = value
    ctx.default_map = {**(ctx.default_map or {}), **defaults}


def _source_date() -> dt.datetime | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org): the time to print instead of now."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        _fail(f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not {raw!r}", EXIT_USAGE)
    return dt.datetime.fromtimestamp(int(raw), tz=dt.timezone.utc)


class Stopped(BaseException):
    """SIGINT or SIGTERM arrived: unwind (releasing the lock, removing staging) and exit."""

    def __init__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        self.code = 128 + signum
        self.message = f"{'interrupted' if signum == signal.SIGINT else 'terminated'} ({name}); the previous report is unchanged"
        super().__init__(self.message)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `Stopped` while a run is in progress."""

    def stop(signum: int, frame: object) -> None:
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_source_options(ctx: click.Context, *, data: Path | None, ratings: Path | None) -> None:
    """--data and --ratings exclude each other; the reading options belong to --ratings."""
    if data is not None and ratings is not None:
        _fail(
            "--data and --ratings cannot be used together: --data reads a GroupLens ml-100k folder "
            "or zip, --ratings your own ratings file",
            EXIT_USAGE,
        )
    if ratings is None:
        given = [
            name
            for name in OWN_DATA_OPTIONS
            if ctx.get_parameter_source(name) in (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
        ]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            _fail(f"{flags} only apply to your own data: add --ratings FILE", EXIT_USAGE)


def _configure_logging(quiet: bool, interactive: bool) -> None:
    """Plain lines on a terminal; timestamped lines elsewhere (cron, CI, files)."""
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(message)s" if interactive else "%(asctime)s %(message)s"
    handler.setFormatter(logging.Formatter(fmt, datefmt="%Y-%m-%dT%H:%M:%S%z"))
    log.handlers[:] = [handler]
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


def _log_epoch(stats: Any, total: int) -> None:
    log.info(
        "epoch %d/%d train_loss %.4f valid_loss %.4f %.1f s",
        stats.epoch,
        total,
        stats.train_loss,
        stats.valid_loss,
        stats.seconds,
    )


def main() -> None:
    cli(prog_name="reportgen")
