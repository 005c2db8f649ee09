"""report.json read back as a whole `Report`: `from_json`, the exact inverse of `writer.to_json`.

(`document.ReportDoc` reads what a comparison and the history need from any earlier run's
file.) `from_json` (for `reportgen render`) reads only a report.json of this reportgen version and schema: the page is
drawn by this version's templates from this version's keys, so an older or newer file
is refused by name rather than half-understood. Figures are not stored; they are
redrawn from the read-back data by the same functions that drew them, so the bytes repeat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reportgen import __version__
from reportgen.analysis.baselines import Baselines
from reportgen.analysis.defaults import check_settings
from reportgen.analysis.diagnostics import Bucket, Buckets, Calibration, CalibrationBin
from reportgen.analysis.factors import Component, ComponentGenres, FactorMap, GenreShare, Neighbour, Scored
from reportgen.analysis.findings import Analysis, BiasVsMean, Disagreement, ItemStat, ScatterPoint
from reportgen.analysis.quality import Quality, RatingMetrics
from reportgen.analysis.ranking import Coverage, RankingMetrics
from reportgen.analysis.review import Review
from reportgen.analysis.stats import Histogram
from reportgen.data.documents import REPORT_BYTES, loads_json, read_json
from reportgen.data.files import UnreadableFile
from reportgen.data.types import DatabaseRead
from reportgen.errors import InputError
from reportgen.report.schema import decode
from reportgen.report.types import (
    SCHEMA_VERSION,
    BiasMove,
    Comparison,
    DataFile,
    DatasetSummary,
    ListChange,
    Report,
    Timings,
    WrongType,
    check_types,
)
from reportgen.train.config import TrainConfig
from reportgen.train.results import EpochStats, Metrics, Runtime
from reportgen.train.splits import TimeSplit


def read(path: Path) -> Report:
    """The `Report` in a report.json file; `InputError` (one line) if it cannot be read back."""
    try:
        doc = read_json(Path(path), REPORT_BYTES, "a report.json")
    except UnreadableFile as exc:
        raise InputError(f"{path}: cannot read it as a report.json ({exc.problem})") from exc
    return _checked_report(doc, path)


def read_text(text: str | bytes, path: object = "report.json") -> Report:
    """The `Report` in report.json's `text` (read by the caller from `path`, named in errors); `InputError` if not."""
    try:
        doc = loads_json(text, path)
    except UnreadableFile as exc:
        raise InputError(f"{path}: cannot read it as a report.json ({exc.problem})") from exc
    return _checked_report(doc, path)


def _checked_report(doc: Any, path: object) -> Report:
    check_version(doc, path)
    try:
        return from_json(doc)
    except InputError as exc:
        raise InputError(f"{path}: {exc.template}") from exc


def check_version(doc: Any, name: object = "report.json") -> None:
    """Refuse a report.json written by another reportgen version or schema, naming both versions."""
    if not isinstance(doc, dict):
        raise InputError(f"{name}: not a reportgen report.json (the document is not an object)")
    version, schema = doc.get("reportgen_version"), doc.get("schema_version")
    if version != __version__ or schema != SCHEMA_VERSION:
        raise InputError(
            f"{name} was written by reportgen {version} (schema {schema}); this is reportgen {__version__} "
            f"(schema {SCHEMA_VERSION}), which only re-renders its own: rebuild the report with this version"
        )


