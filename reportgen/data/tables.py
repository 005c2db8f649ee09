"""Ratings tables into typed, checked columns: a fast typed read, and a careful one that names the first bad line.

The fast read (pyarrow, multi-threaded, only the needed columns) serves every
well-formed CSV/TSV and Parquet file a block (or row group) at a time, straight
into codes (`blocks.Columns`), in one pass over the bytes that also counts the
lines and hashes them (`files.Tally`); it gives up, never guesses, on anything
unusual (a bad value, a blank line, a quoted line break), and the careful read
(pandas, in chunks of strings) then finds the first bad line or row and names it.
Both return the same frame: ids and titles as `Categorical` with sorted
categories, ratings as float64, the index the line (or row) each rating came from.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from reportgen.data.blocks import Columns
from reportgen.data.cells import as_ids, blank, first_row, line_of, require_columns, without_blank_rows
from reportgen.data.files import MAX_HEADER_BYTES, Tally, check_encoding, check_text_head, is_wide
from reportgen.data.times import epoch_seconds
from reportgen.errors import InputError

if TYPE_CHECKING:  # pandas and pyarrow are imported lazily: `reportgen datasets` must answer fast
    import pandas as pd

Opener = Callable[[], AbstractContextManager[IO[bytes]]]  # opens the (decompressed) bytes of a table
ROWS_PER_CHUNK = 1_000_000  # the careful read's unit: its memory is bounded by one chunk of strings
BLOCK = 1 << 22  # the fast read's unit: 4 MiB of text parsed at a time (blocks in parallel), then coded


@dataclass(frozen=True)
class Layout:
    """How to read one table: its separator and header, and which columns play which role."""

    name: str  # the file, as messages name it
    sep: str
    encoding: str
    user: Any
    item: Any
    rating: Any
    title: Any = None  # optional column: absent from the file is fine
    header: bool = True
    integer_ids: bool = False  # GroupLens and recbole: ids are integers
    typed_header: bool = False  # recbole: `user_id:token` names the column `user_id`
    expected: str = ""  # a headerless table's columns, for the message when there are too few
    named: bool = True  # the columns are the user's choice, so messages name them
    time: Any = None  # the time column: required where given (own files: --time-col), read by `times`

    def settings(self) -> dict[Any, str]:
        """The setting that names each required column, where the columns are the user's choice (else none)."""
        roles = {"user_col": self.user, "item_col": self.item, "rating_col": self.rating, "time_col": self.time}
        return {column: name for name, column in roles.items() if column is not None and self.named}


@dataclass(frozen=True)
class Read:
    """A ratings table as read: the frame, whether it had the title column, and the SHA-256 of its bytes
    where the read itself saw every byte of the file (else None: the reader hashes the file)."""

    frame: pd.DataFrame
    has_title: bool
    sha256: str | None = None


def read_text(open_table: Opener, layout: Layout, *, hashed: bool = False) -> Read:
    """A delimited text table's typed columns; `hashed`: the opener gives the file's own bytes, hash them."""
    with open_table() as stream:
        head = stream.read(MAX_HEADER_BYTES + 1)
        at_end = len(head) <= MAX_HEADER_BYTES and not stream.read(1)
    if not head.strip():
        raise InputError(f"{layout.name}: the file is empty")
    check_text_head(head, layout.name, layout.encoding, layout.sep, at_end=at_end)
    fast = _fast_text(open_table, layout, head, hashed=hashed)
    if fast is not None:
        return fast
    with open_table() as stream:
        check_encoding(stream, layout.name, layout.encoding)
    return read_carefully(open_table, layout)


def read_carefully(open_table: Opener, layout: Layout) -> Read:
    """The careful read of a text table (pandas, a chunk of strings at a time): the first bad line named."""
    frame, has_title = _assemble(_careful_chunks(open_table, layout), layout)
    return Read(frame, has_title)


