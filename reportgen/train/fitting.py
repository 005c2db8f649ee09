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
  2.8 it samples each epoch *with replacement* (docs/training.md explains it),
  which is why its validation error is higher.

Both paths, and the fastai internals they lean on, live in `reportgen.train.learner`,
imported inside `fit` so that importing this module (and the CLI's help) stays
free of fastai and torch.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING

from reportgen import machine
from reportgen.data.types import check_ratings
from reportgen.errors import InputError, RunError, setting
from reportgen.train.config import TrainConfig, check_config, check_y_range
from reportgen.train.results import EpochHook, EpochStats, Metrics, ProgressHook, Runtime, TrainedModel
from reportgen.train.splits import check_rows, split_rows, split_spec

if TYPE_CHECKING:
    from reportgen.data.types import Ratings

# Batches up to this size train fastest on one CPU thread (docs/training.md, "Threads"): a step
# is dominated by Python and by Adam's update of every embedding row, small vectors
# that a second thread cannot split profitably. Larger batches share the work.
ONE_THREAD_MAX_BS = 2048
# Beyond this a rating's squared error overflows float32 (3.4e38), whatever the learning rate.
MAX_RATING = 1e18


def fit(
    ratings: Ratings,
    config: TrainConfig = TrainConfig(),
    *,
    progress: bool = False,
    on_epoch: EpochHook | None = None,
    on_progress: ProgressHook | None = None,
) -> TrainedModel:
    """Train the tutorial's model; the same ratings, config, seed and thread count give the same numbers.

    A `config.y_range` of None is derived from the data (`default_y_range`); every
    rating must lie inside the range. The engine is `resolve_engine`'s: fastai's
    Learner, or the sparse engine for large data. `progress` shows fastai's progress
    bar (for a terminal; the sparse engine has none); `on_epoch(stats, total_epochs)`
    is called after every epoch, e.g. to log one line per epoch; `on_progress(done)`
    about every tenth of a sparse epoch. The returned model's `config` is the one used (its
    split and y-range resolved: `resolve_split`, `resolve_y_range`), its `split_spec` how it split.
    """
    check_ratings(ratings)
    check_config(config)  # before anything is read or trained: a bad setting fails at once
    config = resolve_y_range(ratings, resolve_split(ratings, config))
    check_enough_ratings(len(ratings.frame), config, ratings.provenance.ratings_file)
    device = resolve_device(config.device)
    sparse = resolve_engine(config, len(ratings.frame)) == "sparse"
    if config.threads is not None:
        threads = config.threads
    elif sparse:
        from reportgen.train.sparse import default_threads

        threads = default_threads(device)
    else:
        threads = choose_threads(config.bs, device)
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with warnings.catch_warnings():
            _quiet_known_library_warnings()
            if sparse:
                from reportgen.train.sparse import fit_sparse

                model = fit_sparse(
                    ratings, config, device=device, threads=threads, on_epoch=on_epoch, on_progress=on_progress
                )
            else:
                model = _fit(ratings, config, device=device, threads=threads, progress=progress, on_epoch=on_epoch)
    finally:
        torch.set_num_threads(before)
    spec = split_spec(ratings.frame, config, model.split, ratings.provenance.sha256, ratings.item_key)
    return replace(model, split_spec=spec)


def resolve_split(ratings: Ratings, config: TrainConfig) -> TrainConfig:
    """`config` with "auto" resolved: fastai's random split for the tutorial preset on MovieLens 100k
    (the tutorial's numbers, valid MSE 0.8098 at seed 42), the stable split everywhere else (own data,
    databases, other presets), so that a later run can tell which ratings this one never trained on."""
    if config.split != "auto":
        return config
    tutorial = config.preset == "tutorial" and ratings.is_movielens
    return replace(config, split="random" if tutorial else "stable")


def resolve_engine(config: TrainConfig, n_ratings: int) -> str:
    """ "learner" or "sparse": as asked, or for "auto" by `sparse.choose_engine` (the tutorial's loader stays on fastai)."""
    from reportgen.train import distributed

    if distributed.environment() is not None:
        return "sparse"  # only the sparse engine trains data-parallel (fastai's Learner runs alone)
    if config.engine != "auto":
        return config.engine
    if config.loader == "fastai":
        return "learner"
    from reportgen.train.sparse import choose_engine

    return choose_engine(n_ratings)


def default_y_range(ratings: Ratings) -> tuple[float, float]:
    """The tutorial's (0, 5.5) for ML-100k; (min, max + 10 % of the span) for own data."""
    if ratings.is_movielens:
        return (0.0, 5.5)
    low, high = float(ratings.frame["rating"].min()), float(ratings.frame["rating"].max())
    return (low, high + 0.1 * (high - low or 1.0))


def resolve_y_range(ratings: Ratings, config: TrainConfig) -> TrainConfig:
    """`config` with its y-range derived from the data when None, checked against every rating."""
    rating = ratings.frame["rating"]
    largest = float(max(abs(rating.min()), abs(rating.max())))
    if largest > MAX_RATING:
        raise InputError(
            f"{ratings.provenance.ratings_file}: ratings as large as {largest:g} cannot be learned in float32 "
            f"(their squared errors overflow); rescale them to at most {MAX_RATING:g}"
        )
    if config.y_range is None:
        config = replace(config, y_range=default_y_range(ratings))
    check_y_range(config.y_range)
    low, high = config.y_range
    outside = ((rating < low) | (rating > high)).to_numpy()
    if outside.any():
        first = ratings.frame.index[outside.argmax()]
        raise InputError(
            f"{ratings.provenance.ratings_file}: {int(outside.sum())} rating(s) outside {setting('y_range')} {low:g} {high:g}, "
            f"first at {ratings.row_word} {first}: {rating.loc[first]:g}",
        )
    return config


def resolve_device(name: str) -> str:
    """ "auto" -> "cuda" when torch sees a CUDA GPU, else "cpu"; "cuda" without one is an input error."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError(
            f"{setting('device')} cuda: torch sees no CUDA GPU on this machine; use {setting('device')} cpu or {setting('device')} auto"
        )
    return name


def choose_threads(bs: int, device: str) -> int:
    """The torch CPU thread count for a fit, from measurements on 2 cores (docs/training.md, "Threads").

    A GPU fit or a CPU fit on batches of up to `ONE_THREAD_MAX_BS` ratings runs
    fastest on one thread: per step there is too little arithmetic to share, and
    waking a second thread costs more than it saves. Larger batches use every core.
    """
    if device != "cpu" or bs <= ONE_THREAD_MAX_BS:
        return 1
    return machine.cores()


def check_enough_ratings(n_ratings: int, config: TrainConfig, name: str) -> None:
    """At least one full training batch must remain after the validation split.

    fastai's RandomSplitter holds out `int(valid_pct * n)` ratings and the training
    loader drops the last partial batch, so fewer than `bs` left means no training.
    """
    n_valid = int(config.valid_pct * n_ratings)
    if n_valid < 1:
        raise InputError(
            f"{name}: {setting('valid_pct')} {config.valid_pct:g} holds out no rating of {n_ratings}, so nothing "
            f"would measure the model; hold out at least 1 (a share of at least {1 / n_ratings:.2g})"
        )
    n_train = n_ratings - n_valid
    if n_train < config.bs:
        raise InputError(
            f"{name}: too few ratings to train: {n_ratings} leave {n_train} in the training split, "
            f"fewer than one batch of {setting('bs')} {config.bs}"
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
    from fastai.callback.progress import ProgressCallback
    from fastai.learner import Recorder
    from fastai.torch_core import set_seed

    from reportgen.train import learner

    history: list[EpochStats] = []

    def record(epoch: int, train_loss: float, valid_loss: float, seconds: float, total: int) -> None:
        history.append(EpochStats(epoch, train_loss, valid_loss, seconds))
        if on_epoch is not None:
            on_epoch(history[-1], total)

    started = time.perf_counter()
    set_seed(config.seed, reproducible=True)
    # fastai's own RandomSplitter draws the random split inside the learner; the others are handed to it.
    rows = split_rows(ratings.frame, config, ratings.provenance.ratings_file) if config.split != "random" else None
    if rows is not None:
        check_rows(rows, config, ratings.provenance.ratings_file)
    frame = ratings.frame[["user", "title", "rating"]].reset_index(drop=True)
    if config.loader == "fastai":
        learn, classes, (train_rows, valid_rows), codes = learner.tutorial_learner(frame, config, device, record, rows)
        if not progress:
            # Without the bar, fastai's Recorder would print its table to stdout.
            learn.remove_cb(ProgressCallback)
            learn.logger = lambda *_: None
    else:
        learn, classes, (train_rows, valid_rows), codes = learner.lean_learner(frame, config, device, record, rows)
        if progress:
            learn.add_cbs([Recorder(), ProgressCallback()])  # the bar reads fastai's Recorder
    fit_started = time.perf_counter()
    learn.fit_one_cycle(config.epochs, config.lr, wd=config.wd)
    fit_seconds = time.perf_counter() - fit_started

    final = history[-1]
    if not (math.isfinite(final.train_loss) and math.isfinite(final.valid_loss)):
        raise RunError(
            f"training diverged: epoch {final.epoch} ended with train loss {final.train_loss} "
            f"and valid loss {final.valid_loss}; try a smaller {setting('lr')}"
        )

    return TrainedModel.of(
        learn.model,
        users=classes["user"],
        items=classes["title"],
        split=(train_rows, valid_rows),
        learner=learn,
        config=config,
        metrics=Metrics.of(history, len(train_rows), len(valid_rows)),
        seconds=time.perf_counter() - started,
        runtime=Runtime(
            loader=config.loader,
            preset=config.preset,
            device=device,
            threads=threads,
            steps=len(learn.dls.train) * config.epochs,
            fit_seconds=fit_seconds,
        ),
        codes=codes,
    )
