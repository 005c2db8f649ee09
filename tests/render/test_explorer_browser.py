"""The factor-space explorer as a person uses it: headless Chromium on a file:// page, on
ML-100k (`--preset fast`, built once for this module; the session's nights for the moves since
the previous run) and on an own CSV with hostile titles.

`make test` installs the tools (tests/helpers/browser.py); without them these tests skip.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup

from reportgen.render.formatting import fixed
from tests.helpers import browser as tools
from tests.helpers.browser import assert_clean
from tests.helpers.commands import invoke
from tests.helpers.explorer import IN_VIEW, MOVES, find, island_in, pixel, previous_positions, shows_the_map, state
from tests.helpers.planted import planted_tastes
from tests.helpers.reports import HOSTILE, INJECTION, TEMPLATE_LIKE

ACCENTED = "Amélie (2001)"
OWN_TITLES = (HOSTILE, INJECTION, TEMPLATE_LIKE, ACCENTED)


@pytest.fixture(scope="module")
def ml100k_fast(recbole_ml100k: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("explorer-ml100k")
    result = invoke("build", "--offline", "--preset", "fast", "--no-model", "-q", "--output", out)
    assert result.exit_code == 0, result.output
    return {"page": out / "report.html", "doc": json.loads((out / "report.json").read_text(encoding="utf-8"))}


@pytest.fixture(scope="module")
def own_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An own CSV (planted tastes, 40 items), four of its titles hostile or accented."""
    planted = planted_tastes(n_users=200)
    titles = dict(planted.titles)
    for item, title in zip(sorted(titles)[4:], OWN_TITLES):  # among the most-rated: the twins come first
        titles[item] = title
    folder = tmp_path_factory.mktemp("explorer-own")
    with open(folder / "ratings.csv", "w", newline="", encoding="utf-8") as f:
        rows = csv.writer(f)
        rows.writerow(["user", "item", "rating", "title"])
        rows.writerows((r.user, r.item, r.rating, titles[r.item]) for r in planted.frame.itertuples())
    out = folder / "out"
    result = invoke("build", "--ratings", folder / "ratings.csv", "--factors", "12", "--epochs", "3", "--no-model", "-q",
                    "--output", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    return out / "report.html"


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's screenshot folder, beside test_browser.py's (<pytest tmp>/screenshots)."""
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def axe_in_explorer(seen: tools.Visit) -> list[dict[str, Any]]:
    """axe-core's violations of any impact inside the explorer section (the page's others: test_browser.py)."""
    seen.page.evaluate(tools.axe_source() + "\n;true")
    return seen.page.evaluate(
        """async () => (await axe.run(document.getElementById("explorer"), {resultTypes: ["violations"]}))
             .violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" "))}))"""
    )


@pytest.mark.ml100k
def test_a_reader_finds_star_wars_changes_components_zooms_and_opens_a_link_to_fargo(
    browser: Any, ml100k_fast: dict[str, Any]
) -> None:
    doc = ml100k_fast["doc"]
    seen = tools.visit(browser, ml100k_fast["page"])
    page = seen.page
    assert page.locator("#explorer").is_visible() and page.locator('nav a[href="#explorer"]').is_visible()
    assert len(state(seen)["dots"]) == len(doc["top_items"]) == 1000
    assert page.locator("#explorer-moves").count() == 0 and page.evaluate(MOVES)["control"] is None  # no review

    typed = find(seen, "star wars")  # case does not matter
    assert typed["results"][0] == "Star Wars (1977)"
    shown = state(seen)
    assert shown["selected"] == "Star Wars (1977)" and shown["hash"] == "#item=Star Wars (1977)"
    assert page.evaluate("location.href").endswith("#item=Star%20Wars%20(1977)")  # the page's, not a cached report
    assert "Empire Strikes Back, The (1980)" in [n.rsplit(" (", 1)[0] for n in shown["neighbours"]]
    row = doc["top_items"].index("Star Wars (1977)")
    stat = doc["items"][row]
    assert shown["facts"] == [fixed(stat["bias"], 3), fixed(stat["mean_rating"], 2), str(stat["count"])]
    scores = doc["factor_map"]["scores"][row]
    assert [float(s.replace("−", "-")) for s in shown["scores"]] == pytest.approx(scores, abs=0.006)
    assert shown["labels"][0] == "Star Wars (1977)" and shown["overlaps"] == shown["outside"] == 0

    page.select_option("#explorer-x", "1")
    page.select_option("#explorer-y", "2")
    switched = state(seen)
    across = [s[1] for s in doc["factor_map"]["scores"]]
    up = [s[2] for s in doc["factor_map"]["scores"]]
    xs, ys = [d[0] for d in switched["dots"]], [d[1] for d in switched["dots"]]
    assert xs.index(max(xs)) == across.index(max(across)) and ys.index(min(ys)) == up.index(max(up))
    assert switched["overlaps"] == 0 and switched["selected"] == "Star Wars (1977)"

    def spread(dots: list[list[float]]) -> float:
        return max(d[0] for d in dots) - min(d[0] for d in dots)

    page.get_by_role("button", name="Zoom in").click()
    zoomed = state(seen)["dots"]
    assert spread(zoomed) == pytest.approx(1.5 * spread(switched["dots"]), rel=0.01)
    page.locator("#explorer-plot").press("ArrowLeft")  # the map moves by keyboard too: 40 px
    assert state(seen)["dots"][0][0] == pytest.approx(zoomed[0][0] + 40, abs=0.2)
    page.get_by_role("button", name="Reset").click()
    assert state(seen)["dots"] == switched["dots"]

    page.locator("#explorer-panel .explorer-neighbours button").first.focus()  # a neighbour, by keyboard
    page.keyboard.press("Enter")
    assert state(seen)["selected"] == shown["neighbours"][0].rsplit(" (", 1)[0]

    page.goto(seen.url + "#item=Fargo%20(1996)")
    page.reload()  # opened afresh from the link
    assert state(seen)["selected"] == "Fargo (1996)"
    assert_clean(seen)  # no console error, no CSP violation, no request, no dialog
    page.context.close()


@pytest.mark.ml100k
@pytest.mark.parametrize("width", [1280, 390])
def test_a_link_to_an_item_opens_on_the_explorer_and_zooming_keeps_the_item_in_view(
    browser: Any, ml100k_fast: dict[str, Any], width: int
) -> None:
    address = ml100k_fast["page"].resolve().as_uri()
    seen = tools.visit(browser, address + "#item=Fargo%20(1996)", width=width)  # opened from a shared link
    page = seen.page
    where = page.evaluate(IN_VIEW)
    assert state(seen)["selected"] == "Fargo (1996)"
    assert shows_the_map(where)
    assert page.evaluate("window.scrollY") > 5000  # the explorer is far down the page
    ring, size = where["ring"], where["size"]
    assert 0 <= ring[0] <= size[0] and 0 <= ring[1] <= size[1]

    for _ in range(4):
        page.get_by_role("button", name="Zoom in").click()
    page.locator("#explorer-plot").press("+")
    page.locator("#explorer-plot").press("=")
    zoomed = page.evaluate(IN_VIEW)
    assert zoomed["view"][1] - zoomed["view"][0] == pytest.approx(
        (where["view"][1] - where["view"][0]) / 1.5**6, rel=1e-3
    )
    assert zoomed["ring"] == pytest.approx(ring, abs=0.15)  # zoomed about Fargo: it stays where it was
    page.locator("#explorer-plot").press("-")
    assert page.evaluate(IN_VIEW)["ring"] == pytest.approx(ring, abs=0.15)

    box = page.locator("#explorer-plot svg").bounding_box()  # the wheel zooms about the pointer, not the item
    page.mouse.move(box["x"] + box["width"] / 4, box["y"] + box["height"] / 4)
    before = page.evaluate(IN_VIEW)["view"]
    page.mouse.wheel(0, -100)
    after = page.evaluate(IN_VIEW)["view"]
    x0, x1, y0, y1 = before
    assert after[1] - after[0] == pytest.approx((x1 - x0) / 1.25, rel=1e-3)
    pixel = ((x1 - x0) / box["width"], (y1 - y0) / box["height"])  # the point under the pointer stays under it
    assert after[0] + (after[1] - after[0]) / 4 == pytest.approx(x0 + (x1 - x0) / 4, abs=pixel[0])
    assert after[3] - (after[3] - after[2]) / 4 == pytest.approx(y1 - (y1 - y0) / 4, abs=pixel[1])

    page.evaluate("window.scrollTo(0, 0)")  # a link followed later, on the page: the hash changes
    page.goto(address + "#item=Star%20Wars%20(1977)")
    assert state(seen)["selected"] == "Star Wars (1977)"
    assert shows_the_map(page.evaluate(IN_VIEW))
    assert_clean(seen)
    page.context.close()


@pytest.mark.ml100k
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_explorer_is_axe_clean_in_both_themes_and_screenshots_are_kept(
    browser: Any, ml100k_fast: dict[str, Any], scheme: str, screenshots: Path, record_property: Any
) -> None:
    seen = tools.visit(browser, ml100k_fast["page"], color_scheme=scheme)
    find(seen, "Star Wars")
    assert axe_in_explorer(seen) == []
    assert [v for v in tools.run_axe(seen) if v["impact"] in ("serious", "critical")] == []
    shot = screenshots / f"explorer-{scheme}.png"
    seen.page.locator("#explorer").screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record_property(f"explorer_screenshot_{scheme}", str(shot))
    assert_clean(seen)
    seen.page.context.close()


def assert_moves_follow(drawn: dict[str, Any], dots: list[list[float]], before: list[Any], x: int, y: int) -> None:
    """One line for each item the previous run's model knew, from its decoded place on components x and y
    (a small dot there) to its dot tonight, to a tenth of a pixel (the script writes tenths, the view 4 decimals)."""
    known = [i for i, row in enumerate(before) if row is not None]
    assert drawn["shown"] and [line[0] for line in drawn["lines"]] == known
    assert [end[0] for end in drawn["ends"]] == known
    for (i, x1, y1, x2, y2), (_, cx, cy) in zip(drawn["lines"], drawn["ends"]):
        assert [x2, y2] == dots[i]
        assert (x1, y1) == pytest.approx(pixel(drawn, before[i][x], before[i][y]), abs=0.1)
        assert (cx, cy) == (x1, y1)


@pytest.mark.ml100k
def test_since_the_previous_run_each_item_moves_from_its_aligned_place_on_the_components_chosen(
    browser: Any, ml100k_nights: list[dict]
) -> None:
    """The second night (`--preset fast --seed 7`) reviews the first night's kept model: a checkbox draws each
    item's move, the lines follow the menus, the map still pans, zooms and selects, the panel shows the move."""
    night, first = ml100k_nights[1], ml100k_nights[0]
    assert BeautifulSoup(first["html"], "html.parser").find(id="explorer-moves") is None  # no previous run
    moves = night["doc"]["review"]["movement"]["map_moves"]
    island = island_in(night["html"])
    before = previous_positions(island)
    assert [row is None for row in before] == [row is None for row in moves["before"]]
    for row, was in zip(moves["before"], before):  # the island's places are report.json's, to half a step
        assert row is None or all(abs(a - b) <= s / 2 + 1e-9 for a, b, s in zip(was, row, island["scale"]))
    seen = tools.visit(browser, night["page"])
    page = seen.page
    drawn = page.evaluate(MOVES)
    assert drawn["control"] == {"checked": False, "label": "Show moves since the previous run"}
    assert not drawn["shown"] and drawn["lines"] == [] and "Lines:" not in drawn["legend"]  # off until asked

    page.get_by_label("Show moves since the previous run").check()
    drawn = page.evaluate(MOVES)
    assert len(drawn["lines"]) == sum(row is not None for row in moves["before"]) > 900
    assert_moves_follow(drawn, state(seen)["dots"], before, 0, 2)
    agree = [f"{a / 100:.2f}" for a in island["agree"]]
    assert f"The two runs agree {agree[0]} along component 0 and {agree[2]} along component 2" in drawn["legend"]

    find(seen, "star wars")  # selecting still works, and the panel shows the move
    row = night["doc"]["top_items"].index("Star Wars (1977)")
    shown = state(seen)
    assert shown["selected"] == "Star Wars (1977)"
    assert shown["facts"][-1] == fixed(moves["displacement"][row], 2)
    assert [float(s.replace("−", "-")) for s in shown["previous"]] == pytest.approx(moves["before"][row], abs=0.006)
    assert [float(s.replace("−", "-")) for s in shown["scores"]] == pytest.approx(
        night["doc"]["factor_map"]["scores"][row], abs=0.006
    )
    chosen = page.locator("#explorer-plot .marks line.move")  # its own move drawn over the rest
    assert chosen.count() == 1

    page.select_option("#explorer-x", "1")
    page.select_option("#explorer-y", "3")
    drawn = page.evaluate(MOVES)
    assert_moves_follow(drawn, state(seen)["dots"], before, 1, 3)
    assert f"The two runs agree {agree[1]} along component 1 and {agree[3]} along component 3" in drawn["legend"]
    width, height = drawn["size"]  # after a change of components the view fits both ends of every line
    assert all(0 <= v <= w for line in drawn["lines"] for v, w in zip(line[1:], (width, height, width, height)))

    page.get_by_role("button", name="Zoom in").click()
    page.locator("#explorer-plot").press("ArrowLeft")
    assert_moves_follow(page.evaluate(MOVES), state(seen)["dots"], before, 1, 3)
    assert state(seen)["selected"] == "Star Wars (1977)"

    page.get_by_label("Show moves since the previous run").uncheck()
    drawn = page.evaluate(MOVES)
    assert not drawn["shown"] and "Lines:" not in drawn["legend"] and state(seen)["previous"] == []
    assert_clean(seen)
    page.context.close()


