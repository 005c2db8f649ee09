"""Is it a good recommender: ranking metrics by hand, planted worlds, buckets, calibration, JSON.

How the page shows the answer is tests/render/test_quality_section.py."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest

from reportgen.analysis import baselines, diagnostics, ranking
from reportgen.analysis import quality as q
from reportgen.analysis.inputs import SplitRatings
from reportgen.report import quality_to_json
from tests.helpers.pages import quality_page
from tests.helpers.reports import hand_made_quality

LOG2_3 = math.log2(3)


def inputs(
    train: list[tuple[int, int, float]],
    valid: list[tuple[int, int, float]],
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    *,
    predictions: np.ndarray | None = None,
    labels: tuple[str, ...] | None = None,
) -> q.QualityInputs:
    """QualityInputs from (user code, item code, rating) triples and the model's factors (biases 0)."""
    tu, ti, tr = (np.array(c) for c in zip(*train))
    vu, vi, vr = (np.array(c) for c in zip(*valid))
    n_items = len(item_factors)
    return q.QualityInputs(
        train_users=tu.astype(np.int64),
        train_items=ti.astype(np.int64),
        train_ratings=tr.astype(float),
        valid_users=vu.astype(np.int64),
        valid_items=vi.astype(np.int64),
        valid_ratings=vr.astype(float),
        model_predictions=vr.astype(float) if predictions is None else predictions,
        bias_predictions=np.full(len(vr), 3.0),
        mean_predictions=np.full(len(vr), float(tr.mean())),
        user_factors=np.asarray(user_factors, dtype=float),
        user_biases=np.zeros(len(user_factors)),
        item_factors=np.asarray(item_factors, dtype=float),
        item_biases=np.zeros(n_items),
        y_range=(0.0, 5.5),
        rating_scale=(1.0, 5.0),
        item_labels=labels or ("#na#", *(f"Item {j}" for j in range(1, n_items))),
    )


# --------------------------------------------------------------------------- (a) a tiny example by hand


def tiny() -> q.QualityInputs:
    """Six items the model ranks 1 > 2 > … > 6 for everyone (one factor); four users.

    Training: user 1 rated item 1; user 2 items 2 and 5; user 3 items 1, 2, 3; user 4
    item 4; user 5 items 5 and 6. Validation (relevant: ≥ 4): user 1 likes 3 and 6;
    user 2 likes 1 (and gives 4 a 2); user 3 likes 5 and 6 (4 gets 3.5, below the
    threshold); user 4 has nothing relevant; an unknown user (0) and an unknown item (0)
    are never ranked.
    """
    train = [(1, 1, 4), (2, 2, 3), (2, 5, 2), (3, 1, 5), (3, 2, 4), (3, 3, 3), (4, 4, 3), (5, 6, 4), (5, 5, 3)]
    valid = [
        (1, 3, 4),
        (1, 6, 5),
        (2, 1, 5),
        (2, 4, 2),
        (3, 5, 4),
        (3, 6, 4.5),
        (3, 4, 3.5),
        (4, 2, 3),
        (0, 1, 5),
        (1, 0, 5),
    ]
    users = np.ones((6, 1))
    items = np.array([[0.0], [6], [5], [4], [3], [2], [1]])
    return inputs(train, valid, users, items)


