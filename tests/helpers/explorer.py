"""The factor-space explorer as a reader sees it in Chromium: what it shows (text only, never markup), how
to search it as a person types, and where it stands in the window. Used by the explorer's browser tests
and the nightly pages' test."""

from __future__ import annotations

from typing import Any

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
    scores: text("#explorer-panel .explorer-scores tbody td:last-child"),
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
  const ring = document.querySelector("#explorer-plot .marks .chosen");
  const view = document.getElementById("explorer-plot").getAttribute("data-view").split(" ").map(Number);
  return {
    section: section.top, plotTop: plot.top, plotBottom: plot.bottom, window: window.innerHeight,
    ring: ring && [+ring.getAttribute("cx"), +ring.getAttribute("cy")], size: [plot.width, plot.height], view,
  };
}"""


def shows_the_map(where: dict[str, Any]) -> bool:
    """The map whole in the window, and the section's heading at the window's top unless that would
    have left the map's foot below it (then that foot at the window's bottom), to a pixel."""
    whole = where["plotTop"] >= 0 and where["plotBottom"] <= where["window"] + 1
    heading = abs(where["section"]) <= 1 or (where["section"] < 0 and abs(where["plotBottom"] - where["window"]) <= 1)
    return whole and heading
