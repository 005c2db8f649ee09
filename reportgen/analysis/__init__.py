"""Analyse stage: what the model learned and how good a recommender it is, as one `Analysis`.

The public face of the stage; its modules, lowest first (a module imports only those
before it, tests/test_architecture.py holds the order):

- `defaults`: the analysis's settings, stated once (`TOP_N` items, the ranking cut-off `K`)
- `stats`: histograms
- `inputs`: `QualityInputs`, what the evaluation reads (codes, ratings, predictions of both splits)
- `baselines`: the two predictors the model is measured against
- `factors`: PCA with its sign rule, genres at each end of a component, neighbours
- `diagnostics`: who the model fails (buckets) and calibration
- `ranking`: top-k lists by the model and by popularity, and random lists' exact expectation; their metrics; coverage
- `quality`: is it a good recommender: rating metrics, ranking, buckets, calibration, in one `Quality`
- `pairing`: which row of each model is whose (by name), and the users whose two top-k lists are compared
- `bootstrap`: two models' paired differences on the same users, with percentile bootstrap intervals
- `churn`: both models' top-k lists for the same users: ranking quality, Jaccard, rank-biased overlap, churn
- `paired`: `paired_review`, tonight's model against a baseline on the same held-out ratings, with a verdict
- `findings`: `analyse` and its one result, `Analysis`
- `movement`: what moved in the factor space between a baseline model and tonight's (Procrustes, neighbourhoods)
- `review`: `review_models`, the whole of it for a report: which ratings neither model trained on, `paired` and `movement`

Importing this package loads nothing heavy: `analyse` and `Analysis` are read from `findings`, `review_models`,
`Review` and `Baseline` from `review`, on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Analysis", "Baseline", "Review", "analyse", "review_models"]
_FROM_REVIEW = ("Baseline", "Review", "review_models")


def __getattr__(name: str) -> Any:
    """The face's names on first use: the CLI reads `defaults` without loading numpy."""
    if name in _FROM_REVIEW:
        from reportgen.analysis import review

        return getattr(review, name)
    if name in __all__:
        from reportgen.analysis import findings

        return getattr(findings, name)
    raise AttributeError(f"module 'reportgen.analysis' has no attribute {name!r}")
