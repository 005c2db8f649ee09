"""Train stage: fit the tutorial's fastai dot-product model on a `Ratings` table.

The tutorial's recipe, every number a `TrainConfig` field: the split of
`CollabDataLoaders.from_df(..., item_name="title")`, the `EmbeddingDotBias` of
`collab_learner(dls, n_factors=50, y_range=(0, 5.5))`, fastai's `Learner`, its
Adam and `fit_one_cycle(5, 5e-3, wd=0.1)`. Two ways to feed it (`loader`):

- "lean" (default): the same split and vocabulary, turned into tensors once; each
  epoch is a fresh permutation of the training ratings, sliced into batches. Only
  the callbacks the report needs run, so the fit takes about a fifth of the
  tutorial path's time (benchmarks/train_speed.py).
- "fastai": the tutorial's `CollabDataLoaders` exactly, for comparison. In fastai
  2.8 it samples each epoch *with replacement* (see the README's model section),
  which is why its validation error is higher.

fastai and torch are imported inside `fit`, so the CLI's help answers without them.
"""

from __future__ import annotations

import functools
import math
import os
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from reportgen.errors import InputError, RunError

if TYPE_CHECKING:
    import numpy as np

    from reportgen.data import Ratings

NA_CLASS = "#na#"  # fastai's Categorify reserves index 0 for values unseen in training
LOADERS = ("lean", "fastai")
ENGINES = ("auto", "lean", "sparse")  # lean: fastai's Learner (fed by `loader`); sparse: reportgen.engine
DEVICES = ("auto", "cpu", "cuda")

# Batches up to this size train fastest on one CPU thread (README, "Threads"): a step
# is dominated by Python and by Adam's update of every embedding row, small vectors
# that a second thread cannot split profitably. Larger batches share the work.
ONE_THREAD_MAX_BS = 2048

PRESETS: dict[str, dict[str, Any]] = {
    # The tutorial's settings: TrainConfig's defaults.
    "tutorial": {},
    # The least fit time found that reaches valid MSE <= 0.83 on ML-100k for seeds 42, 1
    # and 2 alike (benchmarks/train_speed.py --sweep; README, "Presets"): 16x larger
    # batches, so 16x fewer steps, a doubled learning rate and five times the weight
    # decay (fewer steps decay the weights less).
    "fast": {"bs": 1024, "epochs": 5, "lr": 0.01, "wd": 0.5},
}
"""Preset name -> the `TrainConfig` fields it changes (`TrainConfig.from_preset`)."""

PRESET_NOTES: dict[str, str] = {
    "tutorial": "the fastai tutorial's settings: batch size 64, 5 epochs, learning rate 5e-3, weight decay 0.1",
    "fast": "batch size 1024, 5 epochs, learning rate 0.01, weight decay 0.5: a sixteenth of the "
    "tutorial's optimizer steps, for a validation MSE of at most 0.83 on ML-100k",
}
"""Preset name -> one line for the report and `--help`."""