@pytest.mark.ml100k
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_moves_since_the_previous_run_are_axe_clean_in_both_themes(
    browser: Any, ml100k_nights: list[dict], scheme: str, screenshots: Path
) -> None:
    seen = tools.visit(browser, ml100k_nights[1]["page"], color_scheme=scheme)
    seen.page.get_by_label("Show moves since the previous run").check()
    find(seen, "Fargo")
    assert axe_in_explorer(seen) == []
    seen.page.locator("#explorer").screenshot(path=str(screenshots / f"explorer-moves-{scheme}.png"))
    assert_clean(seen)
    seen.page.context.close()


@pytest.mark.ml100k
def test_on_a_phone_wide_screen_nothing_of_the_explorer_scrolls_sideways(
    browser: Any, ml100k_fast: dict[str, Any]
) -> None:
    seen = tools.visit(browser, ml100k_fast["page"], width=360)
    find(seen, "Fargo")
    assert state(seen)["selected"] == "Fargo (1996)" and state(seen)["overlaps"] == 0
    wide = seen.page.evaluate(
        """() => [...document.querySelectorAll("#explorer *")]
                 .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > window.innerWidth + 0.5)
                 .map(e => e.tagName + (e.id ? "#" + e.id : ""))"""
    )
    assert wide == []  # (the whole page at phone width: tests/render/test_browser.py)
    assert seen.page.locator("#explorer-plot svg").bounding_box()["width"] <= 360
    assert_clean(seen)
    seen.page.context.close()


