"""The report as its readers meet it night after night: three runs on ML-100k into one folder (the
tutorial's settings, then `--preset fast --seed 7`, then `--split time`), each page read as a whole."""

from __future__ import annotations

from typing import Any

import pytest
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from tests.helpers import browser as tools
from tests.helpers.browser import PHONE, SIDEWAYS, assert_clean
from tests.helpers.explorer import IN_VIEW, find, shows_the_map, state
from tests.helpers.pages import ML100K_PAGE_BYTES

pytestmark = pytest.mark.ml100k


def named_titles(doc: object) -> set[str]:
    """Every title report.json holds: the analysed items, and every value of a "title" key anywhere."""
    if isinstance(doc, dict):
        found = set(doc.get("top_items", []))
        found |= {v for k, v in doc.items() if k == "title" and isinstance(v, str)}
        return found.union(*(named_titles(v) for v in doc.values()))
    if isinstance(doc, list):
        return set().union(*(named_titles(v) for v in doc))
    return set()


def test_every_night_shows_every_title_whole_within_the_page_budget(ml100k_nights: list[dict]) -> None:
    assert [("changes" in n["html"], n["doc"]["config"]["seed"]) for n in ml100k_nights] == [
        (False, 42),
        (True, 7),
        (True, 42),
    ]
    for night in ml100k_nights:
        page = BeautifulSoup(night["html"], "html.parser")
        shown = {cell.get_text() for cell in page.select("bdi.item")}
        assert shown <= named_titles(night["doc"]), shown - named_titles(night["doc"])  # whole, as report.json has it
        assert [li.get_text() for li in page.select("#top-items ol li")] == night["doc"]["top_items"]
        labels = {t.get_text() for t in page.select("#scatter svg title")}
        assert labels == {p["title"] for p in night["doc"]["scatter"]}  # the scatter's hover text, whole
        assert len(night["html"].encode()) <= ML100K_PAGE_BYTES
    assert BeautifulSoup(ml100k_nights[2]["html"], "html.parser").find(id="split") is not None


def test_the_time_split_night_says_in_the_page_report_md_and_log_that_the_model_loses(
    ml100k_nights: list[dict],
) -> None:
    """Scored on the latest ratings, the model does worse than guessing the training mean: the reader
    is told at the top of the page, in "How good is the model?", in report.md and in the log."""
    night = ml100k_nights[2]
    b = night["doc"]["insight"]["baselines"]
    assert b["model_rmse"] > b["global_mean_rmse"]
    said = (
        f"The model is worse than the global mean: valid RMSE {b['model_rmse']:.4f} "
        f"against {b['global_mean_rmse']:.4f}."
    )
    page = BeautifulSoup(night["html"], "html.parser")
    header = page.find("header").get_text(" ", strip=True)
    assert said in " ".join(header.split())
    assert said in " ".join(page.find(id="quality").get_text(" ", strip=True).split())
    shown_md = BeautifulSoup(MarkdownIt("commonmark").enable("table").render(night["md"]), "html.parser")
    assert said in shown_md.get_text(" ")  # as a reader of the rendered Markdown sees it
    assert said in night["log"]
    first = ml100k_nights[0]
    assert "worse than the global mean" not in first["html"] and "worse than the global mean" not in first["log"]


def test_on_every_night_the_explorer_finds_whole_titles_and_a_link_lands_on_fargo(
    browser: Any, ml100k_nights: list[dict]
) -> None:
    """What a reader does on each night's page: search by a word inside a title, by an accented word, by a
    franchise whose titles share their start; open a link to an item shared from any night's page."""
    for night in ml100k_nights:
        seen = tools.visit(browser, night["page"])
        assert find(seen, "strikes")["results"] == ["Empire Strikes Back, The (1980)"]
        assert find(seen, "misérables")["results"] == ["Misérables, Les (1995)"]
        star_trek = find(seen, "star trek")["results"]
        assert star_trek.count("Star Trek: First Contact (1996)") == 1 and len(set(star_trek)) == len(star_trek)
        assert all(t in night["doc"]["top_items"] for t in star_trek)
        seen.page.context.close()

        address = night["page"].resolve().as_uri() + "#item=Fargo%20(1996)"
        linked = tools.visit(browser, address)
        assert state(linked)["selected"] == "Fargo (1996)"
        assert shows_the_map(linked.page.evaluate(IN_VIEW))
        assert_clean(linked)
        linked.page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_reviewed_night_reads_on_a_phone_in_both_themes(
    browser: Any, ml100k_nights: list[dict], scheme: str
) -> None:
    """The second night leads with its review: at 390 px nothing scrolls the page sideways (its tables scroll
    in their own regions), axe finds nothing, and the verdict is the first thing in the changes section."""
    seen = tools.visit(browser, ml100k_nights[1]["page"], color_scheme=scheme, width=PHONE)
    page = seen.page
    found = page.evaluate(SIDEWAYS)
    assert found["width"] <= PHONE and found["past"] == []
    captions = [r["caption"] for r in found["regions"]]
    assert "Tonight's model against the baseline on the same held-out ratings" in captions
    first = page.locator("#changes > *:not(h2)").first
    assert first.get_attribute("class") == "review" and page.locator("#review-verdict").is_visible()
    assert tools.run_axe(seen) == []
    assert_clean(seen)
    page.context.close()
