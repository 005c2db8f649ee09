"""Render stage: the report as one self-contained HTML file plus `report.json`.

The only module that knows Jinja. One environment, autoescaped, with a
`ChoiceLoader` that puts a user's `--templates` folder before the packaged
templates. Both files are written to temporary names beside their targets and
moved into place with `os.replace`, so readers never see half a report.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateError
from markupsafe import Markup

from reportgen import __version__
from reportgen.analysis import Findings, ItemStat, Scored
from reportgen.compare import Comparison
from reportgen.data import CITATION, Provenance
from reportgen.insight import Insight
from reportgen.errors import InputError, RunError
from reportgen.train import PRESET_NOTES, Metrics, Runtime, TrainConfig

SCHEMA_VERSION = 1
HTML_NAME = "report.html"
JSON_NAME = "report.json"
VERSIONED_PACKAGES = ("fastai", "torch", "pandas", "numpy", "matplotlib", "jinja2", "click")
SCRIPT_TEMPLATE = "report.js.j2"
# Nothing may be fetched; styles and images only inline or data:, and the one inline
# script runs only because its hash is listed (no 'unsafe-inline' for scripts).
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "script-src {script_hash}; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True)
class DatasetSummary:
    provenance: Provenance
    n_ratings: int
    n_users: int
    n_items: int
    n_titles: int
    item_key: str = "title"
    duplicates_dropped: int = 0


@dataclass(frozen=True)
class Timings:
    """Seconds per stage. `render` covers drawing the figures; writing is not timed."""

    load: float
    train: float
    analyse: float
    render: float
    total: float


@dataclass(frozen=True)
class Report:
    """Everything the report shows; templates see nothing else."""

    generated_at: str  # ISO 8601, UTC
    dataset: DatasetSummary
    config: TrainConfig
    top_n: int
    metrics: Metrics
    findings: Findings
    timings: Timings | None  # None under SOURCE_DATE_EPOCH: durations never repeat
    figures: dict[str, str] = field(default_factory=dict)  # name -> our own inline SVG
    versions: dict[str, str] = field(default_factory=dict)
    citation: str = CITATION
    notes: tuple[str, ...] = ()  # warnings about the data and the analysis
    comparison: Comparison | None = None  # with the previous run, when there is one
    insight: Insight | None = None  # beyond the tutorial: baselines, neighbours, distributions
    runtime: Runtime | None = None  # how the fit ran: loader, preset, device, threads, steps

    @property
    def preset_note(self) -> str:
        return PRESET_NOTES.get(self.config.preset, "")

    @property
    def reproducible(self) -> bool:
        """Built under SOURCE_DATE_EPOCH: no durations, so the bytes repeat."""
        return self.timings is None


@dataclass(frozen=True)
class Written:
    html: Path
    json: Path
    html_bytes: int


# --------------------------------------------------------------------------- filters


def fixed(value: float | None, digits: int = 3) -> str:
    """A number with a fixed count of decimals; a real minus sign; `–` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.{digits}f}"
    if text.startswith("-"):
        text = "−" + text[1:]  # U+2212 lines up with the digits
        if text.strip("−0.") == "":
            text = text[1:]  # no "−0.000"
    return text


def thousands(value: int) -> str:
    """An integer with thin-space thousands separators: 100 000."""
    return f"{value:,}".replace(",", "\u202f")


def seconds(value: float) -> str:
    """A duration the way a person reads it: 0.42 s, 12.3 s, 2 min 05 s."""
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"


def percent(ratio: float, digits: int = 1) -> str:
    """A ratio as a percentage, with the same true minus as `fixed`: −5.0 %."""
    return f"{fixed(100 * ratio, digits)} %"


# --------------------------------------------------------------------------- environment


def packaged_templates() -> Path:
    """The templates folder shipped as the package `reportgen.templates`."""
    import importlib.resources

    return Path(str(importlib.resources.files("reportgen.templates")))


def environment(user_templates: Path | None = None) -> Environment:
    """The one Jinja environment: autoescape on, undefined names are errors."""
    loaders = [FileSystemLoader(str(user_templates))] if user_templates else []
    loaders.append(FileSystemLoader(str(packaged_templates())))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(fixed=fixed, thousands=thousands, seconds=seconds, percent=percent)
    return env


def script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script: `'sha256-…'`."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(script: str) -> str:
    """The page's policy, allowing the inline `script` by the hash of its exact text."""
    return CSP.format(script_hash=script_hash(script))


def render_html(report: Report, user_templates: Path | None = None) -> str:
    """The report page. Only our own figures, CSS and script are marked safe; all data is escaped."""
    env = environment(user_templates)
    figures = {name: Markup(svg) for name, svg in report.figures.items()}
    try:
        # The script is inserted verbatim, so the hash of this text is the hash the browser
        # checks; no outer whitespace, so checkers that trim it before hashing agree too.
        script = env.get_template(SCRIPT_TEMPLATE).render().strip()
        if "</script" in script.lower():
            raise InputError(f"{SCRIPT_TEMPLATE}: an inline script cannot contain '</script'")
        return env.get_template("report.html.j2").render(
            report=report,
            figures=figures,
            script=Markup(script),
            csp=Markup(content_security_policy(script)),
        )
    except TemplateError as exc:
        where = f" in {user_templates}" if user_templates else ""
        raise InputError(f"template error{where}: {exc}") from exc


