"""A folder or glob of Parquet parts as `--ratings`: one table, in a stable order, hive partitions as columns.

The same rows give the same report as one CSV; the order of the parts is that of
their relative paths, whatever order the file system lists them in; and each bad
folder is one `Error:` line with exit 2.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from reportgen.data import dataset as data
from reportgen.data.types import OwnData
from tests.helpers.commands import invoke
from tests.helpers.planted import Planted, not_utf8_parquet

pytestmark = pytest.mark.usefixtures("undrawn")
FAST = ["--epochs", "2", "--factors", "8", "--lr", "0.01", "--seed", "7"]
DAYS = ("2026-01-01", "2026-01-02", "2026-01-03")


def write_parts(folder: Path, frame: pd.DataFrame, order: tuple[int, ...] = (0, 1, 2)) -> list[pd.DataFrame]:
    """`frame` cut into three day partitions, written in `order`; the pieces, in the days' order."""
    pieces = [frame.iloc[i :: len(DAYS)].drop(columns="day", errors="ignore") for i in range(len(DAYS))]
    for i in order:
        (folder / f"day={DAYS[i]}").mkdir(parents=True, exist_ok=True)
        pieces[i].to_parquet(folder / f"day={DAYS[i]}" / "part-0.parquet", index=False)
    (folder / "_SUCCESS").write_text("")  # a writer's marker, not a part
    return [p.assign(day=d) for p, d in zip(pieces, DAYS)]


