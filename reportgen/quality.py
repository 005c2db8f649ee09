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
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.insight import LAMBDA_ITEM, LAMBDA_USER, SWEEPS, Histogram

if TYPE_CHECKING:
    import pandas as pd

    from reportgen.train import TrainedModel

PREDICTORS = ("model", "bias", "global_mean")
PREDICTOR_NAMES = {
    "model": "This model (biases and latent factors)",
    "bias": "User and item biases only",
    "global_mean": "Global mean",
}
RANKERS = ("model", "popularity", "random")
RANKER_NAMES = {"model": "This model", "popularity": "Most popular items", "random": "Random items"}
# Training-rating counts that bound the "who it fails" buckets: 0 (unknown to the
# model), 1–5, 6–20, 21–100, more than 100.
BUCKET_STARTS = (0, 1, 6, 21, 101)
MIN_BUCKET = 30  # ratings a bucket needs before a sentence names it the worst
N_CALIBRATION_BINS = 10
N_RESIDUAL_BINS = 16
N_MOST_RECOMMENDED = 10
THRESHOLD_SHARE = 0.75  # 4 on a 1–5 scale
BATCH_CELLS = 1 << 21  # users × items scored at once (16 MiB of float64)
MAX_BATCH_USERS = 256


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
class RankingMetrics:
    """Top-k quality of one way of ranking, averaged over the evaluated users."""

    precision: float
    recall: float
    ndcg: float
    map: float
    hit_rate: float


@dataclass(frozen=True)
class Coverage:
    """How much of the catalogue the model's top-k lists reach, and how popular what they reach is.

    Popularity percentile: 100 × the share of known items rated fewer times in training
    (ties count half); 50 is a typical item, near 100 the blockbusters.
    """

    catalogue_size: int  # known items (code ≥ 1)
    items_recommended: int  # distinct items in any evaluated user's top-k list
    share: float | None
    mean_percentile_recommended: float | None
    mean_percentile_rated: float | None  # the evaluated users' validation items
    most_recommended: tuple[tuple[str, int], ...]  # (label, lists it appears in), most first

    @property
    def sentence(self) -> str:
        if self.share is None or self.mean_percentile_recommended is None or self.mean_percentile_rated is None:
            return "No user could be evaluated, so coverage is unknown."
        gap = self.mean_percentile_recommended - self.mean_percentile_rated
        lean = (
            "more popular than"
            if gap > 5
            else "less popular than"
            if gap < -5
            else "about as popular as"
        )
        return (
            f"The top lists reach {self.items_recommended} of {self.catalogue_size} items ({100 * self.share:.1f} % "
            f"of the catalogue); what they recommend is {lean} what these users went on to rate (popularity "
            f"percentile {self.mean_percentile_recommended:.0f} against {self.mean_percentile_rated:.0f})."
        )


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
        big = [b for b in self.bins if b.count >= MIN_BUCKET and b.mean_observed is not None and b.mean_predicted is not None]
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