# --------------------------------------------------------------------------- json


def to_json(report: Report) -> dict[str, Any]:
    """The machine-readable twin of the page (keys documented in the README).

    Under SOURCE_DATE_EPOCH (`report.reproducible`) `timings` and each epoch's
    `seconds` are left out, since durations never repeat.
    """
    d, m, f = report.dataset, report.metrics, report.findings
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": report.generated_at,
        "reportgen_version": __version__,
        "dataset": {
            "name": d.provenance.name,
            "source": d.provenance.source,
            "location": d.provenance.location,
            "ratings_file": d.provenance.ratings_file,
            "items_file": d.provenance.items_file,
            "columns": dict(d.provenance.columns),
            "sha256": d.provenance.sha256,
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
        "top_items": list(f.top_items),
        "top_n_clamped": f.top_n_clamped,
        "unknown_to_model": f.unknown_to_model,
        "items": [_item(s) for s in f.item_stats],
        "bias": {"worst": [_item(s) for s in f.worst], "best": [_item(s) for s in f.best]},
        "pca": {
            "explained_variance_ratio": list(f.explained_variance_ratio),
            "sign_rule": f.sign_rule,
            "scatter_components": list(f.scatter_axes),
            "components": [
                {
                    "index": c.index,
                    "explained_variance_ratio": c.explained_variance_ratio,
                    "top": [_scored(s) for s in c.top],
                    "bottom": [_scored(s) for s in c.bottom],
                }
                for c in f.components
            ],
        },
        "scatter": [{"title": p.title, "x": p.x, "y": p.y} for p in f.scatter],
    }
    if report.timings is not None:
        doc["timings"] = asdict(report.timings)
    if report.runtime is not None:
        runtime = report.runtime.as_dict()
        if report.reproducible:
            runtime.pop("fit_seconds")
        doc["runtime"] = runtime
    if report.insight is not None:
        doc["insight"] = _insight(report.insight)
    if report.comparison is not None:
        doc["comparison"] = _comparison(report.comparison)
    doc["versions"] = report.versions
    doc["citation"] = report.citation
    return doc


def _insight(i: Insight) -> dict[str, Any]:
    def disagreement(d: Any) -> dict[str, Any]:
        return {"title": d.title, "bias": d.bias, "mean_rating": d.mean_rating, "count": d.count,
                "raters_mean": d.raters_mean, "reason": d.reason}  # fmt: skip

    return {
        "baselines": {
            "global_mean_rmse": i.baselines.global_mean_rmse,
            "bias_only_rmse": i.baselines.bias_only_rmse,
            "model_rmse": i.baselines.model_rmse,
            "global_mean": i.baselines.global_mean,
        },
        "bias_vs_mean": {
            "correlation": i.bias_vs_mean.correlation,
            "high_mean_low_bias": [disagreement(d) for d in i.bias_vs_mean.high_mean_low_bias],
            "low_mean_high_bias": [disagreement(d) for d in i.bias_vs_mean.low_mean_high_bias],
        },
        "explained_variance_ratio": list(i.explained_variance_ratio),
        "component_genres": [
            {"index": c.index, "sentence": c.sentence, "top": c.shares_top, "bottom": c.shares_bottom}
            for c in i.component_genres
        ],
        "neighbours": {title: [n.title for n in found] for title, found in i.neighbours.items()},
        "neighbour_similarity": {title: [n.similarity for n in found] for title, found in i.neighbours.items()},
        "user_bias_histogram": {"edges": list(i.user_biases.edges), "counts": list(i.user_biases.counts)},
        "rating_histogram": {"edges": list(i.ratings.edges), "counts": list(i.ratings.counts)},
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
        "lists": [{"name": l.name, "entered": list(l.entered), "left": list(l.left)} for l in c.lists],
        "bias_moves": [{"title": b.title, "before": b.before, "after": b.after, "change": b.change} for b in c.bias_moves],
    }


def _item(stat: ItemStat) -> dict[str, Any]:
    return {"title": stat.title, "bias": stat.bias, "mean_rating": stat.mean_rating, "count": stat.count}


def _scored(item: Scored) -> dict[str, Any]:
    return {"title": item.title, "score": item.score}


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


def write(report: Report, out_dir: Path, user_templates: Path | None = None) -> Written:
    """Render both files, then move them into `out_dir` atomically (JSON first, then HTML)."""
    html = render_html(report, user_templates)
    payload = json.dumps(to_json(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"{out_dir}: cannot create the output folder ({exc.strerror or exc})") from exc
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in ((JSON_NAME, payload), (HTML_NAME, html)):
            target = out_dir / name
            # A fresh hidden name beside the target, so os.replace stays on one filesystem.
            temporary = target.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            staged.append((temporary, target))
            _write_synced(temporary, text)
        for temporary, target in staged:
            os.replace(temporary, target)
    except OSError as exc:
        raise RunError(f"{out_dir}: cannot write the report ({exc.strerror or exc})") from exc
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
    return Written(html=out_dir / HTML_NAME, json=out_dir / JSON_NAME, html_bytes=len(html.encode()))


def _write_synced(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
