"""Which source `build` (and `compare`) reads (--data, --ratings or --db), the reading options that belong to each,
and `data_source`, what they name.

Part of the CLI layer: only `reportgen.cli` knows click. The options themselves are in
`options`; the stage's types (`data.OwnData`, `data.DbData`) say which options go with which source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reportgen.cli.params import flag


def own_data_options() -> tuple[str, ...]:
    """The options that only mean something with --ratings (or, but for the file's own, --db): OwnData's fields."""
    from dataclasses import fields

    from reportgen.data.types import OwnData

    return tuple(f.name for f in fields(OwnData) if f.name != "ratings")


def file_only_options() -> tuple[str, ...]:
    """The reading options of a file that a database has no use for (--items, --sep, --encoding)."""
    from dataclasses import fields

    from reportgen.data.types import DbData

    shared = {f.name for f in fields(DbData)}
    return tuple(name for name in own_data_options() if name not in shared)


def given_flags(ctx: click.Context, names: tuple[str, ...]) -> list[str]:
    """Which of these options the user set (command line, environment or config file), as flags."""
    sources = (
        click.core.ParameterSource.COMMANDLINE,
        click.core.ParameterSource.ENVIRONMENT,
        click.core.ParameterSource.DEFAULT_MAP,
    )
    return [flag(name) for name in names if ctx.get_parameter_source(name) in sources]


def check_source_options(ctx: click.Context, *, data: Path | None, ratings: Path | None, db: str | None = None) -> None:
    """--data, --ratings and --db exclude each other; the reading options belong to --ratings or --db."""
    if data is not None and ratings is not None:
        raise click.UsageError(
            "--data and --ratings cannot be used together: --data reads a GroupLens ml-100k folder "
            "or zip, --ratings your own ratings file"
        )
    if db is not None and (ratings is not None or data is not None):
        other = "--ratings" if ratings is not None else "--data"
        raise click.UsageError(
            f"--db and {other} cannot be used together: --db reads the ratings from a database, {other} from a file"
        )
    database_only = ("query", "table", "items_query")
    if db is None:
        given = given_flags(ctx, database_only)
        if given:
            raise click.UsageError(f"{', '.join(given)} only apply to a database: add --db URL")
    else:
        query, table = ctx.params.get("query"), ctx.params.get("table")
        if query is not None and table is not None:
            raise click.UsageError("--query and --table cannot be used together: give the query, or the table to read")
        if query is None and table is None:
            raise click.UsageError("--db needs --query SQL (a SELECT of the ratings) or --table NAME")
        given = given_flags(ctx, file_only_options())
        if given:
            raise click.UsageError(
                f"{', '.join(given)} only apply to a ratings file; with --db, titles come from --items-query"
            )
    if ratings is None and db is None:
        given = given_flags(ctx, own_data_options())
        if given:
            raise click.UsageError(f"{', '.join(given)} only apply to your own data: add --ratings FILE")


def data_source(opts: dict[str, Any]) -> Any:
    """What the data and column options name: a `data.DbData`, a `data.OwnData`, a GroupLens path, or None
    (MovieLens 100k); `build` and `compare` read it alike."""
    from reportgen import data

    # The column mapping is the same for a file and a database.
    columns = {name: opts[name] for name in ("user_col", "item_col", "rating_col", "title_col", "time_col")}
    if opts["db"] is not None:
        return data.DbData(
            url=opts["db"], query=opts["query"], table=opts["table"], items_query=opts["items_query"], **columns
        )
    if opts["ratings"] is not None:
        return data.OwnData(
            ratings=opts["ratings"],
            items=opts["items"],
            items_id_col=opts["items_id_col"],
            sep=opts["sep"],
            encoding=opts["encoding"],
            **columns,
        )
    return opts["data"]
