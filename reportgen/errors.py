"""The errors the stages raise; the CLI turns each into one `Error: …` line.

Stages never choose exit codes themselves: every exception carries the code the
CLI should use, so `cli` stays the only place that calls `sys.exit`. A message
names a setting as `setting("y_range")`, a `{--y_range}` placeholder: the library
prints the setting's Python name (`y_range`), the CLI its flag (`--y-range`). A numeric
setting's allowed values are a `Bound`, stated once and read by both.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_SETTING = re.compile(r"\{--([a-z_]+)\}")


def setting(name: str) -> str:
    """The placeholder for a setting in an error message: `{--name}`."""
    return "{--" + name + "}"


class ReportgenError(Exception):
    """A failure the user should read as one line, without a traceback.

    `option`: the setting at fault, if one is (the first one the message names).
    """

    exit_code = 1

    def __init__(self, message: str) -> None:
        self.template = message
        found = _SETTING.search(message)
        self.option = found.group(1) if found else None
        super().__init__(self.render())

    def render(self, name: Callable[[str], str] = str) -> str:
        """The message, with each setting called `name(setting)`."""
        return _SETTING.sub(lambda m: name(m.group(1)), self.template)


class InputError(ReportgenError):
    """Bad input or usage: a missing file, a malformed column, a wrong option."""

    exit_code = 2


class DataNotFoundError(InputError):
    """None of the ways to obtain a dataset worked."""


class RunError(ReportgenError):
    """The run itself failed (training diverged, the output could not be written)."""

    exit_code = 1


@dataclass(frozen=True)
class Bound:
    """The values a numeric setting may take, stated once: the library checks them and the CLI's
    option types are built from them (`cli.options.bounded`).

    `whole`: an integer (else any finite number); `low`/`high`: the limits (None: none),
    excluded when `low_open`/`high_open`. A bool is never a number here.
    """

    whole: bool
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def kind(self) -> str:
        return "a whole number" if self.whole else "a finite number"

    def limits(self) -> str:
        """The range in words: "at least 1", "above 0 and below 1"."""
        shown = []
        if self.low is not None:
            shown.append(f"{'above' if self.low_open else 'at least'} {self._number(self.low)}")
        if self.high is not None:
            shown.append(f"{'below' if self.high_open else 'at most'} {self._number(self.high)}")
        return " and ".join(shown)

    def _number(self, value: float) -> str:
        return str(int(value)) if self.whole or float(value).is_integer() else f"{value:g}"

    def problem(self, value: Any) -> str | None:
        """Why `value` is not one of these values (`must be …`), or None when it is."""
        number = isinstance(value, numbers.Integral if self.whole else numbers.Real) and not isinstance(value, bool)
        if not number or not (self.whole or finite(value)):
            return f"must be {self.kind()}, not {shown(value)}"
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        high_ok = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return None if low_ok and high_ok else f"must be {self.limits()}, not {shown(value)}"

    def check(self, name: str, value: Any) -> None:
        """`InputError` naming the setting `name` unless `value` is one of these values."""
        problem = self.problem(value)
        if problem is not None:
            raise InputError(f"{setting(name)} {problem}")


def finite(value: Any) -> bool:
    """A real number that is neither NaN nor infinite, and fits a float (10**400 does not)."""
    try:
        return math.isfinite(float(value))
    except (OverflowError, TypeError, ValueError):
        return False


def shown(value: Any, limit: int = 60) -> str:
    """A value as a message quotes it: its repr, cut to `limit` characters."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit for str()
        text = "a number too large to print"
    return text if len(text) <= limit else text[: limit - 1] + "…"
