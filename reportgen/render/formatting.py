"""The one formatter of numbers: the page's Jinja filters and report.md both write numbers through these."""

from __future__ import annotations

import datetime as dt
import math

NONE = "–"  # an undefined value, on the page and in the Markdown alike
MINUS = "−"  # U+2212 lines up with the digits


def fixed(value: float | None, digits: int = 3) -> str:
    """A number with a fixed count of decimals; a real minus sign, never "−0.000"; `–` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NONE
    text = f"{value:.{digits}f}"
    if text.startswith("-"):
        text = MINUS + text[1:]
        if text.strip(MINUS + "0.") == "":
            text = text[1:]
    return text


def signed(value: float, digits: int = 4, unit: str = "") -> str:
    """A change with its sign always shown: +0.0123, −0.0045, ±0 when nothing moved."""
    text = f"{abs(value):.{digits}f}"
    if text.strip("0.") == "":
        return f"±{text}{unit}"
    return f"{'+' if value > 0 else MINUS}{text}{unit}"


def thousands(value: int, separator: str = "\u202f") -> str:
    """An integer with thousands separators: a thin space on the page (100 000), a comma in Markdown."""
    return f"{value:,}".replace(",", separator)


def seconds(value: float) -> str:
    """A duration the way a person reads it: 0.42 s, 12.3 s, 2 min 05 s."""
    if value < 10:
        return f"{value:.2f} s"
    if value < 120:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"


def percent(ratio: float | None, digits: int = 1) -> str:
    """A ratio as a percentage, with the same true minus as `fixed`: −5.0 %; `–` for none."""
    return NONE if ratio is None else f"{fixed(100 * ratio, digits)} %"


def signed_percent(ratio: float | None, digits: int = 1) -> str:
    """A change or a difference as a ratio, its sign always shown: +6.2 %, −7.4 %, ±0.0 %; `–` for none."""
    if ratio is None or math.isnan(ratio):
        return NONE
    return signed(100 * ratio, digits, " %")


def utc(epoch_seconds: int) -> str:
    """A moment as a person reads it, in UTC: 1998-04-22 23:10 UTC (seconds shown only when not :00)."""
    moment = dt.datetime.fromtimestamp(epoch_seconds, dt.UTC)  # the year in four digits: 0001, as ISO 8601 has it
    return f"{moment.year:04d}-" + moment.strftime("%m-%d %H:%M:%S UTC" if moment.second else "%m-%d %H:%M UTC")
