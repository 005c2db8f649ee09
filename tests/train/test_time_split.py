"""`split="time"`: one cutoff, the latest `valid_pct` of ratings validate, ties with it too, the same rows
for both engines and both loaders; what cannot be split in time is refused by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reportgen.errors import InputError
from reportgen.train import TrainConfig, describe_split, fit
from reportgen.train.splits import split_rows, time_cutoff
from tests.helpers.commands import invoke
from tests.helpers.planted import as_ratings, planted_frame

SMALL = {"epochs": 1, "factors": 4, "bs": 64, "lr": 0.01}


def timed(times: list[int]) -> pd.DataFrame:
    """One rating per time, users and items cycling, in the (shuffled) order given."""
    n = len(times)
    return pd.DataFrame(
        {
            "user": [f"u{i % 7}" for i in range(n)],
            "item": [f"i{i % 5}" for i in range(n)],
            "rating": [float(1 + i % 5) for i in range(n)],
            "title": [f"T{i % 5}" for i in range(n)],
            "timestamp": np.asarray(times, dtype=np.int64),
        }
    )


def test_the_latest_share_validates_and_ties_at_the_cutoff_go_to_validation() -> None:
    # 10 ratings, valid_pct 0.2: the latest two begin at 800, which a third rating shares.
    times = [500, 800, 100, 900, 300, 800, 200, 700, 400, 600]
    frame = timed(times)
    train, valid = split_rows(frame, TrainConfig(split="time", valid_pct=0.2), "planted.csv")
    assert time_cutoff(np.asarray(times), 0.2, "planted.csv") == 800
    assert sorted(np.asarray(times)[valid].tolist()) == [800, 800, 900]
    assert all(times[r] < 800 for r in train) and all(times[r] >= 800 for r in valid)
    assert sorted(train.tolist() + valid.tolist()) == list(range(10))
    assert train.dtype == valid.dtype == np.int64


def test_the_cutoff_is_exact_on_planted_data_with_many_ties() -> None:
    rng = np.random.default_rng(3)
    times = rng.integers(0, 50, size=2_000)  # about 40 ratings an instant
    cutoff = time_cutoff(times, 0.25, "x")
    assert cutoff == np.sort(times)[2_000 - 500]  # the earliest of the latest 500
    later = times >= cutoff
    assert later.sum() >= 500 > (times > cutoff).sum()  # ties pushed it past 500, one instant later would not


def test_the_description_states_cutoff_periods_and_the_cold_ratings() -> None:
    times = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    frame = timed(times).assign(user=["a"] * 8 + ["new", "a"], title=["X"] * 9 + ["late item"])
    config = TrainConfig(split="time", valid_pct=0.2)
    rows = split_rows(frame, config, "f")
    t = describe_split(frame, config, rows)
    assert (t.cutoff, t.train_first, t.train_last, t.valid_first, t.valid_last) == (90, 10, 80, 90, 100)
    assert (t.n_train, t.n_valid, t.unseen_users, t.unseen_items) == (8, 2, 1, 1)
    assert describe_split(frame, TrainConfig(), rows) is None  # random: nothing to state


@pytest.mark.parametrize(
    ("times", "line"),
    [
        ([5] * 10, "planted.csv: all 10 ratings have the same time, so a time split has nothing to train on"),
        (
            [5] * 9 + [6],
            "planted.csv: the latest 5 rating(s) begin at the earliest time (5), so a time split leaves no "
            "training ratings before its cutoff; lower valid_pct",
        ),
    ],
    ids=["one instant", "no training ratings"],
)
def test_what_cannot_be_split_in_time_is_refused(times: list[int], line: str) -> None:
    with pytest.raises(InputError) as caught:
        split_rows(timed(times), TrainConfig(split="time", valid_pct=0.5), "planted.csv")
    assert str(caught.value) == line


def test_a_time_split_needs_times() -> None:
    with pytest.raises(InputError) as caught:
        fit(as_ratings(timed(list(range(100))).drop(columns="timestamp")), TrainConfig(split="time", **SMALL))
    assert str(caught.value) == (
        "(in memory): split time needs a time for every rating, and this data has none; name the column with time_col"
    )


def test_ties_that_leave_less_than_a_batch_before_the_cutoff_are_refused() -> None:
    ratings = as_ratings(timed([1] * 10 + [2] * 90))  # the latest 20 begin at 2, where 90 ratings tie
    with pytest.raises(InputError) as caught:
        fit(ratings, TrainConfig(split="time", engine="learner", **SMALL))
    assert str(caught.value) == (
        "(in memory): too few ratings to train: the time split leaves 10 before its cutoff, fewer than one batch "
        "of bs 64"
    )


def test_the_config_refuses_an_unknown_split() -> None:
    with pytest.raises(InputError, match="^split must be auto, random, stable or time, not 'sideways'$"):
        TrainConfig(split="sideways")


@pytest.mark.parametrize(("engine", "loader"), [("learner", "lean"), ("learner", "fastai"), ("sparse", "lean")])
def test_every_engine_and_loader_scores_the_same_time_split(engine: str, loader: str) -> None:
    frame = planted_frame(n_users=40, n_items=20, density=0.6, seed=1).frame
    frame["timestamp"] = np.random.default_rng(5).integers(1_000, 1_100, size=len(frame)).astype(np.int64)
    ratings = as_ratings(frame)
    config = TrainConfig(split="time", engine=engine, loader=loader, **SMALL)
    model = fit(ratings, config)
    expected_train, expected_valid = split_rows(frame, config, "x")
    train, valid = (np.sort(r) for r in model.split)
    assert np.array_equal(train, expected_train) and np.array_equal(valid, expected_valid)
    cutoff = describe_split(frame, config, model.split).cutoff
    assert (frame["timestamp"].to_numpy()[train] < cutoff).all()
    assert (frame["timestamp"].to_numpy()[valid] >= cutoff).all()
    assert model.metrics.n_valid == len(expected_valid) >= int(0.2 * len(frame))


@pytest.mark.slow  # a launcher and two ranks, each importing torch
def test_every_torchrun_rank_trains_on_the_one_time_split(tmp_path: Path) -> None:
    frame = planted_frame(n_users=80, n_items=40, density=0.5, seed=3).frame
    frame["t"] = np.random.default_rng(6).integers(0, 500, size=len(frame)) + 1_700_000_000
    data = tmp_path / "timed.csv"
    frame.drop(columns="title").to_csv(data, index=False)
    common = ["--ratings", data, "--time-col", "t", "--split", "time", "--engine", "sparse", "--epochs", "2", "-q"]
    alone = invoke("build", *common, "-o", tmp_path / "one")
    assert alone.exit_code == 0, alone.output
    pair = subprocess.run(
        [sys.executable, "-m", "reportgen", "build", *map(str, common), "--nproc", "2", "-o", tmp_path / "two"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pair.returncode == 0, pair.stderr
    one, two = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("one", "two"))
    assert two["runtime"]["world_size"] == 2
    assert two["split"] == one["split"]  # the same cutoff, periods and counts on every rank
    times = frame["t"].to_numpy()
    assert one["split"]["n_valid"] == (times >= one["split"]["cutoff"]).sum() == two["metrics"]["n_valid"]