def read_arrow(batches: Callable[[], Iterator[Any]], layout: Layout) -> Read:
    """A Parquet table's record batches (only the columns needed, a row group at a time), typed and checked by row.

    `batches()` starts the batches from the first row again: the careful read goes back to the start.
    """
    import pandas as pd

    columns = Columns(
        _roles(layout, {}),
        integer_ids=layout.integer_ids,
        first_row=1,
        where=lambda row: f"{layout.name}: row {row}",
        time_label=_time_label(layout),
    )
    if all(columns.add(batch) for batch in batches()):
        built = columns.frame()
        if built is not None:
            return Read(*built)
    del columns

    def chunks() -> Iterator[pd.DataFrame]:  # one batch of Python values at a time
        start = 1
        for batch in batches():
            chunk = batch.to_pandas()
            rating = str(layout.rating)
            if rating in chunk.columns and _non_finite(batch.column(rating)):  # told as a text file tells them
                chunk[rating] = batch.column(rating).cast("string").to_pandas()
            chunk.index = pd.RangeIndex(start, start + len(chunk))
            start += len(chunk)
            yield chunk

    return Read(*_assemble(chunks(), layout, row_word="row"))


def _non_finite(column: Any) -> bool:
    """Whether a float column holds NaN or an infinity (not a NULL): its text ('nan', 'inf') is what the error shows,
    as a CSV's would, where pandas would show NaN as empty and an infinity as np.float64(inf)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa.types.is_floating(column.type) and not pc.all(pc.is_finite(column)).as_py()


def read_strings(
    open_table: Opener,
    name: str,
    *,
    sep: str,
    encoding: str,
    header: bool,
    required: Iterable[object] = (),
    settings: Mapping[object, str] | None = None,
) -> pd.DataFrame:
    """A small table (an items file) as strings, blank lines dropped, indexed by line; a header
    has the `required` columns (`settings`: the setting naming each, see `cells.require_columns`)."""
    import pandas as pd

    with open_table() as stream:
        head = stream.read(MAX_HEADER_BYTES + 1)
        at_end = len(head) <= MAX_HEADER_BYTES and not stream.read(1)
    if not head.strip():
        raise InputError(f"{name}: the file is empty")
    check_text_head(head, name, encoding, sep, at_end=at_end)
    with open_table() as stream:
        check_encoding(stream, name, encoding)
    layout = Layout(name, sep, encoding, None, None, None, header=header)
    chunks = []
    for chunk in _careful_chunks(open_table, layout):
        if not chunks and header:
            require_columns(name, required, chunk.columns, settings=settings, sep=sep, below=first_row(chunk))
        chunks.append(without_blank_rows(chunk))
    table = pd.concat(chunks) if chunks else pd.DataFrame()
    if table.empty:
        raise InputError(f"{name}: no ratings below the header" if header else f"{name}: the file is empty")
    return table


def release_arrow_memory() -> None:
    """Give the pages of pyarrow's freed buffers (the parsed text) back to the system.

    pyarrow's allocator keeps freed memory for reuse; after a large read that is
    as much again as the frame, held for the rest of the run.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


# --------------------------------------------------------------------------- the fast read


def _fast_text(open_table: Opener, layout: Layout, head: bytes, *, hashed: bool) -> Read | None:
    """pyarrow's typed read, a block at a time, or None where the careful read must look (any doubt at all).

    One pass over the bytes: the parser reads them through a `Tally`, which counts the
    lines (so a quoted line break or a stray \\r, which make rows and lines differ, is
    noticed), notices an empty line (the careful read skips those) and hashes them.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if len(layout.sep) != 1 or is_wide(layout.encoding):
        return None  # the careful read's cases: regex separators, UTF-16/32
    wanted = [layout.user, layout.item, layout.rating] + [c for c in (layout.title, layout.time) if c is not None]
    if not layout.header:
        names = {role: f"f{role}" for role in wanted}  # pyarrow's own names for a headerless table
    elif layout.typed_header:  # recbole: find `user_id:token` for `user_id`
        first = head.split(b"\n", 1)[0].decode(layout.encoding, errors="replace").rstrip("\r")
        found = {name.split(":", 1)[0]: name for name in first.split(layout.sep)}
        names = {role: found.get(str(role), str(role)) for role in wanted}
    else:
        names = {role: str(role) for role in wanted}
    text = pa.dictionary(pa.int32(), pa.string())
    ids = pa.int64() if layout.integer_ids else text
    types = {names[layout.user]: ids, names[layout.item]: ids, names[layout.rating]: pa.float64()}
    if layout.title is not None:
        types[names[layout.title]] = text
    if layout.time is not None:  # GroupLens and recbole: whole epoch seconds; own files: any text `times` reads
        types[names[layout.time]] = pa.int64() if layout.integer_ids else text
    first_row = 2 if layout.header else 1
    columns = Columns(
        _roles(layout, names),
        integer_ids=layout.integer_ids,
        first_row=first_row,
        where=lambda row: f"{layout.name}: line {row}",
        time_label=_time_label(layout),
        exact_rows=False,
    )
    try:
        with open_table() as stream:
            tally = Tally(stream, hashed=hashed)
            options = (
                pacsv.ReadOptions(
                    encoding=layout.encoding, block_size=BLOCK, autogenerate_column_names=not layout.header
                ),
                pacsv.ParseOptions(
                    delimiter=layout.sep, ignore_empty_lines=False, quote_char='"' if layout.header else False
                ),
                pacsv.ConvertOptions(
                    include_columns=list(types),
                    include_missing_columns=True,
                    column_types=types,
                    null_values=[""],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            with pacsv.open_csv(tally, *options) as reader:
                for batch in reader:
                    if tally.empty or not columns.add(batch):
                        return None  # blank lines: the careful read skips them a chunk at a time
    except (pa.ArrowException, ValueError, LookupError):
        return None
    if tally.empty or columns.rows != tally.lines - first_row + 1:
        return None  # line breaks inside quotes or a stray \r: the careful read counts lines
    built = columns.frame()
    if built is None:
        return None
    return Read(*built, sha256=tally.sha256() if hashed else None)


def _roles(layout: Layout, names: dict[Any, str]) -> dict[str, str]:
    """Each role's column as a batch names it (`names`: a text file's own names for the layout's columns)."""
    roles = {"user": layout.user, "item": layout.item, "rating": layout.rating, "title": layout.title}
    roles["time"] = layout.time
    return {role: names.get(column, str(column)) for role, column in roles.items() if column is not None}


