"""The errors the stages raise; the CLI turns each into one `Error: …` line.

Stages never choose exit codes themselves: every exception carries the code the
CLI should use, so `cli.py` stays the only place that calls `sys.exit`. An error
about one setting names it as `{option}` in its message and in `option` (the
Python name, e.g. `y_range`): the library prints that name, the CLI its flag.
"""

from __future__ import annotations

from collections.abc import Callable

OPTION = "{option}"


class ReportgenError(Exception):
    """A failure the user should read as one line, without a traceback."""

    exit_code = 1

    def __init__(self, message: str, *, option: str | None = None) -> None:
        self.template, self.option = message, option
        super().__init__(self.render())

    def render(self, name: Callable[[str], str] = str) -> str:
        """The message, with the setting at fault called `name(option)`."""
        return self.template if self.option is None else self.template.replace(OPTION, name(self.option))


class InputError(ReportgenError):
    """Bad input or usage: a missing file, a malformed column, a wrong option."""

    exit_code = 2


class DataNotFoundError(InputError):
    """None of the ways to obtain a dataset worked."""


class RunError(ReportgenError):
    """The run itself failed (training diverged, the output could not be written)."""

    exit_code = 1
