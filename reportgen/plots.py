"""Figures for the report, as inline SVG text. The only module that knows matplotlib.

Figures are built on `matplotlib.figure.Figure` directly (never pyplot's global
registry), drawn with the Agg-family SVG backend, with text kept as text and a
fixed hash salt and no date, so the same findings always give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after choosing the backend)

from reportgen.analysis import Findings, ScatterPoint  # noqa: E402

SVG_STYLE = {
    "svg.fonttype": "none",  # titles stay searchable, selectable text
    "svg.hashsalt": "reportgen",  # stable element ids between runs
    "font.family": "sans-serif",
    "font.size": 10,
}
LABEL_COLOURS = ("#1f5f99", "#a63d12", "#2f7d32", "#6a3d9a", "#8c564b", "#b8327a", "#4d4d4d", "#0f7c7c")


def scatter_svg(points: Sequence[ScatterPoint], x_label: str, y_label: str) -> str:
    """The tutorial's labelled scatter: every point with its title beside it."""
    with matplotlib.rc_context(SVG_STYLE):  # fonts are read when artists are made
        return _to_svg(_scatter_figure(points, x_label, y_label))


def _scatter_figure(points: Sequence[ScatterPoint], x_label: str, y_label: str) -> Figure:
    fig = Figure(figsize=(11, 11), layout="constrained")
    ax = fig.add_subplot()
    xs = [p.x for p in points]
    ys = [p.y for p in points]
    ax.scatter(xs, ys, s=14, color="#333333", zorder=2)
    for i, p in enumerate(points):
        # parse_math=False: a `$` in a title is a dollar sign, not mathtext.
        ax.annotate(
            p.title,
            (p.x, p.y),
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=8,
            color=LABEL_COLOURS[i % len(LABEL_COLOURS)],
            parse_math=False,
        )
    ax.set_xlabel(x_label, parse_math=False)
    ax.set_ylabel(y_label, parse_math=False)
    ax.axhline(0, color="#bbbbbb", linewidth=0.8, zorder=1)
    ax.axvline(0, color="#bbbbbb", linewidth=0.8, zorder=1)
    ax.grid(True, color="#eeeeee", linewidth=0.6, zorder=0)
    ax.margins(0.12)
    return fig


def figures(findings: Findings) -> dict[str, str]:
    """All figures the report shows, by name."""
    x_axis, y_axis = findings.scatter_axes
    return {
        "scatter": scatter_svg(
            findings.scatter,
            x_label=f"PCA component {x_axis}",
            y_label=f"PCA component {y_axis}",
        )
    }


def _to_svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    fig.clear()
    text = buffer.getvalue()
    # Inline SVG in HTML needs neither the XML prolog nor the DOCTYPE.
    return text[text.index("<svg") :]