def build(out: Path, *args: object) -> dict:
    result = invoke("build", "--output", out, *FAST, *args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_a_partitioned_folder_gives_the_report_of_the_same_rows_in_one_csv(tmp_path: Path, planted: Planted) -> None:
    pieces = write_parts(tmp_path / "ratings", planted.frame)
    csv = tmp_path / "ratings.csv"
    pd.concat(pieces).to_csv(csv, index=False)
    folder = build(tmp_path / "a", "--ratings", tmp_path / "ratings")
    one = build(tmp_path / "b", "--ratings", csv)
    assert folder["dataset"]["n_ratings"] == one["dataset"]["n_ratings"] == len(planted.frame)
    assert (folder["metrics"]["n_train"], folder["metrics"]["n_valid"]) == (
        one["metrics"]["n_train"],
        one["metrics"]["n_valid"],
    )
    assert folder["metrics"]["epochs"][-1]["valid_loss"] == one["metrics"]["epochs"][-1]["valid_loss"]
    assert folder["metrics"]["valid_rmse"] == one["metrics"]["valid_rmse"]


def test_the_report_names_the_folder_its_parts_their_size_and_checksum_never_a_path(
    tmp_path: Path, planted: Planted
) -> None:
    write_parts(tmp_path / "ratings", planted.frame)
    doc = build(tmp_path / "out", "--ratings", tmp_path / "ratings")
    parts = sorted((tmp_path / "ratings").rglob("*.parquet"))
    digest = hashlib.sha256()
    for part in parts:  # docs/own-data.md: relative path, NUL, size, NUL, bytes; in the order of the paths
        relative = part.relative_to(tmp_path / "ratings").as_posix()
        digest.update(f"{relative}\0{part.stat().st_size}\0".encode() + part.read_bytes())
    assert doc["dataset"]["files"] == [
        {
            "role": "ratings",
            "name": "ratings/ (3 Parquet parts)",
            "size": sum(p.stat().st_size for p in parts),
            "sha256": digest.hexdigest(),
        }
    ]
    assert doc["dataset"]["location"] == "ratings"
    assert str(tmp_path) not in (tmp_path / "out" / "report.json").read_text(encoding="utf-8")


def test_the_order_is_the_relative_paths_not_the_listing(tmp_path: Path, planted: Planted) -> None:
    pieces = write_parts(tmp_path / "forwards", planted.frame, order=(0, 1, 2))
    write_parts(tmp_path / "backwards", planted.frame, order=(2, 0, 1))
    forwards = data.load(OwnData(ratings=tmp_path / "forwards"))
    backwards = data.load(OwnData(ratings=tmp_path / "backwards"))
    pd.testing.assert_frame_equal(forwards.frame, backwards.frame)
    assert forwards.provenance.sha256 == backwards.provenance.sha256
    assert forwards.frame["rating"].tolist() == pd.concat(pieces)["rating"].astype(float).tolist()
    assert list(forwards.frame.index) == list(range(1, len(planted.frame) + 1))  # rows counted across the parts


def test_a_glob_of_parts_reads_as_the_folder(tmp_path: Path, planted: Planted) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    pieces = [planted.frame.iloc[i::2] for i in range(2)]
    pieces[1].to_parquet(folder / "b.parquet", index=False)  # written first, named last
    pieces[0].to_parquet(folder / "a.parquet", index=False)
    (folder / "notes.txt").write_text("not a part")
    ratings = data.load(OwnData(ratings=folder / "*.parquet"))
    assert ratings.frame["rating"].tolist() == pd.concat(pieces)["rating"].astype(float).tolist()
    assert (ratings.provenance.name, ratings.provenance.parts) == ("exports/*.parquet", 2)
    assert ratings.provenance.sha256 == data.load(OwnData(ratings=folder)).provenance.sha256
    deeper = data.load(OwnData(ratings=tmp_path / "*" / "[ab].parquet"))  # named from its first fixed folder
    assert (deeper.provenance.name, deeper.provenance.parts) == (f"{tmp_path.name}/*/[ab].parquet", 2)


def test_a_quoted_glob_on_the_command_line_builds_the_report(tmp_path: Path, planted: Planted) -> None:
    write_parts(tmp_path / "ratings", planted.frame)
    doc = build(tmp_path / "out", "--ratings", tmp_path / "ratings" / "day=*" / "*.parquet", "--time-col", "day")
    assert doc["dataset"]["files"][0]["name"] == "ratings/day=*/*.parquet (3 Parquet parts)"
    assert doc["dataset"]["n_ratings"] == len(planted.frame) and doc["dataset"]["columns"]["time"] == "day"


def test_hive_partitions_are_columns_the_time_split_can_use(tmp_path: Path, planted: Planted) -> None:
    write_parts(tmp_path / "ratings", planted.frame)
    ratings = data.load(OwnData(ratings=tmp_path / "ratings", time_col="day"))
    days = [int(pd.Timestamp(day, tz="UTC").timestamp()) for day in DAYS]
    counts = ratings.frame["timestamp"].value_counts().sort_index()
    assert counts.index.tolist() == days
    assert counts.tolist() == [len(planted.frame.iloc[i::3]) for i in range(3)]
    assert dict(ratings.provenance.columns)["time"] == "day"


@pytest.mark.parametrize(
    "kinds",
    [("string", "large_string"), ("large_string", "dictionary"), ("binary", "large_binary")],
    ids=["pandas 2 and pandas 3", "pandas 3 and a categorical", "bytes"],
)
def test_parts_whose_text_is_string_in_one_and_large_string_in_another_read_together(
    tmp_path: Path, planted: Planted, kinds: tuple[str, str]
) -> None:
    """The same Parquet UTF8 (or bytes) column, as each writer gives it: an export job that upgrades pandas
    (string -> large_string) or writes categoricals (their indices int8 or int16) keeps its folder readable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def as_kind(values: pd.Series, kind: str) -> pa.Array:
        if kind == "dictionary":
            return pa.array(values.astype(str)).dictionary_encode()
        if "binary" in kind:
            return pa.array([v.encode() for v in values.astype(str)], getattr(pa, kind)())
        return pa.array(values.astype(str), getattr(pa, kind)())

    frame = planted.frame
    for folder, pair in (("mixed", kinds), ("same", (kinds[0], kinds[0]))):
        (tmp_path / folder).mkdir()
        for name, piece, kind in zip(("a", "b"), (frame.iloc[::2], frame.iloc[1::2]), pair):
            columns = {c: as_kind(piece[c], kind) for c in ("user", "item", "title")}
            columns["rating"] = pa.array(piece["rating"].astype(float))
            pq.write_table(pa.table(columns), tmp_path / folder / f"{name}.parquet")
    mixed = data.load(OwnData(ratings=tmp_path / "mixed", title_col="title"))
    same = data.load(OwnData(ratings=tmp_path / "same", title_col="title"))  # the same rows, one type
    pd.testing.assert_frame_equal(mixed.frame, same.frame)
    assert len(mixed.frame) == len(frame)
    doc = build(tmp_path / "out", "--ratings", tmp_path / "mixed", "--title-col", "title")
    assert doc["dataset"]["n_ratings"] == len(frame)


# --------------------------------------------------------------------------- bad folders: one line, exit 2


def _no_parquet(tmp: Path, frame: pd.DataFrame):
    folder = tmp / "exports"
    folder.mkdir()
    frame.to_csv(folder / "ratings.csv", index=False)
    (folder / "_SUCCESS").write_text("")
    return folder, f"Error: {folder}: no Parquet file (*.parquet) in it"


def _other_type(tmp: Path, frame: pd.DataFrame):
    folder = tmp / "exports"
    folder.mkdir()
    frame.iloc[::2].to_parquet(folder / "a.parquet", index=False)
    frame.iloc[1::2].astype({"rating": float}).to_parquet(folder / "b.parquet", index=False)
    return folder, f"Error: {folder}: the parts differ: column 'rating' is int64 in a.parquet but double in b.parquet"


def _missing_column(tmp: Path, frame: pd.DataFrame):
    folder = tmp / "exports"
    (folder / "2026").mkdir(parents=True)
    frame.iloc[::2].to_parquet(folder / "2026" / "a.parquet", index=False)
    frame.iloc[1::2].drop(columns="title").to_parquet(folder / "2026" / "b.parquet", index=False)
    return folder, f"Error: {folder}: the parts differ: 2026/a.parquet has column 'title', 2026/b.parquet has not"


def _linked_part(tmp: Path, frame: pd.DataFrame):
    folder = tmp / "exports"
    folder.mkdir()
    frame.to_parquet(tmp / "elsewhere.parquet", index=False)
    frame.to_parquet(folder / "a.parquet", index=False)
    (folder / "b.parquet").symlink_to(tmp / "elsewhere.parquet")
    return folder, f"Error: {folder / 'b.parquet'}: is a symbolic link, not followed"


def _linked_folder(tmp: Path, frame: pd.DataFrame):
    folder = tmp / "exports"
    (folder / "2026").mkdir(parents=True)
    (tmp / "elsewhere").mkdir()
    frame.to_parquet(folder / "2026" / "a.parquet", index=False)
    frame.to_parquet(tmp / "elsewhere" / "b.parquet", index=False)
    (folder / "2025").symlink_to(tmp / "elsewhere")
    return folder, f"Error: {folder / '2025'}: is a symbolic link, not followed"


def _glob_through_a_linked_folder(tmp: Path, frame: pd.DataFrame):
    folder, line = _linked_folder(tmp, frame)  # `*` would enter 2025/, which leads outside the folder
    return folder / "*" / "*.parquet", line


def _deep_glob_through_a_linked_folder(tmp: Path, frame: pd.DataFrame):
    folder, line = _linked_folder(tmp, frame)
    return folder / "**" / "*.parquet", line


def _deep_glob_over_self_links(tmp: Path, frame: pd.DataFrame):
    folder = tmp / "exports"
    (folder / "day=1").mkdir(parents=True)
    frame.to_parquet(folder / "day=1" / "a.parquet", index=False)
    (folder / "day=1" / "again").symlink_to("..")  # two links back up: glob.glob walked 2^40 paths here
    (folder / "day=1" / "loop").symlink_to("..")
    return folder / "**" / "*.parquet", f"Error: {folder / 'day=1' / 'again'}: is a symbolic link, not followed"


def _part_not_utf8(tmp: Path, frame: pd.DataFrame):
    folder = tmp / "exports"
    folder.mkdir()
    not_utf8_parquet(folder / "a.parquet", {})
    not_utf8_parquet(folder / "b.parquet", {"item": (44, b"i\xc3")})
    return folder, f"Error: {folder / 'b.parquet'}: row 45: column 'item' holds text that is not valid UTF-8"


def _part_path_not_utf8(tmp: Path, frame: pd.DataFrame):
    folder = tmp / "exports"
    latin = Path(os.fsdecode(bytes(folder) + b"/city=Z\xfcrich"))  # the checksum hashes the path in UTF-8
    latin.mkdir(parents=True)
    (folder / "city=Bern").mkdir()
    frame.to_parquet(folder / "city=Bern" / "a.parquet", index=False)
    (latin / "a.parquet").write_bytes((folder / "city=Bern" / "a.parquet").read_bytes())
    shown = str(latin / "a.parquet").encode("utf-8", "backslashreplace").decode()  # city=Z\udcfcrich
    return folder, f"Error: {shown}: is not named in valid UTF-8, in which the report names it; rename it"


def _folder_name_not_utf8(tmp: Path, frame: pd.DataFrame):
    folder = Path(os.fsdecode(bytes(tmp) + b"/export-\xe9t\xe9"))  # the report names the folder: ratings/
    folder.mkdir()
    frame.to_parquet(tmp / "a.parquet", index=False)
    (folder / "a.parquet").write_bytes((tmp / "a.parquet").read_bytes())
    shown = str(folder).encode("utf-8", "backslashreplace").decode()
    return folder, f"Error: {shown}: is not named in valid UTF-8, in which the report names it; rename it"


def _fifo_part(tmp: Path, frame: pd.DataFrame):
    folder = tmp / "exports"
    folder.mkdir()
    frame.to_parquet(folder / "a.parquet", index=False)
    os.mkfifo(folder / "b.parquet")
    return folder, f"Error: {folder / 'b.parquet'}: is a FIFO, not a regular file"


def _glob_matches_nothing(tmp: Path, frame: pd.DataFrame):
    pattern = tmp / "exports" / "*.parquet"
    return pattern, f"Error: {pattern}: no file matches this pattern"


def _column_not_in_any_part(tmp: Path, frame: pd.DataFrame):
    folder = tmp / "exports"
    (folder / "day=2026-01-01").mkdir(parents=True)
    frame.drop(columns="rating").to_parquet(folder / "day=2026-01-01" / "a.parquet", index=False)
    return folder, (
        f"Error: {folder}: missing column(s) rating; found user, item, title, day; name the rating column with --rating-col"
    )


@pytest.mark.parametrize(
    "case",
    [
        _no_parquet,
        _other_type,
        _missing_column,
        _linked_part,
        _linked_folder,
        _glob_through_a_linked_folder,
        _deep_glob_through_a_linked_folder,
        _deep_glob_over_self_links,
        _part_not_utf8,
        _part_path_not_utf8,
        _folder_name_not_utf8,
        _fifo_part,
        _glob_matches_nothing,
        _column_not_in_any_part,
    ],
    ids=lambda case: case.__name__.strip("_"),
)
def test_a_bad_folder_is_one_error_line_and_exit_2(tmp_path: Path, planted: Planted, case) -> None:
    ratings, line = case(tmp_path, planted.frame)
    result = invoke("build", "--output", tmp_path / "out", *FAST, "--ratings", ratings)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == line
    assert [text for text in result.stderr.splitlines() if text.startswith("Error:")] == [line]
    assert "Traceback" not in result.output and result.stdout == ""
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_glob_stays_inside_its_folder_and_counts_each_part_once(tmp_path: Path, planted: Planted) -> None:
    """A linked folder the glob does not enter is left alone: only the parts the pattern names are read."""
    pieces = write_parts(tmp_path / "ratings", planted.frame)
    (tmp_path / "ratings" / "copy").symlink_to(".")  # a self-link: would count every part again, for ever
    (tmp_path / "ratings" / "day=2026-01-04").symlink_to(tmp_path / "ratings" / "day=2026-01-01")
    ratings = data.load(OwnData(ratings=tmp_path / "ratings" / "day=2026-01-0[123]" / "*.parquet"))
    assert ratings.provenance.parts == 3
    assert ratings.frame["rating"].tolist() == pd.concat(pieces)["rating"].astype(float).tolist()


def test_a_folder_with_too_many_entries_to_look_through_is_one_error_line(
    tmp_path: Path, planted: Planted, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reportgen.data import parts

    write_parts(tmp_path / "ratings", planted.frame)  # 3 folders, 3 parts and _SUCCESS: 7 entries
    monkeypatch.setattr(parts, "MAX_ENTRIES", 6)
    pattern = tmp_path / "ratings" / "**" / "*.parquet"
    result = invoke("build", "--output", tmp_path / "out", *FAST, "--ratings", pattern)
    assert result.exit_code == 2, result.output
    assert [text for text in result.stderr.splitlines() if text.startswith("Error:")] == [
        f"Error: {pattern}: more than 6 files and folders to look through below {tmp_path / 'ratings'}; "
        "name a narrower folder or pattern"
    ]
    monkeypatch.setattr(parts, "MAX_ENTRIES", 7)
    assert data.load(OwnData(ratings=pattern)).provenance.parts == 3
