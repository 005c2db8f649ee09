"""The train stage's results: per-epoch losses, metrics, how the fit ran, and the fitted model.

Both training engines (`learner`, fastai's Learner; `sparse`, the sparse loop for large
data) return these, so everything after training reads one shape of result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from reportgen.train.config import RENAMED

if TYPE_CHECKING:
    import numpy as np

    from reportgen.train.config import TrainConfig

NA_CLASS = "#na#"  # fastai's Categorify reserves index 0 for values unseen in training


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

    @classmethod
    def of(cls, epochs: Sequence[EpochStats], n_train: int, n_valid: int) -> Metrics:
        """The metrics a fit ends with: its last epoch's validation MSE, and its root."""
        final = epochs[-1].valid_loss
        return cls(final, math.sqrt(final), n_train, n_valid, tuple(epochs))


@dataclass(frozen=True)
class Runtime:
    """How the fit actually ran: what the report shows beside the hyper-parameters."""

    loader: str  # "lean" or "fastai"
    preset: str
    device: str  # "cpu" or "cuda" (the device the model trained on)
    threads: int  # CPU threads during the fit (torch's, and the compiled kernel's)
    steps: int  # optimizer steps taken
    fit_seconds: float  # the training loop alone, without building the loaders and model
    engine: str = "learner"  # "learner" (fastai's Learner) or "sparse" (reportgen.train.sparse); "lean" before
    settings: dict[str, Any] | None = None  # the sparse engine's EngineSettings, as a dict
    world_size: int = 1  # processes that trained the model together (torchrun), 1 alone
    backend: str | None = None  # their torch.distributed backend: gloo (CPU) or nccl (CUDA)
    rank_bs: int | None = None  # each rank's share of a batch of `settings["bs"]` ratings
    kernel: str | None = None  # the sparse engine's loop: "numba" (compiled, a step per rating) or "torch"

    def __post_init__(self) -> None:
        renamed = RENAMED["engine"]  # an older report.json's "lean", read as the engine's name now
        if isinstance(self.engine, str) and self.engine in renamed:
            object.__setattr__(self, "engine", renamed[self.engine])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SplitSpec:
    """How a run split its data: enough to tell, of another night's ratings, which it held out.

    `kind`: "random" (fastai's RandomSplitter over the row positions of the data whose
    SHA-256 is `sha256`, `n_ratings` rows), "stable" (a keyed hash of user, item key and
    `seed` below `valid_pct`, items keyed as `item_key`) or "time" (every rating at or after
    `cutoff`, epoch seconds UTC, held out). `train.splits.held_out_by` reads it back.
    """

    kind: str
    seed: int
    valid_pct: float
    n_ratings: int
    sha256: str
    item_key: str = "title"
    cutoff: int | None = None  # time only

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainedModel:
    """The fitted learner plus what analysis needs, copied out of it as numpy arrays.

    `item_classes[i]` labels row `i` of `item_factors`/`item_biases`; it is the
    learner's own vocabulary (from the training split), with fastai's `#na#` (the
    class of values unseen in training) at index 0: `known_items` and
    `known_user_biases` leave it out. `split` holds the row numbers (positions in
    `ratings.frame`) of the training and validation ratings. The arrays are numpy,
    on the CPU, whatever device the model trained on.
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
    user_factors: np.ndarray | None = None  # shape (n_user_classes, factors), float64
    codes: np.ndarray | None = None  # (user row, item row) of every rating, int; 0: unseen in training
    notes: tuple[str, ...] = ()  # what the reader should know about the fit (a setting the engine did not use)
    split_spec: SplitSpec | None = None  # how `split` was drawn, for model.json (`fit` fills it)

    @classmethod
    def of(
        cls,
        model: Any,
        *,
        users: Sequence[object],
        items: Sequence[object],
        split: tuple[np.ndarray, np.ndarray],
        **fields: Any,
    ) -> TrainedModel:
        """A fit's result from its trained `EmbeddingDotBias`, whichever engine trained it.

        The weights are copied out (`Weights.of`) and the vocabularies made strings, in
        the order of the embeddings' rows; `fields` are the rest (config, metrics, runtime…).
        """
        weights = Weights.of(model)
        return cls(
            item_classes=tuple(str(c) for c in items),
            item_factors=weights.item_factors,
            item_biases=weights.item_biases,
            user_classes=tuple(str(c) for c in users),
            user_biases=weights.user_biases,
            user_factors=weights.user_factors,
            split=split,
            **fields,
        )

    def known_items(self) -> dict[str, int]:
        """Each item the model learned (from the training split) -> its row in `item_factors`."""
        return {title: i for i, title in enumerate(self.item_classes) if title != NA_CLASS}

    def known_user_biases(self) -> np.ndarray:
        """The learned biases of the users seen in training."""
        import numpy as np

        keep = np.array([u != NA_CLASS for u in self.user_classes], dtype=bool)
        return self.user_biases[keep] if self.user_biases is not None else np.zeros(0)


EpochHook = Callable[[EpochStats, int], None]


@dataclass(frozen=True)
class Weights:
    """An `EmbeddingDotBias`'s four tables, copied to the CPU as float64 numpy (row = code)."""

    item_factors: np.ndarray
    item_biases: np.ndarray
    user_factors: np.ndarray
    user_biases: np.ndarray

    @classmethod
    def of(cls, model: Any) -> Weights:
        import torch

        def table(embedding: Any) -> np.ndarray:
            return embedding.weight.detach().to("cpu", torch.float64).numpy().copy()

        with torch.no_grad():
            return cls(
                table(model.i_weight), table(model.i_bias)[:, 0], table(model.u_weight), table(model.u_bias)[:, 0]
            )


@dataclass(frozen=True)
class FactorModel:
    """A dot-product model as numbers: its four tables and what their rows mean, with no learner behind it.

    Tonight's fit (`of_trained`) or a kept one read back (`kept.load_factors`): what a review
    scores and aligns. Row `i` of the user tables is `users[i]`, of the item tables `items[i]`;
    row 0 of each is fastai's `#na#` (values unseen in training). A prediction is
    `y_range`'s sigmoid of the dot product plus both biases (the raw sum without a range).
    """

    users: tuple[str, ...]
    items: tuple[str, ...]
    weights: Weights
    y_range: tuple[float, float] | None
    split_spec: SplitSpec | None = None  # how its run split the data; None: a model.json kept before it was recorded

    @classmethod
    def of_trained(cls, model: TrainedModel) -> FactorModel:
        if model.user_factors is None or model.user_biases is None:
            raise ValueError("this TrainedModel has no user factors or biases")
        weights = Weights(model.item_factors, model.item_biases, model.user_factors, model.user_biases)
        return cls(model.user_classes, model.item_classes, weights, model.config.y_range, model.split_spec)


ProgressHook = Callable[[float], None]
"""Called with the fraction of the epoch done, about every tenth of a long epoch."""
