"""The lean Learner's step, cheaper than fastai's and autograd's: torch's fused AdamW and a hand-derived gradient.

At the tutorial's 64 ratings a batch, a step's arithmetic is tiny and its cost is
dispatch: fastai's `Adam` runs half a dozen Python-dispatched ops per parameter, and
autograd records and replays a graph of a dozen nodes for a model whose gradient is
four gathers and four scatter-adds. `adamw` is torch's fused AdamW behind fastai's
optimizer interface; `dot_bias_step` is the forward pass and the exact gradient of
fastai's `EmbeddingDotBias` (with its `y_range`) under the mean squared error, with no
graph. `tests/train/test_learner.py` holds both against fastai's and autograd's own.
Coupled to fastai's internals (`OptimWrapper`'s maps, `EmbeddingDotBias`' layout) as
`learner` is, and imported only by it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from fastai.optimizer import OptimWrapper, set_item_pg
from fastcore.foundation import L


class FusedAdamW(OptimWrapper):
    """torch's fused AdamW behind fastai's optimizer interface, with fastai's hyper-parameter names.

    fastai's own `Adam` (decoupled weight decay: AdamW) updates each parameter with
    half a dozen Python-dispatched ops; torch's fused kernel does the same update
    (`p *= 1 - lr*wd`, the two moving averages, the debiased step) in one call for
    every parameter. `OptimWrapper` maps fastai's `mom`/`sqr_mom`/`wd` onto torch's
    `betas`/`weight_decay`, so fit_one_cycle's learning-rate and momentum schedules
    drive it unchanged; `set_hyper` skips `OptimWrapper`'s rebuild of every group's
    hyper-parameter dict on each of the schedule's two calls per step, and `hypers`
    (which the schedule reads after every step to record its values) is rebuilt only
    after a change.
    """

    @property
    def hypers(self) -> list[dict[str, Any]]:
        cached = self.__dict__.get("_hypers")
        if cached is None:
            cached = self.__dict__["_hypers"] = OptimWrapper.hypers.fget(self)
        return cached

    def _set_hyper(self, k: str, v: Any) -> None:
        self.__dict__.pop("_hypers", None)
        super()._set_hyper(k, v)

    def set_hyper(self, k: str, v: Any) -> None:
        self.__dict__.pop("_hypers", None)
        if isinstance(v, slice | list | tuple | L):
            super().set_hyper(k, v)
            return
        groups = self.opt.param_groups
        # The schedules give a numpy value per group (or one for all); torch's kernels take Python floats.
        values = np.broadcast_to(np.asarray(v, dtype=np.float64), (len(groups),)).tolist()
        name = self.bwd_map[k]
        for group, value in zip(groups, values):
            set_item_pg(group, name, value)


def adamw(params: Any, lr: float, mom: float = 0.9, sqr_mom: float = 0.99, eps: float = 1e-5, wd: float = 0.01) -> Any:
    """fastai's `Adam` defaults (betas 0.9/0.99, eps 1e-5, true weight decay) on torch's fused AdamW.

    Valid MSE on ML-100k at seed 42, the tutorial's settings: 0.80983039 (fastai's
    Adam: 0.80983040); the update order differs only in float32 rounding.
    """
    fused = {"fused": True} if hasattr(torch, "_fused_adamw_") else {}
    return FusedAdamW(params, opt=torch.optim.AdamW, lr=lr, betas=(mom, sqr_mom), eps=eps, weight_decay=wd, **fused)


def dot_bias_step(model: Any, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """`model(x)` and its MSE against `y`, with every parameter's `.grad` set to the loss's exact gradient.

    For fastai's `EmbeddingDotBias` with a `y_range` (lo, hi): z = u·i + b_u + b_i,
    pred = lo + (hi − lo)·sigmoid(z), loss = mean((pred − y)²), so dloss/dz = 2(pred − y)/n ·
    s(1 − s)(hi − lo) for each rating, and each table's gradient is that times the other
    side's row (1 for the biases), summed into the rating's own row: what autograd's
    embedding backward computes, as dense tables (so fastai's AdamW sees the same
    gradients, zeros included, as after `loss.backward()`).
    """
    users, items = x[:, 0], x[:, 1]
    lo, hi = model.y_range
    with torch.no_grad():
        u = model.u_weight.weight.index_select(0, users)
        i = model.i_weight.weight.index_select(0, items)
        z = (u * i).sum(1) + model.u_bias.weight.index_select(0, users).view(-1)
        s = torch.sigmoid(z + model.i_bias.weight.index_select(0, items).view(-1))
        pred = s * (hi - lo) + lo
        err = pred - y.view(-1)
        loss = err.square().mean()
        dz = (err * (2.0 / len(err))).mul_(s * (1 - s)).mul_(hi - lo).unsqueeze(1)
        for table, rows, grad in (
            (model.u_weight, users, dz * i),
            (model.i_weight, items, dz * u),
            (model.u_bias, users, dz),
            (model.i_bias, items, dz),
        ):
            table.weight.grad = torch.zeros_like(table.weight).index_add_(0, rows, grad)
    return pred, loss
