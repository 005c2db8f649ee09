"""Ratings from SQL databases (`build --db URL --query SQL | --table NAME`): SQLite, and PostgreSQL on a real
server of the tests' own (tests/helpers/postgres.py; no mock database).

The same rows read from a CSV, an SQLite file and a PostgreSQL table are one table and give one
report's numbers; the report names the database by kind and name, with the query run and the
SHA-256 of the rows as read; every bad input is one `Error:` line, exit 2, and the password is
in no output at all.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from reportgen.data import dataset as data
from reportgen.data.types import DbData, OwnData
from tests.helpers.commands import PREVIOUS_HTML, PREVIOUS_JSON, assert_nothing_left, invoke, previous_report
from tests.helpers.postgres import PgServer, free_port, pg_server  # noqa: F401  (pg_server: the fixture)

# What is read and refused is the subject here: the figures are placeholders (see `undrawn`).
pytestmark = pytest.mark.usefixtures("undrawn")
FAST = ["--epochs", "1", "--factors", "8", "--lr", "0.01", "--seed", "7"]
COLUMNS_SQL = '"user" integer, item integer, rating double precision, title text'


def ratings_rows(n_users: int = 120, n_items: int = 40) -> list[tuple[int, int, float, str]]:
    """About 2,400 ratings, one per (user, item) pair, in (user, item) order, titled by item."""
    rows = []
    for user in range(n_users):
        for item in range(n_items):
            if (user * 7 + item * 3) % 5 < 2:
                rows.append((user, item, float(1 + (user + 2 * item) % 5), f"Film {item:02d}"))
    return rows


def write_csv(path: Path, rows: list[tuple]) -> Path:
    path.write_text("user,item,rating,title\n" + "".join(f"{u},{i},{r:g},{t}\n" for u, i, r, t in rows))
    return path


def write_sqlite(path: Path, rows: list[tuple], table: str = "ratings") -> Path:
    with sqlite3.connect(path) as db:
        db.execute(f'CREATE TABLE {table} ("user" INTEGER, item INTEGER, rating REAL, title TEXT)')
        db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?)", rows)
    return path


def rows_sha256(rows: list[tuple]) -> str:
    """docs/data-sources.md's definition, by hand: each row's values as text, tab-separated, newline-ended."""
    text = "".join("\t".join(f"{v:g}" if isinstance(v, float) else str(v) for v in row) + "\n" for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return previous_report(tmp_path / "out")


@pytest.fixture(scope="module")
def pg(pg_server: PgServer) -> PgServer:  # noqa: F811
    """The server with the ratings loaded by COPY (table `ratings`), and a few more tables for the bad cases."""
    pg_server.load("ratings", COLUMNS_SQL, ratings_rows())
    pg_server.load("words", '"user" integer, item integer, rating text', [(1, 1, "4"), (1, 2, "5"), (2, 1, "good")])
    pg_server.load("titles", "item integer, name text", [(i, f"Named {i}") for i in range(0, 40, 2)])
    return pg_server


def _leaks(server: PgServer, *texts: str) -> list[str]:
    """Which secrets (the password, as typed and as the URL quotes it) appear in these texts."""
    secrets = {server.password, urllib.parse.quote(server.password, safe="")}
    return [s for s in secrets for text in texts if s in text]


def _everything_in(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file())


# --------------------------------------------------------------------------- the same ratings, wherever they live


def test_a_csv_an_sqlite_file_and_postgresql_read_to_the_same_table(
    tmp_path: Path, pg: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = ratings_rows()
    csv = data.load(OwnData(ratings=write_csv(tmp_path / "ratings.csv", rows)), download=None)
    sqlite = data.load(DbData(url=f"sqlite:///{write_sqlite(tmp_path / 'r.db', rows)}", table="ratings"), download=None)
    monkeypatch.setenv("PGPASSWORD", pg.password)  # libpq's own: the URL needs no password
    no_password = f"postgresql://{pg.user}@{pg.host}:{pg.port}/{pg.database}"
    postgres = data.load(DbData(url=no_password, query="SELECT * FROM ratings"), download=None)
    for read in (sqlite, postgres):
        assert list(read.frame.index) == list(range(1, len(rows) + 1))  # "row N", counted from 1
        pd.testing.assert_frame_equal(read.frame.reset_index(drop=True), csv.frame.reset_index(drop=True))
        assert read.row_word == "row"
    # One definition of the rows' SHA-256, whichever database returned the same typed values.
    assert sqlite.provenance.sha256 == postgres.provenance.sha256 == rows_sha256(rows)


def test_the_same_ratings_give_the_same_split_and_numbers_from_csv_sqlite_and_postgresql(
    tmp_path: Path, pg: PgServer
) -> None:
    rows = ratings_rows()
    sources = {
        "csv": ["--ratings", write_csv(tmp_path / "ratings.csv", rows)],
        "sqlite": ["--db", f"sqlite:///{write_sqlite(tmp_path / 'r.db', rows)}", "--table", "ratings"],
        "postgresql": ["--db", pg.url(), "--query", "SELECT * FROM ratings"],
    }
    reports = {}
    for name, args in sources.items():
        result = invoke("build", "--output", tmp_path / name, "--quiet", *FAST, *args)
        assert result.exit_code == 0, result.output
        reports[name] = json.loads((tmp_path / name / "report.json").read_text())
    numbers = {
        name: (
            r["dataset"]["n_ratings"],
            r["metrics"]["n_train"],
            r["metrics"]["n_valid"],
            r["metrics"]["valid_mse"],
            [e["valid_loss"] for e in r["metrics"]["epochs"]],
        )
        for name, r in reports.items()
    }
    assert numbers["csv"][0] == len(rows)
    assert numbers["sqlite"] == numbers["csv"] and numbers["postgresql"] == numbers["csv"]


def test_the_report_names_the_database_its_query_and_the_rows_hash_and_never_the_server(
    tmp_path: Path, pg: PgServer
) -> None:
    out = tmp_path / "out"
    result = invoke(
        "build",
        "--output",
        out,
        *FAST,
        "--table",
        "ratings",
        "--items-query",
        "SELECT item, name FROM titles",
        "--title-col",
        "name",
        env={"REPORTGEN_DB": pg.url()},
    )
    assert result.exit_code == 0, result.output
    query = 'SELECT "user", "item", "rating" FROM "ratings" ORDER BY "user", "item", "rating"'
    doc = json.loads((out / "report.json").read_text())
    assert doc["dataset"]["database"] == {
        "kind": "postgresql",
        "name": "shop",
        "query": query,
        "rows": len(ratings_rows()),
        "items_query": "SELECT item, name FROM titles",
    }
    assert doc["dataset"]["source"] == "database" and doc["dataset"]["name"] == "shop"
    assert doc["dataset"]["sha256"] == rows_sha256([r[:3] for r in ratings_rows()])
    page = (out / "report.html").read_text()
    assert "postgresql database <code>shop</code>" in page
    assert "<code>SELECT &#34;user&#34;, &#34;item&#34;" in page or "<code>SELECT &quot;user&quot;" in page
    markdown = (out / "report.md").read_text()
    assert "- **Data set:** shop (postgresql database), " in markdown
    assert f"- **SHA-256 of the {len(ratings_rows()):,} rows as read:** `{doc['dataset']['sha256']}`" in markdown
    assert "shop (postgresql)" in (out / "index.html").read_text()  # the history page
    assert "Named 2" in page  # titles from the items query; the items it has no title for keep their id
    assert "20 rated item(s) have no title in the items query; their id is the label" in doc["notes"]
    everything = _everything_in(out) + result.stdout + result.stderr
    assert _leaks(pg, everything) == []
    for server_detail in (pg.user, f"{pg.host}:{pg.port}", str(pg.socket_dir)):
        assert server_detail not in _everything_in(out)


def test_a_query_without_order_by_is_read_in_one_order_of_its_own(tmp_path: Path) -> None:
    """The rows come back ordered by user, item, time, rating (and title) whatever the query's own order."""
    rows = ratings_rows(30, 10)
    db = write_sqlite(tmp_path / "r.db", rows)
    first = data.load(DbData(url=f"sqlite:///{db}", query="SELECT * FROM ratings ORDER BY random()"), download=None)
    again = data.load(DbData(url=f"sqlite:///{db}", query="SELECT * FROM ratings ORDER BY title DESC;"), download=None)
    pd.testing.assert_frame_equal(first.frame, again.frame)
    assert first.provenance.sha256 == again.provenance.sha256 == rows_sha256(rows)
    assert first.provenance.database is not None
    assert first.provenance.database.query == (
        'SELECT "user", "item", "rating", "title" FROM (\nSELECT * FROM ratings ORDER BY random()\n) AS ratings '
        'ORDER BY "user", "item", "rating", "title"'
    )


