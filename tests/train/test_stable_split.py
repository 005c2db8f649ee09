"""The stable split: a rating validates by a keyed hash of (user, item, seed) alone, so its side is the same
whatever the row order, the thread count or the data around it; `auto` keeps fastai's random split for the
tutorial on MovieLens 100k; and `held_out_by` tells which of tonight's ratings an earlier run never trained on."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pandas as pd
import pytest

from reportgen.data.types import DatabaseRead, Provenance, Ratings
from reportgen.errors import InputError
from reportgen.train import TrainConfig, fit
from reportgen.train.fitting import resolve_split
from reportgen.train.results import SplitSpec
from reportgen.train.splits import held_out_by, split_rows, split_spec, stable_held_out
from tests.helpers.planted import Planted, as_ratings, planted_frame

SMALL = {"epochs": 1, "factors": 4, "bs": 64, "lr": 0.01}


def within(share: float, p: float, n: int) -> bool:
    """`share` of `n` independent draws lies within 4 binomial standard deviations of `p` (deterministic here:
    the hash is fixed, so the bound is a statement about these data, not a chance of failing)."""
    return abs(share - p) <= 4 * (p * (1 - p) / n) ** 0.5


def grid(n_users: int, n_items: int) -> pd.DataFrame:
    """Every user rates every item: n_users × n_items ratings, items keyed by title."""
    users = np.repeat(np.arange(n_users), n_items)
    items = np.tile(np.arange(n_items), n_users)
    return pd.DataFrame({"user": users, "title": [f"Item {i}" for i in items], "rating": 3.0})


def pairs(frame: pd.DataFrame, rows: np.ndarray | None = None) -> set[tuple[str, str]]:
    """The (user, item) pairs of `frame`'s rows (all of them without `rows`), as text."""
    chosen = frame if rows is None else frame.iloc[rows]
    return set(zip(chosen["user"].astype(str), chosen["title"].astype(str), strict=True))


# --------------------------------------------------------------------------- the split itself


def test_a_ratings_side_ignores_row_order_id_types_and_the_rest_of_the_data(planted: Planted) -> None:
    frame = planted.frame
    held_out = stable_held_out(frame, 0.2, 42)
    shuffled = frame.sample(frac=1.0, random_state=7)
    assert np.array_equal(stable_held_out(shuffled, 0.2, 42), held_out[shuffled.index.to_numpy()])
    # Loaded data has categorical columns, and ids may come as text: user 7 is "7" either way.
    typed = frame.assign(user=frame["user"].astype(str).astype("category"), title=frame["title"].astype("category"))
    assert np.array_equal(stable_held_out(typed, 0.2, 42), held_out)
    # Half the data dropped: every rating left keeps its side.
    half = frame.iloc[::2]
    assert np.array_equal(stable_held_out(half, 0.2, 42), held_out[::2])
    # Nested shares: what 0.1 holds out, 0.2 holds out too.
    assert not (stable_held_out(frame, 0.1, 42) & ~held_out).any()


def test_the_same_rows_validate_on_any_thread_count_and_in_every_engine() -> None:
    frame = planted_frame(n_users=60, n_items=30, density=0.5, seed=4).frame
    ratings = as_ratings(frame)
    expected = np.flatnonzero(stable_held_out(frame, 0.2, 42))
    for config in (
        TrainConfig(engine="learner", threads=1, **SMALL),
        TrainConfig(engine="learner", threads=2, **SMALL),
        TrainConfig(engine="learner", loader="fastai", **SMALL),
        TrainConfig(engine="sparse", threads=2, **SMALL),
    ):
        model = fit(ratings, config)
        assert model.config.split == "stable", config
        assert np.array_equal(np.sort(model.split[1]), expected), config
        assert model.metrics.n_valid == len(expected)


def test_it_holds_out_about_valid_pct_each_rating_independently() -> None:
    frame = grid(1_000, 400)  # 400,000 ratings
    n = len(frame)
    for p in (0.05, 0.2, 0.5):
        assert within(stable_held_out(frame, p, 42).mean(), p, n), p
    held_out = stable_held_out(frame, 0.2, 42).reshape(1_000, 400)
    # Each user's share spreads as 400 independent draws would (no user held out wholesale): its
    # variance within 20 % of the binomial one (4.5 standard errors of a variance over 1,000 users).
    binomial = 0.2 * 0.8 / 400
    assert 0.8 * binomial <= held_out.mean(axis=1).var() <= 1.2 * binomial
    # Two items' sides are independent across users: both held out about 0.2² of the time.
    both = (held_out[:, :-1] & held_out[:, 1:]).mean()
    assert within(both, 0.04, 1_000 * 399)


