"""Analyse stage: everything the report says about what the model learned, as one `Analysis`.

The tutorial's interpretation made repeatable (the most-rated items, their
learned biases beside their mean ratings, a PCA of their factor vectors with a
fixed sign rule, the labelled scatter of components 0 and 2) and what the report
adds to it (baselines, bias against mean, genres, neighbours, distributions).
Everything is computed once, on the items the model knows, in `analyse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen import machine
from reportgen.analysis import baselines as yardsticks
from reportgen.analysis import defaults, sums
from reportgen.analysis import factors as factor_analysis
from reportgen.analysis import quality as recommender
from reportgen.analysis.baselines import Baselines
from reportgen.analysis.factors import SIGN_RULE, Component, ComponentGenres, FactorMap, Neighbour
from reportgen.analysis.inputs import SplitRatings
from reportgen.analysis.stats import Histogram, histogram, rating_histogram
from reportgen.analysis.workers import workers
from reportgen.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from reportgen.data.types import Ratings
    from reportgen.train.results import TrainedModel

N_EXTREMES, N_COMPONENTS, N_COMPONENT_ITEMS, N_SCATTER = 15, 3, 10, 50
N_DISAGREE, N_NEIGHBOURS, N_NEIGHBOUR_ITEMS, N_SCREE = 5, 5, 10, 10
SCATTER_AXES = (0, 2)  # the tutorial's plot: components 0 and 2
# The explorer's map: the most-rated items (all of them up to --top-n 1000), on the first ten
# components, each with its N_NEIGHBOURS nearest among them: MAP_ITEMS x MAP_ITEMS cosines at most.
MAP_ITEMS, N_MAP_COMPONENTS = 1000, 10


@dataclass(frozen=True)
class ItemStat:
    """An item's learned bias beside what the raw data says about it."""

    title: str
    bias: float
    mean_rating: float
    count: int


@dataclass(frozen=True)
class ScatterPoint:
    title: str
    x: float
    y: float


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
class Analysis:
    """Everything the report says about the model's items, users and error."""

    top_n_requested: int  # the top_n analysed for: the user's, else defaults.TOP_N
    top_items: tuple[str, ...]  # by rating count, most rated first
    unknown_to_model: int  # titles in the data the learner never saw in training
    item_stats: tuple[ItemStat, ...]  # one per top item, in top_items order
    worst: tuple[ItemStat, ...]  # lowest bias first
    best: tuple[ItemStat, ...]  # highest bias first
    explained_variance_ratio: tuple[float, ...]  # the first N_SCREE components; the report reads `components`
    components: tuple[Component, ...]
    scatter_axes: tuple[int, int]  # the components plotted on x and y
    scatter: tuple[ScatterPoint, ...]
    baselines: Baselines
    bias_vs_mean: BiasVsMean
    component_genres: tuple[ComponentGenres, ...]  # empty when the data has no genres
    neighbours: dict[str, tuple[Neighbour, ...]]  # the most-rated items, most rated first
    user_biases: Histogram
    ratings: Histogram
    quality: recommender.Quality  # rating and ranking metrics, who it fails, calibration
    sign_rule: str = SIGN_RULE
    factor_map: FactorMap | None = None  # the explorer's data; None in a report.json written before it
    top_n_given: bool = True  # False: top_n was left at its default, so analysing fewer items warns of nothing

    @property
    def top_n_clamped(self) -> bool:
        return len(self.top_items) < self.top_n_requested

    @property
    def shortfalls(self) -> tuple[recommender.Shortfall, ...]:
        """Each simple yardstick the model does not beat (`quality.shortfalls`), for the page, report.md and the log."""
        return recommender.shortfalls(self.baselines, self.quality)

    def genres_for(self, index: int) -> ComponentGenres | None:
        return next((g for g in self.component_genres if g.index == index), None)

    @property
    def notes(self) -> tuple[str, ...]:
        """Warnings about the analysis, for the log and the report."""
        notes = []
        if self.top_n_clamped and self.top_n_given:
            notes.append(
                f"--top-n {self.top_n_requested} is more than the {len(self.top_items)} items the model "
                f"knows, so all {len(self.top_items)} were analysed"
            )
        if sum(1 for c in self.ratings.counts if c) == 1:
            notes.append(
                "every rating has the same value: the data has no spread, so no predictor can beat the global "
                "mean and the error measures below say little"
            )
        if self.unknown_to_model:
            notes.append(
                f"{self.unknown_to_model} item(s) appear only in the validation split; the model has no "
                "embedding for them, so the analysis leaves them out"
            )
        return tuple(notes)


