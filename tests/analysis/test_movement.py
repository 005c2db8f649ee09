"""What moved in the factor space: Procrustes alignment, movers, neighbourhoods, the explorer's before positions."""

from __future__ import annotations

import numpy as np
import pytest

from reportgen.analysis import factors, movement
from reportgen.analysis.movement import align
from reportgen.train.results import FactorModel, Weights
from tests.analysis.test_findings import analyse, model_with, ratings_for

TITLES = [f"Item {i:03d}" for i in range(60)]


def factor_model(titles: list[str], vectors: np.ndarray) -> FactorModel:
    """A model that knows `titles` (after fastai's `#na#`) with these item vectors; users play no part."""
    k = vectors.shape[1]
    weights = Weights(
        item_factors=np.vstack([np.zeros(k), vectors]),
        item_biases=np.zeros(len(titles) + 1),
        user_factors=np.zeros((1, k)),
        user_biases=np.zeros(1),
    )
    return FactorModel(users=("#na#",), items=("#na#", *titles), weights=weights, y_range=None)


def space(seed: int = 5, n: int = 60, k: int = 8) -> np.ndarray:
    """Item vectors with a few strong directions and an offset from the origin, as trained factors have."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, k)) * np.linspace(2.0, 0.3, k) + rng.normal(size=k)


def orthogonal(k: int, seed: int = 11, mirror: bool = False) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(k, k)))
    if mirror != (np.linalg.det(q) < 0):
        q[:, 0] = -q[:, 0]
    return q


def test_a_model_compared_with_itself_agrees_fully_and_nothing_moved() -> None:
    model = factor_model(TITLES, space())
    moved = movement.movement(model, model, TITLES)
    assert moved is not None
    assert moved.common == 60 and moved.only_tonight == moved.only_baseline == 0
    assert moved.n_factors == (8, 8)
    assert moved.agreement == pytest.approx(1.0, abs=1e-12)
    assert moved.spread_ratio == pytest.approx(1.0, abs=1e-12)
    assert len(moved.movers) == movement.N_MOVERS
    assert all(m.displacement == pytest.approx(0.0, abs=1e-9) for m in moved.movers)
    assert moved.mean_overlap == 1.0 and moved.n_neighbours == 5
    assert moved.neighbours_changed == ()  # only items whose neighbours changed are listed


@pytest.mark.parametrize("mirror", [False, True], ids=["rotation", "rotation and mirror"])
def test_an_exact_rotation_of_the_space_is_undone_and_counts_as_no_change(mirror: bool) -> None:
    vectors = space()
    q = orthogonal(8, mirror=mirror)
    tonight, baseline = factor_model(TITLES, vectors), factor_model(TITLES, vectors @ q)
    fit = align(vectors @ q, vectors)
    np.testing.assert_allclose(fit.rotation, q.T, atol=1e-9)  # the one minimiser: whatever signs the SVD chose
    moved = movement.movement(tonight, baseline, TITLES)
    assert moved is not None
    assert moved.agreement == pytest.approx(1.0, abs=1e-9)
    assert max(m.displacement for m in moved.movers) == pytest.approx(0.0, abs=1e-9)
    assert moved.mean_overlap == 1.0  # cosines survive any rotation: no alignment needed


def test_a_space_in_more_factors_aligns_to_one_in_fewer_when_it_holds_the_same_geometry() -> None:
    """Another --n-factors: tonight's 8-factor vectors laid into 12 factors by an orthonormal embedding."""
    vectors = space()
    embedding = orthogonal(12)[:8]  # 8 orthonormal rows of a 12 x 12 rotation
    moved = movement.movement(factor_model(TITLES, vectors), factor_model(TITLES, vectors @ embedding), TITLES)
    assert moved is not None and moved.n_factors == (12, 8)
    assert moved.agreement == pytest.approx(1.0, abs=1e-9)
    assert max(m.displacement for m in moved.movers) == pytest.approx(0.0, abs=1e-9)


def test_scale_is_kept_so_a_space_twice_as_spread_out_is_a_change() -> None:
    vectors = space()
    moved = movement.movement(factor_model(TITLES, vectors), factor_model(TITLES, 2 * vectors), TITLES)
    assert moved is not None
    assert moved.spread_ratio == pytest.approx(2.0)
    assert moved.agreement == pytest.approx(0.0, abs=1e-12)  # |2T - T|² = |T|²: no better than the centre
    assert moved.mean_overlap == 1.0  # the directions did not change


def test_the_item_moved_far_tops_the_movers_and_its_neighbourhood_changed() -> None:
    vectors = space()
    shifted = vectors @ orthogonal(8)
    far = TITLES[17]
    shifted[17] += 3.0 * np.linalg.norm(vectors, axis=1).mean() * orthogonal(8)[3]
    moved = movement.movement(factor_model(TITLES, vectors), factor_model(TITLES, shifted), TITLES)
    assert moved is not None
    assert moved.movers[0].title == far
    assert moved.movers[0].displacement > 5 * moved.movers[1].displacement
    assert 0 < moved.agreement < 1
    # The mean squared displacement is what the agreement leaves unexplained.
    fit = align(shifted, vectors)
    assert np.mean(fit.displacement**2) == pytest.approx(1 - moved.agreement)
    changed = {c.title: c for c in moved.neighbours_changed}
    assert far in changed and changed[far].overlap < 1
    assert changed[far].after == tuple(t for t in changed[far].after if t != far)  # never its own neighbour
    assert len(changed[far].before) == len(changed[far].after) == 5
    assert [c.overlap for c in moved.neighbours_changed] == sorted(c.overlap for c in moved.neighbours_changed)


