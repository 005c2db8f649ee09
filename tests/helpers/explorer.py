"""The factor-space explorer as a reader sees it in Chromium: what it shows (text only, never markup), how
to search it as a person types, and where it stands in the window. Used by the explorer's browser tests
and the nightly pages' test."""

from __future__ import annotations

import json
import re
from typing import Any

from reportgen.render import explorer as view
from tests.helpers import browser as tools

# What the explorer shows, read from the page as a reader sees it (text only, never markup).
STATE = """() => {
  const text = sel => [...document.querySelectorAll(sel)].map(e => e.textContent);
  const boxes = [...document.querySelectorAll("#explorer-plot .label")].map(e => e.getBoundingClientRect());
  const overlaps = boxes.filter((a, i) => boxes.slice(i + 1).some(b =>
    Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5));
  const plot = document.querySelector("#explorer-plot svg").getBoundingClientRect();
  return {
    selected: (document.querySelector("#explorer-panel h3") || {}).textContent || null,
    facts: text("#explorer-panel dd"),
    scores: text("#explorer-panel .explorer-scores tbody td:nth-child(2)"),
    previous: text("#explorer-panel .explorer-scores tbody td:nth-child(3)"),
    neighbours: text("#explorer-panel .explorer-neighbours button"),
    results: text("#explorer-results button"),
    labels: text("#explorer-plot .label"),
    overlaps: overlaps.length,
    outside: boxes.filter(b => b.left < plot.left || b.right > plot.right || b.top < plot.top || b.bottom > plot.bottom).length,
    dots: [...document.querySelectorAll("#explorer-plot .dot")].map(c => [+c.getAttribute("cx"), +c.getAttribute("cy")]),
    hash: decodeURIComponent(location.hash),
  };
}"""


def state(seen: tools.Visit) -> dict[str, Any]:
    return seen.page.evaluate(STATE)


def find(seen: tools.Visit, typed: str) -> dict[str, Any]:
    """Type into the search box as a person does, then press Enter."""
    box = seen.page.get_by_label("Find an item")
    box.fill("")
    box.press_sequentially(typed)
    found = state(seen)
    box.press("Enter")
    return found


# Where the explorer stands in the window, and where the selected item's ring is in the map.
IN_VIEW = """() => {
  const section = document.getElementById("explorer").getBoundingClientRect();
  const plot = document.querySelector("#explorer-plot svg").getBoundingClientRect();
  const frame = document.getElementById("explorer-plot").getBoundingClientRect();  // the map and its border
  const ring = document.querySelector("#explorer-plot .marks .chosen");
  const view = document.getElementById("explorer-plot").getAttribute("data-view").split(" ").map(Number);
  return {
    section: section.top, plotTop: frame.top, plotBottom: frame.bottom, window: window.innerHeight,
    ring: ring && [+ring.getAttribute("cx"), +ring.getAttribute("cy")], size: [plot.width, plot.height], view,
  };
}"""


def shows_the_map(where: dict[str, Any]) -> bool:
    """The map (its frame, border included) whole in the window, and the section's heading at the window's
    top unless that would have left the map's foot below it (then that foot at the window's bottom), to a
    pixel (the browser scrolls to whole pixels, the page's layout has fractions)."""
    whole = where["plotTop"] >= 0 and where["plotBottom"] <= where["window"] + 1
    heading = abs(where["section"]) <= 1 or (where["section"] < 0 and abs(where["plotBottom"] - where["window"]) <= 1)
    return whole and heading


ISLAND = re.compile(r'<script type="application/json" id="explorer-data">(.*?)</script>', re.S)


def island_in(html: str) -> dict[str, Any]:
    """The page's one data island, parsed."""
    found = ISLAND.findall(html)
    assert len(found) == 1
    return json.loads(found[0])


def previous_positions(island: dict[str, Any]) -> list[list[float] | None]:
    """Where the island says the previous run's model put each item (aligned), as the script decodes it:
    its scores' per-component steps, None for an item that model did not know (its `UNKNOWN` first step)."""
    n, k, codes = island["n"], island["k"], island["before"]
    return [
        None
        if view.unpair(codes, 2 * i) == view.UNKNOWN
        else [(view.unpair(codes, 2 * (c * n + i)) - view.MIDDLE) * island["scale"][c] for c in range(k)]
        for i in range(n)
    ]


# Each item's move as the map draws it: the thin lines (one per item the previous run's model knew, its
# row as data-item), their ends, and the plot's size and view, to turn scores into its pixels.
MOVES = """() => {
  const svg = document.querySelector("#explorer-plot svg"), box = document.getElementById("explorer-moves");
  const group = svg.querySelector(".moves"), number = (e, a) => +e.getAttribute(a);
  return {
    control: box && {checked: box.checked, label: box.labels[0].textContent.trim()},
    shown: !!group && group.getAttribute("display") !== "none",
    lines: group ? [...group.querySelectorAll("line")].map(l =>
      [+l.dataset.item, number(l, "x1"), number(l, "y1"), number(l, "x2"), number(l, "y2")]) : [],
    ends: group ? [...group.querySelectorAll("circle.was")].map(c => [+c.dataset.item, number(c, "cx"), number(c, "cy")]) : [],
    size: [number(svg, "width"), number(svg, "height")],
    view: document.getElementById("explorer-plot").getAttribute("data-view").split(" ").map(Number),
    legend: document.getElementById("explorer-legend").textContent,
  };
}"""


def pixel(drawn: dict[str, Any], x: float, y: float) -> tuple[float, float]:
    """The point of the plot where the script puts scores (x across, y up), from the view it reports."""
    (x0, x1, y0, y1), (width, height) = drawn["view"], drawn["size"]
    return (x - x0) / (x1 - x0) * width, (y1 - y) / (y1 - y0) * height
