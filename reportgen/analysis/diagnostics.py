"""Who the model fails and how far its predictions can be taken at face value.

Validation error by user activity and by item popularity (buckets of training-rating
counts), and calibration: observed against predicted ratings in bins of the
prediction, with the residuals' histogram. Counts by `np.bincount`: linear in the ratings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from reportgen.analysis.stats import Histogram

# Training-rating counts that bound the "who it fails" buckets: 0 (unknown to the
# model), 1–5, 6–20, 21–100, more than 100.
BUCKET_STARTS = (0, 1, 6, 21, 101)
MIN_BUCKET = 30  # ratings a bucket needs before a sentence names it the worst
N_CALIBRATION_BINS = 10
N_RESIDUAL_BINS = 16


@dataclass(frozen=True)
class Bucket:
    """Validation ratings whose user (or item) had `low`..`high` training ratings (`high` None: no limit)."""

    label: str
    low: int
    high: int | None
    count: int
    rmse: float | None  # None for an empty bucket


@dataclass(frozen=True)
class Buckets:
    """The validation error split by how much the model saw of each rating's user (or item)."""

    what: str  # "users" or "items"
    buckets: tuple[Bucket, ...]
    overall_rmse: float | None

    @property
    def worst(self) -> Bucket | None:
        """The bucket with the highest RMSE among those with at least MIN_BUCKET ratings."""
        big = [b for b in self.buckets if b.count >= MIN_BUCKET and b.rmse is not None]
        return max(big, key=lambda b: (b.rmse, -b.low)) if big else None

    @property
    def sentence(self) -> str:
        worst = self.worst
        if worst is None or self.overall_rmse is None:
            return f"No group of {self.what} has {MIN_BUCKET} or more validation ratings, so none is named."
        which = (
            f"{self.what} never seen in training"
            if worst.high == 0
            else f"{self.what} with {bucket_words(worst)} training ratings"
        )
        return (
            f"The model errs most on {which}: RMSE {worst.rmse:.3f} over {worst.count} validation ratings, "
            f"against {self.overall_rmse:.3f} overall."
        )


@dataclass(frozen=True)
class CalibrationBin:
    """Validation ratings whose prediction fell in [low, high): how many, and their mean prediction and rating."""

    low: float
    high: float
    count: int
    mean_predicted: float | None  # None for an empty bin
    mean_observed: float | None


@dataclass(frozen=True)
class Calibration:
    """Mean observed against mean predicted rating in equal-width bins of the prediction.

    The bins split the range of the model's validation predictions (lowest to highest)
    into N_CALIBRATION_BINS equal widths, so they read as rating values; the
    extreme bins may hold few ratings. `residuals` is observed − predicted.
    """

    bins: tuple[CalibrationBin, ...]
    residuals: Histogram
    mean_residual: float | None

    @property
    def sentence(self) -> str:
        big = [
            b
            for b in self.bins
            if b.count >= MIN_BUCKET and b.mean_observed is not None and b.mean_predicted is not None
        ]
        if not big:
            return "Too few validation ratings to judge calibration."
        worst = max(big, key=lambda b: (abs(b.mean_observed - b.mean_predicted), -b.low))  # type: ignore[operator]
        gap = worst.mean_observed - worst.mean_predicted  # type: ignore[operator]
        if abs(gap) < 0.1:
            return (
                f"Predictions can be taken at face value: in every bin with {MIN_BUCKET} or more ratings the mean "
                f"observed rating is within 0.1 of the mean prediction."
            )
        direction = "higher" if gap > 0 else "lower"
        return (
            f"The largest gap is for predictions between {worst.low:.2f} and {worst.high:.2f}: users rated those "
            f"{abs(gap):.2f} {direction} on average than predicted ({worst.count} ratings)."
        )

    @property
    def mean_residual_sentence(self) -> str:
        """Whether the predictions run high or low overall: the mean of observed − predicted."""
        if self.mean_residual is None:
            return ""
        if abs(self.mean_residual) < 0.0005:
            return "Over all held-out ratings the predictions are right on average."
        direction = "higher" if self.mean_residual > 0 else "lower"
        return f"Over all held-out ratings, users rated {abs(self.mean_residual):.3f} {direction} than predicted on average."


def train_counts(codes: np.ndarray, n: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=n)[:n].copy()
    counts[0] = 0  # "#na#" stands for values never seen in training
    return counts


def bucket_words(b: Bucket) -> str:
    if b.high is None:
        return f"more than {b.low - 1}"
    return str(b.low) if b.low == b.high else f"{b.low}–{b.high}"


def buckets(train_counts: np.ndarray, squared_errors: np.ndarray, what: str) -> Buckets:
    """Validation RMSE and count by the training-rating count of each rating's user (or item).

    `train_counts[j]` is that count for validation rating j; buckets BUCKET_STARTS,
    empty ones kept (count 0, RMSE None).
    """
    which = np.searchsorted(np.asarray(BUCKET_STARTS[1:]), train_counts, side="right")
    n = len(BUCKET_STARTS)
    counts = np.bincount(which, minlength=n)
    sums = np.bincount(which, squared_errors, minlength=n)
    result = []
    for b, low in enumerate(BUCKET_STARTS):
        high = BUCKET_STARTS[b + 1] - 1 if b + 1 < n else None
        count = int(counts[b])
        label = bucket_words(Bucket("", low, high, 0, None))
        result.append(Bucket(label, low, high, count, math.sqrt(sums[b] / count) if count else None))
    total = len(squared_errors)
    overall = math.sqrt(float(squared_errors.sum()) / total) if total else None
    return Buckets(what=what, buckets=tuple(result), overall_rmse=overall)


def calibration(predicted: np.ndarray, truth: np.ndarray, bins: int = N_CALIBRATION_BINS) -> Calibration:
    """Equal-width bins over the observed range of the predictions; residual histogram of observed − predicted."""
    if len(predicted) == 0:
        return Calibration(bins=(), residuals=Histogram(edges=(), counts=()), mean_residual=None)
    low, high = float(predicted.min()), float(predicted.max())
    width = (high - low) / bins if high > low else 1.0
    which = np.minimum(((predicted - low) / width).astype(np.int64), bins - 1)
    counts = np.bincount(which, minlength=bins)
    sum_predicted = np.bincount(which, predicted, minlength=bins)
    sum_observed = np.bincount(which, truth, minlength=bins)
    made = []
    for b in range(bins):
        c = int(counts[b])
        made.append(
            CalibrationBin(
                low=low + b * width,
                high=low + (b + 1) * width,
                count=c,
                mean_predicted=float(sum_predicted[b] / c) if c else None,
                mean_observed=float(sum_observed[b] / c) if c else None,
            )
        )
    residual = truth - predicted
    reach = float(np.abs(residual).max())
    reach = math.ceil(reach * 2) / 2 if reach > 0 else 0.5  # a symmetric range in half-rating steps
    step = 2 * reach / N_RESIDUAL_BINS
    index = np.clip(((residual + reach) / step).astype(np.int64), 0, N_RESIDUAL_BINS - 1)
    hist_counts = np.bincount(index, minlength=N_RESIDUAL_BINS)
    edges = tuple(-reach + j * step for j in range(N_RESIDUAL_BINS + 1))
    return Calibration(
        bins=tuple(made),
        residuals=Histogram(edges=edges, counts=tuple(int(c) for c in hist_counts)),
        mean_residual=float(residual.mean()),
    )
