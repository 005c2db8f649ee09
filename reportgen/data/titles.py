"""The one title cleaner: what a title may hold before a page, a figure or report.md shows it.

Control characters are invalid in HTML and can hide text, and a line break would end
a Markdown table row: line breaks (those `str.splitlines` knows) become one space,
every other C0 and C1 control character goes. `clean_titles` does the same to a whole
vocabulary at once (pandas), `clean_title` to one string.

A title is kept whole while report.json writes it in at most `MAX_TITLE_BYTES` bytes
(300 ASCII characters, about 150 accented or 100 CJK ones); a longer one is cut there at
load (`cap_titles`, ending in "…"), so that report.json stays within its size budget
whatever the data holds; from there on the page and report.md show every title whole.
`cut` is the one way a title is shortened to a number of characters, where a figure's
label shows less of it (the whole title on hover).
`item_titles` applies both to the readers' item labels (noting what changed), and
`ids_as_titles` to ids that are their own labels where a file has no titles.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pandas as pd

LINE_BREAKS = r"[\n\r\t\v\f\x1c-\x1e\x85\u2028\u2029]+"
CONTROLS = r"[\x00-\x1f\x7f-\x9f]"
_LINE_BREAKS, _CONTROLS = re.compile(LINE_BREAKS), re.compile(CONTROLS)
MAX_TITLE_BYTES = 300  # the longest title kept whole, in bytes as report.json writes it (UTF-8, \" and \\ escaped)
ELLIPSIS = "…"


def clean_title(text: str) -> str:
    """`text` on one line, without control characters."""
    return _CONTROLS.sub("", _LINE_BREAKS.sub(" ", text))


def clean_titles(titles: pd.Series) -> pd.Series:
    """`clean_title` of every string in `titles`, vectorised."""
    return titles.str.replace(LINE_BREAKS, " ", regex=True).str.replace(CONTROLS, "", regex=True)


def cut(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else its start and "…", `limit` characters at most."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def json_bytes(text: str) -> int:
    """How many bytes report.json takes to write `text` (without its quotes): UTF-8, `"` and `\\` escaped."""
    return len(text.encode("utf-8")) + text.count('"') + text.count("\\")


def cut_to_bytes(text: str, limit: int, size: Callable[[str], int] = json_bytes) -> str:
    """`text` if its `size` is at most `limit`, else its longest start that fits with "…" after it.

    `size`: how many bytes a piece of text takes where it is written (report.json's by default).
    """
    if size(text) <= limit:
        return text
    room, used = limit - size(ELLIPSIS), 0
    for end, char in enumerate(text):
        used += size(char)
        if used > room:
            return text[:end].rstrip() + ELLIPSIS
    return text


def cap_titles(titles: pd.Series) -> tuple[pd.Series, int]:
    """Every string in `titles` cut to `MAX_TITLE_BYTES`, and how many distinct titles were cut.

    Equal titles stay equal (they are one item); distinct long titles that the cut would
    make equal are told apart by " [2]", " [3]"… in the order of their whole text, so cutting
    never merges two items: each takes the smallest number whose cut title is not yet taken.
    Costs one pass over the vocabulary and, for each cut title, a few cuts of its first 300
    bytes: where thousands share those bytes, the numbers already taken are remembered per
    cut and per number of digits (`_numbered`), never tried again.
    """
    size = titles.str.encode("utf-8").str.len() + titles.str.count('"') + titles.str.count(r"\\")
    long = (size > MAX_TITLE_BYTES).to_numpy()
    if not long.any():
        return titles, 0
    whole = sorted(set(titles[long]))
    taken = set(titles[~long])
    tried: dict[tuple[int, str], int] = {}
    shortened = {}
    for title in whole:
        cuts = _cuts(title)
        candidate = cuts(MAX_TITLE_BYTES)
        if candidate in taken:
            candidate = _numbered(cuts, taken, tried)
        taken.add(candidate)
        shortened[title] = candidate
    return titles.where(~long, titles.map(shortened)), len(whole)


def _cuts(text: str) -> Callable[[int], str]:
    """`cut_to_bytes(text, limit)` for any `limit` up to `MAX_TITLE_BYTES`, where `text` is longer: the bytes of
    its first characters summed once, each cut then found by bisection."""
    import bisect
    import itertools

    ends = list(itertools.accumulate(json_bytes(char) for char in text[: MAX_TITLE_BYTES + 1]))
    room = json_bytes(ELLIPSIS)

    def cut_at(limit: int) -> str:
        return text[: bisect.bisect_right(ends, limit - room)].rstrip() + ELLIPSIS

    return cut_at


def _numbered(cuts: Callable[[int], str], taken: set[str], tried: dict[tuple[int, str], int]) -> str:
    """The cut title with the smallest " [n]" (n from 2) that is not `taken`.

    A suffix of d digits leaves the same cut for every n of d digits, so `tried[(d, cut)]` keeps
    the first such n not yet found taken: every smaller one is (titles are only ever added to
    `taken`), and each (cut, n) is looked at once over all titles."""
    digits = 1
    while True:
        stem = cuts(MAX_TITLE_BYTES - len(" []") - digits)
        key, stop = (digits, stem), 10**digits
        n = tried.get(key, 2 if digits == 1 else stop // 10)
        while n < stop:
            candidate, n = f"{stem} [{n}]", n + 1
            if candidate not in taken:
                tried[key] = n
                return candidate
        tried[key] = n
        digits += 1


def cut_note(n_cut: int) -> str:
    """The report's note about `cap_titles`: how many titles were cut, and where."""
    return (
        f"{n_cut} title(s) were longer than {MAX_TITLE_BYTES} bytes (UTF-8); each was cut there, ending in '{ELLIPSIS}'"
    )


def with_cut_note(notes: list[str], n_cut: int) -> list[str]:
    """`notes` with one `cut_note` of `n_cut` titles in place of any earlier one (labels cut twice: noted once)."""
    earlier = cut_note(0).split(" ", 1)[1]
    kept = [note for note in notes if note.split(" ", 1)[-1] != earlier]
    return kept + [cut_note(n_cut)] if n_cut else kept


def item_titles(label: pd.Series, codes: np.ndarray, notes: list[str] | None) -> pd.Categorical:
    """Each rating's title from its item's `label` (indexed by item code): cleaned and cut, each change noted."""
    import pandas as pd

    cleaned = clean_titles(label)
    changed = int((cleaned != label).sum())  # per item, not per rating: one pass over the vocabulary
    if changed and notes is not None:
        notes.append(f"{changed} title(s) held control characters (NUL, BEL, ESC, line breaks…); they were removed")
    cleaned, n_cut = cap_titles(cleaned)
    if n_cut and notes is not None:
        notes.append(cut_note(n_cut))
    label_codes, uniques = pd.factorize(cleaned.to_numpy(), sort=True)
    return pd.Categorical.from_codes(label_codes[codes], categories=pd.Index(uniques, dtype="str"))


def ids_as_titles(item: pd.Series, notes: list[str]) -> pd.Series | pd.Categorical:
    """The item ids as their labels, where there are no titles: integers as they are, string ids cleaned and
    cut like any title (an id may be as long and as odd as the file holds)."""
    import pandas as pd

    if not isinstance(item.dtype, pd.CategoricalDtype) or pd.api.types.is_integer_dtype(item.cat.categories.dtype):
        return item
    categories = item.cat.categories
    label = pd.Series(categories.astype(str), dtype=object)
    if not (clean_titles(label) != label).any() and cap_titles(label)[1] == 0:
        return item  # nothing to clean or cut: the ids themselves, as before
    return item_titles(label, item.cat.codes.to_numpy(), notes)
