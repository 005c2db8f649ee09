"""Render stage: the report as one self-contained HTML page. The only module that knows Jinja.

One environment per templates folder, built once: autoescaped, undefined names
are errors, and a `ChoiceLoader` that puts a user's `--templates` folder before
the packaged templates, which stay reachable as `default:NAME` so a user's
template can extend the packaged one it replaces. The report's sections are
listed once (`SECTIONS`) and drive both the contents list and the body.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PrefixLoader,
    StrictUndefined,
    TemplateError,
)
from markupsafe import Markup

from reportgen.errors import InputError
from reportgen.render import labels
from reportgen.render.explorer import explorer, has_map
from reportgen.render.formatting import fixed, percent, seconds, signed, signed_percent, thousands, utc
from reportgen.report import Report

if TYPE_CHECKING:
    from reportgen.render.history import History

SCRIPT_TEMPLATE = "report.js.j2"
PAGE_TEMPLATE = "report.html.j2"
# Nothing may be fetched; styles and images only inline or data:, and the one inline
# script runs only because its hash is listed (no 'unsafe-inline' for scripts). The explorer's
# data island (type application/json, never run) is listed by its hash too, as checkers ask.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "script-src {script_hash}; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True)
class Section:
    """One section of the page: its anchor, its entry in the contents list, its template."""

    id: str
    title: str
    template: str
    scripted: bool = False  # shown only by the page's script: hidden, with its contents entry, without it


SECTIONS = (
    Section("changes", "Changes since the previous run", "_changes.html.j2"),
    Section("run", "Run summary", "_summary.html.j2"),
    Section("split", "Scored on the latest ratings", "_split.html.j2"),
    Section("quality", "How good is the model?", "_quality.html.j2"),
    Section("rating-metrics", "Rating error: RMSE, MAE, R²", "_rating_metrics.html.j2"),
    Section("ranking", "Ranking: would its top lists be good?", "_ranking.html.j2"),
    Section("who-fails", "Who does it fail?", "_who_fails.html.j2"),
    Section("calibration", "Calibration and residuals", "_calibration.html.j2"),
    Section("top-items", "Most-rated items", "_top_items.html.j2"),
    Section("bias", "Item biases", "_bias.html.j2"),
    Section("pca", "Latent factors (PCA)", "_pca.html.j2"),
    Section("scatter", "Scatter plot", "_scatter.html.j2"),
    Section("explorer", "Explore the factor space", "_explorer.html.j2", scripted=True),
    Section("neighbours", "Nearest neighbours", "_neighbours.html.j2"),
    Section("distributions", "Users and ratings", "_distributions.html.j2"),
    Section("citation", "Data citation", "_citation.html.j2"),
)


def sections(report: Report) -> tuple[Section, ...]:
    """The sections this report has: changes only with a previous run, the split only for a time split,
    the citation only for MovieLens, the explorer only where the analysis mapped the items."""
    shown = {
        "changes": report.comparison is not None or report.review is not None,
        "split": report.split is not None,
        "citation": bool(report.citation),
        "explorer": has_map(report.analysis),
    }
    return tuple(s for s in SECTIONS if shown.get(s.id, True))


# --------------------------------------------------------------------------- filters


def item(title: object) -> Markup:
    """A title as the page shows it: whole (as report.json holds it, at most 300 bytes), isolated from its
    neighbours' text direction, escaped. Never cut: a reader searches, copies and links titles."""
    return Markup('<bdi class="item">{}</bdi>').format(str(title))


# --------------------------------------------------------------------------- environment


def packaged_templates() -> Path:
    """The templates folder shipped as the package `reportgen.templates`."""
    import importlib.resources

    return Path(str(importlib.resources.files("reportgen.templates")))


@functools.lru_cache(maxsize=8)
def environment(user_templates: Path | None = None) -> Environment:
    """The Jinja environment for a templates folder (None: the packaged ones), built once."""
    packaged = FileSystemLoader(str(packaged_templates()))
    loaders = [FileSystemLoader(str(user_templates))] if user_templates else []
    loaders += [PrefixLoader({"default": packaged}, delimiter=":"), packaged]
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        fixed=fixed,
        thousands=thousands,
        seconds=seconds,
        percent=percent,
        signed=signed,
        signed_percent=signed_percent,
        item=item,
        utc=utc,
    )
    env.globals["labels"] = labels
    return env


