"""Two models' top-k lists for the same users: how good each is, and whose recommendations changed.

Both models rank the same candidates for the same users (a bounded, seeded sample),
a batch at a time as `ranking` does (at most `ranking.BATCH_CELLS` scores of one model
in memory per thread). Each user's NDCG@k and recall@k by each model (the conventions
of `quality`: binary relevance, a log2 discount, the ideal over min(k, #relevant);
recall = hits / #relevant) feed the paired bootstrap (`bootstrap`), and the two lists
are compared: whether they differ at all (an item or the order), their overlap as sets
(Jaccard), and rank-biased overlap (RBO; Webber, Moffat & Zobel, "A similarity measure
for indefinite rankings", ACM TOIS 28(4), 2010), which weighs agreement at the top of the
lists most: with persistence p = 0.9 the first 10 ranks carry about 86 % of the weight.
Both lists of a user have the same length (the same candidates), so RBO's extrapolated
form for finite lists of equal depth L applies (their equation 32):
RBO_ext = X_L / L · p^L + (1 − p) / p · Σ_{d=1..L} (X_d / d) · p^d, X_d the number of
items the two lists' first d share. Identical lists score 1, disjoint ones 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reportgen.analysis.bootstrap import PairedDifference, paired
from reportgen.analysis.diagnostics import BUCKET_STARTS, Bucket, bucket_words
from reportgen.analysis.ranking import BATCH_CELLS, MAX_BATCH_USERS, N_MOST_RECOMMENDED, contains, top_k
from reportgen.analysis.workers import Workers, serial

RBO_P = 0.9  # RBO's persistence: the chance a reader goes on from one rank to the next


@dataclass(frozen=True)
class Churn:
    """How much the top-k lists of a group of users changed from the baseline's to tonight's model."""

    users: int
    changed: float | None  # share of the users whose list changed: an item, or the order
    jaccard: float | None  # mean |A ∩ B| / |A ∪ B| of the two lists as sets
    rbo: float | None  # mean rank-biased overlap (RBO_ext, p = RBO_P)

    @classmethod
    def of(cls, changed: np.ndarray, jaccard: np.ndarray, rbo: np.ndarray) -> Churn:
        n = len(changed)
        if n == 0:
            return cls(0, None, None, None)
        return cls(n, float(np.mean(changed)), float(np.mean(jaccard)), float(np.mean(rbo)))


@dataclass(frozen=True)
class ChurnBucket:
    """The churn of the users with `low`..`high` training ratings tonight (`high` None: no limit)."""

    label: str
    low: int
    high: int | None
    churn: Churn


@dataclass(frozen=True)
class Lists:
    """Per evaluated user (in the sample's order): both models' ranking quality and how their lists differ.

    `ndcg` and `recall` are (2, users): row 0 tonight's model, row 1 the baseline.
    `entered[c]` counts the lists candidate `c` is in tonight but not in the baseline's,
    `left[c]` the other way round.
    """

    n_relevant: np.ndarray
    ndcg: np.ndarray
    recall: np.ndarray
    length: np.ndarray  # items in both lists (k, or fewer where a user has fewer candidates)
    changed: np.ndarray  # bool
    jaccard: np.ndarray
    rbo: np.ndarray
    entered: np.ndarray  # (candidates,)
    left: np.ndarray


@dataclass(frozen=True)
class Recommendations:
    """Both models' top-k lists on the same users and the same relevant items.

    Candidates: the items both models know, less what the user rated outside the compared
    ratings; relevant: the user's compared ratings at or above the threshold. Users both
    models know with a relevant item are `eligible`; those one model never saw are left
    out (`left_out`), as a model ranks only users it knows.
    """

    k: int
    p: float
    eligible: int
    left_out: int
    evaluated: int
    sampled: bool
    seed: int
    catalogue: int  # items both models know
    ndcg: PairedDifference
    recall: PairedDifference
    churn: Churn
    by_activity: tuple[ChurnBucket, ...]
    entered: tuple[tuple[str, int], ...]  # (item, lists it entered), most first
    left: tuple[tuple[str, int], ...]

    @property
    def sample_sentence(self) -> str:
        who = (
            f"a random sample (seed {self.seed}) of {self.evaluated} of the {self.eligible} users"
            if self.sampled
            else f"all {self.evaluated} users"
        )
        return (
            f"Both models' top {self.k} lists are compared for {who} with a relevant held-out rating, "
            f"over the {self.catalogue} items both models know."
        )

    @property
    def sentence(self) -> str:
        churn = self.churn
        if churn.changed is None or churn.jaccard is None or churn.rbo is None:
            return "No user could be ranked by both models, so no list is compared."
        return (
            f"{100 * churn.changed:.1f} % of these users' top {self.k} lists changed; the two lists share "
            f"{100 * churn.jaccard:.1f} % of their items on average (Jaccard), rank-biased overlap "
            f"{churn.rbo:.3f} (p = {self.p:g}; 1 is the same list)."
        )


def prefix_overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """X[:, d − 1] = how many items rows of `a` and `b` share in their first d (users × k, −1 for no item).

    An item at position i of `a` and j of `b` is shared from depth max(i, j) + 1 on;
    items are distinct within a row. Sort-based, O(users · k log), no k × k table.
    """
    n, k = a.shape
    if n == 0 or k == 0:
        return np.zeros((n, k), dtype=np.int64)
    span = int(max(a.max(), b.max())) + 2
    base = np.arange(n, dtype=np.int64)[:, None] * span
    keys_b = (base + b + 1).ravel()
    order = np.argsort(keys_b, kind="stable")
    sorted_b = keys_b[order]
    keys_a = (base + a + 1).ravel()
    at = np.minimum(np.searchsorted(sorted_b, keys_a), len(sorted_b) - 1)
    found = (sorted_b[at] == keys_a) & (a.ravel() >= 0)
    depth = np.where(found, np.maximum(np.tile(np.arange(k), n), order[at] % k), k)
    counts = np.bincount(np.repeat(np.arange(n), k) * (k + 1) + depth, minlength=n * (k + 1))
    return np.cumsum(counts.reshape(n, k + 1)[:, :k], axis=1)


def rbo(overlaps: np.ndarray, lengths: np.ndarray, p: float = RBO_P) -> np.ndarray:
    """RBO_ext of each row's two lists of equal length L (`overlaps`: `prefix_overlaps`); NaN where L is 0.

    Identical lists (X_d = d at every depth) score exactly 1.
    """
    n, k = overlaps.shape
    lengths = np.asarray(lengths, dtype=np.int64)
    depth = np.arange(1, k + 1)
    within = depth[None, :] <= lengths[:, None]
    head = (1 - p) / p * np.where(within, overlaps / depth * p**depth, 0.0).sum(axis=1)
    last = np.maximum(lengths, 1)
    shared = overlaps[np.arange(n), last - 1] if k else np.zeros(n)
    value = head + shared / last * p ** last.astype(np.float64)
    same = np.where(within, overlaps == depth, True).all(axis=1)
    return np.where(lengths > 0, np.where(same, 1.0, value), np.nan)


def jaccard(overlaps: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """|A ∩ B| / |A ∪ B| of two lists of equal length L; NaN where L is 0."""
    n = len(lengths)
    last = np.maximum(lengths, 1)
    shared = overlaps[np.arange(n), last - 1] if overlaps.shape[1] else np.zeros(n)
    with np.errstate(all="ignore"):
        return np.where(lengths > 0, shared / (2 * lengths - shared), np.nan)


def compare_lists(
    tonight: tuple[np.ndarray, np.ndarray, np.ndarray],
    baseline: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    seen: np.ndarray,
    relevant: np.ndarray,
    k: int,
    p: float = RBO_P,
    pool: Workers | None = None,
) -> Lists:
    """Both models' top-k lists for every user of the sample, and what `Lists` holds about them.

    Each model is (its user factors, one row per sampled user; its candidates' factors;
    their biases): a user's own bias and the sigmoid shift every item alike, so ranking
    skips them. `seen` and `relevant` are sorted, unique keys user · candidates + candidate
    (none in both); seen candidates are not ranked. Ties: the lower candidate first.
    """
    users, candidates = len(tonight[0]), len(tonight[1])
    batch = max(1, min(MAX_BATCH_USERS, BATCH_CELLS // max(candidates, 1)))
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    gains = np.concatenate(([0.0], np.cumsum(discount)))
    n_relevant = np.bincount(relevant // max(candidates, 1), minlength=users)[:users]
    seen_rows = seen // max(candidates, 1)

    def one(start: int) -> tuple[np.ndarray, ...]:
        stop = min(start + batch, users)
        lo, hi = np.searchsorted(seen_rows, [start, stop])
        block = seen[lo:hi]
        lists = []
        for user_factors, item_factors, item_biases in (tonight, baseline):
            scores = user_factors[start:stop] @ item_factors.T + item_biases
            scores[block // candidates - start, block % candidates] = -np.inf
            lists.append(top_k(scores, k))
        (top_t, valid_t), (top_b, valid_b) = lists
        valid = valid_t & valid_b  # the same candidates: the same length
        rows = np.arange(start, stop)[:, None] * candidates
        relevant_here = np.maximum(n_relevant[start:stop], 1)  # every user here has one; no 0 / 0
        quality = []
        for top in (top_t, top_b):
            hits = contains(relevant, rows + top) & valid
            quality.append((hits @ discount / gains[np.minimum(relevant_here, k)], hits.sum(axis=1) / relevant_here))
        a, b = np.where(valid, top_t, -1), np.where(valid, top_b, -1)
        overlaps = prefix_overlaps(a, b)
        length = valid.sum(axis=1)
        in_b, in_a = np.sort((rows + b)[valid]), np.sort((rows + a)[valid])
        entered = np.bincount(a[valid & ~contains(in_b, rows + a)], minlength=candidates)
        left = np.bincount(b[valid & ~contains(in_a, rows + b)], minlength=candidates)
        changed = ((a != b) & valid).any(axis=1)
        return (
            np.array([quality[0][0], quality[1][0]]),
            np.array([quality[0][1], quality[1][1]]),
            length,
            changed,
            jaccard(overlaps, length),
            rbo(overlaps, length, p),
            entered,
            left,
        )

    parts = list((pool or serial()).waves(range(0, users, batch), one))  # one batch of scores per thread
    if not parts:
        none, nothing = np.zeros(0), np.zeros(candidates, dtype=np.int64)
        return Lists(
            n_relevant, np.zeros((2, 0)), np.zeros((2, 0)), none, none.astype(bool), none, none, nothing, nothing
        )
    ndcg, recall, length, changed, jac, overlap, entered, left = zip(*parts)
    return Lists(
        n_relevant=n_relevant,
        ndcg=np.concatenate(ndcg, axis=1),
        recall=np.concatenate(recall, axis=1),
        length=np.concatenate(length),
        changed=np.concatenate(changed),
        jaccard=np.concatenate(jac),
        rbo=np.concatenate(overlap),
        entered=np.sum(entered, axis=0),
        left=np.sum(left, axis=0),
    )


def churn_by_activity(lists: Lists, activity: np.ndarray) -> tuple[ChurnBucket, ...]:
    """`Churn` per bucket of tonight's training ratings per user (`diagnostics.BUCKET_STARTS`), empty ones kept."""
    which = np.searchsorted(np.asarray(BUCKET_STARTS[1:]), activity, side="right")
    found = []
    for b, low in enumerate(BUCKET_STARTS):
        high = BUCKET_STARTS[b + 1] - 1 if b + 1 < len(BUCKET_STARTS) else None
        mine = which == b
        churn = Churn.of(lists.changed[mine], lists.jaccard[mine], lists.rbo[mine])
        found.append(ChurnBucket(bucket_words(Bucket("", low, high, 0, None)), low, high, churn))
    return tuple(found)


def most(counts: np.ndarray, names: np.ndarray) -> tuple[tuple[str, int], ...]:
    """The N_MOST_RECOMMENDED largest counts with their names, most first (ties: the lower candidate first)."""
    order = np.lexsort((np.arange(len(counts)), -counts))[:N_MOST_RECOMMENDED]
    return tuple((str(names[c]), int(counts[c])) for c in order if counts[c] > 0)


def recommendations(
    lists: Lists,
    *,
    activity: np.ndarray,
    candidate_names: np.ndarray,
    k: int,
    p: float,
    eligible: int,
    left_out: int,
    sampled: bool,
    seed: int,
    resamples: int,
    pool: Workers | None = None,
) -> Recommendations:
    """`Recommendations` from `compare_lists`' per-user results; `activity[u]`: tonight's training ratings
    of evaluated user u. NDCG@k and recall@k are paired over the evaluated users (`bootstrap`, stream 1)."""
    users = len(lists.length)
    per_user = np.column_stack([np.ones(users), lists.ndcg[0], lists.ndcg[1], lists.recall[0], lists.recall[1]])

    def measures(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = sums[:, :1]
        return sums[:, [1, 3]] / n, sums[:, [2, 4]] / n

    ndcg, recall = paired(
        per_user,
        measures,
        (f"NDCG@{k}", f"recall@{k}"),
        (False, False),
        resamples=resamples,
        seed=seed,
        stream=1,
        pool=pool,
    )
    return Recommendations(
        k=k,
        p=p,
        eligible=eligible,
        left_out=left_out,
        evaluated=users,
        sampled=sampled,
        seed=seed,
        catalogue=len(candidate_names),
        ndcg=ndcg,
        recall=recall,
        churn=Churn.of(lists.changed, lists.jaccard, lists.rbo),
        by_activity=churn_by_activity(lists, np.asarray(activity)),
        entered=most(lists.entered, candidate_names),
        left=most(lists.left, candidate_names),
    )
