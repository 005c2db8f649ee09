"""The report as a person sees it: opened from a file:// URL in headless Chromium, checked
by the Nu HTML Checker and by axe-core, printed, and fed hostile titles.

`make test` installs the tools (see tests/helpers/browser.py); without them these tests skip
with one line saying how to install, and under CI=true they fail instead.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reportgen import pipeline
from reportgen.render.figures import scatter
from tests.helpers import browser as tools
from tests.helpers.browser import A4_PRINTABLE_PX, PAGE_NOTES, PHONE, SIDEWAYS, assert_clean
from tests.helpers.pages import ML100K_PAGE_BYTES, PAGE_SECTIONS
from tests.helpers.reports import HOSTILE, INJECTION, TEMPLATE_LIKE, hand_made_report

QUOTES = "\"Double\" & 'single' quotes (1999)"
HEBREW = "שלום עולם (2001)"
ARABIC = "مرحبا بالعالم (2002)"
EMOJI = "🎬 Popcorn 🍿 Night (2020)"
OVERRIDE = "\u202eevil\u202c override (2003)"  # a right-to-left override inside a title
DOLLARS = "Price $5 & $10 (1995)"
JINJA_BLOCK = "{% if true %}x{% endif %}"
HOSTILE_TITLES = (
    "Alpha (1990)",
    HOSTILE,
    INJECTION,
    QUOTES,
    TEMPLATE_LIKE,
    HEBREW,
    ARABIC,
    EMOJI,
    DOLLARS,
    OVERRIDE,
    JINJA_BLOCK,
)


class _Notes(list):
    """Lines for the run's closing summary: where the screenshots are, what the checkers said."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        for line in self:
            terminalreporter.write_line(f"page checks: {line}")


@pytest.fixture(scope="session")
def notes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    lines = _Notes()
    request.config.pluginmanager.register(lines, "reportgen-page-notes")  # prints after the tests
    yield lines
    # Under pytest-xdist a worker's summary is not shown: conftest prints this file instead.
    (tmp_path_factory.getbasetemp() / PAGE_NOTES).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's screenshot folder: <pytest tmp>/screenshots (pytest-current/screenshots)."""
    return tmp_path_factory.mktemp("screenshots", numbered=False)


