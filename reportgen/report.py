"""The report's schema: the `Report` types, `report.json` written from them, and its reader.

`to_json` is the one place that names report.json's keys; `ReportDoc` is the one
reader of a report.json written earlier (by `compare` and `outputs`), checking
each value it hands out. Keys are documented in ARCHITECTURE.md.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reportgen import __version__
from reportgen.analysis import Analysis, Disagreement, ItemStat
from reportgen.data import CITATION
from reportgen.factors import Scored
from reportgen.quality import Buckets, Quality
from reportgen.train import PRESETS, Metrics, Runtime, TrainConfig, describe_preset

SCHEMA_VERSION = 2  # 2: lossless (full floats, quality.n_valid, overall bucket RMSEs, standout genres)
VERSIONED_PACKAGES = ("fastai", "torch", "pandas", "numpy", "matplotlib", "jinja2", "click")


@dataclass(frozen=True)
class DataFile:
    """A file the ratings came from, as a report attached to a review names it: no folders."""

    role: str  # "ratings" or "titles"
    name: str  # the file's name; a zip member is "archive.zip!folder/member"
    size: int | None  # bytes; None for a member of a zip
    sha256: str


@dataclass(frozen=True)
class DatasetSummary:
    """The data set as the report shows it: names, sizes and checksums, never the machine's paths."""

    name: str
    source: str  # one of data.SOURCE_*: path, fastai-cache, recbole, download, file
    location: str  # the folder, zip or file read, by its name alone
    files: tuple[DataFile, ...]  # the ratings file first
    n_ratings: int
    n_users: int
    n_items: int
    n_titles: int
    item_key: str = "title"
    duplicates_dropped: int = 0
    columns: tuple[tuple[str, str], ...] = ()  # (role, column) for own files

    @property
    def sha256(self) -> str:
        """The SHA-256 of the ratings file: what tells two runs' data apart."""
        return self.files[0].sha256


@dataclass(frozen=True)
class Timings:
    """Seconds per stage. `render` covers drawing the figures; writing is not timed."""

    load: float
    train: float
    analyse: float
    render: float
    total: float


@dataclass(frozen=True)
class ListChange:
    """Titles that entered or left one of the report's ranked lists."""

    name: str  # e.g. "Lowest biases", "Component 0, highest scores"
    entered: tuple[str, ...]
    left: tuple[str, ...]


@dataclass(frozen=True)
class BiasMove:
    title: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class Comparison:
    """What changed since a previous run (`compare.compare`)."""

    previous: str  # how the report.json compared with is named in the report
    previous_generated_at: str
    dataset_changed: bool
    previous_sha256: str
    current_sha256: str
    valid_mse_before: float
    valid_mse_after: float
    valid_rmse_before: float
    valid_rmse_after: float
    lists: tuple[ListChange, ...]
    bias_moves: tuple[BiasMove, ...]  # largest absolute moves among items in both runs' top items

    @property
    def rmse_change_pct(self) -> float:
        """How much worse (positive) or better (negative) valid RMSE got, in percent."""
        if self.valid_rmse_before <= 0:
            return 0.0  # no meaningful percentage of nothing
        return 100.0 * (self.valid_rmse_after - self.valid_rmse_before) / self.valid_rmse_before

    @property
    def changed_lists(self) -> tuple[ListChange, ...]:
        return tuple(c for c in self.lists if c.entered or c.left)


@dataclass(frozen=True)
class Report:
    """Everything the report shows; templates see nothing else."""

    generated_at: str  # ISO 8601, UTC
    dataset: DatasetSummary
    config: TrainConfig
    top_n: int
    metrics: Metrics
    analysis: Analysis
    timings: Timings | None  # None under SOURCE_DATE_EPOCH: durations never repeat
    figures: dict[str, str] = field(default_factory=dict)  # name -> our own inline SVG
    versions: dict[str, str] = field(default_factory=dict)
    citation: str = CITATION
    notes: tuple[str, ...] = ()  # warnings about the data and the analysis
    comparison: Comparison | None = None  # with the previous run, when there is one
    runtime: Runtime | None = None  # how the fit ran: loader, preset, device, threads, steps

    @property
    def preset_note(self) -> str:
        return describe_preset(self.config.preset) if self.config.preset in PRESETS else ""

    @property
    def reproducible(self) -> bool:
        """Built under SOURCE_DATE_EPOCH: no durations, so the bytes repeat."""
        return self.timings is None