def codes_for(values: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """The code of each value in a model vocabulary (`classes[0]` is `#na#`); 0 where unseen.

    `classes` are strings (as `TrainedModel` keeps them); numeric `values` are matched
    after converting the classes back to their dtype, so no per-rating strings are made.
    """
    import pandas as pd

    values = np.asarray(values)
    known = np.asarray(classes[1:], dtype=object)
    if values.dtype.kind in "iuf":
        known = known.astype(values.dtype)
    found = pd.Index(known).get_indexer(values)
    return (found + 1).astype(np.int64)  # -1 (unseen) becomes 0


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


def bias_predictions(
    train_users: np.ndarray,
    train_items: np.ndarray,
    train_ratings: np.ndarray,
    valid_users: np.ndarray,
    valid_items: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The two baselines' validation predictions: (global mean, damped user + item biases).

    The same predictors as `insight.baselines` (Koren's damped biases, same λs and
    sweeps, clipped to the training range), on codes with `np.bincount`: unknown users
    and items (code 0) get bias 0.
    """
    train_ratings = np.asarray(train_ratings, dtype=np.float64)
    mu = float(train_ratings.mean())
    n_users = int(max(train_users.max(initial=0), valid_users.max(initial=0))) + 1
    n_items = int(max(train_items.max(initial=0), valid_items.max(initial=0))) + 1
    user_count = np.bincount(train_users, minlength=n_users)
    item_count = np.bincount(train_items, minlength=n_items)
    user_bias = np.zeros(n_users)
    item_bias = np.zeros(n_items)
    for _ in range(SWEEPS):
        residual = train_ratings - mu - user_bias[train_users]
        item_bias = np.bincount(train_items, residual, minlength=n_items) / (LAMBDA_ITEM + item_count)
        residual = train_ratings - mu - item_bias[train_items]
        user_bias = np.bincount(train_users, residual, minlength=n_users) / (LAMBDA_USER + user_count)
    user_bias[0] = item_bias[0] = 0.0
    guess = np.clip(mu + user_bias[valid_users] + item_bias[valid_items], train_ratings.min(), train_ratings.max())
    return np.full(len(valid_users), mu), guess


def inputs_from(
    frame: pd.DataFrame,
    model: TrainedModel,
    user_factors: np.ndarray | None = None,
    model_predictions: np.ndarray | None = None,
) -> QualityInputs:
    """`QualityInputs` from the ratings frame (`user`, `title`, `rating`) and a fitted model.

    `user_factors` default to `model.user_factors` where the model has them, else the
    learner's `u_weight`; `model_predictions` default to `predict` on the arrays (what
    the fitted model computes, in float64).
    """
    assert model.split is not None and model.user_biases is not None, "a fitted model: split and user biases"
    train_rows, valid_rows = model.split
    users = codes_for(frame["user"].to_numpy(), model.user_classes)
    items = codes_for(frame["title"].to_numpy(), model.item_classes)
    ratings = frame["rating"].to_numpy(dtype=np.float64)
    if user_factors is None:
        user_factors = getattr(model, "user_factors", None)
    if user_factors is None:
        weight = model.learner.model.u_weight.weight
        user_factors = weight.detach().to("cpu").double().numpy().copy()
    y_range = model.config.y_range or (float(ratings.min()), float(ratings.max()))
    tu, ti, tr = users[train_rows], items[train_rows], ratings[train_rows]
    vu, vi, vr = users[valid_rows], items[valid_rows], ratings[valid_rows]
    if model_predictions is None:
        model_predictions = predict(vu, vi, user_factors, model.user_biases, model.item_factors, model.item_biases, y_range)
    mean, bias = bias_predictions(tu, ti, tr, vu, vi)
    return QualityInputs(
        train_users=tu,
        train_items=ti,
        train_ratings=tr,
        valid_users=vu,
        valid_items=vi,
        valid_ratings=vr,
        model_predictions=np.asarray(model_predictions, dtype=np.float64),
        bias_predictions=bias,
        mean_predictions=mean,
        user_factors=np.asarray(user_factors, dtype=np.float64),
        user_biases=np.asarray(model.user_biases, dtype=np.float64),
        item_factors=np.asarray(model.item_factors, dtype=np.float64),
        item_biases=np.asarray(model.item_biases, dtype=np.float64),
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


# --------------------------------------------------------------------------- ranking


@dataclass(frozen=True)
class Ranked:
    """What `rank` found: how many users it could and did evaluate, the three rankings' metrics, coverage."""

    eligible: int
    evaluated: int
    sampled: bool
    metrics: dict[str, RankingMetrics]
    coverage: Coverage


def popularity_percentiles(item_count: np.ndarray) -> np.ndarray:
    """Per item code: 100 × share of known items with fewer training ratings (ties count half); NaN for code 0."""
    known = np.sort(item_count[1:])
    below = np.searchsorted(known, item_count, side="left")
    equal = np.searchsorted(known, item_count, side="right") - below
    percentiles = 100.0 * (below + 0.5 * equal) / max(len(known), 1)
    percentiles[0] = np.nan
    return percentiles


def rank(
    inputs: QualityInputs,
    *,
    k: int,
    threshold: float,
    max_users: int,
    seed: int,
    item_count: np.ndarray,
) -> Ranked:
    """Top-k lists by the model, by popularity and at random for (a sample of) the users with relevant items.

    Candidates: known items (code ≥ 1) the user did not rate in training. Relevant:
    the user's validation items rated at least `threshold` that are candidates.
    Ties in a score are broken by the lower item code.
    """
    n_items = len(inputs.item_biases)
    catalogue = n_items - 1
    vu, vi = np.asarray(inputs.valid_users), np.asarray(inputs.valid_items)
    good = (np.asarray(inputs.valid_ratings) >= threshold) & (vu > 0) & (vi > 0)
    has_relevant = np.bincount(vu[good], minlength=len(inputs.user_biases)) > 0
    eligible = np.flatnonzero(has_relevant)
    rng = np.random.default_rng(seed)
    sampled = len(eligible) > max_users
    chosen = np.sort(rng.choice(eligible, max_users, replace=False)) if sampled else eligible

    # Row of each chosen user (-1: not chosen), then their training and relevant (row, item) keys.
    row = np.full(len(inputs.user_biases), -1, dtype=np.int64)
    row[chosen] = np.arange(len(chosen))
    train_row = row[inputs.train_users]
    mine = train_row >= 0
    seen = np.unique(train_row[mine] * n_items + np.asarray(inputs.train_items)[mine])
    valid_row = row[vu]
    relevant = np.unique(valid_row[good & (valid_row >= 0)] * n_items + vi[good & (valid_row >= 0)])
    relevant = relevant[~_contains(seen, relevant)]
    n_relevant = np.bincount(relevant // n_items, minlength=len(chosen))
    # Users whose every relevant item was also rated in training (one title under two ids) drop out.
    keep = n_relevant > 0
    if not keep.all():
        old_rows = np.flatnonzero(keep)
        renumber = np.full(len(chosen), -1, dtype=np.int64)
        renumber[old_rows] = np.arange(len(old_rows))
        chosen = chosen[keep]
        seen = seen[renumber[seen // n_items] >= 0]
        seen = renumber[seen // n_items] * n_items + seen % n_items
        relevant = renumber[relevant // n_items] * n_items + relevant % n_items
        n_relevant = n_relevant[keep]
        valid_row = np.where(valid_row >= 0, renumber[np.maximum(valid_row, 0)], -1)

    popular_order = np.lexsort((np.arange(1, n_items), -item_count[1:])) + 1
    random_rng = np.random.default_rng([seed, 1])

    sums = {name: np.zeros(5) for name in RANKERS}
    recommended = np.zeros(n_items, dtype=np.int64)
    batch = max(1, min(MAX_BATCH_USERS, BATCH_CELLS // max(n_items, 1)))
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    seen_rows = seen // n_items
    for start in range(0, len(chosen), batch):
        users = chosen[start : start + batch]
        rows = np.arange(start, start + len(users))
        lo, hi = np.searchsorted(seen_rows, [start, start + len(users)])
        block = seen[lo:hi]
        model_scores = inputs.user_factors[users] @ inputs.item_factors.T + inputs.item_biases
        lists = {
            # The user's own bias shifts every item alike, so ranking skips it (and the sigmoid).
            "model": top_k(_exclude(model_scores, block, start, n_items), k),
            "popularity": popular_top_k(popular_order, rows, block, n_items, k),
            "random": top_k(_exclude(random_rng.random((len(users), n_items)), block, start, n_items), k),
        }
        for name, (top, valid) in lists.items():
            hits = _contains(relevant, rows[:, None] * n_items + top) & valid
            sums[name] += ranking_sums(hits, n_relevant[rows], discount)
            if name == "model":
                recommended += np.bincount(top[valid], minlength=n_items)

    evaluated = len(chosen)
    metrics = {
        name: RankingMetrics(*(float(v) for v in (sums[name] / evaluated if evaluated else np.zeros(5))))
        for name in RANKERS
    }
    percentiles = popularity_percentiles(item_count)
    rated = vi[(valid_row >= 0) & (vi > 0)]
    reached = int(np.count_nonzero(recommended[1:]))
    order = np.lexsort((np.arange(n_items), -recommended))
    most = tuple(
        (str(inputs.item_labels[i]), int(recommended[i])) for i in order[:N_MOST_RECOMMENDED] if recommended[i] > 0
    )
    total_recommended = int(recommended.sum())
    coverage = Coverage(
        catalogue_size=catalogue,
        items_recommended=reached,
        share=reached / catalogue if evaluated and catalogue else None,
        mean_percentile_recommended=float(np.dot(recommended[1:], percentiles[1:]) / total_recommended)
        if total_recommended
        else None,
        mean_percentile_rated=float(percentiles[rated].mean()) if evaluated and len(rated) else None,
        most_recommended=most,
    )
    return Ranked(eligible=len(eligible), evaluated=evaluated, sampled=sampled, metrics=metrics, coverage=coverage)


def _exclude(scores: np.ndarray, seen: np.ndarray, first_row: int, n_items: int) -> np.ndarray:
    """`scores` with −inf for `#na#` and for each user's training items (`seen`: row · n_items + item keys)."""
    scores[:, 0] = -np.inf
    scores[seen // n_items - first_row, seen % n_items] = -np.inf
    return scores


def popular_top_k(order: np.ndarray, rows: np.ndarray, seen: np.ndarray, n_items: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first k items of `order` (item codes, most popular first) the user did not rate in training.

    Only the head of `order` that can hold them is looked at (k plus the most training
    items any of these users has), so no users × items matrix is built.
    """
    n_seen = np.bincount(seen // n_items - rows[0], minlength=len(rows)) if len(seen) else np.zeros(len(rows), np.int64)
    head = order[: k + int(n_seen.max(initial=0))]
    fresh = ~_contains(seen, rows[:, None] * n_items + head[None, :])
    position = np.cumsum(fresh, axis=1)
    r, c = np.nonzero(fresh & (position <= k))
    top = np.zeros((len(rows), k), dtype=np.int64)
    valid = np.zeros((len(rows), k), dtype=bool)
    top[r, position[r, c] - 1] = head[c]
    valid[r, position[r, c] - 1] = True
    return top, valid


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each of `keys` is in the sorted, unique array `sorted_keys`."""
    if len(sorted_keys) == 0:
        return np.zeros(np.shape(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the codes of the k highest scores (ties: lower code first) and whether each is a real candidate.

    `scores` holds −inf for non-candidates; a row with fewer than k candidates fills
    its list with non-candidates, marked False.
    """
    n_rows, n_items = scores.shape
    k_eff = min(k, n_items)
    part = np.argpartition(scores, n_items - k_eff, axis=1)[:, n_items - k_eff :]
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1)
    tied = np.count_nonzero(scores >= kth[:, None], axis=1) > k_eff
    for r in np.flatnonzero(tied):  # argpartition picks among equal scores arbitrarily
        codes = np.flatnonzero(scores[r] >= kth[r])
        part[r] = codes[np.lexsort((codes, -scores[r, codes]))][:k_eff]
    values = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -values), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    valid = np.take_along_axis(values, order, axis=1) > -np.inf
    if k_eff < k:
        top = np.pad(top, ((0, 0), (0, k - k_eff)))
        valid = np.pad(valid, ((0, 0), (0, k - k_eff)))
    return top, valid


def ranking_sums(hits: np.ndarray, n_relevant: np.ndarray, discount: np.ndarray) -> np.ndarray:
    """Summed over users: precision, recall, NDCG, average precision and hit at k (hits: users × k, in rank order)."""
    k = hits.shape[1]
    found = hits.sum(axis=1)
    ideal_hits = np.minimum(n_relevant, k)
    ideal = np.concatenate(([0.0], np.cumsum(discount)))[ideal_hits]
    dcg = hits @ discount
    cumulative = np.cumsum(hits, axis=1)
    precision_at_hit = np.where(hits, cumulative / np.arange(1, k + 1), 0.0).sum(axis=1)
    return np.array(
        [
            (found / k).sum(),
            (found / n_relevant).sum(),
            (dcg / ideal).sum(),
            (precision_at_hit / ideal_hits).sum(),
            np.count_nonzero(found),
        ]
    )


# --------------------------------------------------------------------------- report.json


def _number(value: float | None, digits: int = 6) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def to_json(quality: Quality) -> dict[str, Any]:
    """The `quality` block of report.json: plain numbers, None (null) where a value is undefined, never NaN."""
    k = quality.k

    def bucket_rows(b: Buckets) -> list[dict[str, Any]]:
        return [
            {"label": x.label, "low": x.low, "high": x.high, "count": x.count, "rmse": _number(x.rmse)}
            for x in b.buckets
        ]

    c = quality.coverage
    cal = quality.calibration
    return {
        "k": k,
        "threshold": _number(quality.threshold),
        "users_eligible": quality.users_eligible,
        "users_evaluated": quality.users_evaluated,
        "users_sampled": quality.sampled,
        "seed": quality.seed,
        "rating": {
            name: {"rmse": _number(m.rmse), "mae": _number(m.mae), "r2": _number(m.r2)}
            for name, m in quality.rating.items()
        },
        "ranking": {
            name: {
                f"precision_at_{k}": _number(m.precision),
                f"recall_at_{k}": _number(m.recall),
                f"ndcg_at_{k}": _number(m.ndcg),
                f"map_at_{k}": _number(m.map),
                f"hit_rate_at_{k}": _number(m.hit_rate),
            }
            for name, m in quality.ranking.items()
        },
        "coverage": {
            "catalogue_size": c.catalogue_size,
            "items_recommended": c.items_recommended,
            "share": _number(c.share),
            "mean_popularity_percentile_recommended": _number(c.mean_percentile_recommended),
            "mean_popularity_percentile_rated": _number(c.mean_percentile_rated),
            "most_recommended": [{"label": label, "count": n} for label, n in c.most_recommended],
        },
        "by_user_activity": bucket_rows(quality.by_user_activity),
        "by_item_popularity": bucket_rows(quality.by_item_popularity),
        "calibration": {
            "bins": [
                {
                    "low": _number(b.low),
                    "high": _number(b.high),
                    "count": b.count,
                    "mean_predicted": _number(b.mean_predicted),
                    "mean_observed": _number(b.mean_observed),
                }
                for b in cal.bins
            ],
            "mean_residual": _number(cal.mean_residual),
            "residuals": {"edges": [_number(e) for e in cal.residuals.edges], "counts": list(cal.residuals.counts)},
        },
        "sentences": {
            "ranking": quality.ranking_sentence,
            "sample": quality.sample_sentence,
            "coverage": c.sentence,
            "by_user_activity": quality.by_user_activity.sentence,
            "by_item_popularity": quality.by_item_popularity.sentence,
            "calibration": cal.sentence,
            "mean_residual": cal.mean_residual_sentence,
        },
    }