@dataclass(frozen=True)
class TrainConfig:
    """The hyper-parameters (the defaults are the tutorial's) and how to run them.

    `loader`: "lean" (tensors built once, the default) or "fastai" (the tutorial's
    `CollabDataLoaders`). `threads`: torch CPU threads during the fit; None lets
    `choose_threads` pick by batch size. `device`: "auto" (a CUDA GPU when torch
    sees one, else the CPU), "cpu" or "cuda". `preset`: the name of the `PRESETS`
    entry these settings started from, a label for the report.
    """

    epochs: int = 5
    lr: float = 5e-3
    wd: float = 0.1
    factors: int = 50
    bs: int = 64
    valid_pct: float = 0.2
    y_range: tuple[float, float] | None = (0.0, 5.5)  # None: the pipeline derives it from the data
    seed: int = 42
    loader: str = "lean"
    threads: int | None = None
    device: str = "auto"
    preset: str = "tutorial"
    engine: str = "auto"  # "auto": engine.choose_engine by the number of ratings; "lean" or "sparse"

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> TrainConfig:
        """The preset's settings, then `overrides` (e.g. options given on the command line)."""
        if name not in PRESETS:
            raise InputError(f"--preset must be one of {', '.join(PRESETS)}, not {name!r}")
        return cls(**{**PRESETS[name], **overrides, "preset": name})

    def as_dict(self) -> dict[str, Any]:
        """The hyper-parameters, as report.json's `config` carries them (keys unchanged)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in RUN_FIELDS}
        values["y_range"] = list(self.y_range) if self.y_range is not None else None
        return values

    def run_dict(self) -> dict[str, Any]:
        """How the fit was asked to run: loader, threads (None: by rule), device, preset."""
        return {name: getattr(self, name) for name in RUN_FIELDS}


RUN_FIELDS = ("loader", "threads", "device", "preset", "engine")


@dataclass(frozen=True)
class EpochStats:
    """One epoch of training (epochs count from 1).

    `train_loss` has the meaning fastai's Recorder gives it on both paths: the
    exponentially smoothed batch MSE (beta 0.98, debiased) at the epoch's end.
    `valid_loss` is the MSE over every validation rating.
    """

    epoch: int
    train_loss: float
    valid_loss: float
    seconds: float


@dataclass(frozen=True)
class Metrics:
    """How well the model fits the held-out ratings."""

    valid_mse: float
    valid_rmse: float
    n_train: int
    n_valid: int
    epochs: tuple[EpochStats, ...]


@dataclass(frozen=True)
class Runtime:
    """How the fit actually ran: what the report shows beside the hyper-parameters."""

    loader: str  # "lean" or "fastai"
    preset: str
    device: str  # "cpu" or "cuda" (the device the model trained on)
    threads: int  # torch CPU threads during the fit
    steps: int  # optimizer steps taken
    fit_seconds: float  # fit_one_cycle alone, without building the loaders and model
    engine: str = "lean"  # "lean" (fastai's Learner) or "sparse" (reportgen.engine)
    settings: dict[str, Any] | None = None  # the sparse engine's EngineSettings, as a dict

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainedModel:
    """The fitted learner plus what analysis needs, copied out of it as numpy arrays.

    `item_classes[i]` labels row `i` of `item_factors`/`item_biases`; it is the
    learner's own vocabulary (from the training split), with `#na#` at index 0;
    `user_classes` and `user_biases` likewise for users. `split` holds the row
    numbers (positions in `ratings.frame`) of the training and validation ratings.
    The arrays are numpy, on the CPU, whatever device the model trained on.
    """

    learner: Any  # fastai Learner; kept for callers that want to go further
    config: TrainConfig
    item_classes: tuple[str, ...]
    item_factors: np.ndarray  # shape (n_classes, factors), float64
    item_biases: np.ndarray  # shape (n_classes,), float64
    metrics: Metrics
    seconds: float
    # The fields below are filled by `fit`; the defaults serve hand-made models (tests).
    runtime: Runtime | None = None
    user_classes: tuple[str, ...] = ()
    user_biases: np.ndarray | None = None  # shape (n_user_classes,), float64
    split: tuple[np.ndarray, np.ndarray] | None = None  # (train rows, valid rows), int64


EpochHook = Callable[[EpochStats, int], None]


def fit(
    ratings: Ratings,
    config: TrainConfig,
    *,
    progress: bool = False,
    on_epoch: EpochHook | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> TrainedModel:
    """Train the tutorial's model; the same ratings, config, seed and thread count give the same numbers.

    `progress` shows fastai's progress bar (for a terminal; the sparse engine has
    none); `on_epoch(stats, total_epochs)` is called after every epoch, e.g. to log
    one line per epoch; `on_progress(fraction)` about every tenth of a sparse epoch.
    """
    check_config(config)
    check_enough_ratings(len(ratings.frame), config, ratings.provenance.ratings_file)
    device = resolve_device(config.device)
    engine_name = resolve_engine(config, len(ratings.frame))
    if engine_name == "sparse":
        from reportgen import engine

        threads = config.threads if config.threads is not None else (engine.CPU_THREADS if device == "cpu" else 1)
    else:
        threads = config.threads if config.threads is not None else choose_threads(config.bs, device)
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with warnings.catch_warnings():
            _quiet_known_library_warnings()
            if engine_name == "sparse":
                return _fit_sparse(ratings, config, device=device, threads=threads, on_epoch=on_epoch, on_progress=on_progress)
            return _fit(ratings, config, device=device, threads=threads, progress=progress, on_epoch=on_epoch)
    finally:
        torch.set_num_threads(before)


def check_config(config: TrainConfig) -> None:
    """Refuse settings that cannot train, with the option at fault named."""
    if config.y_range is None or not config.y_range[0] < config.y_range[1]:
        raise InputError(f"--y-range must be two numbers, low below high; got {config.y_range}")
    if config.loader not in LOADERS:
        raise InputError(f"--loader must be 'lean' or 'fastai', not {config.loader!r}")
    if config.device not in DEVICES:
        raise InputError(f"--device must be auto, cpu or cuda, not {config.device!r}")
    if config.threads is not None and config.threads < 1:
        raise InputError(f"--threads must be at least 1, not {config.threads}")
    if config.engine not in ENGINES:
        raise InputError(f"--engine must be auto, lean or sparse, not {config.engine!r}")


def resolve_engine(config: TrainConfig, n_ratings: int) -> str:
    """"lean" or "sparse": as asked, or for "auto" by `engine.choose_engine` (the tutorial's loader stays on fastai)."""
    if config.engine != "auto":
        return config.engine
    if config.loader == "fastai":
        return "lean"
    from reportgen.engine import choose_engine

    return choose_engine(n_ratings)


def resolve_device(name: str) -> str:
    """"auto" -> "cuda" when torch sees a CUDA GPU, else "cpu"; "cuda" without one is an input error."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: torch sees no CUDA GPU on this machine; use --device cpu or --device auto")
    return name


def choose_threads(bs: int, device: str) -> int:
    """The torch CPU thread count for a fit, from measurements on 2 cores (README, "Threads").

    A GPU fit or a CPU fit on batches of up to `ONE_THREAD_MAX_BS` ratings runs
    fastest on one thread: per step there is too little arithmetic to share, and
    waking a second thread costs more than it saves. Larger batches use every core.
    """
    if device != "cpu" or bs <= ONE_THREAD_MAX_BS:
        return 1
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def check_enough_ratings(n_ratings: int, config: TrainConfig, name: str) -> None:
    """At least one full training batch must remain after the validation split.

    fastai's RandomSplitter holds out `int(valid_pct * n)` ratings and the training
    loader drops the last partial batch, so fewer than `bs` left means no training.
    """
    n_train = n_ratings - int(config.valid_pct * n_ratings)
    if n_train < config.bs:
        raise InputError(
            f"{name}: too few ratings to train: {n_ratings} leave {n_train} in the training split, "
            f"fewer than one batch of --bs {config.bs}"
        )


def _quiet_known_library_warnings() -> None:
    """Two harmless warnings from inside fastai/torch that would fill every cron mail."""
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated")  # Future- or DeprecationWarning
    warnings.filterwarnings("ignore", message=r"The given NumPy array is not writable", category=UserWarning)


def _fit(
    ratings: Ratings,
    config: TrainConfig,
    *,
    device: str,
    threads: int,
    progress: bool,
    on_epoch: EpochHook | None,
) -> TrainedModel:
    import torch
    from fastai.callback.progress import ProgressCallback
    from fastai.learner import Recorder
    from fastai.torch_core import set_seed

    history: list[EpochStats] = []

    def record(stats: EpochStats, total: int) -> None:
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats, total)

    started = time.perf_counter()
    set_seed(config.seed, reproducible=True)
    frame = ratings.frame[["user", "title", "rating"]].reset_index(drop=True)
    if config.loader == "fastai":
        learn, classes, (train_rows, valid_rows) = _tutorial_learner(frame, config, device, record)
        if not progress:
            # Without the bar, fastai's Recorder would print its table to stdout.
            learn.remove_cb(ProgressCallback)
            learn.logger = lambda *_: None
    else:
        learn, classes, (train_rows, valid_rows) = _lean_learner(frame, config, device, record)
        if progress:
            learn.add_cbs([Recorder(), ProgressCallback()])  # the bar reads fastai's Recorder
    fit_started = time.perf_counter()
    learn.fit_one_cycle(config.epochs, config.lr, wd=config.wd)
    fit_seconds = time.perf_counter() - fit_started

    final = history[-1]
    if not (math.isfinite(final.train_loss) and math.isfinite(final.valid_loss)):
        raise RunError(
            f"training diverged: epoch {final.epoch} ended with train loss {final.train_loss} "
            f"and valid loss {final.valid_loss}; try a smaller --lr"
        )

    model = learn.model
    with torch.no_grad():
        factors = model.i_weight.weight.detach().to("cpu", torch.float64).numpy().copy()
        biases = model.i_bias.weight.detach().to("cpu", torch.float64).numpy()[:, 0].copy()
        user_biases = model.u_bias.weight.detach().to("cpu", torch.float64).numpy()[:, 0].copy()
    metrics = Metrics(
        valid_mse=final.valid_loss,
        valid_rmse=math.sqrt(final.valid_loss),
        n_train=len(train_rows),
        n_valid=len(valid_rows),
        epochs=tuple(history),
    )
    return TrainedModel(
        learner=learn,
        config=config,
        item_classes=tuple(str(c) for c in classes["title"]),
        item_factors=factors,
        item_biases=biases,
        metrics=metrics,
        seconds=time.perf_counter() - started,
        runtime=Runtime(
            loader=config.loader,
            preset=config.preset,
            device=device,
            threads=threads,
            steps=len(learn.dls.train) * config.epochs,
            fit_seconds=fit_seconds,
        ),
        user_classes=tuple(str(c) for c in classes["user"]),
        user_biases=user_biases,
        split=(train_rows, valid_rows),
    )


# --------------------------------------------------------------------------- the sparse engine


def _fit_sparse(
    ratings: Ratings,
    config: TrainConfig,
    *,
    device: str,
    threads: int,
    on_epoch: EpochHook | None,
    on_progress: Callable[[float], None] | None,
) -> TrainedModel:
    """The same split, vocabulary and `EmbeddingDotBias` as the lean path, trained by `reportgen.engine`.

    `factors`, `valid_pct`, `y_range` and `seed` come from `config`; epochs, learning
    rate, regularisation and batch size from `engine.auto_settings` (the Learner's
    `epochs`, `lr`, `wd` and `bs` do not apply). The returned model has no learner.
    """
    import numpy as np
    import torch
    from fastai.collab import EmbeddingDotBias

    from reportgen import engine

    started = time.perf_counter()
    frame = ratings.frame
    train_rows, valid_rows = engine.split_indices(len(frame), config.valid_pct, config.seed)
    (user_codes, users), (item_codes, items) = (engine.encode(frame[name], train_rows) for name in ("user", "title"))
    x = np.stack([user_codes, item_codes], axis=1)
    del user_codes, item_codes
    y = frame["rating"].to_numpy(dtype=np.float32)
    settings = engine.auto_settings(len(train_rows), len(users), len(items), config.factors)
    torch.manual_seed(config.seed)  # the model's initial weights
    model = EmbeddingDotBias.from_classes(config.factors, {"user": users, "title": items}, y_range=config.y_range)
    result = engine.train_sparse(
        model,
        x[train_rows],
        y[train_rows],
        x[valid_rows],
        y[valid_rows],
        settings,
        seed=config.seed,
        device=device,
        on_epoch=on_epoch,
        on_progress=on_progress,
    )
    final = result.epochs[-1]
    if len(valid_rows) and not math.isfinite(final.valid_loss):
        raise RunError(f"training diverged: epoch {final.epoch} ended with valid loss {final.valid_loss}")
    with torch.no_grad():
        factors = model.i_weight.weight.detach().to("cpu", torch.float64).numpy().copy()
        biases = model.i_bias.weight.detach().to("cpu", torch.float64).numpy()[:, 0].copy()
        user_biases = model.u_bias.weight.detach().to("cpu", torch.float64).numpy()[:, 0].copy()
    return TrainedModel(
        learner=None,
        config=config,
        item_classes=tuple(str(c) for c in items),
        item_factors=factors,
        item_biases=biases,
        metrics=Metrics(
            valid_mse=final.valid_loss,
            valid_rmse=math.sqrt(final.valid_loss),
            n_train=len(train_rows),
            n_valid=len(valid_rows),
            epochs=result.epochs,
        ),
        seconds=time.perf_counter() - started,
        runtime=Runtime(
            loader=config.loader,
            preset=config.preset,
            device=device,
            threads=threads,
            steps=result.steps,
            fit_seconds=result.fit_seconds,
            engine="sparse",
            settings=settings.as_dict(),
        ),
        user_classes=tuple(str(c) for c in users),
        user_biases=user_biases,
        split=(train_rows.astype(np.int64), valid_rows.astype(np.int64)),
    )


# --------------------------------------------------------------------------- the tutorial path


def _tutorial_learner(
    frame: Any, config: TrainConfig, device: str, record: EpochHook
) -> tuple[Any, dict[str, Any], tuple[Any, Any]]:
    """The tutorial verbatim: `CollabDataLoaders.from_df` and `collab_learner`."""
    import numpy as np
    import torch
    from fastai.callback.core import Callback
    from fastai.collab import CollabDataLoaders, collab_learner

    class EpochRecord(Callback):
        """Collect fastai's per-epoch losses with wall time; runs after `Recorder`."""

        order = 55

        def before_epoch(self) -> None:
            self.started = time.perf_counter()

        def after_epoch(self) -> None:
            train_loss, valid_loss = (float(v) for v in self.recorder.values[-1][:2])
            record(
                EpochStats(self.epoch + 1, train_loss, valid_loss, time.perf_counter() - self.started),
                self.n_epoch,
            )

    dls = CollabDataLoaders.from_df(
        frame,
        valid_pct=config.valid_pct,
        user_name="user",
        item_name="title",
        rating_name="rating",
        seed=config.seed,
        bs=config.bs,
        device=torch.device(device),
    )
    learn = collab_learner(dls, n_factors=config.factors, y_range=config.y_range, cbs=[EpochRecord()])
    rows = tuple(np.asarray(ds.items.index, dtype=np.int64) for ds in (dls.train_ds, dls.valid_ds))
    return learn, dls.classes, rows


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

    def __init__(self, x: Any, y: Any, bs: int, *, shuffle: bool, seed: int) -> None:
        import torch

        self.x, self.y, self.bs, self.shuffle = x, y, bs, shuffle
        self.device = x.device
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.bs if self.shuffle else -(-n // self.bs)

    def __iter__(self) -> Any:
        import torch

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


def lean_split(frame: Any, config: TrainConfig) -> tuple[Any, Any, dict[str, Any]]:
    """The tutorial path's split and vocabularies, without building its loaders.

    fastai's `RandomSplitter` with the same seed picks the validation ratings, and
    `CategoryMap` over the training split gives each vocabulary (`#na#` first),
    as `Categorify` does inside `CollabDataLoaders.from_df`. Returns the training
    and validation row numbers of `frame` and the classes.
    """
    import numpy as np
    from fastai.data.transforms import CategoryMap, RandomSplitter

    train_idx, valid_idx = (
        np.asarray(s, dtype=np.int64) for s in RandomSplitter(config.valid_pct, config.seed)(range(len(frame)))
    )
    classes = {name: CategoryMap(frame[name].iloc[train_idx], add_na=True) for name in ("user", "title")}
    return train_idx, valid_idx, classes


def _lean_learner(
    frame: Any, config: TrainConfig, device: str, record: EpochHook
) -> tuple[Any, dict[str, Any], tuple[Any, Any]]:
    """The same split, vocabulary and model as the tutorial path, fed from tensors.

    Returns the learner, the vocabularies and the (train, valid) row numbers.
    """
    import numpy as np
    import pandas as pd
    import torch
    import torch.nn.functional as F
    from fastai.callback.core import Callback, TrainEvalCallback
    from fastai.collab import EmbeddingDotBias
    from fastai.data.core import DataLoaders

    train_idx, valid_idx, classes = lean_split(frame, config)
    codes = np.stack(
        [
            pd.Index(list(classes[name].items[1:])).get_indexer(frame[name]).astype(np.int64) + 1
            for name in ("user", "title")
        ],
        axis=1,
    )  # unseen in training: code -1 + 1 = 0, fastai's #na#
    x = torch.from_numpy(codes)
    y = torch.from_numpy(frame["rating"].to_numpy(dtype=np.float32)).unsqueeze(1)
    train = TensorLoader(x[train_idx], y[train_idx], config.bs, shuffle=True, seed=config.seed)
    valid = TensorLoader(x[valid_idx], y[valid_idx], max(config.bs, 4096), shuffle=False, seed=config.seed)
    model = EmbeddingDotBias.from_classes(config.factors, classes, y_range=config.y_range)

    class LossRecord(Callback):
        """fastai's Recorder, reduced to what the report keeps: the two losses of each epoch.

        The smoothed train loss is computed exactly as fastai's `AvgSmoothLoss`
        (a device tensor, so no per-batch host sync); the valid loss is the exact
        MSE over every validation rating, summed in float64.
        """

        order = 50
        beta = 0.98

        def __init__(self) -> None:
            super().__init__()
            # Plain state: a Callback's own setattr looks the name up on the learner first.
            self.s = types.SimpleNamespace()

        def before_fit(self) -> None:
            self.s.count, self.s.smooth = 0, torch.zeros((), device=device)

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
            record(EpochStats(self.epoch + 1, train_loss, valid_loss, time.perf_counter() - s.started), self.n_epoch)

    def mse(pred: Any, target: Any) -> Any:
        return F.mse_loss(pred.view(-1), target.view(-1))  # = MSELossFlat, without TensorBase wrapping

    learn = _lean_learner_class()(
        DataLoaders(train, valid, device=torch.device(device)),
        model,
        loss_func=mse,
        cbs=[TrainEvalCallback(), LossRecord()],
        default_cbs=False,  # no Recorder, CastToTensor or progress bar unless asked for
    )
    return learn, classes, (train_idx, valid_idx)


@functools.cache
def _lean_learner_class() -> type:
    """`LeanLearner`, built on first use: it subclasses fastai's Learner (lazy imports)."""
    from fastai.callback.core import event
    from fastai.callback.schedule import ParamScheduler
    from fastai.learner import Learner
    from fastcore.foundation import L

    class LeanLearner(Learner):
        """fastai's Learner, its loop and callbacks unchanged, with cheaper event dispatch.

        fastai calls every callback on every event (eight per batch), and a callback
        without a handler still pays for attribute look-ups that fall through to the
        learner and the model. Here an event goes only to the callbacks that define
        it (in fastai's order); `after_fit` still reaches all, as fastai resets
        `Callback.run` there. Batches already live on the model's device, and the
        one-cycle schedule is evaluated by `fast_schedule` (the same values).
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

        def fit(self, n_epoch: int, lr: Any = None, wd: Any = None, cbs: Any = None, **kwargs: Any) -> None:
            for cb in L(cbs):
                if isinstance(cb, ParamScheduler):  # fit_one_cycle's schedule: same values, cheaper
                    cb.scheds = {name: fast_schedule(f) for name, f in cb.scheds.items()}
            super().fit(n_epoch, lr=lr, wd=wd, cbs=cbs, **kwargs)

    return LeanLearner


class FastCombinedSchedule:
    """fastai's `combine_scheds` schedule with the segment lookup in numpy float32.

    fastai finds the segment of `pos` and the position inside it with torch ops on
    a float32 tensor, about 50 µs per call and two calls per step (learning rate
    and momentum). The same float32 arithmetic in numpy gives the same values
    (tests/test_train_speed.py compares them) in a few microseconds; the segments'
    own schedules (`SchedCos`) are fastai's, called as fastai calls them.
    """

    def __init__(self, pcts: Any, pct_lim: int, scheds: Any) -> None:
        import numpy as np

        self.pcts = np.asarray(pcts, dtype=np.float32)
        self.pct_lim, self.scheds = pct_lim, scheds

    def __call__(self, pos: float) -> Any:
        import numpy as np

        p = np.float32(pos)  # torch compares and subtracts in the tensor's dtype, float32
        idx = min(int(np.flatnonzero(p >= self.pcts)[-1]), self.pct_lim)
        actual = (p - self.pcts[idx]) / (self.pcts[idx + 1] - self.pcts[idx])
        return self.scheds[idx](float(actual))


def fast_schedule(f: Any) -> Any:
    """`FastCombinedSchedule` for a `combine_scheds` closure (what fit_one_cycle builds), else `f`."""
    code, closure = getattr(f, "__code__", None), getattr(f, "__closure__", None)
    if code is None or closure is None or code.co_name != "_inner" or set(code.co_freevars) != {"pct_lim", "pcts", "scheds"}:
        return f
    cells = {name: cell.cell_contents for name, cell in zip(code.co_freevars, closure)}
    return FastCombinedSchedule(cells["pcts"].cpu().numpy(), cells["pct_lim"], cells["scheds"])
