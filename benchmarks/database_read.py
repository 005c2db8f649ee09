"""How long `build --db` takes to read ratings from PostgreSQL, against the same rows from Parquet (`--ratings`).

A script, not a test: timings depend on the machine (the load average is printed beside each figure).

    .venv/bin/python benchmarks/database_read.py                       # 1M ratings
    .venv/bin/python benchmarks/database_read.py --sizes 1m 10m --data benchmarks/.data

It starts a throw-away PostgreSQL 15 (tests/helpers/postgres.py: Debian's initdb and pg_ctl, a
temporary folder, a free port), loads benchmarks/.data/planted-<size>.csv into a table with
`COPY … FROM STDIN` (psql), and then reads the same rows in several ways, each in a fresh process:

- parquet: `readers.read_ratings_file` on planted-<size>.parquet (pyarrow's multi-threaded read);
- postgresql: `database.read_database` on the table (SQLAlchemy + psycopg 3, a server-side cursor,
  ORDER BY user, item, rating, chunks of `ROWS_PER_FETCH` rows hashed and typed as they come);
- baseline (with --baseline DIR): the same `read_database` from another checkout (an earlier commit);
- psycopg: the driver alone on the same ordered query, rows fetched and dropped (the floor of the above);
- copy: libpq alone on `COPY (the same query) TO STDOUT`, its row messages (one per row) gathered
  into 4 MiB blocks and dropped: the floor of a COPY path (the server's sort and the COPY itself);
- copy-unordered: the same without the ORDER BY (what the server's sort costs is the difference);
- adbc (with --adbc DIR): ADBC's PostgreSQL driver on the same query, straight into one Arrow table;
- adbc+typed (with --adbc DIR): ADBC's Arrow batches streamed through reportgen's hash and typed
  read, what an ADBC path for `--db postgresql://` would cost.

With --rounds N each read runs N times, the reads taking turns (the load drifts). For each: wall
seconds, the client process's CPU seconds (user + system, the server's not counted: less swayed by
the load than wall time), peak RSS (MiB) and the 1-minute load average when it ended.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.postgres import PG_BIN, running_server  # noqa: E402  (the same server the tests start)

READ = r"""
import json, resource, sys, time
from pathlib import Path
kind, where = sys.argv[1], sys.argv[2]
ORDERED = 'SELECT "user", "item", "rating" FROM "ratings" ORDER BY "user", "item", "rating"'
started = time.perf_counter()
if kind == "parquet":
    from reportgen.data.readers import read_ratings_file
    from reportgen.data.types import OwnData
    rows = read_ratings_file(OwnData(ratings=Path(where))).n_ratings
elif kind in ("postgresql", "baseline"):  # baseline: the same, from another checkout
    from reportgen.data.database import read_database
    from reportgen.data.types import DbData
    rows = read_database(DbData(url=where, table="ratings")).n_ratings
elif kind in ("copy", "copy-unordered"):  # libpq alone: the COPY's row messages gathered into blocks and dropped
    import psycopg
    rows = 0
    query = ORDERED if kind == "copy" else ORDERED.partition(" ORDER BY ")[0]
    with psycopg.connect(where) as conn:
        pgconn = conn.pgconn
        pgconn.send_query(f"COPY ({query}) TO STDOUT".encode())
        assert pgconn.get_result().status == psycopg.pq.ExecStatus.COPY_OUT
        block = bytearray()
        while (got := pgconn.get_copy_data(0))[0] > 0:
            block += got[1]
            rows += 1
            if len(block) >= 4 << 20:
                block = bytearray()
        while pgconn.get_result() is not None:
            pass
elif kind == "psycopg":  # the driver alone: the same query, rows fetched and dropped
    import psycopg
    rows = 0
    with psycopg.connect(where) as conn, conn.cursor(name="bench") as cursor:
        cursor.execute(ORDERED)
        while chunk := cursor.fetchmany(50_000):
            rows += len(chunk)
