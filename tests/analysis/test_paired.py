"""Is tonight's model better than the baseline? Two models on the same held-out ratings, a verdict from a
bootstrap interval over users, and whose recommendations changed (analysis.review, .bootstrap, .churn)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from reportgen.analysis import bootstrap, churn, paired, pairing
from reportgen.analysis import quality as q
from reportgen.analysis.baselines import guess
from reportgen.analysis.inputs import SplitRatings
from reportgen.analysis.workers import workers
from reportgen.train import fitting as train
from reportgen.train.results import FactorModel, Weights
from tests.helpers.planted import Planted, as_ratings

P = churn.RBO_P


# --------------------------------------------------------------------------- a world with a known truth


@dataclasses.dataclass(frozen=True)
class World:
    users: np.ndarray  # codes into user_names, every rating
    items: np.ndarray
    ratings: np.ndarray
    user_names: tuple[str, ...]
    item_names: tuple[str, ...]
    compared: np.ndarray
    trained: np.ndarray
    truth: FactorModel  # the model the ratings were drawn from (row 0: #na#, row c + 1: name c)


def world(seed: int = 0, n_users: int = 300, n_items: int = 60, factors: int = 3, density: float = 0.3) -> World:
    """Ratings 1–5 drawn around a dot-product model's raw sum; a quarter of them held out (compared)."""
    rng = np.random.default_rng(seed)
    user_factors, item_factors = rng.normal(0, 0.6, (n_users + 1, factors)), rng.normal(0, 0.6, (n_items + 1, factors))
    user_biases, item_biases = rng.normal(0, 0.3, n_users + 1), 3 + rng.normal(0, 0.4, n_items + 1)
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    raw = np.einsum("ij,ij->i", user_factors[users + 1], item_factors[items + 1])
    ratings = np.clip(
        np.rint(raw + user_biases[users + 1] + item_biases[items + 1] + rng.normal(0, 0.3, len(users))), 1, 5
    )
    compared = rng.random(len(users)) < 0.25
    user_names = tuple(f"user {u:03d}" for u in range(n_users))
    item_names = tuple(f"Item {i:02d} (2000)" for i in range(n_items))
    truth = FactorModel(
        users=("#na#", *user_names),
        items=("#na#", *item_names),
        weights=Weights(item_factors, item_biases, user_factors, user_biases),
        y_range=None,
    )
    return World(users, items, ratings, user_names, item_names, compared, ~compared, truth)


def reviewed(w: World, tonight: FactorModel, baseline: FactorModel, **settings: object) -> paired.PairedReview:
    return paired.paired_review(
        w.users,
        w.items,
        w.ratings,
        user_names=w.user_names,
        item_names=w.item_names,
        compared=w.compared,
        trained=w.trained,
        tonight=tonight,
        baseline=baseline,
        **settings,  # type: ignore[arg-type]
    )


def noisy(model: FactorModel, scale: float, seed: int = 1) -> FactorModel:
    """`model` with noise added to its item factors: a worse predictor of the same ratings."""
    w = model.weights
    noise = np.random.default_rng(seed).normal(0, scale, w.item_factors.shape)
    return dataclasses.replace(model, weights=dataclasses.replace(w, item_factors=w.item_factors + noise))


def forgetting(model: FactorModel, users: int = 0, items: int = 0) -> FactorModel:
    """`model` without its last `users` users and `items` items: names it never saw."""
    w = model.weights
    u, i = len(model.users) - users, len(model.items) - items
    return FactorModel(
        model.users[:u],
        model.items[:i],
        Weights(w.item_factors[:i], w.item_biases[:i], w.user_factors[:u], w.user_biases[:u]),
        model.y_range,
    )


# --------------------------------------------------------------------------- a model against itself


