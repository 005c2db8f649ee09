"""PostgreSQL ratings whatever their text holds: the same table and SHA-256 as SQLite's, and one line on failure.

The same rows in SQLite and in PostgreSQL (integer, double precision and text columns) give one
frame and one SHA-256, whatever the titles hold (tabs, newlines, backslashes, a literal backslash-N),
however the rows fall into the cursor's chunks, and whatever the server's float settings;
`numeric` ratings and `timestamp` times read as the same numbers, `uuid` ids as their text (as a
CSV of the same rows gives them). Every failure is one worded line, exit 2: a query that fails
midway, the server ending the session mid-read (not the rollback that fails after it), a rating
that is infinite or NaN (worded as a CSV's: `'inf'`, `'nan'`), and a password file libpq would
skip (one line of reportgen's, not libpq's warning and then contrary advice).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

from reportgen.data import dataset as data
from reportgen.data import sqlrows
from reportgen.data.types import DbData, Ratings
from tests.helpers.commands import PREVIOUS_HTML, PREVIOUS_JSON, assert_nothing_left, invoke, previous_report
from tests.helpers.postgres import PgServer, pg_server  # noqa: F401  (pg_server: the fixture)

pytestmark = pytest.mark.usefixtures("undrawn")
FAST = ["--epochs", "1", "--factors", "8", "--lr", "0.01", "--seed", "7"]
COLUMNS_SQL = '"user" bigint, item integer, rating double precision, title text'
HOSTILE = [
    "tab\there",
    "new\nline",
    "carriage\rreturn",
    "back\\slash",
    "\\N",
    "a\\tb",
    "bell\b form\f vertical\v",
    "ünïcødé ☃",
    '"quoted", with a comma',
    "ends with a backslash\\",
]


def rows_with_titles(titles: list[str], n_users: int = 30, n_items: int = 12) -> list[tuple]:
    """About 150 ratings over `n_users` x `n_items`, item i titled titles[i % len]; reals that need 17 digits."""
    rows = []
    for user in range(n_users):
        for item in range(n_items):
            if (user * 7 + item * 3) % 5 < 2:
                rating = 1 + (user + 2 * item) % 5 + (0.1 + 0.2 if item % 3 == 0 else 0.5)
                rows.append((user + 2**40, item, rating, titles[item % len(titles)]))
    return rows


def hand_sha256(rows: list[tuple]) -> str:
    """docs/data-sources.md's definition, by hand, escapes included (reals here are all plain: repr without '.0')."""

    def text(value: object) -> str:
        if isinstance(value, float):
            return repr(value).removesuffix(".0")
        escaped = str(value)
        for raw, escape in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
            escaped = escaped.replace(raw, escape)
        return escaped

    lines = "".join("\t".join(text(v) for v in row) + "\n" for row in rows)
    return hashlib.sha256(lines.encode()).hexdigest()


def sqlite_twin(path: Path, rows: list[tuple]) -> str:
    with sqlite3.connect(path) as db:
        db.execute('CREATE TABLE ratings ("user" INTEGER, item INTEGER, rating REAL, title TEXT)')
        db.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?)", rows)
    return f"sqlite:///{path}"


def read(url: str, **spec: str) -> Ratings:
    return data.load(DbData(url=url, **spec), download=None)


def assert_same_read(got: Ratings, want: Ratings) -> None:
    pd.testing.assert_frame_equal(got.frame, want.frame)
    assert got.provenance.sha256 == want.provenance.sha256


def test_hostile_titles_read_and_hash_alike_from_postgresql_and_from_sqlite(
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
) -> None:
    rows = rows_with_titles(HOSTILE)
    pg_server.load("hostile", COLUMNS_SQL, rows)
    postgres = read(pg_server.url(), table="hostile")
    sqlite = read(sqlite_twin(tmp_path / "r.db", rows), table="ratings")
    assert_same_read(postgres, sqlite)
    assert postgres.provenance.sha256 == hand_sha256(sorted(rows))
    titles = set(postgres.frame["title"])
    assert {"back\\slash", "\\N", "a\\tb", "ends with a backslash\\", '"quoted", with a comma'} <= titles
    assert 0.1 + 0.2 + 1 in set(postgres.frame["rating"])  # 1.3000000000000003: every digit kept


