"""Ratings from an SQL database (SQLite, PostgreSQL) through SQLAlchemy, read into the same typed read as files.

`read_database` runs one query (the user's `query`, or one built from `table`), with an
ORDER BY over every mapped column appended, so the rows, their SHA-256 and the split
never depend on the order a database happens to choose. The rows come through the
driver's own cursor (server-side on PostgreSQL) a chunk at a time (`sqlrows`: hashed,
turned into Arrow and dropped, so the result set is never held twice); the columns then
go through `tables.read_arrow`, the same typed, checked read as a Parquet file's (errors
name "row N", counted from 1 in that order), and the own files' title rules
(`readers.label_items`).

Nothing is written. SQLite is opened read-only (`mode=ro`), and a WAL-mode file whose
`-wal` is not there also `immutable`, so no `-wal` or `-shm` is made beside it (a
read-only folder reads too); a write during the read is refused afterwards. A PostgreSQL
session is a `READ ONLY` transaction (psycopg's `read_only`: every transaction begins
`BEGIN READ ONLY`), and every statement holding the user's SQL (the column probe, the
read, the items query) goes as one `DECLARE … CURSOR FOR` in the extended protocol,
which takes one statement only: a query that closes its bracket cannot run a second.

The URL may carry secrets: it is shown only through `dburl.redact`, and a driver's
message is never passed through whole (it may carry the DSN): connection failures are
told in words of our own, and a query's error by the server's primary message with
every secret of the URL scrubbed out. The report names the database by kind and name
alone (for SQLite the file's name).
"""

from __future__ import annotations

import contextlib
import functools
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen import machine
from reportgen.data.cells import as_ids, blank, require_columns
from reportgen.data.dbsession import (
    CONNECT_TIMEOUT,
    Session,
    errors,
    ignored_passfile,
    lost,
    redacted,
    stat_key,
    wal_mode,
    wal_path,
)
from reportgen.data.dburl import userinfo_quoted
from reportgen.data.files import regular_file
from reportgen.data.readers import check_distinct_columns, label_items
from reportgen.data.sqlrows import collect, cursor_chunks
from reportgen.data.tables import Layout, read_arrow, release_arrow_memory
from reportgen.data.titles import ids_as_titles
from reportgen.data.types import DatabaseRead, DbData, Provenance, Ratings
from reportgen.errors import InputError, setting

if TYPE_CHECKING:  # sqlalchemy, pandas and pyarrow are imported lazily: `reportgen datasets` must answer fast
    import pandas as pd
    import sqlalchemy as sa

SOURCE_DATABASE = "database"  # Provenance.source of ratings read from a database
KINDS = ("sqlite", "postgresql")
INSTALL_POSTGRES = "pip install 'reportgen[postgres]'"
NO_PASSFILE = "/dev/null/none"  # a password file that cannot exist: libpq skips it without a word


def read_database(spec: DbData) -> Ratings:
    """The ratings a query returns, typed and checked as an own file's are, with their provenance."""
    url = parse_url(spec.url)
    kind = url.get_backend_name()
    name = _database_name(url, kind)
    label = f"{kind} database {name}"
    check_distinct_columns(spec, label)
    layout = Layout(
        label, ",", "utf-8", spec.user_col, spec.item_col, spec.rating_col, spec.title_col, time=spec.time_col
    )
    if (spec.query is None) == (spec.table is None):
        raise InputError(f"{setting('db')} needs one of {setting('query')} SQL or {setting('table')} NAME")
    with _session(url, kind, label) as session:
        source = _source(session, spec)
        found = _columns(session, source, label)
        roles = [("user", spec.user_col), ("item", spec.item_col), ("rating", spec.rating_col)]
        if spec.time_col is not None:
            roles.append(("time", spec.time_col))
        require_columns(label, [column for _, column in roles], found, settings=layout.settings())
        has_title = spec.title_col in found and spec.title_col not in dict(roles).values()
        selected = [column for role, column in roles if role != "time"] + ([spec.title_col] if has_title else [])
        selected += [spec.time_col] if spec.time_col is not None else []
        query = ordered_query(session.connection.dialect, source, selected, spec.time_col)
        table, digest, rows = _read_rows(session, query, selected)
        titles = None
        if not has_title and spec.items_query is not None:
            titles = _items(session, spec)
    # read_arrow starts the batches again for its careful read; they go with the partial once it is done
    frame = read_arrow(functools.partial(iter, table.to_batches()), layout).frame
    del table
    release_arrow_memory()
    columns = dict(roles)
    notes: list[str] = []
    if has_title:
        columns["title"] = spec.title_col
        frame = label_items(frame, None, label, label, missing="id", notes=notes)
    elif titles is not None:
        columns["title"] = f"{spec.title_col} (from the items query)"
        frame = label_items(frame, titles, label, "the items query", missing="id", notes=notes)
    else:
        frame = frame.assign(title=ids_as_titles(frame["item"], notes))  # the id is the label
    read = DatabaseRead(kind, name, query, rows, spec.items_query if titles is not None else None)
    provenance = Provenance(
        name=name,
        source=SOURCE_DATABASE,
        location=name,
        ratings_file=label,
        sha256=digest,
        columns=tuple(columns.items()),
        database=read,
    )
    return Ratings(frame=frame, provenance=provenance, row_word="row", notes=tuple(notes))


