"""The render stage from a hand-made context: filters, page content, safety, atomic writes."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from reportgen import pipeline
from reportgen.analysis.findings import ScatterPoint
from reportgen.errors import InputError
from reportgen.render import explorer
from reportgen.render import html as render
from reportgen.render.figures import scatter
from reportgen.render.figures import svg as figure_svg
from reportgen.report import to_json
from tests.helpers.pages import PAGE_SECTIONS, assert_self_contained
from tests.helpers.reports import (
    HOSTILE,
    INJECTION,
    TEMPLATE_LIKE,
    TUTORIAL_CONFIG,
    hand_made_comparison,
    hand_made_report,
)

ROOT = Path(__file__).resolve().parents[2]  # the repository, above tests/<stage>/


@pytest.fixture(scope="module")
def page() -> BeautifulSoup:
    return BeautifulSoup(render.render_html(hand_made_report()), "html.parser")


def table_rows(page: BeautifulSoup, caption: str) -> list[list[str]]:
    table = next(c.parent for c in page.find_all("caption") if c.get_text(" ", strip=True) == caption)
    return [
        [cell.get_text(" ", strip=True) for cell in row.find_all(["td", "th"])] for row in table.tbody.find_all("tr")
    ]


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (0.84651, 4, "0.8465"),
        (-0.35, 2, "−0.35"),
        (-0.00001, 3, "0.000"),
        (12.0, 0, "12"),
        (None, 2, "–"),
        (float("nan"), 2, "–"),
    ],
)
def test_fixed_gives_fixed_decimals_and_a_true_minus(value, digits, text) -> None:
    assert render.fixed(value, digits) == text


def test_thousands_seconds_and_percent_read_like_a_person_writes_them() -> None:
    assert render.thousands(100_000) == "100\u202f000"
    assert render.thousands(943) == "943"
    assert [render.seconds(s) for s in (0.4211, 12.34, 125.2)] == ["0.42 s", "12.3 s", "2 min 05 s"]
    assert render.percent(0.16515) == "16.5 %"
    assert render.percent(-0.05) == "−5.0 %"


def test_a_change_or_a_difference_always_shows_its_sign() -> None:
    assert [render.signed_percent(r) for r in (0.0622, -0.0744, 0.0, -0.00001, None)] == [
        "+6.2 %",
        "−7.4 %",
        "±0.0 %",
        "±0.0 %",
        "–",
    ]
    assert render.signed_percent(0.000123, 2) == "+0.01 %"
    assert [render.signed(v) for v in (0.0123, -0.0045, 0.0)] == ["+0.0123", "−0.0045", "±0.0000"]


def test_the_changes_section_signs_every_change() -> None:
    titles = ("Alpha (1990)", "Beta (1991)", "Gamma (1992)", "Delta (1993)", "Epsilon (1994)")
    report = dataclasses.replace(hand_made_report(titles), comparison=hand_made_comparison(titles))
    section = BeautifulSoup(render.render_html(report), "html.parser").find(id="changes")
    errors = section.find("caption", string="Validation error, previous run and this run").parent
    assert [tr.find_all("td")[-1].get_text() for tr in errors.tbody.find_all("tr")] == ["−0.0535", "−3.02 %"]
    moves = section.find("caption", string="The largest bias moves among the most-rated items").parent
    assert [tr.find_all("td")[-1].get_text() for tr in moves.tbody.find_all("tr")] == [
        "±0.0000",
        "−0.2000",
        "−0.4000",
        "−0.6000",
        "−0.8000",
    ]


def test_environment_autoescapes_every_template() -> None:
    env = render.environment()
    assert env.autoescape is True
    assert env.from_string("{{ t }}").render(t=HOSTILE) == "&lt;script&gt;alert(1)&lt;/script&gt;"


# --------------------------------------------------------------------------- content


def test_header_gives_dataset_date_and_validation_error_at_a_glance(page: BeautifulSoup) -> None:
    glance = {
        dt.get_text(strip=True): dt.find_next("dd").get_text(" ", strip=True) for dt in page.select(".at-a-glance dt")
    }
    assert glance == {
        "Dataset": "ml-100k (100\u202f000 ratings)",
        "Generated": "2026-11-27T10:00:00+00:00",
        "Valid RMSE": "0.9201",
        "Valid MSE": "0.8465",
    }


def test_every_section_is_present_and_linked_from_the_contents(page: BeautifulSoup) -> None:
    sections = [s["id"] for s in page.find_all("section")]
    assert sections == PAGE_SECTIONS
    assert [a["href"] for a in page.select("nav.toc a")] == [f"#{s}" for s in sections]


def test_run_summary_shows_provenance_hyper_parameters_epochs_timings_and_versions(page: BeautifulSoup) -> None:
    dataset = dict(row for row in table_rows(page, "Dataset"))
    assert dataset["Source"] == "recbole: ml-100k"
    assert dataset["Ratings file"] == "ml-100k.inter , 2\u202f079\u202f769 bytes"
    assert dataset["SHA-256 of the ratings file"] == "ab" * 32
    assert dataset["Titles from"] == "ml-100k.item , 85\u202f017 bytes"
    assert dataset["SHA-256 of the titles file"] == "cd" * 32
    assert dataset["Users"] == "943"
    hyper = dict(table_rows(page, "Hyper-parameters"))
    assert hyper["Epochs"] == "5" and hyper["Learning rate (one-cycle maximum)"] == "0.005"
    assert hyper["Prediction range"] == "0.0 to 5.5" and hyper["Seed"] == "42"
    epochs_caption = "Training, epoch by epoch (80\u202f000 training and 20\u202f000 validation ratings)"
    assert table_rows(page, epochs_caption) == [
        ["1", "0.9500", "0.9300", "8.25 s"],
        ["2", "0.7000", "0.8465", "7.50 s"],
    ]
    assert (
        "MSE 0.8465" in page.select_one(".headline").get_text()
        and "RMSE 0.9201" in page.select_one(".headline").get_text()
    )
    assert dict(table_rows(page, "Time per stage"))["Total (load, train stage, analyse, draw)"] == "40.8 s"
    assert dict(table_rows(page, "Library versions")) == {"python": "3.11.7", "reportgen": "0.1.0", "fastai": "2.8.12"}


def test_bias_tables_list_title_bias_mean_and_count_in_order(page: BeautifulSoup) -> None:
    best = table_rows(page, "Highest biases")
    assert best[0] == ["1", "Alpha (1990)", "0.5000", "4.00", "100"]
    assert best[1] == ["2", HOSTILE, "0.2500", "3.50", "90"]
    assert table_rows(page, "Lowest biases")[0] == ["1", TEMPLATE_LIKE, "−0.5000", "2.00", "60"]


def test_pca_section_shows_variance_and_both_ends_of_every_component(page: BeautifulSoup) -> None:
    assert table_rows(page, "Share of the factor vectors' variance each component explains") == [
        ["20.0 %", "10.0 %", "5.0 %"]
    ]
    for c in range(3):
        assert table_rows(page, f"Component {c}: the 2 highest scores") == [
            ["1", "Alpha (1990)", "1.0000"],
            ["2", HOSTILE, "0.9000"],
        ]
        assert table_rows(page, f"Component {c}: the 2 lowest scores")[0] == ["1", INJECTION, "−1.0000"]
    assert "largest absolute score" in page.find(id="pca").get_text()


def test_scatter_is_inline_svg_with_every_title_as_text(page: BeautifulSoup) -> None:
    figure = page.find(id="scatter").figure
    svg = figure.find("svg")
    assert svg is not None and figure.figcaption.get_text(strip=True)
    labels = [t.get_text() for t in svg.find_all("text")]
    for title in ("Alpha (1990)", HOSTILE, "Gamma & Sons (1992)", INJECTION, TEMPLATE_LIKE):
        assert title in labels
    assert "PCA component 0" in labels and "PCA component 2" in labels


def test_citation_acknowledges_movielens(page: BeautifulSoup) -> None:
    text = page.find(id="citation").get_text(" ", strip=True)
    assert "F. Maxwell Harper and Joseph A. Konstan" in text
    assert "The MovieLens Datasets: History and Context" in text
    assert "ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4" in text


# --------------------------------------------------------------------------- safety


def test_page_is_self_contained(page: BeautifulSoup) -> None:
    assert_self_contained(str(page))
    assert page.find("style") is not None and "--accent" in page.find("style").get_text()


def test_hostile_titles_are_text_not_markup(page: BeautifulSoup) -> None:
    html = render.render_html(hand_made_report())
    assert HOSTILE not in html and INJECTION not in html  # only escaped forms appear
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert [s.get_text() for s in page.find_all("script") if not s.get("type")] == [own_script()]  # ours, nothing else
    assert [s.get("type") for s in page.find_all("script")] == ["application/json", None]  # and the explorer's data
    assert not page.find_all("img")
    assert page.title.get_text() == "ml-100k: what the collaborative-filtering model learned"
    assert "49" not in [cell.get_text() for cell in page.find_all("td")]
    assert TEMPLATE_LIKE in [cell.get_text() for cell in page.find_all("td")]


def own_script() -> str:
    """The one inline script the page may carry: the packaged sorter, exactly."""
    return render.environment().get_template(render.SCRIPT_TEMPLATE).render().strip()


def csp_directives(page: BeautifulSoup) -> dict[str, list[str]]:
    meta = page.find("meta", attrs={"http-equiv": "Content-Security-Policy"})
    directives = [d.split() for d in meta["content"].split(";") if d.strip()]
    return {d[0]: d[1:] for d in directives}


def test_content_security_policy_allows_only_our_script_by_its_hash(page: BeautifulSoup) -> None:
    head = page.head.find_all("meta")
    assert (
        head[0].get("charset") == "utf-8" and head[1].get("http-equiv") == "Content-Security-Policy"
    )  # before any style
    csp = csp_directives(page)
    assert csp["default-src"] == ["'none'"]
    assert csp["style-src"] == ["'unsafe-inline'"] and csp["img-src"] == ["data:"]
    assert csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'none'"]
    island, script = page.find_all("script")  # the explorer's data, never run; the page's script
    assert script.get("src") is None and script.get_text() == own_script()
    assert island.get("src") is None and island["type"] == "application/json"
    digests = [base64.b64encode(hashlib.sha256(s.get_text().encode()).digest()).decode() for s in (script, island)]
    assert island.get_text() == explorer.explorer(hand_made_report().analysis).island
    assert csp["script-src"] == [f"'sha256-{d}'" for d in digests]  # hashes of the exact text, no 'unsafe-inline'


def test_the_hash_follows_the_script_a_user_template_supplies(tmp_path: Path) -> None:
    (tmp_path / render.SCRIPT_TEMPLATE).write_text("document.title = 'mine';\n")
    soup = BeautifulSoup(render.render_html(hand_made_report(), tmp_path), "html.parser")
    assert soup.select_one("script:not([type])").get_text() == "document.title = 'mine';"
    digest = base64.b64encode(hashlib.sha256(b"document.title = 'mine';").digest()).decode()
    assert csp_directives(soup)["script-src"][0] == f"'sha256-{digest}'"  # then the explorer's data island
    (tmp_path / render.SCRIPT_TEMPLATE).write_text("alert(1)</script><script>alert(2)")
    with pytest.raises(InputError, match="cannot contain '</script'"):
        render.render_html(hand_made_report(), tmp_path)


def test_every_table_has_a_caption_and_scoped_headers(page: BeautifulSoup) -> None:
    tables = page.find_all("table")
    assert len(tables) > 10
    for table in tables:
        assert table.caption is not None and table.caption.get_text(strip=True), table
        assert all(th.get("scope") in ("col", "row") for th in table.find_all("th")), table


def test_bias_pca_and_scatter_tables_are_sortable_by_raw_numbers(page: BeautifulSoup) -> None:
    sortable = [t.caption.get_text(strip=True) for t in page.select("table.sortable")]
    assert {
        "Lowest biases",
        "Highest biases",
        "Component 0: the 2 highest scores",
        "Component 2: the 2 lowest scores",
    } <= set(sortable)
    for table in page.select("table.sortable"):
        numeric = [i for i, th in enumerate(table.thead.find_all("th")) if "num" in th.get("class", [])]
        assert numeric, table.caption
        for row in table.tbody.find_all("tr"):
            cells = row.find_all("td")
            for i in numeric:
                raw = cells[i].get("data-sort", cells[i].get_text())
                shown = cells[i].get_text().replace("\u2212", "-").replace("\u202f", "").rstrip(" %")
                assert float(raw) == pytest.approx(float(shown), abs=0.00005)  # what sorts is what shows
    lowest = page.find("caption", string="Lowest biases").parent
    assert [td.get("data-sort") for td in lowest.tbody.tr.find_all("td")[2:4]] == ["-0.5", "2.0"]


def test_numbers_are_right_aligned_with_fixed_decimals(page: BeautifulSoup) -> None:
    css = page.find("style").get_text()
    assert re.search(r"\.num \{[^}]*text-align: right", css)
    for caption in ("Highest biases", "Component 1: the 2 lowest scores"):
        table = page.find("caption", string=caption).parent
        scores = [row.find_all("td")[2] for row in table.tbody.find_all("tr")]
        assert all("num" in td["class"] and re.fullmatch(r"\u2212?\d\.\d{4}", td.get_text()) for td in scores)


def test_stylesheet_has_light_dark_and_print_themes(page: BeautifulSoup) -> None:
    css = page.find("style").get_text()
    assert "color-scheme: light dark" in css
    dark = css[css.index("@media screen and (prefers-color-scheme: dark)") :]
    assert "--bg: #16181c" in dark and "--plot-ink" in dark and "--plot-label-7" in dark
    assert "@page { size: A4" in css
    printed = css[css.index("@media print") :]
    assert "break-before: page" in printed and "display: table-header-group" in printed
    assert page.find("meta", attrs={"name": "color-scheme"})["content"] == "light dark"


# --------------------------------------------------------------------------- the scatter


def test_every_point_and_label_has_its_title_for_hover(page: BeautifulSoup) -> None:
    svg = page.find(id="scatter").find("svg")
    titles = [p.title for p in hand_made_report().analysis.scatter]
    for kind in ("point", "label"):
        groups = svg.find_all("g", id=re.compile(f"^scatter-{kind}-\\d+$"))
        assert [g.find("title", recursive=False).get_text() for g in groups] == titles
    assert svg.find("metadata") is None  # matplotlib's RDF is not valid in HTML


def test_scatter_titles_are_escaped_in_the_svg_text() -> None:
    svg = scatter.scatter_svg([ScatterPoint(HOSTILE, 0.0, 0.0), ScatterPoint('A & "B" $x$', 1.0, 1.0)], "x", "y")
    assert HOSTILE not in svg and "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in svg
    assert '<title>A &amp; "B" $x$</title>' in svg
    assert '>A &amp; "B" $x$</text>' in svg  # a dollar sign, not mathtext


def test_scatter_colours_follow_the_page_theme(page: BeautifulSoup) -> None:
    svg = str(page.find(id="scatter").find("svg"))
    colours = set(re.findall(r"(?:fill|stroke): ([^;\"]+)", svg))
    assert colours <= {"none"} | {c for c in figure_svg.CSS_COLOURS.values()}, colours
    assert "var(--plot-label-0, #1f5f99)" in colours and "var(--plot-ink, #1d1d1f)" in colours


def test_label_placement_keeps_crowded_labels_apart() -> None:
    bounds = scatter.Box(0, 0, 400, 300)
    anchors = [(200.0, 150.0), (203.0, 151.0), (198.0, 148.0), (201.0, 146.0), (60.0, 60.0)]
    sizes = [(80.0, 10.0)] * len(anchors)
    spots = scatter.place_labels(anchors, sizes, bounds)
    assert all(s.clash == 0 for s in spots)
    boxes = [s.box for s in spots]
    assert all(a.overlap(b) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    points = [scatter.Box(x - 2.5, y - 2.5, x + 2.5, y + 2.5) for x, y in anchors]
    assert all(box.overlap(p) == 0 for box in boxes for p in points)
    assert all(bounds.x0 <= b.x0 and b.x1 <= bounds.x1 and bounds.y0 <= b.y0 and b.y1 <= bounds.y1 for b in boxes)
    assert (spots[-1].dx, spots[-1].dy, spots[-1].ha) == (4.0, 0.0, "left")  # alone: just right of its point
    assert not spots[-1].leader and any(s.leader for s in spots[:4])  # the crowd needed leader lines


def test_label_placement_stays_inside_the_frame_and_admits_defeat_gracefully() -> None:
    right_edge = scatter.place_labels([(395.0, 150.0)], [(80.0, 10.0)], scatter.Box(0, 0, 400, 300))
    assert right_edge[0].ha == "right" and right_edge[0].box.x1 <= 400 and right_edge[0].clash == 0
    crowded = scatter.place_labels([(50.0, 50.0)] * 30, [(90.0, 12.0)] * 30, scatter.Box(0, 0, 100, 100))
    assert len(crowded) == 30 and crowded[0].clash == 0 and crowded[-1].clash > 0  # no room: least overlap


# --------------------------------------------------------------------------- json and writing


def test_json_carries_the_documented_keys() -> None:
    doc = to_json(hand_made_report())
    assert set(doc["dataset"]) >= {"name", "source", "sha256", "n_ratings", "n_users", "n_items"}
    documented = dict(TUTORIAL_CONFIG)
    # Every documented key with its value; TrainConfig may add settings of its own (e.g. `loader`).
    assert {key: doc["config"].get(key) for key in documented} == documented
    assert doc["metrics"]["valid_mse"] == 0.8465
    assert doc["metrics"]["epochs"][1] == {"epoch": 2, "train_loss": 0.7, "valid_loss": 0.8465, "seconds": 7.5}
    assert doc["top_items"][:2] == ["Alpha (1990)", HOSTILE]
    assert doc["bias"]["best"][0] == {"title": "Alpha (1990)", "bias": 0.5, "mean_rating": 4.0, "count": 100}
    assert doc["pca"]["explained_variance_ratio"] == [0.2, 0.1, 0.05]
    assert [c["index"] for c in doc["pca"]["components"]] == [0, 1, 2]
    assert doc["pca"]["components"][0]["top"][0] == {"title": "Alpha (1990)", "score": 1.0}
    assert doc["scatter"][1] == {"title": HOSTILE, "x": 0.1, "y": -0.2}
    assert set(doc["timings"]) == {"load", "train", "analyse", "render", "total"}
    assert doc["versions"]["fastai"] == "2.8.12"


def test_write_replaces_both_files_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("old page")
    html = pipeline.write(hand_made_report(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json", "report.md"]
    assert html == tmp_path / "report.html"
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["dataset"]["n_ratings"] == 100_000


def test_a_broken_user_template_leaves_the_previous_report_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("previous page")
    (out / "report.json").write_text("{}")
    custom = tmp_path / "templates"
    custom.mkdir()
    (custom / "_citation.html.j2").write_text("{{ report.no_such_field }}")
    with pytest.raises(InputError, match=f"template error in {re.escape(str(custom))}: .*no_such_field"):
        pipeline.write(hand_made_report(), out, custom)
    assert (out / "report.html").read_text() == "previous page"
    assert (out / "report.json").read_text() == "{}"
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.json"]


def test_user_templates_override_packaged_ones_file_by_file(tmp_path: Path) -> None:
    (tmp_path / "_citation.html.j2").write_text(
        '<section id="citation"><p>Our own footer for {{ report.dataset.name }}</p></section>'
    )
    soup = BeautifulSoup(render.render_html(hand_made_report(), tmp_path), "html.parser")
    assert soup.find(id="citation").get_text(strip=True) == "Our own footer for ml-100k"
    assert soup.find(id="bias") is not None  # everything else still packaged


@pytest.mark.slow
def test_an_installed_wheel_carries_and_renders_the_templates(tmp_path: Path) -> None:
    """Not only an editable checkout: the wheel maps templates/ into reportgen/templates."""
    source = tmp_path / "src"  # build from a copy: setuptools leaves build/ behind
    for name in ("reportgen", "templates"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("reportgen-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in ("base.html.j2", "report.html.j2", "_bias.html.j2", "_pca.html.j2", "report.css", "report.js.j2"):
        assert f"reportgen/templates/{template}" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import reportgen, reportgen.render.html as r; "
        f"assert reportgen.__file__.startswith({str(site)!r}), reportgen.__file__; "
        "print(r.packaged_templates()); "
        "print(r.environment().get_template('report.html.j2').filename)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env={"PYTHONPATH": str(site)}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        str(site / "reportgen" / "templates"),
        str(site / "reportgen" / "templates" / "report.html.j2"),
    ]


def test_only_movielens_is_cited() -> None:
    """A report on other data cites nothing: the citation belongs to the data set actually used."""
    own = dataclasses.replace(hand_made_report(), citation="")
    page = BeautifulSoup(render.render_html(own), "html.parser")
    assert page.find(id="citation") is None
    assert "#citation" not in [a["href"] for a in page.find("nav").find_all("a")]
    cited = BeautifulSoup(render.render_html(hand_made_report()), "html.parser")
    assert "Harper and Joseph A. Konstan" in cited.find(id="citation").get_text()


def test_a_user_template_can_extend_the_packaged_one_it_replaces(tmp_path: Path) -> None:
    (tmp_path / "report.html.j2").write_text(
        '{% extends "default:report.html.j2" %}{% block footer %}<p>Team footer</p>{% endblock %}'
    )
    page = BeautifulSoup(render.render_html(hand_made_report(), tmp_path), "html.parser")
    assert page.find("footer").get_text(strip=True) == "Team footer"
    assert page.find(id="bias") is not None  # the packaged body is still there


def test_the_compact_scatter_keeps_titles_as_written() -> None:
    """Coordinates are rounded to save bytes; a number inside a title is data and stays whole."""
    svg = scatter.scatter_svg(
        [ScatterPoint("Pi 3.14159 (2001)", 0.123456, 0.654321), ScatterPoint("B", 1.0, 1.0)], "x", "y"
    )
    assert svg.count("Pi 3.14159 (2001)") == 3  # the label and the two hover titles
    assert not re.search(r'd="[^"]*\d\.\d{3,}', svg)  # paths carry at most two decimals


def test_long_titles_are_shown_whole_wrapped_and_isolated() -> None:
    """A 300-character title (the longest load keeps) is shown whole wherever the page names it: it wraps
    rather than running across the page, and its text direction stays its own. Only the scatter's label
    is shorter (a label on a plot), with the whole title on hover and in the table below it."""
    long = "A" * 150 + " " + "B" * 149
    rtl = "\u202eevil reversed"  # an unterminated right-to-left override
    html = render.render_html(hand_made_report((long, rtl, "After (2001)", "Gamma (1992)", "Delta (1993)")))
    page = BeautifulSoup(html, "html.parser")
    cells = page.find_all("bdi", class_="item")
    assert long in {c.get_text() for c in page.find(id="top-items").find_all("bdi", class_="item")}
    assert all(c.get_text() == long or len(c.get_text()) < 40 for c in cells)  # no title is cut anywhere
    assert all(c.name == "bdi" and not c.get("title") for c in cells)  # isolated; nothing hidden on hover
    assert ".item { overflow-wrap: anywhere; }" in page.style.get_text()
    labels = [t.get_text() for t in page.find(id="scatter").find_all("text")]
    assert "A" * (scatter.LABEL_CHARS - 1) + "…" in labels and long not in labels
    assert long in {t.get_text() for t in page.find(id="scatter").find_all("title")}  # whole, on hover
    assert long in {c.get_text() for c in page.find(id="scatter").table.find_all("bdi")}  # and in the table


def test_control_characters_never_reach_a_title(tmp_path: Path) -> None:
    from reportgen.data import dataset as data

    path = tmp_path / "r.csv"
    rows = "".join(
        f"{u},{i},{1 + (u + i) % 5},{'Bell' + chr(7) + 'Csi' + chr(0x9B) + 'Esc' + chr(27) + '[31m' if i == 0 else f'T{i}'}\n"
        for u in range(5)
        for i in range(4)
    )
    path.write_text("user,item,rating,title\n" + rows)
    loaded = data.load(data.OwnData(ratings=path), download=None)
    titles = set(loaded.frame["title"].astype(str))
    assert "BellCsiEsc[31m" in titles  # (a NUL byte makes the file binary: refused when read)
    assert not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for t in titles for ch in t)
    assert any("control characters" in note for note in loaded.notes)
