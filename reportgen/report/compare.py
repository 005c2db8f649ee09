"""What changed since a previous run, computed from two report.json documents.

Working on the JSON (not live objects) lets `--compare-with` take any earlier
run's file, and keeps the comparison exactly as reproducible as the files. Both
documents are read through `report.ReportDoc`, which checks every value used.
"""

from __future__ import annotations

from reportgen.report.document import ReportDoc
from reportgen.report.types import BiasMove, Comparison, ListChange
from reportgen.train.config import comparable_splits

N_BIAS_MOVES = 10


def compare(previous: ReportDoc, current: ReportDoc, previous_name: str) -> Comparison:
    """Compare two runs; lists missing from one side compare as empty."""
    before_lists, after_lists = dict(previous.ranked_lists()), current.ranked_lists()
    return Comparison(
        previous=previous_name,
        previous_generated_at=previous.generated_at,
        dataset_changed=previous.sha256 != current.sha256,
        previous_sha256=previous.sha256,
        current_sha256=current.sha256,
        valid_mse_before=previous.valid_mse,
        valid_mse_after=current.valid_mse,
        valid_rmse_before=previous.valid_rmse,
        valid_rmse_after=current.valid_rmse,
        lists=tuple(_list_change(name, before_lists.get(name, []), after) for name, after in after_lists),
        bias_moves=_bias_moves(previous.item_biases(), current.item_biases()),
        splits=(previous.split, current.split),
    )


def _list_change(name: str, before: list[str], after: list[str]) -> ListChange:
    was, now = set(before), set(after)
    return ListChange(
        name=name, entered=tuple(t for t in after if t not in was), left=tuple(t for t in before if t not in now)
    )


def _bias_moves(before: dict[str, float], after: dict[str, float]) -> tuple[BiasMove, ...]:
    moves = [BiasMove(title, before[title], bias) for title, bias in after.items() if title in before]
    moves.sort(key=lambda m: (-abs(m.change), m.title))
    return tuple(moves[:N_BIAS_MOVES])


# A change of valid RMSE smaller than this share of the previous value is noise: on
# ML-100k the tutorial preset's seeds 42, 1 and 2 give valid RMSE 0.8999, 0.9053 and
# 0.9074 (docs/training.md, "Presets"), a spread of 0.8 % from the seed alone.
NOISE_PCT = 1.0


def verdict(change_pct: float, dataset_changed: bool = False, splits: tuple[str, str] = ("random", "random")) -> str:
    """`better`, `worse` or `within noise` for a valid-RMSE change in percent (negative: better).

    Runs scored on splits that hold out different kinds of ratings (`splits`: previous, current)
    measured different things: a time split holds out the latest ratings, a random or stable one
    a share of every period (`comparable_splits`), so the verdict names the two and judges nothing.
    Random and stable are one measurement on other rows, as two seeds are: judged as usual.
    """
    if not comparable_splits(*splits):
        return f"not comparable ({splits[0]} split before, {splits[1]} split now)"
    word = "within noise" if abs(change_pct) < NOISE_PCT else ("worse" if change_pct > 0 else "better")
    return f"{word} (other data)" if dataset_changed else word
