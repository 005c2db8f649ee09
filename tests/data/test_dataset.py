"""The load stage: both on-disk layouts, and the order in which ml-100k is looked for."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from reportgen.data import dataset as data
from reportgen.data import readers, sources
from reportgen.errors import DataNotFoundError, InputError

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n196\t377\t5\t881250950\n"
U_ITEM = (
    "242|Kolya (1996)|24-Jan-1997||http://x|0|0\n"
    "302|L.A. Confidential (1997)|01-Jan-1997||http://x|0|0\n"
    "377|Misérables, Les (1995)|01-Jan-1995||http://x|0|0\n"
)


def grouplens_dir(folder: Path, u_data: str = U_DATA, u_item: str = U_ITEM) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text(u_data, encoding="ascii")
    (folder / "u.item").write_bytes(u_item.encode("latin-1"))  # GroupLens ships latin-1
    return folder


def test_grouplens_folder_reads_ratings_with_latin1_titles(tmp_path: Path) -> None:
    folder = grouplens_dir(tmp_path / "ml-100k")
    ratings = data.read_grouplens(folder)

    assert list(ratings.frame.columns) == ["user", "item", "rating", "timestamp", "title"]
    assert ratings.frame.to_dict("records") == [
        {"user": 196, "item": 242, "rating": 3, "timestamp": 881250949, "title": "Kolya (1996)"},
        {"user": 186, "item": 302, "rating": 3, "timestamp": 891717742, "title": "L.A. Confidential (1997)"},
        {"user": 22, "item": 377, "rating": 1, "timestamp": 878887116, "title": "Misérables, Les (1995)"},
        {"user": 196, "item": 377, "rating": 5, "timestamp": 881250950, "title": "Misérables, Les (1995)"},
    ]
    assert (ratings.n_ratings, ratings.n_users, ratings.n_items) == (4, 3, 3)
    assert list(ratings.frame.index) == [1, 2, 3, 4]  # u.data's lines, for messages
    assert list(ratings.frame["user"].cat.categories) == [22, 186, 196]  # integer ids, sorted
    p = ratings.provenance
    assert (p.name, p.source, p.location) == ("ml-100k", "path", str(folder))
    assert p.ratings_file == str(folder / "u.data")
    assert p.sha256 == hashlib.sha256(U_DATA.encode()).hexdigest()


@pytest.mark.parametrize("inner", ["ml-100k/", ""])
def test_grouplens_zip_reads_the_same_as_the_folder(tmp_path: Path, inner: str) -> None:
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(f"{inner}u.data", U_DATA)
        z.writestr(f"{inner}u.item", U_ITEM.encode("latin-1"))
        z.writestr(f"{inner}README", "not read")
    from_zip = data.read_grouplens(archive)
    from_dir = data.read_grouplens(grouplens_dir(tmp_path / "dir"))

    pd.testing.assert_frame_equal(from_zip.frame, from_dir.frame)
    assert from_zip.provenance.sha256 == from_dir.provenance.sha256
    assert from_zip.provenance.ratings_file == f"{archive}!{inner}u.data"


def test_zip_without_u_item_names_the_missing_file(tmp_path: Path) -> None:
    archive = tmp_path / "ratings.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ml-100k/u.data", U_DATA)
    with pytest.raises(InputError) as err:
        data.read_grouplens(archive)
    assert str(err.value) == (
        f"{archive}: the zip has no u.item (expected a GroupLens ml-100k zip with u.data and u.item)"
    )


def test_folder_without_u_data_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "u.item").write_text(U_ITEM, encoding="latin-1")
    with pytest.raises(InputError) as err:
        data.read_grouplens(tmp_path)
    assert str(err.value) == (
        f"{tmp_path}: no u.data found (expected a GroupLens ml-100k folder with u.data and u.item)"
    )


def test_non_numeric_rating_names_the_line_and_value(tmp_path: Path) -> None:
    folder = grouplens_dir(tmp_path, u_data=U_DATA + "5\t242\tgood\t1\n")
    with pytest.raises(InputError) as err:
        data.read_grouplens(folder)
    assert str(err.value) == f"{folder / 'u.data'}: line 5: rating 'good' is not a number"


def test_rated_item_missing_from_u_item_is_named(tmp_path: Path) -> None:
    folder = grouplens_dir(tmp_path, u_data=U_DATA + "5\t999\t4\t1\n")
    with pytest.raises(InputError) as err:
        data.read_grouplens(folder)
    assert str(err.value) == f"{folder / 'u.data'}: item(s) 999 have no title in {folder / 'u.item'}"


@pytest.mark.parametrize(
    ("title", "year", "grouplens"),
    [
        ("Toy Story", "1995", "Toy Story (1995)"),
        ("unkonwn", "unkonwn", "unknown"),  # item 267, misspelt in recbole
        (
            "Land Before Time III: The Time of the Great Giving (1995)",
            "V",
            "Land Before Time III: The Time of the Great Giving (1995) (V)",  # item 1412
        ),
        ("Misérables, Les", "1995", "Misérables, Les (1995)"),
        ("No Year", "", "No Year"),
    ],
)
def test_recbole_titles_are_rebuilt_to_grouplens_form(title: str, year: str, grouplens: str) -> None:
    assert readers.grouplens_title(title, year) == grouplens


def test_recbole_folder_reads_typed_headers_and_rebuilds_titles(tmp_path: Path) -> None:
    (tmp_path / "ml-100k.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "1\t1\t5\t874965758\n2\t267\t3\t876893171\n1\t1412\t1\t878542960\n",
        encoding="utf-8",
    )
    (tmp_path / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "1\tToy Story\t1995\tAnimation Children's Comedy\n"
        "267\tunkonwn\tunkonwn\tunknown\n"
        "1412\tLand Before Time III: The Time of the Great Giving (1995)\tV\tAnimation\n",
        encoding="utf-8",
    )
    ratings = data.read_recbole(tmp_path)

    assert ratings.frame[["user", "item", "rating", "title"]].to_dict("records") == [
        {"user": 1, "item": 1, "rating": 5, "title": "Toy Story (1995)"},
        {"user": 2, "item": 267, "rating": 3, "title": "unknown"},
        {
            "user": 1,
            "item": 1412,
            "rating": 1,
            "title": "Land Before Time III: The Time of the Great Giving (1995) (V)",
        },
    ]
    assert ratings.provenance.source == "recbole"
    assert list(ratings.frame.index) == [2, 3, 4]
    assert ratings.provenance.sha256 == hashlib.sha256((tmp_path / "ml-100k.inter").read_bytes()).hexdigest()


# --------------------------------------------------------------------------- resolution order


@pytest.fixture
def no_local_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty fastai home and no recbole, whatever this machine has installed."""
    home = tmp_path / "fastai-home"
    monkeypatch.setenv("FASTAI_HOME", str(home))
    monkeypatch.setattr(sources, "recbole_data_dir", lambda: None)
    return home


