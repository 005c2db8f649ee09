"""The build command's options: grouped by concern, and mapped onto the stages' dataclasses.

Each group is one decorator (`source_options` → `data.OwnData`, `training_options`
→ `train.TrainConfig`, `output_options` → `pipeline.BuildOptions`); every option
also reads REPORTGEN_<NAME> and can come from a `--config` TOML file. Part of the
CLI layer: only `reportgen.cli` knows click.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import click

from reportgen.analysis import defaults
from reportgen.data.dataset import DUPLICATE_POLICIES, ITEM_KEYS  # light modules: pandas and torch load lazily
from reportgen.errors import ReportgenError
from reportgen.train.config import DEVICES, ENGINES, LOADERS, PRESETS, RUN_FIELDS, check_y_range, describe_preset


def flag(name: str) -> str:
    """The command-line flag of a setting named in an error: `y_range` -> `--y-range`."""
    return "--" + name.replace("_", "-")


def option(*decls: str, **kwargs: Any) -> Any:
    """`click.option` that also reads REPORTGEN_<NAME> (from the first long flag) and shows it in --help."""
    flag = next(d for d in decls if d.startswith("--"))
    return click.option(*decls, envvar=f"REPORTGEN_{flag[2:].replace('-', '_').upper()}", show_envvar=True, **kwargs)


class Finite(click.FloatRange):
    """A `FloatRange` that also refuses NaN and infinities, which every bound check lets through."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


SEEDS = click.IntRange(0, 2**32 - 1)  # what numpy's and torch's generators all accept


def _apply(*decorators: Any) -> Any:
    """One decorator from several: a group of options that belong to one concern."""

    def decorate(f: Any) -> Any:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return decorate


