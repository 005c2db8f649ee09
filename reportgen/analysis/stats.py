"""Histograms: the small numeric summaries several sections draw (user biases, ratings, residuals)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...]  # len(counts) + 1 bin edges
    counts: tuple[int, ...]


def histogram(values: np.ndarray, bins: int = 24) -> Histogram:
    counts, edges = np.histogram(values, bins=bins)
    return Histogram(edges=tuple(float(e) for e in edges), counts=tuple(int(c) for c in counts))


def rating_histogram(values: np.ndarray) -> Histogram:
    """One bar per value of the rating scale (≤ 20 steps), empty ones included; else even bins."""
    import pandas as pd

    distinct = np.sort(pd.unique(np.asarray(values)))  # a hash pass, then a sort of the few distinct values
    step = float(np.min(np.diff(distinct))) if len(distinct) > 1 else 1.0
    scale = np.arange(distinct[0], distinct[-1] + step / 2, step)
    if len(scale) > 20 or not np.allclose(np.round((distinct - distinct[0]) / step), (distinct - distinct[0]) / step):
        return histogram(values, bins=20)
    edges = np.append(scale - step / 2, scale[-1] + step / 2)
    # Each value's bar, by its step on the scale: one pass over the ratings, not one per bar.
    counts = np.bincount(np.rint((values - distinct[0]) / step).astype(np.int64), minlength=len(scale))
    return Histogram(edges=tuple(float(e) for e in edges), counts=tuple(int(c) for c in counts[: len(scale)]))
