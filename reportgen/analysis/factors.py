"""What the item factor vectors say: PCA with a fixed sign rule, genres at each end, neighbours.

Plain functions over numpy arrays (one row per analysed item), returning frozen
dataclasses; `analysis.analyse` calls them once each on the same factor matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SIGN_RULE = (
    "Each component's sign is fixed so that the item with the largest absolute "
    "score on it scores positive; reruns therefore never flip a component."
)
# A genre "stands out" at one end of a component when it is this common there and
# this many times more common than among all analysed items.
GENRE_MIN_SHARE, GENRE_LIFT = 0.3, 1.5


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
class GenreShare:
    genre: str
    share: float  # of the items at this end
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
            named = ", ".join(
                f"{g.genre} ({g.share:.0%} of them, against {g.overall:.0%} of all analysed items)" for g in found
            )
            return f"the {label} scores lean to {named}"

        text = f"{end('highest', self.top)}; {end('lowest', self.bottom)}."
        return text[0].upper() + text[1:]


@dataclass(frozen=True)
class Neighbour:
    title: str
    similarity: float


@dataclass(frozen=True)
class Axes:
    """The frame of a PCA: the centre it subtracts and its components, each with the sign `SIGN_RULE` gave it.

    `project` puts other vectors in the same frame: what the explorer's view since the previous
    run reads yesterday's aligned vectors with (`analysis.movement`).
    """

    mean: np.ndarray  # (n_factors,), the analysed items' mean vector
    components: np.ndarray  # (k, n_factors), unit rows, signed
    ratios: np.ndarray  # explained-variance ratios

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """Scores of `vectors` (rows in the fitted space) on the components."""
        return (vectors - self.mean) @ self.components.T


def pca(matrix: np.ndarray, k: int, n_ratios: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores on the first `k` principal components, and the first `n_ratios` explained-variance ratios.

    The same projection as fastai's `Tensor.pca` (centre, SVD, project), in
    float64, plus the variance ratios it does not give; one SVD serves both. SVD
    signs are arbitrary, so each component is flipped to make its
    largest-magnitude score positive (`SIGN_RULE`).
    """
    scores, axes = pca_axes(matrix, k, n_ratios)
    return scores, axes.ratios


def pca_axes(matrix: np.ndarray, k: int, n_ratios: int) -> tuple[np.ndarray, Axes]:
    """`pca`'s scores and the frame that gives them (`Axes`): one computation for both."""
    mean = matrix.mean(axis=0)
    centred = matrix - mean
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    scores = centred @ vt[:k].T
    variance = singular**2
    total = variance.sum()
    ratios = variance[: max(k, n_ratios)] / total if total > 0 else np.zeros(max(k, n_ratios))
    anchor = np.abs(scores).argmax(axis=0)
    signs = np.sign(scores[anchor, np.arange(k)])
    signs[signs == 0] = 1.0
    return scores * signs, Axes(mean=mean, components=vt[:k] * signs[:, None], ratios=ratios)


def components(titles: Sequence[str], scores: np.ndarray, ratios: np.ndarray, n_items: int) -> tuple[Component, ...]:
    """Each component's `n_items` highest and lowest scoring titles (ties by title)."""
    return tuple(
        Component(
            index=c,
            explained_variance_ratio=float(ratios[c]),
            top=_extreme(titles, scores[:, c], n_items, highest=True),
            bottom=_extreme(titles, scores[:, c], n_items, highest=False),
        )
        for c in range(scores.shape[1])
    )


def _extreme(titles: Sequence[str], scores: np.ndarray, n: int, highest: bool) -> tuple[Scored, ...]:
    order = sorted(range(len(titles)), key=lambda i: (-scores[i] if highest else scores[i], titles[i]))
    return tuple(Scored(title=titles[i], score=float(scores[i])) for i in order[:n])


def component_genres(
    analysed: Sequence[str], found: Sequence[Component], genres: dict[str, tuple[str, ...]]
) -> tuple[ComponentGenres, ...]:
    """Each genre's share among a component's highest and lowest items, and the ones standing out."""
    if not genres:
        return ()
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
    for c in found:
        top, bottom = shares([s.title for s in c.top]), shares([s.title for s in c.bottom])
        result.append(ComponentGenres(c.index, standing_out(top), standing_out(bottom), top, bottom))
    return tuple(result)


