"""The sparse engine's compiled kernel: the block grid, the same bits on any thread count, accuracy, the fallback."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup

from reportgen.errors import RunError
from reportgen.train import fitting as train
from reportgen.train import kernel, sparse_loop
from reportgen.train import sparse as engine
from tests.helpers.commands import invoke
from tests.helpers.planted import as_ratings
from tests.train.test_sparse import SPARSE, PlantedLowRank, codes_of, planted_low_rank

SETTINGS = engine.EngineSettings(epochs=4, lr=0.15, reg=0.02, bs=1024)


@pytest.fixture(scope="module")
def planted() -> PlantedLowRank:
    """20,000 planted ratings (600 users x 300 items, rank 4)."""
    return planted_low_rank(n_users=600, n_items=300, n_ratings=20_000)


def train_module(planted: PlantedLowRank, *, seed: int, threads: int, epochs: int = 4) -> tuple[dict, float]:
    """The four weight tables after `train_sparse` by the kernel on the planted ratings, and the valid RMSE."""
    import torch
    from fastai.collab import EmbeddingDotBias

    x, y, n_users, n_items = codes_of(planted.frame)
    train_rows, valid_rows = engine.split_indices(len(y), 0.2, 42)
    torch.manual_seed(0)
    module = EmbeddingDotBias(16, n_users, n_items, y_range=(1.0, 5.4))
    settings = engine.EngineSettings(epochs=epochs, lr=0.15, reg=0.02, bs=1024)
    fit = engine.train_sparse(
        module, x[train_rows], y[train_rows], x[valid_rows], y[valid_rows], settings, seed=seed, threads=threads
    )
    assert fit.kernel == "numba" and fit.steps == epochs * len(train_rows)
    weights = {name: p.detach().numpy().copy() for name, p in module.state_dict().items()}
    return weights, fit.epochs[-1].valid_loss ** 0.5


def test_the_same_seed_gives_the_same_bits_on_one_and_two_threads_and_another_seed_other_ones(
    planted: PlantedLowRank,
) -> None:
    one, rmse_one = train_module(planted, seed=3, threads=1)
    two, rmse_two = train_module(planted, seed=3, threads=2)
    again, rmse_again = train_module(planted, seed=3, threads=2)
    other, rmse_other = train_module(planted, seed=4, threads=2)
    assert one.keys() == {"u_weight.weight", "i_weight.weight", "u_bias.weight", "i_bias.weight"}
    for name in one:
        np.testing.assert_array_equal(one[name], two[name], err_msg=name)
        np.testing.assert_array_equal(two[name], again[name], err_msg=name)
    assert rmse_one == rmse_two == rmse_again
    assert not np.array_equal(other["u_weight.weight"], one["u_weight.weight"]) and rmse_other != rmse_one


def test_the_kernel_recovers_the_planted_structure_near_the_noise_floor() -> None:
    """On 40,000 planted ratings (800 users x 400 items) as the torch loop's test: 0.625 against its 0.622."""
    planted = planted_low_rank()
    model = train.fit(as_ratings(planted.frame), SPARSE)
    assert model.runtime is not None and model.runtime.kernel == "numba"
    assert model.runtime.threads == engine.default_threads("cpu")
    # No model beats the noise floor (0.583) on average; 50 factors on 40 ratings a user stay within 0.06 of it.
    assert model.metrics.valid_rmse < planted.noise_floor + 0.06
    assert model.metrics.valid_rmse < 0.7 * planted.frame["rating"].std()