def check_templates(templates: Path) -> None:
    """Compile every template in a user's folder now, so a typo stops the run before training."""
    folder = Path(templates).resolve()
    env = environment(folder)
    for name in sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()):
        if name.endswith((".j2", ".css")):
            try:
                env.get_template(name)
            except TemplateError as exc:
                raise InputError(f"template error in {folder}: {name}: {exc}") from exc


def script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script: `'sha256-…'`."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(script: str, *islands: str) -> str:
    """The page's policy, allowing the inline `script` (and each data island) by the hash of its exact text."""
    return CSP.format(script_hash=" ".join(script_hash(text) for text in (script, *islands)))


def render_html(report: Report, templates: Path | None = None) -> str:
    """The report page. Only our own figures, CSS and script are marked safe; all data is escaped.

    `templates`: a folder whose templates replace (or, through `default:NAME`, extend) the packaged ones.
    """
    user_templates = Path(templates).resolve() if templates is not None else None
    env = environment(user_templates)
    if not report.figures:  # a report read back from report.json: drawn here, the same bytes as at build time
        from reportgen.render.figures import draw

        report = replace(report, figures=draw(report.analysis, report.metrics.epochs))
    figures = {name: Markup(svg) for name, svg in report.figures.items()}
    try:
        # The script is inserted verbatim, so the hash of this text is the hash the browser
        # checks; no outer whitespace, so checkers that trim it before hashing agree too.
        script = env.get_template(SCRIPT_TEMPLATE).render().strip()
        if "</script" in script.lower():
            raise InputError(f"{SCRIPT_TEMPLATE}: an inline script cannot contain '</script'")
        page = env.get_template(PAGE_TEMPLATE)
        movement = report.review.movement if report.review is not None else None
        view = explorer(report.analysis, movement.map_moves if movement is not None else None)
        context = {
            "report": report,
            "explorer": view,
            "explorer_data": Markup(view.island) if view else "",
            "sections": sections(report),
            "figures": figures,
            "script": Markup(script),
            "csp": Markup(content_security_policy(script, *([view.island] if view else []))),
        }
        return page.render(**context)
    except TemplateError as exc:
        where = f" in {user_templates}" if user_templates else ""
        raise InputError(f"template error{where}: {exc}") from exc
    except (RecursionError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:
        if user_templates is None:
            raise  # the packaged templates on a report this version wrote: a bug, not the user's input
        # A user's template runs code ({{ 1/0 }}, a template that includes itself): its failure is theirs.
        raise InputError(f"template error in {user_templates}: {type(exc).__name__}: {_first_line(exc)}") from exc


NOTEBOOK_STYLE = "width: 100%; height: min(85vh, 56rem); border: 1px solid #d7d9de; border-radius: 0.4rem"


def notebook_frame(report: Report, templates: Path | None = None) -> str:
    """The page for a notebook's output (`Report._repr_html_`): inside an `<iframe srcdoc>`, so its CSP
    and styles neither leak into the notebook nor suffer from it, and sandboxed (its script runs, it
    reaches nothing of the notebook's). The whole page is one escaped attribute; the frame is most of
    a screen high and scrolls. A srcdoc page resolves "#id" against the notebook's address, so the page's
    script (report.js.j2) sends its in-page links to its own fragments there."""
    page = render_html(report, templates)
    return Markup('<iframe srcdoc="{}" title="{}" sandbox="allow-scripts" style="{}" loading="lazy"></iframe>').format(
        page, f"reportgen report: {report.dataset.name}", NOTEBOOK_STYLE
    )


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no message"
    return text if len(text) <= 200 else text[:199] + "…"


# --------------------------------------------------------------------------- the history page

HISTORY_TEMPLATE = "history.html.j2"


@dataclass(frozen=True)
class PageInfo:
    """What base.html.j2 reads from `report` on a page that is not one run's report."""

    versions: dict[str, str]


def render_history(history: History) -> str:
    """OUTPUT/index.html: the kept runs (`history.History`) on the report's base, CSS, script and CSP."""
    from reportgen import __version__

    env = environment(None)
    script = env.get_template(SCRIPT_TEMPLATE).render().strip()
    return env.get_template(HISTORY_TEMPLATE).render(
        history=history,
        report=PageInfo(versions={"reportgen": __version__}),
        figures={name: Markup(svg) for name, svg in history.figures.items()},
        script=Markup(script),
        csp=Markup(content_security_policy(script)),
    )
