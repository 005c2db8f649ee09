"""Own ratings files (`--ratings`) and every way input can be bad.

Each bad input must give exactly one `Error:` line naming the file, column or
line, the documented exit code, no traceback, and leave the previous report
byte-identical.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from reportgen.data import dataset as data
from reportgen.data.types import OwnData
from reportgen.errors import InputError
from reportgen.train import fitting as train
from tests.helpers.commands import PREVIOUS_HTML, PREVIOUS_JSON, assert_nothing_left, invoke, previous_report
from tests.helpers.planted import AWFUL, GREAT, Planted, not_utf8_parquet, unblock_readers

# What is read and refused is the subject here: the figures are placeholders (see `undrawn`).
pytestmark = pytest.mark.usefixtures("undrawn")
FAST = ["--epochs", "2", "--factors", "8", "--lr", "0.01"]
# The half-star shop export's own column names.
SHOP_COLUMNS = ["--user-col", "customer", "--item-col", "product", "--rating-col", "stars", "--title-col", "name"]


def csv_file(tmp: Path, text: str, name: str = "ratings.csv") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def ratings_text(rows: int = 90, n_items: int = 6) -> str:
    """A small valid CSV body: `rows` ratings over `n_items` items, no repeated pairs."""
    return "".join(f"{r // n_items},{r % n_items},{1 + r % 5}\n" for r in range(rows))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return previous_report(tmp_path / "out")


# --------------------------------------------------------------------------- the bad-input table
# Each case: (id, builds the arguments in a tmp folder, exit code, the exact Error line).

Case = Callable[[Path], tuple[list[str | Path], str]]


def _missing(tmp: Path):
    return ["--ratings", tmp / "nope.csv"], (
        f"Error: Invalid value for '--ratings' (env var: 'REPORTGEN_RATINGS'): File '{tmp / 'nope.csv'}' does not exist."
    )


def _empty(tmp: Path):
    path = csv_file(tmp, "")
    return ["--ratings", path], f"Error: {path}: the file is empty"


def _header_only(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n")
    return ["--ratings", path], f"Error: {path}: no ratings below the header"


def _column_missing(tmp: Path):
    path = csv_file(tmp, "user,item,score\n1,2,3\n")
    return ["--ratings", path], (
        f"Error: {path}: missing column(s) rating; found user, item, score; name the rating column with --rating-col"
    )


def _renamed_column_missing(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n1,2,3\n")
    return [
        "--ratings",
        path,
        "--user-col",
        "customer",
    ], f"Error: {path}: missing column(s) customer; found user, item, rating; name the user column with --user-col"


def _not_a_number(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n" + ratings_text(3) + "7,1,good\n")
    return ["--ratings", path], f"Error: {path}: line 5: rating (column 'rating') 'good' is not a number"


def _nan_rating(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n1,1,4\n1,2,NaN\n")
    return ["--ratings", path], f"Error: {path}: line 3: rating (column 'rating') 'NaN' is not a number"


def _empty_rating(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n1,1,4\n1,2,\n")
    return ["--ratings", path], f"Error: {path}: line 3: rating (column 'rating') is empty"


def _empty_user(tmp: Path):
    path = csv_file(tmp, "uid,item,rating\n1,1,4\n1,2,3\n ,3,5\n")
    return ["--ratings", path, "--user-col", "uid"], f"Error: {path}: line 4: user (column 'uid') is empty"


def _empty_item(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n1,,4\n")
    return ["--ratings", path], f"Error: {path}: line 2: item (column 'item') is empty"


def _outside_range(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n" + ratings_text(20) + "99,1,5.5\n99,2,0\n")
    return ["--ratings", path, "--y-range", "1", "5"], (
        f"Error: {path}: 2 rating(s) outside --y-range 1 5, first at line 22: 5.5"
    )


def _duplicates(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n" + ratings_text(10) + "0,3,5\n1,1,2\n")
    return ["--ratings", path, "--duplicates", "error"], (
        f"Error: {path}: 2 duplicate (user, item) pair(s), first repeated at line 12 (user 0, item 3); "
        "pass --duplicates last to keep the last rating of each"
    )


def _too_few_items(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n" + "".join(f"{u},{u % 2},4\n" for u in range(200)))
    return ["--ratings", path], f"Error: {path}: only 2 distinct item(s); at least 3 are needed"


def _less_than_a_batch(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n" + ratings_text(70))
    return ["--ratings", path], (
        f"Error: {path}: too few ratings to train: 70 leave 56 in the training split, fewer than one batch of --bs 64"
    )


def _wrong_encoding(tmp: Path):
    path = tmp / "ratings.csv"
    path.write_bytes("user,item,rating,title\n1,1,4,Amélie (2001)\n".encode("latin-1"))
    return ["--ratings", path], (
        f"Error: {path}: not valid utf-8 (byte 0xe9 at offset 31); pass --encoding latin-1 if that is the file's encoding"
    )


def _truncated_gz(tmp: Path):
    path = tmp / "ratings.csv.gz"
    path.write_bytes(gzip.compress(("user,item,rating\n" + ratings_text(500)).encode())[:-40])
    return ["--ratings", path], (
        f"Error: {path}: cannot decompress (Compressed file ended before the end-of-stream marker was reached)"
    )


def _unknown_extension(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n1,1,1\n", name="ratings.xlsx")
    return ["--ratings", path], (
        f"Error: {path}: cannot tell the format from the extension '.xlsx'; use .csv, .tsv, .txt/.data, "
        ".parquet, or .gz/.zip of a CSV, or pass --sep"
    )


def _u_item_missing(tmp: Path):
    folder = tmp / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t1\t5\t0\n")
    return ["--data", folder], (
        f"Error: {folder}: no u.item found (expected a GroupLens ml-100k folder with u.data and u.item)"
    )


def _u_item_malformed(tmp: Path):
    folder = tmp / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t1\t5\t0\n")
    (folder / "u.item").write_text("1\tToy Story (1995)\n")  # tabs, not |
    return ["--data", folder], (
        f"Error: {folder / 'u.item'}: expected |-separated columns item id, title, …; found 1 column(s)"
    )


def _zip_without_files(tmp: Path):
    archive = tmp / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ml-100k/README", "no data here")
    return ["--data", archive], (
        f"Error: {archive}: the zip has no u.data (expected a GroupLens ml-100k zip with u.data and u.item)"
    )


def _data_with_ratings(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n1,1,1\n")
    return ["--data", tmp, "--ratings", path], (
        "Error: --data and --ratings cannot be used together: --data reads a GroupLens ml-100k folder or zip, "
        "--ratings your own ratings file"
    )


def _items_without_ratings(tmp: Path):
    path = csv_file(tmp, "item,title\n1,A\n", name="items.csv")
    return [
        "--items",
        path,
        "--user-col",
        "uid",
    ], "Error: --items, --user-col only apply to your own data: add --ratings FILE"


def _fifo(tmp: Path):
    path = tmp / "ratings.csv"
    os.mkfifo(path)
    unblock_readers(path)
    return ["--ratings", path], f"Error: {path}: is a FIFO, not a regular file"


def _fifo_items(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n" + ratings_text())
    items = tmp / "items.csv"
    os.mkfifo(items)
    unblock_readers(items)
    return ["--ratings", path, "--items", items], f"Error: {items}: is a FIFO, not a regular file"


def _device(tmp: Path):
    return ["--ratings", "/dev/null"], "Error: /dev/null: is a device, not a regular file"


def _nul_bytes(tmp: Path):
    path = tmp / "ratings.csv"
    path.write_bytes(b"user,item,rating\n1,1,\x004\n")
    return ["--ratings", path], f"Error: {path}: not a text file (a NUL byte at offset 21); expected a table of ratings"


def _binary(tmp: Path):
    path = tmp / "ratings.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    return ["--ratings", path], f"Error: {path}: not a text file (a NUL byte at offset 8); expected a table of ratings"


def _gz_of_zeros(tmp: Path):
    path = tmp / "ratings.csv.gz"
    path.write_bytes(gzip.compress(bytes(4 << 20)))
    return ["--ratings", path], f"Error: {path}: not a text file (a NUL byte at offset 0); expected a table of ratings"


def _first_line_too_long(tmp: Path):
    path = csv_file(tmp, ",".join(f"column{i}" for i in range(150_000)) + "\n1\n")
    return ["--ratings", path], (
        f"Error: {path}: the first line is longer than 1 MiB; expected a table of ratings with a header"
    )


def _too_many_columns(tmp: Path):
    path = csv_file(tmp, ",".join("a" * 5000) + "\n")
    return [
        "--ratings",
        path,
    ], f"Error: {path}: the first line has 5000 columns, more than 2000; expected a table of ratings"


def _utf16(tmp: Path):
    path = tmp / "ratings.csv"
    path.write_bytes(("user,item,rating\n" + ratings_text()).encode("utf-16"))
    return ["--ratings", path], (
        f"Error: {path}: not valid utf-8: the file starts with a UTF-16 byte-order mark (0xff 0xfe); "
        "pass --encoding utf-16 if that is the file's encoding"
    )


def _unknown_encoding(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n" + ratings_text())
    return ["--ratings", path, "--encoding", "nope"], f"Error: {path}: unknown text encoding 'nope'"


def _bad_separator_pattern(tmp: Path):
    path = csv_file(tmp, "user,item,rating\n" + ratings_text())
    return ["--ratings", path, "--sep", "[("], f"Error: {path}: cannot parse (unterminated character set at position 0)"


def _fifo_as_data(tmp: Path):
    path = tmp / "ml-100k"
    os.mkfifo(path)
    unblock_readers(path)
    return ["--data", path], (
        f"Error: {path}: not a regular file or folder (expected a GroupLens ml-100k folder or zip)"
    )


def _title_not_utf8(tmp: Path):
    path = not_utf8_parquet(tmp / "ratings.parquet", {"title": (40, b"Caf\xe9 (1999)")})  # Latin-1, row 41
    return ["--ratings", path, "--title-col", "title"], (
        f"Error: {path}: row 41: column 'title' holds text that is not valid UTF-8"
    )


def _id_cut_inside_a_character(tmp: Path):
    path = not_utf8_parquet(tmp / "ratings.parquet", {"user": (77, b"u\xe2\x80")})  # a cut '…', row 78
    return ["--ratings", path], f"Error: {path}: row 78: column 'user' holds text that is not valid UTF-8"


def _items_parquet_not_utf8(tmp: Path):
    ratings = csv_file(tmp, "user,item,rating\n" + ratings_text())
    items = tmp / "items.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    titles = [f"Film {i}".encode() for i in range(6)]
    titles[4] = b"Film \xff"
    column = pa.Array.from_buffers(pa.string(), 6, pa.array(titles, pa.binary()).buffers())
    pq.write_table(pa.table({"item": [str(i) for i in range(6)], "title": column}), items)
    return ["--ratings", ratings, "--items", items], (
        f"Error: {items}: row 5: column 'title' holds text that is not valid UTF-8"
    )


def _name_not_utf8(tmp: Path):
    path = Path(os.fsdecode(bytes(tmp) + b"/ratings-\xe9t\xe9.csv"))  # a Latin-1 name: it trained, then report.json
    path.write_text("user,item,rating\n" + ratings_text(), encoding="utf-8")  # could not be written
    shown = str(path).encode("utf-8", "backslashreplace").decode()  # as the terminal gets it: ratings-\udce9t\udce9.csv
    return ["--ratings", path], f"Error: {shown}: is not named in valid UTF-8, in which the report names it; rename it"


BAD_INPUT = [
    ("missing file", _missing),
    ("empty file", _empty),
    ("header only", _header_only),
    ("required column missing", _column_missing),
    ("renamed column missing", _renamed_column_missing),
    ("non-numeric rating", _not_a_number),
    ("NaN rating", _nan_rating),
    ("empty rating", _empty_rating),
    ("empty user", _empty_user),
    ("empty item", _empty_item),
    ("ratings outside --y-range", _outside_range),
    ("duplicate pairs with --duplicates error", _duplicates),
    ("fewer than 3 items", _too_few_items),
    ("fewer ratings than one batch", _less_than_a_batch),
    ("wrong encoding", _wrong_encoding),
    ("truncated .gz", _truncated_gz),
    ("unknown extension", _unknown_extension),
    ("u.item missing next to u.data", _u_item_missing),
    ("malformed u.item", _u_item_malformed),
    ("zip without the expected files", _zip_without_files),
    ("--data with --ratings", _data_with_ratings),
    ("own-data options without --ratings", _items_without_ratings),
    ("FIFO as --ratings", _fifo),
    ("FIFO as --items", _fifo_items),
    ("FIFO as --data", _fifo_as_data),
    ("device as --ratings", _device),
    ("NUL bytes", _nul_bytes),
    ("binary file", _binary),
    ("gzip of NUL bytes", _gz_of_zeros),
    ("first line longer than 1 MiB", _first_line_too_long),
    ("more than 2000 columns", _too_many_columns),
    ("UTF-16 without --encoding", _utf16),
    ("unknown encoding", _unknown_encoding),
    ("separator that is not a valid pattern", _bad_separator_pattern),
    ("Parquet title that is not UTF-8", _title_not_utf8),
    ("Parquet id cut inside a character", _id_cut_inside_a_character),
    ("Parquet items file that is not UTF-8", _items_parquet_not_utf8),
    ("file name that is not UTF-8", _name_not_utf8),
]


@pytest.mark.parametrize("case", [c for _, c in BAD_INPUT], ids=[name for name, _ in BAD_INPUT])
def test_bad_input_is_one_error_line_exit_2_and_the_previous_report_survives(
    case: Case, tmp_path: Path, out: Path
) -> None:
    args, line = case(tmp_path)
    result = invoke("build", "--output", out, "--offline", *FAST, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1] == line
    assert [text for text in result.stderr.splitlines() if text.startswith("Error:")] == [line]
    assert "Traceback" not in result.output and result.stdout == ""
    assert (out / "report.html").read_bytes() == PREVIOUS_HTML
    assert (out / "report.json").read_bytes() == PREVIOUS_JSON
    assert_nothing_left(out)


def test_unreadable_file(tmp_path: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = csv_file(tmp_path, "user,item,rating\n" + ratings_text())
    path.chmod(0)
    if os.geteuid() == 0:
        # root reads any file, so stand in for the kernel: refuse exactly this path.
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode, **kw: False if Path(p) == path else real_access(p, mode, **kw)
        )
    result = invoke("build", "--output", out, "--ratings", path)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: Invalid value for '--ratings' (env var: 'REPORTGEN_RATINGS'): File '{path}' is not readable.\n"
    )
    assert (out / "report.html").read_bytes() == PREVIOUS_HTML


def test_unreadable_file_inside_a_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """click checks only the folder; the loader must turn the OS refusal into one line too."""
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t1\t5\t0\n")
    (folder / "u.item").write_text("1|A (1990)|\n")
    real = os.open

    def refuse(path: object, *args: object, **kwargs: object) -> object:
        if Path(str(path)).name == "u.item":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)  # files are opened by descriptor (O_NONBLOCK, then fstat)
    with pytest.raises(InputError) as err:
        data.read_grouplens(folder)
    assert str(err.value) == f"{folder / 'u.item'}: cannot read (Permission denied)"


def test_a_failed_run_exits_1_and_keeps_the_previous_report(tmp_path: Path, planted_dir: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder's parent should be")
    result = invoke("build", "--data", planted_dir, "--output", blocker / "out", *FAST)
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[-1] == f"Error: {blocker / 'out'}: cannot create the output folder (Not a directory)"
    )
    assert blocker.read_text() == "a file where the output folder's parent should be"


# --------------------------------------------------------------------------- reading own files


BASE = pd.DataFrame(
    {
        "uid": ["u1", "u1", "u2", "u2", "u3"],
        "sku": ["a", "b", "a", "c", "c"],
        "stars": [4.5, 0.5, 3.0, 5.0, 2.5],
        "name": ["Alpha", "Beta", "Alpha", "Gamma", "Gamma"],
    }
)
SPEC = dict(user_col="uid", item_col="sku", rating_col="stars", title_col="name")


def expected_records() -> list[dict]:
    return [
        {"user": u, "item": i, "rating": r, "title": t}
        for u, i, r, t in BASE[["uid", "sku", "stars", "name"]].itertuples(index=False)
    ]


def write_format(tmp: Path, fmt: str) -> tuple[Path, dict]:
    text_csv = BASE.to_csv(index=False)
    if fmt == "csv":
        return csv_file(tmp, text_csv), {}
    if fmt == "tsv":
        return csv_file(tmp, BASE.to_csv(index=False, sep="\t"), "ratings.tsv"), {}
    if fmt == "txt":
        return csv_file(tmp, BASE.to_csv(index=False, sep=" "), "ratings.txt"), {}
    if fmt == "data-with-sep":
        return csv_file(tmp, BASE.to_csv(index=False, sep=";"), "ratings.data"), {"sep": ";"}
    if fmt == "parquet":
        path = tmp / "ratings.parquet"
        BASE.to_parquet(path)
        return path, {}
    if fmt == "csv.gz":
        path = tmp / "ratings.csv.gz"
        path.write_bytes(gzip.compress(text_csv.encode()))
        return path, {}
    if fmt == "zip":
        path = tmp / "ratings.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("export/ratings.csv", text_csv)
        return path, {}
    if fmt == "latin-1":
        path = tmp / "ratings.csv"
        path.write_bytes(text_csv.encode("latin-1"))
        return path, {"encoding": "latin-1"}
    if fmt == "utf-16":
        path = tmp / "ratings.csv"
        path.write_bytes(text_csv.encode("utf-16"))
        return path, {"encoding": "utf-16"}
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "txt", "data-with-sep", "parquet", "csv.gz", "zip", "latin-1", "utf-16"])
def test_every_format_reads_to_the_same_table(tmp_path: Path, fmt: str) -> None:
    path, extra = write_format(tmp_path, fmt)
    ratings = data.read_ratings_file(OwnData(ratings=path, **SPEC, **extra))
    assert ratings.frame.to_dict("records") == expected_records()
    assert ratings.row_word == ("row" if fmt == "parquet" else "line")
    assert list(ratings.frame.index) == ([1, 2, 3, 4, 5] if fmt == "parquet" else [2, 3, 4, 5, 6])
    p = ratings.provenance
    assert (p.name, p.source, p.sha256) == (
        path.name,
        "file",
        __import__("hashlib").sha256(path.read_bytes()).hexdigest(),
    )
    assert dict(p.columns) == {"user": "uid", "item": "sku", "rating": "stars", "title": "name"}


def test_parquet_errors_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "ratings.parquet"
    BASE.assign(stars=[4.5, None, 3.0, 5.0, 2.5]).to_parquet(path)
    with pytest.raises(InputError) as err:
        data.read_ratings_file(OwnData(ratings=path, **SPEC))
    assert str(err.value) == f"{path}: row 2: rating (column 'stars') is empty"


def test_a_sparse_2_gb_file_is_refused_at_once_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    with path.open("wb") as f:
        f.truncate(2 << 30)  # `truncate -s 2G`: all NUL bytes, no disk used
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InputError) as err:
        data.read_ratings_file(OwnData(ratings=path))
    assert str(err.value) == f"{path}: not a text file (a NUL byte at offset 0); expected a table of ratings"
    # Refused from its first block: memory proves the 2 GB were never read (no timing: the machine may be busy).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB
    path.unlink()  # sparse, but no reason to leave 2 GB of apparent size in the temp folder


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        # Quoted titles that span lines push every later rating down the file.
        (
            '1,1,4,"A\nlong\ntitle"\n2,2,3,"B\ntitle"\n3,3,good,C\n',
            7,
            "rating (column 'rating') 'good' is not a number",
        ),
        # The bad value itself sits after a line break inside its own row.
        ('1,1,4,A\n2,"x\ny",bad,B\n', 4, "rating (column 'rating') 'bad' is not a number"),
        ('1,1,4,"A\nB"\n,2,3,C\n', 4, "user (column 'user') is empty"),
    ],
)
def test_errors_name_the_physical_line_after_quoted_line_breaks(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    header = "user,item,rating,title\n"
    path = csv_file(tmp_path, header + body)
    with pytest.raises(InputError) as err:
        data.read_ratings_file(OwnData(ratings=path))
    assert str(err.value) == f"{path}: line {line}: {message}"


def test_ratings_after_quoted_line_breaks_keep_their_physical_lines(tmp_path: Path) -> None:
    path = csv_file(tmp_path, 'user,item,rating,title\n1,a,4,"A\nB"\n\n2,b,9,C\n3,c,1,D\n')
    loaded = data.load(OwnData(ratings=path), download=None)
    assert list(loaded.frame.index) == [2, 5, 6]
    with pytest.raises(InputError) as err:
        train.resolve_y_range(loaded, train.TrainConfig(y_range=(1.0, 5.0)))
    assert str(err.value) == f"{path}: 1 rating(s) outside y_range 1 5, first at line 5: 9"
    assert err.value.render(lambda name: "--" + name.replace("_", "-")).endswith(
        "outside --y-range 1 5, first at line 5: 9"
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_frame_is_typed_for_scale(tmp_path: Path, fmt: str) -> None:
    """Ids and titles are Categoricals with sorted categories, ratings float64, the index plain integers."""
    path, extra = write_format(tmp_path, fmt)
    frame = data.load(OwnData(ratings=path, **SPEC, **extra), download=None).frame
    for column in ("user", "item", "title"):
        assert isinstance(frame[column].dtype, pd.CategoricalDtype)
        assert list(frame[column].cat.categories) == sorted(frame[column].cat.categories)
    assert frame["rating"].dtype == "float64"
    assert frame.index.dtype == "int64"


def test_doubtful_files_read_the_same_as_clean_ones(tmp_path: Path) -> None:
    """Blank lines and padded ids send a file to the careful read; the table must not change."""
    clean = csv_file(tmp_path, "user,item,rating,title\n1,a,4,Alpha\n2,b,3,Beta\n2,a,5,Alpha\n", "clean.csv")
    doubtful = csv_file(
        tmp_path, "user,item,rating,title\n1, a ,4,Alpha\n\n2,b,3, Beta\n2,a,5,Alpha\n\n", "doubtful.csv"
    )
    fast, careful = (data.read_ratings_file(OwnData(ratings=p)).frame for p in (clean, doubtful))
    assert list(careful.index) == [2, 4, 5]
    pd.testing.assert_frame_equal(fast.reset_index(drop=True), careful.reset_index(drop=True))


def test_padded_ids_are_one_item_in_the_fast_read(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "user,item,rating\n1,a,4\n2, a,3\n3,b ,5\n3,b,1\n")
    frame = data.read_ratings_file(OwnData(ratings=path)).frame
    assert list(frame["item"]) == ["a", "a", "b", "b"] and list(frame["item"].cat.categories) == ["a", "b"]


def test_parquet_integer_ids_read_as_their_digits(tmp_path: Path) -> None:
    path = tmp_path / "ratings.parquet"
    pd.DataFrame({"user": [10, 9, 10], "item": [1, 2, 3], "rating": [1, 2, 3]}).to_parquet(path)
    frame = data.read_ratings_file(OwnData(ratings=path)).frame
    assert list(frame["user"]) == ["10", "9", "10"] and list(frame["title"]) == ["1", "2", "3"]


@pytest.mark.parametrize("rating", ["double", "string"], ids=["fast read", "careful read"])
def test_parquet_uint64_ids_past_int64_train_as_their_digits(tmp_path: Path, rating: str) -> None:
    """Hashed ids are often unsigned 64-bit: past int64's maximum they stopped the run with
    'unexpected OverflowError: Python int too large to convert to C long'."""
    import numpy as np

    n = 120
    items = np.array([2**64 - 1 - n % 7 for n in range(n)], dtype=np.uint64)
    frame = pd.DataFrame({"user": np.arange(n, dtype=np.uint64) % 17, "item": items})
    frame["rating"] = (1.0 + np.arange(n) % 5).astype(str if rating == "string" else "float64")
    frame.to_parquet(tmp_path / "hashed.parquet")
    as_text = frame.astype({"user": str, "item": str})
    as_text.to_csv(tmp_path / "hashed.csv", index=False)
    parquet = data.read_ratings_file(OwnData(ratings=tmp_path / "hashed.parquet")).frame
    csv = data.read_ratings_file(OwnData(ratings=tmp_path / "hashed.csv")).frame
    assert parquet["item"].tolist() == csv["item"].tolist() == [str(i) for i in items]
    assert list(parquet["item"].cat.categories) == list(csv["item"].cat.categories)
    result = invoke("build", "--ratings", tmp_path / "hashed.parquet", "--output", tmp_path / "o", *FAST, "--bs", "8")
    assert result.exit_code == 0, result.output


def test_titles_from_an_items_file_and_ids_where_it_has_none(tmp_path: Path) -> None:
    ratings = csv_file(tmp_path, BASE.drop(columns="name").to_csv(index=False))
    items = csv_file(tmp_path, "sku,name\na,Alpha\nb,Beta\n", name="items.csv")
    loaded = data.read_ratings_file(OwnData(ratings=ratings, items=items, **SPEC))
    assert list(loaded.frame["title"]) == ["Alpha", "Beta", "Alpha", "c", "c"]
    assert loaded.notes == ("1 rated item(s) have no title in items.csv; their id is the label",)
    assert loaded.provenance.items_file == str(items)


def test_without_titles_the_item_id_is_the_label(tmp_path: Path) -> None:
    path = csv_file(tmp_path, BASE.drop(columns="name").to_csv(index=False))
    loaded = data.read_ratings_file(OwnData(ratings=path, **SPEC))
    assert list(loaded.frame["title"]) == ["a", "b", "a", "c", "c"]


def test_item_key_merges_shared_titles_or_keeps_them_apart(tmp_path: Path) -> None:
    same_title = pd.concat([BASE, pd.DataFrame({"uid": ["u3"], "sku": ["d"], "stars": [1.0], "name": ["Delta"]})])
    same_title["name"] = same_title["name"].replace({"Gamma": "Alpha"})  # a and c share a title
    path = csv_file(tmp_path, same_title.to_csv(index=False))
    merged = data.load(OwnData(ratings=path, **SPEC), download=None, item_key="title")
    apart = data.load(OwnData(ratings=path, **SPEC), download=None, item_key="id")
    assert sorted(merged.frame["title"].unique()) == ["Alpha", "Beta", "Delta"]
    assert sorted(apart.frame["title"].unique()) == ["Alpha [a]", "Alpha [c]", "Beta [b]", "Delta [d]"]
    assert merged.n_items == apart.n_items == 4


def test_duplicates_keep_the_last_rating_and_are_counted(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "user,item,rating\n1,a,1\n1,b,2\n2,c,3\n1,a,5\n2,c,4\n")
    loaded = data.load(OwnData(ratings=path), download=None)
    assert loaded.duplicates_dropped == 2
    assert loaded.frame[["user", "item", "rating"]].to_dict("records") == [
        {"user": "1", "item": "b", "rating": 2},
        {"user": "1", "item": "a", "rating": 5},
        {"user": "2", "item": "c", "rating": 4},
    ]
    assert "2 duplicate (user, item) pair(s): kept the last rating of each" in loaded.notes


def test_default_y_range_is_the_tutorials_for_movielens_and_derived_for_own_data(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "user,item,rating\n1,a,0.5\n1,b,4.5\n2,c,3\n")
    own = data.load(OwnData(ratings=path), download=None)
    assert train.default_y_range(own) == (0.5, 4.9)


# --------------------------------------------------------------------------- whole runs


def build_json(out: Path, *args: str | Path) -> tuple[dict, object]:
    result = invoke("build", "--output", out, *FAST, *args)
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text(encoding="utf-8")), result


def check_against_pandas(doc: dict, frame: pd.DataFrame) -> None:
    """The report's counts and means are pandas' own over the raw file."""
    truth = frame.groupby("name")["stars"].agg(["count", "mean"])
    assert doc["dataset"]["n_ratings"] == len(frame)
    assert doc["dataset"]["n_users"] == frame["customer"].nunique()
    assert doc["dataset"]["n_items"] == frame["product"].nunique()
    for entry in doc["bias"]["best"] + doc["bias"]["worst"]:
        assert entry["count"] == truth.loc[entry["title"], "count"]
        assert entry["mean_rating"] == pytest.approx(truth.loc[entry["title"], "mean"], abs=1e-12)
    assert {e["title"] for e in doc["bias"]["best"][:3]} == set(GREAT)
    assert {e["title"] for e in doc["bias"]["worst"][:3]} == set(AWFUL)
    assert doc["top_items"][:5] == sorted(truth.index, key=lambda t: (-truth.loc[t, "count"], t))[:5]


@pytest.fixture(scope="module")
def half_stars(planted: Planted) -> pd.DataFrame:
    """The planted table on a half-star scale (0.5–5.0), under an export's own column names."""
    frame = planted.frame.rename(columns={"user": "customer", "item": "product", "rating": "stars", "title": "name"})
    frame["stars"] = (frame["stars"] - (frame["customer"] % 2) * 0.5).clip(lower=0.5)  # half the users give half stars
    return frame