# --------------------------------------------------------------------------- the careful read


def _careful_chunks(open_table: Opener, layout: Layout) -> Iterator[pd.DataFrame]:
    """Chunks of the table as strings, each row indexed by the physical line it starts on.

    Quoted fields may hold line breaks, so a row's line is the header's lines plus
    every earlier row's lines, counted from the values themselves. Where the first
    chunk does not parse, the header's columns come first, alone (an empty chunk), so
    a header joined by another separator is told as such (`require_columns`), not by
    the line where the rows stop parsing (a `;` file's decimal comma).
    """
    import numpy as np
    import pandas as pd

    multiline = layout.header and len(layout.sep) == 1
    line = None
    with open_table() as stream:
        try:
            reader = pd.read_csv(stream, **_csv_options(layout), chunksize=ROWS_PER_CHUNK)
            for chunk in reader:
                if line is None:  # the header's own lines, line breaks in quoted names included
                    line = 2 + sum(str(c).count("\n") for c in chunk.columns) if layout.header else 1
                if layout.typed_header:
                    chunk.columns = [str(c).split(":", 1)[0] for c in chunk.columns]
                breaks = np.zeros(len(chunk), dtype=np.int64)
                if multiline:
                    for column in chunk.columns:
                        breaks += chunk[column].fillna("").str.count("\n").to_numpy(dtype=np.int64)
                starts = line + np.arange(len(chunk)) + np.cumsum(breaks) - breaks
                chunk.index = pd.Index(starts, dtype="int64")
                if len(chunk):
                    line = int(starts[-1] + 1 + breaks[-1])
                yield chunk
        except pd.errors.EmptyDataError as exc:
            raise InputError(f"{layout.name}: the file is empty") from exc
        except (pd.errors.ParserError, ValueError, re.error) as exc:
            if line is None and layout.header:
                header = _header_alone(open_table, layout)
                if header is not None:
                    yield header  # the caller's column check speaks first
            raise InputError(f"{layout.name}: cannot parse ({' '.join(str(exc).split())})") from exc


def _csv_options(layout: Layout) -> dict[str, Any]:
    """pandas' `read_csv` arguments for the careful read of this table: every value a string."""
    return {
        "sep": layout.sep,
        "header": 0 if layout.header else None,
        "dtype": str,
        "keep_default_na": False,
        "skip_blank_lines": False,
        "quoting": csv.QUOTE_MINIMAL if layout.header else csv.QUOTE_NONE,
        "encoding": layout.encoding,
        "engine": "python" if len(layout.sep) > 1 and layout.sep != r"\s+" else "c",
    }


