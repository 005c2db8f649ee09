"""Train stage: fit the tutorial's fastai dot-product model on a `Ratings` table.

Exactly the tutorial's recipe, every number a `TrainConfig` field:
`CollabDataLoaders.from_df(..., item_name="title")`, `collab_learner(dls,
n_factors=50, y_range=(0, 5.5))`, `fit_one_cycle(5, 5e-3, wd=0.1)`. fastai and
torch are imported inside `fit`, so the CLI's help answers without them.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from reportgen.errors import InputError, RunError

if TYPE_CHECKING:
    import numpy as np

    from reportgen.data import Ratings

NA_CLASS = "#na#"  # fastai's Categorify reserves index 0 for values unseen in training


@dataclass(frozen=True)
class TrainConfig:
    """The hyper-parameters; the defaults are the tutorial's."""

    epochs: int = 5
    lr: float = 5e-3
    wd: float = 0.1
    factors: int = 50
    bs: int = 64
    valid_pct: float = 0.2
    y_range: tuple[float, float] | None = (0.0, 5.5)  # None: the pipeline derives it from the data
    seed: int = 42
    loader: str = "fastai"  # "fastai": the tutorial's CollabDataLoaders; "lean": tensors built once

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["y_range"] = list(self.y_range) if self.y_range is not None else None
        return values


@dataclass(frozen=True)
class EpochStats:
    """One row of fastai's training table (epochs count from 1)."""

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
class TrainedModel:
    """The fitted learner plus what analysis needs, copied out of it as numpy arrays.

    `item_classes[i]` labels row `i` of `item_factors`/`item_biases`; it is the
    learner's own vocabulary (from the training split), with `#na#` at index 0.
    """

    learner: Any  # fastai Learner; kept for callers that want to go further
    config: TrainConfig
    item_classes: tuple[str, ...]
    item_factors: np.ndarray  # shape (n_classes, factors), float64
    item_biases: np.ndarray  # shape (n_classes,), float64
    metrics: Metrics
    seconds: float


EpochHook = Callable[[EpochStats, int], None]


def fit(
    ratings: Ratings,
    config: TrainConfig,
    *,
    progress: bool = False,
    on_epoch: EpochHook | None = None,
) -> TrainedModel:
    """Train the tutorial's model; the same ratings, config and seed give the same numbers.

    `progress` shows fastai's progress bar (for a terminal); `on_epoch(stats,
    total_epochs)` is called after every epoch, e.g. to log one line per epoch.
    """
    if config.y_range is None or not config.y_range[0] < config.y_range[1]:
        raise InputError(f"--y-range must be two numbers, low below high; got {config.y_range}")
    check_enough_ratings(len(ratings.frame), config, ratings.provenance.ratings_file)
    with warnings.catch_warnings():
        _quiet_known_library_warnings()
        return _fit(ratings, config, progress=progress, on_epoch=on_epoch)