def test_a_model_compared_with_itself_differs_by_exactly_nothing_and_no_list_changes() -> None:
    w = world()
    found = reviewed(w, w.truth, w.truth)
    for d in (found.rmse, found.mae, found.ranking.ndcg, found.ranking.recall):
        assert d.tonight == d.baseline and d.tonight is not None
        assert (d.difference, d.low, d.high) == (0.0, 0.0, 0.0)
        assert (d.relative, d.relative_low, d.relative_high) == (0.0, 0.0, 0.0)
        assert d.verdict == bootstrap.NO_DIFFERENCE
    assert found.verdict == "no detectable difference"
    assert found.sentence.startswith("No detectable difference: RMSE ")
    assert not found.regressed(0.0)
    assert found.n == int(w.compared.sum()) and found.users == len(np.unique(w.users[w.compared]))
    lists = found.ranking
    assert lists.evaluated > 100 and not lists.sampled
    assert (lists.churn.changed, lists.churn.jaccard, lists.churn.rbo) == (0.0, 1.0, 1.0)
    assert lists.entered == () and lists.left == ()
    assert sum(b.churn.users for b in lists.by_activity) == lists.evaluated
    assert all(b.churn.changed == 0.0 for b in lists.by_activity if b.churn.users)


def test_names_not_positions_say_which_row_is_whose() -> None:
    """The baseline's vocabulary in another order, its tables reordered with it: the same model."""
    w = world()
    t = w.truth
    order = np.random.default_rng(5).permutation(len(t.items) - 1) + 1
    rows = np.concatenate(([0], order))
    weights = dataclasses.replace(t.weights, item_factors=t.weights.item_factors[rows])
    weights = dataclasses.replace(weights, item_biases=t.weights.item_biases[rows])
    shuffled = FactorModel(t.users, tuple(t.items[r] for r in rows), weights, t.y_range)
    found = reviewed(w, t, shuffled)
    assert (found.rmse.difference, found.rmse.low, found.rmse.high) == (0.0, 0.0, 0.0)
    assert found.ranking.churn.changed == 0.0


# --------------------------------------------------------------------------- a known better model


def test_a_baseline_with_noisy_item_factors_is_found_worse_on_the_same_ratings() -> None:
    w = world()
    found = reviewed(w, w.truth, noisy(w.truth, 0.5))
    assert found.verdict == "better"
    r = found.rmse
    assert r.tonight < r.baseline and r.high < 0 and r.low <= r.difference <= r.high
    assert r.relative_high < 0
    assert found.n == int(w.compared.sum())  # the same ratings on both sides
    assert found.sentence.startswith("Tonight's model is better: RMSE ")
    assert f"on the same {found.n:,} held-out ratings" in found.sentence
    assert found.ranking.ndcg.difference > 0 and found.ranking.churn.changed > 0.5
    assert 0 < found.ranking.churn.rbo < 1 and 0 < found.ranking.churn.jaccard < 1
    assert found.ranking.entered and found.ranking.left

    swapped = reviewed(w, noisy(w.truth, 0.5), w.truth)
    assert swapped.verdict == "worse" and swapped.rmse.low > 0
    assert swapped.rmse.difference == pytest.approx(-r.difference)
    assert swapped.regressed(0.0)  # worse with 95 % confidence
    assert not swapped.regressed(100 * swapped.rmse.relative_low + 0.01)  # but not by more than its lower bound
    assert swapped.ranking.entered == found.ranking.left and swapped.ranking.left == found.ranking.entered


def test_a_small_difference_on_few_users_is_no_detectable_difference() -> None:
    w = world(n_users=30, density=0.2)
    found = reviewed(w, w.truth, noisy(w.truth, 0.02))
    assert found.verdict == "no detectable difference"
    assert found.rmse.low < 0 < found.rmse.high
    assert not found.regressed(0.0)


# --------------------------------------------------------------------------- names a model never saw


