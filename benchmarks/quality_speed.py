"""How long `reportgen.analysis.quality.evaluate` takes, on synthetic arrays of ML-100k and 10M sizes.

A script, not a test: timings depend on the machine (the load average is printed).

    .venv/bin/python benchmarks/quality_speed.py            # ML-100k-sized, 10M ratings, 10M validation ratings
    .venv/bin/python benchmarks/quality_speed.py --ml100k   # also: fit the default preset on the real ML-100k
                                                            # and print the quality block of report.json
    .venv/bin/python benchmarks/quality_speed.py --sizes --ml100k --figures docs/figures   # the figures of docs/reading-the-report.md

Sizes (users, items, training ratings, validation ratings, factors):
- ml100k: 943, 1 682, 80 000, 20 000, 50
- ml10m:  69 878, 10 677, 8 000 000, 2 000 000, 50 (MovieLens 10M)
- valid10m: 69 878, 10 677, 10 000 000, 10 000 000, 50 (10M validation-sized arrays)
- items60k: 100 000, 60 000, 2 000 000, 500 000, 50 (the widest catalogue the batches are sized for)
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from reportgen.analysis import baselines, quality
from reportgen.analysis.inputs import SplitRatings

SIZES = {
    "ml100k": (943, 1_682, 80_000, 20_000),
    "ml10m": (69_878, 10_677, 8_000_000, 2_000_000),
    "valid10m": (69_878, 10_677, 10_000_000, 10_000_000),
    "items60k": (100_000, 60_000, 2_000_000, 500_000),
}


def synthetic(n_users: int, n_items: int, n_train: int, n_valid: int, factors: int = 50) -> quality.QualityInputs:
    """Random codes (items Zipf-popular), ratings 1–5, small random factors."""
    rng = np.random.default_rng(0)
    n = n_train + n_valid
    users = rng.integers(1, n_users + 1, n)
    items = (rng.zipf(1.3, n) % n_items) + 1
    ratings = rng.integers(1, 6, n).astype(np.float64)
    uf, ub = rng.normal(0, 0.1, (n_users + 1, factors)), rng.normal(0, 0.1, n_users + 1)
    itf, ib = rng.normal(0, 0.1, (n_items + 1, factors)), rng.normal(0, 0.1, n_items + 1)
    split = SplitRatings.gather(np.column_stack([users, items]), ratings, (np.arange(n_train), np.arange(n_train, n)))
    predicted = quality.predict(split.valid_users, split.valid_items, uf, ub, itf, ib, (0.0, 5.5))
    guesses = baselines.guess(split)
    labels = ("#na#", *(f"Item {j}" for j in range(1, n_items + 1)))
    return quality.QualityInputs(
        split.train_users, split.train_items, split.train_ratings, split.valid_users, split.valid_items,
        split.valid_ratings, predicted, guesses.bias_only, guesses.global_mean, uf, ub, itf, ib, (0.0, 5.5),
        (1.0, 5.0), labels,
    )  # fmt: skip


def timed(inputs: quality.QualityInputs) -> tuple[float, quality.Quality]:
    started = time.perf_counter()
    result = quality.evaluate(inputs)
    return time.perf_counter() - started, result


def write_figures(result: quality.Quality, folder: str) -> None:
    """The figures as standalone SVG files in the light theme's colours (for docs/reading-the-report.md)."""
    import re
    from pathlib import Path

    from reportgen.render.figures import quality as quality_plots

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, svg in quality_plots.figures(result).items():
        light = re.sub(r"var\(--[a-z0-9-]+, (#[0-9a-f]{6})\)", r"\1", svg)
        (out / f"ml100k-{name.replace('_', '-')}.svg").write_text(light, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--ml100k", action="store_true", help="also fit a preset on the real ML-100k")
    parser.add_argument("--preset", default="tutorial", help="the preset --ml100k fits (default: the report's default)")
    parser.add_argument(
        "--figures", type=str, default=None, help="with --ml100k: write the quality figures here (SVG, light colours)"
    )
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name in args.sizes:
        started = time.perf_counter()
        inputs = synthetic(*SIZES[name])
        built = time.perf_counter() - started
        seconds, result = timed(inputs)
        print(
            f"{name:9s} inputs (predict + baselines) {built:6.2f} s   evaluate {seconds:6.2f} s   "
            f"users {result.users_evaluated}/{result.users_eligible}"
        )
    if args.ml100k:
        from reportgen import data, train
        from reportgen.report import quality_to_json

        ratings = data.load(None, download=None)
        started = time.perf_counter()
        model = train.fit(ratings, train.TrainConfig.from_preset(args.preset))
        fitted = time.perf_counter() - started
        started = time.perf_counter()
        split = SplitRatings.gather(model.codes, ratings.frame["rating"].to_numpy(dtype=np.float64), model.split)
        predictions = quality.model_predictions(model, split)
        inputs = quality.inputs_from(model, split, baselines.guess(split), predictions)
        built = time.perf_counter() - started
        seconds, result = timed(inputs)
        print(f"ML-100k   fit {fitted:.1f} s   inputs_from {built:.2f} s   evaluate {seconds:.2f} s")
        print(
            f"          model valid RMSE (fastai) {model.metrics.valid_rmse:.4f}, from the arrays {result.rating['model'].rmse:.4f}"
        )
        print(json.dumps(quality_to_json(result), indent=1, ensure_ascii=False))
        if args.figures:
            write_figures(result, args.figures)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
