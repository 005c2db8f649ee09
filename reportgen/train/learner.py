"""The fastai internals the train stage relies on: the tutorial's loaders and the lean Learner.

Everything here is coupled to fastai's private behaviour (its event dispatch,
`Recorder`'s smoothing, `combine_scheds`' closure, `Categorify`'s vocabulary), so
it lives in one module that `tests/train/test_learner.py` pins against the fastai
range declared in `pyproject.toml`. `train.fit` imports it lazily: importing it
imports fastai and torch. `config` below is a `train.TrainConfig` (its
`valid_pct`, `seed`, `bs`, `factors` and `y_range`); `rows`, where given, are the
(train, valid) row numbers of a split made elsewhere (`train.splits`: a time
split), replacing fastai's `RandomSplitter`; nothing here imports reportgen.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from fastai.callback.core import Callback, TrainEvalCallback, event
from fastai.callback.schedule import ParamScheduler
from fastai.collab import CollabDataLoaders, EmbeddingDotBias, TabularCollab, collab_learner
from fastai.data.block import TransformBlock
from fastai.data.core import DataLoaders
from fastai.data.transforms import CategoryMap, RandomSplitter
from fastai.learner import Learner
from fastai.tabular.core import Categorify
from fastcore.foundation import L

from reportgen.train.steps import CompiledStep, adamw, dot_bias_step, load_step_kernel

Split = tuple[np.ndarray, np.ndarray]
"""(train, valid) row numbers, int64."""
Record = Callable[[int, float, float, float, int], None]
"""Called after each epoch with (epoch from 1, train loss, valid loss, seconds, total epochs)."""
Built = tuple[Learner, dict[str, Any], tuple[np.ndarray, np.ndarray], np.ndarray]
"""The learner, its vocabularies, the (train, valid) row numbers and every rating's `codes`."""


def codes(frame: pd.DataFrame, classes: dict[str, Any]) -> np.ndarray:
    """Each rating's (user, item) row in the model's embeddings: int64, shape (n, 2); 0 is `#na#` (unseen)."""
    return np.stack(
        [
            _class_codes(pd.Index(list(classes[name].items[1:])), frame[name]).astype(np.int64) + 1
            for name in ("user", "title")
        ],
        axis=1,
    )  # unseen in training: code -1 + 1 = 0, fastai's #na#


def _present(column: pd.Series) -> pd.Series:
    """A categorical column as `CategoryMap` must see it: only the categories that occur, sorted.

    `CategoryMap` takes a categorical's categories as they are, so without this a
    vocabulary would hold values seen only in validation, in the data's order.
    """
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column
    present = column.cat.remove_unused_categories()
    return present.cat.reorder_categories(present.cat.categories.sort_values())


def _plain(column: pd.Series) -> pd.Series:
    """A categorical column as plain values (ints or strings), the way fastai's `Categorify` expects them."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return column
    return column.astype(column.cat.categories.dtype)


def _class_codes(vocabulary: pd.Index, column: pd.Series) -> np.ndarray:
    """Each value's position in `vocabulary` (-1 where absent); a categorical is mapped once per category."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return vocabulary.get_indexer(column.cat.categories)[column.cat.codes.to_numpy()]
    return vocabulary.get_indexer(column)


# --------------------------------------------------------------------------- the tutorial path


class EpochRecord(Callback):
    """Collect fastai's per-epoch losses with wall time; runs after `Recorder`."""

    order = 55

    def __init__(self, record: Record) -> None:
        super().__init__()
        self.s = types.SimpleNamespace(record=record, started=0.0)

    def before_epoch(self) -> None:
        self.s.started = time.perf_counter()

    def after_epoch(self) -> None:
        train_loss, valid_loss = (float(v) for v in self.recorder.values[-1][:2])
        self.s.record(self.epoch + 1, train_loss, valid_loss, time.perf_counter() - self.s.started, self.n_epoch)