def test_fastai_cache_is_used_before_recbole(
    no_local_copies: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    grouplens_dir(no_local_copies / "data" / "ml-100k")
    monkeypatch.setattr(sources, "recbole_data_dir", lambda: pytest.fail("recbole must not be consulted"))
    ratings = data.load(download=None)
    assert ratings.provenance.source == "fastai-cache"
    assert ratings.provenance.location == str(no_local_copies / "data" / "ml-100k")


def test_fastai_cache_honours_the_data_key_of_its_config(no_local_copies: Path) -> None:
    no_local_copies.mkdir()
    (no_local_copies / "config.ini").write_text("[DEFAULT]\ndata = /srv/datasets\n")
    assert sources.fastai_data_dir() == Path("/srv/datasets")


def test_download_is_the_last_resort_and_reads_what_it_fetched(no_local_copies: Path, tmp_path: Path) -> None:
    fetched = grouplens_dir(tmp_path / "downloaded" / "ml-100k")
    ratings = data.load(download=lambda: fetched)
    assert (ratings.provenance.source, ratings.n_ratings) == ("download", 4)


def test_no_source_at_all_gives_one_error_listing_every_way(no_local_copies: Path) -> None:
    def offline() -> Path:
        raise ConnectionError("Name or service not known")

    with pytest.raises(DataNotFoundError) as err:
        data.load(download=offline)
    message = err.value.render(lambda name: f"--{name}")  # as the command line shows it
    assert "\n" not in message and "pass data PATH" in str(err.value)  # the library names the setting
    assert message.startswith(
        "cannot find MovieLens ml-100k and the download failed (ConnectionError: Name or service not known)"
    )
    for way in (
        "--data PATH",
        str(no_local_copies / "data" / "ml-100k"),
        "pip install --no-deps recbole==1.2.1",
        "online",
    ):
        assert way in message


def test_explicit_data_wins_over_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "fastai_data_dir", lambda: pytest.fail("the cache must not be consulted"))
    ratings = data.load(grouplens_dir(tmp_path / "mine"), download=None)
    assert ratings.provenance.source == "path"


