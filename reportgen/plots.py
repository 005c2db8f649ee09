"""Figures for the report, as inline SVG text. The only module that knows matplotlib.

Figures are built on `matplotlib.figure.Figure` directly (never pyplot's global
registry), drawn with the Agg-family SVG backend, with text kept as text and a
fixed hash salt and no date, so the same findings always give the same bytes.
Colours are drawn as placeholders and swapped for CSS custom properties, so the
page's light, dark and print themes recolour the figure too.
"""

from __future__ import annotations

import html
import io
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reportgen.analysis import Analysis, Histogram, ScatterPoint
from reportgen.train import EpochStats

SVG_STYLE = {
    "svg.fonttype": "none",  # titles stay searchable, selectable text
    "svg.hashsalt": "reportgen",  # stable element ids between runs
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial", "Helvetica"],  # measured with the first
    "font.size": 10,
}
# Placeholder colours matplotlib draws with, and the CSS each one becomes. The
# fallbacks keep the figure legible under a user's template without our CSS.
INK, GRID, ZERO, POINT = "#010101", "#020202", "#030303", "#040404"
SERIES_A, SERIES_B = "#0a0a00", "#0a0a01"  # the first two label colours: blue and orange
N_LABEL_COLOURS = 8
LABEL_COLOURS = tuple(f"#0a0a{k:02x}" for k in range(N_LABEL_COLOURS))
_LIGHT_LABELS = ("#1f5f99", "#a63d12", "#2f7d32", "#6a3d9a", "#8c564b", "#b8327a", "#4d4d4d", "#0f7c7c")
CSS_COLOURS = {
    INK: "var(--plot-ink, #1d1d1f)",
    GRID: "var(--plot-grid, #e4e6ea)",
    ZERO: "var(--plot-zero, #9a9ca3)",
    POINT: "var(--plot-point, #333333)",
    **{sentinel: f"var(--plot-label-{k}, {_LIGHT_LABELS[k]})" for k, sentinel in enumerate(LABEL_COLOURS)},
}
_HEX = re.compile(r"#[0-9a-f]{6}(?![0-9a-fA-F])")

DPI = 72  # one display unit is one point, the SVG's own unit
LABEL_SIZE = 8.0  # points
LABEL_CHARS = 60  # longer titles are cut on the plot, whole on hover and in the table below it
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
    return title if len(title) <= LABEL_CHARS else title[: LABEL_CHARS - 1].rstrip() + "…"


def scatter_svg(points: Sequence[ScatterPoint], x_label: str, y_label: str) -> str:
    """The tutorial's labelled scatter: every point with its title beside it, hover for the title."""
    with matplotlib.rc_context(SVG_STYLE), warnings.catch_warnings():  # fonts are read when artists are made
        # Text stays text in the SVG, so a glyph matplotlib's font lacks (an emoji) is the
        # browser's to draw; only the label's measured width is approximate.
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
        fig = _scatter_figure(points, x_label, y_label)
        svg = _to_svg(fig)
    titles = {POINT_ID.format(i): p.title for i, p in enumerate(points)}
    titles.update({LABEL_ID.format(i): p.title for i, p in enumerate(points)})
    return compact_svg(_add_titles(svg, titles), keep_group_ids=True, scope="scatter-svg")


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


def figures(analysis: Analysis, epochs: Sequence[EpochStats] = ()) -> dict[str, str]:
    """All figures the report shows, by name."""
    x_axis, y_axis = analysis.scatter_axes
    return {
        "scatter": scatter_svg(
            analysis.scatter,
            x_label=f"PCA component {x_axis}",
            y_label=f"PCA component {y_axis}",
        ),
        "learning_curve": learning_curve_svg(epochs),
        "bias_vs_mean": bias_vs_mean_svg(analysis.bias_vs_mean.points),
        "variance": variance_svg(analysis.explained_variance_ratio),
        "user_biases": histogram_svg(analysis.user_biases, "User bias (learned)", "Users", "user-biases"),
        "ratings": histogram_svg(analysis.ratings, "Rating", "Ratings", "ratings"),
    }


def _small_figure(width: float = 6.4, height: float = 3.6) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor="none", layout="constrained")
    ax = fig.add_subplot(facecolor="none")
    ax.grid(True, color=GRID, linewidth=0.6, zorder=0)
    ax.tick_params(colors=INK, labelcolor=INK)
    for spine in ax.spines.values():
        spine.set_color(INK)
    return fig, ax


def _small_svg(draw: Any, name: str) -> str:
    with matplotlib.rc_context(SVG_STYLE):
        fig, ax = _small_figure()
        draw(ax)
        return compact_svg(_prefix_ids(_to_svg(fig), name), scope=f"{name}-svg")


_LONG_DECIMAL = re.compile(r"(?<![\w.])(\d+\.\d{3,})")
_REFERENCE = re.compile(r'(?:url\(#|href="#)([^)"]+)')


_FONT_FAMILY = re.compile(r"font-family: ([^;\"]+); ?")


