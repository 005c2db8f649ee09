"""Ordinary data never crashes after training, and no title outgrows the report's size budget.

Small random data sets of every shape a real export takes (one user, a few heavy raters,
constant or half-star ratings) run the whole analysis; titles of any length are cut at
load to what report.json holds (300 bytes), and shown whole from there on: report.json and
the history page keep their budgets, and the page keeps its own bytes in budget with every
title whole on top.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from reportgen.analysis import analyse
from reportgen.analysis.findings import ItemStat, bias_vs_mean, raters_means
from reportgen.data import OwnData, load
from reportgen.data.titles import MAX_TITLE_BYTES, cap_titles, cut_to_bytes, json_bytes
from reportgen.runs import history
from reportgen.train import TrainConfig, fit
from tests.helpers.commands import invoke
from tests.helpers.pages import PAGE_BYTES, own_bytes

FAST = ["--epochs", "1", "--factors", "4", "--no-model"]
TINY = TrainConfig(epochs=1, factors=4)
JSON_BYTES = 1_000_000


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def random_ratings(seed: int) -> pd.DataFrame:
    """Distinct (user, item) pairs, at least 100 of them over at least 3 items, in one of several shapes."""
    rng = np.random.default_rng(seed)
    n_users = int(rng.choice([1, 2, 3, 5, 10, 10, 10, 30]))
    n_items = max(int(rng.choice([3, 10, 50, 100, 100, 200])), -(-100 // n_users))
    n = int(rng.integers(100, min(n_users * n_items, 400) + 1))
    cells = rng.choice(n_users * n_items, n, replace=False)
    kind = seed % 4
    if kind == 0:
        rating = rng.integers(1, 6, n).astype(float)  # whole stars
    elif kind == 1:
        rating = rng.integers(1, 11, n) / 2  # half stars
    elif kind == 2:
        rating = np.where(rng.random(n) < 0.5, 1.0, 5.0)  # love it or hate it
    else:
        rating = np.full(n, 4.0)  # no spread at all
    return pd.DataFrame({"user": cells // n_items + 1, "item": cells % n_items + 1, "rating": rating})


# --------------------------------------------------------------------------- item 2: never crash after training


def test_every_user_with_a_distinct_mean_gives_each_item_its_raters_mean() -> None:
    """The user column is a Categorical; when each user's mean differs the per-user means are still numbers."""
    frame = pd.DataFrame(
        {
            "user": pd.Categorical([1, 1, 2, 2, 3]),
            "title": pd.Categorical(["A", "B", "A", "C", "C"]),
            "rating": [5.0, 4.0, 2.0, 3.0, 1.0],
        }
    )
    stats = (ItemStat("A", 0.5, 3.5, 2), ItemStat("B", 0.1, 4.0, 1), ItemStat("C", -0.6, 2.0, 2))
    found = bias_vs_mean(stats, *raters_means(frame))
    # users' means: 4.5, 2.5, 1.0; A is rated by users 1 and 2, B by 1, C by 2 and 3.
    raters = {d.title: d.raters_mean for d in found.high_mean_low_bias + found.low_mean_high_bias}
    assert raters == {t: m for t, m in {"A": 3.5, "B": 4.5, "C": 1.75}.items() if t in raters}
    assert raters  # at least one item parts from its mean here


@pytest.mark.parametrize("seed", range(24))
def test_random_small_data_sets_analyse_to_sane_numbers(seed: int, tmp_path: Path) -> None:
    """The real load, fit and analysis on 24 seeded random data sets: it completes and every number is sane."""
    frame = random_ratings(seed)
    ratings = load(OwnData(write_csv(tmp_path / "ratings.csv", frame)), download=None)
    low, high = frame["rating"].min(), frame["rating"].max()
    result = analyse(ratings, fit(ratings, TINY))
    assert 2 <= len(result.top_items) == len(set(result.top_items)) <= frame["item"].nunique()
    assert sum(s.count for s in result.item_stats) <= len(frame)
    for s in result.item_stats:
        assert math.isfinite(s.bias) and low <= s.mean_rating <= high and s.count >= 1
    b = result.bias_vs_mean
    assert -1.0 <= b.correlation <= 1.0
    for d in b.high_mean_low_bias + b.low_mean_high_bias:
        assert d.title in result.top_items and low <= d.raters_mean <= high and d.reason
    assert {d.title for d in b.high_mean_low_bias}.isdisjoint(d.title for d in b.low_mean_high_bias)
    assert all(math.isfinite(x) for x in vars(result.baselines).values())


