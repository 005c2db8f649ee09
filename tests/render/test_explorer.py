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
from reportgen.errors import InputError
from reportgen.render import explorer as view
from reportgen.render import html as render
from reportgen.render.figures import svg
from reportgen.report import from_json, to_json
from reportgen.train.config import TrainConfig
from tests.helpers.pages import PAGE_BYTES, PLACEHOLDER_SVG, own_bytes
from tests.helpers.planted import as_ratings, planted_frame
from tests.helpers.reports import HOSTILE, INJECTION, TEMPLATE_LIKE, hand_made_report

ISLAND = re.compile(r'<script type="application/json" id="explorer-data">(.*?)</script>', re.S)


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


def island_of(page: str) -> dict[str, Any]:
    found = ISLAND.findall(page)
    assert len(found) == 1
    return json.loads(found[0])


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
    island = island_of(page_text)
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
    assert island_of(render.render_html(again)) == island_of(render.render_html(planted_report))


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
