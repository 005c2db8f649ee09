"""The factor-space explorer's data, as the page carries it: one JSON island, read without a browser.

tests/render/test_explorer_browser.py drives the explorer itself in Chromium.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html as stdlib_html
import json
import re
from typing import Any

import pytest
from bs4 import BeautifulSoup

from reportgen import pipeline
from reportgen.analysis.factors import FactorMap
from reportgen.analysis.movement import MapMoves, Movement
from reportgen.analysis.review import Review
from reportgen.errors import InputError
from reportgen.render import explorer as view
from reportgen.render import html as render
from reportgen.render.figures import svg
from reportgen.report import from_json, to_json
from reportgen.train.config import TrainConfig
from tests.helpers.explorer import ISLAND, island_in, previous_positions
from tests.helpers.pages import PAGE_BYTES, PLACEHOLDER_SVG, own_bytes
from tests.helpers.planted import as_ratings, planted_frame
from tests.helpers.reports import HOSTILE, INJECTION, TEMPLATE_LIKE, hand_made_report


@pytest.fixture(scope="module")
def planted_report() -> Any:
    """A report trained on planted ratings (50 items, 12 factors), its figures left undrawn (while it is made only:
    hand-made reports keep their drawn figures, which they cache for every test file)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(svg, "to_svg", lambda fig: fig.clear() or PLACEHOLDER_SVG)
        return pipeline.make_report(
            as_ratings(planted_frame(n_users=120, n_items=50, density=0.5).frame),
            TrainConfig(epochs=2, factors=12, bs=128),
            source_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )


def column(value: list[int] | dict[str, Any], i: int) -> int:
    """What the script reads: a plain array, or pairs of characters above their least."""
    return value[i] if isinstance(value, list) else value["from"] + view.unpair(value["pairs"], 2 * i)


def decoded(island: dict[str, Any]) -> list[dict[str, Any]]:
    """The island's items as the script decodes them (templates/explorer.js), row by row."""
    n, k, per = island["n"], island["k"], island["per"]
    return [
        {
            "scores": [
                (view.unpair(island["scores"], 2 * (c * n + i)) - view.MIDDLE) * island["scale"][c] for c in range(k)
            ],
            "neighbours": [view.unpair(island["neighbours"], 2 * (i * per + j)) for j in range(per)],
            "similarity": [(view.unpair(island["similarity"], 2 * (i * per + j)) - 100) / 100 for j in range(per)],
            "bias": column(island["bias"], i) / 1000,
            "mean": column(island["mean"], i) / 100,
            "count": column(island["count"], i),
        }
        for i in range(n)
    ]


def listed_titles(page: BeautifulSoup) -> list[str]:
    """The titles the script reads, in its order: the page's list of every analysed item, each whole."""
    return [b.get_text() for b in page.select("#top-items details li .item")]


def test_the_island_maps_every_analysed_item_on_ten_components_with_the_neighbours_sections_neighbours(
    planted_report: Any,
) -> None:
    a = planted_report.analysis
    page_text = render.render_html(planted_report)
    page = BeautifulSoup(page_text, "html.parser")
    island = island_in(page_text)
    items = decoded(island)
    assert (island["n"], island["k"], island["per"]) == (50, 10, 5)
    assert listed_titles(page) == list(a.top_items)  # row i of the island is the i-th listed title: all 50
    by_title = dict(zip(a.top_items, items))
    for stat in a.item_stats:  # the panel's numbers, to its decimals
        item = by_title[stat.title]
        assert (item["bias"], item["mean"], item["count"]) == (
            round(stat.bias, 3),
            round(stat.mean_rating, 2),
            stat.count,
        )
    for row, item in zip(a.factor_map.scores, items):  # each score within half a step of the map's
        assert all(abs(s - t) <= scale / 2 + 1e-12 for s, t, scale in zip(item["scores"], row, island["scale"]))
    for title, found in a.neighbours.items():  # the section's neighbours, by the same rule
        item = by_title[title]
        assert [a.top_items[j] for j in item["neighbours"]] == [n.title for n in found]
        assert item["similarity"] == [round(n.similarity, 2) for n in found]
    # The menus offer the ten components, the tutorial's 0 across and 2 up at first.
    for menu, chosen in (("explorer-x", "0"), ("explorer-y", "2")):
        options = page.find(id=menu).find_all("option")
        assert [o["value"] for o in options] == [str(c) for c in range(10)]
        assert [o["value"] for o in options if o.has_attr("selected")] == [chosen]
    assert options[0].get_text().startswith("Component 0 (")
    assert page.find(id="explorer").has_attr("hidden")  # until the script shows it
    assert page.find(id="explorer-panel")["aria-live"] == "polite"


