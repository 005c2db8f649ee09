"""`--config`: a TOML file of option values, the defaults of a command below REPORTGEN_* and the command line.

TOML values are typed, so each is taken only as what it says it is: a table, an array, a
date, `true` or a quoted number where a path, a number or a flag goes is refused, naming
the file and the key. Part of the CLI layer: only `reportgen.cli` knows click.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click


def load_config(ctx: click.Context, path: Path | None) -> None:
    """Make a TOML file's values the defaults of this command (below env vars and the command line).

    Keys are option names (`epochs`, `y-range` or `y_range`); relative paths (and an
    SQLite URL's relative file) are taken from the config file's folder, so a crontab can
    name just the file.
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
        if name in defaults:
            raise refuse(key, f"given twice (as {name.replace('_', '-')} and {name})")
        param = params[name]
        problem = _toml_problem(ctx, param, value)
        if problem is not None:
            raise refuse(key, problem)
        if isinstance(param.type, click.Path):
            if not value.strip():
                raise refuse(key, "the path is empty")
            value = str((path.parent / value).resolve()) if not Path(value).is_absolute() else value
        if name == "db" and isinstance(value, str):
            value = _sqlite_from(path.parent, value)
        try:
            param.type_cast_value(ctx, value)  # checked here, so an error names the file, not an env var
        except click.BadParameter as exc:
            raise refuse(key, exc.message) from None
        defaults[name] = value
    ctx.default_map = {**(ctx.default_map or {}), **defaults}


def _sqlite_from(folder: Path, url: str) -> str:
    """An SQLite URL's relative file (`sqlite:///shop.db`) taken from the config file's folder, as paths are."""
    prefix = "sqlite:///"
    file = url[len(prefix) :] if url.startswith(prefix) else ""
    if not file or file.startswith("/") or file.startswith(":memory:"):
        return url
    return prefix + str((folder / file).resolve())


def _toml_problem(ctx: click.Context, param: click.Parameter, value: Any) -> str | None:
    """Why a TOML value cannot be this option's (a table, an array, a date, `true` or a string where
    a number goes), or None. TOML values are typed, so they are taken only as what they say they are."""
    if param.nargs != 1:
        types = getattr(param.type, "types", [param.type] * param.nargs)
        if not isinstance(value, list) or len(value) != param.nargs:
            shown = f"an array of {len(value)}" if isinstance(value, list) else _toml_kind(value)
            return f"{shown} is not an array of {param.nargs} values"
        for element, kind in zip(value, types):
            problem = _toml_scalar_problem(ctx, param, kind, element)
            if problem is not None:
                return problem
        return None
    return _toml_scalar_problem(ctx, param, param.type, value)


def _toml_scalar_problem(ctx: click.Context, param: click.Parameter, kind: click.ParamType, value: Any) -> str | None:
    if isinstance(kind, click.types.BoolParamType):
        return None if isinstance(value, bool) else f"{_toml_kind(value)} is not true or false"
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        what = "a whole number" if isinstance(kind, click.types.IntParamType) else "a number"
        if isinstance(value, str):
            try:
                kind.convert(value, param, ctx)
            except click.BadParameter as exc:
                return exc.message  # what the same text says on the command line
            return f"{_toml_kind(value)} is not {what}: write it without quotes"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{_toml_kind(value)} is not {what}"
        if isinstance(value, float) and what == "a whole number":
            return f"{value!r} is not a whole number"  # click would cut 2.7 down to 2
        return None
    what = "a path" if isinstance(kind, click.Path) else "a string"
    return None if isinstance(value, str) else f"{_toml_kind(value)} is not {what}"


def _toml_kind(value: Any) -> str:
    """A TOML value as its file shows it: `true`, a table, an array, a date, the string '3'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (dt.date, dt.time)):
        return f"the date or time {value.isoformat()}"
    return repr(value)