@pytest.mark.ml100k
def test_without_javascript_and_on_paper_the_explorer_stays_out_of_the_way(
    browser: Any, ml100k_fast: dict[str, Any]
) -> None:
    plain = tools.visit(browser, ml100k_fast["page"], javascript=False)
    assert plain.page.locator("#explorer").is_hidden() and plain.page.locator('nav a[href="#explorer"]').is_hidden()
    assert plain.page.locator("#scatter svg").is_visible()
    plain.page.context.close()
    seen = tools.visit(browser, ml100k_fast["page"])
    seen.page.emulate_media(media="print")
    assert seen.page.locator("#explorer").is_hidden() and seen.page.locator("#scatter svg").is_visible()
    seen.page.context.close()


def test_an_own_files_hostile_and_accented_titles_are_found_and_shown_as_text(browser: Any, own_page: Path) -> None:
    seen = tools.visit(browser, own_page)
    page = seen.page
    assert page.locator("#explorer-x option").count() == 10  # ten of the twelve components
    assert find(seen, "amelie")["results"] == [ACCENTED]  # accents do not matter
    assert state(seen)["selected"] == ACCENTED
    for title in (HOSTILE, INJECTION, TEMPLATE_LIKE):
        assert find(seen, title[:6])["results"][0] == title  # markup typed is text searched
        shown = state(seen)
        assert shown["selected"] == title and shown["hash"] == f"#item={title}"
        assert (title if len(title) <= 32 else title[:31] + "…") in shown["labels"]  # labels cut at 32 characters
    neighbours = state(seen)["neighbours"]
    assert len(neighbours) == 5
    dom = page.evaluate(
        """() => ({scripts: document.scripts.length, images: document.images.length,
                   handlers: document.querySelectorAll("[onerror], [onload]").length})"""
    )
    assert dom == {"scripts": 2, "images": 0, "handlers": 0}  # our script and the data island, nothing injected
    assert axe_in_explorer(seen) == []
    assert_clean(seen)  # in particular no alert() dialog
    page.context.close()