def test_another_seed_draws_another_independent_split(planted: Planted) -> None:
    frame = planted.frame
    first, second = stable_held_out(frame, 0.2, 42), stable_held_out(frame, 0.2, 43)
    assert not np.array_equal(first, second)
    assert within((first & second).mean(), 0.04, len(frame))  # independent draws: 0.2 × 0.2 held out by both


def test_auto_is_fastais_random_split_for_the_tutorial_on_ml100k_and_stable_elsewhere(planted: Planted) -> None:
    own = as_ratings(planted.frame)
    ml100k = dataclasses.replace(own, provenance=dataclasses.replace(own.provenance, name="ml-100k"))
    database = dataclasses.replace(
        ml100k, provenance=dataclasses.replace(ml100k.provenance, database=DatabaseRead("sqlite", "r.db", "q", 1))
    )
    assert resolve_split(ml100k, TrainConfig()).split == "random"
    assert resolve_split(ml100k, TrainConfig.from_preset("fast")).split == "stable"
    assert resolve_split(own, TrainConfig()).split == "stable"
    assert resolve_split(database, TrainConfig()).split == "stable"
    for kind in ("random", "stable", "time"):
        assert resolve_split(own, TrainConfig(split=kind)).split == kind
        assert resolve_split(ml100k, TrainConfig(split=kind)).split == kind


def test_a_stable_split_that_holds_out_nothing_is_refused_by_name() -> None:
    frame = planted_frame(n_users=20, n_items=10, density=0.5, seed=1).frame.iloc[:100]
    seed = next(s for s in range(200) if not stable_held_out(frame, 0.01, s).any())  # 0.99**100: about a third
    with pytest.raises(InputError) as caught:
        fit(as_ratings(frame), TrainConfig(valid_pct=0.01, seed=seed, **{**SMALL, "bs": 8}))
    assert str(caught.value) == (
        f"(in memory): the stable split holds out none of the 100 ratings at valid_pct 0.01 and seed {seed}, "
        "so nothing would measure the model; raise valid_pct or use split random"
    )


# --------------------------------------------------------------------------- which ratings a run never trained on


