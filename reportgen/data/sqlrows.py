"""A query's rows as Arrow chunks, and their SHA-256.

Below `database` (which connects, builds the query and turns failures into one line):
here the rows arrive from the driver's cursor (server-side for PostgreSQL) `ROWS_PER_FETCH`
at a time; `collect` hashes each chunk, turns it into Arrow arrays (text dictionary-encoded)
and drops it, so the result set is never held twice. The SHA-256 is defined once
(`rows_digest_update`, docs/data-sources.md), whatever the chunking.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from reportgen.errors import InputError

ROWS_PER_FETCH = 50_000  # the most rows per fetchmany: one round trip of the server-side cursor, one Arrow chunk
BYTES_PER_FETCH = 8 << 20  # about this many bytes of values per chunk: wide rows come fewer at a time
FIRST_FETCH = 8  # the first fetch's rows, before their width is known (a row may hold megabytes)
WINDOW_BYTES = 64 << 20  # chunks joined, and their text dictionary-encoded together, this many bytes at a time
READ_SHARE = 3  # the rows held may take a third of the memory free: the typed read and its frame need the rest
NULL_TEXT = "\\N"  # a NULL in the rows' hashed text (PostgreSQL COPY's own spelling)
ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


def rows_digest_update(digest: Any, arrays: list[Any]) -> None:
    """Feed one chunk of rows to the rows' SHA-256 (docs/data-sources.md defines the encoding).

    Each row is its values as text, in the selected order, joined by tabs and ended by a
    newline, as PostgreSQL's COPY text format writes them: NULL as `\\N`, and backslash,
    tab, newline and carriage return escaped. A value's text is Arrow's cast to string:
    integers in decimal, reals in the shortest form that reads back exactly (4.0 as `4`),
    text as it is. Chunk boundaries do not change the digest.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = []
    for array in arrays:
        text = pc.cast(array, pa.string())
        if (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)) and pc.any(
            pc.match_substring_regex(text, r"[\\\t\n\r]")
        ).as_py():
            for raw, escaped in ESCAPES:
                text = pc.replace_substring(text, raw, escaped)
        texts.append(pc.fill_null(text, NULL_TEXT))
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*texts, "\t"), "", "\n")
    wide = pa.types.is_large_string(lines.type)
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64 if wide else np.int32)
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    digest.update(memoryview(lines.buffers()[2])[start:end])


def collect(
    chunks: Iterable[list[Any]], columns: list[str], *, label: str = "the query", available: int | None = None
) -> tuple[Any, str, int]:
    """The chunks as one Arrow table (text dictionary-encoded), the rows' SHA-256, and how many rows there were.

    The chunks are joined a window of about `WINDOW_BYTES` at a time, its text dictionary-encoded
    together: a title repeated over the rows is kept once per window, not once per chunk.
    `available`: the bytes of memory free when the read began (`machine.memory_available`); the rows
    held may take a `READ_SHARE` of it, past which the read stops in one line, before the kernel kills it.
    """
    import pyarrow as pa

    digest = hashlib.sha256()
    parts: list[list[Any]] = [[] for _ in columns]
    window: list[list[Any]] = [[] for _ in columns]
    rows = held = pending = 0
    for arrays in chunks:
        if not len(arrays[0]):
            continue
        rows += len(arrays[0])
        rows_digest_update(digest, arrays)
        for waiting, array in zip(window, arrays):
            waiting.append(array)
            pending += array.nbytes
        del arrays
        if pending >= WINDOW_BYTES:
            held += _joined_window(parts, window)
            pending = 0
        if available is not None and (held + pending) * READ_SHARE > available:
            raise InputError(
                f"{label}: the {rows:,} rows read so far take {_size(held + pending)} of memory, and making ratings "
                f"of them about {READ_SHARE} times that, more than the {_size(available)} free: select fewer rows "
                "or shorter columns"
            )
    _joined_window(parts, window)
    table = pa.table({column: _joined(part) for column, part in zip(columns, parts)}) if rows else None
    return table, digest.hexdigest(), rows


