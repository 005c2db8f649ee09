"""Single cells of a ratings table: blank or not, ids checked, the physical line a value stands on;
and the one check that a table has the columns it needs.

Below `tables` (the reads), `readers` (the layouts), `parts` and `database`, which all check this way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from reportgen.errors import InputError

if TYPE_CHECKING:  # pandas is imported lazily: `reportgen datasets` must answer fast
    import pandas as pd


def require_columns(name: str, required: Iterable[object], found: Iterable[object]) -> None:
    """`InputError` "NAME: missing column(s) …; found …" unless each of `required` is among `found`."""
    found = [str(c) for c in found]
    missing = [str(c) for c in required if str(c) not in found]
    if missing:
        raise InputError(f"{name}: missing column(s) {', '.join(missing)}; found {', '.join(found)}")


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