def _header_alone(open_table: Opener, layout: Layout) -> pd.DataFrame | None:
    """The table's header as an empty chunk of its columns; None where the header does not parse either."""
    import pandas as pd

    try:
        with open_table() as stream:
            header = pd.read_csv(stream, **_csv_options(layout), nrows=0)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, re.error):
        return None
    if layout.typed_header:
        header.columns = [str(c).split(":", 1)[0] for c in header.columns]
    return header


def _assemble(chunks: Iterator[pd.DataFrame], layout: Layout, row_word: str = "line") -> tuple[pd.DataFrame, bool]:
    """Check every chunk (the first bad value stops the read) and join their typed columns."""
    import numpy as np
    import pandas as pd
    from pandas.api.types import union_categoricals

    parts: list[pd.DataFrame] = []
    has_title = False
    seen = 0
    for chunk in chunks:
        if not parts and not seen:
            required = [c for c in (layout.user, layout.item, layout.rating, layout.time) if c is not None]
            if not layout.header and any(c not in chunk.columns for c in required):
                raise InputError(f"{layout.name}: {layout.expected}; found {chunk.shape[1]} column(s)")
            text = row_word == "line"  # a text table: its header may be joined by another separator, or be data
            require_columns(
                layout.name,
                required,
                chunk.columns,
                settings=layout.settings(),
                sep=layout.sep if text else None,
                below=first_row(chunk),
            )
            has_title = layout.title is not None and layout.title in chunk.columns
        seen += len(chunk)
        chunk = without_blank_rows(chunk)  # blank lines carry no rating
        if len(chunk):
            parts.append(_check_chunk(chunk, layout, row_word, has_title))
    if not parts:
        raise InputError(f"{layout.name}: " + ("no ratings below the header" if layout.header else "the file is empty"))
    columns: dict[str, Any] = {}
    for role in ("user", "item") + (("title",) if has_title else ()):
        if layout.integer_ids and role != "title":
            values = np.concatenate([p[role].to_numpy() for p in parts])
            columns[role] = pd.Categorical(values, categories=np.unique(values))
        else:
            joined = union_categoricals([pd.Categorical(p[role]) for p in parts], sort_categories=True)
            columns[role] = joined
    columns["rating"] = np.concatenate([p["rating"].to_numpy(dtype=np.float64) for p in parts])
    index = np.concatenate([p.index.to_numpy(dtype=np.int64) for p in parts])
    if layout.time is not None:
        columns["timestamp"] = np.concatenate([p["timestamp"].to_numpy(dtype=np.int64) for p in parts])
    order = ["user", "item", "rating"] + (["title"] if has_title else []) + (["timestamp"] if layout.time else [])
    return pd.DataFrame({c: columns[c] for c in order}, index=pd.Index(index, dtype="int64")), has_title


def _check_chunk(table: pd.DataFrame, layout: Layout, row_word: str, has_title: bool) -> pd.DataFrame:
    """user, item and rating (and title) of one chunk, checked row by row; errors name the line and value."""
    import numpy as np
    import pandas as pd

    def label(column: object, role: str) -> str:
        return f"{role} (column '{column}')" if layout.named else role

    def where(row: object, column: object) -> str:
        return f"{layout.name}: {row_word} {line_of(table, row, column) if row_word == 'line' else row}"

    user = as_ids(table[layout.user], where, label(layout.user, "user"), integer=layout.integer_ids)
    item = as_ids(table[layout.item], where, label(layout.item, "item"), integer=layout.integer_ids)
    raw = table[layout.rating]
    empty = blank(raw)
    if empty.any():
        first = raw.index[empty.to_numpy().argmax()]
        raise InputError(f"{where(first, layout.rating)}: {label(layout.rating, 'rating')} is empty")
    rating = pd.to_numeric(raw, errors="coerce")
    bad = ~np.isfinite(rating.to_numpy(dtype="float64", na_value=np.nan))
    if bad.any():
        first = raw.index[bad.argmax()]
        value = raw.loc[first]
        raise InputError(f"{where(first, layout.rating)}: {label(layout.rating, 'rating')} {value!r} is not a number")
    checked = {"user": user, "item": item, "rating": rating.astype("float64")}
    if layout.time is not None:
        checked["timestamp"] = epoch_seconds(
            table[layout.time], lambda row: where(row, layout.time), _time_label(layout)
        )
    if has_title:
        title = table[layout.title]
        checked["title"] = title.astype(str).str.strip().where(~blank(title))
    return pd.DataFrame(checked)


def _time_label(layout: Layout) -> str:
    return f"time (column '{layout.time}')" if layout.named else "time"
