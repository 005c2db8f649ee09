"""Is tonight's model better than the baseline? Both scored on the same held-out ratings, with intervals.

`paired_review` takes tonight's ratings (codes into their user and item names), a mask
of the ratings neither model trained on (`compared`) and the two models as numbers
(`train.FactorModel`). Each model's rows are found by name, once per distinct name
(pandas' hash index), then gathered per rating: a name a model never saw gets its row 0,
fastai's `#na#`, exactly as that model would predict it (Categorify), and such ratings
are counted apart for each model (`Unseen`).

The ratings are read in chunks (`chunk_for`), on the workers, into per-user sums (ratings,
squared and absolute errors of each model, relevant items, tonight's training ratings):
linear in the ratings, with memory bounded by the chunk and the number of users. RMSE
and MAE of both models and their differences (tonight − baseline) come with 95 %
percentile bootstrap intervals over users (`bootstrap`); the verdict is RMSE's: better
where the interval lies below 0, worse above, else no detectable difference. The
ranking and the churn of the top-k lists are `churn`'s, for a bounded, seeded sample of
users both models know.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from reportgen.analysis import defaults
from reportgen.analysis.bootstrap import CONFIDENCE, NO_VERDICT, RESAMPLES, PairedDifference, check_resamples, paired
from reportgen.analysis.churn import RBO_P, Recommendations, compare_lists, recommendations
from reportgen.analysis.quality import default_threshold, predict
from reportgen.analysis.ranking import contains
from reportgen.analysis.workers import Workers, serial
from reportgen.train.results import FactorModel

T = TypeVar("T")
MAX_USERS = 2000  # users whose top-k lists are compared at most: `quality.evaluate`'s sample
CHUNK = 1 << 21  # ratings read at once per thread, at least; 8 per user (`chunk_for`)


@dataclass(frozen=True)
class Unseen:
    """Compared ratings whose user, item, or either, one model never saw: scored from its `#na#` row.

    `tonight_rmse` and `baseline_rmse`: both models' RMSE on the `either` ratings (None if there are none),
    so a reader sees what the ratings a model could not know weigh in its difference.
    """

    users: int
    items: int
    either: int
    tonight_rmse: float | None = None
    baseline_rmse: float | None = None

    @classmethod
    def of(cls, counts: np.ndarray) -> Unseen:
        """From (users, items, either, both models' summed squared errors on either)."""
        users, items, either = (int(x) for x in counts[:3])
        rmse = [math.sqrt(counts[j] / either) if either else None for j in (3, 4)]
        return cls(users, items, either, *rmse)


@dataclass(frozen=True)
class PairedReview:
    """Tonight's model against a baseline on the same `n` held-out ratings of `users` users.

    `rmse` and `mae` hold both models' values on those ratings, the difference
    (tonight − baseline) and its interval; `ranking` the same for NDCG@k and recall@k on
    a sample of users, and how their top-k lists changed.
    """

    n: int
    users: int
    threshold: float
    seed: int
    resamples: int
    confidence: float
    unseen_by_tonight: Unseen
    unseen_by_baseline: Unseen
    rmse: PairedDifference
    mae: PairedDifference
    ranking: Recommendations

    @property
    def verdict(self) -> str:
        """RMSE's: `better`, `worse`, `no detectable difference`, or `no verdict` without a compared rating."""
        return self.rmse.verdict

    @property
    def method(self) -> str:
        """How the intervals were made, in one sentence the page can show."""
        return (
            f"Differences are tonight's model minus the baseline on the same {self.n:,} held-out ratings of "
            f"{self.users:,} users, which neither model trained on; each {100 * self.confidence:g} % interval holds "
            f"the middle {100 * self.confidence:g} % of {self.resamples:,} bootstrap resamples of those users, each "
            f"drawn with all their ratings (seed {self.seed})."
        )

    @property
    def sentence(self) -> str:
        """The verdict with both RMSEs and the interval: what a reviewer reads first."""
        r = self.rmse
        if self.verdict == NO_VERDICT or r.tonight is None or r.baseline is None or r.low is None:
            return "No verdict: no held-out rating is unseen by both models, so they cannot be compared."
        numbers = (
            f"RMSE {r.tonight:.4f} against {r.baseline:.4f} on the same {self.n:,} held-out ratings, a difference of "
            f"{r.difference:+.4f} ({100 * self.confidence:g} % interval {r.low:+.4f} to {r.high:+.4f})"
        )
        if self.verdict == "no detectable difference":
            return f"No detectable difference: {numbers}, which includes 0."
        return f"Tonight's model is {self.verdict}: {numbers}."

    def regressed(self, pct: float) -> bool:
        """Whether RMSE is worse by more than `pct` % with 95 % confidence: the interval of the relative change
        (tonight / baseline − 1) lies wholly above pct / 100 (`--fail-on-regression`)."""
        low = self.rmse.relative_low
        return low is not None and 100 * low > pct


def rows_of(names: Sequence[object], vocabulary: Sequence[str]) -> np.ndarray:
    """Each name's row in a model's `vocabulary` (compared as text), 0 (`#na#`) for a name it never saw.

    One hash lookup per distinct name; the names are the categories of tonight's ratings.
    """
    import pandas as pd

    index = pd.Index(list(vocabulary), dtype=object)
    if not index.is_unique:
        raise ValueError("a model's vocabulary names a user or item twice")
    rows = index.get_indexer(pd.Index(names).astype(str))
    return np.where(rows >= 0, rows, 0).astype(np.int64)


def paired_review(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    *,
    user_names: Sequence[object],
    item_names: Sequence[object],
    compared: np.ndarray,
    trained: np.ndarray,
    tonight: FactorModel,
    baseline: FactorModel,
    k: int = defaults.K,
    threshold: float | None = None,
    seed: int = 42,
    resamples: int = RESAMPLES,
    max_users: int = MAX_USERS,
    pool: Workers | None = None,
) -> PairedReview:
    """Both models on the ratings `compared` marks, their differences with intervals, and whose lists changed.

    `users` and `items`: every rating's code into `user_names` and `item_names`; `compared`:
    the ratings neither model trained on; `trained`: tonight's training ratings (a user's
    activity). A `threshold` of None is `quality.default_threshold` of the ratings' range.
    The same inputs and seed give the same numbers on any number of threads.
    """
    users, items = np.asarray(users), np.asarray(items)
    ratings = np.asarray(ratings, dtype=np.float64)
    compared, trained = np.asarray(compared, dtype=bool), np.asarray(trained, dtype=bool)
    _check(users, items, ratings, compared, trained, len(user_names), len(item_names), k, max_users)
    check_resamples(resamples)
    if threshold is None:
        scale = (float(ratings.min()), float(ratings.max())) if len(ratings) else (0.0, 0.0)
        threshold = default_threshold(scale)
    import pandas as pd

    rows = Rows.of(user_names, item_names, tonight, baseline)
    workers = pool or serial()
    n_users = len(user_names)
    chunk = chunk_for(n_users)

    def one(start: int) -> tuple[np.ndarray, np.ndarray, int]:
        part = slice(start, start + chunk)
        mine = compared[part]
        u, i, r = users[part][mine], items[part][mine], ratings[part][mine]
        errors = [
            r - predict(user_rows[u], item_rows[i], *_tables(model), model.y_range)
            for model, user_rows, item_rows in (
                (tonight, rows.tonight_users, rows.tonight_items),
                (baseline, rows.baseline_users, rows.baseline_items),
            )
        ]
        sums = np.stack(
            [np.bincount(u, w, minlength=n_users) for w in (None, errors[0] ** 2, errors[1] ** 2)]
            + [np.bincount(u, np.abs(e), minlength=n_users) for e in errors]
            + [np.bincount(u[(r >= threshold) & rows.candidate[i]], minlength=n_users)]
            + [np.bincount(users[part][trained[part]], minlength=n_users)]
        )
        unseen = np.array(
            [
                [np.count_nonzero(a), np.count_nonzero(b), np.count_nonzero(a | b)]
                + [float(np.dot(e[a | b], e[a | b])) for e in errors]
                for a, b in (
                    (rows.tonight_users[u] == 0, rows.tonight_items[i] == 0),
                    (rows.baseline_users[u] == 0, rows.baseline_items[i] == 0),
                )
            ]
        )
        return sums, unseen, int(np.count_nonzero(mine & trained[part]))

    # Per user: compared ratings, both models' squared and absolute errors, relevant items, training ratings.
    sums, unseen, both = np.zeros((7, n_users)), np.zeros((2, 5)), 0
    for part in waves(workers, len(ratings), chunk, one):
        sums += part[0]  # in the chunks' order: the same sums on any number of threads
        unseen += part[1]
        both += part[2]
    if both:
        raise ValueError(f"{both} compared ratings are among tonight's training ratings: compare unseen ratings only")
    rated = sums[0] > 0

    def measures(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = s[:, 0]
        return (
            np.column_stack([np.sqrt(s[:, 1] / n), s[:, 3] / n]),
            np.column_stack([np.sqrt(s[:, 2] / n), s[:, 4] / n]),
        )

    rmse, mae = paired(
        sums[:5, rated].T, measures, ("RMSE", "MAE"), (True, True), resamples=resamples, seed=seed, stream=0, pool=pool
    )
    labels = np.asarray(pd.Index(item_names).astype(str), dtype=object)
    lists = Sampled.of(
        (users, items, ratings, compared),
        rows,
        sums[5] > 0,
        threshold=threshold,
        seed=seed,
        max_users=max_users,
        pool=workers,
    )
    ranking = recommendations(
        compare_lists(
            lists.model(tonight, rows.tonight_users, rows.tonight_items),
            lists.model(baseline, rows.baseline_users, rows.baseline_items),
            seen=lists.seen,
            relevant=lists.relevant,
            k=k,
            pool=workers,
        ),
        activity=sums[6][lists.users],
        candidate_names=labels[lists.candidates],
        k=k,
        p=RBO_P,
        eligible=lists.eligible,
        left_out=lists.left_out,
        sampled=lists.sampled,
        seed=seed,
        resamples=resamples,
        pool=workers,
    )
    return PairedReview(
        n=int(sums[0].sum()),
        users=int(rated.sum()),
        threshold=float(threshold),
        seed=seed,
        resamples=resamples,
        confidence=CONFIDENCE,
        unseen_by_tonight=Unseen.of(unseen[0]),
        unseen_by_baseline=Unseen.of(unseen[1]),
        rmse=rmse,
        mae=mae,
        ranking=ranking,
    )


@dataclass(frozen=True)
class Rows:
    """Each user and item name's row in each model (0: `#na#`), and which items both models know."""

    tonight_users: np.ndarray
    baseline_users: np.ndarray
    tonight_items: np.ndarray
    baseline_items: np.ndarray
    candidate: np.ndarray  # bool per item name

    @classmethod
    def of(
        cls, user_names: Sequence[object], item_names: Sequence[object], tonight: FactorModel, baseline: FactorModel
    ) -> Rows:
        t_items, b_items = rows_of(item_names, tonight.items), rows_of(item_names, baseline.items)
        return cls(
            rows_of(user_names, tonight.users),
            rows_of(user_names, baseline.users),
            t_items,
            b_items,
            (t_items > 0) & (b_items > 0),
        )


@dataclass(frozen=True)
class Sampled:
    """The users whose two top-k lists are compared, their candidates, and the keys user · C + candidate
    (C candidates) of what they rated outside the compared ratings (`seen`) and of their relevant items."""

    users: np.ndarray  # name codes of the evaluated users, sorted
    candidates: np.ndarray  # item name codes both models know, sorted
    seen: np.ndarray
    relevant: np.ndarray
    eligible: int
    left_out: int
    sampled: bool

    @classmethod
    def of(
        cls,
        data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        rows: Rows,
        wanted: np.ndarray,
        *,
        threshold: float,
        seed: int,
        max_users: int,
        pool: Workers,
    ) -> Sampled:
        """`wanted`: users with a relevant compared rating of a candidate. Those both models know are eligible,
        a seeded sample of `max_users` of them (as `ranking.rank` draws) evaluated; a user whose every
        relevant item was also rated outside the compared ratings (one title under two ids) drops out."""
        users, items, ratings, compared = data
        known = (rows.tonight_users > 0) & (rows.baseline_users > 0)
        eligible = np.flatnonzero(wanted & known)
        sampled = len(eligible) > max_users
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(eligible, max_users, replace=False)) if sampled else eligible
        candidates = np.flatnonzero(rows.candidate)
        width = max(len(candidates), 1)
        row = np.full(len(rows.tonight_users), -1, dtype=np.int64)
        row[chosen] = np.arange(len(chosen))
        column = np.full(len(rows.tonight_items), -1, dtype=np.int64)
        column[candidates] = np.arange(len(candidates))
        is_chosen = row >= 0
        chunk = chunk_for(len(row))

        def keys(start: int) -> tuple[np.ndarray, np.ndarray]:
            part = slice(start, start + chunk)
            at = np.flatnonzero(is_chosen[users[part]]) + start  # the sampled users' ratings: a few
            r, c = row[users[at]], column[items[at]]
            mine, here = c >= 0, compared[at]
            key = r * width + c
            return key[mine & ~here], key[mine & here & (ratings[at] >= threshold)]

        parts = list(waves(pool, len(ratings), chunk, keys))
        seen = np.unique(np.concatenate([p[0] for p in parts] or [np.zeros(0, np.int64)]))
        relevant = np.unique(np.concatenate([p[1] for p in parts] or [np.zeros(0, np.int64)]))
        relevant = relevant[~contains(seen, relevant)]
        keep = np.bincount(relevant // width, minlength=len(chosen)) > 0
        if not keep.all():
            renumber = np.full(len(chosen), -1, dtype=np.int64)
            renumber[keep] = np.arange(int(keep.sum()))
            seen = seen[keep[seen // width]]
            seen = renumber[seen // width] * width + seen % width
            relevant = renumber[relevant // width] * width + relevant % width
            chosen = chosen[keep]
        return cls(
            users=chosen,
            candidates=candidates,
            seen=seen,
            relevant=relevant,
            eligible=len(eligible),
            left_out=int(np.count_nonzero(wanted & ~known)),
            sampled=sampled,
        )

    def model(self, model: FactorModel, user_rows: np.ndarray, item_rows: np.ndarray) -> tuple[np.ndarray, ...]:
        """What `churn.compare_lists` ranks with: the sampled users' factors, the candidates' factors and biases."""
        tables = model.weights
        candidate_rows = item_rows[self.candidates]
        return (
            tables.user_factors[user_rows[self.users]],
            tables.item_factors[candidate_rows],
            tables.item_biases[candidate_rows],
        )


def chunk_for(n_users: int) -> int:
    """Ratings per chunk: `CHUNK`, or 8 per user where that is more, so a chunk's per-user sums (a few
    arrays as long as the users) cost at most an eighth of reading it."""
    return max(CHUNK, 8 * n_users)


def waves(pool: Workers, n: int, chunk: int, task: Callable[[int], T]) -> Iterator[T]:
    """`task(start)` for each chunk of `n` rows, run on the pool a wave of `pool.threads` chunks at a time
    (so at most that many chunks' results are held), yielded in the chunks' order."""
    starts = list(range(0, n, chunk))
    for wave in range(0, len(starts), pool.threads):
        yield from pool.all([lambda s=s: task(s) for s in starts[wave : wave + pool.threads]])


def _tables(model: FactorModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    w = model.weights
    return w.user_factors, w.user_biases, w.item_factors, w.item_biases


def _check(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    compared: np.ndarray,
    trained: np.ndarray,
    n_users: int,
    n_items: int,
    k: int,
    max_users: int,
) -> None:
    """Mis-wired inputs fail here, with their names, rather than as a numpy error deep in the passes."""
    n = len(ratings)
    arrays = (("users", users), ("items", items), ("compared", compared), ("trained", trained))
    wrong = [f"{name} has {len(a)}, expected {n}" for name, a in arrays if len(a) != n]
    for name, codes, limit in (("users", users, n_users), ("items", items, n_items)):
        if len(codes) == n and n and (int(codes.min()) < 0 or int(codes.max()) >= limit):
            wrong.append(f"{name} holds codes outside 0..{limit - 1}")
    if k < 1:
        wrong.append(f"k must be at least 1, not {k}")
    if max_users < 1:
        wrong.append(f"max_users must be at least 1, not {max_users}")
    if wrong:
        raise ValueError("paired_review: " + "; ".join(wrong))
