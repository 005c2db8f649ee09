"""Errors that say the fix: a ratings or items table without the columns it needs is one `Error:` line
naming the file and what to do (issue 29, point 8).

A header joined by another separator names the `--sep` it needs; a first line that is
data says the file needs a header row; a missing column names the option that names it
(`--rating-col`, `--items-id-col`), for CSV, gzip, Parquet, the database and `--items`
alike. Each is exit 2, no traceback, and the previous report left as it was.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from reportgen.data.cells import looks_like_data
from tests.helpers.commands import PREVIOUS_HTML, PREVIOUS_JSON, assert_nothing_left, invoke, previous_report

pytestmark = pytest.mark.usefixtures("undrawn")
FAST = ["--epochs", "1", "--factors", "8", "--lr", "0.01", "--seed", "7"]
# The shop export: its own column names, a date column beside them.
SHOP = ["--user-col", "customer_id", "--item-col", "product_sku", "--rating-col", "score"]
HEADER = ["customer_id", "product_sku", "score", "rated_on"]


def shop_rows(n_users: int = 40, n_items: int = 10, decimal: str = ".") -> list[list[str]]:
    """400 ratings in the shop's shapes (`cust_56523_22`, `SKU-1028`, half stars, ISO dates)."""
    rows = []
    for u in range(n_users):
        for i in range(n_items):
            stars = f"{1 + (u + 2 * i) % 5}" if (u + i) % 3 else f"{(u + i) % 4 + 1}{decimal}5"
            rows.append(
                [f"cust_{56523 + 97 * u}_{u % 30}", f"SKU-{1028 + i}", stars, f"2024-05-{1 + (u + i) % 28:02d}"]
            )
    return rows


def text_table(rows: list[list[str]], sep: str, header: list[str] | None = HEADER) -> str:
    return "".join(sep.join(cells) + "\n" for cells in ([header] if header else []) + rows)


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    return path


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return previous_report(tmp_path / "out")


def refused(out: Path, *args: object) -> tuple[int, str]:
    """Exit code and the one `Error:` line of a run that must fail before anything is written."""
    result = invoke("build", "--output", out, "--offline", *FAST, *args)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.stderr.splitlines()[-1] == errors[0], result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert (out / "report.html").read_bytes() == PREVIOUS_HTML
    assert (out / "report.json").read_bytes() == PREVIOUS_JSON
    assert_nothing_left(out)
    return result.exit_code, errors[0]


def built(out: Path, *args: object, env: dict[str, str] | None = None) -> dict:
    result = invoke("build", "--output", out, "--offline", *FAST, *args, env=env)
    assert result.exit_code == 0, result.output
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- a header joined by another separator

JOINED = "customer_id;product_sku;score;rated_on"
MISSING_SHOP = "missing column(s) customer_id, product_sku, score"


def _semicolons(tmp: Path):
    path = write(tmp, "export.csv", text_table(shop_rows(), ";"))
    return [*SHOP, "--ratings", path], (
        f"Error: {path}: {MISSING_SHOP}; found {JOINED}; the header looks like columns separated by ';': pass --sep ';'"
    )


def _semicolons_and_decimal_commas(tmp: Path):  # the rows do not parse as commas either: the header is told first
    path = write(tmp, "export.csv", text_table(shop_rows(decimal=","), ";"))
    return [*SHOP, "--ratings", path], (
        f"Error: {path}: {MISSING_SHOP}; found {JOINED}; the header looks like columns separated by ';': pass --sep ';'"
    )


def _semicolons_gzipped(tmp: Path):
    path = write(tmp, "export.csv.gz", text_table(shop_rows(decimal=","), ";"))
    return [*SHOP, "--ratings", path], (
        f"Error: {path}: {MISSING_SHOP}; found {JOINED}; the header looks like columns separated by ';': pass --sep ';'"
    )


def _tabs_in_a_csv(tmp: Path):
    path = write(tmp, "export.csv", text_table(shop_rows(), "\t"))
    return [*SHOP, "--ratings", path], (
        f"Error: {path}: {MISSING_SHOP}; found {JOINED.replace(';', chr(92) + 't')}; "
        "the header looks like columns separated by tabs: pass --sep '\\t'"
    )


def _pipes_in_a_txt(tmp: Path):
    path = write(tmp, "export.txt", text_table(shop_rows(), "|"))
    return [*SHOP, "--ratings", path], (
        f"Error: {path}: {MISSING_SHOP}; found {JOINED.replace(';', '|')}; "
        "the header looks like columns separated by '|': pass --sep '|'"
    )


def _commas_with_another_sep(tmp: Path):
    path = write(tmp, "export.csv", text_table(shop_rows(), ","))
    return [*SHOP, "--ratings", path, "--sep", ";"], (
        f"Error: {path}: {MISSING_SHOP}; found {JOINED.replace(';', ',')}; "
        "the header looks like columns separated by commas: pass --sep ','"
    )