def check_enough_ratings(n_ratings: int, config: TrainConfig, name: str) -> None:
    """At least one full training batch must remain after the validation split.

    fastai's RandomSplitter holds out `int(valid_pct * n)` ratings and its training
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
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)
    warnings.filterwarnings("ignore", message=r"The given NumPy array is not writable", category=UserWarning)


def _fit(ratings: Ratings, config: TrainConfig, *, progress: bool, on_epoch: EpochHook | None) -> TrainedModel:
    import torch
    from fastai.callback.core import Callback
    from fastai.callback.progress import ProgressCallback
    from fastai.collab import CollabDataLoaders, collab_learner
    from fastai.torch_core import set_seed

    history: list[EpochStats] = []

    class EpochRecord(Callback):
        """Collect fastai's per-epoch losses with wall time; runs after `Recorder`."""

        order = 55

        def before_epoch(self) -> None:
            self.started = time.perf_counter()

        def after_epoch(self) -> None:
            train_loss, valid_loss = (float(v) for v in self.recorder.values[-1][:2])
            stats = EpochStats(
                epoch=self.epoch + 1,
                train_loss=train_loss,
                valid_loss=valid_loss,
                seconds=time.perf_counter() - self.started,
            )
            history.append(stats)
            if on_epoch is not None:
                on_epoch(stats, self.n_epoch)

    started = time.perf_counter()
    set_seed(config.seed, reproducible=True)
    frame = ratings.frame[["user", "title", "rating"]].reset_index(drop=True)
    if config.loader == "fastai":
        dls = CollabDataLoaders.from_df(
            frame,
            valid_pct=config.valid_pct,
            user_name="user",
            item_name="title",
            rating_name="rating",
            seed=config.seed,
            bs=config.bs,
        )
        learn = collab_learner(dls, n_factors=config.factors, y_range=config.y_range, cbs=[EpochRecord()])
        classes = dls.classes
        n_train, n_valid = len(dls.train_ds), len(dls.valid_ds)
    elif config.loader == "lean":
        learn, classes, (n_train, n_valid) = _lean_learner(frame, config, cbs=[EpochRecord()])
    else:
        raise InputError(f"--loader must be 'lean' or 'fastai', not {config.loader!r}")
    if not progress:
        # Without the bar, fastai's Recorder would print its table to stdout.
        learn.remove_cb(ProgressCallback)
        learn.logger = lambda *_: None
    learn.fit_one_cycle(config.epochs, config.lr, wd=config.wd)

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
    metrics = Metrics(
        # fastai's valid loss is MSELossFlat averaged over every validation rating.
        valid_mse=final.valid_loss,
        valid_rmse=math.sqrt(final.valid_loss),
        n_train=n_train,
        n_valid=n_valid,
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
    )


# --------------------------------------------------------------------------- the lean path


class TensorLoader:
    """Batches sliced from tensors built once; a fresh random order every epoch.

    What fastai's Learner needs of a loader: iteration over `(x, y)` batches,
    `len`, and `to(device)`. Training shuffles and drops the last partial batch,
    as fastai's training loader does; validation keeps every rating in order.
    """

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


def _lean_learner(frame: Any, config: TrainConfig, cbs: list[Any]) -> tuple[Any, dict[str, Any], tuple[int, int]]:
    """The same split, vocabulary and model as the tutorial path, fed from tensors.

    fastai's `RandomSplitter` with the same seed picks the validation ratings;
    `CategoryMap` over the training split gives the vocabularies (`#na#` first),
    exactly as `Categorify` does inside `CollabDataLoaders`.
    """
    import numpy as np
    import pandas as pd
    import torch
    from fastai.collab import EmbeddingDotBias
    from fastai.data.core import DataLoaders
    from fastai.data.transforms import CategoryMap, RandomSplitter
    from fastai.learner import Learner
    from fastai.losses import MSELossFlat

    train_idx, valid_idx = (np.asarray(s, dtype=np.int64) for s in RandomSplitter(config.valid_pct, config.seed)(range(len(frame))))
    classes = {
        name: CategoryMap(frame[name].iloc[train_idx], add_na=True) for name in ("user", "title")
    }
    codes = np.stack(
        [pd.Categorical(frame[name], categories=list(classes[name].items[1:])).codes.astype(np.int64) + 1 for name in ("user", "title")],
        axis=1,
    )
    x = torch.from_numpy(codes)
    y = torch.tensor(frame["rating"].to_numpy(dtype=np.float32)).unsqueeze(1)
    train = TensorLoader(x[train_idx], y[train_idx], config.bs, shuffle=True, seed=config.seed)
    valid = TensorLoader(x[valid_idx], y[valid_idx], max(config.bs, 4096), shuffle=False, seed=config.seed)
    model = EmbeddingDotBias.from_classes(config.factors, classes, y_range=config.y_range)
    learn = Learner(DataLoaders(train, valid), model, loss_func=MSELossFlat(), cbs=cbs)
    return learn, classes, (len(train_idx), len(valid_idx))
