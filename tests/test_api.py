"""The Python API: what the README shows works as shown, without click, and importing changes nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import reportgen

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    """The first Python block under the README's "Python API" heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def python(code: str) -> subprocess.CompletedProcess[str]:
    """CODE in a plain, fresh interpreter."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_the_api_is_exported_and_every_name_resolves() -> None:
    for name in ("load", "fit", "analyse", "make_report", "build", "Report", "render_html", "write"):
        assert name in reportgen.__all__
        assert getattr(reportgen, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = reportgen.nope


@pytest.mark.slow
def test_the_api_imports_without_click_and_without_choosing_a_matplotlib_backend() -> None:
    result = python(
        "import sys, matplotlib; matplotlib.use('pdf')\n"
        "from reportgen import load, fit, make_report, render_html\n"
        "import reportgen.render.figures.report\n"
        "print('click' in sys.modules, matplotlib.get_backend())"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "pdf"]


@pytest.mark.ml100k
def test_the_readme_example_runs_as_shown(
    recbole_ml100k: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run as written, in a folder of its own (a plain interpreter's import is checked above)."""
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_example(), "README.md", "exec"), {"__name__": "__main__"})
    lines = capsys.readouterr().out.splitlines()
    doc = json.loads((tmp_path / "my-report" / "report.json").read_text(encoding="utf-8"))
    assert lines[0] == f"valid RMSE {doc['metrics']['valid_rmse']:.4f} on 100000 ratings"
    assert lines[1] == f"lowest biases: {[e['title'] for e in doc['bias']['worst'][:3]]}"
    assert doc["dataset"]["name"] == "ml-100k" and doc["run"]["preset"] == "fast"
    assert (tmp_path / "my-report" / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert len(lines) == 3 and lines[2]  # the stage-by-stage model's first component has a top item


def test_a_report_prints_as_one_short_line_and_shows_its_page_only_as_html() -> None:
    """`print(report)` in a notebook: the data, its size and the valid RMSE, not every field of every item."""
    import dataclasses

    from tests.helpers.reports import hand_made_report

    small = hand_made_report()
    report = dataclasses.replace(
        small,
        dataset=dataclasses.replace(small.dataset, name="Ratings\nexport 'May'", n_ratings=1_234_567),
        analysis=dataclasses.replace(small.analysis, top_items=tuple(f"Item {i} " + "x" * 300 for i in range(1000))),
    )
    assert (
        repr(report) == str(report) == "Report(dataset=\"Ratings\\nexport 'May'\", ratings=1234567, valid_rmse=0.9201)"
    )
    assert repr(small) == "Report(dataset='ml-100k', ratings=100000, valid_rmse=0.9201)"
    assert report._repr_html_().startswith("<iframe ")  # the page: in a notebook's rich output only
