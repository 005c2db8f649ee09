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

import logging
from typing import Any

import numpy as np
import torch
from fastai.optimizer import OptimWrapper, set_item_pg
from fastcore.foundation import L

log = logging.getLogger(__name__)


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
        given = np.asarray(v, dtype=np.float64)
        values = given.tolist() if given.shape == (len(groups),) else np.broadcast_to(given, (len(groups),)).tolist()
        name = self.bwd_map[k]
        for group, value in zip(groups, values):
            set_item_pg(group, name, value)


class FusedAdamWKernel:
    """`torch.optim.AdamW(fused=True)` without `torch.optim`: the same groups, state and kernel call.

    Building any `torch.optim.Optimizer` imports `torch._dynamo` (its methods are wrapped
    to keep the compiler out), about 1.5 s of a 10 s ML-100k build, and every step then
    passes through that wrapper. This holds what AdamW's fused path holds (per parameter
    a float32 step count and the two moving averages, zeros until its first gradient)
    and makes the call AdamW's `_fused_adamw` makes for each group (`_foreach_add_` on
    the step counts, then `torch._fused_adamw_`), so the steps are the same bits
    (`tests/train/test_learner.py` holds it against torch's AdamW). The surface
    `OptimWrapper` uses: `param_groups`, `state`, `step`, `zero_grad`, `state_dict`,
    `load_state_dict`.
    """

    def __init__(self, params: Any, lr: float, betas: tuple[float, float], eps: float, weight_decay: float) -> None:
        params = list(params)
        groups = params if params and isinstance(params[0], dict) else [{"params": params}]
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        self.param_groups = [{**defaults, **g, "params": list(g["params"])} for g in groups]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        if closure is not None:
            raise ValueError("this optimizer takes no closure")
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self._state(p) for p in params]
            steps = [s["step"] for s in states]
            torch._foreach_add_(steps, 1)
            beta1, beta2 = group["betas"]
            torch._fused_adamw_(
                params,
                [p.grad for p in params],
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                [],
                steps,
                amsgrad=False,
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=False,
                grad_scale=None,
                found_inf=None,
            )

    def _state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = {
                "step": torch.zeros((), dtype=torch.float32, device=p.device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
        return state

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def state_dict(self) -> dict[str, Any]:
        """torch's layout: parameters by their position across the groups."""
        position = {id(p): n for n, p in enumerate(p for g in self.param_groups for p in g["params"])}
        return {
            "state": {position[id(p)]: dict(s) for p, s in self.state.items()},
            "param_groups": [
                {**{k: v for k, v in g.items() if k != "params"}, "params": [position[id(p)] for p in g["params"]]}
                for g in self.param_groups
            ],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        params = [p for g in self.param_groups for p in g["params"]]
        for group, saved in zip(self.param_groups, state_dict["param_groups"]):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = {
            params[n]: {k: v.to(params[n].device) for k, v in s.items()} for n, s in state_dict["state"].items()
        }


def adamw(params: Any, lr: float, mom: float = 0.9, sqr_mom: float = 0.99, eps: float = 1e-5, wd: float = 0.01) -> Any:
    """fastai's `Adam` defaults (betas 0.9/0.99, eps 1e-5, true weight decay) on torch's fused AdamW kernel.

    Valid MSE on ML-100k at seed 42, the tutorial's settings: 0.80983039 (fastai's
    Adam: 0.80983040); the update order differs only in float32 rounding. Where this
    torch has no fused AdamW kernel, torch's `AdamW` steps instead.
    """
    if hasattr(torch, "_fused_adamw_"):
        return FusedAdamW(params, opt=FusedAdamWKernel, lr=lr, betas=(mom, sqr_mom), eps=eps, weight_decay=wd)
    return FusedAdamW(params, opt=torch.optim.AdamW, lr=lr, betas=(mom, sqr_mom), eps=eps, weight_decay=wd)


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


class CompiledStep:
    """`dot_bias_step` by the compiled kernel (`step_kernel`), on numpy views of one model's parameters.

    The four gradient tables are allocated once and refilled (zeroed first) on every
    step; each step hands them to the parameters' `.grad`, as `dot_bias_step` does
    with fresh ones. CPU float32 parameters only (`for_model` says None otherwise).
    """

    def __init__(self, kernel: Any, model: Any) -> None:
        self.kernel = kernel
        self.tables = [t.weight for t in (model.u_weight, model.i_weight, model.u_bias, model.i_bias)]
        self.views = [t.detach().numpy() for t in self.tables]
        self.grads = [torch.zeros_like(t) for t in self.tables]
        self.grad_views = [g.numpy() for g in self.grads]
        self.lo, self.hi = (float(v) for v in model.y_range)
        self.key = self._key(model)

    @staticmethod
    def _key(model: Any) -> tuple[int, ...]:
        return tuple(t.weight.data_ptr() for t in (model.u_weight, model.i_weight, model.u_bias, model.i_bias))

    @classmethod
    def for_model(cls, kernel: Any, model: Any) -> CompiledStep | None:
        tables = [t.weight for t in (model.u_weight, model.i_weight, model.u_bias, model.i_bias)]
        if kernel is None or any(t.device.type != "cpu" or t.dtype != torch.float32 for t in tables):
            return None
        return cls(kernel, model)

    def serves(self, model: Any) -> bool:
        """Whether `model`'s parameters are still the ones viewed (not replaced or moved)."""
        return self._key(model) == self.key

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xs = x.numpy()
        pred = np.empty(len(xs), dtype=np.float32)
        loss = self.kernel.dot_bias_grads(
            xs[:, 0], xs[:, 1], y.numpy().reshape(-1), *self.views, self.lo, self.hi, *self.grad_views, pred
        )
        for table, grad in zip(self.tables, self.grads):
            table.grad = grad
        return torch.from_numpy(pred), torch.tensor(loss, dtype=torch.float32)


def load_step_kernel() -> Any:
    """The compiled step (`step_kernel`), compiled or loaded from numba's cache; None, with a warning, if it fails."""
    try:
        import reportgen.train.step_kernel as kernel

        kernel.check()
    except Exception as exc:  # numba missing, or an LLVM/numba failure: torch's ops take the step
        log.warning(
            "the compiled training step is unavailable (%s: %s); stepping with torch's ops", type(exc).__name__, exc
        )
        return None
    return kernel
