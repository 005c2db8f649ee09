"""Which ratings train and which validate: the tutorial's random split, a stable one, or one cutoff in time.

`split_rows` is the one place both engines and both loaders get their rows from,
so every torchrun rank (the same data, the same config) computes the same split.

- random: fastai's `RandomSplitter`, a permutation of the row positions: which rating
  it holds out depends on every other row, so it repeats only on the identical data.
- stable: a rating validates iff a keyed 64-bit hash of (user id, item key, seed), read
  as a number in [0, 1), is below `valid_pct` (`stable_held_out`). Each distinct user
  and item is hashed once (BLAKE2b), each rating mixed from the two in uint64 arrays, in
  bounded chunks: the same ratings validate whatever the row order, the rest of the data,
  the machine or the thread count, so a later run can tell which of its ratings an
  earlier run never trained on. The share held out is close to `valid_pct`, not exactly it.
- time: one `np.partition` of the int64 timestamps finds the cutoff, two comparisons
  pick the rows.

All three are arrays only: 100M ratings cost a few of their int64 columns and no Python
object per rating. `TimeSplit` says what a time cutoff means for the report: the two
periods and how many validation ratings come from users and items the model never saw
before it. `split_spec` records how a run split its data (`SplitSpec`, kept in model.json)
and `held_out_by` recomputes, on another night's ratings, which of them that run held out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from reportgen.errors import InputError, setting
from reportgen.train.results import SplitSpec

if TYPE_CHECKING:
    import pandas as pd

    from reportgen.train.config import TrainConfig

TIME_COLUMN = "timestamp"  # Ratings.frame's column of epoch seconds (UTC, int64), where the data has times
ITEM_COLUMN = "title"  # the item key the model learns (titles, or "Title [id]" labels with --item-key id)
# The stable split's hash: BLAKE2b keyed with this (a fixed key: the split is reproducible, not secret),
# each role personalised, the seed as the salt. Changing any of them moves every rating: never change them.
STABLE_KEY = b"reportgen stable split"
STABLE_ROLES = {"user": b"reportgen-user", ITEM_COLUMN: b"reportgen-item"}
STABLE_CHUNK = 1 << 20  # ratings mixed at a time: a few 8 MiB arrays, whatever the data's size


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
    """(train, valid) positional row numbers of `frame` as int64 arrays, by `config.split` (resolved: not "auto").

    random: fastai's `RandomSplitter(valid_pct, seed)` (`split_indices`); stable: the rows
    `stable_held_out` holds out validate; time: rows before `time_cutoff` train, the rest
    validate; stable and time rows are in row order (`check_rows` checks what a fit needs of them).
    """
    if config.split == "random":
        return split_indices(len(frame), config.valid_pct, config.seed)
    if config.split == "stable":
        held_out = stable_held_out(frame, config.valid_pct, config.seed)
    elif config.split == "time":
        times = times_of(frame, name)
        held_out = times >= time_cutoff(times, config.valid_pct, name)
    else:
        raise ValueError(f"split {config.split!r} is not one to split by: fit resolves 'auto' first")
    return np.flatnonzero(~held_out).astype(np.int64), np.flatnonzero(held_out).astype(np.int64)


def check_rows(rows: tuple[np.ndarray, np.ndarray], config: TrainConfig, name: str) -> None:
    """A stable or time split's rows must leave a rating to validate and a batch of `bs` to train on.

    `check_enough_ratings` counts on `int(valid_pct * n)` held out, as fastai's RandomSplitter
    holds out; ties at a time cutoff, or the hash's draw, can leave other counts.
    """
    train, valid = rows
    if not len(valid):  # a stable split of very few ratings (a time split always holds out its latest)
        raise InputError(
            f"{name}: the stable split holds out none of the {len(train)} ratings at {setting('valid_pct')} "
            f"{config.valid_pct:g} and {setting('seed')} {config.seed}, so nothing would measure the model; "
            f"raise {setting('valid_pct')} or use {setting('split')} random"
        )
    if len(train) < config.bs:
        where = "before its cutoff" if config.split == "time" else "to train on"
        raise InputError(
            f"{name}: too few ratings to train: the {config.split} split leaves {len(train)} {where}, "
            f"fewer than one batch of {setting('bs')} {config.bs}"
        )


def stable_held_out(frame: pd.DataFrame, valid_pct: float, seed: int) -> np.ndarray:
    """Which rows of `frame` the stable split holds out, as a bool array in row order.

    Row r validates iff `h(user, item, seed) / 2**64 < valid_pct`, where `h` mixes the two
    keyed 64-bit hashes of its user id and item key (`keyed_codes`: the text of each, hashed
    once per distinct value) through two rounds of splitmix64's finaliser. Nothing else
    about the data enters, so a rating's side depends only on itself and the seed: the
    same on any row order, data around it, machine or thread count. Each rating is held
    out with probability `valid_pct`, independently, so the share held out is close to it
    (within a few standard deviations, `sqrt(p (1 - p) / n)`), not exactly it.
    """
    user_codes, user_keys = keyed_codes(frame["user"], "user", seed)
    item_codes, item_keys = keyed_codes(frame[ITEM_COLUMN], ITEM_COLUMN, seed)
    below = np.uint64(int(valid_pct * 2**64))  # exact: a float below 1 times a power of two
    held_out = np.empty(len(frame), dtype=bool)
    for start in range(0, len(frame), STABLE_CHUNK):
        end = start + STABLE_CHUNK
        user = user_keys[user_codes[start:end]]
        mixed = user ^ item_keys[item_codes[start:end]]
        _mix(mixed)
        mixed += user  # the user enters twice: two users' ratings of two items share no XOR relation any more
        _mix(mixed)
        np.less(mixed, below, out=held_out[start:end])
    return held_out


def keyed_codes(column: pd.Series, role: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`column`'s integer codes, and for each code the keyed 64-bit BLAKE2b of its value's UTF-8 text (uint64).

    The text is the value as `str` writes it (user 7 is "7" whether read as a number or
    a string); `role` ("user" or "title") personalises the hash, the seed salts it.
    """
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, values = column.array.codes, column.cat.categories  # the codes themselves, not a copy
    else:
        codes, values = pd.factorize(column)
    salt, person = seed.to_bytes(8, "little"), STABLE_ROLES[role]
    digests = b"".join(
        hashlib.blake2b(str(v).encode("utf-8"), digest_size=8, key=STABLE_KEY, salt=salt, person=person).digest()
        for v in values.tolist()
    )
    return codes, np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def _mix(x: np.ndarray) -> None:
    """splitmix64's finaliser, in place on uint64 (numpy's array arithmetic wraps): every bit reaches every bit."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)


def split_spec(
    frame: pd.DataFrame, config: TrainConfig, rows: tuple[np.ndarray, np.ndarray], sha256: str, item_key: str
) -> SplitSpec:
    """How a fit split `frame` (`rows`: its (train, valid) rows; `sha256`: the data's): what model.json keeps."""
    cutoff = None
    if config.split == "time":
        cutoff = int(frame[TIME_COLUMN].to_numpy(dtype=np.int64)[rows[1]].min())
    return SplitSpec(
        kind=config.split,
        seed=config.seed,
        valid_pct=config.valid_pct,
        n_ratings=len(frame),
        sha256=sha256,
        item_key=item_key,
        cutoff=cutoff,
    )


def held_out_by(frame: pd.DataFrame, spec: SplitSpec | None, sha256: str, item_key: str = "title") -> np.ndarray | str:
    """Which of `frame`'s ratings the run that split as `spec` held out, so its model never trained on them.

    A bool array over `frame`'s rows, or one line saying why that cannot be established
    (`sha256` and `item_key`: those of `frame`'s data). random: only on the identical data
    (the same SHA-256 and row count), where the permutation of row positions is recomputed.
    stable: the hash recomputed with the run's seed and share, on any data (a rating the
    run never had is unseen by it too). time: the ratings at or after the run's cutoff
    (a rating added later but dated before it is left out: it cannot be told from one the
    run trained on).
    """
    if spec is None:
        return "the earlier run's kept model does not record how it split its data (it predates the record)"
    if spec.kind == "random":
        if spec.sha256 != sha256 or spec.n_ratings != len(frame):
            return (
                "the earlier run held out ratings at random by their position in its data (fastai's RandomSplitter), "
                "and these data differ from its, so which of them it held out cannot be recomputed"
            )
        _, valid = split_indices(len(frame), spec.valid_pct, spec.seed)
        held_out = np.zeros(len(frame), dtype=bool)
        held_out[valid] = True
        return held_out
    if spec.kind == "stable":
        if spec.item_key != item_key:
            return (
                f"the earlier run keyed items by {spec.item_key} and this one by {item_key}, so its stable split's "
                "hash of each rating cannot be recomputed"
            )
        return stable_held_out(frame, spec.valid_pct, spec.seed)
    if TIME_COLUMN not in frame.columns:
        return "the earlier run held out its latest ratings (a time split), and these ratings have no times"
    return frame[TIME_COLUMN].to_numpy(dtype=np.int64) >= spec.cutoff


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
