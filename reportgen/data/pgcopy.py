"""PostgreSQL rows through `COPY (query) TO STDOUT`, parsed by pyarrow's CSV reader and hashed as they stream.

Below `database` (which connects, builds the ordered query, picks this path or the cursor's,
and turns failures into one line) and beside `sqlrows` (whose `collect` assembles the chunks
this yields, as it does the cursor's). COPY's text format is the rows' hashed text
(docs/data-sources.md): a tab between values, `\\N` for NULL, backslash escapes, integers in
decimal and, with `extra_float_digits` above 0 (PostgreSQL 12 and later), reals in the
shortest form that reads back exactly. So a block of it is hashed as it came, and parsed by
pyarrow (C++, typed by the columns' PostgreSQL types) instead of becoming Python tuples.

Blocks of about `BLOCK_BYTES` are read from libpq (one row per message), parsed (on a thread
of their own, while the next block arrives) and dropped: the COPY text is never held whole. Where a block's text is not exactly the hashed text (a
text value with a backslash escape, a real written with an exponent, NaN or infinity), its
text values are unescaped and its hash computed from the parsed values instead
(`sqlrows.rows_digest_update`), so the SHA-256 and the columns are those of the cursor's
path whatever the data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

BLOCK_BYTES = 4 << 20  # COPY text parsed (and hashed) at a time
ROWS_PER_CHECK = 1024  # rows taken from libpq between looks at the block's size
MIN_SERVER = 120000  # PostgreSQL 12: extra_float_digits > 0 writes reals in their shortest exact form
# The PostgreSQL types (by OID) whose COPY text is the hashed text, and the Arrow type the cursor's path gives them.
COPY_TYPES = {20: "int64", 21: "int64", 23: "int64", 701: "float64", 25: "string", 1042: "string", 1043: "string"}
# |x| in [1e-4, 1e10) (or 0): where PostgreSQL's shortest form of a real is Arrow's (`4`, `3.5`, `0.0001`), no exponent.
PLAIN_REALS = (1e-4, 1e10)
UNESCAPED = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class CopyFailed(Exception):
    """The server refused or aborted the COPY; str() is its primary message (never the DSN)."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def copy_types(connection: Any, type_codes: Sequence[Any]) -> list[Any] | None:
    """The Arrow types to parse the columns' COPY text as, or None where this path does not apply.

    It applies on PostgreSQL 12 or later, with a UTF-8 client encoding (the hash is of UTF-8
    text), when every column is an integer, a `double precision` or text: other types
    (numeric, dates and times, booleans, float4) write text other than the hash's.
    """
    import pyarrow as pa

    info = connection.info
    if info.server_version < MIN_SERVER or info.encoding.replace("-", "").lower() != "utf8":
        return None
    if not all(code in COPY_TYPES for code in type_codes):
        return None
    return [getattr(pa, COPY_TYPES[code])() for code in type_codes]


def copy_chunks(connection: Any, query: str, types: list[Any]) -> Iterator[tuple[list[Any], Any]]:
    """The query's rows as (one Arrow array per column, their hashed text or None), a block at a time.

    `connection` is psycopg's; the COPY runs on its libpq connection (`pgconn`) so each row
    message costs one call, not one trip through psycopg's wait loop. A block's text is
    yielded as the rows' hashed text when it is exactly that; None asks the caller to hash
    the parsed values.
    """
    from psycopg import pq

    connection.execute("SET extra_float_digits = 1")  # whatever the server's or role's default: shortest exact
    pgconn = connection.pgconn
    pgconn.send_query(f"COPY ({query}) TO STDOUT".encode())
    while pgconn.flush():
        pass
    result = pgconn.get_result()
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        _drain(pgconn)
        raise _failed(result)
    done = False
    read = pgconn.get_copy_data
    try:
        # A block is parsed on a thread of its own (pyarrow and hashlib let go of the GIL) while
        # this one takes the next block's rows from libpq: at most three blocks are held at once.
        with ThreadPoolExecutor(1, thread_name_prefix="reportgen-copy") as parser:
            parsing: Future[tuple[list[Any], Any]] | None = None
            more = True
            while more:
                block = bytearray()
                while more and len(block) < BLOCK_BYTES:
                    for _ in range(ROWS_PER_CHECK):
                        size, row = read(0)  # waits for a row (one message); -1 at the end
                        if size <= 0:
                            more = False
                            break
                        block += row
                submitted = parser.submit(_parsed, block, types) if block else None
                if parsing is not None:
                    yield parsing.result()
                parsing = submitted
            if parsing is not None:
                yield parsing.result()
        result = pgconn.get_result()
        done = True
        _drain(pgconn)
        if result is None or result.status != pq.ExecStatus.COMMAND_OK:
            raise _failed(result)
    finally:
        if not done:  # left early (an error, or the caller stopped): stop the server and leave the connection usable
            pgconn.get_cancel().cancel()
            while True:
                try:
                    if read(0)[0] <= 0:
                        break
                except Exception:  # noqa: BLE001  (the COPY is being abandoned; the first error is the one told)
                    break
            _drain(pgconn)


def _drain(pgconn: Any) -> None:
    while pgconn.get_result() is not None:
        pass


def _failed(result: Any) -> CopyFailed:
    from psycopg import pq

    if result is None:
        return CopyFailed("the server sent no result", None)
    message = result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or result.error_message or b"COPY failed"
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    return CopyFailed(message.decode("utf-8", "replace").strip(), state.decode() if state else None)


def _parsed(block: bytearray, types: list[Any]) -> tuple[list[Any], Any]:
    """One block of COPY text as Arrow arrays (all-NULL ones typed null, as the cursor's are), and its text if exact."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [str(i) for i in range(len(types))]
    text = pa.py_buffer(block)
    table = pacsv.read_csv(
        pa.BufferReader(text),
        read_options=pacsv.ReadOptions(column_names=names),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False, double_quote=False),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(zip(names, types)),
            null_values=["\\N"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    arrays = [column.combine_chunks() for column in table.columns]
    exact = block.count(b"\\") == block.count(b"\\N")  # no backslash but NULL's: no escaped text
    if not exact:
        arrays = [_unescaped(a) if pa.types.is_string(a.type) else a for a in arrays]
    exact = exact and all(_plain_reals(a) for a in arrays if pa.types.is_floating(a.type))
    arrays = [pa.nulls(len(a)) if a.null_count == len(a) else a for a in arrays]
    return arrays, text if exact else None


def _plain_reals(array: Any) -> bool:
    """Whether every real is 0 or in `PLAIN_REALS`, where its COPY text is Arrow's (no NaN, infinity or exponent)."""
    import pyarrow.compute as pc

    size = pc.abs(array)
    low, high = PLAIN_REALS
    plain = pc.or_(pc.and_(pc.greater_equal(size, low), pc.less(size, high)), pc.equal(size, 0))
    return bool(pc.all(plain).as_py() is not False)


def _unescaped(array: Any) -> Any:
    """A text column with COPY's backslash escapes decoded (`\\t` a tab, `\\\\` a backslash, `\\b` a backspace …)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pc.any(pc.match_substring(array, "\\")).as_py():
        return array
    escape = re.compile(r"\\(.)", re.DOTALL)
    values = [
        v if v is None or "\\" not in v else escape.sub(lambda m: UNESCAPED.get(m[1], m[1]), v)
        for v in array.to_pylist()
    ]
    return pa.array(values, type=pa.string())
