"""Trend figures for the history page (index.html), drawn like the report's small figures.

Built with figures/svg.py's helpers on `matplotlib.figure.Figure` (no pyplot), colours as the
page's CSS variables. One marker per run; each series is a group whose id ends in its
name (`…-model`, `…-ratings`), so a test or a reader's tool can count the points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib

from reportgen.render.figures import svg
from reportgen.render.figures.svg import (
    INK,
    LABEL_COLOURS,
    SERIES_A,
    SERIES_B,
    SVG_STYLE,
    compact_svg,
    prefix_ids,
    small_figure,
)


def _trend_svg(draw: Any, name: str) -> str:
    with matplotlib.rc_context(SVG_STYLE):
        fig, ax = small_figure(height=3.2)
        draw(ax)
        return compact_svg(prefix_ids(svg.to_svg(fig), name), keep_group_ids=True, scope=f"{name}-svg")


def _axis(ax: Any, n: int, y_label: str) -> None:
    step = max(1, math.ceil(n / 15))
    ax.set_xticks(range(1, n + 1, step))
    ax.set_xlim(0.5, n + 0.5)
    ax.set_xlabel("Run (#, oldest first)", color=INK)
    ax.set_ylabel(y_label, color=INK)


def _series(values: Sequence[float | None]) -> tuple[list[int], list[float]]:
    """The runs that have a value, numbered from 1 like the table."""
    kept = [(i, v) for i, v in enumerate(values, start=1) if v is not None]
    return [i for i, _ in kept], [v for _, v in kept]


def rmse_svg(model: Sequence[float | None], bias: Sequence[float | None], mean: Sequence[float | None]) -> str:
    """Valid RMSE of the model per run, with the two baselines it must beat."""

    def draw(ax: Any) -> None:
        for values, marker, colour, label, gid in (
            (mean, "^", LABEL_COLOURS[2], "global mean", "mean"),
            (bias, "s", SERIES_B, "biases only", "bias"),
            (model, "o", SERIES_A, "model", "model"),
        ):
            xs, ys = _series(values)
            ax.plot(xs, ys, marker=marker, color=colour, label=label, zorder=3, gid=gid)
        _axis(ax, len(model), "Valid RMSE")
        ax.legend(frameon=False, labelcolor=INK)

    return _trend_svg(draw, "trend-rmse")


def count_svg(ratings: Sequence[float | None]) -> str:
    """Ratings read per run: the data growing (or a wrong file)."""
    return _one_series_svg(ratings, "Ratings", gid="ratings", name="trend-ratings")


def time_svg(seconds: Sequence[float | None]) -> str:
    """Seconds of the training loop per run (none under SOURCE_DATE_EPOCH)."""
    return _one_series_svg(seconds, "Fit time (s)", gid="fit", name="trend-fit")


def _one_series_svg(values: Sequence[float | None], label: str, *, gid: str, name: str) -> str:
    """One quantity per run, from 0 up, a point per run that has it."""

    def draw(ax: Any) -> None:
        xs, ys = _series(values)
        ax.plot(xs, ys, marker="o", color=SERIES_A, zorder=3, gid=gid)
        ax.set_ylim(bottom=0, top=max(ys, default=1) * 1.1 or 1)
        _axis(ax, len(values), label)

    return _trend_svg(draw, name)