def test_own_column_names_a_time_column_and_duplicates_as_for_files(tmp_path: Path) -> None:
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE sales (customer TEXT, sku TEXT, stars REAL, at TEXT)")
        conn.executemany(
            "INSERT INTO sales VALUES (?, ?, ?, ?)",
            [
                (f"c{u}", f"s{i}", 1 + (u + i) % 5, f"2024-01-{1 + (u * i) % 28:02d}")
                for u in range(20)
                for i in range(6)
            ]
            + [("c1", "s1", 5.0, "2024-02-01")],  # a later rating of the same pair
        )
    ratings = data.load(
        DbData(
            url=f"sqlite:///{db}", table="sales", user_col="customer", item_col="sku", rating_col="stars", time_col="at"
        ),
        download=None,
    )
    assert ratings.duplicates_dropped == 1
    kept = ratings.frame[(ratings.frame["user"] == "c1") & (ratings.frame["item"] == "s1")]
    assert kept["rating"].tolist() == [5.0]  # the later one: rows are ordered by time within a pair
    assert str(ratings.frame["timestamp"].dtype) == "int64"
    assert dict(ratings.provenance.columns) == {"user": "customer", "item": "sku", "rating": "stars", "time": "at"}


# --------------------------------------------------------------------------- bad input: one line, exit 2, no secret

