"""Which row of each model is whose, and which users' top-k lists two models are compared on.

Two trainings number their vocabularies afresh, so a review matches users and items
by name (`rows_of`: one hash lookup per distinct name, then a gather per rating); a
name a model never saw gets its row 0, fastai's `#na#`, as that model itself would
score it. `Sampled` is the bounded, seeded sample of users whose two top-k lists are
compared, with the keys of what they rated outside the compared ratings and of their
relevant items, gathered a chunk of ratings at a time (`chunk_for`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reportgen.analysis.ranking import contains
from reportgen.analysis.workers import Workers
from reportgen.train.results import FactorModel

CHUNK = 1 << 21  # ratings read at once per thread, at least; 8 per user (`chunk_for`)


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

        parts = list(pool.waves(range(0, len(ratings), chunk), keys))
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
