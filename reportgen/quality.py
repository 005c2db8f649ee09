"""Is it a good recommender: rating and ranking metrics, who it fails, and calibration.

Everything here works on int codes (row numbers of the model's embeddings, 0 for
fastai's `#na#`, a value unseen in training) and plain numpy arrays, so it stays
linear in the ratings: counts by `np.bincount`, no per-rating Python objects, no
sort of the full rating arrays. Ranking scores every known item for a bounded,
seeded sample of users, a batch at a time, so memory stays bounded at 60 000 items.

Conventions, those of Microsoft Recommenders (`recommenders/evaluation/python_evaluation.py`:
`precision_at_k`, `recall_at_k`, `ndcg_at_k` with binary scores and a log2 discount,
`map_at_k`) and Kaggle's `apk`: binary relevance; precision@k = hits / k; recall@k =
hits / #relevant; NDCG@k = DCG / ideal DCG, discount 1 / log2(rank + 1), the ideal over
min(k, #relevant) hits; MAP@k = the mean over users of the precision at each hit in the
top k, summed and divided by min(k, #relevant); hit rate@k = the share of users with at
least one hit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.ranking import RANKERS, Coverage, RankingMetrics, rank
from reportgen.stats import Histogram

if TYPE_CHECKING:
    from reportgen.baselines import Guesses
    from reportgen.train import TrainedModel

PREDICTORS = ("model", "bias", "global_mean")
PREDICTOR_NAMES = {
    "model": "This model (biases and latent factors)",
    "bias": "User and item biases only",
    "global_mean": "Global mean",
}
# Training-rating counts that bound the "who it fails" buckets: 0 (unknown to the
# model), 1–5, 6–20, 21–100, more than 100.
BUCKET_STARTS = (0, 1, 6, 21, 101)
MIN_BUCKET = 30  # ratings a bucket needs before a sentence names it the worst
N_CALIBRATION_BINS = 10
N_RESIDUAL_BINS = 16
THRESHOLD_SHARE = 0.75  # 4 on a 1–5 scale


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class QualityInputs:
    """What the evaluation reads: codes, ratings and predictions of both splits, and the model's arrays.

    Codes index the rows of the factor and bias arrays; code 0 is a user or item the
    model never saw in training. `*_predictions` are on the validation ratings, in
    their order. `rating_scale` is the (lowest, highest) rating observed.
    """

    train_users: np.ndarray  # int, (n_train,)
    train_items: np.ndarray
    train_ratings: np.ndarray  # float
    valid_users: np.ndarray  # int, (n_valid,)
    valid_items: np.ndarray
    valid_ratings: np.ndarray
    model_predictions: np.ndarray  # float, (n_valid,)
    bias_predictions: np.ndarray
    mean_predictions: np.ndarray
    user_factors: np.ndarray  # (n_user_codes, factors)
    user_biases: np.ndarray  # (n_user_codes,)
    item_factors: np.ndarray  # (n_item_codes, factors)
    item_biases: np.ndarray  # (n_item_codes,)
    y_range: tuple[float, float]
    rating_scale: tuple[float, float]
    item_labels: Sequence[str]  # item_labels[code]; item_labels[0] is "#na#"

    def __post_init__(self) -> None:
        """Mis-wired arrays fail here, with their names, rather than as a numpy error deep in `evaluate`."""
        n_train, n_valid = len(self.train_users), len(self.valid_users)
        lengths = {
            "train_items": (len(self.train_items), n_train),
            "train_ratings": (len(self.train_ratings), n_train),
            "valid_items": (len(self.valid_items), n_valid),
            "valid_ratings": (len(self.valid_ratings), n_valid),
            "model_predictions": (len(self.model_predictions), n_valid),
            "bias_predictions": (len(self.bias_predictions), n_valid),
            "mean_predictions": (len(self.mean_predictions), n_valid),
            "user_factors": (len(self.user_factors), len(self.user_biases)),
            "item_factors": (len(self.item_factors), len(self.item_biases)),
            "item_labels": (len(self.item_labels), len(self.item_biases)),
        }
        wrong = [f"{name} has {got}, expected {want}" for name, (got, want) in lengths.items() if got != want]
        for name, codes, limit in (
            ("train_users", self.train_users, len(self.user_biases)),
            ("valid_users", self.valid_users, len(self.user_biases)),
            ("train_items", self.train_items, len(self.item_biases)),
            ("valid_items", self.valid_items, len(self.item_biases)),
        ):
            if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= limit):
                wrong.append(f"{name} holds codes outside 0..{limit - 1}")
        if wrong:
            raise ValueError("QualityInputs: " + "; ".join(wrong))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RatingMetrics:
    """How close one predictor's ratings come on the validation split.

    R² is 1 − SSE / SST with SST taken around the *validation* mean, so the training
    mean (the global-mean baseline) scores about 0 and a negative R² is worse than it.
    """

    rmse: float | None
    mae: float | None
    r2: float | None


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


@dataclass(frozen=True)
class Quality:
    """Everything issue 15 asks of the report: rating and ranking metrics, coverage, buckets, calibration."""

    k: int
    threshold: float
    users_eligible: int  # known users with a validation rating ≥ threshold of a known item
    users_evaluated: int
    sampled: bool  # whether the evaluated users are a seeded sample of the eligible ones
    seed: int
    n_valid: int
    rating: dict[str, RatingMetrics]  # PREDICTORS
    ranking: dict[str, RankingMetrics]  # RANKERS
    coverage: Coverage
    by_user_activity: Buckets
    by_item_popularity: Buckets
    calibration: Calibration

    @property
    def ranking_sentence(self) -> str:
        """Which ranking wins NDCG@k, in words: the honest headline of the ranking section."""
        if self.users_evaluated == 0:
            return "No user has a relevant validation item, so ranking quality cannot be measured."
        model, popular, chance = (self.ranking[name].ndcg for name in RANKERS)
        k = self.k
        if popular > model:
            return (
                f"Popularity beats the model at ranking: recommending the most-rated items gives NDCG@{k} "
                f"{popular:.3f}, the model's own top {k} {model:.3f} (random items {chance:.3f})."
            )
        if model <= chance:
            return f"The model ranks no better than random items: NDCG@{k} {model:.3f} against {chance:.3f}."
        return (
            f"The model ranks better than popularity: NDCG@{k} {model:.3f} against {popular:.3f} for the most-rated "
            f"items and {chance:.3f} for random ones."
        )

    @property
    def sample_sentence(self) -> str:
        if self.sampled:
            return (
                f"Ranking metrics are averaged over a random sample (seed {self.seed}) of {self.users_evaluated} of "
                f"the {self.users_eligible} users with a relevant validation item."
            )
        return f"Ranking metrics are averaged over all {self.users_evaluated} users with a relevant validation item."


# --------------------------------------------------------------------------- building the inputs


def predict(
    users: np.ndarray,
    items: np.ndarray,
    user_factors: np.ndarray,
    user_biases: np.ndarray,
    item_factors: np.ndarray,
    item_biases: np.ndarray,
    y_range: tuple[float, float],
    chunk: int = 1 << 18,
) -> np.ndarray:
    """The dot-product model's rating: low + (high − low) · sigmoid(u·i + b_u + b_i), as fastai computes it."""
    low, high = y_range
    out = np.empty(len(users), dtype=np.float64)
    for start in range(0, len(users), chunk):
        u, i = users[start : start + chunk], items[start : start + chunk]
        raw = np.einsum("ij,ij->i", user_factors[u], item_factors[i]) + user_biases[u] + item_biases[i]
        out[start : start + chunk] = low + (high - low) / (1.0 + np.exp(-raw))
    return out


