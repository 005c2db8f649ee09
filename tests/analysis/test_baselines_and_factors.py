"""What the report adds to the tutorial: baselines, bias against mean, genres, neighbours, distributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reportgen.analysis import baselines, factors
from reportgen.analysis import findings as analysis
from reportgen.analysis.factors import Component, Scored
from reportgen.analysis.findings import ItemStat
from reportgen.analysis.inputs import SplitRatings
from tests.helpers.pages import PAGE_BYTES


def baselines_of(
    frame: pd.DataFrame, train_rows: np.ndarray, valid_rows: np.ndarray, model_rmse: float
) -> baselines.Baselines:
    """Both predictors on a frame of user and title labels, coded as the model codes them (0: unseen in training)."""
    codes = np.column_stack(
        [pd.Index(frame[c].iloc[train_rows].unique()).get_indexer(frame[c]) + 1 for c in ("user", "title")]
    )
    ratings = frame["rating"].to_numpy(dtype=float)
    guesses = baselines.guess(SplitRatings.gather(codes, ratings, (train_rows, valid_rows)))
    return baselines.summarise(guesses, ratings[valid_rows], model_rmse)


def test_baselines_fit_on_the_training_rows_and_score_the_validation_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two users (a harsh and a generous one) and two items (a good and a bad one), rating = 3 + user + item.
    rows = [(u, t, 3 + ub + ib) for u, ub in (("harsh", -1), ("kind", 1)) for t, ib in (("good", 1), ("bad", -1))]
    frame = pd.DataFrame(rows * 25, columns=["user", "title", "rating"])
    train_rows, valid_rows = np.arange(0, 80), np.arange(80, 100)
    damped = baselines_of(frame, train_rows, valid_rows, model_rmse=0.1)
    assert damped.global_mean == 3.0
    assert damped.global_mean_rmse == pytest.approx(np.sqrt(2.0))  # every rating is 3 ± 2 or 3 + 0
    assert damped.model_rmse == 0.1
    # Undamped, alternating least squares recovers the planted biases exactly...
    monkeypatch.setattr(baselines, "LAMBDA_ITEM", 0.0)
    monkeypatch.setattr(baselines, "LAMBDA_USER", 0.0)
    assert baselines_of(frame, train_rows, valid_rows, model_rmse=0.1).bias_only_rmse == pytest.approx(0.0, abs=1e-9)
    # ...and damping only shrinks them towards 0: worse here, still far better than the mean.
    assert 0.0 < damped.bias_only_rmse < damped.global_mean_rmse / 2


def test_bias_only_predicts_the_mean_for_users_and_items_it_never_saw() -> None:
    frame = pd.DataFrame(
        {"user": ["a", "a", "b", "new"], "title": ["x", "y", "x", "unseen"], "rating": [4.0, 2.0, 3.0, 5.0]}
    )
    b = baselines_of(frame, np.array([0, 1, 2]), np.array([3]), model_rmse=1.0)
    assert b.bias_only_rmse == pytest.approx(5.0 - 3.0)


def stat(title: str, bias: float, mean: float, count: int) -> ItemStat:
    return ItemStat(title=title, bias=bias, mean_rating=mean, count=count)


def test_bias_against_mean_names_the_disagreements_with_a_reason() -> None:
    # Raters: "fan" rates everything 5, "grump" everything 1, "fair" the item's true quality.
    ratings = []
    for title, quality, raters in [
        ("Loved by fans", 2, ["fan"] * 6 + ["fair"] * 2),  # high mean thanks to generous raters
        ("Hated by grumps", 4, ["grump"] * 6 + ["fair"] * 2),  # low mean because of harsh raters
        ("Plain good", 4, ["fair"] * 8),
        ("Plain bad", 2, ["fair"] * 8),
        ("Middling", 3, ["fair"] * 8),
    ]:
        ratings += [(r, title, {"fan": 5, "grump": 1}.get(r, quality)) for r in raters]
    frame = pd.DataFrame(ratings, columns=["user", "title", "rating"])
    means = frame.groupby("title")["rating"].mean()
    biases = {"Loved by fans": -0.5, "Hated by grumps": 0.5, "Plain good": 0.5, "Plain bad": -0.5, "Middling": 0.0}
    stats = [stat(t, biases[t], float(means[t]), 8) for t in biases]
    v = analysis.bias_vs_mean(tuple(stats), *analysis.raters_means(frame))

    assert v.correlation == pytest.approx(np.corrcoef([s.bias for s in stats], [s.mean_rating for s in stats])[0, 1])
    assert v.high_mean_low_bias[0].title == "Loved by fans"
    assert v.high_mean_low_bias[0].reason.startswith("its raters are generous")
    assert v.low_mean_high_bias[0].title == "Hated by grumps"
    assert v.low_mean_high_bias[0].reason.startswith("its raters are harsh")
    assert {d.title for d in v.high_mean_low_bias} & {d.title for d in v.low_mean_high_bias} == set()


def test_genre_shares_at_each_end_of_a_component() -> None:
    titles = [f"M{i}" for i in range(20)]
    genres = {t: (("Drama", "Romance") if i < 10 else ("Action",)) for i, t in enumerate(titles)}
    genres["M0"] = ("Drama",)
    component = Component(
        index=0,
        explained_variance_ratio=0.2,
        top=tuple(Scored(t, 1.0) for t in titles[:10]),  # the ten dramas
        bottom=tuple(Scored(t, -1.0) for t in titles[10:]),  # the ten action films
    )
    (c,) = factors.component_genres(titles, (component,), genres)
    assert c.shares_top == {"Action": 0.0, "Drama": 1.0, "Romance": 0.9}
    assert c.shares_bottom == {"Action": 1.0, "Drama": 0.0, "Romance": 0.0}
    assert [(g.genre, g.share, g.overall) for g in c.top] == [("Drama", 1.0, 0.5), ("Romance", 0.9, 0.45)]
    assert [(g.genre, g.share) for g in c.bottom] == [("Action", 1.0)]
    assert c.sentence == (
        "The highest scores lean to Drama (100% of them, against 50% of all analysed items), Romance (90% of them, "
        "against 45% of all analysed items); the lowest scores lean to Action (100% of them, against 50% of all analysed items)."
    )


def test_no_genres_no_sentences() -> None:
    assert factors.component_genres(["A"], (), {}) == ()


def test_neighbours_by_cosine_similarity_exclude_the_item_itself() -> None:
    titles = ("A", "A twin", "B", "B twin", "Opposite of A")
    vectors = np.array([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.1, 3.0], [-1.0, 0.0]])
    found = factors.neighbours(titles, vectors, n_items=2, n=2)
    assert list(found) == ["A", "A twin"]
    assert [n.title for n in found["A"]] == ["A twin", "B twin"]
    assert found["A"][0].similarity == pytest.approx(2 / np.hypot(2, 0.1))
    assert [n.title for n in found["A twin"]][0] == "A"


def test_scree_ratios_sum_to_one_over_all_components() -> None:
    vectors = np.random.default_rng(0).normal(size=(50, 6)) * np.array([4, 2, 1, 1, 0.5, 0.1])
    _, ratios = factors.pca(vectors, 3, 10)
    assert len(ratios) == 6 and sum(ratios) == pytest.approx(1.0)
    assert list(ratios) == sorted(ratios, reverse=True)


def test_rating_histogram_has_one_bar_per_star_value() -> None:
    h = analysis.rating_histogram(np.array([1, 2, 2, 3, 3, 3, 5.0]))
    assert h.counts == (1, 2, 3, 0, 1)  # nobody gave a 4: an empty bar, not a wide 3
    assert h.edges == (0.5, 1.5, 2.5, 3.5, 4.5, 5.5)
    half = analysis.rating_histogram(np.array([0.5, 1.0, 1.0, 4.5]))
    assert half.counts == (1, 2) + (0,) * 6 + (1,) and half.edges[0] == 0.25
    assert len(analysis.rating_histogram(np.linspace(0, 1, 50)).counts) == 20  # not a star scale: even bins


# --------------------------------------------------------------------------- on planted data, end to end


@pytest.fixture(scope="module")
def tastes_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import json

    from click.testing import CliRunner

    from reportgen.cli import cli
    from tests.helpers.planted import planted_tastes, write_grouplens

    planted = planted_tastes()
    folder = write_grouplens(
        tmp_path_factory.mktemp("tastes") / "ml-tastes", planted.frame, planted.titles, planted.genres
    )
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(
        cli, ["build", "--data", str(folder), "--output", str(out), "--factors", "8", "--lr", "0.01"]
    )
    assert result.exit_code == 0, result.output
    return {
        "doc": json.loads((out / "report.json").read_text()),
        "html": (out / "report.html").read_text(),
        "planted": planted,
    }


def test_the_model_beats_bias_only_which_beats_the_global_mean(tastes_report: dict) -> None:
    b = tastes_report["doc"]["insight"]["baselines"]
    assert b["model_rmse"] < b["bias_only_rmse"] < b["global_mean_rmse"]
    assert b["model_rmse"] == tastes_report["doc"]["metrics"]["valid_rmse"]


def test_planted_twins_are_each_others_nearest_neighbours(tastes_report: dict) -> None:
    from tests.helpers.planted import TWINS

    neighbours = tastes_report["doc"]["insight"]["neighbours"]
    assert set(TWINS) <= set(neighbours)  # the twins are among the 10 most-rated items
    for twin in TWINS:
        assert set(neighbours[twin][:3]) == set(TWINS) - {twin}
        assert len(neighbours[twin]) == 5


def test_genre_shares_name_drama_against_action_on_one_component(tastes_report: dict) -> None:
    doc = tastes_report["doc"]
    genres = {
        t: set(g) for t, g in zip(tastes_report["planted"].titles.values(), tastes_report["planted"].genres.values())
    }
    components = {c["index"]: c for c in doc["pca"]["components"]}
    for shares in doc["insight"]["component_genres"]:
        c = components[shares["index"]]
        for end in ("top", "bottom"):
            titles = [e["title"] for e in c[end]]
            for genre, share in shares[end].items():
                assert share == sum(genre in genres[t] for t in titles) / len(titles)
    split = [
        s
        for s in doc["insight"]["component_genres"]
        if {s["top"]["Drama"], s["bottom"]["Action"]} == {1.0} or {s["top"]["Action"], s["bottom"]["Drama"]} == {1.0}
    ]
    assert split, doc["insight"]["component_genres"]
    assert "Drama" in split[0]["sentence"] and "Action" in split[0]["sentence"]


def test_the_page_shows_each_new_section_with_its_figure(tastes_report: dict) -> None:
    from bs4 import BeautifulSoup

    page = BeautifulSoup(tastes_report["html"], "html.parser")
    for section, figure in [
        ("quality", "learning_curve"),
        ("bias", "bias_vs_mean"),
        ("pca", "variance"),
        ("distributions", "ratings"),
    ]:
        block = page.find(id=section)
        assert block.find(id=f"{figure}-caption") is not None, figure
        assert block.find("svg") is not None
    assert "r = " in page.find(id="bias-vs-mean").find_next("p").get_text()
    rows = page.find(id="neighbours").tbody.find_all("tr")
    assert len(rows) == 10
    assert len(tastes_report["html"].encode()) <= PAGE_BYTES


def test_every_id_on_the_page_is_unique(tastes_report: dict) -> None:
    """Several matplotlib SVGs share one page; their element ids must not collide."""
    import re
    from collections import Counter

    ids = Counter(re.findall(r'\bid="([^"]+)"', tastes_report["html"]))
    assert [i for i, n in ids.items() if n > 1] == []
    refs = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', tastes_report["html"]))
    assert refs <= set(ids)
