"""Whole reports from round, hand-made numbers (no training): what the render tests read.

The titles are hostile by default (markup, a title-closing injection, template syntax), so
every page test also checks that a title is only ever text.
"""

from __future__ import annotations

from reportgen.analysis import diagnostics, ranking
from reportgen.analysis import quality as q
from reportgen.analysis.baselines import Baselines
from reportgen.analysis.factors import Component, FactorMap, Neighbour, Scored
from reportgen.analysis.findings import Analysis, BiasVsMean, Disagreement, ItemStat, ScatterPoint
from reportgen.analysis.stats import Histogram
from reportgen.render.figures import draw
from reportgen.render.figures import svg as figure_svg
from reportgen.report import BiasMove, Comparison, DataFile, DatasetSummary, ListChange, Report, Timings
from reportgen.train.config import TrainConfig
from reportgen.train.results import EpochStats, Metrics

HOSTILE = "<script>alert(1)</script>"
INJECTION = "</title><img src=x onerror=alert(1)>"
TEMPLATE_LIKE = "{{ 7*7 }}"
QUALITY_HOSTILE = "<script>x</script>"  # the title hand_made_quality() recommends most
# report.json's `config` for the tutorial's settings at the default --top-n.
TUTORIAL_CONFIG = {
    "epochs": 5,
    "lr": 0.005,
    "wd": 0.1,
    "factors": 50,
    "bs": 64,
    "valid_pct": 0.2,
    "y_range": [0.0, 5.5],
    "seed": 42,
    "top_n": 1000,
}


_DRAWN: dict[str, dict[str, str]] = {}
_REAL_TO_SVG = figure_svg.to_svg  # what the `undrawn` fixture replaces with a placeholder, for one test


def _drawn(result: Analysis, epochs: tuple[EpochStats, ...]) -> dict[str, str]:
    """The figures of a hand-made report, drawn once per distinct content (a copy each time).

    Drawing is most of what a hand-made report costs, and dozens of tests make the same one;
    the key is everything the figures are drawn from, so a different report is drawn anew.
    Only real drawings are kept: under the `undrawn` fixture the figures are placeholders,
    which a later test, comparing a page with the same page re-rendered from report.json,
    must never be handed (it was, whenever such a test ran first in its worker).
    """
    if figure_svg.to_svg is not _REAL_TO_SVG:
        return draw(result, epochs)
    key = repr((result, epochs))
    if key not in _DRAWN:
        _DRAWN[key] = draw(result, epochs)
    return dict(_DRAWN[key])


def hand_made_report(
    titles: tuple[str, ...] = ("Alpha (1990)", HOSTILE, "Gamma & Sons (1992)", INJECTION, TEMPLATE_LIKE),
    quality: q.Quality | None = None,
) -> Report:
    """A whole report from round, hand-made numbers (no training), with hostile titles by default."""
    quality = quality or hand_made_quality()
    stats = tuple(
        ItemStat(t, bias=0.5 - 0.25 * i, mean_rating=4.0 - 0.5 * i, count=100 - 10 * i) for i, t in enumerate(titles)
    )
    scatter = tuple(ScatterPoint(t, x=0.1 * i, y=-0.2 * i) for i, t in enumerate(titles))
    components = tuple(
        Component(
            index=c,
            explained_variance_ratio=[0.2, 0.1, 0.05][c],
            top=tuple(Scored(t, 1.0 - 0.1 * i) for i, t in enumerate(titles[:2])),
            bottom=tuple(Scored(t, -1.0 + 0.1 * i) for i, t in enumerate(titles[-2:])),
        )
        for c in range(3)
    )
    result = Analysis(
        top_n_requested=1000,
        top_items=titles,
        unknown_to_model=0,
        item_stats=stats,
        worst=tuple(reversed(stats)),
        best=stats,
        explained_variance_ratio=(0.2, 0.1, 0.05, 0.04),
        components=components,
        scatter_axes=(0, 2),
        scatter=scatter,
        baselines=Baselines(global_mean_rmse=1.125, bias_only_rmse=0.9375, model_rmse=0.92005, global_mean=3.5),
        bias_vs_mean=BiasVsMean(
            correlation=0.75,
            points=tuple((s.title, s.bias, s.mean_rating) for s in stats),
            high_mean_low_bias=(Disagreement(titles[1], -0.5, 4.5, 12, 4.25, "its raters are generous"),),
            low_mean_high_bias=(Disagreement(titles[2], 0.5, 2.5, 40, 2.75, "its raters are harsh"),),
        ),
        component_genres=(),
        neighbours={
            t: tuple(Neighbour(o, 0.9 - 0.1 * j) for j, o in enumerate(x for x in titles if x != t)) for t in titles[:2]
        },
        user_biases=Histogram(edges=(-1.0, 0.0, 1.0), counts=(400, 543)),
        ratings=Histogram(edges=(0.5, 1.5, 2.5, 3.5, 4.5, 5.5), counts=(6110, 11370, 27145, 34174, 21201)),
        quality=quality,
        factor_map=FactorMap(  # the explorer's map: four components (2 is the scatter's y), three neighbours each
            scores=tuple((0.1 * i, 0.05 * i - 0.1, -0.2 * i, 0.02 * i) for i in range(len(titles))),
            neighbours=tuple(tuple((i + j) % len(titles) for j in (1, 2, 3)) for i in range(len(titles))),
            similarity=tuple((0.9, 0.8, 0.7) for _ in titles),
        ),
    )
    return Report(
        generated_at="2026-11-27T10:00:00+00:00",
        dataset=DatasetSummary(
            name="ml-100k",
            source="recbole",
            location="ml-100k",
            files=(
                DataFile("ratings", "ml-100k.inter", 2_079_769, "ab" * 32),
                DataFile("titles", "ml-100k.item", 85_017, "cd" * 32),
            ),
            n_ratings=100_000,
            n_users=943,
            n_items=1682,
            n_titles=1664,
        ),
        config=TrainConfig(split="random"),  # as `fit` resolves "auto" for the tutorial on ML-100k
        top_n=1000,
        metrics=Metrics(
            valid_mse=0.8465,
            valid_rmse=0.92005,
            n_train=80_000,
            n_valid=20_000,
            epochs=(EpochStats(1, 0.95, 0.93, 8.25), EpochStats(2, 0.70, 0.8465, 7.5)),
        ),
        analysis=result,
        timings=Timings(load=0.25, train=40.0, analyse=0.1, render=0.4, total=40.75),
        figures=_drawn(result, (EpochStats(1, 0.95, 0.93, 8.25), EpochStats(2, 0.70, 0.8465, 7.5))),
        versions={"python": "3.11.7", "reportgen": "0.1.0", "fastai": "2.8.12"},
    )