def tutorial_learner(frame: pd.DataFrame, config: Any, device: str, record: Record, rows: Split | None = None) -> Built:
    """The tutorial verbatim: `CollabDataLoaders.from_df` and `collab_learner`.

    With `rows`, what `from_df` does inside, with those rows for its splits.
    """
    plain = frame.assign(user=_plain(frame["user"]), title=_plain(frame["title"]))
    if rows is None:
        dls = CollabDataLoaders.from_df(
            plain,
            valid_pct=config.valid_pct,
            user_name="user",
            item_name="title",
            rating_name="rating",
            seed=config.seed,
            bs=config.bs,
            device=torch.device(device),
        )
    else:
        splits = [L(r.tolist()) for r in rows]
        to = TabularCollab(
            plain, [Categorify], ["user", "title"], y_names=["rating"], y_block=TransformBlock(), splits=splits
        )
        dls = to.dataloaders(path=".", bs=config.bs, device=torch.device(device))
    learn = collab_learner(dls, n_factors=config.factors, y_range=config.y_range, cbs=[EpochRecord(record)])
    rows = tuple(np.asarray(ds.items.index, dtype=np.int64) for ds in (dls.train_ds, dls.valid_ds))
    return learn, dls.classes, rows, codes(frame, dls.classes)


# --------------------------------------------------------------------------- the lean path


