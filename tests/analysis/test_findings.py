"""The analyse stage on hand-made models: ranking, biases, PCA and its sign rule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from reportgen.analysis import factors
from reportgen.analysis import findings as analysis
from reportgen.train.config import TrainConfig
from reportgen.train.results import Metrics, TrainedModel
from tests.helpers.planted import as_ratings


def model_with(classes: list[str], biases: list[float], factors: np.ndarray) -> TrainedModel:
    return TrainedModel(
        learner=None,
        config=TrainConfig(factors=factors.shape[1]),
        item_classes=("#na#", *classes),
        item_factors=np.vstack([np.zeros(factors.shape[1]), factors]),
        item_biases=np.array([0.0, *biases]),
        metrics=Metrics(valid_mse=0.0, valid_rmse=0.0, n_train=0, n_valid=0, epochs=()),
        seconds=0.0,
    )


def analyse(frame: pd.DataFrame, model: TrainedModel, **options: int) -> analysis.Analysis:
    """`analysis.analyse` with the hand-made model trained (and validated) on every rating of `frame`."""
    rows = np.arange(len(frame))
    users = sorted(frame["user"].unique())
    codes = np.column_stack(
        [
            pd.Index(users).get_indexer(frame["user"]) + 1,
            pd.Index(model.item_classes[1:]).get_indexer(frame["title"]) + 1,  # 0: unknown to the model
        ]
    )
    model = dataclasses.replace(
        model,
        split=(rows, rows),
        user_classes=("#na#", *map(str, users)),
        user_biases=np.zeros(len(users) + 1),
        user_factors=np.zeros((len(users) + 1, model.item_factors.shape[1])),
        codes=codes,
    )
    return analysis.analyse(as_ratings(frame), model, **options)


def ratings_for(counts: dict[str, list[int]]) -> pd.DataFrame:
    rows = [(user, title, r) for title, values in counts.items() for user, r in enumerate(values)]
    frame = pd.DataFrame(rows, columns=["user", "title", "rating"])
    frame["item"] = frame["title"].rank(method="dense").astype(int)
    return frame[["user", "item", "rating", "title"]]


@pytest.fixture
def small() -> tuple[pd.DataFrame, TrainedModel]:
    frame = ratings_for(
        {
            "Often (2000)": [5, 4, 5, 4, 5],
            "Tied B (2001)": [1, 2, 1],
            "Tied A (2001)": [3, 3, 3],
            "Rare (1999)": [4],
            "Validation Only (1998)": [2, 2, 2, 2, 2, 2],  # most rated, but unknown to the model
        }
    )
    rng = np.random.default_rng(1)
    model = model_with(
        ["Often (2000)", "Rare (1999)", "Tied A (2001)", "Tied B (2001)"],
        [0.9, 0.1, -0.2, -0.8],
        rng.normal(size=(4, 5)),
    )
    return frame, model


def test_top_items_rank_by_count_then_title_and_skip_items_the_model_never_saw(small) -> None:
    frame, model = small
    f = analyse(frame, model, top_n=10, n_extremes=2)
    assert f.top_items == ("Often (2000)", "Tied A (2001)", "Tied B (2001)", "Rare (1999)")
    assert f.unknown_to_model == 1
    assert f.top_n_requested == 10


def test_only_a_top_n_the_caller_chose_warns_that_the_model_knows_fewer_items(small) -> None:
    frame, model = small
    chosen = analyse(frame, model, top_n=10, n_extremes=2)
    assert chosen.top_n_clamped and chosen.notes[0] == (
        "--top-n 10 is more than the 4 items the model knows, so all 4 were analysed"
    )
    default = analyse(frame, model, n_extremes=2)  # top_n left at its default: 1000, on four items
    assert (default.top_n_requested, default.top_items) == (1000, chosen.top_items)
    assert default.top_n_clamped and not any("--top-n" in note for note in default.notes)


def test_biases_come_from_the_model_and_means_and_counts_from_the_data(small) -> None:
    frame, model = small
    f = analyse(frame, model, top_n=10, n_extremes=2)
    assert [(s.title, s.bias, s.mean_rating, s.count) for s in f.best] == [
        ("Often (2000)", 0.9, 4.6, 5),
        ("Rare (1999)", 0.1, 4.0, 1),
    ]
    assert [(s.title, s.bias, round(s.mean_rating, 4), s.count) for s in f.worst] == [
        ("Tied B (2001)", -0.8, 1.3333, 3),
        ("Tied A (2001)", -0.2, 3.0, 3),
    ]


def test_top_n_limits_what_is_analysed(small) -> None:
    frame, model = small
    f = analyse(frame, model, top_n=2, n_extremes=15)
    assert f.top_items == ("Often (2000)", "Tied A (2001)")
    assert [s.title for s in f.best] == ["Often (2000)", "Tied A (2001)"]
    assert len(f.scatter) == 2


def test_pca_matches_fastai_tensor_pca_up_to_sign() -> None:
    import torch
    from fastai.torch_core import TensorBase  # noqa: F401  (patches Tensor.pca)

    x = np.random.default_rng(3).normal(size=(40, 8))
    ours, ratios = factors.pca(x, 3, 3)
    theirs = torch.tensor(x).pca(3).numpy()
    np.testing.assert_allclose(np.abs(ours), np.abs(theirs), atol=1e-9)
    assert ratios[0] >= ratios[1] >= ratios[2] > 0
    assert ratios.sum() <= 1


def test_pca_sign_rule_survives_sign_flips_and_rotations_of_the_factor_space() -> None:
    """A retrained model may learn the same geometry rotated or mirrored; the report must not flip."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 6)) * np.array([5, 3, 2, 1, 0.5, 0.2])
    reference, ratios = factors.pca(x, 3, 3)
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    for variant in (-x, x @ rotation, -(x @ rotation), x[:, ::-1]):
        scores, variant_ratios = factors.pca(variant, 3, 3)
        np.testing.assert_allclose(scores, reference, atol=1e-9)
        np.testing.assert_allclose(variant_ratios, ratios, atol=1e-12)
    anchors = np.abs(reference).argmax(axis=0)
    assert all(reference[anchors[c], c] > 0 for c in range(3))


def test_components_list_highest_and_lowest_scores_and_the_scatter_uses_components_0_and_2() -> None:
    titles = [f"Item {i:02d}" for i in range(30)]
    rng = np.random.default_rng(11)
    model = model_with(titles, list(rng.normal(size=30)), rng.normal(size=(30, 6)))
    frame = ratings_for({t: [3] * (40 - i) for i, t in enumerate(titles)})
    f = analyse(frame, model, top_n=30, n_component_items=10, n_scatter=12)
    scores, ratios = factors.pca(model.item_factors[1:], 3, 3)

    assert len(f.components) == 3
    for c in f.components:
        column = scores[:, c.index]
        assert [s.title for s in c.top] == [titles[i] for i in np.argsort(-column)[:10]]
        assert [s.title for s in c.bottom] == [titles[i] for i in np.argsort(column)[:10]]
        assert c.top[0].score == pytest.approx(column.max())
        assert c.explained_variance_ratio == pytest.approx(ratios[c.index])
    assert f.scatter_axes == (0, 2)
    assert [(p.title, p.x, p.y) for p in f.scatter] == [
        (titles[i], pytest.approx(scores[i, 0]), pytest.approx(scores[i, 2])) for i in range(12)
    ]