def grown(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """`frame` plus `share` more ratings on (user, item) pairs it lacks, every row shuffled."""
    rng = np.random.default_rng(seed)
    users, items = frame["user"].unique(), frame[["item", "title"]].drop_duplicates().to_numpy()
    had = set(zip(frame["user"], frame["item"], strict=True))
    new: list[tuple[object, ...]] = []
    while len(new) < int(share * len(frame)):
        user, (item, title) = rng.choice(users), items[rng.integers(len(items))]
        if (user, item) not in had:
            had.add((user, item))
            new.append((user, item, int(rng.integers(1, 6)), title))
    more = pd.DataFrame(new, columns=["user", "item", "rating", "title"])
    return pd.concat([frame, more], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_tonights_rows_held_out_by_yesterdays_run_never_trained_it(planted: Planted) -> None:
    """Tonight's data = yesterday's plus 5 % new ratings, shuffled in: of the rows `held_out_by` marks, none is
    a rating yesterday's model trained on; they are yesterday's held-out ratings and a fifth of the new ones."""
    yesterday = as_ratings(planted.frame)
    model = fit(yesterday, TrainConfig(**SMALL))
    spec = model.split_spec
    assert spec is not None and spec.kind == "stable"
    tonight = as_ratings(grown(planted.frame, 0.05, seed=11))
    held_out = held_out_by(tonight.frame, spec, tonight.provenance.sha256)
    assert isinstance(held_out, np.ndarray) and held_out.dtype == bool and len(held_out) == len(tonight.frame)
    compared = pairs(tonight.frame, np.flatnonzero(held_out))
    trained = pairs(yesterday.frame, model.split[0])
    assert compared and not compared & trained
    new = pairs(tonight.frame) - pairs(yesterday.frame)
    assert compared - new == pairs(yesterday.frame, model.split[1])  # every rating yesterday held out, still there
    assert within(len(compared & new) / len(new), 0.2, len(new))
    # Tonight's own stable split, same seed and share, holds out exactly these: neither model trained on them.
    tonight_model_rows = split_rows(tonight.frame, model.config, "tonight")[1]
    assert np.array_equal(tonight_model_rows, np.flatnonzero(held_out))


def test_a_random_split_is_recomputed_only_on_the_identical_data(planted: Planted) -> None:
    ratings = as_ratings(planted.frame)
    config = TrainConfig(split="random")
    rows = split_rows(ratings.frame, config, "x")
    spec = split_spec(ratings.frame, config, rows, ratings.provenance.sha256, "title")
    held_out = held_out_by(ratings.frame, spec, ratings.provenance.sha256)
    assert isinstance(held_out, np.ndarray) and np.array_equal(np.flatnonzero(held_out), np.sort(rows[1]))
    tonight = as_ratings(grown(planted.frame, 0.05, seed=12))
    reason = held_out_by(tonight.frame, spec, tonight.provenance.sha256)
    assert reason == (
        "the earlier run held out ratings at random by their position in its data (fastai's RandomSplitter), "
        "and these data differ from its, so which of them it held out cannot be recomputed"
    )
    # The same rows in another order are other data to a permutation of positions: a reason too.
    shuffled = planted.frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert isinstance(held_out_by(shuffled, spec, as_ratings(shuffled).provenance.sha256), str)


def test_a_time_split_holds_out_whatever_is_at_or_after_its_cutoff() -> None:
    frame = planted_frame(n_users=40, n_items=20, density=0.6, seed=1).frame
    frame["timestamp"] = np.random.default_rng(5).integers(1_000, 1_100, size=len(frame)).astype(np.int64)
    ratings = as_ratings(frame)
    model = fit(ratings, TrainConfig(split="time", **SMALL))
    spec = model.split_spec
    assert spec.kind == "time" and spec.cutoff == int(frame["timestamp"].to_numpy()[model.split[1]].min())
    later = frame.assign(timestamp=1_200).iloc[:30].assign(user=frame["user"].max() + 1)  # a new user, later
    backdated = frame.assign(timestamp=1_000).iloc[:5].assign(user=frame["user"].max() + 2)  # new, dated early
    tonight = pd.concat([frame, later, backdated], ignore_index=True)
    held_out = held_out_by(tonight, spec, as_ratings(tonight).provenance.sha256)
    assert isinstance(held_out, np.ndarray)
    assert np.array_equal(held_out, tonight["timestamp"].to_numpy() >= spec.cutoff)
    assert not pairs(tonight, np.flatnonzero(held_out)) & pairs(frame, model.split[0])
    assert held_out[len(frame) : len(frame) + 30].all() and not held_out[-5:].any()  # unseen, yet not provably
    assert held_out_by(tonight.drop(columns="timestamp"), spec, "x") == (
        "the earlier run held out its latest ratings (a time split), and these ratings have no times"
    )


def test_what_cannot_be_established_is_said_in_one_line() -> None:
    frame = grid(10, 10)
    stable = SplitSpec("stable", 42, 0.2, 100, "ab" * 32, item_key="id")
    assert held_out_by(frame, stable, "cd" * 32, item_key="title") == (
        "the earlier run keyed items by id and this one by title, so its stable split's hash of each rating "
        "cannot be recomputed"
    )
    assert isinstance(held_out_by(frame, dataclasses.replace(stable, item_key="title"), "cd" * 32), np.ndarray)
    assert held_out_by(frame, None, "cd" * 32) == (
        "the earlier run's kept model does not record how it split its data (it predates the record)"
    )


def test_the_spec_names_the_data_it_split() -> None:
    frame = grid(20, 10)
    digest = hashlib.sha256(b"data").hexdigest()
    ratings = Ratings(frame, Provenance("mine", "path", "(here)", "(here)", digest), item_key="id")
    model = fit(ratings, TrainConfig(**SMALL, y_range=(0.0, 5.0)))
    assert model.split_spec == SplitSpec("stable", 42, 0.2, 200, digest, item_key="id", cutoff=None)