def test_a_csv_export_with_other_column_names_and_half_stars(tmp_path: Path, half_stars: pd.DataFrame) -> None:
    path = tmp_path / "export.csv"
    half_stars.to_csv(path, index=False)
    doc, result = build_json(
        tmp_path / "out",
        "--ratings",
        path,
        *SHOP_COLUMNS,
        "--top-n",
        "100000",
    )
    check_against_pandas(doc, half_stars)
    assert doc["dataset"]["source"] == "file" and doc["dataset"]["name"] == "export.csv"
    assert doc["config"]["y_range"] == [0.5, pytest.approx(5.45)]
    assert len(doc["top_items"]) == half_stars["name"].nunique()
    assert "warning: --top-n 100000 is more than the 60 items the model knows, so all 60 were analysed" in result.stderr


def test_a_parquet_file(tmp_path: Path, half_stars: pd.DataFrame) -> None:
    path = tmp_path / "export.parquet"
    half_stars.to_parquet(path)
    doc, result = build_json(
        tmp_path / "out",
        "--ratings",
        path,
        *SHOP_COLUMNS,
    )
    check_against_pandas(doc, half_stars)
    # 60 items, and --top-n left at its 1000: all are analysed, and no warning asks the user to change what they never set.
    assert len(doc["top_items"]) == 60 and doc["config"]["top_n"] == 1000
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert all("--top-n" not in text for text in (result.stderr, page, *doc["notes"]))


