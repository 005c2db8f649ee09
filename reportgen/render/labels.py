"""The one table of names the page, report.md, the history page and the log show: predictors, rankers, durations.

The templates read it as the global `labels` (`labels.PREDICTORS.bias`), the Markdown and
the log (`pipeline`) from here, so they never drift apart.
"""

from __future__ import annotations

from types import MappingProxyType

from reportgen.report.compare import NOISE_PCT as NOISE

PREDICTORS = MappingProxyType(
    {
        "model": "This model (biases and latent factors)",
        "bias": "User and item biases only",
        "global_mean": "Global mean",
    }
)
RANKERS = MappingProxyType({"model": "This model", "popularity": "Most-rated items", "random": "Random items"})

# The durations a run reports, each under one name wherever it is shown: the log, the page's
# "Time per stage" and epoch table, the history's column and trend. In report.json they are
# `timings.load`, `timings.train`, `runtime.fit_seconds`, `timings.analyse`, `timings.render`,
# `timings.total` and `metrics.epochs[].seconds` (docs/report-json.md says what each counts).
TIMES = MappingProxyType(
    {
        "load": "Load data",
        "train": "Train stage (the fit with imports and set-up)",
        "fit": "Fit (the optimisation loop alone)",
        "analyse": "Analyse",
        "render": "Draw figures",
        "total": "Total (load, train stage, analyse, draw)",
        "epoch": "Time (its share of the fit)",
    }
)

# A review's verdict (analysis.bootstrap's words) as the page's table and headline say it.
VERDICTS = MappingProxyType(
    {
        "better": "better",
        "worse": "worse",
        "no detectable difference": "no detectable difference",
        "no verdict": "–",
    }
)
VERDICT_HEADLINES = MappingProxyType(
    {
        "better": "Better than the model of run",
        "worse": "Worse than the model of run",
        "no detectable difference": "No detectable difference from the model of run",
    }
)
NOISE_PCT = NOISE  # the rule of thumb of a comparison without a review (report.compare.NOISE_PCT)
