"""Trend figures for the history page (index.html), drawn like the report's small figures.

Built with figures/svg.py's helpers on `matplotlib.figure.Figure` (no pyplot), colours as the
page's CSS variables. One marker per run. A line joins only the runs of one stretch (runs
that measure the same thing: `render.history.stretches`), so a change of data set, split or
preset is a gap in the line, never a slope. Each series' stretch is a group whose id ends
in the series' name and the stretch's number (`…-model-1`, `…-fit-2`), so a test or a
reader's tool can count the points and see where a line breaks.

The reviews' trends (`review_svg`, `churn_svg`) draw only the runs that reviewed the previous
run's model: a point each, no line (each point compares its own two models), and a run without
a review is a gap, never a zero. The RMSE difference's 95 % interval is an error bar, a group
per run (`trend-review-interval-<run>`), beside a zero line (`trend-review-zero`).

The page scales each figure to its box (`.figure-body svg { width: 100% }`): about 357 CSS
px at a 1280 px window (three side by side) and 342 px at 390 px (one a row). The figure is
drawn `WIDTH` inches (72 units each) wide with `FONT_SIZE`-unit text, so its text renders
at FONT_SIZE × box / (72 × WIDTH): 12.1 px at 357 px and 11.6 px at 342 px, never under
the 11 px a reader needs (tests/render/test_history_page.py measures it in Chromium).
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
    ZERO,
    compact_svg,
    prefix_ids,
    small_figure,
)

CAP = 0.2  # half the width of an interval's caps, in runs: two neighbours' caps never touch
WIDTH, HEIGHT = 4.5, 3.2  # inches at 72 units each: 324 × 230 units
FONT_SIZE = 11  # units: every text of the trends, ticks and legend included
MAX_TICKS = 10  # run numbers on the x axis; at 11 units two digits need about 14 units each


def _trend_svg(draw: Any, name: str) -> str:
    with matplotlib.rc_context({**SVG_STYLE, "font.size": FONT_SIZE}):
        fig, ax = small_figure(width=WIDTH, height=HEIGHT)
        draw(fig, ax)
        return compact_svg(prefix_ids(svg.to_svg(fig), name), keep_group_ids=True, scope=f"{name}-svg")


def _axis(ax: Any, n: int, y_label: str) -> None:
    step = max(1, math.ceil(n / MAX_TICKS))
    ax.set_xticks(range(1, n + 1, step))
    ax.set_xlim(0.5, n + 0.5)
    ax.set_xlabel("Run (#, oldest first)", color=INK)
    ax.set_ylabel(y_label, color=INK)


def _points(values: Sequence[float | None], runs: Sequence[int]) -> tuple[list[int], list[float]]:
    """The runs of `runs` (numbered from 1 like the table) that have a value, and their values."""
    kept = [(n, values[n - 1]) for n in runs if values[n - 1] is not None]
    return [n for n, _ in kept], [v for _, v in kept]


def _stretched(
    ax: Any, values: Sequence[float | None], stretches: Sequence[Sequence[int]], *, gid: str, **style: Any
) -> list[float]:
    """One line per stretch, markers on every run with a value; the legend names the series once."""
    label, drawn = style.pop("label", None), []
    for number, runs in enumerate(stretches, start=1):
        xs, ys = _points(values, runs)
        if xs:
            ax.plot(xs, ys, label=label, zorder=3, gid=f"{gid}-{number}", **style)
            label, drawn = None, drawn + ys
    return drawn


def rmse_svg(
    model: Sequence[float | None],
    bias: Sequence[float | None],
    mean: Sequence[float | None],
    stretches: Sequence[Sequence[int]],
) -> str:
    """Valid RMSE of the model per run, with the two baselines it must beat; a line per stretch."""

    def draw(fig: Any, ax: Any) -> None:
        for values, marker, colour, label, gid in (
            (mean, "^", LABEL_COLOURS[2], "global mean", "mean"),
            (bias, "s", SERIES_B, "biases only", "bias"),
            (model, "o", SERIES_A, "model", "model"),
        ):
            _stretched(ax, values, stretches, gid=gid, marker=marker, color=colour, label=label)
        _axis(ax, len(model), "Valid RMSE")
        # Below the axes, in one row: inside them the legend would hide the latest runs.
        fig.legend(loc="outside lower center", ncols=3, frameon=False, labelcolor=INK, handlelength=1.5)

    return _trend_svg(draw, "trend-rmse")


def count_svg(ratings: Sequence[float | None]) -> str:
    """Ratings read per run: the data growing (or a wrong file). One line: the data is what it shows."""
    return _one_series_svg(ratings, [range(1, len(ratings) + 1)], "Ratings", gid="ratings", name="trend-ratings")


def time_svg(seconds: Sequence[float | None], stretches: Sequence[Sequence[int]]) -> str:
    """The fit's seconds per run (none under SOURCE_DATE_EPOCH), a line per stretch; the caption names them."""
    return _one_series_svg(seconds, stretches, "Seconds", gid="fit", name="trend-fit")


