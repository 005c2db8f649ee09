"""Analyse stage: what the model learned about items, as plain dataclasses.

The tutorial's interpretation, made repeatable: the most-rated items, their
learned biases next to their mean ratings, a 3-component PCA of their factor
vectors with a fixed sign rule, and the labelled scatter of components 0 and 2.
Everything is computed on items the learner knows (its training vocabulary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.errors import InputError
from reportgen.train import NA_CLASS

if TYPE_CHECKING:
    from reportgen.data import Ratings
    from reportgen.train import TrainedModel

SIGN_RULE = (
    "Each component's sign is fixed so that the item with the largest absolute "
    "score on it scores positive; reruns therefore never flip a component."
)


@dataclass(frozen=True)
class ItemStat:
    """An item's learned bias beside what the raw data says about it."""

    title: str
    bias: float
    mean_rating: float
    count: int


@dataclass(frozen=True)
class Scored:
    title: str
    score: float


@dataclass(frozen=True)
class Component:
    """One principal component of the top items' factor vectors."""

    index: int
    explained_variance_ratio: float
    top: tuple[Scored, ...]  # highest scores first
    bottom: tuple[Scored, ...]  # lowest scores first


@dataclass(frozen=True)
class ScatterPoint:
    title: str
    x: float
    y: float


@dataclass(frozen=True)
class Findings:
    """Everything the report says about the model's items."""

    top_n_requested: int
    top_items: tuple[str, ...]  # by rating count, most rated first
    unknown_to_model: int  # titles in the data the learner never saw in training
    item_stats: tuple[ItemStat, ...]  # one per top item, in top_items order
    worst: tuple[ItemStat, ...]  # lowest bias first
    best: tuple[ItemStat, ...]  # highest bias first
    explained_variance_ratio: tuple[float, ...]
    components: tuple[Component, ...]
    scatter_axes: tuple[int, int]  # the components plotted on x and y
    scatter: tuple[ScatterPoint, ...]
    sign_rule: str = SIGN_RULE

    @property
    def top_n_clamped(self) -> bool:
        return len(self.top_items) < self.top_n_requested

    @property
    def notes(self) -> tuple[str, ...]:
        """Warnings about the analysis, for the log and the report."""
        notes = []
        if self.top_n_clamped:
            notes.append(
                f"--top-n {self.top_n_requested} is more than the {len(self.top_items)} items the model "
                f"knows, so all {len(self.top_items)} were analysed"
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
    top_n: int = 1000,
    n_extremes: int = 15,
    n_components: int = 3,
    n_component_items: int = 10,
    n_scatter: int = 50,
    scatter_axes: tuple[int, int] = (0, 2),
) -> Findings:
    """The tutorial's interpretation of `model`, on its `top_n` most-rated known items."""
    index = {title: i for i, title in enumerate(model.item_classes) if title != NA_CLASS}
    grouped = ratings.frame.groupby("title", sort=False)["rating"]
    counts = grouped.count()
    means = grouped.mean()
    known = counts[counts.index.isin(index.keys())]
    if len(known) < 2:
        raise InputError(f"the model knows only {len(known)} item(s); at least 2 are needed for the analysis")

    # The tutorial's `top_movies`: most ratings first; equal counts fall back to
    # title order so the ranking never depends on a sort's stability.
    ranked = sorted(known.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]
    top_items = tuple(title for title, _ in ranked)
    rows = np.array([index[t] for t in top_items])
    biases = model.item_biases[rows]
    stats = tuple(
        ItemStat(title=t, bias=float(b), mean_rating=float(means[t]), count=int(counts[t]))
        for t, b in zip(top_items, biases)
    )
    by_bias = sorted(stats, key=lambda s: (s.bias, s.title))

    k = min(n_components, len(top_items), model.item_factors.shape[1])
    scores, ratios = pca(model.item_factors[rows], k)
    components = tuple(
        Component(
            index=c,
            explained_variance_ratio=float(ratios[c]),
            top=_extreme(top_items, scores[:, c], n_component_items, highest=True),
            bottom=_extreme(top_items, scores[:, c], n_component_items, highest=False),
        )
        for c in range(k)
    )
    x_axis, y_axis = (min(a, k - 1) for a in scatter_axes)
    scatter = tuple(
        ScatterPoint(title=t, x=float(scores[i, x_axis]), y=float(scores[i, y_axis]))
        for i, t in enumerate(top_items[:n_scatter])
    )
    return Findings(
        top_n_requested=top_n,
        top_items=top_items,
        unknown_to_model=int(len(counts) - len(known)),
        item_stats=stats,
        worst=tuple(by_bias[:n_extremes]),
        best=tuple(reversed(by_bias[-n_extremes:])),
        explained_variance_ratio=tuple(float(r) for r in ratios),
        components=components,
        scatter_axes=(x_axis, y_axis),
        scatter=scatter,
    )


def pca(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores on the first `k` principal components, and their explained-variance ratios.

    The same projection as fastai's `Tensor.pca` (centre, SVD, project), in
    float64, plus the variance ratios it does not give. SVD signs are arbitrary,
    so each component is flipped to make its largest-magnitude score positive.
    """
    centred = matrix - matrix.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    scores = centred @ vt[:k].T
    variance = singular**2
    total = variance.sum()
    ratios = variance[:k] / total if total > 0 else np.zeros(k)
    anchor = np.abs(scores).argmax(axis=0)
    signs = np.sign(scores[anchor, np.arange(k)])
    signs[signs == 0] = 1.0
    return scores * signs, ratios


def _extreme(titles: tuple[str, ...], scores: np.ndarray, n: int, highest: bool) -> tuple[Scored, ...]:
    order = sorted(range(len(titles)), key=lambda i: (-scores[i] if highest else scores[i], titles[i]))
    return tuple(Scored(title=titles[i], score=float(scores[i])) for i in order[:n])