@pytest.fixture(scope="session")
def ml100k_page(ml100k_report: dict) -> Path:
    return ml100k_report["out"] / "report.html"


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of a dataset whose titles try every trick, rendered as the pipeline would."""
    return pipeline.write(hand_made_report(HOSTILE_TITLES), tmp_path_factory.mktemp("hostile"))


def table_column(seen: tools.Visit, caption: str, column: int, attribute: str | None = None) -> list[str]:
    """One column of the table with this caption, top to bottom (text, or an attribute's value)."""
    return seen.page.evaluate(
        """([caption, column, attribute]) => {
             const table = [...document.querySelectorAll("table")].find(t => t.caption && t.caption.textContent.trim() === caption);
             return [...table.tBodies[0].rows].map(r => {
               const cell = r.cells[column];
               return attribute ? cell.getAttribute(attribute) : cell.textContent.trim();
             });
           }""",
        [caption, column, attribute],
    )


def click_header(seen: tools.Visit, caption: str, header: str) -> str | None:
    """Click a column header's button as a person would; return the header's aria-sort."""
    table = seen.page.locator("table", has=seen.page.locator(f"caption:text-is({caption!r})"))
    th = table.locator("thead th", has_text=re.compile(rf"^\s*{re.escape(header)}\s*$")).first
    th.get_by_role("button").click()
    return th.get_attribute("aria-sort")


# --------------------------------------------------------------------------- ML-100k in Chromium


@pytest.mark.ml100k
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_ml100k_report_opens_offline_without_errors_in_both_themes(
    browser: Any,
    ml100k_page: Path,
    ml100k_report: dict,
    scheme: str,
    screenshots: Path,
    notes: list[str],
    record_property: Any,
) -> None:
    seen = tools.visit(browser, ml100k_page, color_scheme=scheme)
    assert_clean(seen)  # no console error, no CSP violation, no request, no dialog
    page = seen.page
    csp = page.get_attribute('meta[http-equiv="Content-Security-Policy"]', "content")
    assert (
        csp is not None
        and "default-src 'none'" in csp
        and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    )
    assert page.locator("th button").count() > 0  # the inline script ran: its hash was accepted
    assert page.title() == "ml-100k: what the collaborative-filtering model learned"
    assert [a.get_attribute("href") for a in page.locator("nav.toc a").all()] == [f"#{s}" for s in PAGE_SECTIONS]
    assert f"{ml100k_report['doc']['metrics']['valid_rmse']:.4f}" in page.inner_text(".at-a-glance")

    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    ink = page.evaluate("getComputedStyle(document.querySelector('#scatter-label-0 text')).fill")
    if scheme == "light":
        assert (background, ink) == ("rgb(255, 255, 255)", "rgb(31, 95, 153)")
    else:  # the page and the figure both follow prefers-color-scheme
        assert (background, ink) == ("rgb(22, 24, 28)", "rgb(140, 188, 240)")

    shot = screenshots / f"ml100k-{scheme}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    size = len(ml100k_report["html"].encode())
    assert size <= ML100K_PAGE_BYTES  # the explorer included, every title whole
    record_property("screenshot", str(shot))
    record_property("report_bytes", size)
    notes.append(
        f"{scheme} screenshot {shot}" + (f"; ML-100k report.html is {size} bytes" if scheme == "light" else "")
    )
    page.context.close()


@pytest.mark.ml100k
def test_clicking_a_header_sorts_the_bias_and_pca_tables(browser: Any, ml100k_page: Path, ml100k_report: dict) -> None:
    seen = tools.visit(browser, ml100k_page)
    caption = "Highest biases"
    best = {e["title"]: e["bias"] for e in ml100k_report["doc"]["bias"]["best"]}
    shown = table_column(seen, caption, 1)
    assert [float(v) for v in table_column(seen, caption, 2, "data-sort")] == [best[t] for t in shown]

    assert click_header(seen, caption, "Bias") == "ascending"
    ascending = [float(v) for v in table_column(seen, caption, 2, "data-sort")]
    assert ascending == sorted(best.values())
    titles = table_column(seen, caption, 1)
    assert [best[t] for t in titles] == ascending  # whole rows moved, not one column
    assert click_header(seen, caption, "Bias") == "descending"
    assert [float(v) for v in table_column(seen, caption, 2, "data-sort")] == sorted(best.values(), reverse=True)

    assert click_header(seen, caption, "Ratings") == "ascending"
    counts = [int(v) for v in table_column(seen, caption, 4)]
    assert counts == sorted(counts) and counts != [e["count"] for e in ml100k_report["doc"]["bias"]["best"]]
    assert click_header(seen, caption, "Title") == "ascending"
    in_order = seen.page.evaluate(
        "titles => titles.every((t, i) => i === 0 || titles[i - 1].localeCompare(t, undefined, {numeric: true, sensitivity: 'base'}) <= 0)",
        table_column(seen, caption, 1),
    )
    assert in_order and sorted(table_column(seen, caption, 1)) == sorted(best)
    assert click_header(seen, caption, "#") == "ascending"
    assert table_column(seen, caption, 1) == shown  # back to the page's own order

    component = ml100k_report["doc"]["pca"]["components"][0]
    pca_caption = "Component 0: the 10 highest scores"
    assert table_column(seen, pca_caption, 1) == [s["title"] for s in component["top"]]
    assert click_header(seen, pca_caption, "Score") == "ascending"
    assert table_column(seen, pca_caption, 1) == [s["title"] for s in reversed(component["top"])]
    assert seen.page.locator("th[aria-sort]").count() == 2  # one per table that was sorted
    assert_clean(seen)
    seen.page.context.close()


@pytest.mark.ml100k
def test_without_javascript_the_page_is_complete(browser: Any, ml100k_page: Path) -> None:
    scripted = tools.visit(browser, ml100k_page)
    plain = tools.visit(browser, ml100k_page, javascript=False)
    assert plain.page.locator("th button").count() == 0 and scripted.page.locator("th button").count() > 0
    assert plain.page.locator("#explorer").is_hidden() and scripted.page.locator("#explorer").is_visible()
    scripted.page.evaluate("document.getElementById('explorer').hidden = true")  # the one part only the script shows
    assert plain.page.inner_text("main") == scripted.page.inner_text("main")  # same words, same order
    assert (
        plain.page.locator("table.sortable tbody tr").count()
        == scripted.page.locator("table.sortable tbody tr").count()
        > 100
    )
    assert_clean(plain)
    plain.page.context.close()
    scripted.page.context.close()


@pytest.mark.ml100k
def test_scatter_points_carry_their_titles_and_labels_do_not_overlap(
    browser: Any, ml100k_page: Path, ml100k_report: dict
) -> None:
    seen = tools.visit(browser, ml100k_page)
    found = seen.page.evaluate(
        """() => {
             const points = [...document.querySelectorAll("#scatter g[id^='scatter-point-']")];
             const labels = [...document.querySelectorAll("#scatter g[id^='scatter-label-']")];
             const boxes = labels.map(g => g.querySelector("text").getBoundingClientRect());
             const overlaps = [];
             boxes.forEach((a, i) => boxes.slice(i + 1).forEach((b, k) => {
               const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
               const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
               if (w > 0.5 && h > 0.5) overlaps.push([labels[i].id, labels[i + 1 + k].id]);
             }));
             const frame = document.querySelector("#scatter svg").getBoundingClientRect();
             return {
               pointTitles: points.map(g => g.querySelector(":scope > title").textContent),
               labelTitles: labels.map(g => g.querySelector(":scope > title").textContent),
               labelTexts: labels.map(g => g.querySelector("text").textContent),
               overlaps,
               outside: boxes.filter(b => b.left < frame.left || b.right > frame.right || b.top < frame.top || b.bottom > frame.bottom).length,
               smallest: Math.min(...boxes.map(b => b.height)),
             };
           }"""
    )
    titles = [p["title"] for p in ml100k_report["doc"]["scatter"]]
    assert len(titles) == 50
    assert found["pointTitles"] == found["labelTitles"] == titles  # hover: the whole title
    assert found["labelTexts"] == [scatter.label_text(t) for t in titles]  # on the plot: cut when long
    assert found["overlaps"] == []
    assert found["outside"] == 0
    assert found["smallest"] >= 9  # px on a 1280 px wide window: readable
    seen.page.context.close()


# --------------------------------------------------------------------------- on a phone


def edge_shading(page: Any, region: Any) -> tuple[bool, bool]:
    """Whether the region's left and right edges are drawn differently with its background than without
    it: the cue that more of the table is on that side (10 px strips, compared as screenshots)."""

    def strips() -> tuple[bytes, bytes]:
        box = region.bounding_box()
        at = {"y": box["y"], "width": 10, "height": box["height"]}
        return (
            page.screenshot(clip={**at, "x": box["x"]}),
            page.screenshot(clip={**at, "x": box["x"] + box["width"] - 10}),
        )

    shaded = strips()
    region.evaluate("e => { e.style.background = 'none'; }")
    plain = strips()
    region.evaluate("e => { e.style.background = ''; }")
    return shaded[0] != plain[0], shaded[1] != plain[1]


@pytest.mark.ml100k
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", ["report.html", "index.html"])
def test_on_a_phone_nothing_scrolls_the_page_sideways_and_wide_tables_scroll_in_their_own_region(
    browser: Any, ml100k_report: dict, name: str, scheme: str
) -> None:
    seen = tools.visit(browser, ml100k_report["out"] / name, color_scheme=scheme, width=PHONE)
    page = seen.page
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")  # their tables too
    found = page.evaluate(SIDEWAYS)
    assert found["width"] <= PHONE and found["past"] == []
    regions = found["regions"]
    assert regions and all(r["role"] == "region" and r["tabindex"] == "0" and r["named"] for r in regions)
    hiding = [r["caption"] for r in regions if r["hides"]]
    if name == "report.html":  # the ranking's NDCG, MAP and hit rate among what a phone scrolls to
        assert any(c.startswith("Ranking metrics at 10") for c in hiding)
        assert len(set(found["contents"])) == 1  # the Contents in one column
    else:
        assert hiding == ["Runs under runs/"]  # RMSE, verdict and the rest to the right

    for n, region in enumerate(page.locator(".wide").all()):
        if not regions[n]["hides"]:
            continue
        region.scroll_into_view_if_needed()
        assert edge_shading(page, region) == (False, True), regions[n]["caption"]  # more to the right
        region.focus()  # a keyboard reader scrolls it too (the browser animates it: wait for it to move)
        page.keyboard.press("ArrowRight")
        page.wait_for_function("e => e.scrollLeft > 0", arg=region.element_handle())
        region.evaluate("e => { e.scrollLeft = e.scrollWidth; }")  # as far as a swipe goes
        assert edge_shading(page, region) == (True, False), regions[n]["caption"]  # now more to the left
        last = region.locator("thead th").last
        assert last.bounding_box()["x"] + last.bounding_box()["width"] <= PHONE  # the last column in view
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    assert tools.run_axe(seen) == []  # scrollable-region-focusable among its rules, now that regions scroll
    assert_clean(seen)
    page.context.close()


@pytest.mark.ml100k
@pytest.mark.parametrize("width", [1280, 760, PHONE])
def test_the_contents_never_overlaps_itself(browser: Any, ml100k_page: Path, width: int) -> None:
    """Two columns where there is room; each entry's number drawn in the gap before its column, clear of
    the column to its left (the number's width measured as drawn)."""
    seen = tools.visit(browser, ml100k_page, width=width)
    found = seen.page.evaluate(
        """() => {
             const items = [...document.querySelectorAll("nav.toc li")].filter(li => !li.hidden);
             const probe = document.createElement("span");
             probe.textContent = items.length + ". ";
             items[0].appendChild(probe);
             const number = probe.getBoundingClientRect().width;
             probe.remove();
             const boxes = items.map(li => li.getBoundingClientRect());
             const lefts = [...new Set(boxes.map(b => Math.round(b.left)))].sort((a, b) => a - b);
             const clashes = boxes.filter(a => boxes.some(b => b.left > a.left + 1 && b.left - number < a.right &&
               b.top < a.bottom && a.top < b.bottom));
             return {columns: lefts.length, clashes: clashes.length};
           }"""
    )
    assert found == {"columns": 2 if width >= 760 else 1, "clashes": 0}
    seen.page.context.close()


@pytest.mark.ml100k
def test_print_is_a4_light_and_nothing_overflows(
    browser: Any, ml100k_page: Path, screenshots: Path, notes: list[str]
) -> None:
    seen = tools.visit(browser, ml100k_page, color_scheme="dark", width=A4_PRINTABLE_PX)
    page = seen.page
    page.emulate_media(media="print", color_scheme="dark")  # a dark screen still prints light
    assert page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == "rgb(255, 255, 255)"
    assert page.evaluate("getComputedStyle(document.documentElement).color") == "rgb(29, 29, 31)"
    overflow = page.evaluate(
        """() => [...document.body.querySelectorAll("*")]
                 .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > window.innerWidth + 0.5)
                 .map(e => e.tagName + (e.id ? "#" + e.id : "") + " " + Math.round(e.getBoundingClientRect().right))"""
    )
    assert overflow == []
    assert page.evaluate("document.documentElement.scrollWidth") <= A4_PRINTABLE_PX
    pdf = screenshots / "ml100k.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf.read_bytes()))
    assert pages >= len(PAGE_SECTIONS)  # every section starts a page
    notes.append(f"print to PDF ({pages} A4 pages) {pdf}")
    assert_clean(seen)
    page.context.close()


@pytest.mark.ml100k
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violations(
    browser: Any, ml100k_page: Path, scheme: str, notes: list[str]
) -> None:
    seen = tools.visit(browser, ml100k_page, color_scheme=scheme)
    violations = tools.run_axe(seen)
    severe = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert severe == []
    by_impact = {
        impact: sum(v["impact"] == impact for v in violations)
        for impact in ("critical", "serious", "moderate", "minor")
    }
    notes.append(f"axe-core on ML-100k ({scheme}): {by_impact}")
    seen.page.context.close()


@pytest.mark.ml100k
def test_the_nu_html_checker_finds_no_errors_in_the_ml100k_report(ml100k_page: Path, notes: list[str]) -> None:
    messages = tools.nu_messages(ml100k_page)[ml100k_page.resolve()]
    errors = [tools.describe(m) for m in messages if m["type"] in ("error", "non-document-error")]
    warnings = [tools.describe(m) for m in messages if m.get("subType") == "warning"]
    assert errors == []
    assert warnings == []
    notes.append(f"Nu HTML Checker on ML-100k: {len(errors)} errors, {len(warnings)} warnings")


# --------------------------------------------------------------------------- in a notebook

# A notebook's output as Jupyter shows it: `_repr_html_()` in a host page of its own (no favicon request).
NOTEBOOK = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>notebook</title><link rel="icon" href="data:,"></head>
<body><h1>A notebook</h1>{frame}</body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def notebook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The host page as a file and, as Jupyter serves it, over http from a local server."""
    folder = tmp_path_factory.mktemp("notebook")
    (folder / "notebook.html").write_text(NOTEBOOK.format(frame=hand_made_report()._repr_html_()), encoding="utf-8")
    with ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder))) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield {
            "file": (folder / "notebook.html").as_uri(),
            "http": f"http://127.0.0.1:{server.server_port}/notebook.html",
        }
        server.shutdown()
        thread.join()


# Where the framed page stands: its address, title, scroll, a section's top, and what has focus.
FRAME_STATE = """id => ({
  url: location.href,
  title: document.title,
  scrolled: window.scrollY,
  top: Math.round(document.getElementById(id).getBoundingClientRect().top),
  focusAfter: Boolean(document.getElementById(id).compareDocumentPosition(document.activeElement) & Node.DOCUMENT_POSITION_FOLLOWING),
})"""


@pytest.mark.parametrize("served", ["http", "file"])
def test_in_a_notebook_the_frames_links_scroll_within_the_frame(
    browser: Any, notebook: dict[str, str], served: str
) -> None:
    seen = tools.visit(browser, notebook[served])
    framed: list[str] = []
    seen.page.on("framenavigated", lambda f: framed.append(f.url) if f != seen.page.main_frame else None)
    inside = seen.page.frame_locator("iframe")
    frame = seen.page.frames[1]
    # Playwright may hear of the frame's navigation after the page's load (seen on a busy machine): wait for it.
    frame.wait_for_url(lambda url: url == "about:srcdoc")
    assert frame.evaluate("scrollY") == 0

    inside.locator('nav.toc a[href="#ranking"]').click()  # a Contents entry (a same-document move is synchronous)
    shown = frame.evaluate(FRAME_STATE, "ranking")
    assert shown["url"] == "about:srcdoc#ranking"  # the same document, at its fragment: no navigation
    assert shown["title"] == "ml-100k: what the collaborative-filtering model learned"
    assert shown["scrolled"] > 0 and abs(shown["top"]) <= 1  # the section at the frame's top
    seen.page.keyboard.press("Tab")  # the keyboard goes on from the section, not from the Contents
    assert frame.evaluate(FRAME_STATE, "ranking")["focusAfter"]

    inside.locator('#explorer a[href="#neighbours"]').click()  # a link in the text
    moved = frame.evaluate(FRAME_STATE, "neighbours")  # the frame's own address, not Playwright's last report of it
    assert moved["url"] == "about:srcdoc#neighbours" and abs(moved["top"]) <= 1
    inside.get_by_label("Find an item").fill("gamma")  # the explorer keeps its selection in the frame's address
    inside.get_by_label("Find an item").press("Enter")
    assert inside.locator("#explorer-panel h3").inner_text() == "Gamma & Sons (1992)"
    assert frame.evaluate("location.href") == "about:srcdoc#item=Gamma%20%26%20Sons%20(1992)"

    assert seen.page.frames == [seen.page.main_frame, frame] and frame.evaluate("document.title") == shown["title"]
    assert all(url.startswith("about:srcdoc") for url in framed), framed
    assert seen.page.url == notebook[served] and seen.page.title() == "notebook"  # the host page untouched
    assert seen.requests == [notebook[served]]  # the notebook was never loaded again
    assert_clean(seen)  # no console error ("Not allowed to load local resource"), no CSP violation
    seen.page.context.close()


# --------------------------------------------------------------------------- hostile titles


def test_hostile_titles_show_as_text_and_run_nothing(browser: Any, hostile_page: Path, screenshots: Path) -> None:
    seen = tools.visit(browser, hostile_page)
    assert_clean(seen)  # in particular: no alert() dialog, no request for "x"
    page = seen.page
    dom = page.evaluate(
        """() => ({
             title: document.title,
             scripts: [...document.scripts].filter(s => s.type !== "application/json").length,
             images: document.images.length,
             handlers: document.querySelectorAll("[onerror], [onload]").length,
             cells: [...document.querySelectorAll("td")].map(td => td.textContent),
             labels: [...document.querySelectorAll("#scatter svg text")].map(t => t.textContent),
             hovers: [...document.querySelectorAll("#scatter svg g[id^='scatter-point-'] > title")].map(t => t.textContent),
           })"""
    )
    assert dom["title"] == "ml-100k: what the collaborative-filtering model learned"
    assert (dom["scripts"], dom["images"], dom["handlers"]) == (1, 0, 0)
    for title in HOSTILE_TITLES:
        assert title in dom["cells"], title
        assert title in dom["labels"], title
    assert dom["hovers"] == list(HOSTILE_TITLES)
    assert "49" not in dom["cells"] and "x" not in dom["cells"]  # no Jinja was evaluated
    assert page.locator("th button").count() > 0  # our own script still ran
    page.screenshot(path=str(screenshots / "hostile-light.png"), full_page=True)
    page.context.close()


def test_the_nu_html_checker_finds_no_errors_in_the_hostile_report(hostile_page: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"  # a control: the checker does report errors
    broken.write_text(
        hostile_page.read_text(encoding="utf-8").replace("<main>", "<main><p><div></p>", 1), encoding="utf-8"
    )
    messages = tools.nu_messages(hostile_page, broken)
    assert [tools.describe(m) for m in messages[hostile_page.resolve()]] == []
    assert any(m["type"] == "error" for m in messages[broken.resolve()])


# --------------------------------------------------------------------------- the checks can fail


def test_the_browser_checks_catch_a_broken_page(browser: Any, hostile_page: Path, tmp_path: Path) -> None:
    """Controls: a script that no longer matches its hash, a fetch, a missing language."""
    html = hostile_page.read_text(encoding="utf-8")
    tampered = tmp_path / "tampered.html"
    tampered.write_text(html.replace('"use strict";', '"use strict"; ', 1), encoding="utf-8")
    seen = tools.visit(browser, tampered)
    assert seen.csp_violations and seen.console_errors  # the browser refused the script...
    assert seen.page.locator("th button").count() == 0  # ...and the page still reads without it
    seen.page.context.close()

    fetching = tmp_path / "fetching.html"
    csp_meta = re.search(r'<meta http-equiv="Content-Security-Policy"[^>]*>\n', html).group(0)
    fetching.write_text(
        html.replace(csp_meta, "").replace("<main>", '<main><img src="missing.png" alt="">', 1), encoding="utf-8"
    )
    seen = tools.visit(browser, fetching)
    assert seen.foreign_requests == [(tmp_path / "missing.png").as_uri()]
    seen.page.context.close()

    unlabelled = tmp_path / "unlabelled.html"
    unlabelled.write_text(html.replace('<html lang="en">', "<html>", 1), encoding="utf-8")
    seen = tools.visit(browser, unlabelled)
    assert "html-has-lang" in {v["id"] for v in tools.run_axe(seen) if v["impact"] == "serious"}
    seen.page.context.close()