def test_every_rating_lands_in_one_block_and_a_strata_blocks_share_no_user_or_item() -> None:
    rng = np.random.default_rng(5)
    n_users, n_items, n, grid = 500, 200, 30_000, kernel.GRID
    users = rng.integers(0, n_users, n).astype(np.int32)
    items = rng.integers(0, n_items, n).astype(np.int32)
    ratings = rng.integers(1, 6, n).astype(np.float32)
    user_group = (rng.permutation(n_users) * grid // n_users).astype(np.int64)
    item_group = (rng.permutation(n_items) * grid // n_items).astype(np.int64)
    su, si, sr, starts = kernel.block_sort(users, items, ratings, user_group, item_group, grid)
    assert starts[0] == 0 and starts[-1] == n and np.all(np.diff(starts) >= 0)
    # The same ratings, each once.
    before = sorted(zip(users.tolist(), items.tolist(), ratings.tolist(), strict=True))
    assert sorted(zip(su.tolist(), si.tolist(), sr.tolist(), strict=True)) == before
    blocks = {}
    for b in range(grid * grid):
        part = slice(starts[b], starts[b + 1])
        assert set(user_group[su[part]].tolist()) <= {b // grid} and set(item_group[si[part]].tolist()) <= {b % grid}
        blocks[b] = (set(su[part].tolist()), set(si[part].tolist()))
    seen = []
    for shift in range(grid):
        stratum = [b * grid + (b + shift) % grid for b in range(grid)]
        seen += stratum
        for a in stratum:
            for b in stratum:
                if a != b:
                    assert not blocks[a][0] & blocks[b][0] and not blocks[a][1] & blocks[b][1]
    assert sorted(seen) == list(range(grid * grid))  # an epoch's strata take every block once


@pytest.fixture
def no_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    """numba unimportable, and the kernel module not yet imported: as on a machine without numba."""
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "reportgen.train.kernel")
    monkeypatch.delattr("reportgen.train.kernel")


@pytest.mark.usefixtures("no_numba")
def test_without_numba_the_torch_loop_trains_after_one_warning(
    planted: PlantedLowRank, caplog: pytest.LogCaptureFixture
) -> None:
    assert sparse_loop.load_kernel() is None
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=sparse_loop.__name__):
        model = train.fit(as_ratings(planted.frame), SPARSE)
    warned = [r.getMessage() for r in caplog.records if r.name == sparse_loop.__name__]
    assert warned == [
        "the compiled sparse kernel is unavailable (ModuleNotFoundError: import of numba halted; None in sys.modules); "
        "training with the torch loop"
    ]
    assert model.runtime is not None and model.runtime.kernel == "torch"
    assert model.metrics.valid_rmse < 0.8 * planted.frame["rating"].std()  # it learned (20,000 ratings: 0.72)


@pytest.mark.usefixtures("undrawn")
@pytest.mark.parametrize("numba", ["present", "missing"])
def test_the_page_says_which_loop_trained(
    numba: str, planted: PlantedLowRank, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if numba == "missing":
        request.getfixturevalue("no_numba")
    csv = tmp_path / "tiny.csv"
    planted.frame.head(6_000)[["user", "item", "rating"]].to_csv(csv, index=False)
    result = invoke("build", "--ratings", csv, "-o", tmp_path / "out", "-q", "--engine", "sparse", "--factors", "8")
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "out" / "report.json").read_text())
    page = BeautifulSoup((tmp_path / "out" / "report.html").read_text(encoding="utf-8"), "html.parser")
    row = next(tr for tr in page.find_all("tr") if tr.th is not None and tr.th.get_text() == "Training path")
    path = " ".join(row.td.get_text().split())  # the thin spaces between thousands read as spaces
    threads = doc["runtime"]["threads"]
    n_train = doc["metrics"]["n_train"]  # own data: the stable split's training share, close to 4,800 of 6,000
    if numba == "present":
        assert doc["runtime"]["kernel"] == "numba"
        assert path == (
            "sparse engine (compiled kernel (numba), a step per rating, 8 epochs, Adagrad lr 0.15, L2 0.02), "
            f"on cpu with {threads} thread{'s' if threads != 1 else ''}, "
            + f"{8 * n_train:,}".replace(",", " ")
            + " optimizer steps"  # a step per training rating, 8 epochs
        )
    else:
        assert doc["runtime"]["kernel"] == "torch" and threads == engine.CPU_THREADS == 1
        bs = doc["runtime"]["settings"]["bs"]
        assert path == (
            "sparse engine (torch loop, batch size "
            + f"{bs:,}".replace(",", " ")
            + ", 8 epochs, Adagrad lr 0.15, L2 0.02), "
            + f"on cpu with 1 thread, {8 * -(-n_train // bs)} optimizer steps"
        )


def test_a_diverging_fit_stops_with_the_torch_loops_error(planted: PlantedLowRank) -> None:
    import torch
    from fastai.collab import EmbeddingDotBias

    x, y, n_users, n_items = codes_of(planted.frame)
    module = EmbeddingDotBias(4, n_users, n_items, y_range=(1.0, 5.4))
    settings = engine.EngineSettings(epochs=2, lr=float("inf"), reg=0.02, bs=1024)
    with pytest.raises(RunError) as caught:
        engine.train_sparse(module, x, y, x[:10], y[:10], settings, seed=1)
    assert str(caught.value) == ("training diverged: epoch 1 ended with train loss nan; try a smaller learning rate")
    assert not torch.isfinite(module.u_weight.weight).all()  # what it reached is written back, as the torch loop does


def test_fewer_users_and_items_than_the_grid_has_groups_still_train_every_rating() -> None:
    """12 items and 25 users across 32 groups each: most blocks are empty, and every rating still steps once."""
    from fastai.collab import EmbeddingDotBias

    small = planted_low_rank(n_users=25, n_items=12, n_ratings=200)
    x, y, n_users, n_items = codes_of(small.frame)
    module = EmbeddingDotBias(4, n_users, n_items, y_range=(1.0, 5.4))
    fit = engine.train_sparse(module, x[:160], y[:160], x[160:], y[160:], SETTINGS, seed=2, threads=2)
    assert kernel.GRID > max(n_users, n_items) and fit.kernel == "numba" and fit.steps == 4 * 160
    assert fit.epochs[-1].train_loss < fit.epochs[0].train_loss and np.isfinite(fit.epochs[-1].valid_loss)
