"""The quality sections of the page (rating error, top-10 lists, who it fails, calibration) and their figures,
from a hand-made `Quality` (tests/analysis/test_quality.py computes the numbers)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt

from reportgen.analysis import ranking
from reportgen.analysis.baselines import Baselines
from reportgen.render.html import render_html
from reportgen.render.markdown import render_markdown
from reportgen.report import Report, dumps, read_text
from tests.helpers.pages import quality_page
from tests.helpers.reports import hand_made_quality, hand_made_report


def cells(table: object) -> list[list[str]]:
    return [[c.get_text(" ", strip=True) for c in row.find_all(["th", "td"])] for row in table.find_all("tr")]  # type: ignore[attr-defined]


def test_the_partials_render_every_section_with_its_numbers() -> None:
    soup = quality_page(hand_made_quality())
    sections = ("rating-metrics", "ranking", "who-fails", "calibration")
    headings = {
        h["id"]: h.get_text(strip=True)
        for s in sections
        for h in soup.find("section", id=s).find_all(["h2", "h3"])
        if h.get("id")
    }
    assert headings == {
        "rating-metrics-title": "Rating error: RMSE, MAE and R²",
        "ranking-title": "Would its top-10 lists be good?",
        "coverage": "Coverage and popularity bias",
        "who-fails-title": "Who does it fail?",
        "calibration-title": "Can its predictions be taken at face value?",
    }
    for section in ("rating-metrics", "ranking", "who-fails", "calibration"):
        assert soup.find("section", id=section).find("p"), f"{section} opens with how to read it"

    rating = cells(soup.find("section", id="rating-metrics").find("table"))
    assert rating[-1] == ["This model (biases and latent factors)", "0.9123", "0.7111", "0.301"]
    assert rating[1][-1] == "−0.001"  # the global mean's R², a true minus

    ranking = soup.find("section", id="ranking")
    rows = cells(ranking.find("table"))
    assert rows[0][1:] == [f"{m}@10" for m in ("Precision", "Recall", "NDCG", "MAP", "Hit rate")]
    assert rows[1] == ["This model", "0.051", "0.061", "0.071", "0.031", "0.401"]
    assert rows[2][0] == "Most-rated items" and rows[2][3] == "0.141"
    text = " ".join(ranking.get_text(" ", strip=True).split())
    assert "Popularity beats the model at ranking" in text
    assert "at least 4 in the held-out ratings" in text
    assert "random sample (seed 42) of 2000 of the 5000 users" in text
    assert "321 of 1 682" in text.replace("\u202f", " ")

    fails = cells(soup.find("section", id="who-fails").find("table"))
    assert fails[1] == ["0", "0", "–"]  # an empty bucket: count 0, no RMSE
    assert fails[2] == ["1–5", "40", "1.234"]
    assert "users with 1–5 training ratings: RMSE 1.234 over 40" in soup.find("section", id="who-fails").get_text(
        " ", strip=True
    )

    calibration = soup.find("section", id="calibration")
    assert cells(calibration.find("table"))[1] == ["1.00 to 3.00", "500", "2.500", "2.750"]
    assert "users rated 0.012 higher than predicted on average" in calibration.get_text(" ", strip=True)
    assert len(calibration.find_all("svg")) == 2
    assert soup.find("section", id="who-fails").find("svg") is not None


def test_item_titles_are_escaped() -> None:
    soup = quality_page(hand_made_quality())
    assert soup.find("section", id="ranking").find("script") is None
    most = cells(soup.find("section", id="ranking").find_all("table")[2])
    assert most[1] == ["1", "<script>x</script>", "812"]  # the title hand_made_quality() recommends most


def test_figures_are_deterministic_svg_in_the_page_colours() -> None:
    from reportgen.render.figures import quality as quality_plots

    a, b = quality_plots.figures(hand_made_quality()), quality_plots.figures(hand_made_quality())
    assert a == b
    assert set(a) == {"quality_buckets", "calibration", "residuals"}
    for name, svg in a.items():
        assert svg.startswith("<svg") and "var(--plot-ink" in svg
        assert "#010101" not in svg  # every placeholder colour became a CSS variable
        assert svg.count("font-family") == 1, name  # said once, in a rule scoped to this figure
        assert "\n" not in svg


def test_compact_svg_rounds_coordinates_and_keeps_what_is_referenced() -> None:
    from reportgen.render.figures.svg import compact_svg

    svg = (
        '<svg>\n <g id="a-figure_1">\n  <path id="a-m1" d="M 1.234567 -2.345678 \nL 3 4.50 \n"/>\n'
        '  <use xlink:href="#a-m1" x="10.123456"/>\n'
        '  <g id="a-text_1"><text transform="rotate(-0 1.5 2.5)">n=1.25</text></g>\n </g>\n</svg>'
    )
    assert compact_svg(svg) == (
        '<svg><g><path id="a-m1" d="M1.23 -2.35L3 4.5"/><use xlink:href="#a-m1" x="10.12"/>'
        "<g><text>n=1.25</text></g></g></svg>"
    )
    assert '<g id="a-text_1">' in compact_svg(svg, keep_group_ids=True)


def test_a_scoped_figure_says_each_style_once_and_refers_by_short_ids() -> None:
    """Each distinct style (with its clip path) becomes one class whose rule is scoped to the figure's root
    id, as are matplotlib's own rules: several figures share one page, and a rule must not leak."""
    from reportgen.render.figures.svg import compact_svg

    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg"><defs><style type="text/css">*{stroke-linecap: butt}</style></defs>'
        '<defs><clipPath id="f-p0123456789"><rect x="0" y="0" width="9" height="9"/></clipPath></defs>'
        '<path d="M 0 0 L 1 1" clip-path="url(#f-p0123456789)" style="fill: none; stroke: red"/>'
        '<path d="M 0 1 L 1 2" clip-path="url(#f-p0123456789)" style="fill: none; stroke: red"/>'
        '<text style="font-size: 10px">A "quoted" title 1.234567</text></svg>'
    )
    assert compact_svg(svg, scope="f-svg") == (
        '<svg id="f-svg" xmlns="http://www.w3.org/2000/svg"><defs><style type="text/css">#f-svg *{stroke-linecap: butt}'
        "#f-svg .a{clip-path: url(#f-svg0); fill: none; stroke: red;}#f-svg .b{font-size: 10px;}</style></defs>"
        '<defs><clipPath id="f-svg0"><rect x="0" y="0" width="9" height="9"/></clipPath></defs>'
        '<path d="M0 0L1 1" class="a"/><path d="M0 1L1 2" class="a"/>'
        '<text class="b">A "quoted" title 1.234567</text></svg>'
    )


