"""The sparse training loops: fastai's `EmbeddingDotBias` fitted in place, by the compiled kernel or by torch.

Both minimise the same objective with the same optimizer: L2 regularisation per
occurrence of a row (as cornac and surprise do) and Adagrad with one accumulator per
row. On the CPU, alone, the compiled kernel (`kernel`, numba) takes one step per
rating on a stratified block grid, on every thread. On a CUDA device, in a torchrun
world, or when numba cannot load (one warning), the torch loop takes large batches:
a step is a fixed dozen torch ops on (batch x factors) tensors, with no Python work
per rating. `sparse` chooses the settings and prepares the data; this module only trains.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen.errors import InputError, RunError
from reportgen.train import distributed
from reportgen.train.results import EpochHook, EpochStats, ProgressHook

if TYPE_CHECKING:
    from reportgen.train.config import EngineSettings
    from reportgen.train.distributed import World


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SparseFit:
    """What `train_sparse` did: one `EpochStats` per epoch, optimizer steps, seconds in the loop, which loop ran.

    `kernel`: "numba" (the compiled kernel: a step per rating) or "torch" (a step per batch).
    """

    epochs: tuple[EpochStats, ...]
    steps: int
    fit_seconds: float
    kernel: str = "torch"


def load_kernel() -> ModuleType | None:
    """The compiled kernel, imported and compiled (or loaded from numba's cache); None, with a warning, if it fails."""
    try:
        import reportgen.train.kernel as kernel

        kernel.check()
    except Exception as exc:  # numba missing, or an LLVM/numba failure: any of them means the torch loop
        log.warning(
            "the compiled sparse kernel is unavailable (%s: %s); training with the torch loop", type(exc).__name__, exc
        )
        return None
    return kernel


class _RowAdagrad:
    """Adagrad with one accumulator per row (the mean squared gradient over its columns).

    Every occurrence of a row in a batch adds its own squared gradient to the
    row's accumulator and then steps by its own gradient over the root of it, so
    a row met 500 times in a batch moves about sqrt(500) single steps, not 500.
    No sort, no per-row sums: two index_adds per table.
    """

    def __init__(self, tables: _Tables, s: EngineSettings) -> None:
        import torch

        self.s = s
        self.state = {
            "users": torch.zeros(len(tables.users), device=tables.users.device),
            "items": torch.zeros(len(tables.items), device=tables.items.device),
        }

    def step(self, name: str, table: Any, idx: Any, grad: Any, lr: float) -> None:
        import torch

        acc = self.state[name]
        acc.index_add_(0, idx, torch.linalg.vector_norm(grad, dim=1).square_().div_(grad.shape[1]))
        w = acc.index_select(0, idx).sqrt_().add_(self.s.eps).reciprocal_().mul_(-lr)
        table.index_add_(0, idx, grad.mul_(w.unsqueeze(1)))  # grad is a scratch buffer


def train_sparse(
    model: Any,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_valid: np.ndarray,
    y_valid: np.ndarray,
    settings: EngineSettings,
    *,
    seed: int,
    device: str = "cpu",
    on_epoch: EpochHook | None = None,
    on_progress: ProgressHook | None = None,
    world: World | None = None,
    threads: int | None = None,
    loop: str = "auto",
) -> SparseFit:
    """Fit `model` (fastai's `EmbeddingDotBias`, with `y_range`) in place on (user, item) codes.

    `x_*` are (n, 2) integer codes (user, item) into the model's tables, `y_*` the
    ratings. Minimises the sum over training ratings of `(prediction - rating)**2
    + reg * (|u|**2 + |i|**2 + b_u**2 + b_i**2)` (each rating's own rows), by
    row-wise Adagrad on the rows present in each batch. The batch order comes
    from a CPU generator seeded with `seed`, so a seed gives the same numbers on
    every run (on the CPU; CUDA's atomic adds may differ in the last bits).
    `on_epoch(stats, total_epochs)` follows every epoch (valid loss: the exact MSE
    over all of `y_valid`); `on_progress(fraction)` about every tenth of an epoch.

    With a `world` of several ranks (each holding the same data), every global batch
    of `settings.bs` ratings is split in rank order, each rank computes its share's
    row gradients, and all ranks apply the gathered whole: the same update, in the
    same order, as one process with that batch size, so every rank ends with the same
    weights. The validation MSE is summed over the ranks' shares, each rating once.

    `loop` "auto" trains with the compiled kernel (`train_kernel`, on `threads`
    threads, default all) on the CPU alone and falls back to the torch loop if it
    cannot load; "torch" always takes the torch loop. `SparseFit.kernel` says which ran.
    """
    import torch

    if model.y_range is None:
        raise InputError("the sparse engine needs a model with a y_range")
    if len(x_train) < 1:
        raise InputError("no training ratings")
    dev = torch.device(device)
    k = model.u_weight.weight.shape[1]
    lo, hi = (float(v) for v in model.y_range)
    tables = _Tables.from_model(model, dev)
    kernel = load_kernel() if loop == "auto" and dev.type == "cpu" and world is None else None
    if kernel is not None:
        hooks = (on_epoch, on_progress)
        return train_kernel(kernel, model, tables, (x_train, y_train, x_valid, y_valid), settings, seed, threads, hooks)
    xu, xi, y = _as_tensors(x_train, y_train, dev)
    vu, vi, vy = _as_tensors(x_valid, y_valid, dev)
    n = len(y)
    bs = min(settings.bs, n)
    ranks, rank = (world.size, world.rank) if world is not None else (1, 0)
    share = -(-bs // ranks)  # each rank's part of a global batch (the last rank's may be padded)
    steps_per_epoch = -(-n // bs)
    total_steps = steps_per_epoch * settings.epochs
    generator = torch.Generator().manual_seed(seed)
    opt = _RowAdagrad(tables, settings)
    buffers = torch.empty((4, share, tables.users.shape[1]), device=dev)  # U, I, U*I then item grads, user grads
    progress_every = max(1, steps_per_epoch // 10)

    history: list[EpochStats] = []
    step = 0
    smooth, count, beta = torch.zeros((), device=dev, dtype=torch.float64), 0, 0.98
    fit_started = time.perf_counter()
    with torch.no_grad():
        for epoch in range(1, settings.epochs + 1):
            started = time.perf_counter()
            order = torch.randperm(n, generator=generator).to(dev)
            eu, ei, ey = xu[order], xi[order], y[order]
            del order
            for b in range(steps_per_epoch):
                end = min((b + 1) * bs, n)
                first = min(b * bs + rank * share, end)
                last = min(first + share, end)
                u, i, r = eu[first:last], ei[first:last], ey[first:last]
                lr = _lr_at(step, total_steps, settings)
                mse = _step(tables, opt, buffers, u, i, r, lo, hi, k, settings.reg, lr, share if world else None)
                step += 1
                count += 1
                smooth = torch.lerp(mse.double(), smooth, beta)
                if on_progress is not None and (b + 1) % progress_every == 0 and b + 1 < steps_per_epoch:
                    on_progress((b + 1) / steps_per_epoch)
            del eu, ei, ey
            valid_loss = _valid_mse(tables, vu, vi, vy, lo, hi, settings.valid_bs, world) if len(vy) else float("nan")
            train_loss = float(smooth) / (1 - beta**count)
            stats = EpochStats(epoch, train_loss, valid_loss, time.perf_counter() - started)
            history.append(stats)
            _check_finite(stats, tables, model)
            if on_epoch is not None:
                on_epoch(stats, settings.epochs)
    tables.write_back(model)
    return SparseFit(epochs=tuple(history), steps=step, fit_seconds=time.perf_counter() - fit_started)


def train_kernel(
    kernel: ModuleType,
    model: Any,
    tables: _Tables,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    settings: EngineSettings,
    seed: int,
    threads: int | None,
    hooks: tuple[EpochHook | None, ProgressHook | None],
) -> SparseFit:
    """`train_sparse` by the compiled kernel: the ratings block-sorted once, then `epochs` x `GRID` strata.

    Users and items fall into `GRID` groups each by a permutation from `seed`; each
    epoch takes the strata (shifts) in an order from `seed`, and each block shuffles
    its ratings in place by a seed drawn for it, so a seed gives the same bits on
    every thread count. The learning rate follows `_lr_at` stratum by stratum; the
    train loss is the smoothed MSE over the blocks in their order.
    """
    x_train, y_train, x_valid, y_valid = data
    on_epoch, on_progress = hooks
    lo, hi = (float(v) for v in model.y_range)
    rng = np.random.default_rng(seed)
    grid = kernel.GRID
    uw, iw = tables.users.numpy(), tables.items.numpy()
    groups = [(rng.permutation(len(t)) * grid // len(t)).astype(np.int64) for t in (uw, iw)]
    users, items, ratings, starts = kernel.block_sort(*_as_arrays(x_train, y_train), *groups, grid)
    del groups
    sizes = np.diff(starts).reshape(grid, grid)
    vu, vi, vy = _as_arrays(x_valid, y_valid)
    uacc, iacc = np.zeros(len(uw), dtype=np.float32), np.zeros(len(iw), dtype=np.float32)
    errors = np.zeros(grid, dtype=np.float64)
    total, progress_every = settings.epochs * grid, max(1, round(grid / 10))
    history: list[EpochStats] = []
    smooth, count, beta = 0.0, 0, 0.98
    before = kernel.set_threads(threads if threads is not None else kernel.threads_available())
    fit_started = time.perf_counter()
    try:
        for epoch in range(1, settings.epochs + 1):
            started = time.perf_counter()
            shifts = rng.permutation(grid)
            seeds = rng.integers(1, 2**31, size=(grid, grid), dtype=np.int64)
            for s, shift in enumerate(shifts.tolist()):
                lr = _lr_at((epoch - 1) * grid + s, total, settings)
                kernel.stratum(
                    users, items, ratings, starts, shift, seeds[s], uw, iw, uacc, iacc,
                    lo, hi, float(settings.reg), lr, float(settings.eps), errors,
                )  # fmt: skip
                for b in range(grid):
                    n = int(sizes[b, (b + shift) % grid])
                    if n:
                        smooth, count = beta * smooth + (1 - beta) * float(errors[b]) / n, count + 1
                if on_progress is not None and (s + 1) % progress_every == 0 and s + 1 < grid:
                    on_progress((s + 1) / grid)
            valid_loss = kernel.squared_error(vu, vi, vy, uw, iw, lo, hi) / len(vy) if len(vy) else float("nan")
            train_loss = smooth / (1 - beta**count)
            stats = EpochStats(epoch, train_loss, float(valid_loss), time.perf_counter() - started)
            history.append(stats)
            _check_finite(stats, tables, model)
            if on_epoch is not None:
                on_epoch(stats, settings.epochs)
    finally:
        kernel.set_threads(before)
    tables.write_back(model)
    seconds = time.perf_counter() - fit_started
    return SparseFit(epochs=tuple(history), steps=settings.epochs * len(ratings), fit_seconds=seconds, kernel="numba")


def _check_finite(stats: EpochStats, tables: _Tables, model: Any) -> None:
    """Both loops' divergence stop: a non-finite train loss writes back what was reached and raises `RunError`."""
    if not math.isfinite(stats.train_loss):
        tables.write_back(model)
        raise RunError(
            f"training diverged: epoch {stats.epoch} ended with train loss {stats.train_loss}; "
            "try a smaller learning rate"
        )


def _as_arrays(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """User codes, item codes (int32) and float32 ratings, each contiguous (the kernel's types)."""
    x = np.asarray(x)
    users, items = (np.ascontiguousarray(x[:, c], dtype=np.int32) for c in (0, 1))
    return users, items, np.ascontiguousarray(y, dtype=np.float32).reshape(-1)


def _as_tensors(x: np.ndarray, y: np.ndarray, dev: Any) -> tuple[Any, Any, Any]:
    """User codes, item codes (int32: half the memory of int64, fine as indices) and float32 ratings."""
    import torch

    return tuple(torch.from_numpy(a).to(dev) for a in _as_arrays(x, y))


def _lr_at(step: int, total: int, s: EngineSettings) -> float:
    """Linear warm-up over `warmup` of the steps, then a cosine down to `final_lr_frac * lr`."""
    warm = max(1, int(s.warmup * total))
    if step < warm:
        return s.lr * (step + 1) / warm
    t = (step - warm) / max(1, total - warm)
    return s.lr * (s.final_lr_frac + (1 - s.final_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))


class _Tables:
    """The model's four embeddings as two augmented tables, so one gather serves factors and bias.

    users: `[u_weight | u_bias | 1]`, items: `[i_weight | 1 | i_bias]`; a row dot
    product is then `u·i + b_u + b_i`. The constant columns never move (their
    gradient is zeroed). `write_back` copies the trained values into the module.
    """

    def __init__(self, users: Any, items: Any) -> None:
        self.users, self.items = users, items

    @classmethod
    def from_model(cls, model: Any, dev: Any) -> _Tables:
        import torch

        def build(weight: Any, bias: Any, bias_first: bool) -> Any:
            w = weight.detach().to(dev, torch.float32)
            b = bias.detach().to(dev, torch.float32).reshape(-1, 1)
            one = torch.ones_like(b)
            return torch.cat([w, b, one] if bias_first else [w, one, b], dim=1).contiguous()

        return cls(
            build(model.u_weight.weight, model.u_bias.weight, True),
            build(model.i_weight.weight, model.i_bias.weight, False),
        )

    def write_back(self, model: Any) -> None:
        import torch

        k = self.users.shape[1] - 2
        with torch.no_grad():
            for emb, src in (
                (model.u_weight, self.users[:, :k]),
                (model.u_bias, self.users[:, k : k + 1]),
                (model.i_weight, self.items[:, :k]),
                (model.i_bias, self.items[:, k + 1 : k + 2]),
            ):
                emb.weight.copy_(src.to(emb.weight.device, emb.weight.dtype))


def _step(
    tables: _Tables,
    opt: _RowAdagrad,
    buffers: Any,
    u: Any,
    i: Any,
    r: Any,
    lo: float,
    hi: float,
    k: int,
    reg: float,
    lr: float,
    padded: int | None = None,
) -> Any:
    """One batch: forward, the gradient per rating, and the optimizer's row updates.

    The four (batch x columns) tensors live in `buffers`, allocated once: a fresh
    tensor of that size per op would be a fresh mmap, page-faulted every step.
    """
    import torch

    n = real = len(r)
    if padded is not None:  # in a world of ranks: a fixed share, rows past this rank's real ones weigh nothing
        u, i, r = (torch.nn.functional.pad(t, (0, padded - real)) for t in (u, i, r))
        n = padded
    us, its, prod, grad_u = (b[:n] for b in buffers)
    torch.index_select(tables.users, 0, u, out=us)
    torch.index_select(tables.items, 0, i, out=its)
    z = torch.mul(us, its, out=prod).sum(1)
    s = torch.sigmoid(z)
    span = hi - lo
    err = s * span + lo - r
    mse = err[:real].square().mean() if real else err.new_zeros(())
    g = (err * s * (1 - s)).mul_(span / reg).unsqueeze(1)  # d(err^2/2)/dz over reg
    torch.addcmul(us, g, its, out=grad_u)  # (reg * u + d/du) / reg, per occurrence
    grad_i = torch.addcmul(its, g, us, out=prod)
    grad_u[:, k + 1] = 0  # the constant 1 the item bias multiplies
    grad_i[:, k] = 0  # the constant 1 the user bias multiplies
    if padded is not None:
        grad_u[real:] = 0
        grad_i[real:] = 0
        u, i = distributed.gather(u), distributed.gather(i)
        grad_u, grad_i = distributed.gather(grad_u), distributed.gather(grad_i)
    opt.step("users", tables.users, u, grad_u, lr)
    opt.step("items", tables.items, i, grad_i, lr)
    return mse


def _valid_mse(tables: _Tables, vu: Any, vi: Any, vy: Any, lo: float, hi: float, bs: int, world: World | None) -> float:
    """The MSE over every validation rating, summed in float64 (each rank sums its own share once)."""
    import torch

    total = torch.zeros((), dtype=torch.float64, device=vy.device)
    first, last = 0, len(vy)
    if world is not None:
        share = -(-len(vy) // world.size)
        first, last = min(world.rank * share, len(vy)), min((world.rank + 1) * share, len(vy))
    for start in range(first, last, bs):
        stop = min(start + bs, last)
        u, i, r = vu[start:stop], vi[start:stop], vy[start:stop]
        z = (tables.users.index_select(0, u) * tables.items.index_select(0, i)).sum(1)
        pred = torch.sigmoid(z) * (hi - lo) + lo
        total += (pred.double() - r.double()).square().sum()
    if world is not None:
        distributed.total(total)
    return float(total) / len(vy)
