"""The factor-space explorer's view model: `Analysis.factor_map` as the page's one JSON island.

The page already lists every analysed item's title, most rated first (the top-items
section), so the island carries no titles: row `i` of the map is the `i`-th title of that
list, and the explorer's script reads them from there as text. What the island holds is
rationed to what the panel shows: biases to 3 decimals and mean ratings to 2 (as whole
numbers of those steps, the digits `formatting.fixed` prints), and these, the counts, each
component's scores and the neighbours as two characters of `ALPHABET` per value (`LEVELS`
steps across a component's range; a row index; a cosine in hundredths, from -1). On ML-100k's
1,000 items that is about 43 KB.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from reportgen.analysis.findings import Analysis
from reportgen.analysis.movement import MapMoves
from reportgen.errors import InputError

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # URL-safe base64, 6 bits
LEVELS = len(ALPHABET) ** 2  # two characters per value: 4,096 steps, 0 to 4,095
MIDDLE = LEVELS // 2  # a score of 0; a component's largest |score| is MIDDLE - 1 steps from it
UNKNOWN = 0  # no score is MIDDLE steps below 0: in `before`, an item the baseline does not know
BIAS_DIGITS, MEAN_DIGITS = 3, 2  # the panel's decimals
MOVE_DIGITS = 2  # a displacement's and a component's agreement, as the panel and the legend print them


@dataclass(frozen=True)
class Axis:
    """One component the reader can put on either axis, as the two menus name it."""

    index: int
    explained_variance_ratio: float


@dataclass(frozen=True)
class Explorer:
    """What the explorer section shows: how many items, the menus' components and defaults, the island."""

    n_items: int
    n_neighbours: int
    axes: tuple[Axis, ...]
    x: int  # the component across at first (the tutorial's 0)
    y: int  # and up (the tutorial's 2)
    island: str  # the JSON text, safe inside <script type="application/json"> (no `<`, `>` or `&`)
    moved: int = 0  # items whose move since the baseline the island holds (the baseline knows them); 0: no moves


def pair(value: int) -> str:
    """A whole number 0 to LEVELS - 1 as two characters of ALPHABET, the high six bits first."""
    if not 0 <= value < LEVELS:
        raise ValueError(f"{value} is outside 0 to {LEVELS - 1}")
    return ALPHABET[value // len(ALPHABET)] + ALPHABET[value % len(ALPHABET)]


def unpair(text: str, at: int) -> int:
    """The inverse of `pair`, read at position `at` of `text` (what the script does)."""
    return ALPHABET.index(text[at]) * len(ALPHABET) + ALPHABET.index(text[at + 1])


def column(values: list[int]) -> list[int] | dict[str, object]:
    """Whole numbers as pairs of characters above their least (`{"from": least, "pairs": …}`) where they
    span fewer than LEVELS steps, as they are otherwise (a JSON array)."""
    low = min(values)
    if max(values) - low < LEVELS:
        return {"from": low, "pairs": "".join(pair(v - low) for v in values)}
    return values


def steps(value: float, digits: int) -> int:
    """`value` as the whole number of `10**-digits` the page prints (`fixed`'s rounding, not `round`'s)."""
    return round(float(f"{value:.{digits}f}") * 10**digits)


def has_map(analysis: Analysis) -> bool:
    """Whether the analysis mapped two items or more on two components or more: what the explorer needs."""
    found = analysis.factor_map
    return found is not None and len(found.scores) >= 2 and found.n_components >= 2


def explorer(analysis: Analysis, moves: MapMoves | None = None) -> Explorer | None:
    """The explorer of a report whose analysis has a map (`has_map`); None for one without.

    `moves` (the review's `Movement.map_moves`, row for row with the map) adds each item's move since
    the baseline where the baseline knows one item or more; an InputError where they do not fit the map
    (a damaged report.json).
    """
    found = analysis.factor_map
    if found is None or not has_map(analysis):
        return None
    n, k = len(found.scores), found.n_components
    before = _fitting(moves, n, k)
    known = [row for row in before if row is not None] if before is not None else []
    tops = [max(abs(row[c]) for row in (*found.scores, *known)) or 1.0 for c in range(k)]
    scale = [float(f"{top / (MIDDLE - 1):.6g}") for top in tops]  # the script multiplies a step by this

    def code(value: float, c: int) -> str:
        return pair(min(LEVELS - 1, max(UNKNOWN + 1, MIDDLE + round(value / scale[c]))))

    stats = analysis.item_stats[:n]
    doc: dict[str, object] = {
        "n": n,
        "k": k,
        "scale": scale,
        "scores": "".join(code(row[c], c) for c in range(k) for row in found.scores),  # component by component
        "bias": column([steps(s.bias, BIAS_DIGITS) for s in stats]),
        "mean": column([steps(s.mean_rating, MEAN_DIGITS) for s in stats]),
        "count": column([s.count for s in stats]),
        "per": len(found.neighbours[0]),
        "neighbours": "".join(pair(j) for row in found.neighbours for j in row),
        "similarity": "".join(pair(100 + steps(v, 2)) for row in found.similarity for v in row),  # 0 is -1.00
    }
    if moves is not None and known:
        doc["before"] = "".join(
            pair(UNKNOWN) if row is None else code(row[c], c) for c in range(k) for row in before
        )  # as `scores`
        doc["moved"] = column([0 if d is None else steps(d, MOVE_DIGITS) for d in moves.displacement])
        doc["agree"] = [None if a is None else steps(a, MOVE_DIGITS) for a in moves.component_agreement]
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    ratios = analysis.explained_variance_ratio
    axes = tuple(Axis(c, ratios[c] if c < len(ratios) else 0.0) for c in range(k))
    x, y = (min(a, k - 1) for a in analysis.scatter_axes)
    return Explorer(n, doc["per"], axes, x, y if y != x else (x + 1) % k, text, len(known) if "before" in doc else 0)


def _fitting(moves: MapMoves | None, n: int, k: int) -> tuple[tuple[float, ...] | None, ...] | None:
    """`moves.before`, checked to be one row for each of the map's `n` items on its `k` components."""
    if moves is None:
        return None
    if len(moves.before) != n or len(moves.displacement) != n or len(moves.component_agreement) != k:
        raise InputError(f"review.movement.map_moves is not one row for each of the factor map's {n} items")
    if any((row is None) != (d is None) for row, d in zip(moves.before, moves.displacement)):
        raise InputError("review.movement.map_moves has a displacement where it has no position, or none where it has")
    if any(row is not None and len(row) != k for row in moves.before):
        raise InputError(f"review.movement.map_moves.before has a row that is not on the factor map's {k} components")
    return moves.before
