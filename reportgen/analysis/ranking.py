"""Ranking quality: top-k lists by the model, by popularity and at random, and what they cover.

Candidates are the known items a user did not rate in training; relevant items are
the user's validation ratings at or above a threshold. A bounded, seeded sample of
users is scored a batch at a time (at most `BATCH_CELLS` user–item scores in
memory), so the cost stays bounded whatever the catalogue's size. Conventions are
those of Microsoft Recommenders (see `quality`). Random lists are not drawn: their
row is each metric's exact expectation over every list of k of the user's candidates
in every order (`random_sums`), so it has no spread from seed to seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from reportgen.analysis.inputs import QualityInputs

RANKERS = ("model", "popularity", "random")
N_MOST_RECOMMENDED = 10
BATCH_CELLS = 1 << 21  # users × items scored at once (16 MiB of float64)
MAX_BATCH_USERS = 256


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
        lean = "more popular than" if gap > 5 else "less popular than" if gap < -5 else "about as popular as"
        return (
            f"The top lists reach {self.items_recommended} of {self.catalogue_size} items ({100 * self.share:.1f} % "
            f"of the catalogue); what they recommend is {lean} what these users went on to rate (popularity "
            f"percentile {self.mean_percentile_recommended:.0f} against {self.mean_percentile_rated:.0f})."
        )


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
    relevant = relevant[~contains(seen, relevant)]
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
        }
        for name, (top, valid) in lists.items():
            hits = contains(relevant, rows[:, None] * n_items + top) & valid
            sums[name] += ranking_sums(hits, n_relevant[rows], discount)
            if name == "model":
                recommended += np.bincount(top[valid], minlength=n_items)

    seen_known = np.bincount(seen_rows[seen % n_items > 0], minlength=len(chosen))
    sums["random"] = random_sums(catalogue - seen_known, n_relevant, discount)
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


def popular_top_k(
    order: np.ndarray, rows: np.ndarray, seen: np.ndarray, n_items: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the first k items of `order` (item codes, most popular first) the user did not rate in training.

    Only the head of `order` that can hold them is looked at (k plus the most training
    items any of these users has), so no users × items matrix is built.
    """
    n_seen = np.bincount(seen // n_items - rows[0], minlength=len(rows)) if len(seen) else np.zeros(len(rows), np.int64)
    head = order[: k + int(n_seen.max(initial=0))]
    fresh = ~contains(seen, rows[:, None] * n_items + head[None, :])
    position = np.cumsum(fresh, axis=1)
    r, c = np.nonzero(fresh & (position <= k))
    top = np.zeros((len(rows), k), dtype=np.int64)
    valid = np.zeros((len(rows), k), dtype=bool)
    top[r, position[r, c] - 1] = head[c]
    valid[r, position[r, c] - 1] = True
    return top, valid


def contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
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


def random_sums(n_candidates: np.ndarray, n_relevant: np.ndarray, discount: np.ndarray) -> np.ndarray:
    """`ranking_sums`' five sums, each user's term its exact expectation over a uniformly random list.

    A user with C candidates, R of them relevant (1 ≤ R ≤ C), gets L = min(k, C) of them in a
    uniformly random order (the rest of a short list is padding, as `top_k` leaves it). Each rank
    holds a relevant item with probability R/C, and two ranks both with R(R−1) / (C(C−1)), so
    E[hits] = L·R/C; E[DCG] = (R/C)·Σ_{i≤L} d_i; P(no hit) = C(C−R, L) / C(C, L);
    E[rel_i · hits in the first i] = (R/C)(1 + (i−1)(R−1)/(C−1)), which summed over i / i gives
    E[AP] = R / (C·min(k, R)) · (H_L + (R−1)/(C−1) · (L − H_L)), H_L the L-th harmonic number.
    Precision divides by k and recall by R, as for the drawn lists. O(users · k), no list drawn.
    """
    c = np.asarray(n_candidates, dtype=np.float64)
    r = np.asarray(n_relevant, dtype=np.float64)
    k = len(discount)
    length = np.minimum(np.asarray(n_candidates, dtype=np.int64), k)
    share = r / c
    found = length * share
    gains = np.concatenate(([0.0], np.cumsum(discount)))
    ideal = gains[np.minimum(np.asarray(n_relevant, dtype=np.int64), k)]
    harmonic = np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, k + 1))))[length]
    pair = np.where(c > 1, (r - 1) / np.maximum(c - 1, 1), 0.0)
    average_precision = share * (harmonic + pair * (length - harmonic)) / np.minimum(r, k)
    miss = np.ones(len(c))  # P(no hit): Π_{j<L} (C − R − j) / (C − j)
    for j in range(int(length.max(initial=0))):
        miss = np.where(j < length, miss * np.maximum(c - r - j, 0.0) / np.maximum(c - j, 1.0), miss)
    return np.array(
        [
            (found / k).sum(),
            (found / r).sum(),
            (share * gains[length] / ideal).sum(),
            average_precision.sum(),
            (1.0 - miss).sum(),
        ]
    )


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