def versions() -> dict[str, str]:
    """Versions of Python, reportgen and the libraries that shape the numbers."""
    found = {"python": platform.python_version(), "reportgen": __version__}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


# --------------------------------------------------------------------------- writing


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
        },
        "config": {**report.config.as_dict(), "top_n": report.top_n},
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
    if report.comparison is not None:
        doc["comparison"] = _comparison(report.comparison)
    doc["versions"] = report.versions
    doc["citation"] = report.citation
    return doc


def dumps(report: Report) -> str:
    """report.json's exact text: indented, UTF-8, no NaN (an error rather than invalid JSON)."""
    return json.dumps(to_json(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


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


def _comparison(c: Comparison) -> dict[str, Any]:
    return {
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


# --------------------------------------------------------------------------- reading


def _refuse_constant(name: str) -> float:
    raise ValueError(f"not a reportgen report.json: {name} is not valid JSON")


class ReportDoc:
    """A report.json read back: the values `compare` and `outputs` use, each checked.

    Any value of the wrong type or shape raises `ValueError` naming its key path,
    so a damaged or foreign file is refused in one place, by one message.
    """

    def __init__(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            raise ValueError("not a reportgen report.json: the document is not an object")
        self.doc = doc
        self.valid_mse = self._number("metrics", "valid_mse")
        self.valid_rmse = self._number("metrics", "valid_rmse")

    @classmethod
    def read(cls, path: Path) -> ReportDoc:
        """Parse and check `path`; `OSError` or `ValueError` (including bad JSON) if it cannot be used."""
        return cls.read_text(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def read_text(cls, text: str) -> ReportDoc:
        """Parse and check report.json's text; NaN and infinities are refused as invalid JSON."""
        return cls(json.loads(text, parse_constant=_refuse_constant))

    def _get(self, *keys: str) -> Any:
        value: Any = self.doc
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def _number(self, *keys: str) -> float:
        value = self._get(*keys)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"not a reportgen report.json: {'.'.join(keys)} is not a finite number")
        return float(value)

    def _rows(self, *keys: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        """A list of objects that each carry `fields`; missing: empty; malformed: ValueError."""
        value = self._get(*keys)
        if value is None:
            return []
        path = ".".join(keys)
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise ValueError(f"not a reportgen report.json: {path} is not a list of objects")
        for row in value:
            if not isinstance(row.get("title"), str) or any(
                isinstance(row.get(f), bool) or not isinstance(row.get(f), (int, float)) for f in fields
            ):
                raise ValueError(
                    f"not a reportgen report.json: an entry of {path} lacks a title or {', '.join(fields)}"
                )
        return value

    def number(self, *keys: str) -> float | None:
        """The finite number at `keys`; None where it is missing; `ValueError` where it is anything else."""
        return None if self._get(*keys) is None else self._number(*keys)

    def text(self, *keys: str) -> str | None:
        """The string at `keys`; None where it is missing; `ValueError` where it is anything else."""
        value = self._get(*keys)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"not a reportgen report.json: {'.'.join(keys)} is not a string")
        return value

    @property
    def generated_at(self) -> str:
        value = self._get("generated_at")
        return value if isinstance(value, str) else ""

    @property
    def sha256(self) -> str:
        value = self._get("dataset", "sha256")
        return value if isinstance(value, str) else ""

    def ranked_lists(self) -> list[tuple[str, list[str]]]:
        """The report's ranked lists of titles, by name, in the page's order."""
        lists = [
            ("Lowest biases", [e["title"] for e in self._rows("bias", "worst", fields=())]),
            ("Highest biases", [e["title"] for e in self._rows("bias", "best", fields=())]),
        ]
        components = self._get("pca", "components") or []
        if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
            raise ValueError("not a reportgen report.json: pca.components is not a list of objects")
        for position, component in enumerate(components):
            index = component.get("index", position)
            for end, label in (("top", "highest"), ("bottom", "lowest")):
                entries = component.get(end) or []
                if not isinstance(entries, list) or not all(
                    isinstance(e, dict) and isinstance(e.get("title"), str) for e in entries
                ):
                    raise ValueError(f"not a reportgen report.json: pca.components[{position}].{end} is malformed")
                lists.append((f"Component {index}, {label} scores", [e["title"] for e in entries]))
        return lists

    def item_biases(self) -> dict[str, float]:
        """Each analysed item's learned bias."""
        return {e["title"]: float(e["bias"]) for e in self._rows("items", fields=("bias",))}
