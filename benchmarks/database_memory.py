"""Peak memory of `build --db` against the same rows read from a CSV file, with long titles in every row.

A script, not a test: it writes a CSV of about `--title-gb` GB of titles (every rating carries its
item's title, `--title-bytes` long, as a query joining ratings to items returns them), loads it into
a throw-away PostgreSQL 15 (tests/helpers/postgres.py) with `COPY … FROM STDIN` (psql), and then
loads the ratings each way in a fresh process, printing wall seconds and peak RSS (ru_maxrss):

- csv: `data.load(OwnData(ratings=FILE))`, the file read in 4 MiB blocks;
- postgresql: `data.load(DbData(url, table="ratings"))`, the server-side cursor's chunks;
- baseline (with --baseline DIR): the same `--db` load from another checkout (git archive COMMIT | tar -x -C DIR).

    .venv/bin/python benchmarks/database_memory.py                      # 1.5 GB of titles
    .venv/bin/python benchmarks/database_memory.py --title-gb 0.45 --baseline /tmp/base

Each load is the whole load stage (typed read, titles cleaned and cut, duplicates): where a run's
memory peaks for wide rows. The target of issue 31: `--db` at most twice the CSV path's peak.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.postgres import PG_BIN, running_server  # noqa: E402  (the same server the tests start)

LOAD = r"""
import json, resource, sys, time
from pathlib import Path
kind, where = sys.argv[1], sys.argv[2]
import reportgen
from reportgen.data import DbData, OwnData, load
assert reportgen.__file__.startswith(sys.argv[3]), (reportgen.__file__, sys.argv[3])
started = time.perf_counter()
source = OwnData(ratings=Path(where)) if kind == "csv" else DbData(url=where, table="ratings")
ratings = load(source, download=None)
print(json.dumps({"seconds": time.perf_counter() - started, "rows": ratings.n_ratings,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_csv(path: Path, gigabytes: float, title_bytes: int, n_items: int) -> int:
    """user,item,rating,title rows: each of `n_items` items titled with `title_bytes` of its own text; returns rows."""
    rng = random.Random(31)
    pool = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz      ", k=2 * title_bytes))
    starts = [rng.randrange(title_bytes) for _ in range(n_items)]
    titles = [f"Title {i:06d} " + pool[start : start + title_bytes - 13] for i, start in enumerate(starts)]
    rows = int(gigabytes * 1e9 / title_bytes)
    per_user = 100
    with path.open("w", encoding="utf-8") as out:
        out.write("user,item,rating,title\n")
        for row in range(rows):
            user, item = divmod(row, per_user)
            item = (item * 37 + user * 11) % n_items
            out.write(f"{user},{item},{1 + (user + item) % 5},{titles[item]}\n")
    return rows


def load_once(kind: str, where: str, root: Path = ROOT) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    # cwd=root: `python -c` puts the current folder first on sys.path, before PYTHONPATH
    done = subprocess.run(
        [sys.executable, "-c", LOAD, kind, where, str(root)], capture_output=True, text=True, env=env, cwd=root
    )
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--title-gb", type=float, default=1.5, help="GB of title text over all rows")
    parser.add_argument("--title-bytes", type=int, default=5000, help="each title's length")
    parser.add_argument("--items", type=int, default=3000, help="distinct items (and titles)")
    parser.add_argument("--baseline", type=Path, help="also load with --db from this checkout")
    parser.add_argument("--rounds", type=int, default=1, help="load each way this many times, taking turns")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reportgen-dbmem-") as tmp, running_server() as server:
        csv = Path(tmp) / "ratings.csv"
        os.chmod(tmp, 0o755)  # psql, run as postgres, reads the file through its stdin only
        started = time.perf_counter()
        rows = write_csv(csv, args.title_gb, args.title_bytes, args.items)
        print(f"wrote {rows:,} rows, {csv.stat().st_size / 1e9:.2f} GB, in {time.perf_counter() - started:.1f} s")
        psql = [str(PG_BIN / "psql"), "-h", str(server.socket_dir), "-p", str(server.port), "-U", "postgres"]
        psql += ["-d", server.database, "-v", "ON_ERROR_STOP=1", "-q"]
        runuser = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        setup = (
            'CREATE TABLE ratings ("user" integer, item integer, rating double precision, title text); '
            f"ALTER TABLE ratings OWNER TO {server.user};"
        )
        subprocess.run([*runuser, *psql, "-c", setup], check=True)
        started = time.perf_counter()
        with csv.open("rb") as stream:
            copy = "\\copy ratings FROM STDIN WITH (FORMAT csv, HEADER)"
            subprocess.run([*runuser, *psql, "-c", copy], stdin=stream, check=True)
        subprocess.run([*runuser, *psql, "-c", "VACUUM ANALYZE ratings"], check=True)
        print(f"loaded into PostgreSQL in {time.perf_counter() - started:.1f} s")
        loads = [("csv", str(csv), ROOT), ("postgresql", server.url(), ROOT)]
        if args.baseline is not None:
            loads.append(("baseline", server.url(), args.baseline))
        peaks: dict[str, list[float]] = {}
        for kind, where, root in loads * args.rounds:
            shown = load_once("csv" if kind == "csv" else "db", where, root)
            if "error" in shown:
                print(f"{kind:<11} failed: {shown['error']}  (load {os.getloadavg()[0]:.2f})")
                continue
            peaks.setdefault(kind, []).append(shown["peak_mib"])
            print(
                f"{kind:<11} {shown['seconds']:7.1f} s  peak {shown['peak_mib']:7.0f} MiB  {int(shown['rows']):,} rows  "
                f"(load {os.getloadavg()[0]:.2f})"
            )
        if "csv" in peaks:
            for kind in ("postgresql", "baseline"):
                if kind in peaks:
                    print(f"{kind} / csv peak: {max(peaks[kind]) / max(peaks['csv']):.2f}")


if __name__ == "__main__":
    main()
