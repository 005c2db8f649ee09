"""A throw-away PostgreSQL server for the tests that read ratings from one: no mock database.

`pg_server` (a session fixture: a test file imports it from here) runs Debian's PostgreSQL 15 (`initdb`,
`pg_ctl`; as the `postgres` user when the tests run as root) on a temporary data folder and a
free port on 127.0.0.1, with password (SCRAM) authentication over TCP for a test role, and
stops and removes it at the end. Ratings are loaded with `COPY … FROM STDIN`. Where PostgreSQL
or psycopg is missing the tests skip with one line saying how to install it; under `CI=true`
they fail instead (as the page checks do, tests/helpers/browser.py).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.browser import missing

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
INSTALL_POSTGRES = "run `sudo apt-get install postgresql` (Debian's PostgreSQL 15), then `make test`"
INSTALL_PSYCOPG = "run `make test`, which installs the `postgres` extra (pip install '.[test,postgres]')"
ROLE = "rg_tester"
DATABASE = "shop"


@dataclass(frozen=True)
class PgServer:
    """A running server: where it listens, the test role and its password, and its one database."""

    port: int
    password: str  # has '@', '/' and '%' in it: the URL must quote it, and every redaction must catch both forms
    socket_dir: Path
    host: str = "127.0.0.1"
    user: str = ROLE
    database: str = DATABASE

    def url(self, *, password: str | None = None, port: int | None = None, database: str | None = None) -> str:
        """postgresql://user:password@host:port/database, the password URL-quoted."""
        secret = urllib.parse.quote(self.password if password is None else password, safe="")
        return f"postgresql://{self.user}:{secret}@{self.host}:{port or self.port}/{database or self.database}"

    def redacted(self, *, port: int | None = None, database: str | None = None) -> str:
        """The URL as reportgen's errors show it."""
        return f"postgresql://{self.user}:***@{self.host}:{port or self.port}/{database or self.database}"

    def load(self, table: str, columns: str, rows: Sequence[Sequence[object]]) -> None:
        """CREATE TABLE `table` (`columns`, SQL) afresh and COPY `rows` into it."""
        import psycopg

        with psycopg.connect(self.url()) as conn:
            conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            conn.execute(f'CREATE TABLE "{table}" ({columns})')
            with conn.cursor() as cursor, cursor.copy(f'COPY "{table}" FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a server program as the `postgres` user where the tests run as root (PostgreSQL refuses root)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run(prefix + args, check=True, capture_output=True, text=True, timeout=120, **kwargs)  # type: ignore[call-overload]


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    """Start a server of its own; stop it and remove its data folder at the end."""
    if not (PG_BIN / "initdb").is_file() or not (PG_BIN / "pg_ctl").is_file():
        missing(f"PostgreSQL 15 ({PG_BIN}/initdb)", INSTALL_POSTGRES)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        missing("psycopg (the PostgreSQL driver)", INSTALL_PSYCOPG)
    home = Path(tempfile.mkdtemp(prefix="reportgen-pg-"))
    data, sockets = home / "data", home / "sockets"
    sockets.mkdir()
    superuser_password = secrets.token_hex(16)
    (home / "pwfile").write_text(superuser_password + "\n")
    if os.geteuid() == 0:
        shutil.chown(home, "postgres", "postgres")
        for path in (sockets, home / "pwfile"):
            shutil.chown(path, "postgres", "postgres")
    server = PgServer(port=free_port(), password=f"pa@ss/{secrets.token_hex(6)}%", socket_dir=sockets)
    try:
        _as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--pwfile", str(home / "pwfile")]
            + ["--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C"]
        )
        options = f"-p {server.port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "log"), "-w", "start"])
        psql = [
            str(PG_BIN / "psql"),
            "-h",
            str(sockets),
            "-p",
            str(server.port),
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
        ]
        quoted = server.password.replace("'", "''")
        _as_postgres([*psql, "-c", f"CREATE ROLE {ROLE} LOGIN PASSWORD '{quoted}'"])
        _as_postgres([*psql, "-c", f"CREATE DATABASE {DATABASE} OWNER {ROLE}"])
        yield server
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"the test PostgreSQL server did not start: {exc.stderr or exc.stdout}") from exc
    finally:
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One throw-away PostgreSQL server for the whole session (skipped, or under CI failed, where there is none)."""
    with running_server() as server:
        yield server
