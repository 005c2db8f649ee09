"""Beyond the tutorial: is the model any good, and how to read it (part of the analyse stage).

Baselines on the same validation split (global mean; user + item biases fitted
by alternating least squares), bias against mean rating, what each PCA
component's ends share (MovieLens genres), nearest neighbours by cosine
similarity of the factor vectors, and the distributions of user biases and
ratings. Plain functions over arrays and frames, returning frozen dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.train import NA_CLASS

if TYPE_CHECKING:
    import pandas as pd

    from reportgen.analysis import Findings
    from reportgen.data import Ratings
    from reportgen.train import TrainedModel

# Koren's damped baseline: item biases shrink towards 0 with λ_item pseudo-ratings,
# user biases with λ_user; a few alternating sweeps converge to 4 decimals.
LAMBDA_ITEM, LAMBDA_USER, SWEEPS = 25.0, 10.0, 5
N_DISAGREE, N_NEIGHBOURS, N_NEIGHBOUR_ITEMS, N_SCREE = 5, 5, 10, 10
# A genre "stands out" at one end of a component when it is this common there and
# this many times more common than among all analysed items.
GENRE_MIN_SHARE, GENRE_LIFT = 0.3, 1.5


@dataclass(frozen=True)
class Baselines:
    """Validation RMSE of two simple predictors beside the model's, on the same split."""

    global_mean_rmse: float
    bias_only_rmse: float
    model_rmse: float
    global_mean: float


@dataclass(frozen=True)
class Disagreement:
    """An item whose mean rating and learned bias tell different stories, and why."""

    title: str
    bias: float
    mean_rating: float
    count: int
    raters_mean: float  # the average rating its raters give across all items
    reason: str


@dataclass(frozen=True)
class BiasVsMean:
    correlation: float  # Pearson, over the analysed items
    points: tuple[tuple[str, float, float], ...]  # (title, bias, mean rating)
    high_mean_low_bias: tuple[Disagreement, ...]
    low_mean_high_bias: tuple[Disagreement, ...]


@dataclass(frozen=True)
class GenreShare:
    genre: str
    share: float  # of the 10 items at this end
    overall: float  # of all analysed items


@dataclass(frozen=True)
class ComponentGenres:
    index: int
    top: tuple[GenreShare, ...]  # genres standing out among the highest scores
    bottom: tuple[GenreShare, ...]
    shares_top: dict[str, float]  # every genre's share among the highest scores
    shares_bottom: dict[str, float]

    @property
    def sentence(self) -> str:
        """What the two ends have in common, in words, where the genres give a hint."""
        if not self.top and not self.bottom:
            return "No genre stands out at either end: this component captures something the genres do not name."

        def end(label: str, found: tuple[GenreShare, ...]) -> str:
            if not found:
                return f"the {label} scores share no standout genre"
            named = ", ".join(f"{g.genre} ({g.share:.0%} of them, against {g.overall:.0%} of all analysed items)" for g in found)
            return f"the {label} scores lean to {named}"

        text = f"{end('highest', self.top)}; {end('lowest', self.bottom)}."
        return text[0].upper() + text[1:]


@dataclass(frozen=True)
class Neighbour:
    title: str
    similarity: float


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...]  # len(counts) + 1 bin edges
    counts: tuple[int, ...]


@dataclass(frozen=True)
class Insight:
    baselines: Baselines
    bias_vs_mean: BiasVsMean
    explained_variance_ratio: tuple[float, ...]  # first components of the analysed items' factors
    component_genres: tuple[ComponentGenres, ...]  # empty when the data has no genres
    neighbours: dict[str, tuple[Neighbour, ...]]  # the most-rated items, most rated first
    user_biases: Histogram
    ratings: Histogram

    def genres_for(self, index: int) -> ComponentGenres | None:
        return next((g for g in self.component_genres if g.index == index), None)


