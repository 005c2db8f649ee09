"""The history page's view model: `History`, the rows of OUTPUT/runs/, their stretches and trend charts.

A stretch is a run of consecutive kept runs that measure the same thing: the same data set
(name and SHA-256), kind of held-out ratings and preset. The trends join the runs of a stretch
with a line and never two stretches, so a time-split 1.19 after a random-split 0.90 is a gap,
not a slope. The seed is not compared: it changes a run by chance alone, which is what a trend
shows; nor is random against stable, which both hold out a random share of every period
(`train.config.HOLDS_OUT`, the rule the verdict follows).

Where some run reviewed the previous run's model (`RunRow.review` with a verdict), two more
trends show each such run's paired RMSE difference with its interval and its churn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reportgen.render.figures import history as trends
from reportgen.runs.history import RunRow
from reportgen.train.config import HOLDS_OUT

# What must stay the same for two runs to be one measurement, in the words the page uses.
COMPARED: tuple[tuple[str, Callable[[RunRow], object]], ...] = (
    ("data set", lambda r: (r.dataset, r.sha256)),
    ("split", lambda r: HOLDS_OUT.get(r.split, r.split)),
    ("preset", lambda r: r.preset),
)


@dataclass(frozen=True)
class Stretch:
    """Consecutive runs (numbered like the table) that one line joins; `changed`: what differs from the stretch before."""

    runs: tuple[int, ...]
    changed: tuple[str, ...] = ()  # names from COMPARED; empty for the first stretch

    @property
    def first(self) -> int:
        return self.runs[0]


@dataclass(frozen=True)
class History:
    output_name: str  # the output folder's own name, for the title
    rows: tuple[RunRow, ...]  # readable runs oldest first, then the entries that are not
    figures: dict[str, str]
    stretches: tuple[Stretch, ...] = ()  # the readable runs cut where data set, split or preset change

    @property
    def runs(self) -> tuple[RunRow, ...]:
        return tuple(r for r in self.rows if r.problem is None)

    @property
    def reviewed(self) -> tuple[RunRow, ...]:
        """The readable runs that reviewed a baseline model (report.json's `review`), with a verdict or not."""
        return tuple(r for r in self.runs if r.review is not None)

    @property
    def breaks(self) -> tuple[Stretch, ...]:
        """Every stretch but the first: where a line breaks, and why."""
        return self.stretches[1:]


def stretches(runs: Sequence[RunRow]) -> tuple[Stretch, ...]:
    """`runs` (readable, oldest first, numbered from 1) cut wherever data set, split or preset changes."""
    cut: list[Stretch] = []
    for number, (before, run) in enumerate(zip((None, *runs), runs, strict=False), start=1):
        changed = () if before is None else tuple(name for name, key in COMPARED if key(before) != key(run))
        if before is None or changed:
            cut.append(Stretch((number,), changed))
        else:
            cut[-1] = Stretch((*cut[-1].runs, number), cut[-1].changed)
    return tuple(cut)


def _interval(run: RunRow) -> trends.Interval | None:
    """The run's paired RMSE difference and its interval, where its review measured one."""
    found = run.review.rmse if run.review is not None else None
    if found is None or found.difference is None or found.low is None or found.high is None:
        return None
    return found.difference, found.low, found.high


def history_view(output_name: str, rows: tuple[RunRow, ...]) -> History:
    """The page's model for `rows` (`runs.history.collect`), with its trend charts drawn (none without a readable run)."""
    runs = [r for r in rows if r.problem is None]
    cut = stretches(runs)
    lines = [s.runs for s in cut]
    figures = {}
    if runs:
        figures = {
            "trend_rmse": trends.rmse_svg(
                [r.valid_rmse for r in runs],
                [r.bias_only_rmse for r in runs],
                [r.global_mean_rmse for r in runs],
                lines,
            ),
            "trend_ratings": trends.count_svg([r.n_ratings for r in runs]),
            "trend_fit": trends.time_svg([r.fit_seconds for r in runs], lines),
        }
    if any(r.review is not None and r.review.rmse is not None for r in runs):
        figures["trend_review"] = trends.review_svg([_interval(r) for r in runs], "RMSE, tonight − baseline")
        figures["trend_churn"] = trends.churn_svg(
            [r.review.changed if r.review else None for r in runs], [r.review.rbo if r.review else None for r in runs]
        )
    return History(output_name=output_name, rows=rows, figures=figures, stretches=cut)