def _commas_in_a_tsv(tmp: Path):
    path = write(tmp, "export.tsv", text_table(shop_rows(), ","))
    return [*SHOP, "--ratings", path], (
        f"Error: {path}: {MISSING_SHOP}; found {JOINED.replace(';', ',')}; "
        "the header looks like columns separated by commas: pass --sep ','"
    )


# --------------------------------------------------------------------------- a first line that is data

MISSING_DEFAULT = "missing column(s) user, item, rating"
NEEDS_HEADER = "the first line looks like data: the file needs a header row naming its columns (user, item, rating)"


def _no_header(tmp: Path):
    path = write(tmp, "export.csv", text_table(shop_rows(), ",", header=None))
    return ["--ratings", path], (
        f"Error: {path}: {MISSING_DEFAULT}; found cust_56523_0, SKU-1028, 1.5, 2024-05-01; {NEEDS_HEADER}"
    )


def _no_header_gzipped(tmp: Path):
    path = write(tmp, "export.csv.gz", text_table(shop_rows(), ",", header=None))
    return ["--ratings", path], (
        f"Error: {path}: {MISSING_DEFAULT}; found cust_56523_0, SKU-1028, 1.5, 2024-05-01; {NEEDS_HEADER}"
    )


def _no_header_numbers(tmp: Path):  # a copy of GroupLens' u.data: whitespace, no header
    path = write(tmp, "u.data", "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n")
    return ["--ratings", path], f"Error: {path}: {MISSING_DEFAULT}; found 196, 242, 3, 881250949; {NEEDS_HEADER}"


def _no_header_with_own_names(tmp: Path):
    path = write(tmp, "export.csv", text_table(shop_rows(), ",", header=None))
    return [*SHOP, "--ratings", path], (
        f"Error: {path}: {MISSING_SHOP}; found cust_56523_0, SKU-1028, 1.5, 2024-05-01; the first line looks like "
        "data: the file needs a header row naming its columns (customer_id, product_sku, score)"
    )


def _no_header_and_semicolons(tmp: Path):
    path = write(tmp, "export.csv", text_table(shop_rows(decimal=","), ";", header=None))
    return ["--ratings", path], (
        f"Error: {path}: {MISSING_DEFAULT}; found cust_56523_0;SKU-1028;1,5;2024-05-01; the first line looks like "
        "data separated by ';': the file needs a header row naming its columns (user, item, rating), and --sep ';'"
    )


# --------------------------------------------------------------------------- a column the options name otherwise


def _forgotten_rating_col_gzipped(tmp: Path):
    path = write(tmp, "export.csv.gz", "user,item,score\n1,2,3\n")
    return ["--ratings", path], (
        f"Error: {path}: missing column(s) rating; found user, item, score; name the rating column with --rating-col"
    )


def _every_column_named_otherwise(tmp: Path):
    path = write(tmp, "export.csv", text_table(shop_rows(), ","))
    return ["--ratings", path], (
        f"Error: {path}: {MISSING_DEFAULT}; found {', '.join(HEADER)}; "
        "name the user, item and rating columns with --user-col, --item-col and --rating-col"
    )


def _parquet_without_rating_col(tmp: Path):
    path = tmp / "export.parquet"
    pd.DataFrame({"user": [1, 2], "item": [1, 1], "score": [4.0, 3.5]}).to_parquet(path)
    return ["--ratings", path], (
        f"Error: {path}: missing column(s) rating; found user, item, score; name the rating column with --rating-col"
    )


def _parquet_with_numbered_columns(tmp: Path):  # Parquet names its columns itself: never "needs a header row"
    path = tmp / "export.parquet"
    pd.DataFrame({"0": [1, 2], "1": [1, 1], "2": [4.0, 3.5]}).to_parquet(path)
    return ["--ratings", path], (
        f"Error: {path}: {MISSING_DEFAULT}; found 0, 1, 2; "
        "name the user, item and rating columns with --user-col, --item-col and --rating-col"
    )


def _parquet_gzipped_without_time_col(tmp: Path):
    path = tmp / "export.parquet.gz"
    plain = tmp / "plain.parquet"
    pd.DataFrame({"user": [1, 2], "item": [1, 1], "rating": [4.0, 3.5], "when": ["2024-01-01"] * 2}).to_parquet(plain)
    path.write_bytes(gzip.compress(plain.read_bytes()))
    return ["--ratings", path, "--time-col", "ts"], (
        f"Error: {path}: missing column(s) ts; found user, item, rating, when; name the time column with --time-col"
    )


# --------------------------------------------------------------------------- the --items file


