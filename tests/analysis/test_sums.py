"""The analysis's compiled passes give numpy's and pandas' numbers to the last bit, whichever runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reportgen.analysis import baselines, sums
from reportgen.analysis.inputs import SplitRatings


def ratings_frame(seed: int, n: int = 20_000, nan: bool = False) -> pd.DataFrame:
    """Skewed users and titles (a few with most of the ratings), ratings on a half-star scale; categories unseen too."""
    rng = np.random.default_rng(seed)
    users = pd.Categorical(rng.zipf(1.4, n) % 700, categories=range(720))
    titles = pd.Categorical(
        [f"Title {t}" for t in rng.zipf(1.3, n) % 300], categories=[f"Title {t}" for t in range(310)]
    )
    rating = rng.integers(2, 11, n) / 2.0 + rng.normal(0, 1e-3, n) * (seed % 2)  # odd seeds: ugly decimals
    if nan:
        rating[rng.random(n) < 0.05] = np.nan
        rating[np.asarray(users) == 3] = np.nan  # a user with nothing but NaN
    return pd.DataFrame({"user": users, "title": titles, "rating": rating})


def same_series(a: pd.Series, b: pd.Series) -> None:
    a, b = (pd.Series(s.to_numpy(), index=list(s.index)).sort_index() for s in (a, b))  # plain or categorical index
    assert list(a.index) == list(b.index)
    assert a.to_numpy().tobytes() == b.to_numpy().tobytes()  # the same bits, NaN included


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_counts_and_means_by_title_are_pandas_groupby_to_the_bit(seed: int) -> None:
    frame = ratings_frame(seed, nan=seed == 2)
    compiled = sums.counts_and_means(frame["title"], frame["rating"], compiled=True)
    plain = sums.counts_and_means(frame["title"], frame["rating"], compiled=False)
    for ours, theirs in zip(compiled, plain):
        same_series(ours, theirs)
    grouped = frame.groupby("title", observed=True)["rating"]  # the plain path is pandas' own groupby
    same_series(plain[0], grouped.count())
    same_series(plain[1], grouped.mean())
    assert len(plain[0]) < 310  # only the titles that occur


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_raters_means_are_pandas_transform_then_mean_to_the_bit(seed: int) -> None:
    frame = ratings_frame(seed, nan=seed == 2)
    compiled = sums.raters_means(frame["user"], frame["title"], frame["rating"], compiled=True)
    plain = sums.raters_means(frame["user"], frame["title"], frame["rating"], compiled=False)
    same_series(compiled, plain)
    own = frame.groupby("user", observed=True)["rating"].transform("mean")
    expected = frame.assign(own=own).groupby("title", observed=True)["own"].mean()
    same_series(plain, expected)


def test_a_label_that_is_not_categorical_takes_pandas_path() -> None:
    frame = ratings_frame(0).astype({"title": str})
    counts, means = sums.counts_and_means(frame["title"], frame["rating"], compiled=True)
    same_series(means, frame.groupby("title")["rating"].mean())


@pytest.mark.parametrize("seed", [0, 1])
def test_the_baselines_sweeps_are_the_bincount_sweeps_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30_000
    codes = np.column_stack([rng.zipf(1.5, n) % 400, rng.zipf(1.3, n) % 250])  # code 0: unseen
    ratings = rng.integers(1, 6, n) + rng.normal(0, 0.01, n)
    split = SplitRatings.gather(codes, ratings, (np.arange(0, n, 2)[::-1], np.arange(1, n, 2)))
    tu, ti = split.train_users, split.train_items
    centred = split.train_ratings - split.train_ratings.mean()
    shrink = (10.0 + np.bincount(tu, minlength=400), 25.0 + np.bincount(ti, minlength=250))
    compiled = sums.bias_sweeps(tu, ti, centred, *shrink, 5, compiled=True)
    plain = sums.bias_sweeps(tu, ti, centred, *shrink, 5, compiled=False)
    for ours, theirs in zip(compiled, plain):
        assert ours.tobytes() == theirs.tobytes()
    assert plain[0][0] == plain[1][0] == 0.0 and np.abs(plain[1]).max() > 0.05
    # Undamped, code 0 divides 0 by 0 on both paths and is still set to 0.
    zero = (np.bincount(tu, minlength=400) + 0.0, np.bincount(ti, minlength=250) + 0.0)
    for ours, theirs in zip(*(sums.bias_sweeps(tu, ti, centred, *zero, 3, compiled=c) for c in (True, False))):
        assert ours.tobytes() == theirs.tobytes() and ours[0] == 0.0


def test_the_compiled_passes_run_only_from_a_million_ratings(monkeypatch: pytest.MonkeyPatch) -> None:
    """At ML-100k's size numpy and pandas run (importing numba would cost more than it saves); same numbers either way."""
    calls = []
    monkeypatch.setattr(sums, "_compiled", lambda: calls.append(1) or None)
    frame = ratings_frame(0)
    sums.counts_and_means(frame["title"], frame["rating"])
    assert calls == []
    monkeypatch.setattr(sums, "COMPILED_FROM", 10)
    sums.counts_and_means(frame["title"], frame["rating"])  # asks for the loops; none load: pandas answers
    assert calls == [1]
    guesses = baselines.guess(
        SplitRatings.gather(np.array([[1, 1], [1, 2], [2, 1]]), np.array([4.0, 2.0, 5.0]), (np.arange(3), np.arange(3)))
    )
    assert np.isfinite(guesses.bias_only).all()


