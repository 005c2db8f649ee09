"""How long `reportgen.analysis.movement.movement` takes, and what it reads on ML-100k.

A script, not a test: timings depend on the machine (the load average is printed).

    .venv/bin/python benchmarks/movement_speed.py            # synthetic spaces: 1,000 and 10,000 items x 50 factors
    .venv/bin/python benchmarks/movement_speed.py --ml100k   # also: the figures of docs/reading-the-report.md
                                                             # (seed 7 and 5 % fewer ratings against seed 42)

The cost depends on the analysed items only, never on the ratings: one k x k SVD for the
alignment, one PCA for the map, and each model's neighbour sets (n x n cosines, a block of
1,000 rows at a time).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np

from reportgen.analysis import factors, movement
from reportgen.train.results import FactorModel, Weights


def model(titles: list[str], vectors: np.ndarray) -> FactorModel:
    k = vectors.shape[1]
    weights = Weights(np.vstack([np.zeros(k), vectors]), np.zeros(len(titles) + 1), np.zeros((1, k)), np.zeros(1))
    return FactorModel(users=("#na#",), items=("#na#", *titles), weights=weights, y_range=None)


def synthetic(n: int, k: int = 50, repeats: int = 3) -> None:
    """Tonight's space with decaying spread, yesterday's a rotation of it plus noise; the best of `repeats`."""
    rng = np.random.default_rng(0)
    tonight = rng.normal(size=(n, k)) * np.linspace(1.0, 0.1, k)
    rotation, _ = np.linalg.qr(rng.normal(size=(k, k)))
    baseline = tonight @ rotation + rng.normal(scale=0.2, size=tonight.shape)
    titles = [f"Item {i:05d}" for i in range(n)]
    scores, _ = factors.pca(tonight, 10, 10)
    mapped = factors.factor_map(titles, tonight, scores, 1000, 5)
    pair = model(titles, tonight), model(titles, baseline)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        found = movement.movement(*pair, titles, mapped)
        seconds.append(time.perf_counter() - start)
    assert found is not None
    print(
        f"{n:>6,} items x {k} factors: {min(seconds):.3f} s (best of {repeats}); "
        f"agreement {found.agreement:.3f}, mean overlap {found.mean_overlap:.3f}"
    )


def ml100k() -> None:
    """Tonight: seed 42 on all of ML-100k. Baselines: seed 7 on the same data, seed 42 on 5 % fewer ratings."""
    from reportgen import analyse, fit, load
    from reportgen.train.config import TrainConfig

    ratings = load()
    keep = np.random.default_rng(0).random(len(ratings.frame)) >= 0.05
    fewer = dataclasses.replace(ratings, frame=ratings.frame[keep].reset_index(drop=True))
    trained = fit(ratings, TrainConfig(seed=42))
    found = analyse(ratings, trained)
    tonight = FactorModel.of_trained(trained)
    baselines = {
        "seed 7, same data": fit(ratings, TrainConfig(seed=7)),
        "seed 42, 5 % fewer ratings": fit(fewer, TrainConfig(seed=42)),
        "seed 42 again": fit(ratings, TrainConfig(seed=42)),
    }
    counts = np.array([s.count for s in found.item_stats], dtype=float)
    for name, other in baselines.items():
        baseline = FactorModel.of_trained(other)
        moved = movement.movement(tonight, baseline, found.top_items, found.factor_map)
        assert moved is not None and moved.map_moves is not None
        along = ", ".join(f"{a:.2f}" for a in moved.map_moves.component_agreement if a is not None)
        print(
            f"{name}: {moved.common} common items, agreement {moved.agreement:.3f}, spread ratio "
            f"{moved.spread_ratio:.3f}, mean neighbour overlap {moved.mean_overlap:.3f}"
        )
        print(f"  along the map's components: {along}")
        print("  moved most: " + "; ".join(f"{m.title} {m.displacement:.2f}" for m in moved.movers[:5]))
        weighted_view(tonight, baseline, found.top_items, counts)


def weighted_view(tonight: FactorModel, baseline: FactorModel, titles: tuple[str, ...], counts: np.ndarray) -> None:
    """The same agreement measure after a fit weighted by rating count, and where each fit's leftover lies."""
    t_rows = tonight.weights.item_factors[[tonight.items.index(t) for t in titles]]
    b_rows = baseline.weights.item_factors[[baseline.items.index(t) for t in titles]]
    total = ((t_rows - t_rows.mean(axis=0)) ** 2).sum()
    w = counts[:, None]
    b_centre, t_centre = (w * b_rows).sum(0) / w.sum(), (w * t_rows).sum(0) / w.sum()
    u, _, vt = np.linalg.svd(((b_rows - b_centre) * np.sqrt(w)).T @ ((t_rows - t_centre) * np.sqrt(w)))
    weighted = (b_rows - b_centre) @ (u @ vt) + t_centre - t_rows
    weighted -= weighted.mean(axis=0)  # the unweighted measure: about the common centre
    fit = movement.align(b_rows, t_rows)
    plain = fit.apply(b_rows) - t_rows
    top = np.argsort(-counts, kind="stable")[:100]
    print(
        f"  unweighted fit: agreement {fit.agreement:.3f}, the 100 most rated hold "
        f"{(plain[top] ** 2).sum() / (plain**2).sum():.0%} of its leftover; weighted fit: agreement "
        f"{1 - (weighted**2).sum() / total:.3f}, {(weighted[top] ** 2).sum() / (weighted**2).sum():.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ml100k", action="store_true", help="also fit ML-100k three times and compare")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    for n in (1_000, 10_000):
        synthetic(n)
    if args.ml100k:
        ml100k()


if __name__ == "__main__":
    main()
