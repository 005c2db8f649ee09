"""report.json written from a `Report`: `to_json` is the one place that names its keys."""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict
from typing import Any

from reportgen import __version__
from reportgen.analysis.diagnostics import Buckets
from reportgen.analysis.factors import Scored
from reportgen.analysis.findings import Analysis, Disagreement, ItemStat
from reportgen.analysis.quality import Quality
from reportgen.report.schema import encode
from reportgen.report.types import SCHEMA_VERSION, Comparison, Report
from reportgen.train.splits import TimeSplit


def to_json(report: Report) -> dict[str, Any]:
    """The machine-readable twin of the page.

    Under SOURCE_DATE_EPOCH (`report.reproducible`) `timings` and each epoch's
    `seconds` are left out, since durations never repeat.
    """
    d, m, a = report.dataset, report.metrics, report.analysis
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": report.generated_at,
        "reportgen_version": __version__,
        "dataset": {
            "name": d.name,
            "source": d.source,
            "location": d.location,
            "ratings_file": d.files[0].name,
            "items_file": next((f.name for f in d.files if f.role == "titles"), None),
            "files": [asdict(f) for f in d.files],
            "columns": dict(d.columns),
            "sha256": d.sha256,
            "n_ratings": d.n_ratings,
            "n_users": d.n_users,
            "n_items": d.n_items,
            "n_titles": d.n_titles,
            "item_key": d.item_key,
            "duplicates_dropped": d.duplicates_dropped,
        }
        | ({"database": asdict(d.database)} if d.database is not None else {}),
        "config": {**report.config.as_dict(), "split": report.config.split, "top_n": report.top_n},
        "run": report.config.run_dict(),
        "metrics": {
            "valid_mse": m.valid_mse,
            "valid_rmse": m.valid_rmse,
            "n_train": m.n_train,
            "n_valid": m.n_valid,
            "epochs": [
                {"epoch": e.epoch, "train_loss": e.train_loss, "valid_loss": e.valid_loss}
                | ({} if report.reproducible else {"seconds": e.seconds})
                for e in m.epochs
            ],
        },
        "notes": list(report.notes),
        "top_items": list(a.top_items),
        "top_n_clamped": a.top_n_clamped,
        "unknown_to_model": a.unknown_to_model,
        "items": [_item(s) for s in a.item_stats],
        "bias": {"worst": [_item(s) for s in a.worst], "best": [_item(s) for s in a.best]},
        "pca": {
            "explained_variance_ratio": [c.explained_variance_ratio for c in a.components],
            "sign_rule": a.sign_rule,
            "scatter_components": list(a.scatter_axes),
            "components": [
                {
                    "index": c.index,
                    "explained_variance_ratio": c.explained_variance_ratio,
                    "top": [_scored(s) for s in c.top],
                    "bottom": [_scored(s) for s in c.bottom],
                }
                for c in a.components
            ],
        },
        "scatter": [{"title": p.title, "x": p.x, "y": p.y} for p in a.scatter],
    }
    if report.timings is not None:
        doc["timings"] = asdict(report.timings)
    if report.runtime is not None:
        runtime = report.runtime.as_dict()
        if report.reproducible:
            runtime.pop("fit_seconds")
        doc["runtime"] = runtime
    doc["insight"] = _beyond_the_tutorial(a)
    doc["quality"] = quality_to_json(a.quality)
    if a.factor_map is not None:  # absent in a report.json written before the explorer
        f = a.factor_map
        doc["factor_map"] = {
            "items": len(f.scores),
            "components": f.n_components,
            "scores": [list(row) for row in f.scores],
            "neighbours": [list(row) for row in f.neighbours],
            "similarity": [list(row) for row in f.similarity],
        }
    if report.comparison is not None:
        doc["comparison"] = _comparison(report.comparison)
    if report.split is not None:  # absent: the tutorial's random split (every earlier report.json)
        doc["split"] = split_to_json(report.split)
    if report.review is not None:  # absent without a baseline model (a first run, --no-model before it)
        doc["review"] = encode(report.review)
    doc["versions"] = report.versions
    doc["citation"] = report.citation
    return doc