def test_items_known_to_one_side_only_are_left_out_and_counted() -> None:
    vectors = space(n=62)
    tonight = factor_model([*TITLES, "New (1999)"], vectors[:61])
    baseline = factor_model([*TITLES, "Old (1990)"], np.vstack([vectors[:60], vectors[61:]]))
    analysed = ["New (1999)", *TITLES, "Old (1990)", "#na#"]  # fastai's unseen class is no item
    moved = movement.movement(tonight, baseline, analysed)
    assert moved is not None
    assert (moved.common, moved.only_tonight, moved.only_baseline) == (60, 1, 1)
    named = {m.title for m in moved.movers} | {
        t for c in moved.neighbours_changed for t in (c.title, *c.before, *c.after)
    }
    assert not named & {"New (1999)", "Old (1990)", "#na#"}
    assert moved.agreement == pytest.approx(1.0, abs=1e-9)  # the common items did not move


def test_nothing_to_align_without_two_common_items() -> None:
    vectors = space(n=3)
    tonight = factor_model(["A", "B"], vectors[:2])
    assert movement.movement(tonight, factor_model(["B", "C"], vectors[1:]), ["A", "B"]) is None


def test_neighbour_sets_do_not_depend_on_the_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors = space()
    baseline = vectors + np.random.default_rng(2).normal(scale=0.5, size=vectors.shape)
    models = factor_model(TITLES, vectors), factor_model(TITLES, baseline)
    whole = movement.movement(*models, TITLES)
    monkeypatch.setattr(movement, "BLOCK", 7)
    assert movement.movement(*models, TITLES) == whole
    assert whole is not None and 0 < whole.mean_overlap < 1


def test_the_explorer_sees_yesterday_on_tonights_map_and_an_identical_model_sits_where_the_map_does() -> None:
    vectors = space(n=30, k=12)
    titles = TITLES[:30]
    trained = model_with(titles, [0.0] * 30, vectors)
    found = analyse(ratings_for({t: [3] * (40 - i) for i, t in enumerate(titles)}), trained, top_n=30)
    assert found.factor_map is not None and found.factor_map.n_components == 10
    tonight = factor_model(titles, vectors)
    same = movement.movement(tonight, tonight, found.top_items, found.factor_map)
    assert same is not None and same.map_moves is not None
    assert same.map_moves.before == found.factor_map.scores
    assert same.map_moves.displacement == (0.0,) * 30

    # Yesterday: tonight's space turned, one item it never saw. Its positions, once aligned, are tonight's.
    yesterday = [t for t in found.top_items if t != found.top_items[4]]
    rows = [titles.index(t) for t in yesterday]
    turned = movement.movement(
        tonight, factor_model(yesterday, vectors[rows] @ orthogonal(12)), found.top_items, found.factor_map
    )
    assert turned is not None and turned.map_moves is not None
    assert turned.map_moves.before[4] is None and turned.map_moves.displacement[4] is None
    for before, after in zip(turned.map_moves.before, found.factor_map.scores):
        if before is not None:
            np.testing.assert_allclose(before, after, atol=1.01 * 10**-factors.MAP_DECIMALS)


def test_the_map_of_another_model_is_refused() -> None:
    vectors = space(n=30)
    scores, _ = factors.pca(vectors, 8, 8)
    other_map = factors.factor_map(TITLES[:30], vectors, scores, 30, 5)
    tonight = factor_model(TITLES[:29], vectors[:29])
    with pytest.raises(ValueError, match="does not know the analysed item 'Item 029'"):
        movement.movement(tonight, tonight, TITLES[:30], other_map)


def test_the_agreement_along_each_component_adds_up_to_the_agreement_of_the_whole_space() -> None:
    """With as many components as factors, each component's unexplained share, weighted by its variance, sums
    to the whole space's; the first components, which carry most of the variance, are the better measured."""
    vectors = space()
    baseline = vectors @ orthogonal(8) + np.random.default_rng(4).normal(scale=0.4, size=vectors.shape)
    scores, _ = factors.pca(vectors, 8, 8)
    tonight = factor_model(TITLES, vectors)
    moved = movement.movement(
        tonight, factor_model(TITLES, baseline), TITLES, factors.factor_map(TITLES, vectors, scores, 60, 5)
    )
    assert moved is not None and moved.map_moves is not None
    agreement = np.array(moved.map_moves.component_agreement)
    variance = scores.var(axis=0)
    assert np.sum((1 - agreement) * variance) / variance.sum() == pytest.approx(1 - moved.agreement)
    assert agreement[0] > moved.agreement > agreement[-1]
    same = movement.movement(tonight, tonight, TITLES, factors.factor_map(TITLES, vectors, scores, 60, 5))
    assert same is not None and same.map_moves is not None
    assert same.map_moves.component_agreement == pytest.approx([1.0] * 8, abs=1e-12)
