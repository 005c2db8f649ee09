"""The sparse engine's compiled inner loop: per-rating SGD with row-wise Adagrad on a stratified block grid.

numba compiles these functions once (`cache=True`: later runs load the machine code
from numba's cache) and `prange` runs the blocks of a stratum on every thread. The
ratings are counting-sorted once into a `GRID` x `GRID` grid of blocks (users and
items each cut into `GRID` groups at random); a stratum is `GRID` blocks that share
no user and no item (user group b with item group (b + shift) mod `GRID`), so the
threads never touch the same row and the numbers do not depend on how the blocks
are scheduled: the same seed gives the same bits on any thread count. Importing this
module compiles (or loads) everything: `sparse_loop` imports it lazily and falls
back to the torch loop when it cannot.

The tables are the torch loop's augmented float32 rows, users `[w | b_u | 1]`,
items `[w | 1 | b_i]` (a row dot product is `u·i + b_u + b_i`), updated in place.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

# The blocks per side of the grid: fixed, so the schedule (and the numbers) never depend on the thread count.
# Planted 10M (docs/training.md, "The compiled kernel"): valid RMSE 0.5936 at 8, 0.5876 at 16, 0.5866 at 32
# and 64 (a user's ratings come in fewer, larger clumps on a coarse grid); at 32 a block's rows (70,000 / 32
# users and 10,000 / 32 items of 52 float32s: 520 KB) stay in a core's 1 MB L2, and 32 blocks a stratum
# even out the threads' shares.
GRID = 32
# Every IEEE shortcut except assuming no NaN or infinity: a diverging fit must still show as non-finite.
FASTMATH = {"reassoc", "contract", "arcp", "nsz", "afn"}
MASK32 = 0xFFFFFFFF
# numba's own thread pool rather than OpenMP (unless the user chose a layer): OpenMP's threads spin after each
# of an epoch's strata, and on 2 cores shared with other work that spinning cost 2.2-2.4 CPU-s where the pool
# took 0.8-1.1 (planted 1M, 2 threads, load 5.4-6.0; docs/training.md). The pool allows one parallel
# launch at a time: one fit per process, as reportgen runs.
if numba.config.THREADING_LAYER == "default":
    numba.config.THREADING_LAYER = "workqueue"


@njit(nogil=True, cache=True)
def block_sort(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    user_group: np.ndarray,
    item_group: np.ndarray,
    grid: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ratings counting-sorted by block (user group * grid + item group), and each block's start.

    One pass to count, one to place (stable: a block keeps its ratings' order): O(n),
    int32 codes and float32 ratings, 12 bytes per rating. `starts[b]:starts[b + 1]`
    are block b's ratings.
    """
    n = len(ratings)
    starts = np.zeros(grid * grid + 1, dtype=np.int64)
    for j in range(n):
        starts[user_group[users[j]] * grid + item_group[items[j]] + 1] += 1
    for b in range(grid * grid):
        starts[b + 1] += starts[b]
    fill = starts[:-1].copy()
    su = np.empty(n, dtype=np.int32)
    si = np.empty(n, dtype=np.int32)
    sr = np.empty(n, dtype=np.float32)
    for j in range(n):
        b = user_group[users[j]] * grid + item_group[items[j]]
        at = fill[b]
        su[at], si[at], sr[at] = users[j], items[j], ratings[j]
        fill[b] = at + 1
    return su, si, sr, starts


@njit(nogil=True, cache=True, inline="always")
def _next(state: int) -> int:
    """xorshift32 on the low 32 bits of an int64 (no unsigned arithmetic)."""
    state ^= (state << 13) & MASK32
    state ^= state >> 17
    state ^= (state << 5) & MASK32
    return state


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def _block(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    first: int,
    last: int,
    seed: int,
    uw: np.ndarray,
    iw: np.ndarray,
    uacc: np.ndarray,
    iacc: np.ndarray,
    lo: float,
    hi: float,
    reg: float,
    lr: float,
    eps: float,
) -> float:
    """Shuffle one block's ratings in place (Fisher-Yates from `seed`), then one SGD step per rating.

    The step is the torch loop's per occurrence: the gradient of `err**2 / 2 +
    reg / 2 * |row|**2` over `reg`, the row's Adagrad accumulator grown by its mean
    square, then the row moved by `-lr / (sqrt(acc) + eps)` times it. Returns the
    block's summed squared error (before each step).
    """
    cols = uw.shape[1]
    k = cols - 2
    lo32, span = np.float32(lo), np.float32(hi - lo)
    scale = np.float32((hi - lo) / reg)
    rate, eps32 = np.float32(-lr), np.float32(eps)
    state = (seed & MASK32) | 1
    for j in range(last - 1, first, -1):
        state = _next(state)
        other = first + ((state * (j - first + 1)) >> 32)
        users[j], users[other] = users[other], users[j]
        items[j], items[other] = items[other], items[j]
        ratings[j], ratings[other] = ratings[other], ratings[j]
    total = 0.0
    inv_cols = np.float32(1.0 / cols)
    gu = np.empty(cols, dtype=np.float32)
    gi = np.empty(cols, dtype=np.float32)
    for j in range(first, last):
        u, i = users[j], items[j]
        pu, qi = uw[u], iw[i]
        z = np.float32(0.0)
        for c in range(cols):
            z += pu[c] * qi[c]
        s = np.float32(1.0) / (np.float32(1.0) + np.exp(-z))
        err = s * span + lo32 - ratings[j]
        total += err * err
        g = err * s * (np.float32(1.0) - s) * scale  # d(err**2 / 2)/dz over reg
        su = np.float32(0.0)
        si = np.float32(0.0)
        for c in range(k):  # the factors: gradient and its square in one pass
            a = pu[c] + g * qi[c]
            b = qi[c] + g * pu[c]
            gu[c] = a
            gi[c] = b
            su += a * a
            si += b * b
        # The biases: the user's multiplies the item's constant 1 (column k), the item's the user's (k + 1);
        # the constant columns never move.
        bu = pu[k] + g
        bi = qi[k + 1] + g
        uacc[u] += (su + bu * bu) * inv_cols
        iacc[i] += (si + bi * bi) * inv_cols
        wu = rate / (np.sqrt(uacc[u]) + eps32)
        wi = rate / (np.sqrt(iacc[i]) + eps32)
        for c in range(k):
            pu[c] += wu * gu[c]
            qi[c] += wi * gi[c]
        pu[k] += wu * bu
        qi[k + 1] += wi * bi
    return total


