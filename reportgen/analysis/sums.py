"""Sums over every rating, grouped by user, item or title: compiled at scale, numpy and pandas below it.

The analysis passes over the ratings a few times (the baselines' alternating sweeps,
each title's count and mean, each rater's own average), and at 100M ratings those
passes are most of its time: numpy builds float64 temporaries of every rating and
pandas hashes and sorts its keys. From `COMPILED_FROM` ratings, where numba loads,
the compiled `loops` make the same sums in one pass each, with the same arithmetic in
the same order, so the numbers (and the report's bytes) are the same whichever ran;
`tests/analysis/test_sums.py` holds the two against each other. Below it, or where
numba cannot load, numpy and pandas do it (and the ML-100k run never imports numba).
"""

from __future__ import annotations

import functools
from types import ModuleType

import numpy as np
import pandas as pd

# Below this many ratings numpy and pandas take well under a second, and importing
# numba and loading the compiled loops would cost more than it saves.
COMPILED_FROM = 1_000_000


@functools.cache
def _compiled() -> ModuleType | None:
    try:
        from reportgen.analysis import loops
    except Exception:  # numba missing or unable to compile: numpy and pandas give the same numbers
        return None
    return loops


def _loops_for(n: int, compiled: bool | None) -> ModuleType | None:
    """The compiled loops if they should run on `n` ratings (`compiled`: force one way, for the tests)."""
    if compiled is False or (compiled is None and n < COMPILED_FROM):
        return None
    loops = _compiled()
    if loops is None and compiled:
        raise RuntimeError("the compiled loops cannot load")
    return loops


def bias_sweeps(
    users: np.ndarray,
    items: np.ndarray,
    centred: np.ndarray,
    user_shrink: np.ndarray,
    item_shrink: np.ndarray,
    sweeps: int,
    *,
    compiled: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """User and item biases by alternating least squares on `centred` ratings (rating − mean).

    Each sweep fits every item's bias to its ratings less their users' biases, summed
    and divided by `item_shrink` (its count plus the damping), then every user's the
    same way; code 0 (unseen in training) keeps bias 0.
    """
    loops = _loops_for(len(centred), compiled)
    if loops is not None:
        return loops.bias_sweeps(users, items, centred, user_shrink, item_shrink, sweeps)
    user_bias, item_bias = np.zeros(len(user_shrink)), np.zeros(len(item_shrink))
    for _ in range(sweeps):
        with np.errstate(invalid="ignore", divide="ignore"):  # undamped (λ = 0), code 0 divides 0 by 0
            item_bias = np.bincount(items, centred - user_bias[users], minlength=len(item_shrink)) / item_shrink
            user_bias = np.bincount(users, centred - item_bias[items], minlength=len(user_shrink)) / user_shrink
        user_bias[0] = item_bias[0] = 0.0
    return user_bias, item_bias


def counts_and_means(
    labels: pd.Series, values: pd.Series, *, compiled: bool | None = None
) -> tuple[pd.Series, pd.Series]:
    """Each label's count of values and mean, indexed by label, as `values.groupby(labels)` gives them.

    Only the labels that occur, in no promised order (a caller looks labels up).
    """
    loops = _loops_for(len(values), compiled) if isinstance(labels.dtype, pd.CategoricalDtype) else None
    if loops is None:
        grouped = values.groupby(labels, sort=False, observed=True)
        return grouped.count(), grouped.mean()
    rows, counts, sums = loops.group_sums(labels.cat.codes.to_numpy(), values.to_numpy(), len(labels.cat.categories))
    return _by_label(labels, rows, counts), _by_label(labels, rows, _mean(sums, counts))


def raters_means(raters: pd.Series, labels: pd.Series, values: pd.Series, *, compiled: bool | None = None) -> pd.Series:
    """For each label, the mean over its rows of the row's rater's own mean value, indexed by label.

    pandas' `groupby(raters).transform("mean")`, then that column's mean by label.
    """
    categorical = all(isinstance(s.dtype, pd.CategoricalDtype) for s in (raters, labels))
    loops = _loops_for(len(values), compiled) if categorical else None
    if loops is None:
        # A per-row transform, not a map of the rater column: that column may be a Categorical, and mapping
        # it one-to-one (every rater's mean distinct) keeps it categorical, which then cannot be averaged.
        own = values.groupby(raters, observed=True).transform("mean")
        return own.groupby(labels, sort=False, observed=True).mean()
    rater_codes = raters.cat.codes.to_numpy()
    _, counts, sums = loops.group_sums(rater_codes, values.to_numpy(), len(raters.cat.categories))
    own = _mean(sums, counts)
    rows, counts, sums = loops.group_sums_of(labels.cat.codes.to_numpy(), rater_codes, own, len(labels.cat.categories))
    return _by_label(labels, rows, _mean(sums, counts))


def _mean(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """sums / counts; NaN where there was nothing to average, as pandas has it."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _by_label(labels: pd.Series, rows: np.ndarray, values: np.ndarray) -> pd.Series:
    """`values` of the labels that occur (`rows` > 0), indexed by label."""
    seen = np.flatnonzero(rows)
    return pd.Series(values[seen], index=labels.cat.categories[seen])