class TensorLoader:
    """Batches sliced from tensors built once; a fresh random order every epoch.

    What fastai's Learner needs of a loader: iteration over `(x, y)` batches,
    `len`, and `to(device)`. Training shuffles (a permutation: every rating once
    per epoch) and drops the last partial batch, as fastai's plain `DataLoader`
    does; validation keeps every rating, in order. The order comes from a CPU
    generator seeded once, so it is the same on every device.
    """

    n_inp = 1  # batches are (x, y): one input (fastai's Learner asks)

    def __init__(self, x: torch.Tensor, y: torch.Tensor, bs: int, *, shuffle: bool, seed: int) -> None:
        self.x, self.y, self.bs, self.shuffle = x, y, bs, shuffle
        self.device = x.device
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.bs if self.shuffle else -(-n // self.bs)

    def __iter__(self) -> Any:
        if self.shuffle:
            order = torch.randperm(len(self.x), generator=self.generator).to(self.device)
            for start in range(0, len(self) * self.bs, self.bs):
                batch = order[start : start + self.bs]
                yield self.x[batch], self.y[batch]
        else:
            for start in range(0, len(self.x), self.bs):
                yield self.x[start : start + self.bs], self.y[start : start + self.bs]

    def to(self, device: Any) -> TensorLoader:
        self.x, self.y, self.device = self.x.to(device), self.y.to(device), device
        return self


def lean_split(
    frame: pd.DataFrame, config: Any, rows: Split | None = None
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The tutorial path's split and vocabularies, without building its loaders.

    fastai's `RandomSplitter` with the same seed picks the validation ratings, and
    `CategoryMap` over the training split gives each vocabulary (`#na#` first),
    as `Categorify` does inside `CollabDataLoaders.from_df`. Returns the training
    and validation row numbers of `frame` and the classes.
    """
    chosen = rows if rows is not None else RandomSplitter(config.valid_pct, config.seed)(range(len(frame)))
    train_idx, valid_idx = (np.asarray(s, dtype=np.int64) for s in chosen)
    classes = {name: CategoryMap(_present(frame[name].iloc[train_idx]), add_na=True) for name in ("user", "title")}
    return train_idx, valid_idx, classes


class LossRecord(Callback):
    """fastai's Recorder, reduced to what the report keeps: the two losses of each epoch.

    The smoothed train loss is computed exactly as fastai's `AvgSmoothLoss`
    (a device tensor, so no per-batch host sync); the valid loss is the exact
    MSE over every validation rating, summed in float64.
    """

    order = 50
    beta = 0.98

    def __init__(self, record: Record, device: str) -> None:
        super().__init__()
        # Plain state: a Callback's own setattr looks the name up on the learner first.
        self.s = types.SimpleNamespace(record=record, device=device)

    def before_fit(self) -> None:
        self.s.count, self.s.smooth = 0, torch.zeros((), device=self.s.device)

    def before_epoch(self) -> None:
        s = self.s
        s.started, s.sq_error, s.n_valid = time.perf_counter(), 0.0, 0

    def after_batch(self) -> None:
        learn, s = self.learn, self.s
        if learn.training:
            s.count += 1
            s.smooth = torch.lerp(learn.loss.detach(), s.smooth, self.beta)
        else:
            pred, target = learn.pred.detach().view(-1), learn.yb[0].view(-1)
            s.sq_error += float(((pred.double() - target.double()) ** 2).sum())
            s.n_valid += len(target)

    def after_epoch(self) -> None:
        s = self.s
        train_loss = float(s.smooth) / (1 - self.beta**s.count)
        valid_loss = s.sq_error / s.n_valid
        s.record(self.epoch + 1, train_loss, valid_loss, time.perf_counter() - s.started, self.n_epoch)


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """`MSELossFlat`, without fastai's TensorBase wrapping."""
    return F.mse_loss(pred.view(-1), target.view(-1))


def lean_learner(frame: pd.DataFrame, config: Any, device: str, record: Record, rows: Split | None = None) -> Built:
    """The same split, vocabulary and model as the tutorial path, fed from tensors."""
    train_idx, valid_idx, classes = lean_split(frame, config, rows)
    every = codes(frame, classes)
    x = torch.from_numpy(every)
    y = torch.from_numpy(frame["rating"].to_numpy(dtype=np.float32)).unsqueeze(1)
    train = TensorLoader(x[train_idx], y[train_idx], config.bs, shuffle=True, seed=config.seed)
    valid = TensorLoader(x[valid_idx], y[valid_idx], max(config.bs, 4096), shuffle=False, seed=config.seed)
    model = EmbeddingDotBias.from_classes(config.factors, classes, y_range=config.y_range)
    learn = LeanLearner(
        DataLoaders(train, valid, device=torch.device(device)),
        model,
        opt_func=adamw,
        loss_func=mse,
        cbs=[TrainEvalCallback(), LossRecord(record, device)],
        default_cbs=False,  # no Recorder, CastToTensor or progress bar unless asked for
    )
    return learn, classes, (train_idx, valid_idx), every


class LeanLearner(Learner):
    """fastai's Learner, its loop and callbacks unchanged, with cheaper event dispatch.

    fastai calls every callback on every event (eight per batch), and a callback
    without a handler still pays for attribute look-ups that fall through to the
    learner and the model. Here an event goes only to the callbacks that define
    it (in fastai's order); `after_fit` still reaches all, as fastai resets
    `Callback.run` there. Batches already live on the model's device, the
    one-cycle schedule is evaluated by `fast_schedule` (the same values), the
    optimizer is torch's fused AdamW (`steps.adamw`), and a training batch of the
    tutorial's model and loss takes its gradients from `steps.dot_bias_step`
    instead of autograd.
    """

    def __call__(self, event_name: Any) -> None:
        if isinstance(event_name, str):
            self._call_one(event_name)
        else:
            super().__call__(event_name)

    def _call_one(self, event_name: str) -> None:
        handlers = self.__dict__.setdefault("_handlers", {})
        cbs = handlers.get(event_name)
        if cbs is None:
            if not hasattr(event, event_name):
                raise Exception(f"missing {event_name}")
            cbs = handlers[event_name] = [
                cb
                for cb in self.cbs.sorted("order")
                if event_name == "after_fit" or hasattr(type(cb), event_name) or event_name in vars(cb)
            ]
        for cb in cbs:
            cb(event_name)

    def add_cb(self, cb: Any) -> Any:
        self.__dict__.pop("_handlers", None)
        return super().add_cb(cb)

    def remove_cb(self, cb: Any) -> Any:
        self.__dict__.pop("_handlers", None)
        return super().remove_cb(cb)

    def _set_device(self, b: Any) -> Any:
        return b  # TensorLoader moved its tensors to the device once

    def _do_one_batch(self) -> None:
        model = self.model
        if not (self.training and self.loss_func is mse and isinstance(model, EmbeddingDotBias) and model.y_range):
            super()._do_one_batch()
            return
        # The tutorial's model and loss: the forward pass and gradients by hand, no graph: compiled
        # (`steps.CompiledStep`) on the CPU where numba loads, else torch's ops (`steps.dot_bias_step`).
        step = self.__dict__.get("_compiled_step")
        if step is None or not step.serves(model):
            kernel = self.__dict__["_step_kernel"] if "_step_kernel" in self.__dict__ else load_step_kernel()
            self.__dict__["_step_kernel"] = kernel
            step = self.__dict__["_compiled_step"] = CompiledStep.for_model(kernel, model)
        if step is not None:
            self.pred, self.loss_grad = step(self.xb[0], self.yb[0])
        else:
            self.pred, self.loss_grad = dot_bias_step(model, self.xb[0], self.yb[0])
        self("after_pred")
        self.loss = self.loss_grad.clone()
        self("after_loss")
        self._do_grad_opt()  # fastai's backward and step events; `_backward` finds the gradients set

    def _backward(self) -> None:
        if self.loss_grad.requires_grad:  # a loss from a graph (fastai's own path); else the gradients are set
            self.loss_grad.backward()

    def fit(self, n_epoch: int, lr: Any = None, wd: Any = None, cbs: Any = None, **kwargs: Any) -> None:
        for cb in L(cbs):
            if isinstance(cb, ParamScheduler):  # fit_one_cycle's schedule: same values, cheaper
                cb.scheds = {name: fast_schedule(f) for name, f in cb.scheds.items()}
        super().fit(n_epoch, lr=lr, wd=wd, cbs=cbs, **kwargs)


class FastCombinedSchedule:
    """fastai's `combine_scheds` schedule with the segment lookup in numpy float32.

    fastai finds the segment of `pos` and the position inside it with torch ops on
    a float32 tensor, about 50 µs per call and two calls per step (learning rate
    and momentum). The same float32 arithmetic in numpy gives the same values
    (tests/train/test_learner.py compares them) in a few microseconds; the segments'
    own schedules (`SchedCos`) are fastai's, called as fastai calls them.
    """

    def __init__(self, pcts: Any, pct_lim: int, scheds: Any) -> None:
        self.pcts = np.asarray(pcts, dtype=np.float32)
        self.pct_lim, self.scheds = pct_lim, scheds

    def __call__(self, pos: float) -> Any:
        p = np.float32(pos)  # torch compares and subtracts in the tensor's dtype, float32
        idx = min(int(np.flatnonzero(p >= self.pcts)[-1]), self.pct_lim)
        actual = (p - self.pcts[idx]) / (self.pcts[idx + 1] - self.pcts[idx])
        return self.scheds[idx](float(actual))


def fast_schedule(f: Any) -> Any:
    """`FastCombinedSchedule` for a `combine_scheds` closure (what fit_one_cycle builds), else `f`."""
    code, closure = getattr(f, "__code__", None), getattr(f, "__closure__", None)
    if (
        code is None
        or closure is None
        or code.co_name != "_inner"
        or set(code.co_freevars) != {"pct_lim", "pcts", "scheds"}
    ):
        return f
    cells = {name: cell.cell_contents for name, cell in zip(code.co_freevars, closure)}
    return FastCombinedSchedule(cells["pcts"].cpu().numpy(), cells["pct_lim"], cells["scheds"])
