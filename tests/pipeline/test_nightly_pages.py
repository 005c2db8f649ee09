"""The report as its readers meet it night after night: three runs on ML-100k into one folder (the
tutorial's settings, then `--preset fast --seed 7`, then `--split time`), each page read as a whole."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

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
