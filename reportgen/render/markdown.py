"""report.md: the report as GitHub-flavoured Markdown, for a pull request comment or a CI job summary.

Written from Python, not from a template: every value from the data goes through
`md`, which turns it into plain inline text that can neither end a table cell nor
start a link, emphasis, HTML, a heading or a mention, whatever the title holds.
Numbers are formatted here and never escaped. No HTML is written at all, so the
text reads the same as a `gh pr comment --body-file` and in `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import re

from reportgen.analysis.findings import ItemStat
from reportgen.data.titles import clean_title, cut
from reportgen.render import labels
from reportgen.render.formatting import fixed, percent, signed, thousands, utc
from reportgen.report import Report
from reportgen.report.compare import NOISE_PCT, verdict

N_BIASES = 5
N_MOVES = 5
# Every ASCII punctuation character that starts or ends inline Markdown (or GitHub)
# syntax: emphasis, code, links and images, autolinks (www. and scheme:) and HTML,
# table cells, strikethrough, entities, math ($), emoji (:), mentions and issue
# references (@, #). Left alone: - + = ^ ( ) , ; ? / % ' ", which only mean something
# at the start of a line, where no value is ever written (each follows a label or `| `).
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#.!~&$:@])")
# GitHub's autolinker (cmark-gfm's extension) runs on the text after backslash escapes are gone
# (github/cmark-gfm#181), and its mention and issue-reference filters on the rendered HTML, so
# `\@` and `\.` stop none of them. A word joiner (U+2060: invisible, no space, no line break)
# breaks each pattern where it starts: after `@` (e-mail addresses, mailto: and xmpp: links,
# @mentions), after `:` before `/` (http://, ftp://), inside `www.`, after `#` before a digit (#12).
WORD_JOINER = "\u2060"
_AUTOLINK = re.compile(r"(\\@|\\:(?=/)|(?i:www)(?=\\\.)|\\#(?=[0-9]))")
MD_CHARS = 300  # the most of any one value report.md shows (a title is at most 300 bytes at load)
N_LISTS = 10  # the most changed lists named


def md(value: object) -> str:
    """`value` as inline Markdown text that shows exactly its characters (up to `MD_CHARS`), on one line.

    Nothing in it can start a link, an autolink, an image, HTML, a heading, a mention or an
    issue reference: punctuation is escaped, and the autolinker's patterns are broken by a
    `WORD_JOINER` (invisible) where they start.
    """
    text = cut(clean_title(str(value)).strip(), MD_CHARS)
    return _AUTOLINK.sub(lambda m: m.group(0) + WORD_JOINER, _SPECIAL.sub(r"\\\1", text))


def render_markdown(report: Report) -> str:
    """report.md's exact text (under 80 lines): data, error against the baselines, changes, extreme biases."""
    d, m, b = report.dataset, report.metrics, report.analysis.baselines
    lines = [
        f"## reportgen: {md(d.name)}, valid RMSE {fixed(m.valid_rmse, 4)}",
        "",
        *(line for s in report.analysis.shortfalls for line in (f"**Warning:** {md(s.sentence)}", "")),
        *_dataset(report),
        f"- **Generated:** {md(report.generated_at)} by reportgen {md(report.versions.get('reportgen', ''))}, "
        f"preset {md(report.config.preset)}, {md(report.config.epochs)} epochs, {md(report.config.factors)} factors",
        *_split(report),
        "",
        "### Validation error",
        "",
        "| Predictor | Valid RMSE | Minus the model's |",
        "| --- | ---: | ---: |",
        f"| {labels.PREDICTORS['model']} | {fixed(b.model_rmse, 4)} | |",
        f"| {labels.PREDICTORS['bias']} | {fixed(b.bias_only_rmse, 4)} | {signed(b.bias_only_rmse - b.model_rmse)} |",
        f"| {labels.PREDICTORS['global_mean']} ({fixed(b.global_mean, 2)}) | {fixed(b.global_mean_rmse, 4)} | {signed(b.global_mean_rmse - b.model_rmse)} |",
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


def _dataset(report: Report) -> list[str]:
    """The data set's lines: its name and size, and its file (or database and query) and SHA-256."""
    d = report.dataset
    counts = (
        f"{thousands(d.n_ratings, ',')} ratings, {thousands(d.n_users, ',')} users, {thousands(d.n_items, ',')} items"
    )
    if d.database is None:
        return [f"- **Data set:** {md(d.name)} ({md(d.files[0].name)}), {counts}", f"- **SHA-256:** `{_hex(d.sha256)}`"]
    db = d.database
    return [
        f"- **Data set:** {md(db.name)} ({md(db.kind)} database), {counts}",
        f"- **Query:** {md(db.query)}",
        *([f"- **Titles from the query:** {md(db.items_query)}"] if db.items_query else []),
        f"- **SHA-256 of the {thousands(db.rows, ',')} rows as read:** `{_hex(d.sha256)}`",
    ]


def _split(report: Report) -> list[str]:
    """A time or stable split's line: which ratings scored the model (none for the tutorial's random split)."""
    t, m = report.split, report.metrics
    if report.config.split == "stable":
        return [
            f"- **Split:** stable: a rating is held out when a hash of its user, item and seed says so, the same "
            f"every night, so {thousands(m.n_valid, ',')} of {thousands(m.n_train + m.n_valid, ',')} were held out "
            f"({percent(m.n_valid / (m.n_train + m.n_valid), 2)}: close to, not exactly, the share of "
            f"{report.config.valid_pct:g} asked)"
        ]
    if t is None:
        return []
    return [
        f"- **Split:** time: the held-out ratings are the latest {thousands(t.n_valid, ',')}, at or after "
        f"{md(utc(t.cutoff))}; the model trained on the {thousands(t.n_train, ',')} before it; "
        f"{thousands(t.unseen_users, ',')} held-out ratings are by users and {thousands(t.unseen_items, ',')} "
        "of items it never saw before the cutoff"
    ]


def _hex(text: str) -> str:
    """A checksum inside a code span: only hex digits can reach it."""
    return text if re.fullmatch(r"[0-9a-f]*", text) else "not a checksum"


def _review(report: Report) -> list[str]:
    """The review's verdict, its table (measure, baseline, tonight, difference, 95 % interval, verdict), churn and
    the factor space's stability; none without a review."""
    v = report.review
    if v is None:
        return []
    p = v.paired
    if p is None:
        return [f"**No verdict against the model of run {md(v.baseline)}:** {md(v.reason)}.", ""]
    r = p.rmse
    lines = [
        f"**{labels.VERDICT_HEADLINES[v.verdict]} {md(v.baseline)}:** valid RMSE {fixed(r.tonight, 4)} against "
        f"{fixed(r.baseline, 4)} on the same {thousands(p.n, ',')} held-out ratings (neither model trained on them), "
        f"a difference of {signed(r.difference)} (95 % interval {signed(r.low)} to {signed(r.high)})."
        + (
            ""
            if v.same_protocol
            else f" The runs held out different kinds of ratings ({md(v.splits[0])} then, {md(v.splits[1])} now): "
            "part of the difference is the split's, and --fail-on-regression does not judge it."
        ),
        "",
        "| Measure | Baseline | Tonight | Difference | 95 % interval | Verdict |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for d, digits in ((p.rmse, 4), (p.mae, 4), (p.ranking.ndcg, 3), (p.ranking.recall, 3)):
        interval = "–" if d.low is None else f"{signed(d.low, digits)} to {signed(d.high, digits)}"
        change = "–" if d.difference is None else signed(d.difference, digits)
        cells = [md(d.measure), fixed(d.baseline, digits), fixed(d.tonight, digits), change, interval]
        lines.append("| " + " | ".join(cells + [labels.VERDICTS[d.verdict]]) + " |")
    ch, m = p.ranking.churn, v.movement
    stability = []
    if ch.changed is not None:
        stability.append(
            f"top-{p.ranking.k} lists of {thousands(ch.users, ',')} users: {percent(ch.changed)} changed, "
            f"{percent(ch.jaccard)} of their items shared (Jaccard), rank-biased overlap {fixed(ch.rbo, 3)}"
        )
    if m is not None:
        stability.append(
            f"factor space: {percent(m.agreement)} of tonight's spread reproduced after alignment, nearest "
            f"neighbours {percent(m.mean_overlap)} the same"
        )
    return lines + ["", *([f"Stability: {'; '.join(stability)}.", ""] if stability else [])]


def _changes(report: Report) -> list[str]:
    c = report.comparison
    if c is None:
        return [
            "### Since the previous run",
            "",
            *(_review(report) or ["No previous run to compare with: this is the first in this output folder.", ""]),
        ]
    change_pct = c.rmse_change_pct
    review = _review(report)
    if review:  # the verdict is the review's; each run's own valid RMSE is only what it was
        judged = [
            f"Each run's own valid RMSE, on its own held-out ratings: {fixed(c.valid_rmse_before, 4)} → "
            f"{fixed(c.valid_rmse_after, 4)} ({signed(change_pct, 2, ' %')})."
        ]
    else:
        judged = [
            "Two different measurements: the previous run kept no model to score on tonight's held-out "
            "ratings, so each valid RMSE is its own run's, on its own held-out ratings.",
            "",
            f"**Verdict: {verdict(change_pct, c.dataset_changed, c.splits)}.** Valid RMSE {fixed(c.valid_rmse_before, 4)} → "
            f"{fixed(c.valid_rmse_after, 4)} ({signed(c.valid_rmse_after - c.valid_rmse_before)}, "
            f"{signed(change_pct, 2, ' %')}) against {md(c.previous)} of {md(c.previous_generated_at)}."
            + (
                ""  # across splits nothing is judged, so no noise threshold applies
                if c.split_changed
                else f" Within noise means a change of less than {NOISE_PCT:g} % of the previous RMSE, the spread "
                "that changing only the seed gives on ML-100k."
            ),
        ]
    lines = ["### Since the previous run", "", *review, *judged]
    if c.split_changed:
        lines.append(
            f"The previous run was scored on a {md(c.splits[0])} split, this one on a {md(c.splits[1])} split: "
            "not the same measurement."
        )
    if c.dataset_changed:
        lines.append(f"The data changed (SHA-256 was `{_hex(c.previous_sha256)}`), so the runs are not like for like.")
    lines += [
        "",
        "| Measure | Before | After | Change |",
        "| --- | ---: | ---: | ---: |",
        f"| Valid RMSE | {fixed(c.valid_rmse_before, 4)} | {fixed(c.valid_rmse_after, 4)} | {signed(c.valid_rmse_after - c.valid_rmse_before)} |",
        f"| Valid MSE | {fixed(c.valid_mse_before, 4)} | {fixed(c.valid_mse_after, 4)} | {signed(c.valid_mse_after - c.valid_mse_before)} |",
        "",
    ]
    changed = c.changed_lists
    if changed:
        named = "; ".join(f"{md(x.name)} ({len(x.entered)} in, {len(x.left)} out)" for x in changed[:N_LISTS])
        if len(changed) > N_LISTS:
            named += f" and {len(changed) - N_LISTS} more"
        lines += [f"Lists that changed: {named}.", ""]
    else:
        lines += ["No ranked list changed.", ""]
    moves = c.bias_moves[:N_MOVES]
    if moves:
        lines += ["| Largest bias moves | Before | After | Change |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {md(x.title)} | {fixed(x.before, 4)} | {fixed(x.after, 4)} | {signed(x.change)} |" for x in moves]
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
        f"| {n} | {md(s.title)} | {fixed(s.bias, 4)} | {fixed(s.mean_rating, 2)} | {thousands(s.count, ',')} |"
        for n, s in enumerate(rows, start=1)
    ]
    return lines + [""]