def parse_url(text: str) -> sa.URL:
    """The database URL, refused in one line (never echoed: it may hold a password) unless SQLite or PostgreSQL.

    The userinfo ends at its last `@`, as `dburl.redact` reads it: an unencoded `@` is part of the password.
    """
    import sqlalchemy as sa

    try:
        url = sa.make_url(userinfo_quoted(text.strip()))
    except (sa.exc.ArgumentError, ValueError):
        raise InputError(
            f"{setting('db')} is not a database URL: give sqlite:///path/to/file.db or "
            "postgresql://user@host:port/database (the password from PGPASSWORD or ~/.pgpass)"
        ) from None
    backend = url.get_backend_name()
    if backend == "postgres":  # the scheme Heroku and others hand out
        url = url.set(drivername="postgresql")
        backend = "postgresql"
    if backend not in KINDS:
        raise InputError(f"{setting('db')}: {backend!r} databases are not supported; use sqlite or postgresql")
    return url


def ordered_query(dialect: Any, source: str, columns: list[str], time_col: str | None) -> str:
    """SELECT the mapped columns FROM the source, ORDER BY user, item, time, rating, title: one order, every run.

    Rows equal in every selected column are interchangeable, so this order is total for what is read.
    """
    quote = dialect.identifier_preparer.quote_identifier
    order = columns[:2] + ([time_col] if time_col is not None else []) + [c for c in columns[2:] if c != time_col]
    return f"SELECT {', '.join(map(quote, columns))} FROM {source} ORDER BY {', '.join(map(quote, order))}"


# --------------------------------------------------------------------------- connecting


def _database_name(url: sa.URL, kind: str) -> str:
    if not url.database or url.database == ":memory:":
        raise InputError(f"{setting('db')}: the URL names no database (sqlite:///path/to/file.db, postgresql://…/name)")
    return Path(url.database).name if kind == "sqlite" else url.database


@contextlib.contextmanager
def _session(url: sa.URL, kind: str, label: str) -> Iterator[Session]:
    """A connection that cannot write, closed at the end whatever happened.

    Closing it never replaces the error that ended the read: a session the server ended
    cannot roll back, and a read-only one has nothing to keep.
    """
    session = Session(url, kind, label)
    engine = _engine(session)
    try:
        with errors(session, "connect to"):
            session.connection = engine.connect()
        try:
            yield session
        finally:
            with contextlib.suppress(Exception):
                if lost(session):  # dropped, not closed: closing would try a rollback and log its failure
                    session.connection.invalidate()
                else:
                    session.connection.close()
    finally:
        with contextlib.suppress(Exception):
            engine.dispose()
    session.check_unchanged()


