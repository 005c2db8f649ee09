"""A time split in report.json: recorded with its cutoff and read back exactly; the comparison of two runs
scored on different splits is never judged as one measurement; reports without `split` read as random."""

from __future__ import annotations

import dataclasses
import json

from reportgen import report as readback
from reportgen.report import ReportDoc, compare, to_json
from reportgen.train import TimeSplit
from tests.helpers.reports import hand_made_comparison, hand_made_report

SPLIT = TimeSplit(
    cutoff=889_237_269,
    train_first=874_724_710,
    train_last=889_237_247,
    valid_first=889_237_269,
    valid_last=893_286_638,
    n_train=79_999,
    n_valid=20_001,
    unseen_users=17_048,
    unseen_items=198,
)


def time_split_report() -> readback.Report:
    report = hand_made_report()
    return dataclasses.replace(report, split=SPLIT, config=dataclasses.replace(report.config, split="time"))


def test_a_time_split_is_recorded_with_its_cutoff_and_reads_back_exactly() -> None:
    doc = json.loads(json.dumps(to_json(time_split_report())))
    assert doc["split"] == {**dataclasses.asdict(SPLIT), "cutoff_utc": "1998-03-07T02:21:09Z"}
    back = readback.from_json(doc)
    assert to_json(back) == doc
    assert back.split == SPLIT and back.config.split == "time"
    assert ReportDoc(doc).split == "time"


def test_a_random_split_writes_no_split_and_reads_as_random() -> None:
    doc = json.loads(json.dumps(to_json(hand_made_report())))
    assert "split" not in doc and "split" not in doc["config"] and "split" not in doc["run"]
    assert readback.from_json(doc).config.split == "random"
    assert ReportDoc(doc).split == "random"


def test_runs_on_different_splits_get_no_verdict_but_say_why() -> None:
    assert compare.verdict(30.0, False, ("random", "time")) == "not comparable (random split before, time split now)"
    assert compare.verdict(-5.0, True, ("time", "random")) == "not comparable (time split before, random split now)"
    assert compare.verdict(30.0, False, ("time", "time")) == "worse"
    assert compare.verdict(0.5) == "within noise"


def test_the_comparison_carries_both_splits_and_reads_them_back() -> None:
    previous = to_json(hand_made_report())
    current = to_json(time_split_report())
    c = compare.compare(ReportDoc(previous), ReportDoc(current), "runs/x/report.json")
    assert c.splits == ("random", "time") and c.split_changed
    report = dataclasses.replace(time_split_report(), comparison=c)
    doc = json.loads(json.dumps(to_json(report)))
    assert (doc["comparison"]["previous_split"], doc["comparison"]["split"]) == ("random", "time")
    assert readback.from_json(doc).comparison == c
    same = hand_made_comparison(("A",))
    assert "split" not in to_json(dataclasses.replace(hand_made_report(), comparison=same))["comparison"]
