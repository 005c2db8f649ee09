"""The one title cleaner: what a title may hold before a page, a figure or report.md shows it.

Control characters are invalid in HTML and can hide text, and a line break would end
a Markdown table row: line breaks (those `str.splitlines` knows) become one space,
every other C0 and C1 control character goes. `clean_titles` does the same to a whole
vocabulary at once (pandas), `clean_title` to one string.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

LINE_BREAKS = r"[\n\r\t\v\f\x1c-\x1e\x85\u2028\u2029]+"
CONTROLS = r"[\x00-\x1f\x7f-\x9f]"
_LINE_BREAKS, _CONTROLS = re.compile(LINE_BREAKS), re.compile(CONTROLS)


def clean_title(text: str) -> str:
    """`text` on one line, without control characters."""
    return _CONTROLS.sub("", _LINE_BREAKS.sub(" ", text))


def clean_titles(titles: pd.Series) -> pd.Series:
    """`clean_title` of every string in `titles`, vectorised."""
    return titles.str.replace(LINE_BREAKS, " ", regex=True).str.replace(CONTROLS, "", regex=True)
