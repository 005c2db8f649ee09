"""Ratings from an SQL database (SQLite, PostgreSQL) through SQLAlchemy, read into the same typed read as files.

`read_database` runs one query (the user's `query`, or one built from `table`), with an
ORDER BY over every mapped column appended, so the rows, their SHA-256 and the split
never depend on the order a database happens to choose. The rows come through the
driver's own cursor (server-side on PostgreSQL) a chunk at a time (`sqlrows`: hashed,
turned into Arrow and dropped, so the result set is never held twice); the columns then
go through `tables.read_arrow`, the same typed, checked read as a Parquet file's (errors
name "row N", counted from 1 in that order), and the own files' title rules
(`readers.label_items`).

The URL may carry secrets: it is parsed here (the userinfo up to its last `@`) and shown
only through `dburl.redact`; a driver's message is never passed through whole (it may
carry the DSN): connection failures are told in words of our own, and a query's error by
the server's primary message with every secret of the URL scrubbed out. The
report names the database by kind and name alone (for SQLite the file's name).
"""

from __future__ import annotations

import functools
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.data.cells import as_ids, blank, require_columns
from reportgen.data.dburl import redact, secrets_in, userinfo_quoted
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
CONNECT_TIMEOUT = 10  # seconds to wait for a PostgreSQL server before giving up
INSTALL_POSTGRES = "pip install 'reportgen[postgres]'"


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
    engine = _engine(url, kind)
    try:
        with _errors(url, label, "connect to"):
            connection = engine.connect()
        # The SQL goes to the driver as written: no parameters, so a `%` or `:name` in it is never a placeholder.
        connection.execution_options(no_parameters=True)
        with connection:
            source = _source(connection, spec, label, url)
            found = _columns(connection, source, url, label)
            roles = [("user", spec.user_col), ("item", spec.item_col), ("rating", spec.rating_col)]
            if spec.time_col is not None:
                roles.append(("time", spec.time_col))
            require_columns(label, [column for _, column in roles], found, settings=layout.settings())
            has_title = spec.title_col in found and spec.title_col not in dict(roles).values()
            selected = [column for role, column in roles if role != "time"] + ([spec.title_col] if has_title else [])
            selected += [spec.time_col] if spec.time_col is not None else []
            query = ordered_query(connection.dialect, source, selected, spec.time_col)
            table, digest, rows = _read_rows(connection, query, selected, url, label)
            titles = None
            if not has_title and spec.items_query is not None:
                titles = _items(connection, spec, url, label)
    finally:
        engine.dispose()
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
    """The database URL, refused in one line (never echoed: it may hold a password) unless SQLite or PostgreSQL."""
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


def redacted(url: sa.URL) -> str:
    """The URL as an error may show it: every secret libpq could read from it as *** (`dburl.redact`)."""
    return redact(url.render_as_string(hide_password=False))


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


def _engine(url: sa.URL, kind: str) -> sa.Engine:
    """An engine without a pool: SQLite opened read-only (a missing file is never created), PostgreSQL through psycopg 3."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    if kind == "sqlite":
        import sqlite3

        path = regular_file(Path(url.database).expanduser()).resolve()  # refused in one line naming the file
        uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
        return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True), poolclass=NullPool)
    try:
        import psycopg  # noqa: F401  (the driver: an optional extra)
    except ImportError:
        raise InputError(
            f"{setting('db')}: reading PostgreSQL needs the psycopg driver, which is not installed: {INSTALL_POSTGRES}"
        ) from None
    driver = url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url
    try:
        return sa.create_engine(driver, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT})
    except ImportError:
        raise InputError(
            f"{setting('db')}: the driver {url.drivername!r} is not installed; {INSTALL_POSTGRES} installs psycopg"
        ) from None
    except sa.exc.ArgumentError:
        raise InputError(
            f"{setting('db')}: {redacted(url)}: the URL cannot be used (unknown driver or option)"
        ) from None


class _errors:
    """Turn what the database or its driver raises into one `InputError` line that carries no DSN."""

    def __init__(self, url: sa.URL, label: str, doing: str) -> None:
        self.url, self.label, self.doing = url, label, doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, (InputError, KeyboardInterrupt, SystemExit, MemoryError)):
            return False
        if not isinstance(exc, Exception):
            return False
        raise _problem(exc, self.url, self.label, self.doing) from None


def _problem(exc: Exception, url: sa.URL, label: str, doing: str) -> InputError:
    """One line for a failure: connection failures by SQLSTATE or kind, query errors by the server's primary message."""
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None)
    diag = getattr(orig, "diag", None)
    text = getattr(diag, "message_primary", None) or _first_line(orig)
    if doing == "connect to":
        return InputError(f"{setting('db')} {redacted(url)}: {_connect_problem(state, text.lower(), url)}")
    return InputError(f"{label}: {doing} failed: {_scrub(text, url)}")


