"""A database read writes nothing: not a row of PostgreSQL, not a file beside SQLite's.

PostgreSQL: a `--query` (or `--items-query`) that closes its bracket to run statements of its own
(`… ) AS x LIMIT 0; DELETE FROM victim; COMMIT; SELECT * FROM (…`) is refused in one line and the
victim table keeps every row; the session is a READ ONLY transaction (the query itself reads
`transaction_read_only` as `on`) and a write hidden in a function fails. SQLite: a WAL-mode file
is read without a `-wal` or `-shm` appearing beside it, from a read-only folder too, and beside a
writer that has it open (its committed rows in the `-wal` included).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from reportgen.data import dataset as data
from reportgen.data.types import DbData
from tests.data.test_database import ratings_rows, write_sqlite
from tests.helpers.commands import PREVIOUS_HTML, PREVIOUS_JSON, assert_nothing_left, invoke, previous_report
from tests.helpers.postgres import PgServer, pg_server  # noqa: F401  (pg_server: the fixture)

pytestmark = pytest.mark.usefixtures("undrawn")
FAST = ["--epochs", "1", "--factors", "8", "--lr", "0.01", "--seed", "7"]
COLUMNS_SQL = '"user" integer, item integer, rating double precision, title text'
ATTACK = "SELECT * FROM ratings ) AS x LIMIT 0; DELETE FROM victim; COMMIT; SELECT * FROM (SELECT 1"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg(pg_server: PgServer) -> PgServer:  # noqa: F811
    """The ratings, and a victim table of 10 rows with a function that would empty it."""
    import psycopg

    pg_server.load("ratings", COLUMNS_SQL, ratings_rows())
    pg_server.load("victim", "x integer", [(i,) for i in range(10)])
    with psycopg.connect(pg_server.url()) as conn:
        conn.execute("CREATE OR REPLACE FUNCTION wipe() RETURNS integer LANGUAGE sql AS 'DELETE FROM victim; SELECT 1'")
    return pg_server


def victims(pg: PgServer) -> int:
    import psycopg

    with psycopg.connect(pg.url()) as conn:
        row = conn.execute("SELECT count(*) FROM victim").fetchone()
    assert row is not None
    return int(row[0])


def assert_refused(result: object, out: Path, line: str) -> None:
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert [t for t in result.stderr.splitlines() if t.startswith("Error:")] == [line]  # type: ignore[attr-defined]
    assert "Traceback" not in result.output and result.stdout == ""  # type: ignore[attr-defined]
    assert (out / "report.html").read_bytes() == PREVIOUS_HTML
    assert (out / "report.json").read_bytes() == PREVIOUS_JSON
    assert_nothing_left(out)


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.parametrize("where", ["--query", "--items-query", "a URL naming psycopg2"])
def test_a_query_that_closes_its_bracket_runs_no_statement_of_its_own(where: str, tmp_path: Path, pg: PgServer) -> None:
    """Whatever driver the URL names, psycopg 3 reads it: its DECLARE takes one statement only."""
    out = previous_report(tmp_path / "out")
    url = pg.url().replace("postgresql://", "postgresql+psycopg2://") if "psycopg2" in where else pg.url()
    args = ["--table", "ratings", "--items-query", ATTACK] if where == "--items-query" else ["--query", ATTACK]
    result = invoke("build", "--output", out, *FAST, "--db", url, *args, "--title-col", "name")
    label = "the items query" if where == "--items-query" else "postgresql database shop"
    assert_refused(
        result, out, f"Error: {label}: the query failed: cannot insert multiple commands into a prepared statement"
    )
    assert victims(pg) == 10  # nothing deleted, nothing committed


def test_the_session_is_read_only_so_a_write_hidden_in_a_function_fails(tmp_path: Path, pg: PgServer) -> None:
    out = previous_report(tmp_path / "out")
    query = 'SELECT "user", item, rating * wipe() AS rating FROM ratings'
    result = invoke("build", "--output", out, *FAST, "--db", pg.url(), "--query", query)
    assert_refused(
        result,
        out,
        "Error: postgresql database shop: the query failed: cannot execute DELETE in a read-only transaction",
    )
    assert victims(pg) == 10


def test_the_query_itself_sees_its_transaction_read_only(tmp_path: Path, pg: PgServer) -> None:
    out = tmp_path / "out"
    query = (
        """SELECT "user", item, rating, current_setting('transaction_read_only') || ' ' || item AS title FROM ratings"""
    )
    result = invoke("build", "--output", out, "--quiet", *FAST, "--db", pg.url(), "--query", query)
    assert result.exit_code == 0, result.output
    titles = [item["title"] for item in json.loads((out / "report.json").read_text())["items"]]
    assert len(titles) == 40 and all(title.startswith("on ") for title in titles)


# --------------------------------------------------------------------------- SQLite


def wal_database(path: Path) -> Path:
    """An SQLite file in WAL mode, closed (so SQLite removed its -wal and -shm): every row in the file itself."""
    write_sqlite(path, ratings_rows(40, 12))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    db.close()
    return path


def beside(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.parent.iterdir())}


def test_a_wal_mode_sqlite_file_is_read_without_a_file_appearing_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    db = wal_database(folder / "shop.db")
    before = beside(db)
    assert list(before) == ["shop.db"]
    result = invoke(
        "build", "--output", tmp_path / "out", "--quiet", *FAST, "--db", f"sqlite:///{db}", "--table", "ratings"
    )
    assert result.exit_code == 0, result.output
    assert beside(db) == before  # no shop.db-wal, no shop.db-shm, the file's bytes as they were


def test_a_wal_mode_sqlite_file_with_a_writer_at_work_reads_its_committed_rows_and_adds_no_file(tmp_path: Path) -> None:
    db = wal_database(tmp_path / "shop.db")
    writer = sqlite3.connect(db)
    try:
        writer.execute("PRAGMA wal_autocheckpoint=0")  # the new rows stay in the -wal
        writer.execute("INSERT INTO ratings VALUES (999, 1, 5.0, 'Film 01')")
        writer.commit()
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["shop.db", "shop.db-shm", "shop.db-wal"]
        ratings = data.load(DbData(url=f"sqlite:///{db}", table="ratings"), download=None)
        assert "999" in set(ratings.frame["user"].astype(str))
        assert sorted(p.name for p in tmp_path.iterdir()) == names
    finally:
        writer.close()


def _read_only_mount(folder: Path) -> list[str] | None:
    """A command prefix that runs a program with `folder` mounted read-only (a user and mount namespace of its own,
    `unshare -rm`), or None where this machine allows none."""
    prefix = ["unshare", "-rm", "sh", "-c", f'mount --bind -o ro "{folder}" "{folder}" && exec "$@"', "sh"]
    try:
        probe = subprocess.run([*prefix, "touch", str(folder / "probe")], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if probe.returncode == 0 or "Read-only file system" not in probe.stderr:
        (folder / "probe").unlink(missing_ok=True)
        return None
    return prefix


def test_a_wal_mode_sqlite_file_on_a_read_only_mount_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = wal_database(folder / "shop.db")
    before = beside(db)
    prefix = _read_only_mount(folder)
    if prefix is None:
        pytest.skip("this machine cannot mount a folder read-only for a test (unshare -rm, mount --bind -o ro)")
    out = tmp_path / "out"
    args = ["build", "--output", str(out), "--quiet", *FAST, "--db", f"sqlite:///{db}", "--table", "ratings"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "reportgen", *args], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "report.json").read_text())["dataset"]["database"]["name"] == "shop.db"
    assert beside(db) == before