def analyse(
    ratings: Ratings,
    model: TrainedModel,
    *,
    top_n: int | None = None,
    n_extremes: int = N_EXTREMES,
    n_component_items: int = N_COMPONENT_ITEMS,
    n_scatter: int = N_SCATTER,
    k: int = defaults.K,
    relevant_from: float | None = None,
) -> Analysis:
    """What `model` learned, read on its `top_n` most-rated known items (None: `defaults.TOP_N`, and no
    warning when the model knows fewer: only a `top_n` the caller chose can ask for too many).

    `n_extremes` items at each end of the bias ranking, `n_component_items` at each
    end of a component, the `n_scatter` most-rated items in the scatter plot. The
    ranking metrics look at top-`k` lists; an item is relevant to a user who rated it
    at least `relevant_from` (None: 4 on a 1–5 scale, `quality.default_threshold`).
    """
    defaults.check_settings(top_n, k, relevant_from)
    top_n_given = top_n is not None
    top_n = defaults.TOP_N if top_n is None else top_n
    index = model.known_items()
    frame = ratings.frame.reset_index(drop=True)
    counts, means = sums.counts_and_means(frame["title"], frame["rating"])
    known = counts[counts.index.isin(index.keys())]
    if len(known) < 2:
        raise InputError(f"the model knows only {len(known)} item(s); at least 2 are needed for the analysis")
    rating = frame["rating"].to_numpy(dtype=np.float64)
    with workers(model.config.threads or machine.cores()) as pool:
        # The frame's sums by rater on one thread; the split's passes (gathers, predictions) share the rest.
        by_rater = pool.submit(lambda: (raters_means(frame), rating_histogram(rating)))
        split = SplitRatings.gather(model.codes, rating, model.split, pool)
        guessing = pool.submit(lambda: yardsticks.guess(split))
        predictions = recommender.model_predictions(model, split, pool)
        guesses = guessing.result()
        inputs = recommender.inputs_from(model, split, guesses, predictions)
        quality = recommender.evaluate(inputs, k=k, threshold=relevant_from, seed=model.config.seed, pool=pool)
        (raters, overall), ratings_histogram = by_rater.result()

    # The tutorial's `top_movies`: most ratings first; equal counts fall back to
    # title order so the ranking never depends on a sort's stability.
    ranked = sorted(known.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]
    top_items = tuple(title for title, _ in ranked)
    rows = np.array([index[t] for t in top_items])
    item_factors = model.item_factors[rows]
    stats = tuple(
        ItemStat(title=t, bias=float(b), mean_rating=float(means[t]), count=int(counts[t]))
        for t, b in zip(top_items, model.item_biases[rows])
    )
    by_bias = sorted(stats, key=lambda s: (s.bias, s.title))

    n_read = min(N_COMPONENTS, len(top_items), item_factors.shape[1])
    # One PCA serves the sections (the first n_read components) and the explorer's map (up to ten).
    map_scores, ratios = factor_analysis.pca(item_factors, min(N_MAP_COMPONENTS, *item_factors.shape), N_SCREE)
    scores = map_scores[:, :n_read]
    components = factor_analysis.components(top_items, scores, ratios, n_component_items)
    x_axis, y_axis = (min(a, n_read - 1) for a in SCATTER_AXES)
    return Analysis(
        top_n_requested=top_n,
        top_items=top_items,
        unknown_to_model=int(len(counts) - len(known)),
        item_stats=stats,
        worst=tuple(by_bias[:n_extremes]),
        best=tuple(reversed(by_bias[-n_extremes:])),
        explained_variance_ratio=tuple(float(r) for r in ratios),
        components=components,
        scatter_axes=(x_axis, y_axis),
        scatter=tuple(
            ScatterPoint(title=t, x=float(scores[i, x_axis]), y=float(scores[i, y_axis]))
            for i, t in enumerate(top_items[:n_scatter])
        ),
        baselines=yardsticks.summarise(guesses, split.valid_ratings, model.metrics.valid_rmse),
        bias_vs_mean=bias_vs_mean(stats, raters, overall),
        component_genres=factor_analysis.component_genres(top_items, components, ratings.genres),
        neighbours=factor_analysis.neighbours(top_items, item_factors, N_NEIGHBOUR_ITEMS, N_NEIGHBOURS),
        user_biases=histogram(model.known_user_biases()),
        ratings=ratings_histogram,
        quality=quality,
        factor_map=factor_analysis.factor_map(top_items, item_factors, map_scores, MAP_ITEMS, N_NEIGHBOURS),
        top_n_given=top_n_given,
    )


def raters_means(frame: pd.DataFrame) -> tuple[pd.Series, float]:
    """Each title's raters' own average (a rater's mean over all their ratings, averaged over the title's raters), and the overall mean."""
    return sums.raters_means(frame["user"], frame["title"], frame["rating"]), float(frame["rating"].mean())


def bias_vs_mean(stats: tuple[ItemStat, ...], raters: pd.Series, overall: float) -> BiasVsMean:
    """How far the learned bias follows the plain mean rating, and where it parts from it.

    `raters`: each title's raters' own average (`raters_means`); `overall`: every rating's mean.
    """
    bias = np.array([s.bias for s in stats])
    mean = np.array([s.mean_rating for s in stats])
    correlation = float(np.corrcoef(bias, mean)[0, 1]) if len(stats) > 2 and bias.std() > 0 and mean.std() > 0 else 0.0
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
        return f"only {count} ratings: weight decay pulls the bias of a rarely rated item towards 0, whatever its mean"
    return "the latent factors explain its ratings by taste (who rates it) more than by the item itself"