def test_candidates_list_the_ways_in_order(no_local_copies: Path, tmp_path: Path) -> None:
    mine = grouplens_dir(tmp_path / "mine")
    found = sources.candidates(mine)
    assert [c.source for c in found] == ["path", "fastai-cache", "recbole", "download"]
    assert [c.available for c in found] == [True, False, False, True]
    assert found[2].location == "recbole==1.2.1 is not installed"


def test_real_recbole_copy_is_the_full_ml100k(recbole_ml100k: Path) -> None:
    ratings = data.read_recbole(recbole_ml100k)
    assert (ratings.n_ratings, ratings.n_users, ratings.n_items, ratings.n_titles) == (100_000, 943, 1682, 1664)
    titles = ratings.frame.drop_duplicates("item").set_index("item")["title"]
    assert titles[267] == "unknown"
    assert titles[1] == "Toy Story (1995)"
    assert titles[50] == "Star Wars (1977)"


# --------------------------------------------------------------------------- `datasets --data` agrees with `build --data`


def _plain_file(tmp: Path) -> Path:
    (tmp / "notes.txt").write_text("not a zip\n")
    return tmp / "notes.txt"


def _folder_without_u_item(tmp: Path) -> Path:
    (tmp / "half").mkdir()
    (tmp / "half" / "u.data").write_text(U_DATA)
    return tmp / "half"


def _zip_without_u_data(tmp: Path) -> Path:
    with zipfile.ZipFile(tmp / "other.zip", "w") as z:
        z.writestr("ml-100k/README", "no data here")
    return tmp / "other.zip"


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "pipe")
    return tmp / "pipe"


@pytest.mark.parametrize("make", [_plain_file, _folder_without_u_item, _zip_without_u_data, _fifo])
def test_datasets_never_says_it_would_read_what_build_refuses(tmp_path: Path, make, no_local_copies: Path) -> None:
    from click.testing import CliRunner

    from reportgen.cli import cli

    path = make(tmp_path)
    build = CliRunner().invoke(cli, ["build", "--offline", "--data", str(path), "--output", str(tmp_path / "out")])
    assert build.exit_code == 2
    refusal = build.stderr.splitlines()[-1].removeprefix(f"Error: {path}: ")
    listed = CliRunner().invoke(cli, ["datasets", "--data", str(path)])
    assert listed.exit_code == 0
    assert "would read" not in listed.output
    assert listed.output.splitlines()[-1] == f"reportgen build would refuse --data {path}: {refusal}"


def test_datasets_says_it_would_read_a_good_data_folder(tmp_path: Path, no_local_copies: Path) -> None:
    from click.testing import CliRunner

    from reportgen.cli import cli

    folder = grouplens_dir(tmp_path / "ml-100k")
    listed = CliRunner().invoke(cli, ["datasets", "--data", str(folder)])
    assert listed.output.splitlines()[-1] == f"reportgen build would read: path ({folder})"
