"""The figures, as inline SVG text: the only package that knows matplotlib.

Modules, lowest first: `svg` (style, theme colours, the helpers every figure uses),
`scatter` (the labelled PCA scatter), `report` (the report's small figures), `quality`
(the quality sections'), `history` (the history page's trends). `draw` is every
figure a report shows, by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from reportgen.analysis.findings import Analysis
from reportgen.render.figures import quality, report
from reportgen.train import EpochStats


def draw(analysis: Analysis, epochs: Sequence[EpochStats] = ()) -> dict[str, str]:
    """Every figure of the report page, by name: the tutorial's and the quality sections'."""
    return report.figures(analysis, epochs) | quality.figures(analysis.quality)
