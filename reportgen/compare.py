"""What changed since a previous run, computed from two `report.json` documents.

Working on the JSON (not live objects) lets `--compare-with` take any earlier
run's file, and keeps the comparison exactly as reproducible as the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

N_BIAS_MOVES = 10


@dataclass(frozen=True)
class ListChange:
    """Titles that entered or left one of the report's ranked lists."""

    name: str  # e.g. "Lowest biases", "Component 0, highest scores"
    entered: tuple[str, ...]
    left: tuple[str, ...]


@dataclass(frozen=True)
class BiasMove:
    title: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class Comparison:
    previous: str  # path of the report.json compared with
    previous_generated_at: str
    dataset_changed: bool
    previous_sha256: str
    current_sha256: str
    valid_mse_before: float
    valid_mse_after: float
    valid_rmse_before: float
    valid_rmse_after: float
    lists: tuple[ListChange, ...]
    bias_moves: tuple[BiasMove, ...]  # largest absolute moves among items in both runs' top items

    @property
    def rmse_change_pct(self) -> float:
        """How much worse (positive) or better (negative) valid RMSE got, in percent."""
        if self.valid_rmse_before <= 0:
            return 0.0  # no meaningful percentage of nothing
        return 100.0 * (self.valid_rmse_after - self.valid_rmse_before) / self.valid_rmse_before

    @property
    def changed_lists(self) -> tuple[ListChange, ...]:
        return tuple(c for c in self.lists if c.entered or c.left)


def compare(previous: dict[str, Any], current: dict[str, Any], previous_path: str) -> Comparison:
    """Compare two report.json documents (both need `metrics`); missing lists compare as empty."""
    return Comparison(
        previous=previous_path,
        previous_generated_at=str(previous.get("generated_at", "")),
        dataset_changed=_get(previous, "dataset", "sha256") != _get(current, "dataset", "sha256"),
        previous_sha256=str(_get(previous, "dataset", "sha256") or ""),
        current_sha256=str(_get(current, "dataset", "sha256") or ""),
        valid_mse_before=float(previous["metrics"]["valid_mse"]),
        valid_mse_after=float(current["metrics"]["valid_mse"]),
        valid_rmse_before=float(previous["metrics"]["valid_rmse"]),
        valid_rmse_after=float(current["metrics"]["valid_rmse"]),
        lists=tuple(
            _list_change(name, before, after)
            for (name, before), (_, after) in zip(_ranked_lists(previous), _ranked_lists(current))
        ),
        bias_moves=_bias_moves(previous, current),
    )


def _get(doc: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)  # type: ignore[assignment]
    return doc


def _ranked_lists(doc: dict[str, Any]) -> list[tuple[str, list[str]]]:
    lists = [
        ("Lowest biases", [e["title"] for e in _get(doc, "bias", "worst") or []]),
        ("Highest biases", [e["title"] for e in _get(doc, "bias", "best") or []]),
    ]
    components = {c["index"]: c for c in _get(doc, "pca", "components") or []}
    for index in range(3):
        component = components.get(index, {})
        lists.append((f"Component {index}, highest scores", [e["title"] for e in component.get("top", [])]))
        lists.append((f"Component {index}, lowest scores", [e["title"] for e in component.get("bottom", [])]))
    return lists


def _list_change(name: str, before: list[str], after: list[str]) -> ListChange:
    was, now = set(before), set(after)
    return ListChange(name=name, entered=tuple(t for t in after if t not in was), left=tuple(t for t in before if t not in now))


def _bias_moves(previous: dict[str, Any], current: dict[str, Any]) -> tuple[BiasMove, ...]:
    before = {e["title"]: e["bias"] for e in previous.get("items", [])}
    moves = [BiasMove(e["title"], before[e["title"]], e["bias"]) for e in current.get("items", []) if e["title"] in before]
    moves.sort(key=lambda m: (-abs(m.change), m.title))
    return tuple(moves[:N_BIAS_MOVES])
