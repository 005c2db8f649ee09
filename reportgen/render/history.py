"""The history page's view model: `History`, the rows of OUTPUT/runs/ and their trend charts."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.render.figures import history as trends
from reportgen.runs.history import RunRow


@dataclass(frozen=True)
class History:
    output_name: str  # the output folder's own name, for the title
    rows: tuple[RunRow, ...]  # readable runs oldest first, then the entries that are not
    figures: dict[str, str]

    @property
    def runs(self) -> tuple[RunRow, ...]:
        return tuple(r for r in self.rows if r.problem is None)


def history_view(output_name: str, rows: tuple[RunRow, ...]) -> History:
    """The page's model for `rows` (`runs.history.collect`), with its trend charts drawn (none without a readable run)."""
    runs = [r for r in rows if r.problem is None]
    figures = {}
    if runs:
        figures = {
            "trend_rmse": trends.rmse_svg(
                [r.valid_rmse for r in runs], [r.bias_only_rmse for r in runs], [r.global_mean_rmse for r in runs]
            ),
            "trend_ratings": trends.count_svg([r.n_ratings for r in runs]),
            "trend_fit": trends.time_svg([r.fit_seconds for r in runs]),
        }
    return History(output_name=output_name, rows=rows, figures=figures)