def insights(ratings: Ratings, model: TrainedModel, findings: Findings) -> Insight:
    """Everything the report adds to the tutorial's interpretation."""
    frame = ratings.frame.reset_index(drop=True)
    train_rows, valid_rows = model.split
    index = {title: i for i, title in enumerate(model.item_classes)}
    rows = np.array([index[t] for t in findings.top_items])
    factors = model.item_factors[rows]
    return Insight(
        baselines=baselines(frame, train_rows, valid_rows, model.metrics.valid_rmse),
        bias_vs_mean=bias_vs_mean(frame, findings),
        explained_variance_ratio=scree(factors, N_SCREE),
        component_genres=component_genres(findings, ratings.genres),
        neighbours=neighbours(findings.top_items, factors, N_NEIGHBOUR_ITEMS, N_NEIGHBOURS),
        user_biases=histogram(model.user_biases[[i for i, u in enumerate(model.user_classes) if u != NA_CLASS]]),
        ratings=rating_histogram(frame["rating"].to_numpy(dtype=float)),
    )


def baselines(frame: pd.DataFrame, train_rows: np.ndarray, valid_rows: np.ndarray, model_rmse: float) -> Baselines:
    """Global mean and user + item bias predictors, fitted on the training rows only."""
    train, valid = frame.iloc[train_rows], frame.iloc[valid_rows]
    mu = float(train["rating"].mean())
    truth = valid["rating"].to_numpy(dtype=float)
    global_rmse = float(np.sqrt(np.mean((truth - mu) ** 2)))

    user_bias: pd.Series = train.groupby("user")["rating"].mean() * 0.0
    for _ in range(SWEEPS):
        residual = train["rating"] - mu - train["user"].map(user_bias).to_numpy()
        grouped = residual.groupby(train["title"])
        item_bias = grouped.sum() / (LAMBDA_ITEM + grouped.count())
        residual = train["rating"] - mu - train["title"].map(item_bias).to_numpy()
        grouped = residual.groupby(train["user"])
        user_bias = grouped.sum() / (LAMBDA_USER + grouped.count())
    low, high = float(train["rating"].min()), float(train["rating"].max())
    guess = mu + valid["user"].map(user_bias).fillna(0.0).to_numpy() + valid["title"].map(item_bias).fillna(0.0).to_numpy()
    bias_rmse = float(np.sqrt(np.mean((truth - np.clip(guess, low, high)) ** 2)))
    return Baselines(global_mean_rmse=global_rmse, bias_only_rmse=bias_rmse, model_rmse=model_rmse, global_mean=mu)


def bias_vs_mean(frame: pd.DataFrame, findings: Findings) -> BiasVsMean:
    """How far the learned bias follows the plain mean rating, and where it parts from it."""
    stats = findings.item_stats
    bias = np.array([s.bias for s in stats])
    mean = np.array([s.mean_rating for s in stats])
    correlation = float(np.corrcoef(bias, mean)[0, 1]) if len(stats) > 2 and bias.std() > 0 and mean.std() > 0 else 0.0
    # Each rater's own average; an item's raters_mean is the average of those over its raters.
    user_mean = frame.groupby("user")["rating"].mean()
    raters = frame.assign(user_mean=frame["user"].map(user_mean)).groupby("title")["user_mean"].mean()
    overall = float(frame["rating"].mean())
    median_count = float(np.median([s.count for s in stats]))
    gap = _z(mean) - _z(bias)  # > 0: the mean says "good" more loudly than the bias does

    def disagreement(i: int, high_mean: bool) -> Disagreement:
        s = stats[i]
        return Disagreement(
            title=s.title,
            bias=s.bias,
            mean_rating=s.mean_rating,
            count=s.count,
            raters_mean=float(raters[s.title]),
            reason=_reason(s.count, float(raters[s.title]), overall, median_count, high_mean),
        )

    order = sorted(range(len(stats)), key=lambda i: (-gap[i], stats[i].title))
    return BiasVsMean(
        correlation=correlation,
        points=tuple((s.title, s.bias, s.mean_rating) for s in stats),
        high_mean_low_bias=tuple(disagreement(i, True) for i in order[:N_DISAGREE] if gap[i] > 0),
        low_mean_high_bias=tuple(disagreement(i, False) for i in reversed(order[-N_DISAGREE:]) if gap[i] < 0),
    )


