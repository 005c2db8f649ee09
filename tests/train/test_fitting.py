"""The real fastai training on a small table with planted structure (seconds, not minutes)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reportgen import train
from reportgen.analysis import findings as analysis
from reportgen.errors import InputError
from reportgen.train.config import LOADERS
from tests.helpers.planted import AWFUL, GREAT, Planted, as_ratings

CONFIG = train.TrainConfig(epochs=4, lr=1e-2, factors=8, bs=64)


@pytest.fixture(scope="module")
def fitted(planted: Planted) -> tuple[train.TrainedModel, list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []
    model = train.fit(as_ratings(planted.frame), CONFIG, on_epoch=lambda s, n: calls.append((s.epoch, n)))
    return model, calls


def test_fit_reports_each_epoch_and_the_final_validation_error(fitted, planted: Planted) -> None:
    model, calls = fitted
    m = model.metrics
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [e.epoch for e in m.epochs] == [1, 2, 3, 4]
    assert all(e.seconds > 0 and np.isfinite(e.train_loss) for e in m.epochs)
    assert m.valid_mse == m.epochs[-1].valid_loss
    assert m.valid_rmse == pytest.approx(m.valid_mse**0.5)
    assert m.n_train + m.n_valid == len(planted.frame)
    # Own data: `auto` is the stable split, which holds out each rating with probability 0.2, so about a fifth.
    n = len(planted.frame)
    assert model.config.split == "stable" and abs(m.n_valid - 0.2 * n) <= 4 * (0.2 * 0.8 * n) ** 0.5
    # Far better than predicting the global mean: the model learned the planted structure.
    assert m.valid_mse < 0.6 * planted.frame["rating"].var()


def test_model_exposes_its_own_item_vocabulary_with_factors_and_biases(fitted, planted: Planted) -> None:
    model, _ = fitted
    assert model.item_classes[0] == "#na#"
    assert set(model.item_classes[1:]) == set(planted.titles.values())
    assert model.item_factors.shape == (len(model.item_classes), CONFIG.factors)
    assert model.item_biases.shape == (len(model.item_classes),)


def test_planted_high_and_low_bias_items_come_out_at_the_ends(fitted, planted: Planted) -> None:
    model, _ = fitted
    f = analysis.analyse(as_ratings(planted.frame), model, top_n=1000, n_extremes=len(GREAT))
    assert {s.title for s in f.best} == set(GREAT)
    assert {s.title for s in f.worst} == set(AWFUL)
    assert f.best[0].bias > 0 > f.worst[0].bias


@pytest.mark.parametrize("loader", LOADERS)
def test_same_data_and_seed_give_the_same_numbers(fitted, planted: Planted, loader: str) -> None:
    config = dataclasses.replace(CONFIG, loader=loader)
    first = fitted[0] if config == CONFIG else train.fit(as_ratings(planted.frame), config)
    second = train.fit(as_ratings(planted.frame), config)
    assert second.metrics.epochs[-1].valid_loss == first.metrics.epochs[-1].valid_loss
    assert [(e.train_loss, e.valid_loss) for e in second.metrics.epochs] == [
        (e.train_loss, e.valid_loss) for e in first.metrics.epochs
    ]
    np.testing.assert_array_equal(second.item_factors, first.item_factors)
    np.testing.assert_array_equal(second.item_biases, first.item_biases)


def test_another_seed_gives_another_split_and_other_numbers(fitted, planted: Planted) -> None:
    first, _ = fitted
    other = train.fit(
        as_ratings(planted.frame), train.TrainConfig(**{**CONFIG.as_dict(), "y_range": (0.0, 5.5), "seed": 7})
    )
    assert other.metrics.valid_mse != first.metrics.valid_mse


def test_fewer_ratings_than_one_batch_is_an_input_error(planted: Planted) -> None:
    tiny = planted.frame.head(40)
    with pytest.raises(InputError) as err:
        train.fit(as_ratings(tiny), CONFIG)
    assert str(err.value) == (
        "(in memory): too few ratings to train: 40 leave 32 in the training split, fewer than one batch of bs 64"
    )