def test_the_map_is_the_same_in_report_json_read_back_and_in_the_page(planted_report: Any) -> None:
    doc = to_json(planted_report)
    assert doc["factor_map"]["items"] == 50 and doc["factor_map"]["components"] == 10
    again = from_json(json.loads(json.dumps(doc)))
    assert again.analysis.factor_map == planted_report.analysis.factor_map
    assert to_json(again) == doc
    assert island_in(render.render_html(again)) == island_in(render.render_html(planted_report))


def reviewed(report: Any, moves: MapMoves) -> Any:
    """`report` with a review against a baseline whose aligned positions on the map are `moves` (no verdict)."""
    moved = Movement(
        common=sum(row is not None for row in moves.before),
        only_tonight=sum(row is None for row in moves.before),
        only_baseline=0,
        n_factors=(12, 12),
        agreement=0.5,
        spread_ratio=1.0,
        movers=(),
        mean_overlap=0.5,
        n_neighbours=5,
        neighbours_changed=(),
        map_moves=moves,
    )
    review = Review("20260101T000000Z", "", ("stable", "stable"), 0, 0, "no rating was held out by both", None, moved)
    return dataclasses.replace(report, review=review)


def planted_moves(report: Any) -> MapMoves:
    """Yesterday's aligned positions for the planted map: every seventh item unknown to the baseline, the others
    moved, some beyond tonight's largest score (so the scale must cover both), rounded as the analysis rounds them."""
    scores = report.analysis.factor_map.scores
    before = tuple(
        None if i % 7 == 3 else tuple(round(1.6 * s - 0.05 * c + 0.01 * i, 3) + 0.0 for c, s in enumerate(row))
        for i, row in enumerate(scores)
    )
    return MapMoves(
        before=before,
        displacement=tuple(None if row is None else round(0.137 * (i % 11), 3) for i, row in enumerate(before)),
        component_agreement=(0.9554, 0.851, -0.204, None, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0),
    )


def test_the_island_carries_each_items_previous_place_on_the_same_scale_and_the_page_offers_the_view(
    planted_report: Any,
) -> None:
    moves = planted_moves(planted_report)
    report = reviewed(planted_report, moves)
    text = render.render_html(report)
    island, plain = island_in(text), island_in(render.render_html(planted_report))
    assert set(island) - set(plain) == {"before", "moved", "agree"}  # numbers only, as the rest: no titles
    assert set(island["before"]) <= set(view.ALPHABET) and len(island["before"]) == 2 * 50 * 10
    scores = planted_report.analysis.factor_map.scores
    for c, scale in enumerate(island["scale"]):  # one scale a component, over tonight's and yesterday's places
        top = max(abs(v[c]) for v in (*scores, *(row for row in moves.before if row is not None)))
        assert scale == pytest.approx(top / (view.MIDDLE - 1), rel=1e-5)
    assert any(new > old for new, old in zip(island["scale"], plain["scale"]))  # yesterday's reach further
    found = previous_positions(island)
    for row, was in zip(moves.before, found):  # within half a step of map_moves.before, or unknown as it is
        assert (was is None) == (row is None)
        if row is not None:
            assert all(abs(f - b) <= scale / 2 + 1e-12 for f, b, scale in zip(was, row, island["scale"]))
    for row, item in zip(scores, decoded(island)):  # tonight's numbers are still those the panel shows
        assert all(abs(s - t) <= scale / 2 + 1e-12 for s, t, scale in zip(item["scores"], row, island["scale"]))
        assert all(scale / 2 < 0.005 for scale in island["scale"])  # to its 2 decimals, within one in the last
    moved = [column(island["moved"], i) / 100 for i in range(50)]
    assert [m for m, row in zip(moved, found) if row is not None] == [
        round(d, 2) for d in moves.displacement if d is not None
    ]
    assert island["agree"] == [96, 85, -20, None, 50, 40, 30, 20, 10, 0]  # hundredths, for the legend
    page = BeautifulSoup(text, "html.parser")
    box = page.find("input", id="explorer-moves")
    assert box["type"] == "checkbox" and not box.has_attr("checked")
    assert box.find_parent("label").get_text(strip=True) == "Show moves since the previous run"
    assert "for each of the 43 items that the previous run's model (20260101T000000Z) also knew" in " ".join(
        page.find(id="explorer").get_text().split()
    )
    # report.json keeps it: read back, the page's island is the same
    assert island_in(render.render_html(from_json(json.loads(json.dumps(to_json(report)))))) == island


