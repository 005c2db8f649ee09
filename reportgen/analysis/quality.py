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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.analysis import defaults
from reportgen.analysis.diagnostics import Buckets, Calibration, buckets, calibration, train_counts
from reportgen.analysis.inputs import QualityInputs, SplitRatings
from reportgen.analysis.ranking import RANKERS, Coverage, RankingMetrics, rank
from reportgen.analysis.workers import Workers, serial

if TYPE_CHECKING:
    from reportgen.analysis.baselines import Baselines, Guesses
    from reportgen.train import TrainedModel

PREDICTORS = ("model", "bias", "global_mean")
THRESHOLD_SHARE = 0.75  # 4 on a 1–5 scale


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


@dataclass(frozen=True)
class Shortfall:
    """One simple yardstick the model does not beat, with both numbers: what the top of the report says.

    `kind` is "rating" (valid RMSE: lower is better) or "ranking" (NDCG@k: higher is better).
    """

    kind: str
    yardstick: str  # as a sentence names it: "the global mean"
    measure: str  # "valid RMSE", "NDCG@10"
    model: float
    other: float
    digits: int

    @property
    def sentence(self) -> str:
        """`The model is worse than the global mean: valid RMSE 1.1887 against 1.1191.`"""
        how = "no better than" if f"{self.model:.{self.digits}f}" == f"{self.other:.{self.digits}f}" else "worse than"
        verb = "ranks" if self.kind == "ranking" else "is"
        return (
            f"The model {verb} {how} {self.yardstick}: {self.measure} {self.model:.{self.digits}f} "
            f"against {self.other:.{self.digits}f}."
        )


def shortfalls(baselines: Baselines, quality: Quality) -> tuple[Shortfall, ...]:
    """Where the model loses to a simple predictor: a valid RMSE not below the global mean's or the
    biases-only predictor's, an NDCG@k below the most-rated items'. Empty when it wins everywhere.

    Read from numbers report.json keeps, so a report read back says the same.
    """
    found = [
        Shortfall("rating", yardstick, "valid RMSE", baselines.model_rmse, other, 4)
        for yardstick, other in (
            ("the global mean", baselines.global_mean_rmse),
            ("user and item biases alone", baselines.bias_only_rmse),
        )
        if baselines.model_rmse >= other  # NaN never counts
    ]
    model, popular = quality.ranking["model"].ndcg, quality.ranking["popularity"].ndcg
    if quality.users_evaluated and model < popular:
        found.append(Shortfall("ranking", "the most-rated items", f"NDCG@{quality.k}", model, popular, 3))
    return tuple(found)


# --------------------------------------------------------------------------- building the inputs


def predict(
    users: np.ndarray,
    items: np.ndarray,
    user_factors: np.ndarray,
    user_biases: np.ndarray,
    item_factors: np.ndarray,
    item_biases: np.ndarray,
    y_range: tuple[float, float] | None,
    pool: Workers | None = None,
    chunk: int = 1 << 15,
) -> np.ndarray:
    """The dot-product model's rating: low + (high − low) · sigmoid(u·i + b_u + b_i), as fastai computes it
    (without a `y_range`, fastai's raw u·i + b_u + b_i).

    In chunks small enough for a core's cache, on `pool`'s threads: each rating's
    number is the same whatever the chunk or the thread.
    """
    out = np.empty(len(users), dtype=np.float64)

    def one(start: int) -> None:
        u, i = users[start : start + chunk], items[start : start + chunk]
        dot = np.einsum("ij,ij->i", np.take(user_factors, u, axis=0), np.take(item_factors, i, axis=0))
        raw = dot + np.take(user_biases, u) + np.take(item_biases, i)
        if y_range is None:
            out[start : start + chunk] = raw
            return
        low, high = y_range
        out[start : start + chunk] = low + (high - low) / (1.0 + np.exp(-raw))

    (pool or serial()).all([lambda s=s: one(s) for s in range(0, len(users), chunk)])
    return out


def model_predictions(model: TrainedModel, split: SplitRatings, pool: Workers | None = None) -> np.ndarray:
    """The fitted model's rating for each validation rating, in the split's order (on `pool`'s threads)."""
    return predict(
        split.valid_users,
        split.valid_items,
        model.user_factors,
        model.user_biases,
        model.item_factors,
        model.item_biases,
        model.config.y_range,
        pool,
    )


def inputs_from(model: TrainedModel, split: SplitRatings, guesses: Guesses, predictions: np.ndarray) -> QualityInputs:
    """`QualityInputs` for a fitted model: its split's codes and ratings, its arrays, its `model_predictions`
    and the baselines' guesses."""
    y_range = model.config.y_range
    vu, vi = split.valid_users, split.valid_items
    return QualityInputs(
        train_users=split.train_users,
        train_items=split.train_items,
        train_ratings=split.train_ratings,
        valid_users=vu,
        valid_items=vi,
        valid_ratings=split.valid_ratings,
        model_predictions=predictions,
        bias_predictions=guesses.bias_only,
        mean_predictions=guesses.global_mean,
        user_factors=model.user_factors,
        user_biases=model.user_biases,
        item_factors=model.item_factors,
        item_biases=model.item_biases,
        y_range=(float(y_range[0]), float(y_range[1])),
        rating_scale=split.rating_scale,
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
    k: int = defaults.K,
    threshold: float | None = None,
    max_users: int = 2000,
    seed: int = 42,
    pool: Workers | None = None,
) -> Quality:
    """All quality measures of `inputs`; the same inputs, k, threshold and seed give the same numbers.

    The ranking (top-k lists for sampled users) runs on `pool` beside the rating measures.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    threshold = default_threshold(inputs.rating_scale) if threshold is None else float(threshold)
    truth = np.asarray(inputs.valid_ratings, dtype=np.float64)
    predicted = np.asarray(inputs.model_predictions, dtype=np.float64)
    n_users, n_items = len(inputs.user_biases), len(inputs.item_biases)
    item_count = train_counts(inputs.train_items, n_items)
    ranking = (pool or serial()).submit(
        lambda: rank(inputs, k=k, threshold=threshold, max_users=max_users, seed=seed, item_count=item_count)
    )
    rating = {
        "model": rating_metrics(truth, predicted),
        "bias": rating_metrics(truth, np.asarray(inputs.bias_predictions, dtype=np.float64)),
        "global_mean": rating_metrics(truth, np.asarray(inputs.mean_predictions, dtype=np.float64)),
    }
    user_count = train_counts(inputs.train_users, n_users)
    squared = (truth - predicted) ** 2
    by_user, by_item = (
        buckets(user_count[inputs.valid_users], squared, "users"),
        buckets(item_count[inputs.valid_items], squared, "items"),
    )
    fit = calibration(predicted, truth)
    ranked = ranking.result()
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
        by_user_activity=by_user,
        by_item_popularity=by_item,
        calibration=fit,
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