def test_ranking_metrics_at_3_match_a_hand_computation() -> None:
    result = q.evaluate(tiny(), k=3)
    assert result.threshold == 4.0  # 1 + 0.75 · (5 − 1)
    assert (result.users_eligible, result.users_evaluated, result.sampled) == (3, 3, False)

    # The model's lists (training items left out): user 1 → 2, 3, 4 (hit at rank 2);
    # user 2 → 1, 3, 4 (hit at rank 1); user 3 → 4, 5, 6 (hits at ranks 2 and 3).
    model = result.ranking["model"]
    assert model.precision == pytest.approx((1 / 3 + 1 / 3 + 2 / 3) / 3)
    assert model.recall == pytest.approx((1 / 2 + 1 / 1 + 2 / 2) / 3)
    ideal_2 = 1 + 1 / LOG2_3  # two relevant items: ideal DCG over min(3, 2) ranks
    assert model.ndcg == pytest.approx(((1 / LOG2_3) / ideal_2 + 1.0 + (1 / LOG2_3 + 1 / 2) / ideal_2) / 3)
    assert model.map == pytest.approx(((1 / 2) / 2 + 1.0 + (1 / 2 + 2 / 3) / 2) / 3)
    assert model.hit_rate == 1.0

    # Popularity by training count (ties: lower code): 1, 2, 5 (two each), then 3, 4, 6.
    # User 1 → 2, 5, 3 (hit at 3); user 2 → 1, 3, 4 (hit at 1); user 3 → 5, 4, 6 (hits at 1 and 3).
    popular = result.ranking["popularity"]
    assert popular.precision == pytest.approx((1 / 3 + 1 / 3 + 2 / 3) / 3)
    assert popular.ndcg == pytest.approx(((1 / 2) / ideal_2 + 1.0 + (1 + 1 / 2) / ideal_2) / 3)
    assert popular.map == pytest.approx(((1 / 3) / 2 + 1.0 + (1 + 2 / 3) / 2) / 3)
    assert popular.recall == pytest.approx((1 / 2 + 1 + 1) / 3)

    # Coverage: the model's lists hold items 1–6 → all six of the catalogue; item 4 in all three.
    assert result.coverage.catalogue_size == 6
    assert result.coverage.items_recommended == 6
    assert result.coverage.most_recommended[0] == ("Item 4", 3)


def brute_force_random(n_candidates: int, n_relevant: int, k: int) -> np.ndarray:
    """The five metrics averaged over every ordered list of min(k, C) of C candidates (the first R relevant)."""
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    length = min(k, n_candidates)
    lists = np.array(list(itertools.permutations(range(n_candidates), length)))
    hits = np.zeros((len(lists), k), dtype=bool)
    hits[:, :length] = lists < n_relevant
    return ranking.ranking_sums(hits, np.full(len(lists), n_relevant), discount) / len(lists)


@pytest.mark.parametrize(
    ("n_candidates", "n_relevant", "k"),
    [(6, 2, 3), (5, 1, 5), (4, 4, 2), (7, 3, 4), (8, 5, 6), (2, 1, 3), (3, 2, 5), (1, 1, 3), (9, 1, 1)],
)
def test_the_random_row_is_the_exact_average_over_every_random_list(n_candidates: int, n_relevant: int, k: int) -> None:
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    expected = ranking.random_sums(np.array([n_candidates]), np.array([n_relevant]), discount)
    np.testing.assert_allclose(expected, brute_force_random(n_candidates, n_relevant, k), rtol=1e-12, atol=1e-15)


def test_the_random_row_of_an_evaluation_counts_each_users_candidates_and_needs_no_seed() -> None:
    # tiny(): six items; user 1 rated one in training (5 candidates, 2 relevant), user 2 two (4, 1), user 3 three (3, 2).
    result = q.evaluate(tiny(), k=3)
    by_hand = np.mean([brute_force_random(c, r, 3) for c, r in ((5, 2), (4, 1), (3, 2))], axis=0)
    chance = result.ranking["random"]
    assert [chance.precision, chance.recall, chance.ndcg, chance.map, chance.hit_rate] == pytest.approx(by_hand)
    world = taste_world()
    assert q.evaluate(world, seed=1).ranking["random"] == q.evaluate(world, seed=2).ranking["random"]


def test_ties_in_the_score_go_to_the_lower_item_code() -> None:
    scores = np.array([[-np.inf, 1.0, 2.0, 2.0, 2.0, 0.5], [-np.inf, 0.0, 0.0, 0.0, 0.0, 0.0]])
    top, valid = ranking.top_k(scores, 3)
    assert top.tolist() == [[2, 3, 4], [1, 2, 3]]
    assert valid.all()
    # Fewer candidates than k: the list is padded and the padding marked.
    top, valid = ranking.top_k(np.array([[-np.inf, 1.0, -np.inf]]), 2)
    assert top[0, 0] == 1 and valid.tolist() == [[True, False]]


def test_users_are_sampled_with_a_seed_and_the_result_says_so() -> None:
    world = taste_world(n_users=120)
    a = q.evaluate(world, max_users=50, seed=7)
    b = q.evaluate(world, max_users=50, seed=7)
    assert (a.users_evaluated, a.sampled) == (50, True)
    assert a.users_eligible > 50
    assert a.ranking == b.ranking
    assert "random sample (seed 7) of 50 of the" in a.sample_sentence


