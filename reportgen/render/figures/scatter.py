"""The labelled scatter of the items on two PCA components: labels placed clear of points and of each other."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reportgen.analysis.findings import ScatterPoint
from reportgen.data.titles import cut
from reportgen.render.figures import svg
from reportgen.render.figures.svg import (
    DPI,
    GRID,
    INK,
    LABEL_COLOURS,
    N_LABEL_COLOURS,
    POINT,
    SVG_STYLE,
    ZERO,
    add_titles,
    compact_svg,
)

LABEL_SIZE = 8.0  # points
LABEL_CHARS = 60  # a longer title's label on the plot is its start, the whole title on hover and in the table below it
MARKER_RADIUS = 2.5  # points, the obstacle a label keeps clear of
POINT_ID = "scatter-point-{}"
LABEL_ID = "scatter-label-{}"


# --------------------------------------------------------------------------- label placement


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in display points (y up)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def overlap(self, other: Box) -> float:
        width = min(self.x1, other.x1) - max(self.x0, other.x0)
        height = min(self.y1, other.y1) - max(self.y0, other.y0)
        return width * height if width > 0 and height > 0 else 0.0

    def outside(self, bounds: Box) -> float:
        """Area of this box that lies outside `bounds`."""
        return (self.x1 - self.x0) * (self.y1 - self.y0) - self.overlap(bounds)


@dataclass(frozen=True)
class Placement:
    """Where one label goes: an offset from its point, the text alignment, its box."""

    dx: float
    dy: float
    ha: str
    va: str
    box: Box
    clash: float  # overlapping area that could not be avoided (0 when clear)

    @property
    def leader(self) -> bool:
        """Far from its point: draw a thin line to show which point it names."""
        return abs(self.dx) > 6 or abs(self.dy) > 6


# Directions to try around a point, nearest first; right of the point (the tutorial's
# spot) before left, above and below. (unit dx, unit dy, ha, va)
_DIRECTIONS = (
    (1, 0, "left", "center"),
    (1, 0.7, "left", "bottom"),
    (1, -0.7, "left", "top"),
    (-1, 0, "right", "center"),
    (-1, 0.7, "right", "bottom"),
    (-1, -0.7, "right", "top"),
    (0, 1, "center", "bottom"),
    (0, -1, "center", "top"),
)
_DISTANCES = (4.0, 10.0, 17.0, 25.0, 34.0)


_LEADER_CROSSING = 25.0  # as bad as this many square points of overlap


def _crosses(x0: float, y0: float, x1: float, y1: float, box: Box, steps: int = 12) -> bool:
    """Whether the segment (x0, y0)–(x1, y1) passes through `box` (sampled)."""
    for k in range(1, steps):
        t = k / steps
        x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        if box.x0 < x < box.x1 and box.y0 < y < box.y1:
            return True
    return False


def _box(x: float, y: float, w: float, h: float, ha: str, va: str) -> Box:
    x0 = {"left": x, "right": x - w, "center": x - w / 2}[ha]
    y0 = {"bottom": y, "top": y - h, "center": y - h / 2}[va]
    return Box(x0, y0, x0 + w, y0 + h)


def place_labels(
    anchors: Sequence[tuple[float, float]],
    sizes: Sequence[tuple[float, float]],
    bounds: Box,
    marker: float = MARKER_RADIUS,
    pad: float = 1.5,
) -> list[Placement]:
    """Greedy label placement: each label, in order, takes the first spot near its point
    that overlaps no point, no earlier label and stays inside `bounds`; where none is
    free, the spot with the least overlap. Earlier labels (most-rated items) get the best spots.
    """
    points = [Box(x - marker, y - marker, x + marker, y + marker) for x, y in anchors]
    placed: list[Box] = []
    result = []
    for i, ((x, y), (w, h)) in enumerate(zip(anchors, sizes)):
        best: Placement | None = None
        for distance in _DISTANCES:
            for ux, uy, ha, va in _DIRECTIONS:
                dx, dy = ux * distance, uy * distance
                text = _box(x + dx, y + dy, w, h, ha, va)
                box = Box(text.x0 - pad, text.y0 - pad, text.x1 + pad, text.y1 + pad)
                clash = box.outside(bounds) * 4
                clash += sum(box.overlap(other) for other in placed)
                clash += sum(box.overlap(p) for j, p in enumerate(points) if j != i)
                if abs(dx) > 6 or abs(dy) > 6:  # a leader line should not cross other labels
                    clash += sum(_LEADER_CROSSING for other in placed if _crosses(x, y, x + dx, y + dy, other))
                if best is None or clash < best.clash:
                    best = Placement(dx, dy, ha, va, box, clash)
                if clash == 0:
                    break
            if best is not None and best.clash == 0:
                break
        assert best is not None
        placed.append(best.box)
        result.append(best)
    return result


# --------------------------------------------------------------------------- figures


def label_text(title: str) -> str:
    """A scatter label: the title, cut to `LABEL_CHARS` (the whole title is the hover text)."""
    return cut(title, LABEL_CHARS)


def scatter_svg(points: Sequence[ScatterPoint], x_label: str, y_label: str) -> str:
    """The tutorial's labelled scatter: every point with its title beside it, hover for the title."""
    with matplotlib.rc_context(SVG_STYLE), warnings.catch_warnings():  # fonts are read when artists are made
        # Text stays text in the SVG, so a glyph matplotlib's font lacks (an emoji) is the
        # browser's to draw; only the label's measured width is approximate.
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
        fig = _scatter_figure(points, x_label, y_label)
        drawn = svg.to_svg(fig)
    titles = {POINT_ID.format(i): p.title for i, p in enumerate(points)}
    titles.update({LABEL_ID.format(i): p.title for i, p in enumerate(points)})
    return compact_svg(add_titles(drawn, titles), keep_group_ids=True, scope="scatter-svg")


