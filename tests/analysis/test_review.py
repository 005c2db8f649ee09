"""`analysis.review`: tonight's model against a baseline on the ratings neither trained on, with planted truths.

Every fit here trains on planted data (tests/helpers/planted.py) with the stable split, the
default for own data: which ratings a run held out is recomputed from its model's record.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from reportgen import train
from reportgen.analysis.review import review_models as review
from reportgen.data.types import Ratings
from reportgen.train.results import FactorModel
from tests.helpers.planted import Planted, as_ratings, planted_frame

TINY = train.TrainConfig(lr=1e-2, factors=8, bs=64, epochs=3)


def fitted(ratings: Ratings, **settings: object) -> FactorModel:
    return FactorModel.of_trained(train.fit(ratings, dataclasses.replace(TINY, **settings)))


def reviewed(ratings: Ratings, tonight: FactorModel, baseline: FactorModel) -> object:
    """The review the report would make, every item tonight's model knows analysed."""
    known = tuple(t for t in tonight.items if t != train.NA_CLASS)
    return review(ratings, tonight, baseline, name="yesterday", top_items=known, k=10, threshold=4.0)


def pairs(frame: pd.DataFrame, rows: np.ndarray) -> set[tuple[str, str]]:
    return set(zip(frame["user"].astype(str).to_numpy()[rows], frame["title"].astype(str).to_numpy()[rows]))


@pytest.fixture(scope="module")
def planted_ratings(planted: Planted) -> Ratings:
    return as_ratings(planted.frame)


def test_a_model_against_itself_differs_in_nothing(planted_ratings: Ratings) -> None:
    """The same data, settings and seed train the same bits: every difference 0, no list changed, the same space."""
    tonight, again = fitted(planted_ratings), fitted(planted_ratings)
    found = reviewed(planted_ratings, tonight, again)
    p = found.paired
    assert found.splits == ("stable", "stable") and found.compared == found.held_out > 0
    assert (p.rmse.difference, p.rmse.low, p.rmse.high) == (0.0, 0.0, 0.0)
    assert (p.mae.difference, p.ranking.ndcg.difference, p.ranking.recall.difference) == (0.0, 0.0, 0.0)
    assert found.verdict == "no detectable difference"
    assert (p.ranking.churn.changed, p.ranking.churn.jaccard, p.ranking.churn.rbo) == (0.0, 1.0, 1.0)
    assert found.movement.agreement == pytest.approx(1.0) and found.movement.mean_overlap == 1.0


def test_more_epochs_that_truly_lower_the_error_are_better_on_the_same_rows(planted_ratings: Ratings) -> None:
    short, long = fitted(planted_ratings, epochs=1), fitted(planted_ratings, epochs=5)
    found = reviewed(planted_ratings, long, short)
    assert found.verdict == "better" and found.paired.rmse.high < 0
    assert found.paired.n == found.compared == found.held_out  # the same seed: the same held-out ratings
    assert "Tonight's model is better: RMSE" in found.sentence


def test_grown_data_is_compared_only_on_ratings_yesterdays_model_never_trained_on() -> None:
    """Tonight's data is yesterday's plus 5 % more ratings, some by new users of new items: no compared rating
    is one yesterday's model trained on, and the ratings it cannot know are counted apart."""
    grown = planted_frame().frame
    rng = np.random.default_rng(7)
    later = (grown["user"] > 236) | (grown["item"] > 59) | (rng.random(len(grown)) < 0.02)  # new users, items, pairs
    yesterday_frame, extra = grown[~later], grown[later]
    assert 0.03 < len(extra) / len(yesterday_frame) < 0.08
    tonight_frame = pd.concat([yesterday_frame, extra]).sample(frac=1.0, random_state=1).reset_index(drop=True)
    for frame in (yesterday_frame, tonight_frame):
        for column in ("user", "title"):
            frame[column] = frame[column].astype(str).astype("category")
    yesterday_ratings = as_ratings(yesterday_frame.reset_index(drop=True), "shop")
    tonight_ratings = as_ratings(tonight_frame, "shop")
    yesterday = train.fit(yesterday_ratings, TINY)
    tonight = train.fit(tonight_ratings, TINY)
    found = review(
        tonight_ratings, FactorModel.of_trained(tonight), FactorModel.of_trained(yesterday), name="y", k=10, threshold=4
    )
    trained_on = pairs(yesterday_ratings.frame, yesterday.split[0])
    from reportgen.train import held_out_by

    mask = held_out_by(tonight_ratings.frame, tonight.split_spec, tonight_ratings.provenance.sha256)
    theirs = held_out_by(tonight_ratings.frame, yesterday.split_spec, tonight_ratings.provenance.sha256)
    compared = np.flatnonzero(mask & theirs)
    assert len(compared) == found.compared == found.paired.n > 0
    assert pairs(tonight_ratings.frame, compared).isdisjoint(trained_on)
    unseen = found.paired.unseen_by_baseline
    assert unseen.either > 0 and unseen.users > 0 and unseen.items > 0  # new users and new items: scored by #na#
    assert found.paired.unseen_by_tonight.either <= unseen.either


def test_a_random_split_on_other_data_gives_no_verdict_and_says_why(planted_ratings: Ratings) -> None:
    random = fitted(planted_ratings, split="random")
    fewer = as_ratings(planted_ratings.frame.iloc[:-50].reset_index(drop=True), "synthetic")
    found = reviewed(fewer, fitted(fewer), random)
    assert found.paired is None and found.verdict == "no verdict"
    assert "fastai's RandomSplitter" in found.reason and found.sentence.startswith("No verdict: ")
    assert found.movement is not None  # the factor spaces are compared all the same


@pytest.mark.slow
def test_another_seed_alone_is_no_detectable_difference_in_at_least_19_of_20_pairs() -> None:
    """The interval's coverage: same data and settings, only the seed differs (and with it each run's stable
    split, so the pairs are compared on the ratings both held out)."""
    ratings = as_ratings(planted_frame(n_users=160, n_items=50, seed=5).frame)
    verdicts = []
    for pair in range(20):
        one, two = fitted(ratings, seed=100 + 2 * pair), fitted(ratings, seed=101 + 2 * pair)
        verdicts.append(reviewed(ratings, two, one).verdict)
    assert verdicts.count("no detectable difference") >= 19, verdicts
