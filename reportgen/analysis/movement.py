"""What moved in the factor space between a baseline model (yesterday's kept one) and tonight's.

A factor space is learned only up to an orthogonal transformation: turning (or mirroring)
every user and item vector alike leaves every prediction and the weight decay unchanged,
so two trainings' raw vectors cannot be compared as they are. `align` finds the
orthogonal matrix that brings the baseline's item vectors closest to tonight's over the
analysed items both models know (orthogonal Procrustes, Schönemann 1966), keeping the
scale: a space that grew or shrank has changed, and the numbers say so. `movement` then
reads what is left: how well the two spaces agree, the items that moved most, whose five
nearest neighbours changed (by cosine, the report's one neighbour rule, which needs no
alignment) and, for the explorer, yesterday's aligned position of each mapped item on
tonight's principal components. Everything is computed on the analysed items alone (at
most `--top-n`, 1,000 by default): the cost does not grow with the ratings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.analysis import factors
from reportgen.analysis.factors import MAP_DECIMALS, FactorMap
from reportgen.analysis.findings import N_NEIGHBOURS
from reportgen.train.results import NA_CLASS

if TYPE_CHECKING:
    from reportgen.train.results import FactorModel

N_MOVERS = 10  # the items that moved most, and those whose neighbours changed most
BLOCK = 1000  # rows of cosines computed at a time: memory is a block times the common items
ALIGNMENT = (
    "Yesterday's item vectors are turned (an orthogonal Procrustes rotation, scale kept) to lie as close "
    "as they can to tonight's over the analysed items both models know, each item counting once."
)


@dataclass(frozen=True)
class Alignment:
    """The orthogonal Procrustes fit of a baseline's item vectors to tonight's (`align`).

    Both sides are padded with zero columns to the larger number of factors `k`, so a model
    with another `--n-factors` aligns too: `rotation` is `k` x `k` and orthogonal, and
    `apply` maps baseline rows into tonight's space without changing any distance.
    """

    rotation: np.ndarray  # (k, k), orthogonal
    baseline_centre: np.ndarray  # (k,), the common items' mean baseline vector
    tonight_centre: np.ndarray  # (k,), their mean tonight
    agreement: float  # 1 - |B R - T|² / |T|² over the centred common items
    spread: float  # tonight's RMS distance from the centre: sqrt(|T|² / n)
    spread_ratio: float  # the baseline's RMS distance from its centre over tonight's
    displacement: np.ndarray  # (n,), |b_i R - t_i| / spread per common item

    def apply(self, baseline_rows: np.ndarray) -> np.ndarray:
        """Baseline vectors moved into tonight's space: centred, turned, put on tonight's centre."""
        return (_padded(baseline_rows, len(self.rotation)) - self.baseline_centre) @ self.rotation + self.tonight_centre


def align(baseline: np.ndarray, tonight: np.ndarray) -> Alignment:
    """The orthogonal `R` minimising |B R - T| (Frobenius) over matching rows, both centred first.

    Unweighted: every row counts once, as in the report's PCA and the explorer, which show
    each analysed item once. Weighting by rating count would let the few most-rated items
    decide the rotation and the agreement alone; the analysed items are already the
    most-rated ones, and a rarely rated item that moved is what the movers list is for.

    Schönemann's solution: with `Bᵀ T = U S Vᵀ` (numpy's SVD of a `k` x `k` matrix), `R = U Vᵀ`.
    It does not depend on the signs or the order the SVD gives its singular pairs (a pair's
    two vectors flip together, and the product sums over all pairs), so it is unique and
    deterministic wherever `Bᵀ T` has full rank; where it has not (fewer common items than
    factors, a degenerate space) every minimiser fits equally well and numpy's is taken, the
    same for the same input. Reflections are allowed: they too leave every prediction unchanged.
    """
    k = max(baseline.shape[1], tonight.shape[1])
    b, t = _padded(baseline, k), _padded(tonight, k)
    b_centre, t_centre = b.mean(axis=0), t.mean(axis=0)
    b, t = b - b_centre, t - t_centre
    u, _, vt = np.linalg.svd(b.T @ t)
    rotation = u @ vt
    residual = b @ rotation - t
    total, base_total = float((t**2).sum()), float((b**2).sum())
    spread = float(np.sqrt(total / len(t)))
    return Alignment(
        rotation=rotation,
        baseline_centre=b_centre,
        tonight_centre=t_centre,
        agreement=1.0 - float((residual**2).sum()) / total if total > 0 else float("nan"),
        spread=spread,
        spread_ratio=float(np.sqrt(base_total / total)) if total > 0 else float("nan"),
        displacement=np.linalg.norm(residual, axis=1) / spread if spread > 0 else np.zeros(len(t)),
    )


def _padded(rows: np.ndarray, k: int) -> np.ndarray:
    return rows if rows.shape[1] == k else np.pad(rows, ((0, 0), (0, k - rows.shape[1])))


@dataclass(frozen=True)
class Mover:
    """An item that moved: how far, after alignment, in units of the space's spread."""

    title: str
    displacement: float  # |b R - t| / tonight's RMS distance from the centre