def nearest(
    titles: Sequence[str], unit_rows: np.ndarray, unit: np.ndarray, n: int, first: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """For each of `unit_rows` (rows `first`, `first + 1`, … of `unit`, unit vectors), the rows of the `n` others
    that point its way most, nearest first (ties by title), and their cosine similarities: the one rule of every
    neighbour list.

    One matrix product of `unit_rows` with `unit`, one partition per row to find the `n` nearest
    (with every row tied with the last of them), and a sort of those few alone. A caller with
    many rows passes them a block at a time (`first`), so memory stays at a block times `unit`.
    """
    similarity = unit_rows @ unit.T
    rank = np.empty(len(titles), dtype=np.int64)
    rank[sorted(range(len(titles)), key=titles.__getitem__)] = np.arange(len(titles))
    keyed = -similarity
    keyed[np.arange(len(unit_rows)), first + np.arange(len(unit_rows))] = np.inf  # never its own neighbour
    m = min(n, len(titles) - 1)
    order = np.empty((len(unit_rows), m), dtype=np.int64)
    if m > 0:
        last = np.partition(keyed, m - 1, axis=1)[:, m - 1]  # the n-th nearest's key, per row
        for i, row in enumerate(keyed):
            found = np.flatnonzero(row <= last[i])
            order[i] = found[np.lexsort((rank[found], row[found]))][:m]
    return order, np.take_along_axis(similarity, order, axis=1)


def unit_vectors(factors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(factors, axis=1)
    return factors / np.where(norms > 0, norms, 1.0)[:, None]


def neighbours(titles: Sequence[str], factors: np.ndarray, n_items: int, n: int) -> dict[str, tuple[Neighbour, ...]]:
    """For the first `n_items` titles, the `n` others whose factor vectors point the same way.

    Only those `n_items` rows are compared with all others, so the cost is linear
    in the number of analysed items.
    """
    unit = unit_vectors(factors)
    order, similarity = nearest(titles, unit[:n_items], unit, n)
    return {
        title: tuple(Neighbour(titles[j], float(s)) for j, s in zip(order[i], similarity[i]))
        for i, title in enumerate(titles[:n_items])
    }


@dataclass(frozen=True)
class FactorMap:
    """Where each mapped item sits in the taste space, for the page's explorer: row `i` is the analysed
    item `top_items[i]` (the first `len(scores)` of them, most rated first).

    Scores are on the first principal components of all analysed items (the PCA above, more
    components); neighbours are rows of this map, nearest first by cosine in the full factor space
    (`nearest`, the neighbours section's rule). Scores are rounded to `MAP_DECIMALS`, similarities to
    the two decimals the page prints (the digits `fixed` gives the section's full values).
    """

    scores: tuple[tuple[float, ...], ...]  # per item, its score on each component
    neighbours: tuple[tuple[int, ...], ...]  # per item, the rows of its nearest neighbours
    similarity: tuple[tuple[float, ...], ...]  # per item, their cosine similarities, to 2 decimals

    @property
    def n_components(self) -> int:
        return len(self.scores[0]) if self.scores else 0


MAP_DECIMALS = 3  # the map's scores: the page shows 2 decimals (report.json stays small: at most 1,000 rows)


def factor_map(titles: Sequence[str], factors: np.ndarray, scores: np.ndarray, n_items: int, n: int) -> FactorMap:
    """The first `n_items` titles' `scores` and their `n` nearest among themselves: `n_items` x `n_items` cosines."""
    unit = unit_vectors(factors[:n_items])
    order, similarity = nearest(titles[:n_items], unit, unit, n)
    return FactorMap(
        scores=tuple(tuple(round(float(v), MAP_DECIMALS) + 0.0 for v in row) for row in scores[:n_items]),
        neighbours=tuple(tuple(int(j) for j in row) for row in order),
        similarity=tuple(tuple(round(float(v), 2) + 0.0 for v in row) for row in similarity),
    )