def test_single_rating_warning_names_only_what_is_there(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "user,item,rating\n1,a,4\n2,a,3\n1,b,2\n2,b,5\n1,c,1\n")
    assert (
        "1 item(s) have a single rating; the model learns little about them"
        in data.load(OwnData(ratings=path), download=None).notes
    )


# --------------------------------------------------------------------------- degenerate data (issue 13)


@pytest.mark.parametrize("value", ["3", "1e-300"])
def test_ratings_without_spread_still_give_a_report_that_says_so(tmp_path: Path, value: str) -> None:
    rows = "".join(f"{u},{i},{value}\n" for u in range(40) for i in range(12) if (u + i) % 3)
    doc, _ = build_json(tmp_path / "out", "--ratings", csv_file(tmp_path, "user,item,rating\n" + rows))
    assert any("the data has no spread" in note for note in doc["notes"])
    assert doc["insight"]["baselines"]["global_mean_rmse"] == 0.0
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "the data has no spread" in page


def test_a_validation_share_too_small_to_hold_out_a_rating_is_refused(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path, "user,item,rating\n" + "".join(f"{u},{i},{1 + (u * i) % 5}\n" for u in range(30) for i in range(10))
    )
    result = invoke("build", "--ratings", path, "--valid-pct", "0.0001", "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] + "\n" == (
        f"Error: {path}: --valid-pct 0.0001 holds out no rating of 300, so nothing would measure the model; "
        "hold out at least 1 (a share of at least 0.0033)\n"
    )


def test_ratings_too_large_for_float32_are_refused_before_training(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path, "user,item,rating\n" + "".join(f"{u},{i},{(u + i) % 5}e307\n" for u in range(30) for i in range(10))
    )
    result = invoke("build", "--ratings", path, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "epoch" not in result.stderr
    assert result.stderr.splitlines()[-1] + "\n" == (
        f"Error: {path}: ratings as large as 4e+307 cannot be learned in float32 (their squared errors overflow); "
        "rescale them to at most 1e+18\n"
    )