def inputs_from(model: TrainedModel, ratings: np.ndarray, guesses: Guesses) -> QualityInputs:
    """`QualityInputs` for a fitted model: its codes, split and arrays, the ratings (frame order) and the baselines' guesses."""
    train_rows, valid_rows = model.split
    users, items = model.codes[:, 0], model.codes[:, 1]
    ratings = np.asarray(ratings, dtype=np.float64)
    y_range = model.config.y_range
    vu, vi = users[valid_rows], items[valid_rows]
    return QualityInputs(
        train_users=users[train_rows],
        train_items=items[train_rows],
        train_ratings=ratings[train_rows],
        valid_users=vu,
        valid_items=vi,
        valid_ratings=ratings[valid_rows],
        model_predictions=predict(
            vu, vi, model.user_factors, model.user_biases, model.item_factors, model.item_biases, y_range
        ),
        bias_predictions=guesses.bias_only,
        mean_predictions=guesses.global_mean,
        user_factors=model.user_factors,
        user_biases=model.user_biases,
        item_factors=model.item_factors,
        item_biases=model.item_biases,
        y_range=(float(y_range[0]), float(y_range[1])),
        rating_scale=(float(ratings.min()), float(ratings.max())),
        item_labels=model.item_classes,
    )


# --------------------------------------------------------------------------- evaluation


