"""The analysis's compiled passes over every rating: the same arithmetic, in the same order, as numpy's and pandas'.

Used only by `analysis.sums`, which imports it lazily and falls back to numpy and pandas
when numba cannot load. Each loop here reproduces a library routine bit for bit, so
the report does not depend on which ran: `bias_sweeps` the alternating
`np.bincount(codes, weights)` sweeps of `baselines` (a float64 `+=` in data order),
`group_sums` pandas' grouped mean (Kahan-compensated float64 sums in data order,
NaN skipped). No fastmath: every operation is IEEE's, unreordered. What it saves is
the temporaries (three float64 arrays of every training rating per sweep) and the
hash and sort passes of a pandas groupby.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True, error_model="numpy")
def bias_sweeps(
    users: np.ndarray,
    items: np.ndarray,
    centred: np.ndarray,
    user_shrink: np.ndarray,
    item_shrink: np.ndarray,
    sweeps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Alternating least squares of user and item biases on `centred` (rating − mean) ratings.

    Each sweep: item_bias = Σ (centred − user_bias[u]) / item_shrink, then user_bias =
    Σ (centred − item_bias[i]) / user_shrink, sums in data order; code 0 (unseen) has
    bias 0 after every sweep.
    """
    n = len(centred)
    user_bias = np.zeros(len(user_shrink))
    item_bias = np.zeros(len(item_shrink))
    for _ in range(sweeps):
        sums = np.zeros(len(item_shrink))
        for j in range(n):
            sums[items[j]] += centred[j] - user_bias[users[j]]
        item_bias = sums / item_shrink
        sums = np.zeros(len(user_shrink))
        for j in range(n):
            sums[users[j]] += centred[j] - item_bias[items[j]]
        user_bias = sums / user_shrink
        user_bias[0] = 0.0
        item_bias[0] = 0.0
    return user_bias, item_bias


@njit(nogil=True, cache=True, error_model="numpy")
def group_sums(labels: np.ndarray, values: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group (label ≥ 0): its rows, how many of their values are not NaN, and their Kahan sum, in data order."""
    rows = np.zeros(n_groups, dtype=np.int64)
    counts = np.zeros(n_groups, dtype=np.int64)
    sums = np.zeros(n_groups)
    compensation = np.zeros(n_groups)
    for j in range(len(labels)):
        lab = labels[j]
        if lab < 0:
            continue
        rows[lab] += 1
        value = np.float64(values[j])
        if value != value:
            continue
        counts[lab] += 1
        y = value - compensation[lab]
        t = sums[lab] + y
        compensation[lab] = t - sums[lab] - y
        if compensation[lab] != compensation[lab]:
            compensation[lab] = 0.0
        sums[lab] = t
    return rows, counts, sums


@njit(nogil=True, cache=True, error_model="numpy")
def group_sums_of(
    labels: np.ndarray, keys: np.ndarray, table: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`group_sums(labels, table[keys], n_groups)` without building `table[keys]` (a key < 0 gives NaN)."""
    rows = np.zeros(n_groups, dtype=np.int64)
    counts = np.zeros(n_groups, dtype=np.int64)
    sums = np.zeros(n_groups)
    compensation = np.zeros(n_groups)
    for j in range(len(labels)):
        lab, key = labels[j], keys[j]
        if lab < 0:
            continue
        rows[lab] += 1
        if key < 0:
            continue
        value = table[key]
        if value != value:
            continue
        counts[lab] += 1
        y = value - compensation[lab]
        t = sums[lab] + y
        compensation[lab] = t - sums[lab] - y
        if compensation[lab] != compensation[lab]:
            compensation[lab] = 0.0
        sums[lab] = t
    return rows, counts, sums