Case = Callable[[Path], tuple[list[object], str]]


def _sqlite(tmp: Path, rows: list[tuple] | None = None) -> Path:
    return write_sqlite(tmp / "r.db", ratings_rows(20, 6) if rows is None else rows)


def _missing_file(tmp: Path):
    return ["--db", f"sqlite:///{tmp / 'nope.db'}", "--table", "ratings"], f"Error: {tmp / 'nope.db'}: no such file"


def _missing_table(tmp: Path):
    return ["--db", f"sqlite:///{_sqlite(tmp)}", "--table", "nope"], (
        "Error: sqlite database r.db: no table or view 'nope' (--table)"
    )


def _query_error(tmp: Path):
    return ["--db", f"sqlite:///{_sqlite(tmp)}", "--query", "SELECT * FROM nope"], (
        "Error: sqlite database r.db: the query failed: no such table: nope"
    )


def _empty_result(tmp: Path):
    return ["--db", f"sqlite:///{_sqlite(tmp)}", "--query", "SELECT * FROM ratings WHERE rating > 10"], (
        "Error: sqlite database r.db: the query returned no rows"
    )


def _missing_column(tmp: Path):
    return ["--db", f"sqlite:///{_sqlite(tmp)}", "--table", "ratings", "--rating-col", "stars"], (
        "Error: sqlite database r.db: missing column(s) stars; found user, item, rating, title; "
        "name the rating column with --rating-col"
    )


def _wrong_type(tmp: Path):
    rows = ratings_rows(20, 6)
    rows[4] = (rows[4][0], rows[4][1], "good", rows[4][3])  # SQLite keeps the text in a REAL column
    return ["--db", f"sqlite:///{_sqlite(tmp, rows)}", "--table", "ratings"], (
        "Error: sqlite database r.db: row 5: rating (column 'rating') 'good' is not a number"
    )


