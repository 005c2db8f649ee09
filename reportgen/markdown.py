"""report.md: the report as GitHub-flavoured Markdown, for a pull request comment or a CI job summary.

Written from Python, not from a template: every value from the data goes through
`md`, which turns it into plain inline text that can neither end a table cell nor
start a link, emphasis, HTML, a heading or a mention, whatever the title holds.
Numbers are formatted here and never escaped. No HTML is written at all, so the
text reads the same as a `gh pr comment --body-file` and in `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import re

from reportgen.analysis import ItemStat
from reportgen.compare import NOISE_PCT, verdict
from reportgen.report import Report

N_BIASES = 5
N_MOVES = 5
# Every ASCII punctuation character that starts or ends inline Markdown (or GitHub)
# syntax: emphasis, code, links and images, autolinks (www. and scheme:) and HTML,
# table cells, strikethrough, entities, math ($), emoji (:), mentions and issue
# references (@, #). Left alone: - + = ^ ( ) , ; ? / % ' ", which only mean something
# at the start of a line, where no value is ever written (each follows a label or `| `).
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#.!~&$:@])")
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")


def md(value: object) -> str:
    """`value` as inline Markdown text that shows exactly its characters, on one line."""
    text = _CONTROL.sub("", _LINE_BREAKS.sub(" ", str(value))).strip()
    return _SPECIAL.sub(r"\\\1", text)


def number(value: float | None, digits: int = 4) -> str:
    """Fixed decimals with a true minus sign, like the page; `–` for none."""
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    if text.lstrip("-").strip("0.") == "":
        text = text.lstrip("-")
    return text.replace("-", "−")


def signed(value: float, digits: int = 4, unit: str = "") -> str:
    """A change with its sign always shown: +0.0123, −0.0045, ±0 when nothing moved."""
    text = f"{abs(value):.{digits}f}"
    if text.strip("0.") == "":
        return f"±{text}{unit}"
    return f"{'+' if value > 0 else '−'}{text}{unit}"


def thousands(value: int) -> str:
    return f"{value:,}"


def render_markdown(report: Report) -> str:
    """report.md's exact text (under 80 lines): data, error against the baselines, changes, extreme biases."""
    d, m, b = report.dataset, report.metrics, report.analysis.baselines
    lines = [
        f"## reportgen: {md(d.name)}, valid RMSE {number(m.valid_rmse)}",
        "",
        f"- **Data set:** {md(d.name)} ({md(d.files[0].name)}), {thousands(d.n_ratings)} ratings, "
        f"{thousands(d.n_users)} users, {thousands(d.n_items)} items",
        f"- **SHA-256:** `{_hex(d.sha256)}`",
        f"- **Generated:** {md(report.generated_at)} by reportgen {md(report.versions.get('reportgen', ''))}, "
        f"preset {md(report.config.preset)}, {report.config.epochs} epochs, {report.config.factors} factors",
        "",
        "### Validation error",
        "",
        "| Predictor | Valid RMSE | Minus the model's |",
        "| --- | ---: | ---: |",
        f"| This model (biases and latent factors) | {number(b.model_rmse)} | |",
        f"| User and item biases only | {number(b.bias_only_rmse)} | {signed(b.bias_only_rmse - b.model_rmse)} |",
        f"| Global mean ({number(b.global_mean, 2)}) | {number(b.global_mean_rmse)} | {signed(b.global_mean_rmse - b.model_rmse)} |",
        "",
        *_changes(report),
        *_biases("Lowest biases", report.analysis.worst[:N_BIASES]),
        *_biases("Highest biases", report.analysis.best[:N_BIASES]),
        "### The rest",
        "",
        f"Open `report.html` beside this file for the whole report ({len(report.analysis.item_stats)} items' biases, "
        "latent factors, neighbours, ranking metrics, calibration and figures); `report.json` has every number, "
        "`index.html` in the output folder the history of the kept runs, and `model.safetensors` the trained model "
        "(`reportgen.load_model`).",
    ]
    return "\n".join(lines) + "\n"


def _hex(text: str) -> str:
    """A checksum inside a code span: only hex digits can reach it."""
    return text if re.fullmatch(r"[0-9a-f]*", text) else "not a checksum"


def _changes(report: Report) -> list[str]:
    c = report.comparison
    if c is None:
        return [
            "### Since the previous run",
            "",
            "No previous run to compare with: this is the first in this output folder.",
            "",
        ]
    change_pct = c.rmse_change_pct
    lines = [
        "### Since the previous run",
        "",
        f"**Verdict: {verdict(change_pct, c.dataset_changed)}.** Valid RMSE {number(c.valid_rmse_before)} → "
        f"{number(c.valid_rmse_after)} ({signed(c.valid_rmse_after - c.valid_rmse_before)}, "
        f"{signed(change_pct, 2, ' %')}) against {md(c.previous)} of {md(c.previous_generated_at)}. "
        f"Within noise means a change of less than {NOISE_PCT:g} % of the previous RMSE, the spread "
        "that changing only the seed gives on ML-100k.",
    ]
    if c.dataset_changed:
        lines.append(f"The data changed (SHA-256 was `{_hex(c.previous_sha256)}`), so the runs are not like for like.")
    lines += [
        "",
        "| Measure | Before | After | Change |",
        "| --- | ---: | ---: | ---: |",
        f"| Valid RMSE | {number(c.valid_rmse_before)} | {number(c.valid_rmse_after)} | {signed(c.valid_rmse_after - c.valid_rmse_before)} |",
        f"| Valid MSE | {number(c.valid_mse_before)} | {number(c.valid_mse_after)} | {signed(c.valid_mse_after - c.valid_mse_before)} |",
        "",
    ]
    changed = c.changed_lists
    if changed:
        named = "; ".join(f"{md(x.name)} ({len(x.entered)} in, {len(x.left)} out)" for x in changed)
        lines += [f"Lists that changed: {named}.", ""]
    else:
        lines += ["No ranked list changed.", ""]
    moves = c.bias_moves[:N_MOVES]
    if moves:
        lines += ["| Largest bias moves | Before | After | Change |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {md(x.title)} | {number(x.before)} | {number(x.after)} | {signed(x.change)} |" for x in moves]
        lines.append("")
    return lines


def _biases(caption: str, rows: tuple[ItemStat, ...]) -> list[str]:
    lines = [
        f"### {caption}",
        "",
        "| # | Title | Bias | Mean rating | Ratings |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {n} | {md(s.title)} | {number(s.bias)} | {number(s.mean_rating, 2)} | {thousands(s.count)} |"
        for n, s in enumerate(rows, start=1)
    ]
    return lines + [""]
