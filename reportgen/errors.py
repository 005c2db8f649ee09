"""The errors the stages raise; the CLI turns each into one `Error: …` line.

Stages never choose exit codes themselves: every exception carries the code the
CLI should use, so `cli.py` stays the only place that calls `sys.exit`.
"""

from __future__ import annotations


class ReportgenError(Exception):
    """A failure the user should read as one line, without a traceback."""

    exit_code = 1


class InputError(ReportgenError):
    """Bad input or usage: a missing file, a malformed column, a wrong option."""

    exit_code = 2


class DataNotFoundError(InputError):
    """None of the ways to obtain a dataset worked."""


class RunError(ReportgenError):
    """The run itself failed (training diverged, the output could not be written)."""

    exit_code = 1
