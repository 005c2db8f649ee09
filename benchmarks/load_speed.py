"""The load stage alone, timed: `reportgen.data.load` of each file in a fresh process, nice'd.

    PYTHONPATH=. .venv/bin/python benchmarks/load_speed.py benchmarks/.data/planted-10m.csv ...

Prints, for each file (or folder of Parquet parts): the seconds `load` took (imports
not counted), the process's peak RSS, the ratings kept, and the 1-minute load
average beside each figure (the machine is shared; a figure measured at a load
near the number of cores is slower than the machine can do). `--stages` adds cProfile's
ten largest cumulative entries, to say where the seconds go.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import cProfile, os, pstats, resource, sys, time
from pathlib import Path
import pandas, pyarrow  # imported before the clock starts
from reportgen.data import OwnData, load
profile = cProfile.Profile() if sys.argv[2] == "1" else None
started = time.perf_counter()
if profile: profile.enable()
ratings = load(OwnData(ratings=Path(sys.argv[1])))
if profile: profile.disable()
seconds = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{Path(sys.argv[1]).name:<28} {seconds:8.2f} s {rss:8.0f} MB {len(ratings.frame):>12,} ratings"
      f"   load average {os.getloadavg()[0]:.2f}", flush=True)
if profile:
    pstats.Stats(profile).sort_stats("cumulative").print_stats(r"reportgen|pyarrow|duplicated|take", 12)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--stages", action="store_true", help="profile: where the seconds go")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(root))}
    for path in args.paths:
        command = ["nice", "-n", "5", sys.executable, "-c", CHILD, str(path), "1" if args.stages else "0"]
        subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