def _checked(check: Any) -> Any:
    """A click callback that runs a library check on the value; its InputError becomes a usage error."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            try:
                check(value)
            except ReportgenError as exc:
                raise click.UsageError(exc.render(flag), ctx=ctx) from None
        return value

    return callback


# Where the ratings come from, and how to read them (data.OwnData and data.load).
source_options = _apply(
    option(
        "--data",
        type=click.Path(exists=True, path_type=Path),
        help="A GroupLens ml-100k folder or zip (u.data + u.item). Without it: fastai's cache, "
        "then the recbole copy, then a download.",
    ),
    option(
        "--ratings",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Your own ratings file instead of MovieLens: .csv, .tsv, .txt/.data, .parquet, or a .gz/.zip CSV.",
    ),
    option(
        "--items",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="With --ratings: a file of item titles, joined on the item column.",
    ),
    option("--user-col", default="user", help="With --ratings: the user id column."),
    option("--item-col", default="item", help="With --ratings: the item id column."),
    option("--rating-col", default="rating", help="With --ratings: the rating column."),
    option(
        "--title-col",
        default="title",
        help="With --ratings: the title column (in the ratings or --items file); without titles the item id is the label.",
    ),
    option("--sep", help="With --ratings: the field separator.  [default: by extension]"),
    option("--encoding", default="utf-8", help="With --ratings: the text encoding, e.g. latin-1."),
    option(
        "--item-key",
        type=click.Choice(ITEM_KEYS),
        default="title",
        help="What is one item: items sharing a title are merged (title, like the tutorial) or kept apart "
        "and labelled 'Title [id]' (id).",
    ),
    option(
        "--duplicates",
        type=click.Choice(DUPLICATE_POLICIES),
        default="last",
        help="A (user, item) pair rated twice: keep the last rating, or stop with an error.",
    ),
    option("--offline", is_flag=True, help="Never download ml-100k; fail if no local copy is found."),
)

# The model and how it trains (train.TrainConfig).
training_options = _apply(
    option(
        "--preset",
        type=click.Choice(list(PRESETS)),
        default="tutorial",
        help="Starting settings: "
        + "; ".join(f"{name}: {describe_preset(name)}" for name in PRESETS)
        + ". Options given explicitly override the preset.",
    ),
    option("--epochs", type=click.IntRange(min=1), default=5, help="Training epochs (one-cycle schedule)."),
    option(
        "--lr",
        type=Finite(min=0, min_open=True),
        default=5e-3,
        help="Maximum learning rate of the one-cycle schedule.",
    ),
    option("--wd", type=Finite(min=0), default=0.1, help="Weight decay."),
    option("--factors", type=click.IntRange(min=1), default=50, help="Latent factors per user and item."),
    option("--bs", type=click.IntRange(min=1), default=64, help="Batch size."),
    option(
        "--valid-pct",
        type=Finite(0, 1, min_open=True, max_open=True),
        default=0.2,
        help="Share of ratings held out at random for validation.",
    ),
    option(
        "--y-range",
        type=(float, float),
        default=None,
        metavar="LOW HIGH",
        callback=_checked(check_y_range),
        help="Range the predictions are squashed into (sigmoid); every rating must lie inside it.  "
        "[default: 0 5.5 for ml-100k; for --ratings, min to max + 10 % of the span]",
    ),
    option("--seed", type=SEEDS, default=42, help="Random seed: the same data and seed give the same numbers."),
    option(
        "--loader",
        type=click.Choice(LOADERS),
        default="lean",
        help="lean: the same split, vocabulary and model fed from tensors built once; "
        "fastai: the tutorial's CollabDataLoaders.",
    ),
    option(
        "--nproc",
        type=click.IntRange(1, 256),
        default=1,
        help="Train data-parallel in N processes on this machine (torch.distributed through torchrun: gloo on "
        "the CPU, NCCL on CUDA; the sparse engine). Across machines, start `torchrun … -m reportgen build` yourself.",
    ),
    option(
        "--engine",
        type=click.Choice(ENGINES),
        default="auto",
        help="lean: fastai's Learner (the tutorial's recipe); sparse: the large-data engine (big batches, "
        "row-wise Adagrad, its own learning rate, penalty and batch size; --epochs applies when you change it); "
        "auto: sparse from 500,000 ratings on.",
    ),
    option(
        "--threads",
        type=click.IntRange(min=1),
        default=None,
        help="torch CPU threads.  [default: chosen by batch size]",
    ),
    option(
        "--device",
        type=click.Choice(DEVICES),
        default="auto",
        help="Where to train: auto uses a CUDA GPU when torch sees one.",
    ),
)

# What is analysed and where the report goes (pipeline.BuildOptions).
output_options = _apply(
    option(
        "--output",
        "-o",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("output"),
        help="Folder that receives report.html and report.json.",
    ),
    option(
        "--top-n",
        type=click.IntRange(min=2),
        default=defaults.TOP_N,
        help="How many of the most-rated items to analyse.",
    ),
    option(
        "--k",
        type=click.IntRange(min=1, max=1000),
        default=defaults.K,
        help="Length of the top lists the ranking metrics score.",
    ),
    option(
        "--relevant-from",
        type=Finite(),
        metavar="RATING",
        help="For the ranking metrics, an item is relevant to a user who rated it at least this.  "
        "[default: 4 on a 1-5 scale: three quarters of the way up the data's rating range]",
    ),
    option(
        "--templates",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Folder of Jinja templates that override the packaged ones, file by file "
        "(a template can extend the packaged one as 'default:NAME').",
    ),
    option("--keep", type=click.IntRange(min=1), default=30, help="How many runs to keep under OUTPUT/runs/."),
    option(
        "--compare-with",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The report.json to compare with.  [default: OUTPUT/report.json, the previous run]",
    ),
    option(
        "--fail-on-regression",
        type=Finite(min=0),
        metavar="PCT",
        help="Exit 3 (after writing the report) when valid RMSE is more than PCT percent worse than the previous run's.",
    ),
    option(
        "--no-model",
        is_flag=True,
        help="Leave the trained model (model.safetensors + model.json) out of the run's folder.",
    ),
    option(
        "--wait",
        type=Finite(min=0),
        default=0,
        metavar="SECONDS",
        help="If another run holds OUTPUT, wait up to this long instead of exiting 75 at once.",
    ),
)


def build_options(opts: dict[str, Any], *, progress: bool, source_date: dt.datetime | None) -> Any:
    from reportgen import pipeline
    from reportgen.data import dataset as data_stage

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
        k=opts["k"],
        relevant_from=opts["relevant_from"],
        templates=opts["templates"],
        progress=progress,
        download=None if opts["offline"] else data_stage.download_with_fastai,
        keep=opts["keep"],
        compare_with=opts["compare_with"],
        wait=opts["wait"],
        source_date=source_date,
        keep_model=not opts["no_model"],
    )


def _own_data_options() -> tuple[str, ...]:
    """The options that only mean something with --ratings: OwnData's fields but the file itself."""
    from dataclasses import fields

    from reportgen.data.types import OwnData

    return tuple(f.name for f in fields(OwnData) if f.name != "ratings")


