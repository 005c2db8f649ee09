"""What the nightly review adds to a build: two nights on the same data into one folder, the second reviewed.

A script, not a test: it prints figures with the 1-minute load average beside each (run it
on a quiet machine, nothing else beside it).

    .venv/bin/python benchmarks/review_cost.py --ratings benchmarks/.data/planted-10m.parquet
    .venv/bin/python benchmarks/review_cost.py                       # MovieLens 100k

The first night builds with the default settings; the second builds the same data and
settings again, so its review scores both models on all of its held-out ratings (the most
a night's review has to score: with more data or another seed only the ratings both runs
held out are compared). Printed for the second night: the whole process's seconds, the
review's own seconds (from its log line), their ratio, and the review's verdict.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REVIEW = re.compile(r"reviewed against run \S+ in (?:(\d+) min (\d+)|([\d.]+)) s:")  # render.formatting.seconds


def night(source: list[str], out: Path, extra: list[str]) -> tuple[float, str]:
    command = [sys.executable, "-m", "reportgen", "build", *source, "-o", str(out), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"build failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return seconds, done.stderr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=Path, help="own ratings (default: MovieLens 100k)")
    parser.add_argument("--repeat", type=int, default=1, help="reviewed nights to time (each a fresh second night)")
    args = parser.parse_args(argv)
    source = ["--ratings", str(args.ratings)] if args.ratings else ["--offline"]
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="review-cost-") as tmp:
            out = Path(tmp) / "out"
            night(source, out, [])
            load = os.getloadavg()[0]
            whole, log = night(source, out, [])
            found = REVIEW.search(log)
            if found is None:
                raise SystemExit("the second night logged no review")
            minutes, rest, plain = found.groups()
            review = float(plain) if plain is not None else 60 * int(minutes) + int(rest)
            verdict = log[found.end() :].splitlines()[0].strip()
            print(
                f"night {n + 1}: whole build {whole:.1f} s, review {review:.2f} s ({100 * review / whole:.1f} % of the "
                f"build; {100 * review / (whole - review):.1f} % added to it), load {load:.2f}: {verdict}"
            )


if __name__ == "__main__":
    main()
