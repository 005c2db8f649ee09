"""The build command's options, in the titled groups `build --help` shows, and their mapping onto the stages.

Each group is one decorator and one section of the help (cloup's option groups), in the
user guide's order: data, your data's columns, model and training, report content, output
and nightly runs, performance. `build_options` maps them onto `data.OwnData`,
`data.DbData`, `train.TrainConfig` and `pipeline.BuildOptions`. Every option but --debug
also reads REPORTGEN_<NAME> and can come from a `--config` TOML file. Part of the CLI
layer: only `reportgen.cli` knows click (and cloup, which builds on it).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from reportgen.analysis import defaults
from reportgen.cli.config import load_config
from reportgen.cli.params import Finite, RatingsPath, Renamed, SecretUrl, bounded, checked, group
from reportgen.cli.params import build_option as option  # build's help states REPORTGEN_<NAME> once
from reportgen.cli.sources import data_source
from reportgen.data.dataset import DUPLICATE_POLICIES, ITEM_KEYS  # light modules: pandas and torch load lazily
from reportgen.train.config import (
    BOUNDS,
    DEVICES,
    ENGINES,
    LOADERS,
    PRESETS,
    RENAMED,
    RUN_FIELDS,
    SPLITS,
    check_y_range,
    describe_preset,
)

# --engine lean, REPORTGEN_ENGINE=lean, engine = "lean": still read, as learner, with a note.
ENGINE_NAMES = Renamed(ENGINES, RENAMED["engine"], "fastai's Learner; 'lean' names only the loader that feeds it")

# Where the ratings come from, and what is one item (data.load).
data_options = group(
    "Data",
    option(
        "--data",
        type=click.Path(exists=True, path_type=Path),
        help="A GroupLens ml-100k folder or zip (u.data + u.item). Without it: fastai's cache, "
        "then the recbole copy, then a download.",
    ),
    option(
        "--ratings",
        type=RatingsPath(),
        help="Your own ratings instead of MovieLens: a .csv, .tsv, .txt/.data, .parquet or .gz/.zip CSV file, "
        "or a folder or quoted glob of Parquet parts (hive partitions are columns).",
    ),
    option(
        "--items",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="With --ratings: a file of item titles (--title-col), joined on its item id column (--items-id-col): "
        "the names the report shows.",
    ),
    option(
        "--db",
        cls=SecretUrl,
        metavar="URL",
        help="Read the ratings from a database instead: sqlite:///file.db or postgresql://user@host:port/name "
        "(the postgres extra; the password from PGPASSWORD, ~/.pgpass or REPORTGEN_DB, never the command "
        "line). With --query or --table.",
    ),
    option(
        "--query",
        metavar="SQL",
        help="With --db: a SELECT whose rows are the ratings, quoted in the run summary (read in a fixed order, "
        "whatever its own, so the split and the rows' SHA-256 repeat).",
    ),
    option("--table", metavar="NAME", help="With --db: read a whole table or view (schema.table for a schema)."),
    option(
        "--items-query",
        metavar="SQL",
        help="With --db: a SELECT of each item's id and title (as --item-col and --title-col), the twin of --items.",
    ),
    option("--offline", is_flag=True, help="Never download ml-100k: stop with an error if no local copy is found."),
    option(
        "--item-key",
        type=click.Choice(ITEM_KEYS),
        default="title",
        help="What counts as one item. title (the tutorial's): items that share a title are one item, their "
        "ratings pooled (ML-100k: 1,682 ids, 1,664 titles); id: every id its own item, labelled 'Title [id]'.",
    ),
    option(
        "--duplicates",
        type=click.Choice(DUPLICATE_POLICIES),
        default="last",
        help="A user who rated an item twice: last keeps the last rating (the run summary counts those "
        "dropped); error stops at the first such pair.",
    ),
    help="MovieLens 100k unless --data, --ratings or --db; the run summary names the source and its SHA-256.",
)

# How to read a file of your own, or a database's rows (data.OwnData, data.DbData).
column_options = group(
    "Your data's columns and format (with --ratings or --db)",
    option("--user-col", default="user", metavar="NAME", help="The user id column."),
    option("--item-col", default="item", metavar="NAME", help="The item id column."),
    option(
        "--items-id-col",
        metavar="NAME",
        help="With --items: the items file's item id column.  [default: the same name as --item-col]",
    ),
    option(
        "--rating-col",
        default="rating",
        metavar="NAME",
        help="The rating column (numbers: their range gives --relevant-from and --y-range their defaults).",
    ),
    option(
        "--title-col",
        default="title",
        metavar="NAME",
        help="The title column (in the ratings, --items or --items-query): the names the report shows, "
        "else the item ids.",
    ),
    option(
        "--time-col",
        default=None,
        metavar="NAME",
        help="Each rating's time (epoch seconds, or ISO dates or date-times; UTC where no zone is given), "
        "for --split time.",
    ),
    option("--sep", metavar="CHAR", help="With --ratings: the field separator.  [default: by extension]"),
    option("--encoding", default="utf-8", metavar="NAME", help="With --ratings: the text encoding, e.g. latin-1."),
    help="The run summary lists the columns used.",
)

# The model and how it trains (train.TrainConfig).
training_options = group(
    "Model and training",
    option(
        "--preset",
        type=click.Choice(list(PRESETS)),
        default="tutorial",
        help="Starting settings: "
        + "; ".join(f"{name}: {describe_preset(name)}" for name in PRESETS)
        + ". Options given explicitly override the preset.",
    ),
    option(
        "--epochs",
        type=bounded(BOUNDS["epochs"]),
        default=5,
        metavar="N",
        help="Training epochs (one-cycle schedule): a row each in the training table and the learning curve.",
    ),
    option(
        "--lr",
        type=bounded(BOUNDS["lr"]),
        default=5e-3,
        metavar="X",
        help="Peak learning rate of the one-cycle schedule (fastai's Learner; the sparse engine has its own).",
    ),
    option(
        "--wd",
        type=bounded(BOUNDS["wd"]),
        default=0.1,
        metavar="X",
        help="Weight decay: pulls factors and biases towards 0 (fastai's Learner).",
    ),
    option(
        "--factors",
        type=bounded(BOUNDS["factors"]),
        default=50,
        metavar="N",
        help="Latent factors per user and item: the vectors the PCA, the neighbours and the explorer read.",
    ),
    option(
        "--bs",
        type=bounded(BOUNDS["bs"]),
        default=64,
        metavar="N",
        help="Batch size (fastai's Learner; the sparse engine picks its own).",
    ),
    option(
        "--valid-pct",
        type=bounded(BOUNDS["valid_pct"]),
        default=0.2,
        metavar="X",
        help="Share of ratings held out (by --split): the report's quality numbers are measured on them.",
    ),
    option(
        "--split",
        type=click.Choice(SPLITS),
        default="auto",
        help="Which ratings are held out. random: fastai's RandomSplitter, a draw over the rows' positions (the "
        "tutorial's). stable: a hash of each rating's user, item and --seed decides, the same every night whatever "
        "else the data holds, so nightly runs can be compared on ratings neither trained on (a share close to "
        "--valid-pct, not exactly it). time: the latest --valid-pct "
        "after one cutoff, which the report states (ml-100k's timestamps, or --time-col). auto: random for the "
        "tutorial preset on ml-100k, stable for everything else.",
    ),
    option(
        "--y-range",
        type=(float, float),
        default=None,
        metavar="LOW HIGH",
        callback=checked(check_y_range),
        help="Range the predictions are squashed into (sigmoid); every rating must lie inside it.  "
        "[default: 0 5.5 for ml-100k; for --ratings, min to max + 10 % of the span]",
    ),
    option(
        "--seed",
        type=bounded(BOUNDS["seed"]),
        default=42,
        metavar="N",
        help="Seed of the split, the first weights and the batch order: the same data, seed and --threads "
        "give the same numbers.",
    ),
    option(
        "--engine",
        type=ENGINE_NAMES,
        callback=ENGINE_NAMES.callback,
        default="auto",
        help="What trains the model. learner: fastai's Learner, the tutorial's recipe ('lean', its old name, "
        "still works); sparse: the engine for large data (row-wise Adagrad with its own learning rate, penalty and "
        "batch size; --epochs applies if given); auto: sparse from 200,000 ratings on.",
    ),
    option(
        "--loader",
        type=click.Choice(LOADERS),
        default="lean",
        help="How fastai's Learner gets its batches. lean: the tutorial's split and model from tensors built "
        "once, each rating once an epoch; fastai: the tutorial's CollabDataLoaders verbatim (slower; it samples "
        "with replacement, so its validation error is higher).",
    ),
    help="Each value is in the run summary, and each moves the numbers of the whole report.",
)

# What the report analyses and shows beyond the model's own numbers (pipeline.BuildOptions).
report_options = group(
    "Report content",
    option(
        "--top-n",
        type=bounded(defaults.TOP_N_BOUND),
        default=defaults.TOP_N,
        metavar="N",
        help="How many of the most-rated items the report analyses: its item tables, biases, PCA, neighbours and map.",
    ),
    option(
        "--k",
        type=bounded(defaults.K_BOUND),
        default=defaults.K,
        metavar="N",
        help="Length of the top-k lists the ranking section scores (precision@k, recall@k, NDCG@k, ...).",
    ),
    option(
        "--relevant-from",
        type=bounded(defaults.RELEVANT_FROM_BOUND),
        metavar="RATING",
        help="The held-out rating from which an item counts as relevant to a user (a hit) in the ranking "
        "section.  [default: 4 on a 1-5 scale: three quarters of the way up the data's rating range]",
    ),
    option(
        "--compare-with",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="The report.json that the section 'Changes since the previous run' compares with.  "
        "[default: OUTPUT/report.json, the previous run]",
    ),
    option(
        "--templates",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help="Folder of Jinja templates that change the page, each replacing the packaged one of its name "
        "(and able to extend it as 'default:NAME').",
    ),
)

# Where the report goes, and what a scheduled run needs (pipeline.BuildOptions, the process).
output_options = group(
    "Output and nightly runs",
    option(
        "--output",
        "-o",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("output"),
        help="Folder that receives report.html, report.json, report.md (the latest run), index.html (every "
        "kept run) and runs/<UTC time>/ (a run's three files, model.safetensors and model.json).",
    ),
    option(
        "--keep",
        type=click.IntRange(min=1),
        default=30,
        metavar="N",
        help="How many runs to keep under OUTPUT/runs/, and so in index.html.",
    ),
    option(
        "--no-model",
        is_flag=True,
        help="Leave the trained model (model.safetensors + model.json) out of the run's folder; the report is "
        "the same.",
    ),
    option(
        "--fail-on-regression",
        type=Finite(min=0),
        metavar="PCT",
        help="Exit 3 (after writing the report) when valid RMSE is worse than the baseline model's by more than PCT "
        "percent with 95 % confidence, both scored on the same held-out ratings; without a kept baseline model, "
        "when each run's own valid RMSE got more than PCT percent worse.",
    ),
    option(
        "--baseline",
        type=click.Path(exists=True, path_type=Path),
        metavar="RUN",
        help="The model to review tonight's against: a kept run's folder (or its model.json); the page's changes "
        "section leads with the verdict.  [default: the previous run's kept model]",
    ),
    option(
        "--wait",
        type=Finite(min=0),
        default=0,
        metavar="SECONDS",
        help="If another run holds OUTPUT, wait up to this long instead of exiting 75 at once.",
    ),
    option(
        "--config",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        is_eager=True,
        expose_value=False,
        callback=lambda ctx, param, value: load_config(ctx, value),
        help="A TOML file of option values (epochs = 10, y-range = [1, 5], ...). Command-line options, "
        "then REPORTGEN_* variables, override it.",
    ),
    option("--quiet", "-q", is_flag=True, help="Print only errors (warnings still go into the report)."),
    click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error."),
)

# Where and how fast it trains (train.TrainConfig's run fields).
performance_options = group(
    "Performance",
    option(
        "--threads",
        type=bounded(BOUNDS["threads"]),
        default=None,
        metavar="N",
        help="CPU threads: torch's for fastai's Learner, the compiled kernel's for the sparse engine (the same "
        "factors on any count).  [default: the Learner's by batch size; the kernel: every core]",
    ),
    option(
        "--device",
        type=click.Choice(DEVICES),
        default="auto",
        help="Where to train: auto uses a CUDA GPU when torch sees one.",
    ),
    option(
        "--nproc",
        type=click.IntRange(1, 256),
        default=1,
        metavar="N",
        help="Train data-parallel in N processes on this machine (torch.distributed through torchrun: gloo on "
        "the CPU, NCCL on CUDA; the sparse engine). Across machines, start `torchrun … -m reportgen build` yourself.",
    ),
    help="Where and how fast it trains; the run summary's training path names what was used.",
)


def build_options(opts: dict[str, Any], *, progress: bool, source_date: dt.datetime | None) -> Any:
    from reportgen import data, pipeline

    return pipeline.BuildOptions(
        source=data_source(opts),
        output=opts["output"],
        item_key=opts["item_key"],
        duplicates=opts["duplicates"],
        train=_train_config(opts),
        top_n=_given(opts, "top_n"),
        k=opts["k"],
        relevant_from=opts["relevant_from"],
        templates=opts["templates"],
        progress=progress,
        download=None if opts["offline"] else data.download_with_fastai,
        keep=opts["keep"],
        compare_with=opts["compare_with"],
        wait=opts["wait"],
        source_date=source_date,
        keep_model=not opts["no_model"],
        baseline=opts["baseline"],
    )


def _given(opts: dict[str, Any], name: str) -> Any:
    """The option's value if the user set it (command line, environment or config file), else None: the library's default."""
    set_by_user = click.get_current_context().get_parameter_source(name) != click.core.ParameterSource.DEFAULT
    return opts[name] if set_by_user else None


def _train_config(opts: dict[str, Any]) -> Any:
    """The preset's settings, overridden by every hyper-parameter the user gave (anywhere)."""
    from reportgen.train.config import TrainConfig

    hyper = [name for name in TrainConfig().as_dict() if name in opts]
    given = {name: opts[name] for name in hyper if _given(opts, name) is not None}
    if given.get("y_range") is not None:
        given["y_range"] = (float(given["y_range"][0]), float(given["y_range"][1]))
    if opts["y_range"] is None:
        given["y_range"] = None  # derived from the data by the train stage
    run = {name: opts[name] for name in RUN_FIELDS if name != "preset"}
    return TrainConfig.from_preset(opts["preset"], **given, **run, split=opts["split"])