def _not_a_database(tmp: Path):
    (tmp / "r.db").write_text("user,item,rating\n1,2,3\n")
    return ["--db", f"sqlite:///{tmp / 'r.db'}", "--table", "ratings"], (
        "Error: sqlite database r.db: looking up the table failed: file is not a database"
    )


def _unsupported(tmp: Path):
    return ["--db", "mysql://someone:hunter2@db.example/shop", "--table", "ratings"], (
        "Error: --db: 'mysql' databases are not supported; use sqlite or postgresql"
    )


def _not_a_url(tmp: Path):
    return ["--db", "shop.db", "--table", "ratings"], (
        "Error: --db is not a database URL: give sqlite:///path/to/file.db or postgresql://user@host:port/database "
        "(the password from PGPASSWORD or ~/.pgpass)"
    )


def _db_with_ratings(tmp: Path):
    csv = write_csv(tmp / "ratings.csv", ratings_rows(5, 5))
    return ["--db", f"sqlite:///{_sqlite(tmp)}", "--table", "ratings", "--ratings", csv], (
        "Error: --db and --ratings cannot be used together: --db reads the ratings from a database, --ratings from a file"
    )


def _query_without_db(tmp: Path):
    return ["--query", "SELECT * FROM ratings"], "Error: --query only apply to a database: add --db URL"


def _db_without_query(tmp: Path):
    return [
        "--db",
        f"sqlite:///{_sqlite(tmp)}",
    ], "Error: --db needs --query SQL (a SELECT of the ratings) or --table NAME"


def _query_and_table(tmp: Path):
    return ["--db", f"sqlite:///{_sqlite(tmp)}", "--table", "ratings", "--query", "SELECT 1"], (
        "Error: --query and --table cannot be used together: give the query, or the table to read"
    )


def _items_file_with_db(tmp: Path):
    items = tmp / "items.csv"
    items.write_text("item,title\n1,A\n")
    return ["--db", f"sqlite:///{_sqlite(tmp)}", "--table", "ratings", "--items", items], (
        "Error: --items only apply to a ratings file; with --db, titles come from --items-query"
    )


SQLITE_CASES: list[tuple[str, Case]] = [
    ("missing SQLite file", _missing_file),
    ("missing table", _missing_table),
    ("query error", _query_error),
    ("empty result", _empty_result),
    ("missing column", _missing_column),
    ("a column of the wrong type", _wrong_type),
    ("not an SQLite file", _not_a_database),
    ("unsupported database", _unsupported),
    ("not a URL", _not_a_url),
    ("--db with --ratings", _db_with_ratings),
    ("--query without --db", _query_without_db),
    ("--db without --query or --table", _db_without_query),
    ("--query with --table", _query_and_table),
    ("--items with --db", _items_file_with_db),
]


def _assert_one_line(result: object, out: Path, line: str) -> None:
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    errors = [text for text in result.stderr.splitlines() if text.startswith("Error:")]  # type: ignore[attr-defined]
    assert errors == [line]
    assert result.stderr.splitlines()[-1] == line  # type: ignore[attr-defined]
    assert "Traceback" not in result.output and result.stdout == ""  # type: ignore[attr-defined]
    assert (out / "report.html").read_bytes() == PREVIOUS_HTML
    assert (out / "report.json").read_bytes() == PREVIOUS_JSON
    assert_nothing_left(out)


@pytest.mark.parametrize("case", [c for _, c in SQLITE_CASES], ids=[name for name, _ in SQLITE_CASES])
def test_bad_sqlite_input_is_one_error_line_exit_2(case: Case, tmp_path: Path, out: Path) -> None:
    args, line = case(tmp_path)
    _assert_one_line(invoke("build", "--output", out, *FAST, *args), out, line)


