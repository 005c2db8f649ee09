"""A time split in report.json: recorded with its cutoff and read back exactly; the comparison of two runs
scored on different splits is never judged as one measurement; reports without `split` read as random;
random and stable splits are one measurement."""

from __future__ import annotations

import dataclasses
import json

import pytest

from reportgen import report as readback
from reportgen.report import ReportDoc, compare, to_json
from reportgen.train import TimeSplit, TrainConfig
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


def test_config_split_states_the_kind_and_a_report_json_from_before_it_reads_as_before() -> None:
    for kind in ("random", "stable"):
        report = dataclasses.replace(hand_made_report(), config=TrainConfig(split=kind))
        doc = json.loads(json.dumps(to_json(report)))
        assert doc["config"]["split"] == kind and "split" not in doc and "split" not in doc["run"]
        assert readback.from_json(doc).config.split == kind and ReportDoc(doc).split == kind
    older = json.loads(json.dumps(to_json(hand_made_report())))
    del older["config"]["split"]  # written before config.split: random, or a time split's `split` object
    assert ReportDoc(older).split == "random"
    older_time = json.loads(json.dumps(to_json(time_split_report())))
    del older_time["config"]["split"]
    assert ReportDoc(older_time).split == "time"
    with pytest.raises(ValueError, match="its split is .auto., not random, stable or time"):
        ReportDoc({**older, "config": {**older["config"], "split": "auto"}}).split  # noqa: B018


def test_runs_on_different_splits_get_no_verdict_but_say_why() -> None:
    assert compare.verdict(30.0, False, ("random", "time")) == "not comparable (random split before, time split now)"
    assert compare.verdict(-5.0, True, ("time", "random")) == "not comparable (time split before, random split now)"
    assert compare.verdict(2.0, False, ("stable", "time")) == "not comparable (stable split before, time split now)"
    assert compare.verdict(30.0, False, ("time", "time")) == "worse"
    assert compare.verdict(0.5) == "within noise"


def test_random_and_stable_splits_are_one_measurement_judged_as_usual() -> None:
    """Both hold out a random share of every period, on other rows, as another seed would."""
    assert compare.verdict(-5.0, False, ("random", "stable")) == "better"
    assert compare.verdict(0.5, True, ("stable", "random")) == "within noise (other data)"
    same = dataclasses.replace(hand_made_comparison(("A",)), splits=("random", "stable"))
    assert not same.split_changed
    assert dataclasses.replace(same, splits=("stable", "time")).split_changed


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
