"""A ratings table's time column as int64 epoch seconds (UTC): `epoch_seconds`, for both of `tables`' reads.

What a time may be: epoch seconds (an integer or a decimal, as GroupLens' u.data
and recbole's `timestamp:float` write them), an ISO 8601 date (`2024-05-01`,
midnight UTC) or date-time, with a zone (`2024-05-01T12:00:00+02:00`, turned into
UTC) or without one (read as UTC); in Parquet also a timestamp or date column.
Strings are parsed once per distinct value, never once per rating, so the cost is
one int64 column and the distinct values' Python objects.

A time must lie in the years 1 to 9999 (UTC), the moments a date can show: epoch
seconds from `FIRST` to `LAST`. Any other is refused at load, its row named, with a
hint where it looks like epoch milliseconds, microseconds or nanoseconds (an export's
usual mistake) and a word where it is beyond a 64-bit integer (a float never wraps).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from reportgen.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
WHAT_A_TIME_IS = "epoch seconds or an ISO date or date-time"
FIRST, LAST = -62_135_596_800, 253_402_300_799  # 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z
NOT_A_TIME, OUT_OF_RANGE = -(2**63), -(2**63) + 1  # `parse_texts`' marks: no time at all, a number out of range
UNITS = ((1_000, "milliseconds"), (1_000_000, "microseconds"), (1_000_000_000, "nanoseconds"))
RECENT = 4_102_444_800  # 2100-01-01: a time in another unit looks like one of 1970 to 2100 in it


def epoch_seconds(values: pd.Series, where: Callable[[object], str], what: str) -> np.ndarray:
    """`values` as int64 epoch seconds, UTC (a decimal is cut to its whole second).

    `where(row)` names the row of an index label for messages: `InputError` for the
    first row (in the order of `values`) whose time is missing or is not a time.
    """
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        instants = pd.to_datetime(values, utc=True)
        seconds = instants.to_numpy(dtype="datetime64[s]").astype(np.int64)
        missing = instants.isna().to_numpy()
        _refuse(values, missing, where, what, out=~missing & ((seconds < FIRST) | (seconds > LAST)))
        return seconds
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        numbers = values.to_numpy()
        _refuse(values, np.zeros(len(numbers), dtype=bool), where, what, out=(numbers < FIRST) | (numbers > LAST))
        return numbers.astype(np.int64)
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = np.floor(values.to_numpy(dtype=np.float64))
        finite = np.isfinite(numbers)
        _refuse(values, ~finite, where, what, out=finite & ((numbers < FIRST) | (numbers > LAST)))
        return numbers.astype(np.int64)
    as_categories = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    codes = as_categories.cat.codes.to_numpy()
    parsed = parse_texts(as_categories.cat.categories.astype(str))  # one per distinct text
    bad = np.append(parsed == NOT_A_TIME, True)  # the last slot: code -1, a missing value
    out = np.append(parsed == OUT_OF_RANGE, False)
    _refuse(values, bad[codes], where, what, codes=codes, out=out[codes])
    return parsed[codes]


def parse_texts(texts: pd.Index) -> np.ndarray:
    """Each text as epoch seconds; `NOT_A_TIME` where it is blank or not a time, `OUT_OF_RANGE` where it is
    a number or date outside the years 1 to 9999."""
    import numpy as np
    import pandas as pd

    stripped = texts.str.strip()
    out = np.full(len(stripped), NOT_A_TIME, dtype=np.int64)
    numeric = np.array([bool(_NUMBER.fullmatch(t)) for t in stripped], dtype=bool)
    if numeric.any():
        numbers = np.floor(pd.to_numeric(stripped[numeric]).to_numpy(dtype=np.float64))
        fine = (numbers >= FIRST) & (numbers <= LAST)  # not NaN; an overflow to infinity is out of range
        at = np.flatnonzero(numeric)
        out[at[fine]] = numbers[fine].astype(np.int64)
        out[at[~fine]] = OUT_OF_RANGE
    dated = ~numeric & (stripped != "")
    if dated.any():
        instants = pd.to_datetime(pd.Series(stripped[dated]), format="ISO8601", utc=True, errors="coerce")
        fine = instants.notna().to_numpy()
        seconds = instants[fine].to_numpy(dtype="datetime64[s]").astype(np.int64)
        at = np.flatnonzero(dated)[fine]
        inside = (seconds >= FIRST) & (seconds <= LAST)
        out[at] = np.where(inside, seconds, OUT_OF_RANGE)
    return out


def _refuse(
    values: pd.Series,
    bad_rows: np.ndarray,
    where: Callable[[object], str],
    what: str,
    *,
    codes: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> None:
    """`InputError` naming the first bad row: missing (empty), not a time or (`out`) out of range (its value shown)."""
    if out is not None:
        bad_rows = bad_rows | out
    if not bad_rows.any():
        return
    position = int(bad_rows.argmax())
    row = values.index[position]
    value = values.iloc[position]
    if out is not None and out[position]:
        raise InputError(f"{where(row)}: {what} {str(value)!r} {out_of_range(value)}")
    missing = value is None or (isinstance(value, float) and value != value) or str(value).strip() == ""
    if codes is not None and codes[position] < 0:
        missing = True
    if missing or str(value) == "NaT":
        raise InputError(f"{where(row)}: {what} is empty")
    raise InputError(f"{where(row)}: {what} {str(value)!r} is not {WHAT_A_TIME_IS}")


def out_of_range(value: object) -> str:
    """Why a time outside the years 1 to 9999 is refused, with what it looks like where that is plain."""
    bounds = f"epoch seconds from {FIRST} to {LAST}"
    try:
        number = float(str(value).strip())
    except ValueError:  # a date
        return f"is outside the years 1 to 9999 ({bounds})"
    if abs(number) >= 2**63:
        return f"overflows a 64-bit integer, so it is no time ({bounds}: the years 1 to 9999)"
    looks = [f"; it looks like epoch {unit}: divide by {per:,}" for per, unit in UNITS if 0 <= number / per < RECENT]
    return f"is outside the years 1 to 9999 ({bounds}){looks[0] if looks else ''}"