def _pg_cases(pg: PgServer) -> list[tuple[str, list[object], str, dict[str, str]]]:
    """(id, arguments, the Error line, environment): every way a PostgreSQL read can fail."""
    closed = free_port()
    return [
        (
            "unreachable server",
            ["--db", pg.url(port=closed), "--table", "ratings"],
            f"Error: --db {pg.redacted(port=closed)}: cannot connect: the connection was refused "
            "(is the server running, and the port right?)",
            {},
        ),
        (
            "wrong password",
            ["--table", "ratings"],
            f"Error: --db {pg.redacted()}: the server refused the login (a wrong password or user); give the "
            "password in REPORTGEN_DB, PGPASSWORD or a ~/.pgpass file",
            {"REPORTGEN_DB": pg.url(password=pg.password[::-1])},
        ),
        (
            "no such database",
            ["--db", pg.url(database="nodb"), "--table", "ratings"],
            f"Error: --db {pg.redacted(database='nodb')}: the server has no database 'nodb'",
            {},
        ),
        (
            "missing table",
            ["--db", pg.url(), "--table", "nope"],
            "Error: postgresql database shop: no table or view 'nope' (--table)",
            {},
        ),
        (
            "query error",
            ["--db", pg.url(), "--query", "SELECT * FROM nope"],
            'Error: postgresql database shop: the query failed: relation "nope" does not exist',
            {},
        ),
        (
            "query naming the password",
            ["--db", pg.url(), "--query", f"SELECT * FROM ratings WHERE title = '{pg.password}' AND nope"],
            'Error: postgresql database shop: the query failed: column "nope" does not exist',
            {},
        ),
        (
            "empty result",
            ["--db", pg.url(), "--query", "SELECT * FROM ratings WHERE rating > 10"],
            "Error: postgresql database shop: the query returned no rows",
            {},
        ),
        (
            "a column of the wrong type",
            ["--db", pg.url(), "--table", "words"],
            "Error: postgresql database shop: row 3: rating (column 'rating') 'good' is not a number",
            {},
        ),
    ]


def test_bad_postgresql_input_is_one_error_line_exit_2_and_never_shows_the_password(
    pg: PgServer, tmp_path: Path
) -> None:
    for name, args, line, env in _pg_cases(pg):
        out = tmp_path / name.replace(" ", "-")
        out.mkdir()
        previous_report(out)
        result = invoke("build", "--output", out, *FAST, *args, env=env)
        _assert_one_line(result, out, line)
        assert _leaks(pg, result.stdout, result.stderr, _everything_in(out)) == [], name
        debug = invoke("build", "--output", out, *FAST, *args, "--debug", env=env)  # no traceback carries it either
        assert _leaks(pg, debug.stdout, debug.stderr) == [], name


def test_a_missing_driver_names_the_extra_that_installs_it(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as on a machine without the `postgres` extra
    result = invoke("build", "--output", out, *FAST, "--db", "postgresql://me:hunter2@localhost/shop", "--table", "t")
    _assert_one_line(
        result,
        out,
        "Error: --db: reading PostgreSQL needs the psycopg driver, which is not installed: "
        "pip install 'reportgen[postgres]'",
    )
    assert "hunter2" not in result.output


def test_a_database_run_reads_back_and_renders_the_same_page(tmp_path: Path) -> None:
    """report.json's `database` is read back (reportgen render) to the same page and report.md."""
    db = write_sqlite(tmp_path / "r.db", ratings_rows(40, 12))
    out = tmp_path / "out"
    built = invoke(
        "build", "--output", out, "--quiet", *FAST, "--db", f"sqlite:///{db}", "--query", "SELECT * FROM ratings"
    )
    assert built.exit_code == 0, built.output
    again = tmp_path / "again"
    rendered = invoke("render", out / "latest", "--output", again)
    assert rendered.exit_code == 0, rendered.output
    for name in ("report.html", "report.md", "report.json"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    assert "sqlite database <code>r.db</code>" in (again / "report.html").read_text()


def test_the_url_from_a_config_file_finds_its_sqlite_file_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "nightly"
    folder.mkdir()
    write_sqlite(folder / "r.db", ratings_rows(40, 12))
    config = folder / "nightly.toml"
    config.write_text('db = "sqlite:///r.db"\ntable = "ratings"\n')
    result = invoke("build", "--config", config, "--output", tmp_path / "out", "--quiet", *FAST)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "report.json").read_text())["dataset"]["database"]["name"] == "r.db"