def _engine(session: Session) -> sa.Engine:
    """An engine without a pool: SQLite read-only (a missing file is never created), PostgreSQL through psycopg 3
    in READ ONLY transactions."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    url = session.url
    if session.kind == "sqlite":
        import sqlite3

        path = regular_file(Path(url.database).expanduser()).resolve()  # refused in one line naming the file
        session.file = path
        uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
        if wal_mode(path) and not wal_path(path).exists():  # every row is in the file: nothing beside it to read
            uri += "&immutable=1"
            session.immutable = (path, stat_key(path))
        return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool)
    try:
        import psycopg  # noqa: F401  (the driver: an optional extra)
    except ImportError:
        raise InputError(
            f"{setting('db')}: reading PostgreSQL needs the psycopg driver, which is not installed: {INSTALL_POSTGRES}"
        ) from None
    # psycopg 3 whatever driver the URL names: its named cursor's DECLARE is what takes one statement only
    driver = url.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
    session.ignored_passfile = ignored_passfile(url)
    if session.ignored_passfile is not None:  # libpq would print a warning of its own: reportgen says it, once
        connect_args["passfile"] = NO_PASSFILE
    try:
        engine = sa.create_engine(driver, poolclass=NullPool, connect_args=connect_args)
    except ImportError:
        raise InputError(
            f"{setting('db')}: the driver {url.drivername!r} is not installed; {INSTALL_POSTGRES} installs psycopg"
        ) from None
    except sa.exc.ArgumentError:
        raise InputError(
            f"{setting('db')}: {redacted(url)}: the URL cannot be used (unknown driver or option)"
        ) from None
    sa.event.listen(engine, "connect", _read_only)
    return engine


def _read_only(driver_connection: Any, record: Any) -> None:
    """Every transaction of this psycopg connection begins `BEGIN READ ONLY` (the client's doing: no SQL undoes it)."""
    driver_connection.read_only = True


# --------------------------------------------------------------------------- reading


def _source(session: Session, spec: DbData) -> str:
    """What the SELECT reads FROM: the quoted table, or the user's query as a subquery."""
    import sqlalchemy as sa

    if spec.table is not None:
        *schema, table = spec.table.split(".", 1) if "." in spec.table else [spec.table]
        with errors(session, "looking up the table"):
            exists = sa.inspect(session.connection).has_table(table, schema=schema[0] if schema else None)
        if not exists:
            raise InputError(f"{session.label}: no table or view {spec.table!r} ({setting('table')})")
        quote = session.connection.dialect.identifier_preparer.quote_identifier
        return ".".join(quote(part) for part in [*schema, table])
    assert spec.query is not None
    query = spec.query.strip().rstrip(";").strip()
    if not query:
        raise InputError(f"{setting('query')} is empty")
    return f"(\n{query}\n) AS ratings"  # on lines of their own: a trailing -- comment ends before the bracket


@contextlib.contextmanager
def _statement(session: Session, name: str, sql: str, label: str) -> Iterator[Any]:
    """`sql` executed as one statement on a cursor of its own, closed at the end (a failing close says nothing:
    the error that ended the read is the one told)."""
    with errors(session, "the query", label):
        cursor = session.cursor(name)
        try:
            cursor.execute(sql)
            yield cursor
        finally:
            with contextlib.suppress(Exception):
                cursor.close()


def _columns(session: Session, source: str, label: str) -> list[str]:
    """The columns the source has, from a query that returns no rows."""
    with _statement(session, "reportgen_columns", f"SELECT * FROM {source} LIMIT 0", label) as cursor:
        return [str(column[0]) for column in cursor.description]


def _read_rows(session: Session, query: str, columns: list[str]) -> tuple[Any, str, int]:
    """The result as one Arrow table, the rows' SHA-256 and their count, through the driver's own cursor.

    PostgreSQL's is a server-side (named) cursor, so the server sends a chunk of rows per
    round trip and the client never holds more than one chunk of Python values.
    """
    available = machine.memory_available()
    with _statement(session, "reportgen_ratings", query, session.label) as cursor:
        chunks = cursor_chunks(cursor, columns, session.label)
        table, digest, rows = collect(chunks, columns, label=session.label, available=available)
    if rows == 0:
        raise InputError(f"{session.label}: the query returned no rows")
    return table, digest, rows


def _items(session: Session, spec: DbData) -> dict[Any, str]:
    """item id -> title from `items_query` (a small table: read whole); errors name its row."""
    import pandas as pd

    assert spec.items_query is not None
    label = "the items query"
    query = spec.items_query.strip().rstrip(";").strip()
    source = f"(\n{query}\n) AS items"
    found = _columns(session, source, label)
    item_and_title = {spec.item_col: "item_col", spec.title_col: "title_col"}
    require_columns(label, item_and_title, found, settings=item_and_title)
    quote = session.connection.dialect.identifier_preparer.quote_identifier
    item, title = quote(spec.item_col), quote(spec.title_col)
    select = f"SELECT {item}, {title} FROM {source} ORDER BY {item}, {title}"  # an item titled twice: always the same
    with _statement(session, "reportgen_items", select, label) as cursor:
        rows = [tuple(str(v) if _is_object(v) else v for v in row) for row in cursor.fetchall()]
    if not rows:
        raise InputError("the items query returned no rows")
    items: pd.DataFrame = pd.DataFrame(rows, columns=[spec.item_col, spec.title_col], dtype=object)
    items.index = pd.RangeIndex(1, len(items) + 1)
    items = items[~blank(items[spec.title_col])]
    ids = as_ids(
        items[spec.item_col],
        lambda row, column: f"{label}: row {row}",
        f"column '{spec.item_col}'",
        integer=False,
    )
    return dict(zip(ids, items[spec.title_col].astype(str).str.strip()))


def _is_object(value: Any) -> bool:
    """A driver's value that is neither a number nor text (a UUID, an address): read as its text."""
    return value is not None and not isinstance(value, (int, float, str))