elif kind == "adbc":  # the same query straight into an Arrow table (COPY binary, parsed in C++)
    import adbc_driver_postgresql.dbapi as adbc
    with adbc.connect(where) as conn, conn.cursor() as cursor:
        cursor.execute(ORDERED)
        rows = cursor.fetch_arrow_table().num_rows
else:  # adbc+typed: ADBC's Arrow batches through reportgen's hash and typed read, as an ADBC path would
    import adbc_driver_postgresql.dbapi as adbc
    from reportgen.data.sqlrows import collect
    from reportgen.data.tables import Layout, read_arrow
    with adbc.connect(where) as conn, conn.cursor() as cursor:
        cursor.execute(ORDERED)
        batches = ([b.column(i) for i in range(b.num_columns)] for b in cursor.fetch_record_batch())
        table, digest, rows = collect(batches, ["user", "item", "rating"])
    frame, _ = read_arrow(table, Layout("ratings", ",", "utf-8", "user", "item", "rating"))
seconds = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "rows": rows, "cpu": usage.ru_utime + usage.ru_stime,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def read_once(*args: str, extra_path: Path | None = None, root: Path = ROOT) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in (root, extra_path) if p is not None)}
    # cwd=root: `python -c` puts the current folder first on sys.path, so a --baseline read from the
    # repository's root would otherwise import this checkout, not the baseline's
    done = subprocess.run(
        [sys.executable, "-c", READ, *args], capture_output=True, text=True, env=env, check=True, cwd=root
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["load"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["1m"], help="planted sizes: 100k, 300k, 1m, 10m")
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / ".data", help="the planted files' folder")
    parser.add_argument(
        "--adbc",
        type=Path,
        help="also time ADBC's PostgreSQL driver, installed apart: pip install --target DIR adbc-driver-postgresql",
    )
    parser.add_argument(
        "--baseline", type=Path, help="also time read_database from this checkout (git archive COMMIT | tar -x -C DIR)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="run each read this many times, taking turns")
    args = parser.parse_args()
    with running_server() as server:
        psql = [str(PG_BIN / "psql"), "-h", str(server.socket_dir), "-p", str(server.port), "-U", "postgres"]
        psql += ["-d", server.database, "-v", "ON_ERROR_STOP=1", "-q"]
        runuser = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        for size in args.sizes:
            csv, parquet = args.data / f"planted-{size}.csv", args.data / f"planted-{size}.parquet"
            started = time.perf_counter()
            setup = (
                "DROP TABLE IF EXISTS ratings; "
                'CREATE TABLE ratings ("user" integer, item integer, rating double precision); '
                f"ALTER TABLE ratings OWNER TO {server.user};"
            )
            subprocess.run([*runuser, *psql, "-c", setup], check=True)
            with csv.open("rb") as rows:
                copy = "\\copy ratings FROM STDIN WITH (FORMAT csv, HEADER)"
                subprocess.run([*runuser, *psql, "-c", copy], stdin=rows, check=True)
            subprocess.run([*runuser, *psql, "-c", "VACUUM ANALYZE ratings"], check=True)
            print(f"{size}: loaded with COPY in {time.perf_counter() - started:.1f} s (load {os.getloadavg()[0]:.2f})")
            reads = [("parquet", str(parquet), None)] if parquet.is_file() else []
            reads += [("baseline", server.url(), None)] if args.baseline is not None else []
            reads += [("postgresql", server.url(), None), ("psycopg", server.url(), None)]
            reads += [("copy", server.url(), None), ("copy-unordered", server.url(), None)]
            if args.adbc is not None:
                reads += [("adbc", server.url(), args.adbc), ("adbc+typed", server.url(), args.adbc)]
            for kind, where, extra in reads * args.rounds:
                root = args.baseline if kind == "baseline" else ROOT
                shown = read_once(kind, where, extra_path=extra, root=root)
                print(
                    f"{size}: {kind:<14} {shown['seconds']:7.2f} s  cpu {shown['cpu']:6.2f} s  peak {shown['peak_mib']:7.0f} MiB  "
                    f"{int(shown['rows']):,} rows  (load {shown['load']:.2f})"
                )


if __name__ == "__main__":
    main()