def test_mis_wired_inputs_are_named() -> None:
    world = tiny()
    with pytest.raises(ValueError, match="model_predictions has 3, expected 10"):
        q.QualityInputs(**{**world.__dict__, "model_predictions": np.zeros(3)})
    with pytest.raises(ValueError, match="valid_items holds codes outside 0..6"):
        q.QualityInputs(**{**world.__dict__, "valid_items": world.valid_items + 5})


def test_without_a_relevant_item_nothing_is_ranked_and_the_page_says_so() -> None:
    world = inputs([(1, 1, 3), (2, 2, 2)], [(1, 2, 3), (2, 1, 1)], np.ones((3, 1)), np.ones((3, 1)))
    result = q.evaluate(world)
    assert (result.users_eligible, result.users_evaluated) == (0, 0)
    assert result.ranking["model"].ndcg == 0.0
    assert result.coverage.share is None
    assert result.ranking_sentence.startswith("No user has a relevant validation item")
    json.dumps(quality_to_json(result), allow_nan=False)
    assert quality_page(result).find("section", id="ranking") is not None


def test_the_threshold_scales_with_the_rating_range() -> None:
    assert q.default_threshold((1.0, 5.0)) == 4.0
    assert q.default_threshold((0.5, 5.0)) == pytest.approx(3.875)
    assert q.default_threshold((1.0, 10.0)) == pytest.approx(7.75)


# --------------------------------------------------------------------------- (b) planted worlds


def taste_world(n_users: int = 300, n_items: int = 200, seed: int = 0) -> q.QualityInputs:
    """Two kinds of item and of user; each user rates 120 items, their own kind 5 and the other 2.

    Every item is rated about equally often, so popularity knows nothing; the model's
    factors are the planted ones, so it knows everything.
    """
    rng = np.random.default_rng(seed)
    item_kind = np.r_[0, rng.integers(0, 2, n_items)]
    user_kind = np.r_[0, rng.integers(0, 2, n_users)]
    pairs = np.array(
        [(u, i) for u in range(1, n_users + 1) for i in rng.choice(np.arange(1, n_items + 1), 120, replace=False)]
    )
    rating = np.where(user_kind[pairs[:, 0]] == item_kind[pairs[:, 1]], 5.0, 2.0)
    is_valid = rng.random(len(pairs)) < 0.25
    train = [(u, i, r) for (u, i), r, v in zip(pairs, rating, is_valid) if not v]
    valid = [(u, i, r) for (u, i), r, v in zip(pairs, rating, is_valid) if v]
    one_hot = np.eye(2)
    return inputs(train, valid, 2 * one_hot[user_kind] * (np.arange(n_users + 1) > 0)[:, None], one_hot[item_kind])


def popularity_world(n_users: int = 300, n_items: int = 200, seed: int = 1) -> q.QualityInputs:
    """Everyone rates the 15 most popular items 5 and the rest 2; popular items are rated far more.

    The model's factors are noise unrelated to the ratings: it has learned no taste.
    """
    rng = np.random.default_rng(seed)
    weight = 1.0 / np.arange(1, n_items + 1) ** 1.1
    train, valid = [], []
    for u in range(1, n_users + 1):
        for i in rng.choice(np.arange(1, n_items + 1), 30, replace=False, p=weight / weight.sum()):
            rating = 5.0 if i <= 15 else 2.0
            (valid if rng.random() < 0.25 else train).append((u, int(i), rating))
    return inputs(train, valid, rng.normal(size=(n_users + 1, 4)), rng.normal(size=(n_items + 1, 4)))


def test_when_taste_decides_relevance_the_model_beats_popularity() -> None:
    result = q.evaluate(taste_world())
    model, popular, chance = (result.ranking[name] for name in ranking.RANKERS)
    # Every unrated item of the user's kind scores alike, so the lists hit only the ones the
    # user happened to rate in validation: far from 1, but twice what popularity finds.
    assert model.hit_rate > 0.9
    assert model.ndcg > 1.5 * popular.ndcg
    assert model.precision > 1.5 * popular.precision
    assert popular.ndcg == pytest.approx(chance.ndcg, abs=0.1)
    assert result.ranking_sentence.startswith("The model ranks better than popularity: NDCG@10")