@njit(nogil=True, cache=True, parallel=True)
def stratum(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    starts: np.ndarray,
    shift: int,
    seeds: np.ndarray,
    uw: np.ndarray,
    iw: np.ndarray,
    uacc: np.ndarray,
    iacc: np.ndarray,
    lo: float,
    hi: float,
    reg: float,
    lr: float,
    eps: float,
    errors: np.ndarray,
) -> None:
    """The grid's `len(seeds)` blocks (b, (b + shift) mod grid) in parallel; `errors[b]`: block b's squared error.

    The blocks share no user and no item, so no two threads write one row.
    """
    grid = len(seeds)
    for b in prange(grid):
        block = b * grid + (b + shift) % grid
        errors[b] = _block(
            users,
            items,
            ratings,
            starts[block],
            starts[block + 1],
            seeds[b],
            uw,
            iw,
            uacc,
            iacc,
            lo,
            hi,
            reg,
            lr,
            eps,
        )


CHUNKS = 64  # the validation pass's fixed chunks: the sum's order never depends on the thread count


@njit(nogil=True, cache=True, parallel=True, fastmath=FASTMATH)
def squared_error(
    users: np.ndarray, items: np.ndarray, ratings: np.ndarray, uw: np.ndarray, iw: np.ndarray, lo: float, hi: float
) -> float:
    """The summed squared error of the predictions (float64), in `CHUNKS` fixed chunks added in order."""
    n = len(ratings)
    size = (n + CHUNKS - 1) // CHUNKS
    partial = np.zeros(CHUNKS, dtype=np.float64)
    cols = uw.shape[1]
    lo32, span = np.float32(lo), np.float32(hi - lo)
    for chunk in prange(CHUNKS):
        acc = 0.0
        for j in range(chunk * size, min(n, (chunk + 1) * size)):
            pu, qi = uw[users[j]], iw[items[j]]
            z = np.float32(0.0)
            for c in range(cols):
                z += pu[c] * qi[c]
            pred = np.float32(1.0) / (np.float32(1.0) + np.exp(-z)) * span + lo32
            d = np.float64(pred) - np.float64(ratings[j])
            acc += d * d
        partial[chunk] = acc
    total = 0.0
    for chunk in range(CHUNKS):
        total += partial[chunk]
    return total


def check() -> None:
    """Compile (or load from the cache) every function for the argument types `sparse_loop` passes, on tiny data."""
    users, items = np.zeros(2, dtype=np.int32), np.zeros(2, dtype=np.int32)
    ratings = np.ones(2, dtype=np.float32)
    group = np.zeros(1, dtype=np.int64)
    su, si, sr, starts = block_sort(users, items, ratings, group, group, GRID)
    uw, iw = np.zeros((1, 4), dtype=np.float32), np.zeros((1, 4), dtype=np.float32)
    uacc, iacc = np.zeros(1, dtype=np.float32), np.zeros(1, dtype=np.float32)
    errors = np.zeros(GRID, dtype=np.float64)
    seeds = np.ones(GRID, dtype=np.int64)
    stratum(su, si, sr, starts, 0, seeds, uw, iw, uacc, iacc, 0.0, 1.0, 0.1, 0.1, 1e-8, errors)
    squared_error(su, si, sr, uw, iw, 0.0, 1.0)


def threads_available() -> int:
    """The most threads the kernel can use (numba's pool: the machine's cores unless NUMBA_NUM_THREADS)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def set_threads(n: int) -> int:
    """Run the kernel on `n` threads (at most `threads_available()`); returns the count it had before."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n, threads_available())))
    return before
