"""Is tonight's model better than the baseline? Both scored on the same held-out ratings, with intervals.

`paired_review` takes tonight's ratings (codes into their user and item names), a mask
of the ratings neither model trained on (`compared`) and the two models as numbers
(`train.FactorModel`). Each model's rows are found by name (`pairing.rows_of`): a name
a model never saw gets its row 0, fastai's `#na#`, exactly as that model would predict
it (Categorify), and such ratings are counted apart for each model (`Unseen`).

The ratings are read in chunks (`pairing.chunk_for`), on the workers, into per-user sums (ratings,
squared and absolute errors of each model, relevant items, tonight's training ratings) and the
same errors' sums per (user group, item group) cell: linear in the ratings, with memory bounded
by the chunk, the number of users and the cells. RMSE and MAE of both models and their
differences (tonight − baseline) come with 95 % percentile bootstrap intervals over users and
items (`bootstrap.resampled_two_way`); the verdict is RMSE's: better
where the interval lies below 0, worse above, else no detectable difference. The
ranking and the churn of the top-k lists are `churn`'s, for a bounded, seeded sample of
users both models know.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reportgen.analysis import defaults
from reportgen.analysis.bootstrap import (
    CONFIDENCE,
    NO_VERDICT,
    RESAMPLES,
    PairedDifference,
    check_resamples,
    groups,
    paired,
)
from reportgen.analysis.churn import RBO_P, Recommendations, compare_lists, recommendations
from reportgen.analysis.pairing import Rows, Sampled, chunk_for
from reportgen.analysis.quality import default_threshold, predict
from reportgen.analysis.workers import Workers, serial
from reportgen.train.results import FactorModel

MAX_USERS = 2000  # users whose top-k lists are compared at most: `quality.evaluate`'s sample


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
            f"the middle {100 * self.confidence:g} % of {self.resamples:,} bootstrap resamples (seed {self.seed}): "
            "RMSE and MAE resample users and items at once (a rating counts as often as its user and its item "
            "were drawn), NDCG and recall the users."
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
    # The rating measures are resampled over users and items (`bootstrap.resampled_two_way`): each compared
    # user and item in a group of its own, or dealt at random into at most `bootstrap.GROUPS` groups.
    user_group, user_groups = _grouped(users[compared], n_users, seed)
    item_group, item_groups = _grouped(items[compared], len(item_names), seed + 1)
    n_cells = user_groups * item_groups

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
        cell = user_group[u] * item_groups + item_group[i]
        cells = np.stack(
            [np.bincount(cell, w, minlength=n_cells) for w in (None, errors[0] ** 2, errors[1] ** 2)]
            + [np.bincount(cell, np.abs(e), minlength=n_cells) for e in errors]
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
        return sums, unseen, int(np.count_nonzero(mine & trained[part])), cells

    # Per user: compared ratings, both models' squared and absolute errors, relevant items, training ratings;
    # per (user group, item group) cell: the first five of those.
    sums, unseen, both, cells = np.zeros((7, n_users)), np.zeros((2, 5)), 0, np.zeros((5, n_cells))
    for part in workers.waves(range(0, len(ratings), chunk), one):
        sums += part[0]  # in the chunks' order: the same sums on any number of threads
        unseen += part[1]
        both += part[2]
        cells += part[3]
    if both:
        raise ValueError(f"{both} compared ratings are among tonight's training ratings: compare unseen ratings only")
    rated = sums[0] > 0

    def measures(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = s[:, 0]
        return (
            np.column_stack([np.sqrt(s[:, 1] / n), s[:, 3] / n]),
            np.column_stack([np.sqrt(s[:, 2] / n), s[:, 4] / n]),
        )

    by_cell = cells.T.reshape(user_groups, item_groups, 5)
    rmse, mae = paired(
        by_cell, measures, ("RMSE", "MAE"), (True, True), resamples=resamples, seed=seed, stream=0, pool=pool
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


def _grouped(codes: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, int]:
    """Each of `n` codes' resampling group (`bootstrap.groups`) among the codes that occur, and how many groups;
    a code that does not occur gets group 0 and is never read."""
    present = np.flatnonzero(np.bincount(codes, minlength=n))
    group = np.zeros(n, dtype=np.int64)
    group[present], count = groups(len(present), seed)
    return group, count


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