def _shop_ratings(tmp: Path) -> Path:
    rows = "".join(f"c{u},p{i},{1 + (u + 2 * i) % 5}\n" for u in range(40) for i in range(7))
    return write(tmp, "ratings.csv", "customer,product,stars\n" + rows)


OWN = ["--user-col", "customer", "--item-col", "product", "--rating-col", "stars"]


def _items_id_named_otherwise(tmp: Path):
    items = write(tmp, "products.csv", "sku,name\np1,Trail shoe\np2,Rain jacket\n")
    return ["--ratings", _shop_ratings(tmp), *OWN, "--items", items, "--title-col", "name"], (
        f"Error: {items}: missing column(s) product; found sku, name; name the id column with --items-id-col"
    )


def _items_id_col_that_is_not_there(tmp: Path):
    items = write(tmp, "products.csv", "sku,name\np1,Trail shoe\n")
    return ["--ratings", _shop_ratings(tmp), *OWN, "--items", items, "--items-id-col", "id", "--title-col", "name"], (
        f"Error: {items}: missing column(s) id; found sku, name; name the id column with --items-id-col"
    )


def _items_title_named_otherwise(tmp: Path):
    items = write(tmp, "products.csv.gz", "product,name\np1,Trail shoe\n")
    return ["--ratings", _shop_ratings(tmp), *OWN, "--items", items], (
        f"Error: {items}: missing column(s) title; found product, name; name the title column with --title-col"
    )


def _items_parquet_id_named_otherwise(tmp: Path):
    items = tmp / "products.parquet"
    pd.DataFrame({"sku": ["p1"], "title": ["Trail shoe"]}).to_parquet(items)
    return ["--ratings", _shop_ratings(tmp), *OWN, "--items", items], (
        f"Error: {items}: missing column(s) product; found sku, title; name the id column with --items-id-col"
    )


def _items_with_semicolons(tmp: Path):  # a title with a comma: its rows would not parse as commas
    items = write(tmp, "products.csv", "product;title\np1;Trail shoe\np2;Shoe, trail\n")
    return ["--ratings", _shop_ratings(tmp), *OWN, "--items", items], (
        f"Error: {items}: missing column(s) product, title; found product;title; "
        "the header looks like columns separated by ';': pass --sep ';'"
    )


def _items_without_a_header(tmp: Path):
    items = write(tmp, "products.csv", "p1,Trail shoe 2024\np2,Rain jacket\n")
    return ["--ratings", _shop_ratings(tmp), *OWN, "--items", items], (
        f"Error: {items}: missing column(s) product, title; found p1, Trail shoe 2024; the first line looks like data: "
        "the file needs a header row naming its columns (product, title)"
    )


def _items_id_col_without_items(tmp: Path):
    return ["--ratings", _shop_ratings(tmp), *OWN, "--items-id-col", "sku"], (
        "Error: --items-id-col needs --items FILE: it names that file's item id column"
    )


# --------------------------------------------------------------------------- the database


def _sqlite(tmp: Path) -> str:
    path = tmp / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE ratings (customer TEXT, sku TEXT, stars REAL)")
        db.executemany("INSERT INTO ratings VALUES (?, ?, ?)", [(f"c{u}", f"p{u % 7}", 4.0) for u in range(30)])
        db.execute("CREATE TABLE products (sku TEXT, name TEXT)")
        db.execute("INSERT INTO products VALUES ('p1', 'Trail shoe')")
    return f"sqlite:///{path}"


def _db_columns_named_otherwise(tmp: Path):
    return ["--db", _sqlite(tmp), "--table", "ratings", "--user-col", "customer", "--item-col", "sku"], (
        "Error: sqlite database shop.db: missing column(s) rating; found customer, sku, stars; "
        "name the rating column with --rating-col"
    )


def _db_items_query_columns(tmp: Path):
    return [
        "--db",
        _sqlite(tmp),
        "--table",
        "ratings",
        *["--user-col", "customer", "--item-col", "sku", "--rating-col", "stars"],
        *["--items-query", "SELECT sku AS id, name FROM products"],
    ], (
        "Error: the items query: missing column(s) sku, title; found id, name; "
        "name the item and title columns with --item-col and --title-col"
    )


def _db_with_items_id_col(tmp: Path):
    return ["--db", _sqlite(tmp), "--table", "ratings", "--items-id-col", "sku"], (
        "Error: --items-id-col only apply to a ratings file; with --db, titles come from --items-query"
    )


