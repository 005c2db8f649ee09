"""The large-data engine on small planted data: it learns, repeats itself, and matches fastai's bookkeeping."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from reportgen.cli import cli
from reportgen.errors import InputError
from reportgen.train import fitting as train
from reportgen.train import sparse as engine
from reportgen.train.config import ENGINES
from reportgen.train.splits import stable_held_out
from tests.helpers.planted import as_ratings


@dataclasses.dataclass(frozen=True)
class PlantedLowRank:
    frame: pd.DataFrame  # user, item, rating, title
    noise_floor: float  # RMSE of the noiseless planted score against the ratings


def planted_low_rank(
    n_users: int = 800, n_items: int = 400, n_ratings: int = 40_000, rank: int = 4, seed: int = 0
) -> PlantedLowRank:
    """Ratings 1–5: round(3.5 + b_u + b_i + p_u·q_i + N(0, 0.5)), distinct (user, item) pairs at random."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(n_users * n_items, size=n_ratings, replace=False)
    users, items = cells // n_items, cells % n_items
    p = rng.normal(0, (0.8**2 / rank) ** 0.25, (n_users, rank))
    q = rng.normal(0, (0.8**2 / rank) ** 0.25, (n_items, rank))
    score = 3.5 + rng.normal(0, 0.4, n_users)[users] + rng.normal(0, 0.5, n_items)[items] + (p[users] * q[items]).sum(1)
    rating = np.clip(np.rint(score + rng.normal(0, 0.5, n_ratings)), 1, 5)
    frame = pd.DataFrame({"user": users + 1, "item": items + 1, "rating": rating.astype(np.int64)})
    frame["title"] = "Item " + frame["item"].astype(str)
    return PlantedLowRank(frame, float(np.sqrt(np.mean((score - rating) ** 2))))


SPARSE = train.TrainConfig(engine="sparse", y_range=(1.0, 5.4))


@pytest.fixture(scope="module")
def planted() -> PlantedLowRank:
    return planted_low_rank()


@pytest.fixture(scope="module")
def fitted(planted: PlantedLowRank) -> tuple[train.TrainedModel, list[tuple[int, int]], list[float]]:
    epochs: list[tuple[int, int]] = []
    fractions: list[float] = []
    model = train.fit(
        as_ratings(planted.frame),
        SPARSE,
        on_epoch=lambda s, n: epochs.append((s.epoch, n)),
        on_progress=fractions.append,
    )
    return model, epochs, fractions


# --------------------------------------------------------------------------- learning


def test_sparse_engine_recovers_the_planted_structure(fitted, planted: PlantedLowRank) -> None:
    model, _, _ = fitted
    assert model.runtime is not None and model.runtime.engine == "sparse" and model.learner is None
    # Near the noise floor (no model can beat it on average), far below the ratings' spread.
    assert model.metrics.valid_rmse < planted.noise_floor + 0.06
    assert model.metrics.valid_rmse < 0.7 * planted.frame["rating"].std()


def test_every_epoch_is_reported_with_the_exact_validation_mse(fitted, planted: PlantedLowRank) -> None:
    model, epochs, fractions = fitted
    settings = model.runtime.settings
    assert epochs == [(e, settings["epochs"]) for e in range(1, settings["epochs"] + 1)]
    assert all(0 < f < 1 for f in fractions) and len(fractions) >= settings["epochs"]
    assert model.metrics.valid_mse == model.metrics.epochs[-1].valid_loss
    assert model.metrics.n_train + model.metrics.n_valid == len(planted.frame)
    # Own data: `auto` is the stable split, its held-out share a draw close to 0.2.
    assert model.config.split == "stable"
    assert model.metrics.n_valid == int(stable_held_out(planted.frame, 0.2, 42).sum()) == len(model.split[1])


