"""The fast read's columns, a batch of Arrow rows at a time, straight into codes: no pandas object column.

`Columns` takes the record batches of a CSV block or a Parquet row group one after
another and keeps only what the frame needs: ids and titles as dictionary indices
(their strings once per distinct value), ratings as float64, times as int64 epoch
seconds. So the memory of a read is about the final frame plus one batch, whatever
the file's size. `Columns.add` answers False at the first value it cannot take
without a closer look (a null id, a float id, a rating that is no finite number):
the careful read (`tables`) then reads from the start and names the line.
`frame()` gives the one frame both reads give: ids and titles `Categorical` with
sorted, stripped categories, ratings float64, the index the line (or row) number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from reportgen.data.times import epoch_seconds
from reportgen.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Integer ids at most this many times the row count are coded through one table indexed by the id.
DENSE_IDS = 4


class Columns:
    """The checked columns of a table read batch by batch (see the module's docstring)."""

    def __init__(
        self,
        roles: dict[str, str],
        *,
        integer_ids: bool,
        first_row: int,
        where: Callable[[int], str],
        time_label: str,
        exact_rows: bool = True,
    ) -> None:
        self.roles, self.integer_ids, self.first_row = roles, integer_ids, first_row
        self.where, self.time_label = where, time_label
        self.exact_rows = exact_rows  # False: a row's line is known only once the whole file is counted
        self.parts: dict[str, list[Any]] = {role: [] for role in roles}
        self.rows = 0
        self.title_nulls = 0

    def add(self, batch: Any) -> bool:
        """Take one record batch (columns named by the roles' columns); False where the careful read must look."""
        import numpy as np
        import pyarrow as pa

        n = batch.num_rows
        if n == 0:
            return True
        taken: dict[str, Any] = {}
        names = set(batch.schema.names)
        for role in ("user", "item"):
            values = batch.column(self.roles[role]) if self.roles[role] in names else None
            if values is None or values.null_count:
                return False
            if self.integer_ids:
                if not pa.types.is_integer(values.type):
                    return False
                taken[role] = values.to_numpy()
            elif pa.types.is_integer(values.type) and values.type != pa.uint64():
                taken[role] = values.to_numpy()  # coded as the digits' strings at the end (`frame`)
            else:  # text; or uint64, whose ids (hashes, often) may pass int64's maximum: their digits as text
                encoded = dictionary(values.cast(pa.string()) if values.type == pa.uint64() else values)
                if encoded is None:
                    return False
                taken[role] = encoded
        rating = batch.column(self.roles["rating"])
        if not (pa.types.is_integer(rating.type) or pa.types.is_floating(rating.type)) or rating.null_count:
            return False
        taken["rating"] = rating.to_numpy().astype(np.float64, copy=False)
        if not np.isfinite(taken["rating"]).all():
            return False
        if "title" in self.roles and self.roles["title"] in names:
            title = batch.column(self.roles["title"])
            if pa.types.is_null(title.type):
                title = pa.nulls(n, pa.dictionary(pa.int32(), pa.string()))
            elif pa.types.is_integer(title.type):
                title = title.cast(pa.string())
            title = dictionary(title)
            if title is None:
                return False
            self.title_nulls += title.null_count
            taken["title"] = title
        if "time" in self.roles:
            start = self.first_row + self.rows
            times = batch.column(self.roles["time"])
            if times.null_count:
                return False  # an empty time, or no such column in a text file: the careful read names it
            series = times.to_pandas().set_axis(range(start, start + n))
            try:
                taken["time"] = epoch_seconds(series, self.where, self.time_label)
            except InputError:
                if self.exact_rows:
                    raise
                return False  # the careful read names the physical line
        for role, values in taken.items():
            self.parts[role].append(values)
        self.rows += n
        return True

    def frame(self) -> tuple[pd.DataFrame, bool] | None:
        """The frame of every batch taken, and whether it has titles; None if no value could be taken."""
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        if self.rows == 0:
            return None
        pool = pa.default_memory_pool()
        columns: dict[str, Any] = {}
        for role in ("user", "item"):
            parts, self.parts[role] = self.parts[role], []
            kinds = {isinstance(p, np.ndarray) for p in parts}
            if len(kinds) != 1:
                return None
            values = integer_ids(parts, as_text=not self.integer_ids) if kinds == {True} else text_ids(parts)
            if values is None:
                return None
            columns[role] = values
            pool.release_unused()  # the batches' indices are gone: their pages back before the next column
        columns["rating"] = _joined(self.parts.pop("rating"), np.float64)
        has_title = "title" in self.roles and bool(self.parts["title"]) and self.title_nulls < self.rows
        if has_title:
            columns["title"] = text_ids(self.parts.pop("title"), blank_is_missing=True)
            if columns["title"] is None:
                return None
        if "time" in self.roles:
            columns["timestamp"] = _joined(self.parts.pop("time"), np.int64)
        rows = pd.RangeIndex(self.first_row, self.first_row + self.rows)
        return pd.DataFrame(columns, index=rows, copy=False), has_title  # the columns as they are: no second copy


def checked_text(batches: Iterable[Any], where: Callable[[int], str]) -> Iterator[Any]:
    """`batches` as they come, each through `check_text`; `where(row)` names a row counted from 1 across them."""
    done = 0
    for batch in batches:
        check_text(batch, lambda i, first=done + 1: where(first + i))
        done += batch.num_rows
        yield batch


def check_text(batch: Any, where: Callable[[int], str]) -> None:
    """`InputError` naming the first row (`where(i)`, `i` the row within `batch`) and column whose text is
    not valid UTF-8, which Arrow takes from a Parquet file unchecked and would fail on later, unworded."""
    import pyarrow as pa

    for name, values in zip(batch.schema.names, batch.columns):
        kind = values.type.value_type if pa.types.is_dictionary(values.type) else values.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)):
            continue
        if _valid(values):
            continue
        values = values.cast(kind) if pa.types.is_dictionary(values.type) else values
        low, high = 0, len(values)  # the first bad row is in [low, high): halve it, each half checked once
        while high - low > 1:
            middle = (low + high) // 2
            if _valid(values.slice(low, middle - low)):
                low = middle
            else:
                high = middle
        raise InputError(f"{where(low)}: column '{name}' holds text that is not valid UTF-8")


