"""What every report page must hold, read from its HTML (tests/render/test_browser.py watches a real browser)."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

from reportgen.analysis import quality as q
from tests.helpers.reports import hand_made_report

# The report's sections in page order (render.SECTIONS, with a previous run's "changes" left out).
PAGE_SECTIONS = [
    "run",
    "quality",
    "rating-metrics",
    "ranking",
    "who-fails",
    "calibration",
    "top-items",
    "bias",
    "pca",
    "scatter",
    "explorer",
    "neighbours",
    "distributions",
    "citation",
]
# What the `undrawn` fixture writes in place of each figure's SVG.
PLACEHOLDER_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"></svg>'


def assert_self_contained(html: str) -> None:
    """Nothing on the page makes a browser fetch anything (tests/render/test_browser.py watches a real one)."""
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("link") is None
    assert soup.find("base") is None
    assert all(not s.get("src") for s in soup.find_all("script"))
    for tag in soup.find_all(src=True):
        assert tag["src"].startswith("data:"), tag
    for tag in soup.find_all(["image", "use", "iframe", "object", "embed", "source", "video", "audio"]):
        ref = tag.get("href") or tag.get("xlink:href") or tag.get("data") or ""
        assert ref == "" or ref.startswith(("#", "data:")), tag
    css = " ".join(s.get_text() for s in soup.find_all("style")) + " ".join(
        t["style"] for t in soup.find_all(style=True)
    )
    assert not re.search(r"url\(\s*['\"]?(?!data:|#)", css)
    assert "@import" not in css


def quality_page(quality: q.Quality) -> BeautifulSoup:
    """The whole page of a hand-made report carrying `quality`, parsed."""
    from reportgen.render.html import render_html

    return BeautifulSoup(render_html(hand_made_report(quality=quality)), "html.parser")