def test_without_a_review_or_with_a_baseline_that_knows_no_mapped_item_there_is_no_view(planted_report: Any) -> None:
    moves = planted_moves(planted_report)
    unknown = MapMoves((None,) * 50, (None,) * 50, moves.component_agreement)
    for report in (planted_report, reviewed(planted_report, unknown)):
        text = render.render_html(report)
        assert not {"before", "moved", "agree"} & set(island_in(text))
        assert BeautifulSoup(text, "html.parser").find(id="explorer-moves") is None
        assert "Show moves" not in text
    assert island_in(render.render_html(reviewed(planted_report, unknown))) == island_in(
        render.render_html(planted_report)
    )  # the same bytes as a report without a review


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda m: dataclasses.replace(m, before=m.before[:-1]),
            "map_moves is not one row for each of the factor map's 50",
        ),
        (lambda m: dataclasses.replace(m, component_agreement=(0.5,)), "map_moves is not one row for each"),
        (lambda m: dataclasses.replace(m, before=((1.0, 2.0), *m.before[1:])), "is not on the factor map's 10 comp"),
        (lambda m: dataclasses.replace(m, displacement=(None, *m.displacement[1:])), "a displacement where it has no"),
    ],
)
def test_moves_that_do_not_fit_the_map_are_refused_by_name(planted_report: Any, change: Any, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        render.render_html(reviewed(planted_report, change(planted_moves(planted_report))))
    assert problem in str(caught.value)


def test_hostile_titles_never_reach_the_island_and_stay_text_in_the_list_it_reads() -> None:
    titles = ("Alpha (1990)", HOSTILE, "Gamma & Sons (1992)", INJECTION, TEMPLATE_LIKE)
    text = render.render_html(hand_made_report(titles))
    raw = ISLAND.findall(text)[0]
    assert not set("<>&'") & set(raw) and "script" not in raw and "title" not in raw
    page = BeautifulSoup(text, "html.parser")
    assert listed_titles(page) == list(titles)
    assert [s.get("type") for s in page.find_all("script")] == ["application/json", None]


def test_a_report_json_without_a_map_reads_back_and_renders_without_the_explorer() -> None:
    doc = to_json(hand_made_report())
    del doc["factor_map"]  # as a report.json of this version written before the explorer
    report = from_json(doc)
    assert report.analysis.factor_map is None
    page = BeautifulSoup(render.render_html(report), "html.parser")
    assert page.find(id="explorer") is None and page.select('nav a[href="#explorer"]') == []
    assert page.find(id="neighbours") is not None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: m["neighbours"][0].__setitem__(0, 5), "factor_map.neighbours names a row outside its 5 items"),
        (lambda m: m["scores"].pop(), "factor_map is not one row of scores and of neighbours for each of its 4 items"),
        (lambda m: m["scores"][1].pop(), "factor_map is not one row of scores and of neighbours for each of its 5"),
        (lambda m: m["similarity"][2].__setitem__(0, "near"), "analysis.factor_map.similarity[2][0] is 'near'"),
    ],
)
def test_a_damaged_map_is_refused_by_name(change: Any, problem: str) -> None:
    doc = json.loads(json.dumps(to_json(hand_made_report())))
    change(doc["factor_map"])
    with pytest.raises(InputError) as caught:
        from_json(doc)
    assert problem in str(caught.value)