def test_ratings_whose_user_or_item_a_model_never_saw_are_counted_and_scored_by_its_na_row() -> None:
    w = world()
    baseline = forgetting(w.truth, users=10, items=3)  # users 290–299, items 57–59
    found = reviewed(w, w.truth, baseline)
    c = w.compared
    new_user, new_item = w.users[c] >= 290, w.items[c] >= 57
    unseen = found.unseen_by_baseline
    assert (unseen.users, unseen.items, unseen.either) == (
        int(new_user.sum()),
        int(new_item.sum()),
        int((new_user | new_item).sum()),
    )
    assert found.unseen_by_tonight == paired.Unseen(0, 0, 0, None, None)
    # The baseline's RMSE is that of its own predictions, row 0 for what it never saw.
    u = np.where(new_user, 0, w.users[c] + 1)
    i = np.where(new_item, 0, w.items[c] + 1)
    tables = baseline.weights
    predicted = q.predict(u, i, tables.user_factors, tables.user_biases, tables.item_factors, tables.item_biases, None)
    error = w.ratings[c] - predicted
    assert found.rmse.baseline == pytest.approx(np.sqrt(np.mean(error**2)), rel=1e-12)
    cold = new_user | new_item
    assert unseen.baseline_rmse == pytest.approx(np.sqrt(np.mean(error[cold] ** 2)), rel=1e-12)
    assert unseen.baseline_rmse > unseen.tonight_rmse  # its fallback is worse than what tonight's model learned
    # Rankings: only items both know are candidates, only users both know are ranked.
    assert found.ranking.catalogue == 57
    assert found.ranking.left_out > 0
    ranked = {name for name, _ in found.ranking.entered + found.ranking.left}
    assert not ranked & set(w.item_names[57:])


def test_rows_of_finds_names_as_text_and_gives_row_0_to_a_stranger() -> None:
    assert pairing.rows_of([1, 2, 7, "#na#"], ("#na#", "2", "1")).tolist() == [2, 1, 0, 0]
    with pytest.raises(ValueError, match="twice"):
        pairing.rows_of(["a"], ("#na#", "a", "a"))


# --------------------------------------------------------------------------- rank-biased overlap by hand


def overlap(a: list[int], b: list[int], k: int | None = None) -> tuple[float, float]:
    """(RBO, Jaccard) of two lists of equal length, padded with −1 to k."""
    k = k or len(a)
    pad = [-1] * (k - len(a))
    x = churn.prefix_overlaps(np.array([a + pad]), np.array([b + pad]))
    length = np.array([len(a)])
    return float(churn.rbo(x, length, P)[0]), float(churn.jaccard(x, length)[0])


def test_rbo_of_identical_lists_is_1_of_disjoint_ones_0() -> None:
    assert overlap([4, 2, 9], [4, 2, 9]) == (1.0, 1.0)
    assert overlap([1, 2, 3], [4, 5, 6]) == (0.0, 0.0)


def test_rbo_against_values_worked_by_hand() -> None:
    # [1, 2, 3] and [1, 3, 4]: X_1 = 1, X_2 = 1, X_3 = 2, so
    # RBO_ext = (X_3 / 3) p³ + (1 − p)/p · (1·p + (1/2)p² + (2/3)p³) = 0.486 + (1/9)(0.9 + 0.405 + 0.486) = 0.685
    rbo, jac = overlap([1, 2, 3], [1, 3, 4])
    assert rbo == pytest.approx(0.486 + (0.9 + 0.405 + 0.486) / 9, abs=1e-12)
    assert rbo == pytest.approx(0.685, abs=1e-12)
    assert jac == pytest.approx(2 / 4)
    # The top two swapped: X_1 = 0, X_2 = 2: (1/9)(0.81) + (2/2)(0.81) = 0.9.
    assert overlap([1, 2], [2, 1])[0] == pytest.approx(0.9, abs=1e-12)
    # A list shorter than k (a user with two candidates) is scored at its own depth.
    assert overlap([1, 2], [2, 1], k=5)[0] == pytest.approx(0.9, abs=1e-12)
    # Agreement at the top weighs more than at the bottom.
    assert overlap([1, 2, 3], [1, 2, 4])[0] > overlap([1, 2, 3], [4, 2, 3])[0]


def test_prefix_overlaps_count_what_the_first_d_of_each_list_share() -> None:
    a = np.array([[1, 2, 3, 4], [5, 6, -1, -1]])
    b = np.array([[4, 3, 2, 1], [6, 5, -1, -1]])
    assert churn.prefix_overlaps(a, b).tolist() == [[0, 0, 2, 4], [0, 2, 2, 2]]


# --------------------------------------------------------------------------- whose lists changed, on a hand-made model


