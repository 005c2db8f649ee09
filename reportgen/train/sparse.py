"""The large-data training engine: fastai's `EmbeddingDotBias` fitted in place by a fused sparse loop.

fastai's Learner (the "lean" path) steps Adam with weight decay over *every* row of
both embedding tables for every batch of 64 ratings: fine for ML-100k, hours for
10 million ratings. This engine trains the same module the way matrix-factorisation
libraries do: large batches, gradients only for the rows in the batch, L2
regularisation per occurrence of a row (as cornac and surprise do), and Adagrad with
one accumulator per row. A step is a fixed dozen torch ops on (batch x factors)
tensors, with no Python work per rating, on the CPU or a CUDA device alike; on the
CPU in one process a compiled kernel takes a step per rating on every core instead
(`sparse_loop`, `kernel`).

It also owns the data preparation at scale that the fastai path does with Python
lists: the split (`splits.split_rows`: fastai's `RandomSplitter` as arrays, or a time cutoff) and `encode`
(fastai's `CategoryMap` vocabulary and codes, vectorised).

Which engine runs is `choose_engine`'s rule; the settings are `auto_settings`'.
Measured on planted data (benchmarks/scale.py, 2 CPU cores shared with other work):
lazy Adam over the rows of a batch reached valid RMSE 0.607 at 1M ratings (this:
0.595) at 2.3x the time per step (a sort and per-row sums per table); a second thread
made steps up to 28x *slower* whenever other processes held the cores, hence
`CPU_THREADS` = 1.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from reportgen import machine
from reportgen.errors import RunError
from reportgen.train import distributed
from reportgen.train.config import EngineSettings, TrainConfig
from reportgen.train.results import NA_CLASS, EpochHook, Metrics, ProgressHook, Runtime, TrainedModel
from reportgen.train.sparse_loop import train_sparse
from reportgen.train.splits import check_rows, split_rows
from reportgen.train.splits import split_indices as split_indices  # where the benchmarks and tests find it

if TYPE_CHECKING:
    import pandas as pd

    from reportgen.data.types import Ratings

# `choose_engine`: at this many ratings and above the sparse engine trains (see its docstring).
SPARSE_MIN_RATINGS = 200_000
STEPS_PER_EPOCH = 500  # `auto_settings` sizes batches for about this many steps an epoch
LARGE_TRAIN = 16_000_000  # `auto_settings` trains 6 epochs instead of 8 past this many training ratings
MIN_BS, MAX_BS = 1_024, 32_768  # ... within these bounds (powers of two)
# torch CPU threads for the torch sparse loop. Its ops are short and memory-bound; with a
# second thread every op waits for the slower one, and on 2 cores shared with other
# work a 16k-rating step (10M shape) took 5.4 ms on two threads once and 96 ms the
# next run (180 ms in another), against a steady 6.5-8 ms on one (load average 2.5-3).
# The compiled kernel has no such wait (a thread runs whole blocks): it takes every core.
CPU_THREADS = 1


def default_threads(device: str) -> int:
    """The sparse engine's CPU threads when none were chosen: every core for the compiled kernel, else `CPU_THREADS`.

    The kernel trains on the CPU outside a torchrun world, where numba is installed
    (found without importing it: the import and compile wait for the fit itself).
    """
    import importlib.util

    if device != "cpu":
        return 1
    if distributed.environment() is not None or importlib.util.find_spec("numba") is None:
        return CPU_THREADS
    return machine.cores()


def choose_engine(n_ratings: int) -> str:
    """The engine for `n_ratings`: "sparse" from `SPARSE_MIN_RATINGS` on, else "learner" (fastai's Learner).

    Chosen by what was measured to be more accurate (benchmarks/scale.py
    `--engines learner,sparse`, the kernel on two shared cores; valid RMSE, 80/20 split,
    seed 42; cornac MF k=50 beside it):

    | data | fastai's Learner | this engine | cornac |
    | ML-100k (real) | **0.8999** | 0.9201 | — |
    | planted 100k (ML-100k's shape) | 0.7213 | **0.6881** | 0.7912 |
    | planted 300k | 0.6970 | **0.6261** | 0.6599 |
    | planted 1M | 0.770 (205 s, issue 11) | **0.5951** | 0.6067 |

    On the one real data set of its size the Learner wins by 0.020 and keeps the
    tutorial's recipe and numbers (valid MSE 0.8098 at seed 42); planted data has
    the sparse engine ahead from 100k on, and at 300k the Learner falls behind cornac
    as well (and takes 16 s to fit against 0.1 s). The crossover lies between 100k
    and 300k ratings; 200,000 splits it.
    """
    return "sparse" if n_ratings >= SPARSE_MIN_RATINGS else "learner"


def auto_settings(n_train: int, n_users: int, n_items: int, factors: int) -> EngineSettings:
    """Settings for `n_train` training ratings, tuned on planted data of 1M and 10M ratings.

    Batches of about `n_train / STEPS_PER_EPOCH` ratings (a power of two from
    `MIN_BS` to `MAX_BS`) keep the per-step overhead small and still give Adagrad a
    few hundred steps an epoch. Adagrad normalises each row's step, so one learning
    rate serves every batch size. Valid RMSE on planted 1M ratings: lr 0.15 gives
    0.595, 0.1 under-fits (0.602 even in 10 epochs), 0.3 over-fits (0.617); reg
    0.02 (cornac's default) beat 0.01 and 0.04 (0.597 against 0.606 and 0.605, at
    lr 0.2). 8 epochs: at 1M the error stops falling after 6; at 10M it fell until
    the 8th (0.5868, 0.5867 after 10); batch sizes 2,048 to 8,192 gave the same
    error at 1M. Past `LARGE_TRAIN` training ratings, 6 epochs: on the MovieLens-25M
    shape the last two cost 30 s of a 121 s fit for 0.002 RMSE (0.5924 against
    0.5905; cornac MF: 0.5991), and without them the fit grows with the data as
    the rest of the run does (benchmarks/scale.py).

    The compiled kernel (`kernel`: a step per rating, `bs` unused) keeps these
    settings, re-measured for it: on planted 1M, lr 0.15 with reg 0.02 gives 0.5951
    (the torch loop 0.5953), lr 0.1 0.6073, lr 0.2 0.5981; reg 0.03 0.6003 (0.6173
    at lr 0.1, 0.5998 at 0.2). On planted 10M it reaches 0.5866 (the torch loop's
    0.5866), flat from the 7th epoch, so 8 stay (docs/training.md).
    """
    del n_users, n_items, factors  # kept in the signature: a rule may need them at other shapes
    target = max(n_train, 1) / STEPS_PER_EPOCH
    bs = int(min(MAX_BS, max(MIN_BS, 2 ** round(math.log2(target)))))
    return EngineSettings(epochs=8 if n_train <= LARGE_TRAIN else 6, lr=0.15, reg=0.02, bs=bs)


# The Learner's settings that have no meaning for this engine (its optimizer, penalty and batches differ).
LEARNER_ONLY = ("lr", "wd", "bs")


def settings_for(
    config: TrainConfig, n_train: int, n_users: int, n_items: int
) -> tuple[EngineSettings, tuple[str, ...]]:
    """`auto_settings`, with the epochs the caller chose, and a note for each Learner setting it cannot use.

    Chosen: differing from the preset's (`TrainConfig.changed_from_preset`). `--epochs 1`
    on ten million ratings is a quick trial run, so chosen epochs are honoured; `lr`, `wd`
    and `bs` are Adam's rate, fastai's weight decay and the Learner's batch, which this
    engine replaces with its own, so each chosen one gets a note saying what was used.
    """
    chosen = config.changed_from_preset()
    settings = auto_settings(n_train, n_users, n_items, config.factors)
    if "epochs" in chosen:
        settings = replace(settings, epochs=config.epochs)
    used = {
        "lr": f"learning rate {settings.lr:g}",
        "wd": f"L2 penalty {settings.reg:g}",
        "bs": f"batch size {settings.bs}",
    }
    notes = tuple(
        f"--{name} {getattr(config, name):g} is for fastai's Learner: the sparse engine trained with its "
        f"own {used[name]} (--engine learner uses yours)"
        for name in LEARNER_ONLY
        if name in chosen
    )
    return settings, notes


# --------------------------------------------------------------------------- data preparation


def encode(values: pd.Series | np.ndarray, train_rows: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Codes for every value and the vocabulary of the training rows, as fastai's `Categorify` gives them.

    The vocabulary is `#na#` then the sorted distinct values of `values[train_rows]`
    (what `CategoryMap(values[train_rows], add_na=True)` holds for a plain column);
    a value seen only outside the training rows gets code 0 (`#na#`), like a
    missing one. One hash pass over the column, no Python object per rating.
    Codes are int32 (int64 past 2**31 - 1 classes).
    """
    import pandas as pd

    column = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(column.dtype, pd.CategoricalDtype):
        raw = column.cat.codes.to_numpy()
        uniques = np.asarray(column.cat.categories)
    else:
        raw, uniques = pd.factorize(column, sort=False, use_na_sentinel=True)
        uniques = np.asarray(uniques)
    in_train = raw[train_rows]
    used = np.bincount(in_train[in_train >= 0], minlength=len(uniques)) > 0
    kept = np.flatnonzero(used)
    seen = uniques[kept]
    if seen.dtype.kind in "biuf":
        order = np.argsort(seen, kind="stable")
    else:
        order = np.asarray(sorted(range(len(seen)), key=seen.__getitem__), dtype=np.int64)
    dtype = np.int32 if len(kept) < 2**31 - 1 else np.int64
    remap = np.zeros(len(uniques) + 1, dtype=dtype)  # last slot: the NA sentinel -1
    remap[kept[order]] = np.arange(1, len(kept) + 1, dtype=dtype)
    codes = remap[raw]
    vocabulary = [NA_CLASS, *seen[order].tolist()]
    return codes, vocabulary


# --------------------------------------------------------------------------- the fit


def fit_sparse(
    ratings: Ratings,
    config: TrainConfig,
    *,
    device: str,
    threads: int,
    on_epoch: EpochHook | None,
    on_progress: ProgressHook | None,
) -> TrainedModel:
    """The same split, vocabulary and `EmbeddingDotBias` as the lean path, trained by `train_sparse`.

    `factors`, `valid_pct`, `y_range` and `seed` come from `config`; epochs, learning
    rate, regularisation and batch size from `settings_for` (the auto settings, with
    the caller's epochs; the Learner's `lr`, `wd` and `bs` do not apply, and the model's
    notes say so when they were chosen). The report shows the settings used. The
    returned model has no fastai learner.
    """
    import torch
    from fastai.collab import EmbeddingDotBias

    started = time.perf_counter()
    frame = ratings.frame
    train_rows, valid_rows = split_rows(frame, config, ratings.provenance.ratings_file)
    if config.split != "random":
        check_rows((train_rows, valid_rows), config, ratings.provenance.ratings_file)
    (user_codes, users), (item_codes, items) = (encode(frame[name], train_rows) for name in ("user", "title"))
    x = np.stack([user_codes, item_codes], axis=1)
    del user_codes, item_codes
    y = frame["rating"].to_numpy(dtype=np.float32)
    settings, notes = settings_for(config, len(train_rows), len(users), len(items))
    world = distributed.join(device)  # None when this process trains alone
    torch.manual_seed(config.seed)  # the model's initial weights: the same on every rank
    model = EmbeddingDotBias.from_classes(config.factors, {"user": users, "title": items}, y_range=config.y_range)
    result = train_sparse(
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
        world=world,
        threads=threads,
    )
    distributed.leave()  # after a failure the error is reported first; exiting tears the group down
    final = result.epochs[-1]
    if len(valid_rows) and not math.isfinite(final.valid_loss):
        raise RunError(f"training diverged: epoch {final.epoch} ended with valid loss {final.valid_loss}")

    return TrainedModel.of(
        model,
        users=users,
        items=items,
        split=(train_rows.astype(np.int64), valid_rows.astype(np.int64)),
        learner=None,
        config=config,
        metrics=Metrics.of(result.epochs, len(train_rows), len(valid_rows)),
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
            world_size=world.size if world else 1,
            backend=world.backend if world else None,
            rank_bs=-(-min(settings.bs, len(train_rows)) // world.size) if world else None,
            kernel=result.kernel,
        ),
        codes=x,
        notes=notes,
    )