def test_what_the_explorer_adds_to_the_page_is_bounded_whatever_the_titles() -> None:
    """A thousand 300-byte titles: the island holds none of them, so the explorer adds the same few dozen KB."""
    titles = tuple(f"{'Ünïcode & <long> title ' * 12}{i:04d}" for i in range(1000))
    small = hand_made_report()  # its figures and short lists; the thousand titles in the list of analysed items
    stats = tuple(
        dataclasses.replace(small.analysis.item_stats[0], title=t, count=1000 - i) for i, t in enumerate(titles)
    )
    mapped = FactorMap(
        scores=tuple(tuple(((i * 7919 + c * 104729) % 2001 - 1000) / 400 for c in range(10)) for i in range(1000)),
        neighbours=tuple(tuple((i + j) % 1000 for j in range(1, 6)) for i in range(1000)),
        similarity=tuple((0.99, 0.5, 0.0, -0.5, -0.99) for _ in range(1000)),
    )

    def page(factor_map: FactorMap | None) -> str:
        analysis = dataclasses.replace(small.analysis, top_items=titles, item_stats=stats, factor_map=factor_map)
        return render.render_html(dataclasses.replace(small, analysis=analysis))

    text, without = page(mapped), page(None)
    island = ISLAND.findall(text)[0]
    assert len(text.encode()) - len(without.encode()) <= 80_000  # the explorer's data, markup, code and style
    moves = MapMoves(  # every item moved, and known to the baseline: the moves since the previous run add at most
        before=tuple(tuple(1.25 * s for s in row) for row in mapped.scores),  # two characters a score again,
        displacement=tuple(i / 400 for i in range(1000)),  # two for its displacement
        component_agreement=(0.9,) * 10,
    )
    analysis = dataclasses.replace(small.analysis, top_items=titles, item_stats=stats, factor_map=mapped)
    with_moves = render.render_html(reviewed(dataclasses.replace(small, analysis=analysis), moves))

    def explorer_bytes(page: str) -> int:  # the section and its share of the script (the review adds its own section)
        section = re.search(r'<section id="explorer".*?</section>', page, re.S).group(0)
        return len(section.encode()) + len(re.search(r"<script>.*?</script>", page, re.S).group(0).encode())

    assert explorer_bytes(with_moves) - explorer_bytes(text) <= 2 * 1000 * 11 + 1_000  # and the checkbox and its text
    assert "Ünïcode" not in island and len(island.encode()) <= 50_000
    assert decoded(json.loads(island))[1]["neighbours"] == [2, 3, 4, 5, 6]
    assert own_bytes(text, titles) <= PAGE_BYTES  # the page's own bytes; its titles come whole on top
    assert listed_titles(BeautifulSoup(text, "html.parser")) == list(titles)


def test_in_a_notebook_the_report_is_the_page_inside_an_isolated_frame() -> None:
    report = hand_made_report()
    shown = report._repr_html_()
    frame = BeautifulSoup(shown, "html.parser").find("iframe")
    assert shown.startswith("<iframe ") and shown.endswith("</iframe>") and shown.count("<") == 2  # one element
    assert frame["srcdoc"] == render.render_html(report)  # the page, whole, once unescaped
    assert stdlib_html.unescape(re.search(r'srcdoc="([^"]*)"', shown).group(1)) == render.render_html(report)
    assert frame["sandbox"] == ["allow-scripts"] and "height: min(85vh, 56rem)" in frame["style"]
    assert frame["title"] == "reportgen report: ml-100k"


def test_the_map_stops_at_a_thousand_items_and_orders_neighbours_by_the_sections_rule() -> None:
    """More analysed items than the map holds: the 1,000 most rated are mapped, their neighbours among them."""
    import numpy as np

    from reportgen.analysis import factors

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(1200, 8))
    vectors[5] = vectors[3] = vectors[1] * 2  # three items pointing the same way as item 1: a tie, broken by title
    titles = [f"Item {i:04d}" for i in range(1200)]
    titles[5], titles[3] = "A tie (first by title)", "B tie"
    scores, _ = factors.pca(vectors, 8, 8)
    mapped = factors.factor_map(titles, vectors, scores, 1000, 5)
    assert len(mapped.scores) == len(mapped.neighbours) == 1000 and mapped.n_components == 8
    assert max(j for row in mapped.neighbours for j in row) < 1000
    assert mapped.neighbours[1][:2] == (5, 3) and mapped.similarity[1][0] == pytest.approx(1.0)
    section = factors.neighbours(titles[:1000], vectors[:1000], 10, 5)
    assert [[titles[j] for j in row] for row in mapped.neighbours[:10]] == [
        [n.title for n in section[t]] for t in titles[:10]
    ]