def compact_svg(svg: str, *, keep_group_ids: bool = False, scope: str | None = None) -> str:
    """The same drawing in about two thirds of the bytes, for the page's size budget.

    Coordinates keep two decimals (a hundredth of a point); the line breaks and
    indentation matplotlib writes go; group ids nothing refers to go, and so does
    the no-op `rotate(-0 …)` on horizontal text. Text content is untouched
    (numbers are rounded inside tags only).
    `keep_group_ids`: keep every group id (the scatter's points and labels are found by id).
    `scope`: an id for the root `<svg>`; when every text has the same font family, it is
    said once, in a style rule scoped to that id, instead of on every text.
    """
    # Inside tags only: a title in a text node keeps its digits as written.
    svg = re.sub(r"<[^>]*>", lambda tag: _LONG_DECIMAL.sub(lambda m: f"{float(m.group(1)):.2f}", tag.group(0)), svg)
    svg = re.sub(r"\s*\n\s*", " ", svg)
    svg = svg.replace("> <", "><")
    svg = re.sub(r' transform="rotate\(-0 [^)"]*\)"', "", svg)
    families = set(_FONT_FAMILY.findall(svg))
    if scope is not None and len(families) == 1 and "</style>" in svg:
        svg = _FONT_FAMILY.sub("", svg)
        svg = svg.replace("<svg ", f'<svg id="{scope}" ', 1)
        svg = svg.replace("</style>", f"#{scope} text{{font-family: {families.pop()}}}</style>", 1)
    if keep_group_ids:
        return svg
    referenced = set(_REFERENCE.findall(svg))
    return re.sub(r'<g id="([^"]+)">', lambda m: m.group(0) if m.group(1) in referenced else "<g>", svg)


def _prefix_ids(svg: str, prefix: str) -> str:
    """Namespace every id (and each `#id` reference): several inline SVGs share one page."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return re.sub(
        r'(url\(#|href="#)([^)"]+)',
        lambda m: f"{m.group(1)}{prefix}-{m.group(2)}" if m.group(2) in ids else m.group(0),
        svg,
    )


def learning_curve_svg(epochs: Sequence[EpochStats]) -> str:
    """Train and valid loss per epoch: a gap that widens is the model memorising."""

    def draw(ax: Any) -> None:
        xs = [e.epoch for e in epochs]
        ax.plot(xs, [e.train_loss for e in epochs], marker="o", color=SERIES_A, label="train loss", zorder=3)
        ax.plot(xs, [e.valid_loss for e in epochs], marker="s", color=SERIES_B, label="valid loss", zorder=3)
        ax.set_xticks(xs)
        ax.set_xlabel("Epoch", color=INK)
        ax.set_ylabel("MSE", color=INK)
        ax.legend(frameon=False, labelcolor=INK)

    return _small_svg(draw, "learning-curve")


def bias_vs_mean_svg(points: Sequence[tuple[str, float, float]]) -> str:
    """One dot per analysed item: learned bias across, mean rating up."""

    def draw(ax: Any) -> None:
        ax.scatter([p[1] for p in points], [p[2] for p in points], s=6, color=POINT, linewidths=0, zorder=3)
        ax.set_xlabel("Learned bias", color=INK)
        ax.set_ylabel("Mean rating", color=INK)

    return _small_svg(draw, "bias-vs-mean")


def variance_svg(ratios: Sequence[float]) -> str:
    """The share of the factor vectors' variance each principal component explains."""

    def draw(ax: Any) -> None:
        xs = list(range(len(ratios)))
        ax.bar(
            xs,
            [100 * r for r in ratios],
            color=[SERIES_A if i < 3 else GRID for i in xs],
            edgecolor=INK,
            linewidth=0.4,
            zorder=3,
        )
        ax.set_xticks(xs)
        ax.set_xlabel("Principal component (the report's three in colour)", color=INK)
        ax.set_ylabel("Variance explained (%)", color=INK)

    return _small_svg(draw, "variance")


def histogram_svg(hist: Histogram, x_label: str, y_label: str, name: str) -> str:
    def draw(ax: Any) -> None:
        edges = hist.edges
        widths = [b - a for a, b in zip(edges, edges[1:])]
        ax.bar(
            edges[:-1], hist.counts, width=widths, align="edge", color=SERIES_A, edgecolor=INK, linewidth=0.4, zorder=3
        )
        ax.set_xlabel(x_label, color=INK)
        ax.set_ylabel(y_label, color=INK)

    return _small_svg(draw, name)


def _to_svg(fig: Figure) -> str:
    buffer = io.StringIO()
    # No metadata: matplotlib's RDF block is not valid inside an HTML page.
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    fig.clear()
    text = buffer.getvalue()
    # Inline SVG in HTML needs neither the XML prolog nor the DOCTYPE.
    text = text[text.index("<svg") :]
    return _HEX.sub(lambda m: CSS_COLOURS.get(m.group(0), m.group(0)), text)


def _add_titles(svg: str, titles: dict[str, str]) -> str:
    """Give each group named in `titles` an SVG <title> (the browser's hover text), escaped."""

    def titled(match: re.Match[str]) -> str:
        title = titles.get(match.group(1))
        if title is None:
            return match.group(0)
        return f"{match.group(0)}\n<title>{html.escape(title, quote=False)}</title>"

    return re.sub(r'<g id="([^"]+)">', titled, svg)
