"""The fast read (a block or row group at a time, straight into codes) gives exactly the careful read's frame.

The careful read (pandas, chunks of strings) is the reference: whatever the fast
read takes, it must give the same ids, categories, ratings, titles, times and
lines; what it cannot take (blank lines, quoted line breaks, a bad value) goes to
the careful read, which names the line. Small blocks make a few rows span many
batches, so the codes of every batch must agree.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reportgen.data import dataset, tables
from reportgen.data.files import open_text_source
from reportgen.data.readers import own_layout
from reportgen.data.types import OwnData
from reportgen.errors import InputError

QUIRKY = (
    "user,item,rating,title,when\n"
    '7,10,4,"Heat, the film",2024-05-01\n'
    ' 7 ,9,3.5,"She said ""no""",2024-05-02T10:00:00+02:00\n'
    "u-3,10,5,,1714521600\n"
    "12,100,1,Amélie,2024-05-03\n"
    "9,9,2,  Heat, 2024-05-04\n"
)


def reads(path: Path, **spec: object) -> tuple[tables.Read, tables.Read]:
    """The fast read and the careful read of one text file."""
    layout = own_layout(OwnData(ratings=path, **spec), str(path), ",")  # type: ignore[arg-type]
    opener = functools.partial(open_text_source, path)
    return tables.read_text(opener, layout, hashed=True), tables.read_carefully(opener, layout)


def assert_same(fast: pd.DataFrame, careful: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(fast, careful, check_index_type=False)
    assert list(fast.index) == list(careful.index)
    for column in ("user", "item") + (("title",) if "title" in fast else ()):
        assert list(fast[column].cat.categories) == list(careful[column].cat.categories)
        assert fast[column].cat.categories.is_monotonic_increasing


@pytest.mark.parametrize("block", [tables.BLOCK, 64])
def test_the_fast_read_of_a_quirky_csv_is_the_careful_reads_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(tables, "BLOCK", block)  # 64 bytes: a batch of about two rows
    path = tmp_path / "ratings.csv"
    path.write_text(QUIRKY, encoding="utf-8")
    fast, careful = reads(path, time_col="when")
    assert fast.sha256 is not None  # the fast read took it (and hashed it as it parsed)
    assert_same(fast.frame, careful.frame)
    assert fast.frame["user"].tolist() == ["7", "7", "u-3", "12", "9"]  # padded ids stripped: one user
    assert list(fast.frame["user"].cat.categories) == ["12", "7", "9", "u-3"]  # sorted as text
    assert fast.frame["title"].tolist()[:3] == ["Heat, the film", 'She said "no"', np.nan]
    assert fast.frame["timestamp"].tolist() == [1714521600, 1714636800, 1714521600, 1714694400, 1714780800]
    assert list(fast.frame.index) == [2, 3, 4, 5, 6]


def test_a_tsv_and_a_parquet_of_many_row_groups_read_as_the_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"user": rng.integers(1, 40, 500), "item": rng.integers(1, 900, 500)})
    frame["rating"] = rng.integers(1, 6, 500)
    (tmp_path / "r.csv").write_text(frame.to_csv(index=False))
    (tmp_path / "r.tsv").write_text(frame.to_csv(index=False, sep="\t"))
    frame.to_parquet(tmp_path / "r.parquet", index=False, row_group_size=37)  # 14 row groups
    one = dataset.load(OwnData(ratings=tmp_path / "r.csv")).frame
    for other in (tmp_path / "r.tsv", tmp_path / "r.parquet"):
        read = dataset.load(OwnData(ratings=other)).frame
        pd.testing.assert_frame_equal(read.reset_index(drop=True), one.reset_index(drop=True))
    # integer ids in Parquet are their digits as text, sorted as text ("10" before "9"), as in a CSV
    assert list(one["item"].cat.categories) == sorted(map(str, frame["item"].unique()))


def test_ids_far_apart_take_the_hashing_path_and_read_the_same(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user": [10**15, 3, 10**15, 7], "item": [1, 2, 3, 1], "rating": [1, 2, 3, 4]})
    frame.to_parquet(tmp_path / "r.parquet", index=False)
    (tmp_path / "r.csv").write_text(frame.to_csv(index=False))
    parquet = dataset.load(OwnData(ratings=tmp_path / "r.parquet")).frame
    text = dataset.load(OwnData(ratings=tmp_path / "r.csv")).frame
    assert list(parquet["user"].cat.categories) == ["1000000000000000", "3", "7"]
    pd.testing.assert_frame_equal(parquet.reset_index(drop=True), text.reset_index(drop=True))


def test_blank_lines_and_quoted_line_breaks_keep_the_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    path.write_text('user,item,rating,title\n1,1,4,"two\nlines"\n\n2,3,3,x\n1,2,5,y\n\n\n3,2,1,z\n')
    ratings = dataset.load(OwnData(ratings=path))
    assert list(ratings.frame.index) == [2, 5, 6, 9]
    assert ratings.frame["rating"].tolist() == [4.0, 3.0, 5.0, 1.0]
    assert ratings.frame["title"].tolist() == ["two lines", "x", "z", "z"]  # an item's last title labels it


def test_duplicates_keep_the_last_rating_in_any_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "BLOCK", 64)
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n" + "a,x,1\nb,x,2\nc,y,3\n" * 3 + "a,x,5\nd,z,4\n")
    ratings = dataset.load(OwnData(ratings=path))
    assert ratings.duplicates_dropped == 7
    assert dict(zip(ratings.frame["user"], ratings.frame["rating"])) == {"b": 2.0, "c": 3.0, "a": 5.0, "d": 4.0}
    assert list(ratings.frame.index) == [9, 10, 11, 12]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("3,9,x", "line 40: rating (column 'rating') 'x' is not a number"),
        (",9,3", "line 40: user (column 'user') is empty"),
        ("3,9,inf", "line 40: rating (column 'rating') 'inf' is not a number"),
    ],
)
def test_a_bad_row_in_a_late_block_is_named_by_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: str, message: str
) -> None:
    monkeypatch.setattr(tables, "BLOCK", 64)
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\n" + "".join(f"{i},{i % 5},3\n" for i in range(38)) + row + "\n1,1,1\n")
    with pytest.raises(InputError) as caught:
        dataset.load(OwnData(ratings=path))
    assert str(caught.value) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("key_bits", "sort_slice"),
    [
        (dataset.KEY_BITS, dataset.SORT_SLICE),  # 2,000 ratings: one sort
        (dataset.KEY_BITS, 100),  # slices sorted at once on every core, then merged
        (8, dataset.SORT_SLICE),  # too few bits to pack: pandas' hash table
    ],
)
def test_repeated_pairs_are_pandas_own(monkeypatch: pytest.MonkeyPatch, key_bits: int, sort_slice: int) -> None:
    monkeypatch.setattr(dataset, "KEY_BITS", key_bits)
    monkeypatch.setattr(dataset, "SORT_SLICE", sort_slice)
    rng = np.random.default_rng(5)
    users, items = rng.integers(0, 300, 2000), rng.integers(0, 20, 2000)
    frame = pd.DataFrame({"user": pd.Categorical(users), "item": pd.Categorical(items)})
    expected = pd.Series(users * 20 + items).duplicated(keep="last").to_numpy()
    assert expected.sum() > 100
    assert (dataset.repeated_pairs(frame) == expected).all()
