"""Figures for the recommender-quality sections (issue 15), drawn like the report's small figures.

Built with figures/svg.py's helpers on `matplotlib.figure.Figure` (no pyplot), so the bytes
are deterministic and the colours are the page's CSS variables.
"""

from __future__ import annotations

from typing import Any

from reportgen.analysis.diagnostics import Buckets, Calibration
from reportgen.analysis.quality import Quality
from reportgen.render.figures.svg import INK, SERIES_A, SERIES_B, ZERO, small_svg

BAR_WIDTH = 0.38


def buckets_svg(by_user: Buckets, by_item: Buckets) -> str:
    """Validation RMSE per training-count bucket, users and items side by side, n above each bar."""

    def draw(ax: Any) -> None:
        labels = [b.label for b in by_user.buckets]
        top = max((b.rmse or 0.0 for group in (by_user, by_item) for b in group.buckets), default=0.0) or 1.0
        for offset, group, colour, name in (
            (-BAR_WIDTH / 2, by_user, SERIES_A, "users"),
            (BAR_WIDTH / 2, by_item, SERIES_B, "items"),
        ):
            xs = [j + offset for j in range(len(group.buckets))]
            heights = [b.rmse or 0.0 for b in group.buckets]
            ax.bar(xs, heights, width=BAR_WIDTH, color=colour, edgecolor=INK, linewidth=0.4, label=name, zorder=3)
            for x, b in zip(xs, group.buckets):
                ax.text(
                    x,
                    (b.rmse or 0.0) + top * 0.02,
                    f"n={b.count}",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=INK,
                    rotation=90,
                    zorder=4,
                )
        ax.set_xticks(range(len(labels)), labels)
        ax.set_ylim(0, top * 1.35)
        ax.set_xlabel("Training ratings of the user (or item)", color=INK)
        ax.set_ylabel("Validation RMSE", color=INK)
        ax.legend(frameon=False, labelcolor=INK, loc="upper right")

    return small_svg(draw, "quality-buckets")


def calibration_svg(calibration: Calibration) -> str:
    """Mean observed against mean predicted rating per bin, with the diagonal of perfect calibration."""

    def draw(ax: Any) -> None:
        full = [b for b in calibration.bins if b.count and b.mean_predicted is not None and b.mean_observed is not None]
        xs = [b.mean_predicted for b in full]
        ys = [b.mean_observed for b in full]
        ends = [b.low for b in calibration.bins[:1]] + [b.high for b in calibration.bins[-1:]]
        low, high = (min(ends + xs + ys), max(ends + xs + ys)) if ends or xs else (0.0, 1.0)
        ax.plot(
            [low, high], [low, high], color=ZERO, linewidth=0.8, linestyle="--", label="perfect calibration", zorder=2
        )
        ax.plot(xs, ys, marker="o", color=SERIES_A, label="this model", zorder=3)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("Mean predicted rating", color=INK)
        ax.set_ylabel("Mean observed rating", color=INK)
        ax.legend(frameon=False, labelcolor=INK, loc="upper left")

    return small_svg(draw, "calibration")


def residuals_svg(calibration: Calibration) -> str:
    """How far the held-out ratings fall from the predictions (observed − predicted), as one filled outline."""
    hist = calibration.residuals

    def draw(ax: Any) -> None:
        if hist.counts:
            # One stepped outline rather than a bar per bin: the same picture in a fraction of the bytes.
            ax.stairs(hist.counts, hist.edges, fill=True, color=SERIES_A, zorder=3)
            ax.stairs(hist.counts, hist.edges, color=INK, linewidth=0.6, zorder=4)
            ax.axvline(0, color=ZERO, linewidth=0.8, zorder=5)
        ax.set_xlabel("Observed − predicted rating", color=INK)
        ax.set_ylabel("Ratings", color=INK)

    return small_svg(draw, "residuals")


def figures(quality: Quality) -> dict[str, str]:
    """The figures the quality partials show, by the names they include them under."""
    return {
        "quality_buckets": buckets_svg(quality.by_user_activity, quality.by_item_popularity),
        "calibration": calibration_svg(quality.calibration),
        "residuals": residuals_svg(quality.calibration),
    }