def hand_made_quality() -> q.Quality:
    """A `Quality` with round numbers, a sampled ranking and a hostile title among the most recommended."""

    def bucket(label: str, low: int, high: int | None, count: int, rmse: float | None) -> diagnostics.Bucket:
        return diagnostics.Bucket(label, low, high, count, rmse)

    spans = [("0", 0, 0), ("1–5", 1, 5), ("6–20", 6, 20), ("21–100", 21, 100), ("more than 100", 101, None)]
    users = diagnostics.Buckets(
        "users",
        tuple(
            bucket(name, a, b, c, r)
            for (name, a, b), c, r in zip(spans, [0, 40, 300, 900, 760], [None, 1.234, 1.01, 0.95, 0.9])
        ),
        0.95,
    )
    items = diagnostics.Buckets(
        "items",
        tuple(
            bucket(name, a, b, c, r)
            for (name, a, b), c, r in zip(spans, [5, 60, 200, 800, 935], [1.5, 1.111, 1.0, 0.96, 0.91])
        ),
        0.95,
    )
    return q.Quality(
        k=10,
        threshold=4.0,
        users_eligible=5000,
        users_evaluated=2000,
        sampled=True,
        seed=42,
        n_valid=2000,
        rating={
            "model": q.RatingMetrics(0.9123, 0.7111, 0.301),
            "bias": q.RatingMetrics(0.9456, 0.7444, 0.25),
            "global_mean": q.RatingMetrics(1.1234, 0.9444, -0.001),
        },
        ranking={
            "model": ranking.RankingMetrics(0.051, 0.061, 0.071, 0.031, 0.401),
            "popularity": ranking.RankingMetrics(0.101, 0.121, 0.141, 0.061, 0.601),
            "random": ranking.RankingMetrics(0.002, 0.003, 0.004, 0.001, 0.021),
        },
        coverage=ranking.Coverage(
            1682, 321, 321 / 1682, 81.5, 77.25, ((QUALITY_HOSTILE, 812), ("Star Wars (1977)", 640))
        ),
        by_user_activity=users,
        by_item_popularity=items,
        calibration=diagnostics.Calibration(
            bins=(
                diagnostics.CalibrationBin(1.0, 3.0, 500, 2.5, 2.75),
                diagnostics.CalibrationBin(3.0, 5.0, 1500, 3.9, 3.85),
                diagnostics.CalibrationBin(5.0, 7.0, 0, None, None),
            ),
            residuals=Histogram(edges=(-1.0, 0.0, 1.0), counts=(900, 1100)),
            mean_residual=0.012,
        ),
    )


def hand_made_comparison(titles: tuple[str, ...], **changes: object) -> Comparison:
    """A comparison with a previous run on the same data: RMSE 0.94868 -> 0.92005, one list change, five bias moves."""
    fields = {
        "previous": "the previous run's report.json",
        "previous_generated_at": "2026-11-26T10:00:00+00:00",
        "dataset_changed": False,
        "previous_sha256": "ab" * 32,
        "current_sha256": "ab" * 32,
        "valid_mse_before": 0.9,
        "valid_mse_after": 0.8465,
        "valid_rmse_before": 0.94868,
        "valid_rmse_after": 0.92005,
        "lists": (ListChange("Lowest biases", (titles[0],), ("Gone (1990)",)),),
        "bias_moves": tuple(BiasMove(t, 0.1 * i, -0.1 * i) for i, t in enumerate(titles[:5])),
    }
    return Comparison(**{**fields, **changes})