def test_churn_on_lists_known_in_advance() -> None:
    """Six items ranked 1 > 2 > … > 6 by tonight's model for every user; the baseline swaps items 1 and 2 for
    the users who like the first factor and ranks item 4 above item 3 for those who like the second."""
    names = ("A", "B", "C", "D", "E", "F")
    tonight_items = np.array([[0, 0], [6, 6], [5, 5], [4, 4], [3, 3], [2, 2], [1, 1]], dtype=float)
    baseline_items = tonight_items.copy()
    baseline_items[[1, 2], 0] = 5, 6  # first factor: B above A
    baseline_items[[3, 4], 1] = 3, 4  # second factor: D above C
    users = np.array([[0, 0], [1, 0], [1, 0], [0, 1]], dtype=float)  # user 0: #na#
    zero_u, zero_i = np.zeros(4), np.zeros(7)
    user_names = ("first", "second", "third")
    t = FactorModel(("#na#", *user_names), ("#na#", *names), Weights(tonight_items, zero_i, users, zero_u), None)
    b = dataclasses.replace(t, weights=Weights(baseline_items, zero_i, users, zero_u))
    # Each user rated F in training and likes E (held out); "third" rated F in training only.
    codes = [(0, 5, 3.0, False), (0, 4, 5.0, True), (1, 5, 3.0, False), (1, 4, 5.0, True), (2, 5, 2.0, False)]
    codes += [(2, 4, 5.0, True)]
    u, i, r, c = (np.array(x) for x in zip(*codes))
    found = paired.paired_review(
        u, i, r, user_names=user_names, item_names=names, compared=c, trained=~c, tonight=t, baseline=b, k=3
    )
    lists = found.ranking
    assert lists.evaluated == 3 and lists.catalogue == 6
    # first, second: A B C against B A C (RBO 0.9, Jaccard 1); third: A B C against A B D.
    third = (0.9 + 0.81 + (2 / 3) * 0.729) / 9 + (2 / 3) * 0.729
    assert lists.churn.changed == 1.0
    assert lists.churn.jaccard == pytest.approx((1 + 1 + 0.5) / 3)
    assert lists.churn.rbo == pytest.approx((0.9 + 0.9 + third) / 3)
    assert lists.entered == (("C", 1),) and lists.left == (("D", 1),)
    # No list holds E (relevant for all, ranked fifth), so both models score NDCG and recall 0 alike.
    assert (lists.ndcg.tonight, lists.ndcg.baseline, lists.recall.difference) == (0.0, 0.0, 0.0)
    assert [b.churn.users for b in lists.by_activity] == [0, 3, 0, 0, 0]


# --------------------------------------------------------------------------- the bootstrap


def test_the_interval_is_the_same_for_the_same_seed_and_on_any_number_of_threads() -> None:
    w = world(n_users=120)
    baseline = noisy(w.truth, 0.1)
    first = reviewed(w, w.truth, baseline, seed=7)
    with workers(2) as pool:
        assert reviewed(w, w.truth, baseline, seed=7, pool=pool) == first
    other = reviewed(w, w.truth, baseline, seed=8)
    assert (other.rmse.low, other.rmse.high) != (first.rmse.low, first.rmse.high)
    assert other.rmse.difference == first.rmse.difference  # only the resampling moved


def test_resampled_sums_do_not_depend_on_how_the_resamples_are_chunked() -> None:
    per_unit = np.random.default_rng(0).random((50, 3))
    whole = bootstrap.resampled(per_unit, resamples=200, seed=3, stream=0)
    assert whole.shape == (200, 3)
    assert np.array_equal(bootstrap.resampled(per_unit, resamples=100, seed=3, stream=0), whole[:100])
    # Each resample draws 50 users: the sums of the ones column count them.
    ones = bootstrap.resampled(np.ones((50, 1)), resamples=100, seed=3, stream=0)
    assert (ones == 50).all()


