"""What every report page must hold, read from its HTML (tests/render/test_browser.py watches a real browser)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape as html_escape

from bs4 import BeautifulSoup
from markupsafe import escape

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
# The page's budget for its own bytes (markup, figures, numbers, the explorer, its code and style) at any data
# size; its titles come on top, each whole (at most 300 bytes, as report.json holds it). ML-100k's page, with
# the changes and time-split sections, is held to ML100K_PAGE_BYTES.
PAGE_BYTES = 450_000
ML100K_PAGE_BYTES = 400_000
# What the `undrawn` fixture writes in place of each figure's SVG.
PLACEHOLDER_SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"></svg>'


def own_bytes(html: str, titles: Iterable[str]) -> int:
    """The page's bytes less every whole occurrence of a title, as the page writes it (escaped in a table,
    in an SVG's text or hover, or in an attribute): what the page itself costs, whatever its titles."""
    forms = {form for t in set(titles) for form in (str(escape(t)), html_escape(t, quote=False), html_escape(t))}
    for form in sorted(forms, key=len, reverse=True):  # a longer title holding a shorter one goes first
        html = html.replace(form, "")
    return len(html.encode("utf-8"))


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