def test_when_only_popularity_matters_popularity_wins_and_the_sentence_says_so() -> None:
    result = q.evaluate(popularity_world())
    model, popular = result.ranking["model"], result.ranking["popularity"]
    assert popular.ndcg > 2 * model.ndcg
    assert popular.hit_rate > model.hit_rate
    assert result.ranking_sentence.startswith("Popularity beats the model at ranking")
    # The model's lists are not about blockbusters; the items users went on to rate are.
    assert result.coverage.mean_percentile_rated > result.coverage.mean_percentile_recommended


def test_shortfalls_name_each_simple_yardstick_the_model_does_not_beat_with_both_numbers() -> None:
    quality = hand_made_quality()  # the most-rated items rank better: NDCG@10 0.141 against the model's 0.071
    losing = baselines.Baselines(global_mean_rmse=1.1191, bias_only_rmse=1.0358, model_rmse=1.1887, global_mean=3.5)
    assert [s.sentence for s in q.shortfalls(losing, quality)] == [
        "The model is worse than the global mean: valid RMSE 1.1887 against 1.1191.",
        "The model is worse than user and item biases alone: valid RMSE 1.1887 against 1.0358.",
        "The model ranks worse than the most-rated items: NDCG@10 0.071 against 0.141.",
    ]
    tied = baselines.Baselines(global_mean_rmse=1.2, bias_only_rmse=0.95, model_rmse=0.95, global_mean=3.5)
    assert [s.sentence for s in q.shortfalls(tied, quality) if s.kind == "rating"] == [
        "The model is no better than user and item biases alone: valid RMSE 0.9500 against 0.9500."
    ]
    ranks_well = {**quality.ranking, "model": ranking.RankingMetrics(0.2, 0.2, 0.3, 0.1, 0.8)}
    winning = baselines.Baselines(global_mean_rmse=1.12, bias_only_rmse=0.94, model_rmse=0.90, global_mean=3.5)
    assert q.shortfalls(winning, dataclasses.replace(quality, ranking=ranks_well)) == ()
    # Nobody to rank (every NDCG 0): nothing is said about ranking.
    nobody = {name: ranking.RankingMetrics(0.0, 0.0, 0.0, 0.0, 0.0) for name in ranking.RANKERS}
    assert q.shortfalls(winning, dataclasses.replace(quality, users_evaluated=0, ranking=nobody)) == ()


# --------------------------------------------------------------------------- (c) buckets and calibration


def test_buckets_count_and_score_the_validation_ratings_by_training_count() -> None:
    counts = np.array([0, 0, 3, 5, 6, 20, 21, 100, 101, 5000])
    squared = np.array([4.0, 0.0, 1.0, 1.0, 0.25, 0.25, 0.0, 0.0, 9.0, 1.0])
    b = diagnostics.buckets(counts, squared, "users")
    assert [x.label for x in b.buckets] == ["0", "1–5", "6–20", "21–100", "more than 100"]
    assert [x.count for x in b.buckets] == [2, 2, 2, 2, 2]
    assert [x.rmse for x in b.buckets] == pytest.approx([math.sqrt(2), 1.0, 0.5, 0.0, math.sqrt(5)])
    assert b.overall_rmse == pytest.approx(math.sqrt(16.5 / 10))
    assert b.worst is None  # no bucket has 30 ratings
    assert "None" not in b.sentence and "30 or more" in b.sentence


def test_empty_buckets_are_kept_and_the_worst_big_bucket_is_named() -> None:
    counts = np.r_[np.zeros(40, int), np.full(50, 3), np.full(10, 500)]
    squared = np.r_[np.full(40, 1.0), np.full(50, 0.25), np.full(10, 16.0)]  # the 10 heavy ones are too few
    b = diagnostics.buckets(counts, squared, "items")
    assert [x.count for x in b.buckets] == [40, 50, 0, 0, 10]
    assert b.buckets[2].rmse is None and b.buckets[3].rmse is None
    assert b.worst is b.buckets[0]
    assert b.sentence.startswith("The model errs most on items never seen in training: RMSE 1.000 over 40")


