"""report/schema.py: a dataclass written by `encode` reads back by `decode` as itself, checked value by value."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from reportgen.report.schema import decode, encode
from reportgen.report.types import Comparison, WrongType
from tests.helpers.reports import hand_made_comparison


@dataclass(frozen=True)
class Inner:
    name: str
    share: float


@dataclass(frozen=True)
class Outer:
    count: int
    inners: tuple[Inner, ...]
    pair: tuple[float, float]
    best: Inner | None
    by_name: dict[str, float]
    added_later: str = "default"


OUTER = Outer(3, (Inner("a", 0.5), Inner("b & <c>", 1.25)), (0.1, -0.2), None, {"x": 1.0}, "given")


def through_json(value: object) -> object:
    return json.loads(json.dumps(value, allow_nan=False))


def test_a_value_reads_back_as_itself() -> None:
    assert decode(Outer, through_json(encode(OUTER))) == OUTER
    comparison = hand_made_comparison(("Alpha (1990)", "Beta & Sons", "Gamma (1992)"))
    assert decode(Comparison, through_json(encode(comparison))) == comparison  # a report part, nested lists


def test_fields_are_written_in_declaration_order_as_plain_json() -> None:
    assert encode(OUTER) == {
        "count": 3,
        "inners": [{"name": "a", "share": 0.5}, {"name": "b & <c>", "share": 1.25}],
        "pair": [0.1, -0.2],
        "best": None,
        "by_name": {"x": 1.0},
        "added_later": "given",
    }


def test_a_file_written_before_a_field_existed_reads_with_its_default() -> None:
    doc = through_json(encode(OUTER))
    del doc["added_later"]
    assert decode(Outer, doc).added_later == "default"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("count"), "count is missing"),
        (lambda d: d.update(extra=1), "extra is not a key of Outer"),
        (lambda d: d.update(count="3"), "count is '3', not a whole number"),
        (lambda d: d["inners"][1].update(share=None), "inners[1].share is None, not a finite number"),
        (lambda d: d.update(pair=[0.1]), "pair is [0.1], not a list of 2 values"),
        (lambda d: d.update(best=[]), "best is [], not an object"),
    ],
    ids=["missing", "unknown", "wrong-type", "null-number", "short-pair", "list-for-object"],
)
def test_a_damaged_value_is_refused_by_its_path(change, message: str) -> None:
    doc = through_json(encode(OUTER))
    change(doc)
    with pytest.raises(WrongType) as refused:
        decode(Outer, doc)
    assert message in str(refused.value)


def test_a_non_finite_number_is_never_written() -> None:
    with pytest.raises(ValueError, match="nan"):
        encode(Inner("a", float("nan")))