def test_shared_out_passes_give_the_numbers_of_one_thread() -> None:
    """Gathers and predictions on two threads, in small chunks: the bits of one thread and of numpy's plain indexing."""
    from reportgen.analysis import quality
    from reportgen.analysis.workers import workers

    rng = np.random.default_rng(7)
    n = 50_000
    codes = np.column_stack([rng.integers(0, 300, n), rng.integers(0, 200, n)])
    ratings = rng.integers(1, 6, n).astype(float)
    split = (rng.permutation(n)[:40_000], rng.permutation(n)[:10_000])
    uf, itf = rng.normal(0, 0.3, (300, 8)).astype(np.float32), rng.normal(0, 0.3, (200, 8)).astype(np.float32)
    ub, ib = rng.normal(0, 0.3, 300).astype(np.float32), rng.normal(0, 0.3, 200).astype(np.float32)
    with workers(2) as pool:
        shared = SplitRatings.gather(codes, ratings, split, pool)
        predicted = quality.predict(shared.valid_users, shared.valid_items, uf, ub, itf, ib, (0, 5.5), pool, chunk=999)
    alone = SplitRatings.gather(codes, ratings, split)
    assert shared.train_users.tobytes() == codes[split[0], 0].tobytes() == alone.train_users.tobytes()
    assert shared.valid_ratings.tobytes() == ratings[split[1]].tobytes()
    vu, vi = codes[split[1], 0], codes[split[1], 1]
    raw = np.einsum("ij,ij->i", uf[vu], itf[vi]) + ub[vu] + ib[vi]
    assert predicted.tobytes() == (0 + 5.5 / (1.0 + np.exp(-raw))).astype(np.float64).tobytes()


def test_workers_hand_back_results_in_order_and_the_first_error_after_all_have_run() -> None:
    from reportgen.analysis.workers import workers

    ran = []

    def boom() -> None:
        raise ValueError("bad pass")

    for threads in (1, 2):
        with workers(threads) as pool:
            assert pool.all([lambda i=i: i * i for i in range(20)]) == [i * i for i in range(20)]
            with pytest.raises(ValueError, match="bad pass"):
                pool.all([boom, lambda t=threads: ran.append(t)])
    assert ran == [1, 2]
