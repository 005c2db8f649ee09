"""The errors the stages raise; the CLI turns each into one `Error: …` line.

Stages never choose exit codes themselves: every exception carries the code the
CLI should use, so `cli` stays the only place that calls `sys.exit`. A message
names a setting as `setting("y_range")`, a `{--y_range}` placeholder: the library
prints the setting's Python name (`y_range`), the CLI its flag (`--y-range`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

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
