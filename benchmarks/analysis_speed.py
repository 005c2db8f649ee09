"""How long the analysis stage takes on a big file, with the compiled passes and without (issue 21).

A script, not a test: it prints seconds and the load average. It trains once (the
default engine, `reportgen build`'s settings) and keeps the trained model in
`benchmarks/.data/` (pickled, beside the data), so a second run times the analysis
alone; then it runs `analysis.analyse` with the compiled passes (`analysis.sums`), the
numpy and pandas ones, or both, prints each one's seconds and its slowest steps
(cProfile with `--profile`), and checks that both give the same numbers. numba compiles
the passes on the first run on a machine and loads them from its cache after.

    .venv/bin/python benchmarks/analysis_speed.py benchmarks/.data/planted-100m.parquet
    .venv/bin/python benchmarks/analysis_speed.py FILE --paths compiled --profile
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pickle
import pstats
import time
from pathlib import Path

from reportgen import analysis, data, train
from reportgen.analysis import sums


def load_line() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def trained(path: Path, ratings: data.Ratings) -> train.TrainedModel:
    cache = path.with_name(path.stem + ".model.pickle")
    if cache.exists() and cache.stat().st_mtime > path.stat().st_mtime:
        with cache.open("rb") as f:
            return pickle.load(f)
    started = time.perf_counter()
    model = train.fit(ratings, train.TrainConfig())
    print(f"trained in {time.perf_counter() - started:.1f} s ({load_line()}); kept in {cache.name}", flush=True)
    with cache.open("wb") as f:
        pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ratings", type=Path)
    parser.add_argument("--paths", choices=("both", "compiled", "numpy"), default="both")
    parser.add_argument("--profile", action="store_true", help="print each run's slowest functions (cProfile)")
    args = parser.parse_args()

    started = time.perf_counter()
    ratings = data.load(data.OwnData(ratings=args.ratings))
    print(f"loaded {ratings.n_ratings:,} ratings in {time.perf_counter() - started:.1f} s ({load_line()})", flush=True)
    model = trained(args.ratings, ratings)

    paths = {"both": (True, False), "compiled": (True,), "numpy": (False,)}[args.paths]
    results = {}
    for compiled in paths:
        name = "compiled" if compiled else "numpy/pandas"
        sums.COMPILED_FROM = 0 if compiled else float("inf")
        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        results[name] = analysis.analyse(ratings, model)
        if profiler:
            profiler.disable()
        print(f"analysis, {name}: {time.perf_counter() - started:.1f} s ({load_line()})", flush=True)
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"reportgen", 25)
    if len(results) == 2:
        same = pickle.dumps(results["compiled"]) == pickle.dumps(results["numpy/pandas"])  # every float's bits
        print("the two analyses are " + ("equal" if same else "DIFFERENT"), flush=True)


if __name__ == "__main__":
    main()