def _valid(values: Any) -> bool:
    import pyarrow as pa

    try:
        values.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def dictionary(values: Any) -> Any:
    """A string or dictionary-of-strings Arrow array as a dictionary array; None for any other type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        return pc.dictionary_encode(values)
    if pa.types.is_dictionary(values.type) and pa.types.is_string(values.type.value_type):
        return values
    return None


def text_ids(parts: list[Any], *, blank_is_missing: bool = False) -> pd.Categorical | None:
    """Dictionary arrays (one per batch) as one Categorical of stripped strings with sorted categories.

    The batches' dictionaries are unified once (Arrow's own memo table), so each
    distinct string is stripped once. None where a value cannot be an id (blank,
    where blanks are not allowed).
    """
    import numpy as np
    import pyarrow as pa

    unified = pa.chunked_array(parts).unify_dictionaries() if len(parts) > 1 else pa.chunked_array(parts)
    parts.clear()
    categories = unified.chunk(0).dictionary.to_pandas() if unified.num_chunks else []
    codes = np.concatenate(
        [chunk.indices.fill_null(-1).to_numpy().astype(np.int32, copy=False) for chunk in unified.chunks]
    )
    del unified
    return sorted_categorical(codes, categories, blank_is_missing=blank_is_missing)


def sorted_categorical(codes: np.ndarray, categories: Any, *, blank_is_missing: bool = False) -> pd.Categorical | None:
    """Codes into `categories` (strings) as a Categorical of the stripped strings, sorted; -1 stays missing."""
    import numpy as np
    import pandas as pd

    stripped = pd.Index(categories, dtype="str").str.strip()
    empty = np.asarray(stripped == "")
    if empty.any() and not blank_is_missing:
        return None
    if stripped.has_duplicates or not stripped.is_monotonic_increasing or empty.any():
        keep = ~empty
        order, uniques = pd.factorize(stripped[keep], sort=True)
        remap = np.full(len(stripped) + 1, -1, dtype=np.int32)  # the last slot: code -1 stays -1
        remap[:-1][keep] = order
        codes = remap[codes]
        stripped = pd.Index(uniques, dtype="str")
    return pd.Categorical.from_codes(codes, categories=stripped)


def integer_ids(parts: list[np.ndarray], *, as_text: bool) -> pd.Categorical:
    """Integer ids (one array per batch) as a Categorical with sorted categories: the integers themselves
    (GroupLens, recbole), or their decimal digits as text (own files), sorted as text is."""
    import numpy as np
    import pandas as pd

    low = min(int(p.min()) for p in parts if len(p))
    high = max(int(p.max()) for p in parts if len(p))
    native = parts[0].dtype
    same = all(p.dtype == native for p in parts) and high - low <= np.iinfo(native).max
    values = _joined(parts, native if same else np.int64)  # the file's own width: int32 ids stay 4 bytes
    if high - low < DENSE_IDS * max(len(values), 1_000_000):  # one pass: a table indexed by the id
        if not values.flags.writeable:  # a view of Arrow's buffer
            values = values.copy()
        values -= values.dtype.type(low)  # in place: the ids from 0
        present = np.zeros(high - low + 1, dtype=bool)
        present[values] = True
        uniques = np.flatnonzero(present) + low
        rank = _text_order(uniques) if as_text else np.arange(len(uniques), dtype=np.int32)
        table = np.full(high - low + 1, -1, dtype=np.int32)
        table[present] = rank
        codes = table[values]  # one gather: the id's place among the sorted categories
    else:
        codes, uniques = pd.factorize(values, sort=True)
        if as_text:
            codes = _text_order(uniques)[codes]
    del values
    if as_text:
        text = pd.Index(uniques.astype(str), dtype="str")
        categories = text[np.argsort(np.asarray(text, dtype=object), kind="stable")]
    else:
        categories = pd.Index(uniques, dtype="int64")
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories), validate=False)


def _text_order(uniques: np.ndarray) -> np.ndarray:
    """Each integer's place (int32) when their decimal digits are sorted as text ("10" before "9")."""
    import numpy as np

    order = np.argsort(np.asarray(uniques.astype(str), dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return rank


def _joined(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    """One array of the batches' arrays, the list emptied as it goes (so only one copy lives past the join)."""
    import numpy as np

    if len(parts) == 1:
        return parts.pop().astype(dtype, copy=False)
    out = np.empty(sum(len(p) for p in parts), dtype=dtype)
    at = 0
    while parts:
        part = parts.pop(0)
        out[at : at + len(part)] = part
        at += len(part)
    return out
