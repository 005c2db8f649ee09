"""The building blocks of the command line's options: REPORTGEN_<NAME> variables, help groups, option types.

`option` is `click.option` that also reads its REPORTGEN_<NAME> variable; `group` one titled
section of a command's --help (cloup's option groups); the types build an option's accepted
values from the library's own bounds. Part of the CLI layer: only `reportgen.cli` knows click.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click
import cloup

from reportgen.errors import Bound, ReportgenError


def flag(name: str) -> str:
    """The command-line flag of a setting named in an error: `y_range` -> `--y-range`."""
    return "--" + name.replace("_", "-")


def option(*decls: str, **kwargs: Any) -> Any:
    """`click.option` that also reads REPORTGEN_<NAME> (from the first long flag) and shows it in --help."""
    flag = next(d for d in decls if d.startswith("--"))
    return click.option(*decls, envvar=f"REPORTGEN_{flag[2:].replace('-', '_').upper()}", show_envvar=True, **kwargs)


class QuietEnvvar(click.Option):
    """An option whose REPORTGEN_<NAME> its errors name (`Invalid value for '--k' (env var: 'REPORTGEN_K')`)
    but its --help line leaves out: `build`, with 45 options, states the rule once instead."""

    def get_help_extra(self, ctx: click.Context) -> Any:
        extra = super().get_help_extra(ctx)
        extra.pop("envvars", None)
        return extra


class SecretUrl(QuietEnvvar):
    """A database URL option (--db): the default a `--config` file gives it shown in --help only redacted
    (`dburl.redact`: the userinfo's password and every secret query parameter as ***)."""

    def get_help_extra(self, ctx: click.Context) -> Any:
        from reportgen.data.dburl import redact

        extra = super().get_help_extra(ctx)
        if "default" in extra:
            extra["default"] = redact(str(extra["default"]))
        return extra


def build_option(*decls: str, **kwargs: Any) -> Any:
    """An option of `build`: `option`, its variable left out of its --help line (`QuietEnvvar`)."""
    return option(*decls, **{"cls": QuietEnvvar, **kwargs})


def group(title: str, *options: Any, help: str | None = None) -> Any:
    """One titled section of `build --help`: these options, in this order (cloup's option group)."""
    return cloup.option_group(title, *options, help=help)


class RatingsPath(click.Path):
    """--ratings: a file or a folder that exists, or a glob pattern of Parquet parts (a path not there, with `*?[`)."""

    def __init__(self) -> None:
        super().__init__(exists=True, path_type=Path)
        self.name = "file"  # "File 'x.csv' does not exist.", as for any input file

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        text = str(value)
        if not Path(text).exists() and any(c in text for c in "*?["):
            return Path(text)  # the library lists what it matches, and says so when nothing does
        return super().convert(value, param, ctx)


class Finite(click.FloatRange):
    """A `FloatRange` that also refuses NaN and infinities, which every bound check lets through."""

    name = "finite float range"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number

    def _describe_range(self) -> str:
        """No bounds, no range in --help (click's own would read `x<=None`)."""
        return "" if self.min is None and self.max is None else super()._describe_range()


def bounded(bound: Bound) -> click.ParamType:
    """The option type of a setting whose values the library states as a `Bound` (one home for each bound)."""
    limits = {"min": bound.low, "max": bound.high, "min_open": bound.low_open, "max_open": bound.high_open}
    return click.IntRange(**limits) if bound.whole else Finite(**limits)


def checked(check: Any) -> Any:
    """A click callback that runs a library check on the value; its InputError becomes a usage error."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            try:
                check(value)
            except ReportgenError as exc:
                raise click.UsageError(exc.render(flag), ctx=ctx) from None
        return value

    return callback


OLD_NAMES = "reportgen.old_names"  # ctx.meta key: the notes of old spellings a command was given


class Renamed(click.Choice):
    """A choice whose values were renamed: an old spelling is still taken, read as the new one and named.

    The help and the error for a wrong value list only the new names. Wherever the value came
    from (the command line, REPORTGEN_<NAME>, the --config file), the option's callback maps it and
    keeps one note for the command to log (`old_names`), so a run says it once, after `--quiet`
    has been read.
    """

    def __init__(self, choices: tuple[str, ...], renamed: dict[str, str], why: str) -> None:
        super().__init__(choices)
        self.renamed, self.why = renamed, why

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value in self.renamed:
            return value  # the callback reads it as the new name, and says so
        return super().convert(value, param, ctx)

    def callback(self, ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if not isinstance(value, str) or value not in self.renamed:
            return value
        new = self.renamed[value]
        source = ctx.get_parameter_source(param.name or "")
        long = next(o for o in param.opts if o.startswith("--"))
        if source == click.core.ParameterSource.ENVIRONMENT:
            old_said, new_said = f"{param.envvar}={value}", f"{param.envvar}={new}"
        elif source == click.core.ParameterSource.DEFAULT_MAP:
            old_said, new_said = f'{param.name} = "{value}" in the --config file', f'{param.name} = "{new}"'
        else:
            old_said, new_said = f"{long} {value}", f"{long} {new}"
        ctx.meta.setdefault(OLD_NAMES, []).append(
            f"{old_said} is an old spelling that still works: write {new_said} ({self.why})"
        )
        return new


def old_names(ctx: click.Context) -> list[str]:
    """The notes of the old spellings this command was given (`Renamed`), in the order they were read."""
    return list(ctx.meta.get(OLD_NAMES, []))