def rmse_interval(seed: int, users: int = 200) -> tuple[float, float]:
    """Paired RMSE difference of two predictors whose errors have the same distribution: the truth is 0."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 30, users)
    which = np.repeat(np.arange(users), counts)
    scale = rng.uniform(0.5, 1.5, users)[which]  # users differ in how hard they are, for both alike
    errors = [rng.normal(0, 1, len(which)) * scale for _ in range(2)]
    per_user = np.column_stack([counts, *(np.bincount(which, e**2) for e in errors)])

    def measures(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.sqrt(s[:, 1:2] / s[:, :1]), np.sqrt(s[:, 2:3] / s[:, :1])

    (found,) = bootstrap.paired(per_user, measures, ("RMSE",), (True,), resamples=1000, seed=seed, stream=0)
    return found.low, found.high


def test_the_interval_covers_a_zero_difference_at_about_its_confidence() -> None:
    intervals = [rmse_interval(seed) for seed in range(20)]
    assert sum(low <= 0 <= high for low, high in intervals) >= 18
    assert all(low < high for low, high in intervals)  # real width: not a degenerate interval


def test_without_compared_ratings_there_is_no_verdict() -> None:
    w = world(n_users=20)
    w = dataclasses.replace(w, compared=np.zeros_like(w.compared), trained=np.ones_like(w.trained))
    found = reviewed(w, w.truth, w.truth)
    assert found.n == 0 and found.verdict == "no verdict" and found.rmse.low is None
    assert found.sentence.startswith("No verdict:")
    assert found.ranking.evaluated == 0 and found.ranking.churn.changed is None
    assert not found.regressed(0.0)


def test_mis_wired_inputs_are_refused_by_name() -> None:
    w = world(n_users=20)
    with pytest.raises(ValueError, match="compared has 3, expected"):
        reviewed(dataclasses.replace(w, compared=np.zeros(3, bool)), w.truth, w.truth)
    with pytest.raises(ValueError, match="among tonight's training ratings"):
        reviewed(dataclasses.replace(w, trained=np.ones_like(w.trained)), w.truth, w.truth)
    with pytest.raises(ValueError, match="resamples"):
        reviewed(w, w.truth, w.truth, resamples=5)


# --------------------------------------------------------------------------- two real fits on planted data


TINY = train.TrainConfig(lr=1e-2, factors=8, bs=64)


@pytest.fixture(scope="module")
def fits(planted: Planted) -> tuple[train.TrainedModel, train.TrainedModel]:
    ratings = as_ratings(planted.frame)
    return train.fit(ratings, dataclasses.replace(TINY, epochs=1)), train.fit(
        ratings, dataclasses.replace(TINY, epochs=4)
    )


def planted_review(planted: Planted, tonight: train.TrainedModel, baseline: train.TrainedModel) -> paired.PairedReview:
    frame = planted.frame
    users, user_names = pd.factorize(frame["user"], sort=True)
    items, item_names = pd.factorize(frame["title"], sort=True)
    train_rows, valid_rows = tonight.split
    compared = np.zeros(len(frame), dtype=bool)
    compared[valid_rows] = True
    return paired.paired_review(
        users,
        items,
        frame["rating"].to_numpy(),
        user_names=list(user_names),
        item_names=list(item_names),
        compared=compared,
        trained=~compared,
        tonight=FactorModel.of_trained(tonight),
        baseline=FactorModel.of_trained(baseline),
    )


def test_more_epochs_that_truly_lower_the_error_are_better_on_the_same_rows(
    planted: Planted, fits: tuple[train.TrainedModel, train.TrainedModel]
) -> None:
    short, long = fits
    assert all(np.array_equal(a, b) for a, b in zip(short.split, long.split))  # the same held-out ratings
    found = planted_review(planted, long, short)
    assert found.verdict == "better" and found.rmse.high < 0
    assert found.n == len(long.split[1]) == long.metrics.n_valid
    # Both RMSEs are the fits' own validation RMSEs: the same rows, the same predictions.
    assert found.rmse.tonight == pytest.approx(long.metrics.valid_rmse, rel=1e-5)
    assert found.rmse.baseline == pytest.approx(short.metrics.valid_rmse, rel=1e-5)


def test_the_paired_ranking_of_a_fit_against_itself_is_what_quality_evaluate_measures(
    planted: Planted, fits: tuple[train.TrainedModel, train.TrainedModel]
) -> None:
    model = fits[1]
    found = planted_review(planted, model, model)
    frame = planted.frame
    split = SplitRatings.gather(model.codes, frame["rating"].to_numpy(), model.split)
    measured = q.evaluate(q.inputs_from(model, split, guess(split), q.model_predictions(model, split)))
    assert found.ranking.evaluated == measured.users_evaluated
    assert found.ranking.ndcg.tonight == pytest.approx(measured.ranking["model"].ndcg, rel=1e-12)
    assert found.ranking.recall.tonight == pytest.approx(measured.ranking["model"].recall, rel=1e-12)
    assert found.rmse.tonight == pytest.approx(measured.rating["model"].rmse, rel=1e-12)


def test_compare_lists_leaves_out_what_the_user_rated_and_scores_both_lists_on_the_same_relevant_item() -> None:
    """One user, four candidates: tonight scores them 4 > 3 > 2 > 1, the baseline the other way round.

    The user rated candidate 0 outside the compared ratings (never ranked) and likes candidate 1.
    Top 2: tonight [1, 2] (a hit at rank 1), the baseline [3, 2] (no hit); they share candidate 2
    at depth 2: Jaccard 1/3, RBO (1/9)(0 + ½·0.81) + ½·0.81 = 0.45.
    """
    user = np.ones((1, 1))
    tonight = (user, np.array([[4.0], [3.0], [2.0], [1.0]]), np.zeros(4))
    baseline = (user, np.array([[1.0], [2.0], [3.0], [4.0]]), np.zeros(4))
    lists = churn.compare_lists(tonight, baseline, seen=np.array([0]), relevant=np.array([1]), k=2)
    assert lists.ndcg.tolist() == [[1.0], [0.0]] and lists.recall.tolist() == [[1.0], [0.0]]
    assert lists.length.tolist() == [2] and lists.changed.tolist() == [True]
    assert lists.jaccard[0] == pytest.approx(1 / 3) and lists.rbo[0] == pytest.approx(0.45, abs=1e-12)
    assert lists.entered.tolist() == [0, 1, 0, 0] and lists.left.tolist() == [0, 0, 0, 1]
    # With k = 5 both lists hold the three candidates left, in their two orders.
    longer = churn.compare_lists(tonight, baseline, seen=np.array([0]), relevant=np.array([1]), k=5)
    assert longer.length.tolist() == [3] and longer.jaccard.tolist() == [1.0]
    assert longer.recall.tolist() == [[1.0], [1.0]] and longer.ndcg[1, 0] == pytest.approx(1 / np.log2(4))


def test_a_difference_carried_by_a_few_items_is_not_taken_for_a_sure_one() -> None:
    """Resampling users alone treats the items as fixed: a difference that two of fifty items carry (as two
    trainings differing by their seed do) looks sure. Resampling users and items at once (the pigeonhole
    bootstrap) keeps 0 in the interval; a difference spread over every item stays sure either way."""
    rng = np.random.default_rng(3)
    n_users, n_items = 300, 50
    user = np.repeat(np.arange(n_users), n_items)
    item = np.tile(np.arange(n_items), n_users)
    base = rng.normal(0.0, 0.5, len(user)) ** 2

    def verdicts(extra: np.ndarray) -> tuple[str, str]:
        tonight = base + extra
        columns = np.stack([np.ones_like(base), tonight, base], axis=1)

        def measures(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return np.sqrt(s[:, 1:2] / s[:, :1]), np.sqrt(s[:, 2:3] / s[:, :1])

        by_user = np.stack([np.bincount(user, c, minlength=n_users) for c in columns.T], axis=1)
        cells = np.zeros((n_users, n_items, 3))
        np.add.at(cells, (user, item), columns)
        found = [
            bootstrap.paired(table, measures, ("RMSE",), (True,), resamples=400, seed=1, stream=0)[0]
            for table in (by_user, cells)
        ]
        return found[0].verdict, found[1].verdict

    few = np.where(item < 2, 0.15, 0.0) * rng.random(len(user))  # two items carry it
    assert verdicts(few) == ("worse", "no detectable difference")
    spread = np.full(len(user), 0.03)  # every item a little worse
    assert verdicts(spread) == ("worse", "worse")
