"""Each rating's time, read into `Ratings.frame["timestamp"]` (int64 epoch seconds, UTC): ML-100k's own
timestamps, an own file's `--time-col` in epoch seconds or ISO dates and date-times with or without a
zone; a time that is missing or is none of those is one `Error:` line naming the file and line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from bs4 import BeautifulSoup

from reportgen.data import dataset as data
from reportgen.data.types import OwnData
from tests.helpers.commands import PREVIOUS_HTML, PREVIOUS_JSON, invoke, previous_report
from tests.helpers.planted import Planted

pytestmark = pytest.mark.usefixtures("undrawn")
FAST = ["--epochs", "1", "--factors", "4", "--lr", "0.01", "--bs", "8"]
DAY = 86_400
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def ratings_csv(tmp: Path, whens: list[str], *, blank_line: bool = False) -> Path:
    """user,item,rating,when: 5 users x 4 items, one rating each, their times in `whens` (cycled)."""
    lines = ["user,item,rating,when"]
    for n in range(20):
        lines.append(f"u{n % 5},i{n // 5},{1 + n % 5},{whens[n % len(whens)]}")
        if blank_line and n == 0:
            lines.append("")  # a blank line: the careful read, not pyarrow's, reads the file
    path = tmp / "ratings.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("blank_line", [False, True], ids=["fast read", "careful read"])
@pytest.mark.parametrize(
    ("when", "seconds"),
    [
        ("1704067200", T0),
        ("1704067200.75", T0),
        ("2024-01-01", T0),
        ("2024-01-01T06:30:00", T0 + 6 * 3600 + 1800),
        ("2024-01-01 06:30:00", T0 + 6 * 3600 + 1800),
        ("2024-01-01T06:30:00Z", T0 + 6 * 3600 + 1800),
        ("2024-01-01T06:30:00+02:00", T0 + 4 * 3600 + 1800),
        ("2023-12-31T23:00:00-05:00", T0 + 4 * 3600),
    ],
)
def test_epoch_seconds_and_iso_times_with_or_without_a_zone_are_utc_seconds(
    tmp_path: Path, when: str, seconds: int, blank_line: bool
) -> None:
    frame = data.load(OwnData(ratings=ratings_csv(tmp_path, [when], blank_line=blank_line), time_col="when")).frame
    assert frame["timestamp"].dtype == np.int64
    assert frame["timestamp"].tolist() == [seconds] * 20


def test_a_column_of_mixed_dates_keeps_each_ratings_own_time(tmp_path: Path) -> None:
    whens = ["2024-01-01", "2024-01-02T00:00:00+00:00", "1704240000", "2024-01-04T01:00:00+01:00"]
    frame = data.load(OwnData(ratings=ratings_csv(tmp_path, whens), time_col="when")).frame
    assert frame["timestamp"].tolist() == [T0 + (n % 4) * DAY for n in range(20)]


def test_without_a_time_column_the_frame_has_no_times(tmp_path: Path) -> None:
    assert "timestamp" not in data.load(OwnData(ratings=ratings_csv(tmp_path, ["2024-01-01"]))).frame.columns


def test_ml100k_layouts_carry_their_timestamps(planted_dir: Path, planted: Planted) -> None:
    frame = data.load(planted_dir, download=None).frame
    assert frame["timestamp"].dtype == np.int64
    assert frame["timestamp"].tolist() == [880_000_000 + n for n in range(len(planted.frame))]  # u.data's 4th column


@pytest.mark.parametrize("blank_line", [False, True], ids=["fast read", "careful read"])
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("yesterday", "time (column 'when') 'yesterday' is not epoch seconds or an ISO date or date-time"),
        ("2024-13-45", "time (column 'when') '2024-13-45' is not epoch seconds or an ISO date or date-time"),
        ("", "time (column 'when') is empty"),
    ],
    ids=["a word", "no such date", "missing"],
)
def test_a_bad_time_is_one_error_line_naming_the_line(
    tmp_path: Path, value: str, problem: str, blank_line: bool
) -> None:
    whens = ["2024-01-01"] * 6 + [value] + ["2024-01-02"] * 13  # the 7th rating: line 8, or 9 after a blank line
    path = ratings_csv(tmp_path, whens, blank_line=blank_line)
    result = invoke(
        "build", "--ratings", path, "--time-col", "when", "--split", "time", "--output", tmp_path / "o", *FAST
    )
    assert result.exit_code == 2, result.output
    line = 9 if blank_line else 8
    assert [t for t in result.stderr.splitlines() if t.startswith("Error:")] == [
        f"Error: {path}: line {line}: {problem}"
    ]
    assert "Traceback" not in result.output


def test_a_time_column_the_file_lacks_is_named(tmp_path: Path) -> None:
    path = ratings_csv(tmp_path, ["2024-01-01"])
    result = invoke("build", "--ratings", path, "--time-col", "ts", "--output", tmp_path / "o", *FAST)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == (
        f"Error: {path}: missing column(s) ts; found user, item, rating, when; name the time column with --time-col"
    )


def test_time_col_belongs_to_own_data(tmp_path: Path) -> None:
    result = invoke("build", "--time-col", "when", "--offline", "--output", tmp_path / "o")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "Error: --time-col only apply to your own data: add --ratings FILE"


def test_parquet_timestamps_and_a_bad_parquet_time_by_row(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"user": ["a", "b", "c"], "item": ["x", "y", "z"], "rating": [1.0, 2.0, 3.0]})
    stamped = frame.assign(when=pd.to_datetime(["2024-01-01T02:00:00+02:00"] * 3, utc=True))
    stamped.to_parquet(tmp_path / "stamped.parquet")
    read = data.load(OwnData(ratings=tmp_path / "stamped.parquet", time_col="when")).frame
    assert read["timestamp"].tolist() == [T0] * 3
    frame.assign(when=["2024-01-01", "2024-01-02", "soon"]).to_parquet(tmp_path / "texts.parquet")
    path = tmp_path / "texts.parquet"
    result = invoke("build", "--ratings", path, "--time-col", "when", "--output", tmp_path / "o", *FAST)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == (
        f"Error: {path}: row 3: time (column 'when') 'soon' is not epoch seconds or an ISO date or date-time"
    )


# --------------------------------------------------------------------------- times outside the years 1 to 9999

RANGE = "is outside the years 1 to 9999 (epoch seconds from -62135596800 to 253402300799)"
OVERFLOW = "overflows a 64-bit integer, so it is no time (epoch seconds from -62135596800 to 253402300799: the years 1 to 9999)"


@pytest.mark.parametrize("blank_line", [False, True], ids=["fast read", "careful read"])
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1704067200000", f"'1704067200000' {RANGE}; it looks like epoch milliseconds: divide by 1,000"),
        ("1704067200000000", f"'1704067200000000' {RANGE}; it looks like epoch microseconds: divide by 1,000,000"),
        ("-100000000000", f"'-100000000000' {RANGE}"),
        ("1e20", f"'1e20' {OVERFLOW}"),
    ],
    ids=["milliseconds", "microseconds", "before the year 1", "beyond int64"],
)
def test_a_time_outside_the_years_1_to_9999_is_refused_at_load_naming_the_line(
    tmp_path: Path, value: str, problem: str, blank_line: bool
) -> None:
    """It trained, then failed at the report with 'unexpected ValueError: year 55970 is out of range'."""
    whens = ["1704067200"] * 6 + [value] + ["1704153600"] * 13
    path = ratings_csv(tmp_path, whens, blank_line=blank_line)
    out = previous_report(tmp_path / "o")
    result = invoke("build", "--ratings", path, "--time-col", "when", "--split", "time", "--output", out, *FAST)
    assert result.exit_code == 2, result.output
    line = 9 if blank_line else 8
    assert [t for t in result.stderr.splitlines() if t.startswith("Error:")] == [
        f"Error: {path}: line {line}: time (column 'when') {problem}"
    ]
    assert "Traceback" not in result.output and "trained" not in result.stderr
    assert (out / "report.html").read_bytes() == PREVIOUS_HTML and (out / "report.json").read_bytes() == PREVIOUS_JSON


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        (np.full(20, 1_704_067_200_000, dtype=np.int64), f"'1704067200000' {RANGE}; it looks like epoch milliseconds"),
        (np.full(20, 1e20), f"'1e+20' {OVERFLOW}"),  # it wrapped: 'all 20 ratings have the same time'
        (np.full(20, 2**63 + 5, dtype=np.uint64), f"'9223372036854775813' {OVERFLOW}"),
    ],
    ids=["int64 milliseconds", "float beyond int64", "uint64 beyond int64"],
)
def test_a_parquet_time_outside_the_years_1_to_9999_is_refused_naming_the_row(
    tmp_path: Path, when: np.ndarray, problem: str
) -> None:
    import pandas as pd

    frame = pd.DataFrame({"user": [f"u{n % 5}" for n in range(20)], "item": [f"i{n // 5}" for n in range(20)]})
    when = when.copy()
    when[:4] = 1_704_067_200  # the first four rows are fine: the fifth is named
    frame.assign(rating=[1.0 + n % 5 for n in range(20)], when=when).to_parquet(tmp_path / "r.parquet")
    path = tmp_path / "r.parquet"
    result = invoke(
        "build", "--ratings", path, "--time-col", "when", "--split", "time", "--output", tmp_path / "o", *FAST
    )
    assert result.exit_code == 2, result.output
    [line] = [t for t in result.stderr.splitlines() if t.startswith("Error:")]
    assert line.startswith(f"Error: {path}: row 5: time (column 'when') {problem}")


def test_the_first_and_last_second_of_the_years_1_to_9999_are_times(tmp_path: Path) -> None:
    """The bounds themselves train, and the report writes the cutoff with a four-digit year."""
    first, last = -62_135_596_800, 253_402_300_799
    whens = [str(first + n) for n in range(15)] + [str(last - n) for n in range(5)]
    path = ratings_csv(tmp_path, whens)
    out = tmp_path / "o"
    result = invoke("build", "--ratings", path, "--time-col", "when", "--split", "time", "--output", out, *FAST)
    assert result.exit_code == 0, result.output
    frame = data.load(OwnData(ratings=path, time_col="when")).frame
    assert (frame["timestamp"].min(), frame["timestamp"].max()) == (first, last)
    page = BeautifulSoup((out / "report.html").read_text(encoding="utf-8"), "html.parser")
    periods = [" ".join(t.parent.get_text(" ", strip=True).split()) for t in page.find_all(string=re.compile(" to "))]
    assert "0001-01-01 00:00 UTC to 9999-12-31 23:59:55 UTC: 16 ratings" in periods
    assert "9999-12-31 23:59:56 UTC to 9999-12-31 23:59:59 UTC: 4 ratings" in periods