def _joined_window(parts: list[list[Any]], window: list[list[Any]]) -> int:
    """Each column's chunks in the window as one array (text as one dictionary array), appended to its parts;
    returns their bytes. A column whose chunks differ in type (SQLite mixes them) keeps its chunks: `_joined`
    makes text of them at the end."""
    import pyarrow as pa
    import pyarrow.compute as pc

    joined = 0
    for part, waiting in zip(parts, window):
        before = len(part)
        types = {array.type for array in waiting if not pa.types.is_null(array.type)}
        if len(types) == 1:
            kind = types.pop()
            arrays = [pa.nulls(len(a), kind) if pa.types.is_null(a.type) else a for a in waiting]
            if pa.types.is_string(kind):
                part.append(pc.dictionary_encode(pa.chunked_array(arrays, kind)).combine_chunks())
            else:
                part.append(pa.concat_arrays(arrays))
        elif waiting:
            part.extend(waiting)
        joined += sum(array.nbytes for array in part[before:])
        waiting.clear()
    return joined


def cursor_chunks(cursor: Any, columns: list[str], label: str) -> Iterator[list[Any]]:
    """An executed DB-API cursor's rows a chunk at a time, one Arrow array per column.

    A chunk is `ROWS_PER_FETCH` rows, or fewer where the rows are wide: about `BYTES_PER_FETCH`
    bytes of values (the width measured on the chunk before), so the driver's rows, their
    arrays and their hashed text stay small whatever a row holds. The driver's own tuples,
    never SQLAlchemy's `Row`s: at 10M rows those cost as much as the fetch.
    """
    before, size = 0, min(FIRST_FETCH, ROWS_PER_FETCH)
    while True:
        rows = cursor.fetchmany(size)
        if not rows:
            return
        n = len(rows)
        arrays = _arrays(rows, columns, label, before)
        del rows  # before the next fetch: one chunk of Python values at a time
        width = max(1, sum(array.nbytes for array in arrays) // n)
        size = max(1, min(ROWS_PER_FETCH, BYTES_PER_FETCH // width))
        yield arrays
        del arrays
        before += n


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.0f} MiB"


def _arrays(rows: list[Any], columns: list[str], label: str, before: int) -> list[Any]:
    """One chunk of rows as one Arrow array per column.

    The rows go to Arrow whole, as a struct typed by each column's first value (ten times faster
    than a Python list per column); where the values do not fit that type (SQLite mixes numbers
    and text in one column), column by column.
    """
    import pyarrow as pa

    firsts: dict[int, Any] = {}
    for row in rows:
        firsts.update((i, v) for i, v in enumerate(row) if v is not None and i not in firsts)
        if len(firsts) == len(columns):
            break
    try:
        kinds = [pa.array([firsts[i]]).type if i in firsts else pa.null() for i in range(len(columns))]
        if all(_plain(k) for k in kinds):
            return pa.array(rows, type=pa.struct([(str(i), k) for i, k in enumerate(kinds)])).flatten()
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        pass
    return [_array(values, column, label, before) for values, column in zip(zip(*rows), columns)]


def _array(values: tuple, column: str, label: str, before: int) -> Any:
    """One chunk of one column as an Arrow array: typed where the values agree, text where they are mixed."""
    import pyarrow as pa

    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # SQLite lets one column mix numbers and text
        array = None
    if array is None or not (_plain(array.type) or _bytes(array.type)):  # or a UUID, an address, a JSON value
        array = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    if _bytes(array.type):
        first = next(i for i, v in enumerate(values) if v is not None)
        raise InputError(
            f"{label}: row {before + first + 1}: column '{column}' holds bytes (a BLOB), not text or numbers"
        )
    return array


def _plain(kind: Any) -> bool:
    """An Arrow type the typed read takes as it is: a number, text, a time, or nothing; not bytes, not an
    extension type (pyarrow reads a PostgreSQL `uuid` as its `arrow.uuid`), not a nested one (a JSON object)."""
    import pyarrow as pa

    t = pa.types
    checks = (t.is_integer, t.is_floating, t.is_decimal, t.is_string, t.is_large_string, t.is_boolean, t.is_temporal)
    return t.is_null(kind) or any(check(kind) for check in checks)


def _bytes(kind: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_binary(kind) or pa.types.is_large_binary(kind)


def _joined(arrays: list[Any]) -> Any:
    """A column's chunks as one chunked array: all-NULL chunks take the others' type, mixed types become text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    types = {a.type for a in arrays if not pa.types.is_null(a.type)}
    if not types:
        return pa.chunked_array(arrays, type=pa.null())
    if len(types) == 1:
        kind = types.pop()
        return pa.chunked_array([pa.nulls(len(a), kind) if pa.types.is_null(a.type) else a for a in arrays], kind)
    text = [pc.cast(a.dictionary_decode() if pa.types.is_dictionary(a.type) else a, pa.string()) for a in arrays]
    return pa.chunked_array([pc.dictionary_encode(a) for a in text])