def _connect_problem(state: str | None, text: str, url: sa.URL) -> str:
    """Why a connection failed, in words of our own: libpq's message names the host, port and user."""
    if state in ("28P01", "28000") or "password authentication failed" in text:
        return (
            "the server refused the login (a wrong password or user); "
            "give the password in REPORTGEN_DB, PGPASSWORD or a ~/.pgpass file"
        )
    if "no password supplied" in text:
        return "the server wants a password and none was given: set PGPASSWORD or write a ~/.pgpass file"
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return f"the server has no database {url.database!r}"
    if "refused" in text:
        return "cannot connect: the connection was refused (is the server running, and the port right?)"
    if "timeout" in text or "timed out" in text:
        return f"cannot connect: no answer within {CONNECT_TIMEOUT} s"
    if "translate host name" in text or "name or service" in text or "resolve" in text:
        return "cannot connect: the host name is unknown"
    if "unable to open" in text or "not a database" in text:
        return "cannot open it as an SQLite database"
    return "cannot connect (the driver's message is not shown: it may carry the password)"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _scrub(text: str, url: sa.URL) -> str:
    """A server's message with every secret of the URL (as written and URL-quoted) taken out, cut to 300 characters."""
    for secret in sorted(secrets_in(url.render_as_string(hide_password=False)), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299] + "…"


# --------------------------------------------------------------------------- reading


def _source(connection: sa.Connection, spec: DbData, label: str, url: sa.URL) -> str:
    """What the SELECT reads FROM: the quoted table, or the user's query as a subquery."""
    import sqlalchemy as sa

    if spec.table is not None:
        *schema, table = spec.table.split(".", 1) if "." in spec.table else [spec.table]
        with _errors(url, label, "looking up the table"):
            exists = sa.inspect(connection).has_table(table, schema=schema[0] if schema else None)
        if not exists:
            raise InputError(f"{label}: no table or view {spec.table!r} ({setting('table')})")
        quote = connection.dialect.identifier_preparer.quote_identifier
        return ".".join(quote(part) for part in [*schema, table])
    assert spec.query is not None
    query = spec.query.strip().rstrip(";").strip()
    if not query:
        raise InputError(f"{setting('query')} is empty")
    return f"(\n{query}\n) AS ratings"  # on lines of their own: a trailing -- comment ends before the bracket


def _columns(connection: sa.Connection, source: str, url: sa.URL, label: str) -> list[str]:
    """The columns the source has, from a query that returns no rows."""
    with _errors(url, label, "the query"):
        result = connection.exec_driver_sql(f"SELECT * FROM {source} LIMIT 0")
        names = [str(k) for k in result.keys()]
        result.close()
    return names


def _read_rows(
    connection: sa.Connection, query: str, columns: list[str], url: sa.URL, label: str
) -> tuple[Any, str, int]:
    """The result as one Arrow table, the rows' SHA-256 and their count, through the driver's own cursor.

    PostgreSQL's is a server-side (named) cursor, so the server sends `ROWS_PER_FETCH` rows per
    round trip and the client never holds more than one chunk of Python values.
    """
    raw = connection.connection.driver_connection
    assert raw is not None
    with _errors(url, label, "the query"):
        cursor = raw.cursor("reportgen_ratings") if url.get_backend_name() == "postgresql" else raw.cursor()
        try:
            cursor.execute(query)
            table, digest, rows = collect(cursor_chunks(cursor, columns, label), columns)
        finally:
            cursor.close()
    if rows == 0:
        raise InputError(f"{label}: the query returned no rows")
    return table, digest, rows


def _items(connection: sa.Connection, spec: DbData, url: sa.URL, label: str) -> dict[Any, str]:
    """item id -> title from `items_query` (a small table: read whole); errors name its row."""
    import pandas as pd

    assert spec.items_query is not None
    query = spec.items_query.strip().rstrip(";").strip()
    source = f"(\n{query}\n) AS items"
    found = _columns(connection, source, url, "the items query")
    item_and_title = {spec.item_col: "item_col", spec.title_col: "title_col"}
    require_columns("the items query", item_and_title, found, settings=item_and_title)
    quote = connection.dialect.identifier_preparer.quote_identifier
    item, title = quote(spec.item_col), quote(spec.title_col)
    select = f"SELECT {item}, {title} FROM {source} ORDER BY {item}, {title}"  # an item titled twice: always the same
    with _errors(url, "the items query", "the query"):
        rows = [tuple(row) for row in connection.exec_driver_sql(select)]
    if not rows:
        raise InputError("the items query returned no rows")
    items: pd.DataFrame = pd.DataFrame(rows, columns=[spec.item_col, spec.title_col], dtype=object)
    items.index = pd.RangeIndex(1, len(items) + 1)
    items = items[~blank(items[spec.title_col])]
    ids = as_ids(
        items[spec.item_col],
        lambda row, column: f"the items query: row {row}",
        f"column '{spec.item_col}'",
        integer=False,
    )
    return dict(zip(ids, items[spec.title_col].astype(str).str.strip()))
