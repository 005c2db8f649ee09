"""The lean Learner's training step compiled: the tutorial model's forward pass and MSE gradient in one call.

At the tutorial's 64 ratings a batch the step's arithmetic is tiny and torch's cost
is dispatch: `steps.dot_bias_step` makes about 25 torch calls a batch (gathers, the
sigmoid, four dense zeroed gradients and four scatter-adds), some 180 µs of the
tutorial fit's 600 µs a step on 2 cores. `dot_bias_grads` does the same arithmetic
(float32, as torch does) in one numba call on numpy views of the parameters and
their gradient buffers, about 10 µs. The sums run in a fixed order, so a seed gives
the same bits on every run; they differ from torch's in the last float32 places
(valid MSE on ML-100k at seed 42: `docs/training.md`). The optimizer stays torch's
fused AdamW (`steps.adamw`). `learner` imports this lazily and keeps the torch step
if numba cannot load; `check` compiles (or loads from numba's cache) first.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True, error_model="numpy")
def dot_bias_grads(
    users: np.ndarray,
    items: np.ndarray,
    target: np.ndarray,
    uw: np.ndarray,
    iw: np.ndarray,
    ub: np.ndarray,
    ib: np.ndarray,
    lo: float,
    hi: float,
    gu: np.ndarray,
    gi: np.ndarray,
    gub: np.ndarray,
    gib: np.ndarray,
    pred: np.ndarray,
) -> float:
    """Predictions into `pred`, the MSE's gradient into the (dense, zeroed here) `g*` tables; returns the MSE.

    z = u·i + b_u + b_i, pred = lo + (hi − lo)·sigmoid(z), loss = mean((pred − y)²):
    dloss/dz = 2(pred − y)/n · s(1 − s)(hi − lo), times the other side's row for the
    factors and 1 for the biases, summed into each rating's rows (what autograd's
    embedding backward gives, `steps.dot_bias_step`).
    """
    n = len(users)
    k = uw.shape[1]
    lo32, span = np.float32(lo), np.float32(hi - lo)
    gu[:] = 0.0
    gi[:] = 0.0
    gub[:] = 0.0
    gib[:] = 0.0
    scale = np.float32(2.0 / n)
    total = np.float32(0.0)
    for r in range(n):
        u, i = users[r], items[r]
        z = np.float32(0.0)
        for c in range(k):
            z += uw[u, c] * iw[i, c]
        z = z + ub[u, 0] + ib[i, 0]
        s = np.float32(1.0) / (np.float32(1.0) + np.exp(-z))
        p = s * span + lo32
        pred[r] = p
        err = p - target[r]
        total += err * err
        dz = (err * scale) * (s * (np.float32(1.0) - s)) * span  # torch's association
        for c in range(k):
            gu[u, c] += dz * iw[i, c]
            gi[i, c] += dz * uw[u, c]
        gub[u, 0] += dz
        gib[i, 0] += dz
    return total / np.float32(n)


def check() -> None:
    """Compile (or load from numba's cache) for the argument types the lean step passes, on tiny data."""
    users = np.zeros((2, 2), dtype=np.int64)[:, 0]  # a column of the batch: a strided view, as the step passes
    target = np.ones((2, 1), dtype=np.float32)[:, 0]
    table, bias = np.zeros((1, 3), dtype=np.float32), np.zeros((1, 1), dtype=np.float32)
    dot_bias_grads(
        users, users, target, table, table, bias, bias, 0.0, 5.5,
        table.copy(), table.copy(), bias.copy(), bias.copy(), np.zeros(2, dtype=np.float32),
    )  # fmt: skip