@dataclass(frozen=True)
class NeighbourChange:
    """An item's nearest neighbours in each model (among the common analysed items) and their overlap."""

    title: str
    overlap: float  # Jaccard: shared neighbours / all neighbours named by either
    before: tuple[str, ...]  # the baseline's, nearest first
    after: tuple[str, ...]  # tonight's, nearest first


@dataclass(frozen=True)
class MapMoves:
    """The explorer's view since the previous run, row for row with the `FactorMap` it was made for.

    `before[i]` is where the baseline puts the map's item `i` once aligned, on the map's
    components (tonight's PCA: same centre, same signed components), rounded as the map's
    scores are; `after` is the map's own `scores`. None where the baseline does not know it.
    """

    before: tuple[tuple[float, ...] | None, ...]
    displacement: tuple[float | None, ...]  # the item's aligned displacement in the whole space, as `Mover`'s
    # Per component, `Movement.agreement` read along it alone over the common items: 1 - the squared
    # gaps between the aligned baseline's and tonight's scores / tonight's squared scores about their mean
    # (None for a component along which tonight's common items do not spread at all).
    component_agreement: tuple[float | None, ...]


@dataclass(frozen=True)
class Movement:
    """What moved between the baseline's factor space and tonight's, over the analysed items both know.

    `agreement` is the share of tonight's spread (sum of squared distances of the common
    items' vectors from their centre) that the aligned baseline reproduces,
    1 - |B R - T|² / |T|²: 1 when the two spaces are the same up to rotation, 0 when the
    baseline does no better than putting every item at the centre, below 0 when it does
    worse (a baseline far more spread out than tonight's). The mean squared displacement
    is exactly 1 - agreement.
    """

    common: int  # analysed items both models know: what every figure below is over
    only_tonight: int  # analysed items the baseline does not know (new since it, or too rare for it)
    only_baseline: int  # analysed items tonight's model does not know
    n_factors: tuple[int, int]  # (the baseline's, tonight's)
    agreement: float
    spread_ratio: float  # the baseline's spread over tonight's: 1 when the space kept its size
    movers: tuple[Mover, ...]  # the largest displacements first (ties: most rated first)
    mean_overlap: float  # mean Jaccard of each common item's neighbour sets
    n_neighbours: int  # neighbours per item in the sets compared
    neighbours_changed: tuple[NeighbourChange, ...]  # lowest overlap first (ties: most rated first); overlap < 1
    map_moves: MapMoves | None  # None without a map
    alignment: str = ALIGNMENT