def dumps(report: Report) -> str:
    """report.json's exact text: indented, UTF-8, no NaN (an error rather than invalid JSON).

    As `json.dumps(indent=2)` writes it, except that a list of rows (each a list of numbers, or null) has
    each row on one line, and the explorer's `factor_map` comes last: its 3,000 rows of numbers (and the
    review's 1,000 rows of positions) would otherwise take tens of thousands of lines and, at a thousand
    long titles, break the 1 MB promise.
    """
    doc = to_json(report)
    found = doc.pop("factor_map", None)
    if found is not None:
        doc["factor_map"] = found
    return _pretty(doc) + "\n"


def _pretty(value: Any, level: int = 0) -> str:
    pad, end = "  " * (level + 1), "  " * level
    if isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{end}}}"
    if isinstance(value, list) and value:
        if all(
            row is None or (isinstance(row, list) and not any(isinstance(x, (list, dict)) for x in row))
            for row in value
        ):
            items = [pad + json.dumps(row, separators=(",", ":"), ensure_ascii=False, allow_nan=False) for row in value]
        else:
            items = [pad + _pretty(v, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + f"\n{end}]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _beyond_the_tutorial(a: Analysis) -> dict[str, Any]:
    """The `insight` section: what the report adds to the tutorial's interpretation."""
    b, v = a.baselines, a.bias_vs_mean
    return {
        "baselines": {
            "global_mean_rmse": b.global_mean_rmse,
            "bias_only_rmse": b.bias_only_rmse,
            "model_rmse": b.model_rmse,
            "global_mean": b.global_mean,
        },
        "bias_vs_mean": {
            "correlation": v.correlation,
            "high_mean_low_bias": [_disagreement(d) for d in v.high_mean_low_bias],
            "low_mean_high_bias": [_disagreement(d) for d in v.low_mean_high_bias],
        },
        "explained_variance_ratio": list(a.explained_variance_ratio),
        "component_genres": [
            {
                "index": c.index,
                "sentence": c.sentence,
                "top": c.shares_top,
                "bottom": c.shares_bottom,
                "standing_out": {end: [asdict(g) for g in getattr(c, end)] for end in ("top", "bottom")},
            }
            for c in a.component_genres
        ],
        "neighbours": {title: [n.title for n in found] for title, found in a.neighbours.items()},
        "neighbour_similarity": {title: [n.similarity for n in found] for title, found in a.neighbours.items()},
        "user_bias_histogram": {"edges": list(a.user_biases.edges), "counts": list(a.user_biases.counts)},
        "rating_histogram": {"edges": list(a.ratings.edges), "counts": list(a.ratings.counts)},
    }


def _number(value: float | None) -> float | None:
    """A finite float, in full (report.json must read back exactly: `readback.from_json`); None otherwise."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def quality_to_json(quality: Quality) -> dict[str, Any]:
    """The `quality` block: plain numbers, None (null) where a value is undefined, never NaN."""
    k = quality.k

    def bucket_rows(b: Buckets) -> list[dict[str, Any]]:
        return [
            {"label": x.label, "low": x.low, "high": x.high, "count": x.count, "rmse": _number(x.rmse)}
            for x in b.buckets
        ]

    c = quality.coverage
    cal = quality.calibration
    return {
        "k": k,
        "threshold": _number(quality.threshold),
        "users_eligible": quality.users_eligible,
        "users_evaluated": quality.users_evaluated,
        "users_sampled": quality.sampled,
        "seed": quality.seed,
        "n_valid": quality.n_valid,
        "overall_rmse": {
            "by_user_activity": _number(quality.by_user_activity.overall_rmse),
            "by_item_popularity": _number(quality.by_item_popularity.overall_rmse),
        },
        "rating": {
            name: {"rmse": _number(m.rmse), "mae": _number(m.mae), "r2": _number(m.r2)}
            for name, m in quality.rating.items()
        },
        "ranking": {
            name: {
                f"precision_at_{k}": _number(m.precision),
                f"recall_at_{k}": _number(m.recall),
                f"ndcg_at_{k}": _number(m.ndcg),
                f"map_at_{k}": _number(m.map),
                f"hit_rate_at_{k}": _number(m.hit_rate),
            }
            for name, m in quality.ranking.items()
        },
        "coverage": {
            "catalogue_size": c.catalogue_size,
            "items_recommended": c.items_recommended,
            "share": _number(c.share),
            "mean_popularity_percentile_recommended": _number(c.mean_percentile_recommended),
            "mean_popularity_percentile_rated": _number(c.mean_percentile_rated),
            "most_recommended": [{"label": label, "count": n} for label, n in c.most_recommended],
        },
        "by_user_activity": bucket_rows(quality.by_user_activity),
        "by_item_popularity": bucket_rows(quality.by_item_popularity),
        "calibration": {
            "bins": [
                {
                    "low": _number(b.low),
                    "high": _number(b.high),
                    "count": b.count,
                    "mean_predicted": _number(b.mean_predicted),
                    "mean_observed": _number(b.mean_observed),
                }
                for b in cal.bins
            ],
            "mean_residual": _number(cal.mean_residual),
            "residuals": {"edges": [_number(e) for e in cal.residuals.edges], "counts": list(cal.residuals.counts)},
        },
        "sentences": {
            "ranking": quality.ranking_sentence,
            "sample": quality.sample_sentence,
            "coverage": c.sentence,
            "by_user_activity": quality.by_user_activity.sentence,
            "by_item_popularity": quality.by_item_popularity.sentence,
            "calibration": cal.sentence,
            "mean_residual": cal.mean_residual_sentence,
        },
    }


def split_to_json(split: TimeSplit) -> dict[str, Any]:
    """A time split: its times in epoch seconds, the cutoff also as an ISO date-time (UTC) for people."""
    cutoff = dt.datetime.fromtimestamp(split.cutoff, dt.UTC).isoformat().replace("+00:00", "Z")
    return {**asdict(split), "cutoff_utc": cutoff}


def _comparison(c: Comparison) -> dict[str, Any]:
    splits = {} if c.splits == ("random", "random") else {"previous_split": c.splits[0], "split": c.splits[1]}
    return {
        **splits,
        **{
            "previous": c.previous,
            "previous_generated_at": c.previous_generated_at,
            "dataset_changed": c.dataset_changed,
            "previous_sha256": c.previous_sha256,
            "current_sha256": c.current_sha256,
            "valid_mse_before": c.valid_mse_before,
            "valid_mse_after": c.valid_mse_after,
            "valid_rmse_before": c.valid_rmse_before,
            "valid_rmse_after": c.valid_rmse_after,
            "valid_rmse_change_pct": c.rmse_change_pct,
            "lists": [{"name": x.name, "entered": list(x.entered), "left": list(x.left)} for x in c.lists],
            "bias_moves": [
                {"title": b.title, "before": b.before, "after": b.after, "change": b.change} for b in c.bias_moves
            ],
        },
    }


def _disagreement(d: Disagreement) -> dict[str, Any]:
    return {
        "title": d.title,
        "bias": d.bias,
        "mean_rating": d.mean_rating,
        "count": d.count,
        "raters_mean": d.raters_mean,
        "reason": d.reason,
    }


def _item(stat: ItemStat) -> dict[str, Any]:
    return {"title": stat.title, "bias": stat.bias, "mean_rating": stat.mean_rating, "count": stat.count}


def _scored(item: Scored) -> dict[str, Any]:
    return {"title": item.title, "score": item.score}
