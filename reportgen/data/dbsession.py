"""A database session's bookkeeping, and every failure of its driver as one line that carries no secret.

`Session` is what an error needs to know of a read: the URL (shown only through
`dburl.redact`), the label, and the files beside it that explain a failure: a password
file libpq would skip with a warning of its own (`ignored_passfile`: reportgen says it
once, in its own line), an SQLite file read `immutable` (checked unchanged afterwards).
`errors` turns whatever the driver raises into one `InputError`: a connection failure in
words of our own (libpq's message names the host, port and user), a session the server
ended (terminated, shut down, an idle timeout) or a lost connection as such, and a
query's error by the server's primary message with every secret of the URL scrubbed out.
No driver is imported here: `database` owns them.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportgen.data.dburl import redact, secrets_in
from reportgen.data.files import open_regular
from reportgen.errors import InputError, setting

URL = Any  # a SQLAlchemy URL: `database` alone imports SQLAlchemy
CONNECT_TIMEOUT = 10  # seconds to wait for a PostgreSQL server before giving up
SQLITE_HEADER = b"SQLite format 3\x00"


def redacted(url: URL) -> str:
    """The URL as an error may show it: every secret libpq could read from it as *** (`dburl.redact`)."""
    return redact(url.render_as_string(hide_password=False))


@dataclass
class Session:
    """One read-only session and what its errors need to know: the URL (shown redacted), the label, and the files
    beside it that explain a failure (a password file libpq would ignore, an SQLite file read `immutable`)."""

    url: URL
    kind: str
    label: str
    connection: Any = None  # the SQLAlchemy Connection, once open
    file: Path | None = None  # SQLite's file, resolved
    ignored_passfile: tuple[Path, str] | None = None  # the password file libpq would skip, and why
    immutable: tuple[Path, tuple[int, ...]] | None = None  # an SQLite file read immutable, and its stat then

    def cursor(self, name: str) -> Any:
        """A DB-API cursor: on PostgreSQL a named (server-side) one, whose `execute` is one DECLARE."""
        raw = self.connection.connection.driver_connection
        return raw.cursor(name) if self.kind == "postgresql" else raw.cursor()

    def check_unchanged(self) -> None:
        """An SQLite file read `immutable` was not written meanwhile (a writer would have made its -wal)."""
        if self.immutable is None:
            return
        path, before = self.immutable
        if stat_key(path) != before or wal_path(path).exists():
            raise InputError(f"{self.label}: the file was written while it was read (a program has it open); run again")


def ignored_passfile(url: URL) -> tuple[Path, str] | None:
    """The password file libpq would read and skip with a warning of its own, and why; None where it would not."""
    if url.password or url.query.get("password") or os.environ.get("PGPASSWORD"):
        return None  # a password is given: libpq never opens the file
    named = url.query.get("passfile") or os.environ.get("PGPASSFILE")
    path = Path(str(named)).expanduser() if named else Path.home() / ".pgpass"
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # none there: libpq says nothing either
    if not stat.S_ISREG(mode):
        return path, "it is not a plain file"
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return path, f"other users can read it (chmod 600 {path})"
    return None


def wal_path(path: Path) -> Path:
    """Where SQLite keeps a WAL-mode file's log: beside it, `-wal` added to its name."""
    return path.with_name(path.name + "-wal")


def wal_mode(path: Path) -> bool:
    """Whether an SQLite file is in WAL mode (its header's read and write versions are 2)."""
    with open_regular(path) as stream:
        header = stream.read(100)
    return header.startswith(SQLITE_HEADER) and len(header) >= 20 and 2 in header[18:20]


def stat_key(path: Path) -> tuple[int, ...]:
    """What changes when a file is written or replaced: its inode, size and modification time."""
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


class errors:
    """Turn what the database or its driver raises into one `InputError` line that carries no secret."""

    def __init__(self, session: Session, doing: str, label: str | None = None) -> None:
        self.session, self.doing, self.label = session, doing, label or session.label

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, (InputError, KeyboardInterrupt, SystemExit, MemoryError)):
            return False
        if not isinstance(exc, Exception):
            return False
        raise problem(exc, self.session, self.label, self.doing) from None


def problem(exc: Exception, session: Session, label: str, doing: str) -> InputError:
    """One line for a failure: connection failures by SQLSTATE or kind, query errors by the server's primary message."""
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or ""
    diag = getattr(orig, "diag", None)
    text = getattr(diag, "message_primary", None) or first_line(orig)
    if doing == "connect to":
        return InputError(f"{setting('db')} {redacted(session.url)}: {_connect_problem(state, text.lower(), session)}")
    if state.startswith("57P") or state == "25P03":  # shut down, terminated, or an idle session's timeout
        return InputError(f"{label}: the server ended the session {_when(doing)}: {scrub(text, session.url)}")
    if state.startswith("08") or lost(session):
        return InputError(f"{label}: the connection to the server was lost {_when(doing)}")
    if session.file is not None and "unable to open" in text and wal_path(session.file).exists():
        return InputError(
            f"{label}: cannot open it read-only: it is in WAL mode and its -wal file beside it holds writes that "
            "need the folder writable; checkpoint it (PRAGMA wal_checkpoint(TRUNCATE)) where it is written"
        )
    return InputError(f"{label}: {doing} failed: {scrub(text, session.url)}")


def _when(doing: str) -> str:
    """`the query` -> `during the query`, `looking up the table` -> `while looking up the table`."""
    return f"during {doing}" if doing.startswith("the ") else f"while {doing}"


def lost(session: Session) -> bool:
    """Whether the PostgreSQL connection is gone (the server crashed, the network dropped it)."""
    try:
        raw = session.connection.connection.driver_connection
    except Exception:  # SQLAlchemy could not reach it any more
        return session.kind == "postgresql"
    return session.kind == "postgresql" and bool(getattr(raw, "broken", False) or getattr(raw, "closed", False))


def _connect_problem(state: str, text: str, session: Session) -> str:
    """Why a connection failed, in words of our own: libpq's message names the host, port and user."""
    if state in ("28P01", "28000") or "password authentication failed" in text:
        return (
            "the server refused the login (a wrong password or user); "
            "give the password in REPORTGEN_DB, PGPASSWORD or a ~/.pgpass file"
        )
    if "no password supplied" in text:
        if session.ignored_passfile is not None:
            path, why = session.ignored_passfile
            return f"the server wants a password, and libpq does not use {path}: {why}"
        return "the server wants a password and none was given: set PGPASSWORD or write a ~/.pgpass file"
    if state == "3D000" or ("database" in text and "does not exist" in text):
        return f"the server has no database {session.url.database!r}"
    if "refused" in text:
        return "cannot connect: the connection was refused (is the server running, and the port right?)"
    if "timeout" in text or "timed out" in text:
        return f"cannot connect: no answer within {CONNECT_TIMEOUT} s"
    if "translate host name" in text or "name or service" in text or "resolve" in text:
        return "cannot connect: the host name is unknown"
    if "unable to open" in text or "not a database" in text:
        return "cannot open it as an SQLite database"
    return "cannot connect (the driver's message is not shown: it may carry the password)"


def first_line(exc: BaseException) -> str:
    """An exception's first line of text, or its type's name."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def scrub(text: str, url: URL) -> str:
    """A server's message with every secret of the URL (as written and URL-quoted) taken out, cut to 300 characters."""
    for secret in sorted(secrets_in(url.render_as_string(hide_password=False)), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299] + "…"
