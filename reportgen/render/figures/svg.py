"""SVG figures as the page wants them: the style, the theme's colours, and the helpers every figure uses.

Figures are built on `matplotlib.figure.Figure` directly (never pyplot's global
registry), drawn with the Agg-family SVG backend, with text kept as text and a
fixed hash salt and no date, so the same findings always give the same bytes.
Colours are drawn as placeholders and swapped for CSS custom properties, so the
page's light, dark and print themes recolour the figure too. `report`, `scatter`,
`quality` and `history` draw with these helpers.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure

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


def small_figure(width: float = 6.4, height: float = 3.6) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor="none", layout="constrained")
    ax = fig.add_subplot(facecolor="none")
    ax.grid(True, color=GRID, linewidth=0.6, zorder=0)
    ax.tick_params(colors=INK, labelcolor=INK)
    for spine in ax.spines.values():
        spine.set_color(INK)
    return fig, ax


def small_svg(draw: Any, name: str) -> str:
    with matplotlib.rc_context(SVG_STYLE):
        fig, ax = small_figure()
        draw(ax)
        return compact_svg(prefix_ids(to_svg(fig), name), scope=f"{name}-svg")


_LONG_DECIMAL = re.compile(r"(?<![\w.#-])(-?\d+\.\d+)")
_REFERENCE = re.compile(r'(?:url\(#|href="#)([^)"]+)')
_FONT_FAMILY = re.compile(r"font-family: ([^;\"]+); ?")
_PATH_COMMAND = re.compile(r"\s*([MLHVCSQTAZmlhvcsqtaz])\s*")
_STYLED = re.compile(r'(?: clip-path="(url\(#[^)"]+\))")? style="([^"]*)"')
_USE_AT = re.compile(r'<use [^>]*?\bx="([^"]+)" y="([^"]+)"')
CLOUD = "cloud"  # the gid of a marker line that `cloud` draws and `compact_svg` turns into one path


def cloud(ax: Any, xs: Sequence[float], ys: Sequence[float], diameter: float, colour: str = POINT) -> None:
    """A cloud of round dots of `diameter` points: matplotlib places them (limits, ticks, clipping) and
    `compact_svg` writes them as one path of zero-length round-capped strokes, about 14 bytes a dot
    where matplotlib writes a `<use>` of about 110."""
    ax.plot(
        xs, ys, linestyle="none", marker="o", markersize=diameter, markeredgewidth=0, color=colour, gid=CLOUD, zorder=3
    )


def _number(match: re.Match[str], digits: int = 2) -> str:
    """A decimal in a tag with at most `digits` decimals and no trailing zeros ("225.20" is "225.2")."""
    text = f"{float(match.group(1)):.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _clouds(svg: str) -> str:
    """Each `cloud` group's `<use>` of one round marker as one path: a zero-length stroke per dot, as wide as
    the marker, with round caps (the same dot), at the same place to a tenth of a point."""

    def one(match: re.Match[str]) -> str:
        group = match.group(0)
        marker = re.search(r'<path id="[^"]+" d="([^"]+)"', group)
        fill = re.search(r'<use [^>]*style="fill: ([^;"]+)', group)
        clip = re.search(r'<g clip-path="([^"]+)"', group)
        if marker is None or fill is None:
            return group
        radius = max(abs(float(v)) for v in re.findall(r"-?\d+(?:\.\d+)?", marker.group(1)))
        dots = "".join(f"M{float(x):.1f} {float(y):.1f}h0" for x, y in _USE_AT.findall(group))
        dots = re.sub(r"\.0(?=[ h])", "", dots)
        style = f"fill: none; stroke: {fill.group(1)}; stroke-width: {2 * radius:.2f}; stroke-linecap: round"
        clipped = f' clip-path="{clip.group(1)}"' if clip else ""
        return f'<g id="{match.group(1)}"><path d="{dots}"{clipped} style="{style}"/></g>'

    return re.sub(rf'<g id="([^"]*{CLOUD})">.*?</g>\s*</g>', one, svg, flags=re.S)


def compact_svg(svg: str, *, keep_group_ids: bool = False, scope: str | None = None) -> str:
    """The same drawing in a fraction of the bytes, for the page's size budget.

    Coordinates keep two decimals (a hundredth of a point) without trailing zeros; path data
    loses the spaces around its commands; the line breaks and indentation matplotlib writes go;
    group ids nothing refers to go, and so does the no-op `rotate(-0 …)` on horizontal text; a
    `cloud` of dots becomes one path. Text content is untouched (numbers are rounded inside tags only).
    `keep_group_ids`: keep every group id (the scatter's points and labels are found by id).
    `scope`: an id for the root `<svg>`. With it, the figure's style rules are scoped to that id
    (several figures share one page), every distinct `style` (with its clip path) is said once as a
    class, the font family once for every text, and the ids the figure refers to are made short.
    """
    svg = _clouds(svg)
    # Inside tags only: a title in a text node keeps its digits as written.
    svg = re.sub(r"<[^>]*>", lambda tag: _LONG_DECIMAL.sub(_number, tag.group(0)), svg)
    svg = re.sub(r"\s*\n\s*", " ", svg)
    svg = re.sub(r'\bd="([^"]*)"', lambda m: 'd="' + _PATH_COMMAND.sub(r"\1", m.group(1)).strip() + '"', svg)
    svg = svg.replace("> <", "><")
    svg = re.sub(r' transform="rotate\(-0 [^)"]*\)"', "", svg)
    if scope is not None and "</style>" in svg:
        svg = _scoped(svg, scope)
    if keep_group_ids:
        return svg
    referenced = set(_REFERENCE.findall(svg))
    return re.sub(r'<g id="([^"]+)">', lambda m: m.group(0) if m.group(1) in referenced else "<g>", svg)


def _scoped(svg: str, scope: str) -> str:
    """`svg` with its root id `scope`, its style rules and classes scoped to it, its references short."""
    svg = svg.replace("<svg ", f'<svg id="{scope}" ', 1)
    rules = []
    families = set(_FONT_FAMILY.findall(svg))
    if len(families) == 1:
        svg = _FONT_FAMILY.sub("", svg)
        rules.append(f"#{scope} text{{font-family: {families.pop()}}}")
    names: dict[str, str] = {}
    short = {ref: f"{scope}{k}" for k, ref in enumerate(dict.fromkeys(_REFERENCE.findall(svg)))}
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{short.get(m.group(1), m.group(1))}"', svg)
    svg = _REFERENCE.sub(lambda m: m.group(0)[: -len(m.group(1))] + short.get(m.group(1), m.group(1)), svg)

    def classed(match: re.Match[str]) -> str:
        clip, style = match.groups()
        declarations = (f"clip-path: {clip}; " if clip else "") + style.strip().rstrip(";")
        if declarations not in names:
            names[declarations] = _class_name(len(names))
        return f' class="{names[declarations]}"'

    head, sep, body = svg.partition("</style>")
    body = _STYLED.sub(classed, body)
    rules += [f"#{scope} .{name}{{{declarations};}}" for declarations, name in names.items()]
    head = head.replace("*{", f"#{scope} *{{", 1)
    return head + "".join(rules) + sep + body


def _class_name(k: int) -> str:
    """The `k`-th short class name of a figure, from 0: "a" to "z", then "aa", "ab"…"""
    name = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        name = "abcdefghijklmnopqrstuvwxyz"[r] + name
    return name


def prefix_ids(svg: str, prefix: str) -> str:
    """Namespace every id (and each `#id` reference): several inline SVGs share one page."""
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return re.sub(
        r'(url\(#|href="#)([^)"]+)',
        lambda m: f"{m.group(1)}{prefix}-{m.group(2)}" if m.group(2) in ids else m.group(0),
        svg,
    )


def to_svg(fig: Figure) -> str:
    buffer = io.StringIO()
    # No metadata: matplotlib's RDF block is not valid inside an HTML page.
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    fig.clear()
    text = buffer.getvalue()
    # Inline SVG in HTML needs neither the XML prolog nor the DOCTYPE.
    text = text[text.index("<svg") :]
    return _HEX.sub(lambda m: CSS_COLOURS.get(m.group(0), m.group(0)), text)


def add_titles(svg: str, titles: dict[str, str]) -> str:
    """Give each group named in `titles` an SVG <title> (the browser's hover text), escaped."""

    def titled(match: re.Match[str]) -> str:
        title = titles.get(match.group(1))
        if title is None:
            return match.group(0)
        return f"{match.group(0)}\n<title>{html.escape(title, quote=False)}</title>"

    return re.sub(r'<g id="([^"]+)">', titled, svg)
