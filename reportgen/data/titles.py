"""The one title cleaner: what a title may hold before a page, a figure or report.md shows it.

Control characters are invalid in HTML and can hide text, and a line break would end
a Markdown table row: line breaks (those `str.splitlines` knows) become one space,
every other C0 and C1 control character goes. `clean_titles` does the same to a whole
vocabulary at once (pandas), `clean_title` to one string.

A title is kept whole while report.json writes it in at most `MAX_TITLE_BYTES` bytes
(300 ASCII characters, about 150 accented or 100 CJK ones); a longer one is cut there at
load (`cap_titles`, ending in "…"), so that report.json, the page and report.md stay
within their size budgets whatever the data holds. `cut` is the one way a title is
shortened to a number of characters, wherever a page or a figure shows less of it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

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
    never merges two items. Costs one pass over the vocabulary, a loop over the cut ones only.
    """
    size = titles.str.encode("utf-8").str.len() + titles.str.count('"') + titles.str.count(r"\\")
    long = (size > MAX_TITLE_BYTES).to_numpy()
    if not long.any():
        return titles, 0
    whole = sorted(set(titles[long]))
    taken = set(titles[~long])
    shortened = {}
    for title in whole:
        candidate, n = cut_to_bytes(title, MAX_TITLE_BYTES), 1
        while candidate in taken:
            n += 1
            suffix = f" [{n}]"
            candidate = cut_to_bytes(title, MAX_TITLE_BYTES - len(suffix)) + suffix
        taken.add(candidate)
        shortened[title] = candidate
    return titles.where(~long, titles.map(shortened)), len(whole)


def cut_note(n_cut: int) -> str:
    """The report's note about `cap_titles`: how many titles were cut, and where."""
    return (
        f"{n_cut} title(s) were longer than {MAX_TITLE_BYTES} bytes (UTF-8); each was cut there, ending in '{ELLIPSIS}'"
    )