def movement(
    tonight: FactorModel,
    baseline: FactorModel,
    analysed: Sequence[str],
    factor_map: FactorMap | None = None,
    *,
    n_movers: int = N_MOVERS,
    n_neighbours: int = N_NEIGHBOURS,
) -> Movement | None:
    """What moved between `baseline` and `tonight` among the `analysed` items (`Analysis.top_items`, most
    rated first), matched by name (fastai's `#na#` never matches); None when fewer than two are common
    or tonight's common vectors all coincide (nothing to align).

    With `factor_map` (the analysis's, of `tonight` on these `analysed` items), `map_moves` gives the
    baseline's aligned positions on the map's rows and components, found with the same PCA as the map's.
    """
    ours, theirs = _known(tonight), _known(baseline)
    common = [t for t in analysed if t in ours and t in theirs]
    if len(common) < 2:
        return None
    t_rows = tonight.weights.item_factors[[ours[t] for t in common]]
    b_rows = baseline.weights.item_factors[[theirs[t] for t in common]]
    fit = align(b_rows, t_rows)
    if not fit.spread > 0:
        return None
    by_move = sorted(range(len(common)), key=lambda i: -fit.displacement[i])  # stable: most rated first among ties
    before, after = _neighbour_sets(common, b_rows, n_neighbours), _neighbour_sets(common, t_rows, n_neighbours)
    overlaps = np.array([_jaccard(b, a) for b, a in zip(before, after)])
    by_change = sorted(np.flatnonzero(overlaps < 1.0), key=lambda i: overlaps[i])
    return Movement(
        common=len(common),
        only_tonight=sum(t in ours and t not in theirs for t in analysed),
        only_baseline=sum(t in theirs and t not in ours for t in analysed),
        n_factors=(baseline.weights.item_factors.shape[1], tonight.weights.item_factors.shape[1]),
        agreement=fit.agreement,
        spread_ratio=fit.spread_ratio,
        movers=tuple(Mover(common[i], float(fit.displacement[i])) for i in by_move[:n_movers]),
        mean_overlap=float(overlaps.mean()),
        n_neighbours=min(n_neighbours, len(common) - 1),
        neighbours_changed=tuple(
            NeighbourChange(
                title=common[i],
                overlap=float(overlaps[i]),
                before=tuple(common[j] for j in before[i]),
                after=tuple(common[j] for j in after[i]),
            )
            for i in by_change[:n_movers]
        ),
        map_moves=None if factor_map is None else _map_moves(tonight, analysed, factor_map, common, b_rows, fit),
    )


def _known(model: FactorModel) -> dict[str, int]:
    return {title: i for i, title in enumerate(model.items) if title != NA_CLASS}


def _neighbour_sets(titles: Sequence[str], vectors: np.ndarray, n: int) -> np.ndarray:
    """Each row's `n` nearest among all rows by the report's rule (`factors.nearest`), a block of rows at a time."""
    unit = factors.unit_vectors(vectors)
    blocks = [
        factors.nearest(titles, unit[start : start + BLOCK], unit, n, first=start)[0]
        for start in range(0, len(unit), BLOCK)
    ]
    return np.concatenate(blocks)


def _jaccard(before: np.ndarray, after: np.ndarray) -> float:
    a, b = set(before.tolist()), set(after.tolist())
    return len(a & b) / len(a | b) if a | b else 1.0


def _map_moves(
    tonight: FactorModel,
    analysed: Sequence[str],
    factor_map: FactorMap,
    common: Sequence[str],
    b_rows: np.ndarray,
    fit: Alignment,
) -> MapMoves:
    """The baseline's aligned vectors (`b_rows`, one per `common` item) on the map's own components."""
    ours = _known(tonight)
    missing = [t for t in analysed if t not in ours]
    if missing:
        raise ValueError(f"the map is not of this model: it does not know the analysed item {missing[0]!r}")
    vectors = tonight.weights.item_factors[[ours[t] for t in analysed]]
    _, axes = factors.pca_axes(vectors, factor_map.n_components, 0)  # the analysis's PCA, as `analyse` makes it
    k = vectors.shape[1]
    position = {t: i for i, t in enumerate(analysed)}
    after = axes.project(vectors[[position[t] for t in common]])
    before = axes.project(fit.apply(b_rows)[:, :k])  # padded columns: tonight's components are 0 there
    spread = ((after - after.mean(axis=0)) ** 2).sum(axis=0)
    gaps = ((before - after) ** 2).sum(axis=0)
    row = {t: i for i, t in enumerate(common)}
    mapped = [row.get(t) for t in analysed[: len(factor_map.scores)]]
    return MapMoves(
        before=tuple(
            None if i is None else tuple(round(float(v), MAP_DECIMALS) + 0.0 for v in before[i]) for i in mapped
        ),
        displacement=tuple(
            None if i is None else round(float(fit.displacement[i]), MAP_DECIMALS) + 0.0 for i in mapped
        ),
        component_agreement=tuple(None if s == 0 else float(1.0 - g / s) for g, s in zip(gaps, spread)),
    )