def from_json(doc: dict[str, Any]) -> Report:
    """The `Report` whose `to_json` is `doc`: `to_json(from_json(to_json(r))) == to_json(r)`.

    Every value is checked against the type its field declares (`types.check_types`) and the
    settings against their bounds, so a damaged or crafted file is an `InputError` here, in one
    place, never an error of whatever draws it later. Durations left out under
    SOURCE_DATE_EPOCH come back as 0 (the page shows none then).
    """
    try:
        report = _report(doc)
        check_types(report)
        check_settings(report.top_n, report.analysis.quality.k)
    except (InputError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        detail = str(exc) if isinstance(exc, (InputError, WrongType)) else f"{type(exc).__name__}: {exc}"
        raise InputError(f"not a complete report.json of reportgen {__version__} ({detail})") from exc
    return report


def _report(doc: dict[str, Any]) -> Report:
    reproducible = "timings" not in doc
    config = _config(_obj(doc["config"]), _obj(doc["run"]))
    metrics = _metrics(doc["metrics"])
    analysis = _analysis(doc, config)
    runtime = None
    if "runtime" in doc:
        runtime = Runtime(**{"fit_seconds": 0.0, **_obj(doc["runtime"])})
    return Report(
        generated_at=doc["generated_at"],
        dataset=_dataset(doc["dataset"]),
        config=config,
        top_n=doc["config"]["top_n"],
        metrics=metrics,
        analysis=analysis,
        timings=None if reproducible else Timings(**_obj(doc["timings"])),
        figures={},  # the renderer draws them (render_html)
        versions=_obj(doc["versions"]),
        citation=doc["citation"],
        notes=_seq(doc["notes"]),
        comparison=_comparison(doc["comparison"]) if "comparison" in doc else None,
        runtime=runtime,
        split=TimeSplit(**{k: v for k, v in _obj(doc["split"]).items() if k != "cutoff_utc"})
        if "split" in doc
        else None,
        review=decode(Review, doc["review"], "review") if "review" in doc else None,
    )


def _seq(value: Any) -> tuple[Any, ...]:
    """A JSON array as a tuple (a string or an object is refused, not taken apart)."""
    if not isinstance(value, list):
        raise TypeError(f"expected an array, not {type(value).__name__}")
    return tuple(value)


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object (a copy); anything else is refused."""
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, not {type(value).__name__}")
    return dict(value)


def _dataset(d: dict[str, Any]) -> DatasetSummary:
    return DatasetSummary(
        name=d["name"],
        source=d["source"],
        location=d["location"],
        files=tuple(DataFile(**_obj(f)) for f in _seq(d["files"])),
        n_ratings=d["n_ratings"],
        n_users=d["n_users"],
        n_items=d["n_items"],
        n_titles=d["n_titles"],
        item_key=d["item_key"],
        duplicates_dropped=d["duplicates_dropped"],
        columns=tuple(_obj(d["columns"]).items()),
        database=DatabaseRead(**_obj(d["database"])) if d.get("database") is not None else None,
    )


def _config(c: dict[str, Any], run: dict[str, Any]) -> TrainConfig:
    values = {k: v for k, v in c.items() if k != "top_n"}
    if values.get("y_range") is not None:
        values["y_range"] = _seq(values["y_range"])
    return TrainConfig(**values, **run)


def _metrics(m: dict[str, Any]) -> Metrics:
    return Metrics(
        valid_mse=m["valid_mse"],
        valid_rmse=m["valid_rmse"],
        n_train=m["n_train"],
        n_valid=m["n_valid"],
        epochs=tuple(
            EpochStats(e["epoch"], e["train_loss"], e["valid_loss"], e.get("seconds", 0.0))
            for e in map(_obj, _seq(m["epochs"]))
        ),
    )


def _item(e: dict[str, Any]) -> ItemStat:
    return ItemStat(e["title"], e["bias"], e["mean_rating"], e["count"])


def _histogram(h: dict[str, Any]) -> Histogram:
    return Histogram(edges=_seq(h["edges"]), counts=_seq(h["counts"]))


def _analysis(doc: dict[str, Any], config: TrainConfig) -> Analysis:
    insight, pca = doc["insight"], doc["pca"]
    stats = tuple(_item(e) for e in _seq(doc["items"]))
    b, v = insight["baselines"], insight["bias_vs_mean"]
    return Analysis(
        top_n_requested=doc["config"]["top_n"],
        top_items=_seq(doc["top_items"]),
        unknown_to_model=doc["unknown_to_model"],
        item_stats=stats,
        worst=tuple(_item(e) for e in _seq(doc["bias"]["worst"])),
        best=tuple(_item(e) for e in _seq(doc["bias"]["best"])),
        explained_variance_ratio=_seq(insight["explained_variance_ratio"]),
        components=tuple(
            Component(
                index=c["index"],
                explained_variance_ratio=c["explained_variance_ratio"],
                top=tuple(Scored(s["title"], s["score"]) for s in _seq(c["top"])),
                bottom=tuple(Scored(s["title"], s["score"]) for s in _seq(c["bottom"])),
            )
            for c in _seq(pca["components"])
        ),
        scatter_axes=_seq(pca["scatter_components"]),  # type: ignore[arg-type]
        scatter=tuple(ScatterPoint(p["title"], p["x"], p["y"]) for p in _seq(doc["scatter"])),
        baselines=Baselines(**b),
        bias_vs_mean=BiasVsMean(
            correlation=v["correlation"],
            points=tuple((s.title, s.bias, s.mean_rating) for s in stats),
            high_mean_low_bias=tuple(Disagreement(**d) for d in _seq(v["high_mean_low_bias"])),
            low_mean_high_bias=tuple(Disagreement(**d) for d in _seq(v["low_mean_high_bias"])),
        ),
        component_genres=tuple(
            ComponentGenres(
                index=g["index"],
                top=tuple(GenreShare(**s) for s in _seq(g["standing_out"]["top"])),
                bottom=tuple(GenreShare(**s) for s in _seq(g["standing_out"]["bottom"])),
                shares_top=_obj(g["top"]),
                shares_bottom=_obj(g["bottom"]),
            )
            for g in _seq(insight["component_genres"])
        ),
        neighbours={
            title: tuple(Neighbour(n, s) for n, s in zip(_seq(found), _seq(insight["neighbour_similarity"][title])))
            for title, found in insight["neighbours"].items()
        },
        user_biases=_histogram(insight["user_bias_histogram"]),
        ratings=_histogram(insight["rating_histogram"]),
        quality=_quality(doc["quality"]),
        sign_rule=pca["sign_rule"],
        factor_map=_factor_map(_obj(doc["factor_map"]), len(stats)) if "factor_map" in doc else None,
    )


def _factor_map(m: dict[str, Any], n_analysed: int) -> FactorMap:
    """The explorer's map, its rows and neighbours within the analysed items (a ValueError where not)."""
    found = FactorMap(*(tuple(_seq(row) for row in _seq(m[key])) for key in ("scores", "neighbours", "similarity")))
    n, widths = len(found.scores), set(map(len, found.scores))
    if n > n_analysed or len(found.neighbours) != n or len(found.similarity) != n or len(widths) > 1:
        raise ValueError(f"factor_map is not one row of scores and of neighbours for each of its {n} items")
    if any(not isinstance(j, int) or not 0 <= j < n for row in found.neighbours for j in row):
        raise ValueError(f"factor_map.neighbours names a row outside its {n} items")
    return found


def _buckets(rows: list[dict[str, Any]], what: str, overall: float | None) -> Buckets:
    return Buckets(what, tuple(Bucket(r["label"], r["low"], r["high"], r["count"], r["rmse"]) for r in rows), overall)


def _quality(q: dict[str, Any]) -> Quality:
    k, c, cal = q["k"], q["coverage"], q["calibration"]
    return Quality(
        k=k,
        threshold=q["threshold"],
        users_eligible=q["users_eligible"],
        users_evaluated=q["users_evaluated"],
        sampled=q["users_sampled"],
        seed=q["seed"],
        n_valid=q["n_valid"],
        rating={name: RatingMetrics(m["rmse"], m["mae"], m["r2"]) for name, m in q["rating"].items()},
        ranking={
            name: RankingMetrics(
                m[f"precision_at_{k}"], m[f"recall_at_{k}"], m[f"ndcg_at_{k}"], m[f"map_at_{k}"], m[f"hit_rate_at_{k}"]
            )
            for name, m in q["ranking"].items()
        },
        coverage=Coverage(
            catalogue_size=c["catalogue_size"],
            items_recommended=c["items_recommended"],
            share=c["share"],
            mean_percentile_recommended=c["mean_popularity_percentile_recommended"],
            mean_percentile_rated=c["mean_popularity_percentile_rated"],
            most_recommended=tuple((e["label"], e["count"]) for e in _seq(c["most_recommended"])),
        ),
        by_user_activity=_buckets(q["by_user_activity"], "users", q["overall_rmse"]["by_user_activity"]),
        by_item_popularity=_buckets(q["by_item_popularity"], "items", q["overall_rmse"]["by_item_popularity"]),
        calibration=Calibration(
            bins=tuple(CalibrationBin(**b) for b in _seq(cal["bins"])),
            residuals=_histogram(cal["residuals"]),
            mean_residual=cal["mean_residual"],
        ),
    )


def _comparison(c: dict[str, Any]) -> Comparison:
    return Comparison(
        previous=c["previous"],
        previous_generated_at=c["previous_generated_at"],
        dataset_changed=c["dataset_changed"],
        previous_sha256=c["previous_sha256"],
        current_sha256=c["current_sha256"],
        valid_mse_before=c["valid_mse_before"],
        valid_mse_after=c["valid_mse_after"],
        valid_rmse_before=c["valid_rmse_before"],
        valid_rmse_after=c["valid_rmse_after"],
        lists=tuple(ListChange(x["name"], _seq(x["entered"]), _seq(x["left"])) for x in _seq(c["lists"])),
        bias_moves=tuple(BiasMove(b["title"], b["before"], b["after"]) for b in _seq(c["bias_moves"])),
        splits=(c.get("previous_split", "random"), c.get("split", "random")),
    )