def default_threshold(rating_scale: tuple[float, float]) -> float:
    """4 on a 1–5 scale: three quarters of the way from the lowest rating to the highest."""
    low, high = rating_scale
    return low + THRESHOLD_SHARE * (high - low)


def evaluate(
    inputs: QualityInputs,
    *,
    k: int = 10,
    threshold: float | None = None,
    max_users: int = 2000,
    seed: int = 42,
) -> Quality:
    """All quality measures of `inputs`; the same inputs, k, threshold and seed give the same numbers."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    threshold = default_threshold(inputs.rating_scale) if threshold is None else float(threshold)
    truth = np.asarray(inputs.valid_ratings, dtype=np.float64)
    predicted = np.asarray(inputs.model_predictions, dtype=np.float64)
    rating = {
        "model": rating_metrics(truth, predicted),
        "bias": rating_metrics(truth, np.asarray(inputs.bias_predictions, dtype=np.float64)),
        "global_mean": rating_metrics(truth, np.asarray(inputs.mean_predictions, dtype=np.float64)),
    }
    n_users, n_items = len(inputs.user_biases), len(inputs.item_biases)
    user_count = _train_counts(inputs.train_users, n_users)
    item_count = _train_counts(inputs.train_items, n_items)
    squared = (truth - predicted) ** 2
    ranked = rank(inputs, k=k, threshold=threshold, max_users=max_users, seed=seed, item_count=item_count)
    return Quality(
        k=k,
        threshold=threshold,
        users_eligible=ranked.eligible,
        users_evaluated=ranked.evaluated,
        sampled=ranked.sampled,
        seed=seed,
        n_valid=len(truth),
        rating=rating,
        ranking=ranked.metrics,
        coverage=ranked.coverage,
        by_user_activity=buckets(user_count[inputs.valid_users], squared, "users"),
        by_item_popularity=buckets(item_count[inputs.valid_items], squared, "items"),
        calibration=calibration(predicted, truth),
    )


def rating_metrics(truth: np.ndarray, predicted: np.ndarray) -> RatingMetrics:
    """RMSE, MAE and R² (against the validation mean); None where there is nothing to measure."""
    if len(truth) == 0:
        return RatingMetrics(None, None, None)
    error = truth - predicted
    sse = float(np.dot(error, error))
    centred = truth - truth.mean()
    sst = float(np.dot(centred, centred))
    return RatingMetrics(
        rmse=math.sqrt(sse / len(truth)),
        mae=float(np.abs(error).mean()),
        r2=1.0 - sse / sst if sst > 0 else None,
    )


def _train_counts(codes: np.ndarray, n: int) -> np.ndarray:
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