@pytest.mark.parametrize("loop", ["torch", "auto"])  # auto: the compiled kernel, where numba loads
def test_train_sparse_trains_the_module_in_place_and_fastai_forward_agrees(planted: PlantedLowRank, loop: str) -> None:
    """Both loops train the module itself, and the valid loss is fastai's forward pass's MSE.

    A torch step is a batch; a kernel step is one rating."""
    import torch
    from fastai.collab import EmbeddingDotBias

    x, y, n_users, n_items = codes_of(planted.frame)
    train_rows, valid_rows = engine.split_indices(len(y), 0.2, 42)
    torch.manual_seed(0)
    module = EmbeddingDotBias(8, n_users, n_items, y_range=(1.0, 5.4))
    before = module.i_weight.weight.detach().clone()
    settings = engine.EngineSettings(epochs=3, lr=0.15, reg=0.02, bs=1024)
    fit = engine.train_sparse(
        module, x[train_rows], y[train_rows], x[valid_rows], y[valid_rows], settings, seed=1, loop=loop
    )
    assert not torch.equal(module.i_weight.weight, before)
    with torch.no_grad():
        pred = module(torch.from_numpy(x[valid_rows].astype(np.int64))).double().numpy()
    assert fit.epochs[-1].valid_loss == pytest.approx(np.mean((pred - y[valid_rows]) ** 2), rel=1e-5)
    if loop == "torch":
        assert fit.kernel == "torch" and fit.steps == 3 * -(-len(train_rows) // 1024)
    else:
        assert fit.kernel == "numba" and fit.steps == 3 * len(train_rows)


def codes_of(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int, int]:
    users = frame["user"].to_numpy()
    items = frame["item"].to_numpy()
    return np.stack([users, items], axis=1), frame["rating"].to_numpy(np.float32), users.max() + 1, items.max() + 1


# --------------------------------------------------------------------------- reproducibility


def test_the_same_seed_gives_the_same_numbers_and_another_seed_other_numbers(planted: PlantedLowRank) -> None:
    small = planted.frame.head(12_000)
    first, second = (train.fit(as_ratings(small), SPARSE) for _ in range(2))
    other = train.fit(as_ratings(small), dataclasses.replace(SPARSE, seed=7))
    assert [(e.train_loss, e.valid_loss) for e in first.metrics.epochs] == [
        (e.train_loss, e.valid_loss) for e in second.metrics.epochs
    ]
    np.testing.assert_array_equal(first.item_factors, second.item_factors)
    np.testing.assert_array_equal(first.user_biases, second.user_biases)
    assert other.metrics.valid_mse != first.metrics.valid_mse
    assert not np.array_equal(other.split[1], first.split[1])


# --------------------------------------------------------------------------- fastai's bookkeeping, at scale


@pytest.mark.parametrize(("n", "valid_pct", "seed"), [(1, 0.2, 42), (10, 0.2, 42), (1_000, 0.2, 42), (12_345, 0.25, 7)])
def test_split_indices_is_fastais_random_splitter(n: int, valid_pct: float, seed: int) -> None:
    from fastai.data.transforms import RandomSplitter

    expected_train, expected_valid = RandomSplitter(valid_pct, seed)(range(n))
    train_rows, valid_rows = engine.split_indices(n, valid_pct, seed)
    assert train_rows.tolist() == list(expected_train)
    assert valid_rows.tolist() == list(expected_valid)


@pytest.mark.parametrize(
    "values",
    [
        ["b", "a", "10", "9", "B", "é", "a", "Zed", "b", "only-valid"],  # str: Python's order, "10" before "9"
        [30, 4, 100, 4, 7, 30, 12, 5, 100, 999],  # int: numeric order
    ],
)
def test_encode_gives_category_maps_vocabulary_and_codes(values: list) -> None:
    from fastai.data.transforms import CategoryMap

    column = pd.Series(values)
    train_rows = np.arange(len(values) - 1)  # the last value occurs only outside training
    codes, vocabulary = engine.encode(column, train_rows)
    expected = CategoryMap(column.iloc[train_rows], add_na=True)
    assert vocabulary == list(expected.items)
    assert codes.tolist() == [expected.o2i[v] for v in values]
    assert codes[-1] == 0 and vocabulary[0] == "#na#"


def test_encode_sorts_a_categorical_column_by_value_too() -> None:
    column = pd.Series(pd.Categorical(["b", "c", "a", "c"], categories=["c", "b", "a", "unused"]))
    codes, vocabulary = engine.encode(column, np.array([0, 1, 2, 3]))
    assert vocabulary == ["#na#", "a", "b", "c"]
    assert codes.tolist() == [2, 3, 1, 3]


# --------------------------------------------------------------------------- the rules


def test_choose_engine_keeps_fastai_below_the_threshold_and_sparse_from_it() -> None:
    assert engine.choose_engine(100_000) == "learner"  # ML-100k keeps the tutorial's path
    assert engine.choose_engine(engine.SPARSE_MIN_RATINGS - 1) == "learner"
    assert engine.choose_engine(engine.SPARSE_MIN_RATINGS) == "sparse"
    assert engine.choose_engine(25_000_095) == "sparse"


def test_auto_engine_follows_the_rule_and_the_tutorials_loader_stays_on_fastai() -> None:
    config = train.TrainConfig()
    assert train.resolve_engine(config, engine.SPARSE_MIN_RATINGS) == "sparse"
    assert train.resolve_engine(config, 100_000) == "learner"
    assert train.resolve_engine(dataclasses.replace(config, loader="fastai"), 10**7) == "learner"
    assert train.resolve_engine(dataclasses.replace(config, engine="sparse"), 1_000) == "sparse"


def test_the_engine_once_called_lean_is_learner_and_the_old_name_still_works() -> None:
    """ "lean" named fastai's Learner as an engine and the loader that feeds it; the engine is "learner" now."""
    assert ENGINES == ("auto", "learner", "sparse")
    assert train.TrainConfig(engine="lean").engine == "learner"
    assert train.TrainConfig(engine="lean") == train.TrainConfig(engine="learner")
    assert train.TrainConfig.from_preset("fast", engine="lean").run_dict()["engine"] == "learner"
    assert train.resolve_engine(train.TrainConfig(engine="lean"), 10**7) == "learner"
    with pytest.raises(InputError, match="^engine must be auto, learner or sparse, not 'turbo'$"):
        train.TrainConfig(engine="turbo")


@pytest.mark.parametrize("n_train", [800, 800_000, 8_000_000, 20_000_000, 10**9])
def test_auto_settings_batches_grow_with_the_data_within_bounds(n_train: int) -> None:
    s = engine.auto_settings(n_train, 1_000, 1_000, 50)
    assert s.bs & (s.bs - 1) == 0  # a power of two
    assert engine.MIN_BS <= s.bs <= engine.MAX_BS
    if engine.MIN_BS < s.bs < engine.MAX_BS:
        assert engine.STEPS_PER_EPOCH / 1.5 <= n_train / s.bs <= engine.STEPS_PER_EPOCH * 1.5
    assert s.epochs == (8 if n_train <= engine.LARGE_TRAIN else 6) and s.lr > 0 and s.reg > 0


# --------------------------------------------------------------------------- end to end


def tiny_csv(planted: PlantedLowRank, folder: Path) -> Path:
    """The first 6,000 planted ratings as a user,item,rating file."""
    csv = folder / "tiny.csv"
    planted.frame.head(6_000)[["user", "item", "rating"]].to_csv(csv, index=False)
    return csv


@pytest.mark.usefixtures("undrawn")
def test_build_with_the_sparse_engine_writes_the_same_report_sections(planted: PlantedLowRank, tmp_path: Path) -> None:
    csv = tiny_csv(planted, tmp_path)
    docs = {}
    for name in ("learner", "sparse"):
        out = tmp_path / name
        args = [
            "build",
            "--ratings",
            str(csv),
            "-o",
            str(out),
            "-q",
            "--engine",
            name,
            "--factors",
            "8",
            "--top-n",
            "50",
        ]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        docs[name] = json.loads((out / "report.json").read_text())
    assert docs["sparse"].keys() == docs["learner"].keys()
    assert docs["sparse"]["runtime"]["engine"] == "sparse"
    assert docs["learner"]["runtime"]["engine"] == docs["learner"]["run"]["engine"] == "learner"
    assert docs["sparse"]["runtime"]["settings"]["bs"] >= engine.MIN_BS


@pytest.mark.usefixtures("undrawn")
def test_chosen_epochs_are_honoured_and_a_chosen_learner_setting_is_named_as_unused(
    planted: PlantedLowRank, tmp_path: Path
) -> None:
    """`--epochs 2` is a short run on either engine; `--lr` and `--bs` are the Learner's, and the run says so."""
    csv = tiny_csv(planted, tmp_path)
    out = tmp_path / "out"
    args = ["build", "--ratings", csv, "-o", out, "--engine", "sparse", "--factors", "8", "--top-n", "50"]
    result = CliRunner().invoke(cli, [str(a) for a in [*args, "--epochs", "2", "--lr", "0.01", "--bs", "128"]])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "report.json").read_text())
    settings = doc["runtime"]["settings"]
    assert settings["epochs"] == len(doc["metrics"]["epochs"]) == 2
    # The engine's own rate trained; the config says what was asked.
    assert (settings["lr"], doc["config"]["lr"]) == (0.15, 0.01)
    unused = [
        "--lr 0.01 is for fastai's Learner: the sparse engine trained with its own learning rate 0.15 "
        "(--engine learner uses yours)",
        f"--bs 128 is for fastai's Learner: the sparse engine trained with its own batch size {settings['bs']} "
        "(--engine learner uses yours)",
    ]
    assert [n for n in doc["notes"] if "fastai's Learner" in n] == unused
    assert [line.split(" ", 1)[1] for line in result.stderr.splitlines() if "fastai's Learner" in line] == [
        f"warning: {note}" for note in unused
    ]
    page = " ".join(BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser").get_text().split())
    assert all(note in page for note in unused)

    plain = CliRunner().invoke(cli, [str(a) for a in [*args, "-o", tmp_path / "plain", "-q"]])
    assert plain.exit_code == 0, plain.output
    plain_doc = json.loads((tmp_path / "plain" / "report.json").read_text())
    assert plain_doc["runtime"]["settings"]["epochs"] == 8 and not any("Learner" in n for n in plain_doc["notes"])
