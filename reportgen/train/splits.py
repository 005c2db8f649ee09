"""Which ratings train and which validate: the tutorial's random split, or one cutoff in time.

`split_rows` is the one place both engines and both loaders get their rows from,
so every torchrun rank (the same data, the same config) computes the same split.
The time split is arrays only: one `np.partition` of the int64 timestamps finds
the cutoff, two comparisons pick the rows, so 100M ratings cost a few of their
int64 columns and no Python object per rating. `TimeSplit` says what the cutoff
means for the report: the two periods and how many validation ratings come from
users and items the model never saw before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.errors import InputError, setting

if TYPE_CHECKING:
    import pandas as pd

    from reportgen.train.config import TrainConfig

TIME_COLUMN = "timestamp"  # Ratings.frame's column of epoch seconds (UTC, int64), where the data has times


@dataclass(frozen=True)
class TimeSplit:
    """A time split as the report states it; every time in epoch seconds, UTC."""

    cutoff: int  # every training rating is before it, every validation rating at or after it
    train_first: int
    train_last: int
    valid_first: int  # == cutoff
    valid_last: int
    n_train: int
    n_valid: int
    unseen_users: int  # validation ratings whose user has no training rating
    unseen_items: int  # validation ratings whose item has no training rating
    kind: str = "time"


def split_indices(n: int, valid_pct: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """fastai's `RandomSplitter(valid_pct, seed)(range(n))` as (train, valid) int64 arrays.

    The same permutation (`torch.randperm` after seeding with `seed`), cut at
    `int(valid_pct * n)`, without fastai's Python list of `n` ints and without
    reseeding torch's global generator.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=generator).numpy()
    cut = int(valid_pct * n)
    return order[cut:], order[:cut]


def time_cutoff(times: np.ndarray, valid_pct: float, name: str) -> int:
    """The timestamp at which the latest `int(valid_pct * n)` ratings begin; ties with it validate too.

    `InputError` when all ratings share one instant, or when the cutoff is the
    earliest time (nothing would be left before it to train on).
    """
    n = len(times)
    n_valid = max(int(valid_pct * n), 1)
    cutoff = int(np.partition(times, n - n_valid)[n - n_valid])
    earliest = int(times.min())
    if cutoff == earliest:
        if int(times.max()) == earliest:
            raise InputError(f"{name}: all {n} ratings have the same time, so a time split has nothing to train on")
        raise InputError(
            f"{name}: the latest {n_valid} rating(s) begin at the earliest time ({earliest}), so a time split "
            f"leaves no training ratings before its cutoff; lower {setting('valid_pct')}"
        )
    return cutoff


def times_of(frame: pd.DataFrame, name: str) -> np.ndarray:
    """The frame's timestamps as int64, or `InputError` when the data has none."""
    if TIME_COLUMN not in frame.columns:
        raise InputError(
            f"{name}: {setting('split')} time needs a time for every rating, and this data has none; "
            f"name the column with {setting('time_col')}"
        )
    return frame[TIME_COLUMN].to_numpy(dtype=np.int64)


def split_rows(frame: pd.DataFrame, config: TrainConfig, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid) positional row numbers of `frame` as int64 arrays, by `config.split`.

    random: fastai's `RandomSplitter(valid_pct, seed)` (`sparse.split_indices`);
    time: rows before `time_cutoff` train, the rest validate, each in row order.
    """
    if config.split != "time":
        return split_indices(len(frame), config.valid_pct, config.seed)
    times = times_of(frame, name)
    later = times >= time_cutoff(times, config.valid_pct, name)
    return np.flatnonzero(~later).astype(np.int64), np.flatnonzero(later).astype(np.int64)


def describe_split(frame: pd.DataFrame, config: TrainConfig, rows: tuple[np.ndarray, np.ndarray]) -> TimeSplit | None:
    """What a time split's cutoff means on this data (`frame`: the ratings `rows` index); None for random."""
    if config.split != "time":
        return None
    train_rows, valid_rows = rows
    times = frame[TIME_COLUMN].to_numpy(dtype=np.int64)
    train_times, valid_times = times[train_rows], times[valid_rows]
    return TimeSplit(
        cutoff=int(valid_times.min()),
        train_first=int(train_times.min()),
        train_last=int(train_times.max()),
        valid_first=int(valid_times.min()),
        valid_last=int(valid_times.max()),
        n_train=len(train_rows),
        n_valid=len(valid_rows),
        unseen_users=_unseen(frame["user"], train_rows, valid_rows),
        unseen_items=_unseen(frame["title"], train_rows, valid_rows),
    )


def _unseen(column: pd.Series, train_rows: np.ndarray, valid_rows: np.ndarray) -> int:
    """How many validation rows have a value that no training row has (on integer codes)."""
    import pandas as pd

    codes = column.cat.codes.to_numpy() if isinstance(column.dtype, pd.CategoricalDtype) else pd.factorize(column)[0]
    seen = np.zeros(int(codes.max()) + 1, dtype=bool)
    seen[codes[train_rows]] = True
    return int((~seen[codes[valid_rows]]).sum())