@pytest.mark.parametrize("fragment", ["#item=%", "#item=%E2%80", "#item=Caf%C3"], ids=["bare %", "cut …", "cut é"])
def test_a_link_cut_inside_a_percent_escape_selects_nothing_and_raises_nothing(
    browser: Any, own_page: Path, fragment: str
) -> None:
    """`decodeURIComponent` throws URIError on such a fragment: on opening the page and on every hash change
    it must leave the explorer as it was (nothing selected, no page error), and a good link still works."""
    selected = "() => (document.querySelector('#explorer-panel h3') || {}).textContent || null"
    address = own_page.resolve().as_uri()
    seen = tools.visit(browser, address + fragment)  # opened from the cut link
    page = seen.page
    assert page.locator("#explorer").is_visible() and page.evaluate(selected) is None
    page.goto(address + "#item=" + quote(ACCENTED))  # a good link, followed on the page
    assert page.evaluate(selected) == ACCENTED
    page.goto(address + fragment)  # then the cut one: a hash change
    page.goto(address + fragment.replace("item=", "item=%25"))  # and one whose escape is whole, an unknown title
    assert page.evaluate(selected) == ACCENTED  # left as it was
    assert_clean(seen)  # no URIError: no page error, no console error
    page.context.close()


def test_in_a_notebook_the_framed_page_runs_its_explorer_inside_the_sandbox(browser: Any, tmp_path: Path) -> None:
    """A notebook's output as Jupyter shows it: `_repr_html_()` inside a host page of its own."""
    from tests.helpers.reports import hand_made_report

    host = tmp_path / "notebook.html"
    frame = hand_made_report()._repr_html_()
    host.write_text(f'<!DOCTYPE html><html lang="en"><head><title>notebook</title></head><body>{frame}</body></html>')
    seen = tools.visit(browser, host)
    inside = seen.page.frame_locator("iframe")
    assert inside.locator("#explorer").is_visible() and inside.locator("th button").count() > 0  # its script ran
    inside.get_by_label("Find an item").fill("gamma")
    inside.get_by_label("Find an item").press("Enter")
    assert inside.locator("#explorer-panel h3").inner_text() == "Gamma & Sons (1992)"
    assert seen.page.locator("iframe").bounding_box()["height"] >= 400  # most of the window, not a sliver
    assert seen.page.title() == "notebook"  # nothing of the report reached the host page
    assert_clean(seen)
    seen.page.context.close()