CASES: list[tuple[str, Callable[[Path], tuple[list, str]]]] = [
    ("semicolons", _semicolons),
    ("semicolons and decimal commas", _semicolons_and_decimal_commas),
    ("semicolons, gzipped", _semicolons_gzipped),
    ("tabs in a .csv", _tabs_in_a_csv),
    ("pipes in a .txt", _pipes_in_a_txt),
    ("commas with --sep ;", _commas_with_another_sep),
    ("commas in a .tsv", _commas_in_a_tsv),
    ("no header", _no_header),
    ("no header, gzipped", _no_header_gzipped),
    ("no header, numbers only", _no_header_numbers),
    ("no header, own column names", _no_header_with_own_names),
    ("no header and semicolons", _no_header_and_semicolons),
    ("forgotten --rating-col, gzipped", _forgotten_rating_col_gzipped),
    ("every column named otherwise", _every_column_named_otherwise),
    ("Parquet without --rating-col", _parquet_without_rating_col),
    ("Parquet with numbered columns", _parquet_with_numbered_columns),
    ("gzipped Parquet without the --time-col", _parquet_gzipped_without_time_col),
    ("--items id named otherwise", _items_id_named_otherwise),
    ("--items-id-col not in the file", _items_id_col_that_is_not_there),
    ("--items title named otherwise, gzipped", _items_title_named_otherwise),
    ("--items Parquet id named otherwise", _items_parquet_id_named_otherwise),
    ("--items with semicolons", _items_with_semicolons),
    ("--items without a header", _items_without_a_header),
    ("--items-id-col without --items", _items_id_col_without_items),
    ("--db columns named otherwise", _db_columns_named_otherwise),
    ("--items-query columns", _db_items_query_columns),
    ("--items-id-col with --db", _db_with_items_id_col),
]


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[name for name, _ in CASES])
def test_the_error_says_the_fix_in_one_line_exit_2_and_the_previous_report_survives(
    case: Callable[[Path], tuple[list, str]], tmp_path: Path, out: Path
) -> None:
    args, line = case(tmp_path)
    assert refused(out, *args) == (2, line)


# --------------------------------------------------------------------------- the fixes work


@pytest.mark.parametrize(("sep", "name"), [(";", "export.csv"), ("\t", "export.csv"), ("|", "export.csv.gz")])
def test_the_separator_the_error_names_reads_the_file(tmp_path: Path, sep: str, name: str) -> None:
    """The `--sep` each hint prints, as the shell passes it (`'\\t'` is a backslash and a t), reads the file."""
    rows = shop_rows()
    path = write(tmp_path, name, text_table(rows, sep))
    hint = refused(previous_report(tmp_path / "before"), *SHOP, "--ratings", path)[1]
    given = hint.rsplit("--sep ", 1)[1].strip("'")
    doc = built(tmp_path / "out", *SHOP, "--ratings", path, "--sep", given)
    assert doc["dataset"]["n_ratings"] == len(rows)
    assert doc["dataset"]["n_users"] == len({r[0] for r in rows})


@pytest.mark.parametrize("how", ["flag", "environment", "config file"])
def test_items_id_col_joins_an_items_file_whose_id_column_has_another_name(tmp_path: Path, how: str) -> None:
    ratings = _shop_ratings(tmp_path)
    items = write(tmp_path, "products.csv", "sku,name\n" + "".join(f"p{i},Product {i}\n" for i in range(6)))
    args: list[object] = ["--ratings", ratings, *OWN, "--items", items, "--title-col", "name", "--top-n", "10"]
    env = None
    if how == "flag":
        args += ["--items-id-col", "sku"]
    elif how == "environment":
        env = {"REPORTGEN_ITEMS_ID_COL": "sku"}
    else:
        config = write(tmp_path, "nightly.toml", 'items-id-col = "sku"\n')
        args += ["--config", config]
    doc = built(tmp_path / "out", *args, env=env)
    # p0…p5 are titled from the file, p6 (not in it) by its id
    assert sorted(doc["top_items"]) == [*(f"Product {i}" for i in range(6)), "p6"]


# --------------------------------------------------------------------------- what reads as data


@pytest.mark.parametrize(
    ("header", "below", "data"),
    [
        (["cust_56523_22", "SKU-1028", "6", "2024-05-01"], ["cust_10492_7", "SKU-2211", "4", "2024-05-02"], True),
        (["196", "242", "3", "881250949"], [], True),
        (["a1", "b7", "4.5"], ["a2", "b3", "3"], True),
        (["user", "item", "rating"], ["1", "2", "3"], False),
        (["user_id", "item_id", "rating", "2023"], ["1", "2", "3", "1"], False),
        (["q1", "q2", "score"], ["5", "4", "3"], False),  # digits in a name, not in the shape of the values below
        (["customer", "sku", "stars"], ["alice", "book", "5"], False),
    ],
)
def test_a_first_line_reads_as_data_when_most_cells_are_values(header: list[str], below: list[str], data: bool) -> None:
    assert looks_like_data(header, below) is data