def test_a_single_user_export_builds_a_report(tmp_path: Path, undrawn: None) -> None:
    """One person's ratings of 120 items: every item's raters average that person's own mean."""
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"user": 1, "item": range(1, 121), "rating": rng.integers(1, 6, 120)})
    result = invoke(
        "build", "--offline", "--ratings", write_csv(tmp_path / "mine.csv", frame), "-o", tmp_path / "o", *FAST
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))
    disagreements = (
        doc["insight"]["bias_vs_mean"]["high_mean_low_bias"] + doc["insight"]["bias_vs_mean"]["low_mean_high_bias"]
    )
    assert disagreements
    assert [d["raters_mean"] for d in disagreements] == pytest.approx([frame["rating"].mean()] * len(disagreements))


# --------------------------------------------------------------------------- item 11: titles of any length


def test_a_long_title_is_cut_once_and_distinct_long_titles_stay_distinct() -> None:
    stem = "A" * MAX_TITLE_BYTES
    titles = pd.Series([stem + "one", stem + "two", stem + "one", "Short (1990)", "B" * MAX_TITLE_BYTES])
    capped, n_cut = cap_titles(titles)
    assert n_cut == 2  # two distinct titles were too long; the third row repeats the first
    assert capped[0] == capped[2] == stem[: MAX_TITLE_BYTES - 3] + "…"  # "…" is 3 bytes of UTF-8
    assert capped[1] == stem[: MAX_TITLE_BYTES - 7] + "… [2]"  # the cut would have merged two items
    assert capped[3] == "Short (1990)" and capped[4] == "B" * MAX_TITLE_BYTES  # at the limit: kept whole


def numbered_as_the_rule_says(titles: list[str]) -> dict[str, str]:
    """The numbering rule, spelled out the plain way: long titles in the order of their whole text, each
    taking the smallest n (1: no suffix, then " [2]", " [3]"…) whose cut title is not yet taken."""
    taken = {t for t in titles if json_bytes(t) <= MAX_TITLE_BYTES}
    named = {}
    for title in sorted({t for t in titles if json_bytes(t) > MAX_TITLE_BYTES}):
        candidate, n = cut_to_bytes(title, MAX_TITLE_BYTES), 1
        while candidate in taken:
            n += 1
            candidate = cut_to_bytes(title, MAX_TITLE_BYTES - len(f" [{n}]")) + f" [{n}]"
        taken.add(candidate)
        named[title] = candidate
    return named


def test_titles_sharing_their_first_300_bytes_are_numbered_by_the_rule_across_digits() -> None:
    """130 long titles share a cut, so the numbers go past 9 and 99 (where the longer suffix cuts the title
    earlier); short titles already hold some numbered names; quotes and wide characters are in the cuts.
    Each title gets the number the plain rule gives."""
    stem = 'Ein "Film" über ' + "é" * 60 + "x" * 200
    titles = [stem + f"{n:03d}" for n in range(130)] + [stem[:100] + "日" * 100 + str(n) for n in range(12)]
    short = [cut_to_bytes(stem, MAX_TITLE_BYTES - len(f" [{n}]")) + f" [{n}]" for n in (2, 3, 9, 10, 11, 100)]
    vocabulary = titles + short + titles[:7]  # a title repeated stays one item
    capped, n_cut = cap_titles(pd.Series(vocabulary))
    assert n_cut == len(titles)
    expected = numbered_as_the_rule_says(vocabulary)
    assert capped.tolist() == [expected.get(t, t) for t in vocabulary]
    numbers = [int(t.rsplit(" [", 1)[1][:-1]) if t.endswith("]") else 1 for t in capped[:130]]
    assert numbers == [1, *range(4, 9), *range(12, 100), *range(101, 137)]  # 2, 3, 9, 10, 11, 100 were taken
    assert len(set(capped)) == len(set(vocabulary))  # nothing merged