def _train_config(opts: dict[str, Any]) -> Any:
    """The preset's settings, overridden by every hyper-parameter the user gave (anywhere)."""
    from reportgen.train.config import TrainConfig

    ctx = click.get_current_context()
    defaulted = click.core.ParameterSource.DEFAULT
    hyper = [name for name in TrainConfig().as_dict() if name in opts]
    given = {name: opts[name] for name in hyper if ctx.get_parameter_source(name) != defaulted}
    if given.get("y_range") is not None:
        given["y_range"] = (float(given["y_range"][0]), float(given["y_range"][1]))
    if opts["y_range"] is None:
        given["y_range"] = None  # derived from the data by the train stage
    run = {name: opts[name] for name in RUN_FIELDS if name != "preset"}
    return TrainConfig.from_preset(opts["preset"], **given, **run)


def load_config(ctx: click.Context, path: Path | None) -> None:
    """Make a TOML file's values the defaults of this command (below env vars and the command line).

    Keys are option names (`epochs`, `y-range` or `y_range`); relative paths are
    taken from the config file's folder, so a crontab can name just the file.
    """
    if path is None:
        return
    from reportgen.data.documents import read_toml
    from reportgen.data.files import UnreadableFile

    try:
        values = read_toml(path)  # a regular file, bounded, finite numbers only
    except UnreadableFile as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param_hint="'--config'") from exc
    params = {p.name: p for p in ctx.command.params if p.name not in ("config", "help")}
    defaults: dict[str, Any] = {}

    def refuse(key: str, problem: str) -> click.BadParameter:
        return click.BadParameter(f"{path}: {key}: {problem}", ctx=ctx, param_hint="'--config'")

    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in params:
            raise click.BadParameter(f"{path}: unknown option {key!r}", ctx=ctx, param_hint="'--config'")
        param = params[name]
        if isinstance(param.type, click.types.IntParamType) and isinstance(value, float):
            raise refuse(key, f"{value!r} is not a whole number")  # click would cut 2.7 down to 2
        if isinstance(param.type, click.Path) and isinstance(value, str):
            if not value.strip():
                raise refuse(key, "the path is empty")
            value = str((path.parent / value).resolve()) if not Path(value).is_absolute() else value
        try:
            param.type_cast_value(ctx, value)  # checked here, so an error names the file, not an env var
        except click.BadParameter as exc:
            raise refuse(key, exc.message) from None
        defaults[name] = value
    ctx.default_map = {**(ctx.default_map or {}), **defaults}


def check_source_options(ctx: click.Context, *, data: Path | None, ratings: Path | None) -> None:
    """--data and --ratings exclude each other; the reading options belong to --ratings."""
    if data is not None and ratings is not None:
        raise click.UsageError(
            "--data and --ratings cannot be used together: --data reads a GroupLens ml-100k folder "
            "or zip, --ratings your own ratings file"
        )
    if ratings is None:
        given = [
            name
            for name in _own_data_options()
            if ctx.get_parameter_source(name)
            in (
                click.core.ParameterSource.COMMANDLINE,
                click.core.ParameterSource.ENVIRONMENT,
                click.core.ParameterSource.DEFAULT_MAP,
            )
        ]
        if given:
            flags = ", ".join(flag(name) for name in given)
            raise click.UsageError(f"{flags} only apply to your own data: add --ratings FILE")


config_option = option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    is_eager=True,
    expose_value=False,
    callback=lambda ctx, param, value: load_config(ctx, value),
    help="A TOML file of option values (epochs = 10, y-range = [1, 5], ...). Command-line options, "
    "then REPORTGEN_* variables, override it.",
)