def _z(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def _reason(count: int, raters_mean: float, overall: float, median_count: float, high_mean: bool) -> str:
    """One sentence: generous or harsh raters, few ratings, or taste the factors carry."""
    if high_mean and raters_mean > overall + 0.1:
        return (
            f"its raters are generous (they average {raters_mean:.2f} across all items, against "
            f"{overall:.2f} overall), so its mean flatters it and the model credits the users instead"
        )
    if not high_mean and raters_mean < overall - 0.1:
        return (
            f"its raters are harsh (they average {raters_mean:.2f} across all items, against "
            f"{overall:.2f} overall), so its mean understates it and the model credits the item"
        )
    if count < median_count:
        return (
            f"only {count} ratings: weight decay pulls the bias of a rarely rated item towards 0, "
            "whatever its mean"
        )
    return "the latent factors explain its ratings by taste (who rates it) more than by the item itself"


def scree(factors: np.ndarray, k: int) -> tuple[float, ...]:
    """Explained-variance ratios of the first `k` principal components (signs play no part)."""
    centred = factors - factors.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    variance = singular**2
    total = variance.sum()
    return tuple(float(v / total) for v in variance[:k]) if total > 0 else ()


def component_genres(findings: Findings, genres: dict[str, tuple[str, ...]]) -> tuple[ComponentGenres, ...]:
    """Each genre's share among a component's highest and lowest items, and the ones standing out."""
    if not genres:
        return ()
    analysed = findings.top_items
    names = sorted({g for t in analysed for g in genres.get(t, ())})
    overall = {g: sum(g in genres.get(t, ()) for t in analysed) / len(analysed) for g in names}

    def shares(titles: list[str]) -> dict[str, float]:
        return {g: sum(g in genres.get(t, ()) for t in titles) / len(titles) for g in names} if titles else {}

    def standing_out(share: dict[str, float]) -> tuple[GenreShare, ...]:
        chosen = [
            GenreShare(g, share[g], overall[g])
            for g in names
            if share[g] >= GENRE_MIN_SHARE and share[g] >= GENRE_LIFT * overall[g]
        ]
        return tuple(sorted(chosen, key=lambda s: (-s.share, s.genre))[:3])

    result = []
    for c in findings.components:
        top, bottom = shares([s.title for s in c.top]), shares([s.title for s in c.bottom])
        result.append(ComponentGenres(c.index, standing_out(top), standing_out(bottom), top, bottom))
    return tuple(result)


def neighbours(titles: tuple[str, ...], factors: np.ndarray, n_items: int, n: int) -> dict[str, tuple[Neighbour, ...]]:
    """For the first `n_items` titles, the `n` others whose factor vectors point the same way."""
    norms = np.linalg.norm(factors, axis=1)
    unit = factors / np.where(norms > 0, norms, 1.0)[:, None]
    similarity = unit @ unit.T
    found = {}
    for i, title in enumerate(titles[:n_items]):
        order = sorted((j for j in range(len(titles)) if j != i), key=lambda j: (-similarity[i, j], titles[j]))
        found[title] = tuple(Neighbour(titles[j], float(similarity[i, j])) for j in order[:n])
    return found


def histogram(values: np.ndarray, bins: int = 24) -> Histogram:
    counts, edges = np.histogram(values, bins=bins)
    return Histogram(edges=tuple(float(e) for e in edges), counts=tuple(int(c) for c in counts))


def rating_histogram(values: np.ndarray) -> Histogram:
    """One bar per value of the rating scale (≤ 20 steps), empty ones included; else even bins."""
    distinct = np.unique(values)
    step = float(np.min(np.diff(distinct))) if len(distinct) > 1 else 1.0
    scale = np.arange(distinct[0], distinct[-1] + step / 2, step)
    if len(scale) > 20 or not np.allclose(np.round((distinct - distinct[0]) / step), (distinct - distinct[0]) / step):
        return histogram(values, bins=20)
    edges = np.append(scale - step / 2, scale[-1] + step / 2)
    counts = [int(np.sum(np.isclose(values, v))) for v in scale]
    return Histogram(edges=tuple(float(e) for e in edges), counts=tuple(counts))