def test_calibration_bins_split_the_prediction_range_evenly() -> None:
    predicted = np.array([1.0, 1.2, 2.9, 3.1, 5.0])
    observed = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    c = diagnostics.calibration(predicted, observed, bins=4)  # width 1: [1, 2), [2, 3), [3, 4), [4, 5]
    assert [b.count for b in c.bins] == [2, 1, 1, 1]
    assert [b.low for b in c.bins] == pytest.approx([1, 2, 3, 4])
    assert [b.high for b in c.bins] == pytest.approx([2, 3, 4, 5])
    assert c.bins[0].mean_predicted == pytest.approx(1.1)
    assert c.bins[0].mean_observed == pytest.approx(1.5)
    assert c.bins[3].mean_observed == 5.0
    assert c.mean_residual == pytest.approx((0 + 0.8 + 0.1 + 0.9 + 0) / 5)
    assert sum(c.residuals.counts) == 5
    assert c.residuals.edges[0] == -c.residuals.edges[-1] == -1.0  # 0.9 rounded up to half a rating
    empty = diagnostics.calibration(np.full(3, 2.0), np.array([1.0, 2.0, 3.0]), bins=3)
    assert [b.count for b in empty.bins] == [3, 0, 0] and empty.bins[1].mean_predicted is None


def test_a_well_calibrated_model_reads_as_face_value() -> None:
    rng = np.random.default_rng(0)
    predicted = rng.uniform(1, 5, 20_000)
    observed = predicted + rng.normal(0, 0.5, len(predicted))
    c = diagnostics.calibration(predicted, observed)
    assert c.sentence.startswith("Predictions can be taken at face value")
    biased = diagnostics.calibration(predicted, observed + 0.5)
    assert "higher on average than predicted" in biased.sentence


def test_rating_metrics_and_r2_against_the_validation_mean() -> None:
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    m = q.rating_metrics(truth, np.array([1.0, 2.0, 3.0, 6.0]))
    assert (m.rmse, m.mae) == pytest.approx((1.0, 0.5))
    assert m.r2 == pytest.approx(1 - 4 / 5)
    assert q.rating_metrics(truth, np.full(4, 2.5)).r2 == pytest.approx(0.0)
    assert q.rating_metrics(np.full(3, 4.0), np.full(3, 4.0)).r2 is None  # no spread to explain


def test_the_bias_baseline_learns_harsh_users_and_good_items() -> None:
    # rating = 3 + user (±1) + item (±1); undamped it would be exact, damped it is shrunk but right in sign.
    users, items = np.repeat([1, 1, 2, 2], 50), np.tile([1, 2, 1, 2], 50)
    ratings = 3 + np.where(users == 1, -1, 1) + np.where(items == 1, 1, -1)
    codes = np.column_stack([np.concatenate([users, [1, 2, 0]]), np.concatenate([items, [2, 1, 1]])])
    everything = np.concatenate([ratings.astype(float), [0.0, 0.0, 0.0]])
    guesses = baselines.guess(SplitRatings.gather(codes, everything, (np.arange(200), np.arange(200, 203))))
    assert guesses.global_mean.tolist() == [3.0] * 3
    bias = guesses.bias_only
    assert bias[0] < 2.5 and bias[1] > 3.5 and 3.0 < bias[2] < 4.0  # an unknown user: item bias only


# --------------------------------------------------------------------------- from a model


