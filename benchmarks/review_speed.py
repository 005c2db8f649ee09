"""How long `reportgen.analysis.paired.paired_review` takes, and the memory it adds, on synthetic ratings.

A script, not a test: timings depend on the machine (the load average is printed).

    .venv/bin/python benchmarks/review_speed.py                 # 10M ratings (MovieLens 10M's shape)
    .venv/bin/python benchmarks/review_speed.py --sizes 10m 100m --threads 1 2

Sizes (users, items, ratings; a fifth of them compared, 50 factors per model):
- 10m:  69 878, 10 677, 10 000 000 (MovieLens 10M)
- 100m: 480 189, 17 770, 100 000 000 (the Netflix prize's shape)

The ratings are random codes (items Zipf-popular) and the two models random tables; the
baseline never saw 1 % of the users and items (scored by its `#na#` row). Printed per
run: seconds (and CPU seconds, all threads: less sensitive to a busy machine), the review's own peak allocation beyond its inputs (tracemalloc: numpy
reports its arrays to it), the process's peak RSS, and the inputs' size.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

import numpy as np

from reportgen.analysis.paired import paired_review
from reportgen.analysis.workers import workers
from reportgen.train.results import FactorModel, Weights

SIZES = {"10m": (69_878, 10_677, 10_000_000), "100m": (480_189, 17_770, 100_000_000)}
FACTORS = 50


def model(users: tuple[str, ...], items: tuple[str, ...], rng: np.random.Generator) -> FactorModel:
    tables = Weights(
        rng.normal(0, 0.1, (len(items) + 1, FACTORS)),
        rng.normal(0, 0.1, len(items) + 1),
        rng.normal(0, 0.1, (len(users) + 1, FACTORS)),
        rng.normal(0, 0.1, len(users) + 1),
    )
    return FactorModel(("#na#", *users), ("#na#", *items), tables, (0.5, 5.5))


def synthetic(n_users: int, n_items: int, n: int) -> dict[str, object]:
    rng = np.random.default_rng(0)
    user_names = tuple(f"user {u}" for u in range(n_users))
    item_names = tuple(f"Item {i} (2000)" for i in range(n_items))
    users = rng.integers(0, n_users, n, dtype=np.int32)  # pandas' category codes at these sizes
    items = ((rng.zipf(1.3, n) - 1) % n_items).astype(np.int32)
    ratings = rng.integers(1, 6, n).astype(np.float64)
    compared = rng.random(n) < 0.2
    known_users, known_items = user_names[: n_users * 99 // 100], item_names[: n_items * 99 // 100]
    return {
        "users": users,
        "items": items,
        "ratings": ratings,
        "user_names": user_names,
        "item_names": item_names,
        "compared": compared,
        "trained": ~compared,
        "tonight": model(user_names, item_names, rng),
        "baseline": model(known_users, known_items, rng),
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=["10m"], choices=list(SIZES))
    parser.add_argument("--threads", nargs="*", type=int, default=[len(os.sched_getaffinity(0))])
    args = parser.parse_args()
    for name in args.sizes:
        inputs = synthetic(*SIZES[name])
        size = sum(a.nbytes for a in inputs.values() if isinstance(a, np.ndarray))
        for threads in args.threads:
            load = os.getloadavg()[0]
            tracemalloc.start()
            started, cpu = time.perf_counter(), time.process_time()
            with workers(threads) as pool:
                review = paired_review(**inputs, pool=pool)  # type: ignore[arg-type]
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"{name:5s} threads {threads}  {seconds:6.2f} s (CPU {cpu:6.2f} s)  review's peak {peak / 2**20:7.1f} MiB  "
                f"process peak RSS {peak_rss_mb():7.0f} MiB  inputs {size / 2**20:6.0f} MiB  load {load:.2f}  "
                f"(compared {review.n:,} of {review.users:,} users; ranked {review.ranking.evaluated}; "
                f"unseen by the baseline {review.unseen_by_baseline.either:,}; {review.verdict})"
            )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