def test_rows_read_in_many_small_chunks_are_the_same_read(
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks end anywhere among the rows: some all plain, some with escapes, NULLs or reals written with exponents."""
    rows = rows_with_titles(["plain"] * 7 + ["tab\there", "\\N"])
    rows += [(1, 99, 4.0, None), (2, 98, 12345678901.5, "big real"), (3, 97, 1e-05, "small real")]
    pg_server.load("chunks", COLUMNS_SQL, rows)
    whole = read(pg_server.url(), table="chunks")
    monkeypatch.setattr(sqlrows, "ROWS_PER_FETCH", 2)
    assert_same_read(read(pg_server.url(), table="chunks"), whole)
    monkeypatch.setattr(sqlrows, "WINDOW_BYTES", 100)  # and joined a few chunks at a time: NULL-only ones among them
    assert_same_read(read(pg_server.url(), table="chunks"), whole)
    assert_same_read(whole, read(sqlite_twin(tmp_path / "r.db", rows), table="ratings"))


def test_a_server_writing_reals_in_15_digits_still_gives_every_digit_and_the_same_sha256(
    pg_server: PgServer,  # noqa: F811
) -> None:
    rows = rows_with_titles([f"Film {i}" for i in range(12)])
    pg_server.load("digits", COLUMNS_SQL, rows)
    fifteen = pg_server.url() + "?options=-c%20extra_float_digits%3D0"  # the pre-12 default, set per session
    assert_same_read(read(fifteen, table="digits"), read(pg_server.url(), table="digits"))
    assert read(fifteen, table="digits").provenance.sha256 == hand_sha256(sorted(rows))


def test_numeric_ratings_and_timestamps_read_as_the_same_numbers(
    pg_server: PgServer,  # noqa: F811
) -> None:
    rows = [(u, i, float(1 + (u + i) % 5), f"2024-01-{1 + (u * i) % 28:02d}") for u in range(20) for i in range(6)]
    pg_server.load("typed", '"user" integer, item integer, rating numeric(3, 1), at timestamp', rows)
    pg_server.load("plain", '"user" integer, item integer, rating double precision, at text', rows)
    typed = read(pg_server.url(), table="typed", time_col="at")
    plain = read(pg_server.url(), table="plain", time_col="at")
    assert typed.frame["rating"].tolist() == plain.frame["rating"].tolist()
    assert typed.frame["timestamp"].tolist() == plain.frame["timestamp"].tolist()


def test_a_query_failing_midway_through_the_read_is_one_line_and_the_report_is_untouched(
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
) -> None:
    pg_server.load("midway", COLUMNS_SQL, rows_with_titles([f"Film {i}" for i in range(12)]))
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_bytes(b"<p>yesterday</p>\n")
    (out / "report.json").write_bytes(b'{"valid_rmse": 0.92}\n')
    query = 'SELECT "user", item, rating / (item - 5) AS rating FROM midway'  # item 5: division by zero, mid-read
    result = invoke("build", "--output", out, *FAST, "--db", pg_server.url(), "--query", query)
    assert result.exit_code == 2, result.output
    line = "Error: postgresql database shop: the query failed: division by zero"
    assert [text for text in result.stderr.splitlines() if text.startswith("Error:")] == [line]
    assert result.stderr.splitlines()[-1] == line and "Traceback" not in result.output
    assert result.stdout == ""
    assert (out / "report.html").read_bytes() == b"<p>yesterday</p>\n"
    assert (out / "report.json").read_bytes() == b'{"valid_rmse": 0.92}\n'
    assert_nothing_left(out)


# --------------------------------------------------------------------------- every failure in words, exit 2


def _one_error_line(result: object, out: Path, line: str) -> None:
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert [t for t in result.stderr.splitlines() if t.startswith("Error:")] == [line]  # type: ignore[attr-defined]
    assert result.stderr.splitlines()[-1] == line  # type: ignore[attr-defined]
    assert "Traceback" not in result.output and "Exception" not in result.output  # type: ignore[attr-defined]
    assert (out / "report.html").read_bytes() == PREVIOUS_HTML
    assert (out / "report.json").read_bytes() == PREVIOUS_JSON
    assert_nothing_left(out)


def test_the_server_ending_the_session_mid_read_is_told_in_words_not_by_the_rollback_after_it(
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rows come in order from an index, 10 at a time, each tested as it is fetched: the first 25 users' rows
    arrive, and the row of user 25 has the server end the session (`pg_terminate_backend`)."""
    import psycopg

    pg_server.load("ended", COLUMNS_SQL, rows_with_titles([f"Film {i}" for i in range(12)]))
    with psycopg.connect(pg_server.url()) as conn:
        conn.execute('CREATE INDEX ended_order ON ended ("user", item, rating, title)')
        conn.execute("ANALYZE ended")
    monkeypatch.setattr(sqlrows, "ROWS_PER_FETCH", 10)
    out = previous_report(tmp_path / "out")
    query = 'SELECT * FROM ended WHERE "user" < 25 + 2^40 OR pg_terminate_backend(pg_backend_pid())'
    by_index = pg_server.url() + "?options=-c%20enable_seqscan%3Doff"  # rows as the index gives them, no sort first
    result = invoke("build", "--output", out, *FAST, "--db", by_index, "--query", query)
    _one_error_line(
        result,
        out,
        "Error: postgresql database shop: the server ended the session during the query: "
        "terminating connection due to administrator command",
    )


def test_uuid_ids_train_as_their_text_does_from_a_csv(
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
) -> None:
    users = [uuid.UUID(int=u * 7919 + 1) for u in range(60)]
    items = [uuid.UUID(int=i * 104729 + 3) for i in range(20)]
    rows = [(u, i, float(1 + (a + b) % 5)) for a, u in enumerate(users) for b, i in enumerate(items) if (a + b) % 3]
    rows.sort(key=lambda r: (str(r[0]), str(r[1])))  # the order --db reads them in
    pg_server.load("uuids", '"user" uuid, item uuid, rating double precision', rows)
    csv = tmp_path / "ratings.csv"
    csv.write_text("user,item,rating\n" + "".join(f"{u},{i},{r:g}\n" for u, i, r in rows))
    reports = {}
    for name, args in {"csv": ["--ratings", csv], "db": ["--db", pg_server.url(), "--table", "uuids"]}.items():
        result = invoke("build", "--output", tmp_path / name, "--quiet", *FAST, *args)
        assert result.exit_code == 0, result.output
        reports[name] = json.loads((tmp_path / name / "report.json").read_text())
    numbers = {
        name: (r["dataset"]["n_ratings"], r["metrics"]["valid_mse"], [i["title"] for i in r["items"]])
        for name, r in reports.items()
    }
    assert numbers["db"] == numbers["csv"]
    assert str(items[1]) in numbers["db"][2]  # the id is the label: the uuid as PostgreSQL writes it


@pytest.mark.parametrize(("value", "shown"), [("infinity", "'inf'"), ("-infinity", "'-inf'"), ("NaN", "'nan'")])
def test_a_rating_that_is_no_finite_number_is_worded_as_a_csv_words_it(
    value: str,
    shown: str,
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
) -> None:
    rows = rows_with_titles([f"Film {i}" for i in range(12)])
    pg_server.load("odd", COLUMNS_SQL, rows)
    out = previous_report(tmp_path / "out")
    query = f"""SELECT "user", item, CASE WHEN item = 4 THEN '{value}'::float8 ELSE rating END AS rating FROM odd"""
    result = invoke("build", "--output", out, *FAST, "--db", pg_server.url(), "--query", query)
    row = 1 + sorted(rows).index(next(r for r in sorted(rows) if r[1] == 4))
    _one_error_line(
        result, out, f"Error: postgresql database shop: row {row}: rating (column 'rating') {shown} is not a number"
    )
    csv = tmp_path / "odd.csv"
    csv.write_text("user,item,rating\n1,2,4\n1,3," + shown.strip("'") + "\n")
    said = invoke("build", "--output", out, *FAST, "--ratings", csv)
    assert said.stderr.splitlines()[-1].endswith(f"rating (column 'rating') {shown} is not a number")


def test_a_password_file_others_can_read_is_one_line_of_reportgens_not_libpqs_warning_and_advice(
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """libpq writes its warning to the process's stderr itself: the build runs as a process of its own here."""
    pg_server.load("guarded", COLUMNS_SQL, rows_with_titles([f"Film {i}" for i in range(12)]))
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:{pg_server.user}:{pg_server.password}\n")
    passfile.chmod(0o640)
    out = previous_report(tmp_path / "out")
    url = f"postgresql://{pg_server.user}@{pg_server.host}:{pg_server.port}/{pg_server.database}"
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"} | {"PGPASSFILE": str(passfile)}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    args = ["build", "--output", str(out), "--quiet", *FAST, "--db", url, "--table", "guarded"]
    done = subprocess.run(
        [sys.executable, "-m", "reportgen", *args], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"Error: --db {url}: the server wants a password, and libpq does not use {passfile}: other users can read it "
        f"(chmod 600 {passfile})"
    ]
    assert done.stdout == ""
    assert (out / "report.html").read_bytes() == PREVIOUS_HTML
    passfile.chmod(0o600)  # the advice works: the same URL reads
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    assert read(url, table="guarded").n_ratings == len(rows_with_titles(["x"]))