def test_a_cloud_of_dots_is_one_path_of_round_dots_where_matplotlib_put_them() -> None:
    import matplotlib

    from reportgen.render.figures import svg

    def drawn(draw: Any) -> str:
        with matplotlib.rc_context(svg.SVG_STYLE):
            fig, ax = svg.small_figure()
            draw(ax)
            return svg.to_svg(fig)

    xs, ys = [0.0, 1.0, 2.5], [1.0, -1.0, 0.5]
    raw = drawn(lambda ax: ax.plot(xs, ys, linestyle="none", marker="o", markersize=3, markeredgewidth=0, gid="cloud"))
    marks = raw[raw.index('<g id="cloud">') :].split("</g>")[0]  # the three markers matplotlib placed
    at = [(round(float(x), 1), round(float(y), 1)) for x, y in re.findall(r'<use [^>]*x="([^"]+)" y="([^"]+)"', marks)]
    assert len(at) == 3
    compact = svg.compact_svg(drawn(lambda ax: svg.cloud(ax, xs, ys, diameter=3)), scope="c-svg")
    (path,) = re.findall(r'<path d="((?:M[\d.]+ [\d.]+h0)+)" class="(\w+)"/>', compact)
    assert [(float(x), float(y)) for x, y in re.findall(r"M([\d.]+) ([\d.]+)h0", path[0])] == at
    rule = re.search(rf"#c-svg \.{path[1]}{{([^}}]*)}}", compact).group(1)
    assert "fill: none; stroke: var(--plot-point, #333333); stroke-width: 3; stroke-linecap: round;" in rule
    assert compact.count("<use") == raw.count("<use") - 3  # the ticks stay; no dot is a <use> of its own


def markdown_paragraphs(text: str) -> list[str]:
    """report.md's paragraphs as a reader of the rendered Markdown sees them."""
    html = MarkdownIt("commonmark").enable("table").render(text)
    return [p.get_text(" ", strip=True) for p in BeautifulSoup(html, "html.parser").find_all("p")]


def with_baselines(report: Report, baselines: Baselines, ranks_well: bool = False) -> Report:
    """`report` with other validation RMSEs (and, if `ranks_well`, a model that out-ranks the most-rated items)."""
    quality = report.analysis.quality
    if ranks_well:
        ranked = {**quality.ranking, "model": ranking.RankingMetrics(0.2, 0.2, 0.3, 0.1, 0.8)}
        quality = dataclasses.replace(quality, ranking=ranked)
    return dataclasses.replace(
        report, analysis=dataclasses.replace(report.analysis, baselines=baselines, quality=quality)
    )


def test_a_model_that_loses_says_so_at_the_top_in_the_quality_section_and_in_report_md() -> None:
    losing = Baselines(global_mean_rmse=1.1191, bias_only_rmse=1.0358, model_rmse=1.1887, global_mean=3.5)
    report = with_baselines(hand_made_report(), losing)
    soup = BeautifulSoup(render_html(report), "html.parser")
    worse = "The model is worse than the global mean: valid RMSE 1.1887 against 1.1191."
    banner = [p.get_text(" ", strip=True) for p in soup.header.select(".shortfall p")]
    assert banner == [
        worse,
        "The model is worse than user and item biases alone: valid RMSE 1.1887 against 1.0358.",
        "The model ranks worse than the most-rated items: NDCG@10 0.071 against 0.141.",
    ]
    quality = soup.find("section", id="quality")
    assert worse in [p.get_text(" ", strip=True) for p in quality.find_all("p")]
    rows = cells(quality.find("table"))
    assert [r[-1] for r in rows[1:]] == ["–", "−7.4 %", "+6.2 %"]  # signed: worse and better side by side

    assert f"Warning: {worse}" in markdown_paragraphs(render_markdown(report))
    # Read back from its report.json (as `reportgen render` does, or an older run's file), it says the same.
    again = BeautifulSoup(render_html(read_text(dumps(report))), "html.parser")
    assert [p.get_text(" ", strip=True) for p in again.header.select(".shortfall p")] == banner


def test_a_model_that_wins_says_nothing_of_the_kind() -> None:
    winning = Baselines(global_mean_rmse=1.12, bias_only_rmse=0.94, model_rmse=0.9, global_mean=3.5)
    report = with_baselines(hand_made_report(), winning, ranks_well=True)
    assert report.analysis.shortfalls == ()
    soup = BeautifulSoup(render_html(report), "html.parser")
    assert soup.select(".shortfall") == []
    text = " ".join([soup.get_text(" "), *markdown_paragraphs(render_markdown(report))])
    assert "The model is worse" not in text and "no better than" not in text and "ranks worse" not in text
    assert "Warning:" not in text
    assert [r[-1] for r in cells(soup.find("section", id="quality").find("table"))[1:]] == ["–", "−16.1 %", "−19.6 %"]
