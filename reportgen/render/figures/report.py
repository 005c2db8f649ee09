"""The report's small figures (learning curve, bias against mean, variance, histograms) and `figures`, all of them by name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reportgen.analysis.findings import Analysis
from reportgen.analysis.stats import Histogram
from reportgen.render.figures.scatter import scatter_svg
from reportgen.render.figures.svg import GRID, INK, SERIES_A, SERIES_B, cloud, small_svg
from reportgen.train import EpochStats


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

    return small_svg(draw, "learning-curve")


DOT = 6**0.5  # points across a dot of the bias-vs-mean cloud (an area of 6 square points)


def bias_vs_mean_svg(points: Sequence[tuple[str, float, float]]) -> str:
    """One dot per analysed item: learned bias across, mean rating up."""

    def draw(ax: Any) -> None:
        cloud(ax, [p[1] for p in points], [p[2] for p in points], diameter=DOT)
        ax.set_xlabel("Learned bias", color=INK)
        ax.set_ylabel("Mean rating", color=INK)

    return small_svg(draw, "bias-vs-mean")


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

    return small_svg(draw, "variance")


def histogram_svg(hist: Histogram, x_label: str, y_label: str, name: str) -> str:
    def draw(ax: Any) -> None:
        edges = hist.edges
        widths = [b - a for a, b in zip(edges, edges[1:])]
        ax.bar(
            edges[:-1], hist.counts, width=widths, align="edge", color=SERIES_A, edgecolor=INK, linewidth=0.4, zorder=3
        )
        ax.set_xlabel(x_label, color=INK)
        ax.set_ylabel(y_label, color=INK)

    return small_svg(draw, name)