def test_ten_thousand_long_titles_sharing_their_first_300_bytes_cost_one_pass_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Capping was quadratic in such titles (2,000 of them: 94 s; 10,000: about 40 minutes); now each title's
    bytes are counted once: 10,000 titles of 320 bytes measure at most 301 characters each."""
    from reportgen.data import titles as module

    measured = 0

    def counted(text: str) -> int:
        nonlocal measured
        measured += 1
        return json_bytes(text)

    monkeypatch.setattr(module, "json_bytes", counted)
    stem = "The same long beginning of a title, " * 9
    vocabulary = pd.Series([stem + f"{n:05d}" for n in range(10_000)])
    capped, n_cut = cap_titles(vocabulary)
    assert n_cut == 10_000 and capped.nunique() == 10_000
    assert capped.iloc[-1] == cut_to_bytes(stem, MAX_TITLE_BYTES - len(" [10000]")) + " [10000]"
    assert measured <= 10_000 * (MAX_TITLE_BYTES + 1 + 2)  # each title's characters, and the ellipsis


@pytest.mark.parametrize(
    ("char", "kept"),
    [("a", 297), ("é", 148), ("日", 99), ("😀", 74), ('"', 148), ("\\", 148)],
    ids=["ascii", "accented", "cjk", "emoji", "quote", "backslash"],
)
def test_a_title_is_cut_where_report_json_would_write_300_bytes(char: str, kept: int) -> None:
    (capped,), n_cut = cap_titles(pd.Series([char * 5000]))
    assert (capped, n_cut) == (char * kept + "…", 1)
    assert len(json.dumps(capped, ensure_ascii=False).encode("utf-8")) - 2 <= MAX_TITLE_BYTES


def long_titled(tmp: Path, n_items: int, title_chars: int, n_users: int = 30, char: str = "é") -> Path:
    """Every user rates every item; each item's title is given once (on user 1's row) and is `title_chars` long."""
    rng = np.random.default_rng(1)
    users, items = np.meshgrid(np.arange(1, n_users + 1), np.arange(1, n_items + 1), indexing="ij")
    frame = pd.DataFrame({"user": users.ravel(), "item": items.ravel(), "rating": rng.integers(1, 6, users.size)})
    frame["title"] = np.where(frame["user"] == 1, [f"Item {i:05d} " + char * title_chars for i in frame["item"]], "")
    frame["title"] = frame["title"].str.slice(0, title_chars)
    return write_csv(tmp / "long.csv", frame)


def assert_within_budget(out: Path, n_cut: int) -> dict:
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    html = (out / "report.html").read_text(encoding="utf-8")
    assert (out / "report.json").stat().st_size <= JSON_BYTES
    titles = doc["top_items"]
    assert own_bytes(html, titles) <= PAGE_BYTES
    shown = [li.get_text() for li in BeautifulSoup(html, "html.parser").select("#top-items ol li")]
    assert shown == titles  # whole, as report.json holds them
    note = f"{n_cut} title(s) were longer than {MAX_TITLE_BYTES} bytes (UTF-8); each was cut there, ending in '…'"
    assert note in doc["notes"]
    assert note in BeautifulSoup(html, "html.parser").get_text(" ")
    assert all(t.endswith("…") and json_bytes(t) <= MAX_TITLE_BYTES for t in doc["top_items"])
    (row,) = history.collect(out)
    assert row.problem is None and row.valid_rmse == doc["metrics"]["valid_rmse"]
    assert "damaged or foreign" not in (out / "index.html").read_text(encoding="utf-8")
    return doc


def test_five_one_megabyte_titles_keep_every_size_promise(tmp_path: Path) -> None:
    path = long_titled(tmp_path, n_items=8, title_chars=1_000_000, n_users=15)
    result = invoke("build", "--offline", "--ratings", path, "-o", tmp_path / "o", *FAST)
    assert result.exit_code == 0, result.output
    doc = assert_within_budget(tmp_path / "o", n_cut=8)
    assert doc["top_items"][0] == "Item 00001 " + "é" * 143 + "…"  # as much of it as 300 bytes hold


@pytest.mark.parametrize("char", ["é", "&", "😀", "\\"], ids=["accented", "ampersand", "emoji", "backslash"])
def test_a_thousand_long_titles_keep_every_size_promise(char: str, tmp_path: Path) -> None:
    """1,100 items, every title over the limit: the page lists all 1,000 analysed ones whole, and its own
    bytes stay in budget.

    `&` is 1 byte in report.json and 5 on the page (`&amp;`), `\\` 2 in report.json: the worst cases.
    """
    path = long_titled(tmp_path, n_items=1100, title_chars=5000, n_users=12, char=char)
    result = invoke("build", "--offline", "--ratings", path, "-o", tmp_path / "o", *FAST)
    assert result.exit_code == 0, result.output
    doc = assert_within_budget(tmp_path / "o", n_cut=1100)
    assert len(doc["top_items"]) == 1000
    soup = BeautifulSoup((tmp_path / "o" / "report.html").read_text(encoding="utf-8"), "html.parser")
    listed = [li.get_text() for li in soup.select("#top-items ol li")]
    assert len(listed) == 1000 and all(t.startswith("Item ") and t.endswith("…") for t in listed)


@pytest.mark.parametrize("item_key", ["title", "id"])
def test_ids_that_are_the_labels_are_cleaned_and_cut_like_titles(item_key: str, tmp_path: Path) -> None:
    """No title column: the ids are the labels, so a long or control-laden id is cut and cleaned, noted once."""
    ids = ["I" * 400 + str(i) for i in range(5)] + ["red\x1b[31m"]
    frame = pd.DataFrame(
        [(u, ids[i], 1 + (u + i) % 5) for u in range(30) for i in range(6)], columns=["user", "item", "rating"]
    )
    ratings = load(OwnData(write_csv(tmp_path / "ids.csv", frame)), download=None, item_key=item_key)
    labels = list(ratings.frame["title"].cat.categories)
    assert ratings.n_titles == 6  # cutting merged no items
    assert "red[31m" in labels and all(json_bytes(t) <= MAX_TITLE_BYTES for t in labels)
    cut = [n for n in ratings.notes if "were longer than" in n]
    assert cut == [f"5 title(s) were longer than {MAX_TITLE_BYTES} bytes (UTF-8); each was cut there, ending in '…'"]
    assert "1 title(s) held control characters (NUL, BEL, ESC, line breaks…); they were removed" in ratings.notes


# --------------------------------------------------------------------------- item 12: bad input said as bad input

PREVIOUS = b"<p>yesterday's report</p>\n"
SAME_COLUMNS = "the user, the item and the rating each need a column of their own"


def plain_ratings(tmp: Path) -> Path:
    path = tmp / "ratings.csv"
    path.write_text("user,item,rating\n" + "".join(f"{r // 6},{r % 6},{1 + r % 5}\n" for r in range(90)), "ascii")
    return path


def encrypted_zip(tmp: Path, inner: str, files: dict[str, str]) -> Path:
    """A zip whose members are encrypted with a password (Info-ZIP's `zip -P`), as a user's export might be."""
    import shutil
    import subprocess

    if shutil.which("zip") is None:
        pytest.skip("needs Info-ZIP's zip to make an encrypted archive (Python's zipfile cannot)")
    folder = tmp / "plain"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="ascii")
    subprocess.run(["zip", "-q", "-P", "secret", "-r", str(tmp / inner), *files], cwd=folder, check=True)
    return tmp / inner


def _encrypted_ratings(tmp: Path):
    path = encrypted_zip(tmp, "ratings.zip", {"ratings.csv": plain_ratings(tmp).read_text()})
    return ["--ratings", path], f"Error: {path}: ratings.csv is encrypted (a password-protected zip); extract it first"


def _encrypted_grouplens(tmp: Path):
    path = encrypted_zip(tmp, "ml-100k.zip", {"ml-100k/u.data": "1\t1\t5\t0\n", "ml-100k/u.item": "1|A (1990)|\n"})
    return ["--data", path], f"Error: {path}: ml-100k/u.data is encrypted (a password-protected zip); extract it first"


def _utf16_on_ascii(tmp: Path):
    path = plain_ratings(tmp)
    return ["--ratings", path, "--encoding", "utf-16"], (
        f"Error: {path}: not valid utf-16 (UTF-16 stream does not start with BOM); pass --encoding utf-16-le or "
        "utf-16-be for UTF-16 without a byte-order mark, or the file's own encoding (utf-8 for plain ASCII)"
    )


def _utf32_on_ascii(tmp: Path):
    path = plain_ratings(tmp)
    return ["--ratings", path, "--encoding", "utf-32"], (
        f"Error: {path}: not valid utf-32 (byte 0x75 at offset 0); pass --encoding latin-1 if that is the file's encoding"
    )


def _same_user_and_item(tmp: Path):
    path = plain_ratings(tmp)
    return ["--ratings", path, "--user-col", "user", "--item-col", "user"], (
        f"Error: {path}: --user-col and --item-col both name column 'user'; {SAME_COLUMNS}"
    )


def _rating_is_the_item(tmp: Path):
    path = plain_ratings(tmp)
    return ["--ratings", path, "--rating-col", "item"], (
        f"Error: {path}: --item-col and --rating-col both name column 'item'; {SAME_COLUMNS}"
    )


def _rating_is_the_user(tmp: Path):
    path = plain_ratings(tmp)
    return ["--ratings", path, "--user-col", "rating"], (
        f"Error: {path}: --user-col and --rating-col both name column 'rating'; {SAME_COLUMNS}"
    )


BAD_INPUT = [
    ("password-protected zip of ratings", _encrypted_ratings),
    ("password-protected GroupLens zip", _encrypted_grouplens),
    ("--encoding utf-16 on an ASCII file", _utf16_on_ascii),
    ("--encoding utf-32 on an ASCII file", _utf32_on_ascii),
    ("--user-col and --item-col the same", _same_user_and_item),
    ("--rating-col the item column", _rating_is_the_item),
    ("--user-col the rating column", _rating_is_the_user),
]


@pytest.mark.parametrize("case", [c for _, c in BAD_INPUT], ids=[name for name, _ in BAD_INPUT])
def test_bad_input_is_one_error_line_exit_2_not_unexpected(case, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_bytes(PREVIOUS)
    args, line = case(tmp_path)
    result = invoke("build", "--output", out, "--offline", *FAST, *args)
    assert result.exit_code == 2, result.output
    assert [text for text in result.stderr.splitlines() if text.startswith("Error:")] == [line]
    assert "Traceback" not in result.output and "unexpected" not in result.output
    assert (out / "report.html").read_bytes() == PREVIOUS


def test_a_second_long_titled_run_compares_within_budget(tmp_path: Path) -> None:
    """The next night's run adds the changes section (lists in and out, bias moves): still within every budget."""
    path = long_titled(tmp_path, n_items=1100, title_chars=5000, n_users=12, char='"')
    for seed in ("1", "2"):
        result = invoke("build", "--offline", "--ratings", path, "-o", tmp_path / "o", *FAST, "--seed", seed)
        assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))
    assert doc["comparison"]["bias_moves"]
    assert (tmp_path / "o" / "report.json").stat().st_size <= JSON_BYTES
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert own_bytes(html, doc["top_items"]) <= PAGE_BYTES
    changes = BeautifulSoup(html, "html.parser").find(id="changes")
    moved = [cell.get_text() for cell in changes.select("tbody td:first-child bdi")]
    assert moved and set(moved) <= set(doc["top_items"])  # whole titles in the comparison too
    assert [row.problem for row in history.collect(tmp_path / "o")] == [None, None]
