"""The comparison between two runs' report.json: what entered and left each list, and the largest bias moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reportgen.report import ReportDoc, compare
from reportgen.runs import outputs


def doc(sha: str, rmse: float, worst: list[str], best: list[str], top0: list[str], items: dict[str, float]) -> dict:
    return {
        "generated_at": "2026-11-26T01:00:00+00:00",
        "dataset": {"sha256": sha},
        "metrics": {"valid_mse": rmse**2, "valid_rmse": rmse},
        "bias": {"worst": [{"title": t} for t in worst], "best": [{"title": t} for t in best]},
        "pca": {"components": [{"index": 0, "top": [{"title": t} for t in top0], "bottom": []}]},
        "items": [{"title": t, "bias": b} for t, b in items.items()],
    }


def test_comparison_names_what_entered_and_left_each_list_and_the_largest_bias_moves() -> None:
    before = doc("aaa", 0.90, ["W1", "W2"], ["B1", "B2"], ["P1", "P2"], {"A": 0.1, "B": 0.5, "C": -0.2, "Gone": 0.3})
    after = doc("bbb", 0.99, ["W1", "W3"], ["B1", "B2"], ["P2", "P3"], {"A": 0.4, "B": 0.45, "C": -0.7, "New": 0.0})
    c = compare.compare(ReportDoc(before), ReportDoc(after), "/r/prev/report.json")

    assert c.dataset_changed and (c.previous_sha256, c.current_sha256) == ("aaa", "bbb")
    assert c.rmse_change_pct == pytest.approx(10.0)
    changed = {ch.name: (ch.entered, ch.left) for ch in c.changed_lists}
    assert changed == {"Lowest biases": (("W3",), ("W2",)), "Component 0, highest scores": (("P3",), ("P1",))}
    assert [(m.title, m.before, m.after) for m in c.bias_moves] == [
        ("C", -0.2, -0.7),
        ("A", 0.1, 0.4),
        ("B", 0.5, 0.45),
    ]


def test_same_dataset_and_an_older_file_without_items_compare_quietly() -> None:
    before = doc("aaa", 1.0, ["W"], ["B"], ["P"], {})
    del before["items"], before["pca"]
    after = doc("aaa", 0.95, ["W"], ["B"], ["P"], {"X": 0.1})
    c = compare.compare(ReportDoc(before), ReportDoc(after), "old.json")
    assert not c.dataset_changed
    assert c.rmse_change_pct == pytest.approx(-5.0)
    assert c.bias_moves == ()
    assert [ch.name for ch in c.changed_lists] == ["Component 0, highest scores"]


def test_compare_reads_real_json_round_trips(tmp_path: Path) -> None:
    before = doc("aaa", 0.9, ["W"], ["B"], ["P"], {"A": 0.0})
    path = tmp_path / "report.json"
    path.write_text(json.dumps(before))
    found = outputs.previous_report(tmp_path)
    assert found is not None and compare.compare(found[1], ReportDoc(before), str(found[0])).changed_lists == ()