def _scatter_figure(points: Sequence[ScatterPoint], x_label: str, y_label: str) -> Figure:
    fig = Figure(figsize=(10, 8.5), dpi=DPI, facecolor="none")
    FigureCanvasAgg(fig)  # a renderer to measure the labels with
    ax = fig.add_axes((0.075, 0.065, 0.905, 0.92), facecolor="none")
    xs = [p.x for p in points]
    ys = [p.y for p in points]
    for i, p in enumerate(points):
        ax.plot(
            [p.x], [p.y], marker="o", markersize=4.5, linestyle="none", color=POINT, zorder=3, gid=POINT_ID.format(i)
        )
    ax.set_xlabel(x_label, parse_math=False, color=INK)
    ax.set_ylabel(y_label, parse_math=False, color=INK)
    ax.axhline(0, color=ZERO, linewidth=0.8, zorder=1)
    ax.axvline(0, color=ZERO, linewidth=0.8, zorder=1)
    ax.grid(True, color=GRID, linewidth=0.6, zorder=0)
    ax.tick_params(colors=INK, labelcolor=INK)
    for spine in ax.spines.values():
        spine.set_color(INK)
    if points:
        ax.margins(x=0.16, y=0.06)
    ax.set_xlim(ax.get_xlim())  # freeze the limits: labels must not move the axes
    ax.set_ylim(ax.get_ylim())

    renderer = fig.canvas.get_renderer()
    sizes = []
    for p in points:
        # Measured as matplotlib lays the label out (line height, not ink); parse_math=False:
        # a `$` in a title is a dollar sign, not mathtext.
        probe = fig.text(0, 0, label_text(p.title), fontsize=LABEL_SIZE, parse_math=False)
        extent = probe.get_window_extent(renderer)
        probe.remove()
        sizes.append((extent.width, extent.height))
    anchors = [tuple(ax.transData.transform((x, y))) for x, y in zip(xs, ys)]
    x0, y0, x1, y1 = ax.bbox.extents
    placements = place_labels(anchors, sizes, Box(x0, y0, x1, y1))
    for i, (p, spot) in enumerate(zip(points, placements)):
        colour = LABEL_COLOURS[i % N_LABEL_COLOURS]
        arrow = dict(arrowstyle="-", color=ZERO, linewidth=0.6, shrinkA=1, shrinkB=2) if spot.leader else None
        label = ax.annotate(
            label_text(p.title),
            (p.x, p.y),
            xytext=(spot.dx, spot.dy),
            textcoords="offset points",
            ha=spot.ha,
            va=spot.va,
            fontsize=LABEL_SIZE,
            color=colour,
            parse_math=False,
            arrowprops=arrow,
            annotation_clip=False,
            zorder=4,
        )
        label.set_gid(LABEL_ID.format(i))
    return fig
