"""A ratings table's time column as int64 epoch seconds (UTC): `epoch_seconds`, for both of `tables`' reads.

What a time may be: epoch seconds (an integer or a decimal, as GroupLens' u.data
and recbole's `timestamp:float` write them), an ISO 8601 date (`2024-05-01`,
midnight UTC) or date-time, with a zone (`2024-05-01T12:00:00+02:00`, turned into
UTC) or without one (read as UTC); in Parquet also a timestamp or date column.
Strings are parsed once per distinct value, never once per rating, so the cost is
one int64 column and the distinct values' Python objects.
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


def epoch_seconds(values: pd.Series, where: Callable[[object], str], what: str) -> np.ndarray:
    """`values` as int64 epoch seconds, UTC (a decimal is cut to its whole second).

    `where(row)` names the row of an index label for messages: `InputError` for the
    first row (in the order of `values`) whose time is missing or is not a time.
    """
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        instants = pd.to_datetime(values, utc=True)
        _refuse(values, instants.isna().to_numpy(), where, what)
        return instants.to_numpy(dtype="datetime64[s]").astype(np.int64)
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        return values.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64)
        _refuse(values, ~np.isfinite(numbers), where, what)
        return np.floor(numbers).astype(np.int64)
    as_categories = values if isinstance(values.dtype, pd.CategoricalDtype) else values.astype("category")
    codes = as_categories.cat.codes.to_numpy()
    parsed = parse_texts(as_categories.cat.categories.astype(str))  # one per distinct text
    bad = np.append(parsed == np.iinfo(np.int64).min, True)  # the last slot: code -1, a missing value
    _refuse(values, bad[codes], where, what, codes=codes)
    return parsed[codes]


def parse_texts(texts: pd.Index) -> np.ndarray:
    """Each text as epoch seconds; the int64 minimum where it is blank or not a time."""
    import numpy as np
    import pandas as pd

    stripped = texts.str.strip()
    out = np.full(len(stripped), np.iinfo(np.int64).min, dtype=np.int64)
    numeric = np.array([bool(_NUMBER.fullmatch(t)) for t in stripped], dtype=bool)
    if numeric.any():
        numbers = np.floor(pd.to_numeric(stripped[numeric]).to_numpy(dtype=np.float64))
        fine = np.isfinite(numbers) & (np.abs(numbers) < 2**62)
        out[np.flatnonzero(numeric)[fine]] = numbers[fine].astype(np.int64)
    dated = ~numeric & (stripped != "")
    if dated.any():
        instants = pd.to_datetime(pd.Series(stripped[dated]), format="ISO8601", utc=True, errors="coerce")
        fine = instants.notna().to_numpy()
        seconds = instants[fine].to_numpy(dtype="datetime64[s]").astype(np.int64)
        out[np.flatnonzero(dated)[fine]] = seconds
    return out


def _refuse(
    values: pd.Series,
    bad_rows: np.ndarray,
    where: Callable[[object], str],
    what: str,
    *,
    codes: np.ndarray | None = None,
) -> None:
    """`InputError` naming the first bad row: missing (empty) or not a time (its value shown)."""
    if not bad_rows.any():
        return
    position = int(bad_rows.argmax())
    row = values.index[position]
    value = values.iloc[position]
    missing = value is None or (isinstance(value, float) and value != value) or str(value).strip() == ""
    if codes is not None and codes[position] < 0:
        missing = True
    if missing or str(value) == "NaT":
        raise InputError(f"{where(row)}: {what} is empty")
    raise InputError(f"{where(row)}: {what} {str(value)!r} is not {WHAT_A_TIME_IS}")