def _one_series_svg(
    values: Sequence[float | None], stretches: Sequence[Sequence[int]], label: str, *, gid: str, name: str
) -> str:
    """One quantity per run, from 0 up, a point per run that has it."""

    def draw(fig: Any, ax: Any) -> None:
        ys = _stretched(ax, values, stretches, gid=gid, marker="o", color=SERIES_A)
        ax.set_ylim(bottom=0, top=max(ys, default=1) * 1.1 or 1)
        _axis(ax, len(values), label)

    return _trend_svg(draw, name)


Interval = tuple[float, float, float]  # a paired difference, its interval's low and high end


def review_svg(differences: Sequence[Interval | None], label: str) -> str:
    """Each reviewed run's paired difference (tonight − its baseline) with its interval as an error bar, and 0.

    A run without one (no review, or no verdict) has no point: a gap, never a zero. Each bar is a group
    `trend-review-interval-<run>` (one path: the bar and its two caps), the points one group
    `trend-review-difference` (a marker each), the zero line `trend-review-zero`. No line joins two points:
    each compares its own two models.
    """

    def draw(fig: Any, ax: Any) -> None:
        ax.axhline(0, color=ZERO, linewidth=1.2, zorder=2, gid="zero")
        xs, ys = [], []
        for number, found in enumerate(differences, start=1):
            if found is None:
                continue
            difference, low, high = found
            left, right = number - CAP, number + CAP
            ax.plot(
                [left, right, math.nan, number, number, math.nan, left, right],
                [low, low, math.nan, low, high, math.nan, high, high],
                color=SERIES_A,
                linewidth=1.2,
                zorder=3,
                gid=f"interval-{number}",
            )
            xs, ys = [*xs, number], [*ys, difference]
        ax.plot(xs, ys, linestyle="none", marker="o", color=SERIES_A, zorder=4, gid="difference")
        _axis(ax, len(differences), label)

    return _trend_svg(draw, "trend-review")


def churn_svg(changed: Sequence[float | None], rbo: Sequence[float | None]) -> str:
    """For each reviewed run, the share of users whose top-10 list changed and the lists' mean rank-biased
    overlap, from 0 to 1; a run without a review has no point. Groups `trend-churn-changed`, `trend-churn-rbo`."""

    def draw(fig: Any, ax: Any) -> None:
        for values, marker, colour, name, gid in (
            (changed, "o", SERIES_A, "top-10 changed", "changed"),
            (rbo, "s", SERIES_B, "mean RBO", "rbo"),
        ):
            xs, ys = _points(values, range(1, len(values) + 1))
            ax.plot(xs, ys, linestyle="none", marker=marker, color=colour, label=name, zorder=3, gid=gid)
        ax.set_ylim(-0.05, 1.05)
        _axis(ax, len(changed), "Share of users; overlap")
        fig.legend(loc="outside lower center", ncols=2, frameon=False, labelcolor=INK, handlelength=1.5)

    return _trend_svg(draw, "trend-churn")
