"""Single cells of a ratings table: blank or not, ids checked, the physical line a value stands on.

Below `tables` (the reads) and `readers` (the layouts), which both check cells this way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from reportgen.errors import InputError

if TYPE_CHECKING:  # pandas is imported lazily: `reportgen datasets` must answer fast
    import pandas as pd


def line_of(table: pd.DataFrame, row: object, column: object) -> object:
    """The physical line of one value: its row's first line plus the line breaks in the fields before it."""
    if column not in table.columns:
        return row
    before = table.columns[: table.columns.get_loc(column)]
    cells = table.loc[row, before] if len(before) else []
    return int(row) + sum(str(c).count("\n") for c in cells if isinstance(c, str))  # type: ignore[call-overload]


def blank(column: pd.Series) -> pd.Series:
    """True where a cell is missing, NaN or only whitespace."""
    return column.isna() | (column.astype(str).str.strip() == "")


def as_ids(column: pd.Series, where: Callable[[object, object], str], what: str, *, integer: bool) -> pd.Series:
    """Ids as int64 (GroupLens, recbole) or stripped strings (own files); none may be empty."""
    import pandas as pd

    empty = blank(column)
    if empty.any():
        raise InputError(f"{where(column.index[empty.to_numpy().argmax()], column.name)}: {what} is empty")
    if not integer:
        return column.astype(str).str.strip()
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() | (numbers != numbers.round())
    if bad.any():
        first = column.index[bad.to_numpy().argmax()]
        raise InputError(f"{where(first, column.name)}: {what} {column.loc[first]!r} is not an integer id")
    return numbers.astype("int64")