# --------------------------------------------------------------------------- memory: chunks by bytes, a ceiling


def test_wide_rows_come_in_chunks_of_about_the_same_bytes_as_narrow_ones(tmp_path: Path) -> None:
    """A chunk is `ROWS_PER_FETCH` narrow rows, or as many wide rows as make about `BYTES_PER_FETCH` bytes."""
    from reportgen.data import sqlrows

    db = tmp_path / "wide.db"
    wide = [(u, u % 7, 4.0, f"{u:05d} " + "x" * 100_000) for u in range(400)]  # 100 kB titles: 40 MB in all
    narrow = [(u, u % 7, 4.0, "short") for u in range(120_000)]
    with sqlite3.connect(db) as conn:
        for table, rows in (("wide", wide), ("narrow", narrow)):
            conn.execute(f'CREATE TABLE {table} ("user" INTEGER, item INTEGER, rating REAL, title TEXT)')
            conn.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?)", rows)
    columns = ["user", "item", "rating", "title"]
    sizes = {}
    with sqlite3.connect(db) as conn:
        for table in ("wide", "narrow"):
            cursor = conn.execute(f"SELECT * FROM {table}")
            chunks = list(sqlrows.cursor_chunks(cursor, columns, table))
            sizes[table] = [(len(c[0]), sum(a.nbytes for a in c)) for c in chunks]
    assert sum(n for n, _ in sizes["wide"]) == 400 and sum(n for n, _ in sizes["narrow"]) == 120_000
    assert sizes["wide"][0][0] == sqlrows.FIRST_FETCH
    assert {n for n, _ in sizes["wide"][1:-1]} == {sqlrows.BYTES_PER_FETCH // (100_006 + 8 + 8 + 8 + 4)}  # 83 rows
    assert max(b for _, b in sizes["wide"]) <= sqlrows.BYTES_PER_FETCH
    assert [n for n, _ in sizes["narrow"][1:]] == [50_000, 50_000, 120_000 - 50_000 * 2 - sqlrows.FIRST_FETCH]


def test_rows_that_would_not_fit_in_memory_stop_the_read_in_one_line(
    tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the rows held pass a third of the memory free when the read began: one line, before the kernel's
    OOM killer (the machine's free memory is the one thing faked: 12 MiB; the rows take 1 MB each)."""
    from reportgen import machine

    rows = [(u, u % 7, 4.0, f"{u:05d} " + "x" * 1_000_000) for u in range(60)]
    db = write_sqlite(tmp_path / "huge.db", rows)
    monkeypatch.setattr(machine, "memory_available", lambda: 12 << 20)
    result = invoke("build", "--output", out, *FAST, "--db", f"sqlite:///{db}", "--table", "ratings")
    _assert_one_line(
        result,
        out,
        "Error: sqlite database huge.db: the 8 rows read so far take 8 MiB of memory, and making ratings of them "
        "about 3 times that, more than the 12 MiB free: select fewer rows or shorter columns",
    )


def test_a_sqlite_column_mixing_numbers_and_text_reads_as_text_however_the_rows_are_chunked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite lets a column hold 7 in one row and 'u7' in another: the ids are read as text, in one chunk or many."""
    from reportgen.data import sqlrows

    rows = [
        (u if u % 3 else f"u{u}", i, float(1 + (u + i) % 5), None if u == 4 else f"Film {i}")
        for u, i, *_ in ratings_rows(30, 8)
    ]
    db = write_sqlite(tmp_path / "mixed.db", rows)
    whole = data.load(DbData(url=f"sqlite:///{db}", table="ratings"), download=None)
    assert {"7", "u3"} <= set(whole.frame["user"].astype(str))
    monkeypatch.setattr(sqlrows, "ROWS_PER_FETCH", 3)
    monkeypatch.setattr(sqlrows, "WINDOW_BYTES", 64)
    chunked = data.load(DbData(url=f"sqlite:///{db}", table="ratings"), download=None)
    pd.testing.assert_frame_equal(chunked.frame, whole.frame)
    assert chunked.provenance.sha256 == whole.provenance.sha256
