"""`report.json` reads back into the same `Report`, and `reportgen render` rebuilds a run's page from it."""

from __future__ import annotations

import dataclasses
import difflib
import json
import shutil
from pathlib import Path

import pytest

from reportgen import __version__
from reportgen import report as readback
from reportgen.render import html as render
from reportgen.render.markdown import render_markdown
from reportgen.report import SCHEMA_VERSION, dumps, to_json
from reportgen.train.config import TrainConfig
from tests.helpers.commands import invoke
from tests.helpers.reports import hand_made_report

ROOT = Path(__file__).resolve().parents[2]  # the repository, above tests/<stage>/


def through_json(doc: dict) -> dict:
    return json.loads(json.dumps(doc, allow_nan=False))


def test_from_json_is_the_exact_inverse_of_to_json() -> None:
    report = hand_made_report()
    doc = through_json(to_json(report))
    back = readback.from_json(doc)
    assert to_json(back) == doc
    assert back == dataclasses.replace(
        report, figures={}
    )  # every field; the figures are not data, the renderer draws them
    assert render.render_html(back) == render.render_html(report)
    assert render_markdown(back) == render_markdown(report)


def test_a_report_json_that_names_the_engine_lean_reads_back_as_learner() -> None:
    """Runs written before the rename said `"engine": "lean"` for fastai's Learner: they still read and render."""
    from reportgen.train.results import Runtime

    runtime = Runtime("lean", "tutorial", "cpu", 1, 6250, 2.5, engine="learner")
    report = dataclasses.replace(
        hand_made_report(), runtime=runtime, config=TrainConfig(engine="learner", split="random")
    )
    doc = through_json(to_json(report))
    assert (doc["run"]["engine"], doc["runtime"]["engine"]) == ("learner", "learner")
    old = json.loads(json.dumps(doc).replace('"engine": "learner"', '"engine": "lean"'))
    assert (old["run"]["engine"], old["runtime"]["engine"]) == ("lean", "lean")
    back = readback.from_json(old)
    assert (back.config.engine, back.runtime.engine) == ("learner", "learner")
    assert to_json(back) == doc
    assert render.render_html(back) == render.render_html(readback.from_json(doc))


def test_quality_numbers_are_written_in_full() -> None:
    report = hand_made_report()
    doc = to_json(report)
    assert doc["quality"]["coverage"]["share"] == 321 / 1682  # not rounded to 6 digits
    assert doc["quality"]["n_valid"] == 2000


@pytest.fixture(scope="module")
def reproducible_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder written as `build` writes it under SOURCE_DATE_EPOCH (no durations)."""
    import dataclasses

    from reportgen import pipeline

    report = dataclasses.replace(hand_made_report(), timings=None)
    run = tmp_path_factory.mktemp("out") / "runs" / "20261127T100000Z"
    pipeline.write(report, run)
    return run


def test_render_rebuilds_the_files_byte_for_byte(reproducible_run: Path, tmp_path: Path) -> None:
    result = invoke("render", reproducible_run, "-o", tmp_path / "again")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "again" / "report.html")
    for name in ("report.html", "report.md", "report.json"):
        assert (tmp_path / "again" / name).read_bytes() == (reproducible_run / name).read_bytes(), name


def test_a_changed_template_changes_only_what_it_changes(reproducible_run: Path, tmp_path: Path) -> None:
    mine = tmp_path / "templates"
    mine.mkdir()
    original = (ROOT / "templates" / "_top_items.html.j2").read_text(encoding="utf-8")
    assert "<h2" in original
    changed = original.replace("<h2", '<h2 class="mine"', 1)
    (mine / "_top_items.html.j2").write_text(changed, encoding="utf-8")
    result = invoke("render", reproducible_run, "-o", tmp_path / "out", "--templates", mine)
    assert result.exit_code == 0, result.output
    before = (reproducible_run / "report.html").read_text(encoding="utf-8").splitlines()
    after = (tmp_path / "out" / "report.html").read_text(encoding="utf-8").splitlines()
    diff = [
        line
        for line in difflib.unified_diff(before, after, n=0, lineterm="")
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    removed = [line[1:] for line in diff if line.startswith("-")]
    added = [line[1:] for line in diff if line.startswith("+")]
    assert len(removed) == len(added) == 1
    assert added == [removed[0].replace("<h2", '<h2 class="mine"', 1)]
    assert (tmp_path / "out" / "report.md").read_bytes() == (reproducible_run / "report.md").read_bytes()


@pytest.mark.parametrize(("key", "value"), [("reportgen_version", "0.0.9"), ("schema_version", 1)])
def test_a_report_json_of_another_version_is_refused_in_one_line(
    reproducible_run: Path, tmp_path: Path, key: str, value: object
) -> None:
    run = tmp_path / "run"
    shutil.copytree(reproducible_run, run)
    doc = json.loads((run / "report.json").read_text(encoding="utf-8"))
    doc[key] = value
    (run / "report.json").write_text(json.dumps(doc), encoding="utf-8")
    result = invoke("render", run)
    assert result.exit_code == 2
    old_version = value if key == "reportgen_version" else __version__
    old_schema = value if key == "schema_version" else SCHEMA_VERSION
    assert result.stderr == (
        f"Error: {run / 'report.json'} was written by reportgen {old_version} (schema {old_schema}); this is reportgen "
        f"{__version__} (schema {SCHEMA_VERSION}), which only re-renders its own: rebuild the report with this version\n"
    )
    assert (run / "report.html").read_bytes() == (reproducible_run / "report.html").read_bytes()  # untouched


def test_a_damaged_report_json_is_one_error_line(reproducible_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(reproducible_run, run)
    doc = json.loads((run / "report.json").read_text(encoding="utf-8"))
    del doc["quality"]
    (run / "report.json").write_text(json.dumps(doc), encoding="utf-8")
    result = invoke("render", run)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {run / 'report.json'}: not a complete report.json of reportgen {__version__}"
    )
    assert result.stderr.count("\n") == 1


@pytest.mark.ml100k
def test_the_ml100k_report_reads_back_and_renders_again_byte_for_byte(ml100k_report: dict, tmp_path: Path) -> None:
    doc = ml100k_report["doc"]
    back = readback.from_json(through_json(doc))
    assert to_json(back) == doc
    assert dumps(back) == (ml100k_report["out"] / "report.json").read_text(encoding="utf-8")
    run = sorted((ml100k_report["out"] / "runs").iterdir())[-1]
    result = invoke(
        "render", run, "-o", tmp_path
    )  # its time is measured by hand (docs/benchmarks.md), never asserted here
    assert result.exit_code == 0, result.output
    for name in ("report.html", "report.md"):
        assert (tmp_path / name).read_bytes() == (run / name).read_bytes(), name