def test_inputs_from_a_model_take_its_codes_and_predict_like_fastai() -> None:
    from reportgen.train.config import TrainConfig
    from reportgen.train.results import Metrics, TrainedModel

    rng = np.random.default_rng(0)
    # users 10, 20, 30 and a 99 never trained on; items A, B, C and a Z never trained on
    codes = np.array([[1, 1], [1, 2], [2, 1], [2, 3], [3, 2], [0, 0]])
    ratings = np.array([4.0, 2.0, 5.0, 3.0, 1.0, 4.0])
    model = TrainedModel(
        learner=None,
        config=TrainConfig(y_range=(0.0, 5.5)),
        item_classes=("#na#", "A", "B", "C"),
        item_factors=rng.normal(size=(4, 3)),
        item_biases=rng.normal(size=4),
        metrics=Metrics(0.0, 0.0, 4, 2, ()),
        seconds=0.0,
        user_classes=("#na#", "10", "20", "30"),
        user_biases=rng.normal(size=4),
        split=(np.array([0, 1, 2, 3]), np.array([4, 5])),
        user_factors=rng.normal(size=(4, 3)),
        codes=codes,
    )
    split = SplitRatings.gather(codes, ratings, model.split)
    made = q.inputs_from(model, split, baselines.guess(split), q.model_predictions(model, split))
    assert made.train_users.tolist() == [1, 1, 2, 2] and made.train_items.tolist() == [1, 2, 1, 3]
    assert made.valid_users.tolist() == [3, 0] and made.valid_items.tolist() == [2, 0]
    raw = model.user_factors[3] @ model.item_factors[2] + model.user_biases[3] + model.item_biases[2]
    assert made.model_predictions[0] == pytest.approx(5.5 / (1 + math.exp(-raw)))  # fastai's sigmoid_range
    assert made.mean_predictions.tolist() == [3.5, 3.5]
    assert made.rating_scale == (1.0, 5.0)
    assert q.evaluate(made).n_valid == 2


# --------------------------------------------------------------------------- (d) report.json


def test_json_has_the_required_keys_and_no_nan() -> None:
    doc = quality_to_json(q.evaluate(tiny(), k=3))
    text = json.dumps(doc, allow_nan=False)  # raises on NaN or infinity
    assert json.loads(text) == doc
    assert doc["k"] == 3 and doc["threshold"] == 4.0
    assert (doc["users_eligible"], doc["users_evaluated"]) == (3, 3)
    for ranker in ("model", "popularity", "random"):
        assert set(doc["ranking"][ranker]) == {
            "precision_at_3",
            "recall_at_3",
            "ndcg_at_3",
            "map_at_3",
            "hit_rate_at_3",
        }
    assert set(doc["rating"]) == {"model", "bias", "global_mean"}
    assert set(doc["rating"]["model"]) == {"rmse", "mae", "r2"}
    assert {"share", "items_recommended", "most_recommended"} <= set(doc["coverage"])
    assert [b["label"] for b in doc["by_user_activity"]] == ["0", "1–5", "6–20", "21–100", "more than 100"]
    assert doc["by_item_popularity"][4]["rmse"] is None  # empty bucket: null, not NaN
    assert len(doc["calibration"]["bins"]) == diagnostics.N_CALIBRATION_BINS
    assert doc["sentences"]["ranking"]


def test_default_k_names_the_keys_at_10() -> None:
    doc = quality_to_json(q.evaluate(taste_world(n_users=40)))
    assert doc["ranking"]["model"]["ndcg_at_10"] > doc["ranking"]["popularity"]["ndcg_at_10"]


# --------------------------------------------------------------------------- size


def test_evaluation_stays_linear_on_large_arrays() -> None:
    """Two million validation ratings, 20 000 items: seconds, not minutes (benchmarks/quality_speed.py goes to 10M)."""
    rng = np.random.default_rng(0)
    n_users, n_items, n = 20_000, 20_000, 2_000_000
    users, items = rng.integers(1, n_users, 2 * n), rng.integers(1, n_items, 2 * n)
    ratings = rng.integers(1, 6, 2 * n).astype(float)
    world = q.QualityInputs(
        train_users=users[:n],
        train_items=items[:n],
        train_ratings=ratings[:n],
        valid_users=users[n:],
        valid_items=items[n:],
        valid_ratings=ratings[n:],
        model_predictions=rng.uniform(1, 5, n),
        bias_predictions=np.full(n, 3.0),
        mean_predictions=np.full(n, 3.0),
        user_factors=rng.normal(size=(n_users, 8)),
        user_biases=np.zeros(n_users),
        item_factors=rng.normal(size=(n_items, 8)),
        item_biases=np.zeros(n_items),
        y_range=(0.0, 5.5),
        rating_scale=(1.0, 5.0),
        item_labels=[f"i{j}" for j in range(n_items)],
    )
    result = q.evaluate(world, max_users=500)
    assert result.users_evaluated == 500 and result.sampled
    assert sum(b.count for b in result.by_user_activity.buckets) == n
    assert sum(b.count for b in result.calibration.bins) == n
