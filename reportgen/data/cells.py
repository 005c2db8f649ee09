"""Single cells of a ratings table: blank or not, ids checked, the physical line a value stands on;
and the one check that a table has the columns it needs, whose error says the fix.

Below `tables` (the reads), `readers` (the layouts), `parts` and `database`, which all check this way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from reportgen.errors import InputError, finite, setting

if TYPE_CHECKING:  # pandas is imported lazily: `reportgen datasets` must answer fast
    import pandas as pd

# Separators a header joined into one column may use, as the message names them and as `--sep` takes them.
SEPARATORS = {";": ("';'", "';'"), "\t": ("tabs", "'\\t'"), "|": ("'|'", "'|'"), ",": ("commas", "','")}
_DATE_LIKE = re.compile(r"[\d\s:/.+\-TZ]*\d[\d\s:/.+\-TZ]*")  # 2024-05-01, 12:30, 2024-05-01T12:00+02:00


def require_columns(
    name: str,
    required: Iterable[object],
    found: Iterable[object],
    *,
    settings: Mapping[object, str] | None = None,
    sep: str | None = None,
    below: Sequence[object] = (),
) -> None:
    """`InputError` "NAME: missing column(s) …; found …" unless each of `required` is among `found`, with the fix.

    `settings`: the setting that names each column (`{"rating": "rating_col"}`): a missing one is
    named with it. A text table gives its separator `sep` and the cells of its first row `below`
    its header: a header that is one column joined by another separator suggests that one, and a
    header that looks like data says the file needs a header row.
    """
    found = [str(c) for c in found]
    required = [str(c) for c in required]
    missing = [c for c in required if c not in found]
    if not missing:
        return
    joined = _joined_by(found, sep) if sep is not None else None
    header, under = found, [str(c) for c in below if c is not None and c == c]  # NaN: a cell the row lacks
    shown = ", ".join(found)
    if joined is not None and sep is not None:  # the line itself, as near as a pattern (`\s+`) lets it be told
        rejoin = sep if len(sep) == 1 else " "
        shown = rejoin.join(found)
        header, under = shown.split(joined), rejoin.join(under).split(joined)
    shown = shown.replace("\t", "\\t")  # a header joined by tabs, its tabs seen
    message = f"{name}: missing column(s) {', '.join(missing)}; found {shown}"
    said, flag = SEPARATORS[joined] if joined is not None else ("", "")
    if sep is not None and looks_like_data(header, under):
        where = f" separated by {said}" if joined else ""
        also = f", and {setting('sep')} {flag}" if joined else ""
        raise InputError(
            f"{message}; the first line looks like data{where}: the file needs a header row naming its "
            f"columns ({', '.join(required)}){also}"
        )
    if joined is not None:
        raise InputError(f"{message}; the header looks like columns separated by {said}: pass {setting('sep')} {flag}")
    named = [(c, settings[c]) for c in missing if settings and c in settings]
    if named:
        roles = _words([s.removesuffix("_col").rsplit("_", 1)[-1] for _, s in named])
        flags = _words([setting(s) for _, s in named])
        message += f"; name the {roles} column{'s' if len(named) > 1 else ''} with {flags}"
    raise InputError(message)


def looks_like_data(header: Sequence[str], below: Sequence[str] = ()) -> bool:
    """Whether a header row reads as a row of values: at least half its cells are numbers, dates or
    times, or hold digits in the shape of the value below them (`cust_56523_22` over `cust_10492_7`)."""
    under = list(below) + [""] * max(0, len(header) - len(below))
    values = sum(_value_like(cell.strip(), value.strip()) for cell, value in zip(header, under))
    return bool(header) and 2 * values >= len(header)


def _value_like(cell: str, below: str) -> bool:
    if finite(cell) or _DATE_LIKE.fullmatch(cell):
        return True
    return any(c.isdigit() for c in cell) and bool(below) and _shape(cell) == _shape(below)


def _shape(text: str) -> str:
    """Letters as `a`, digits as `9`, each run once: `SKU-1028` and `SKU-77` are both `a-9`."""
    return re.sub(r"\d+", "9", re.sub(r"[^\W\d_]+", "a", text))


def _joined_by(found: list[str], sep: str) -> str | None:
    """The separator a header is joined by where it is not `sep`: the one it holds more often than `sep`
    splits it (`a;b;4,5;c` read as commas, a decimal comma and all), the most frequent; else None."""
    counts = {c: sum(cell.count(c) for cell in found) for c in SEPARATORS if c != sep}
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] > len(found) - 1 else None


def _words(items: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


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


def without_blank_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows with a cell that is not blank (a blank line carries no rating)."""
    return table[~table.apply(blank).all(axis=1)] if len(table) else table


def first_row(table: pd.DataFrame) -> list[object]:
    """The cells of a table's first row that is not blank (none: an empty list)."""
    head = without_blank_rows(table.head(10))
    return head.iloc[0].tolist() if len(head) else []


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
