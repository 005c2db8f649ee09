"""Every file reportgen reads is bounded (issue 20, items 3-5 and the kept model of 13).

JSON and TOML (an earlier run's report.json, `--compare-with`, `--config`, model.json)
and the kept weights go through one reader, `data.documents`: regular files only (a
FIFO or a device refused at once), a size cap, a depth cap, finite numbers only.
Compressed ratings go through one guard, `data.files.Expansion`: a cap on what comes
out and on how many times larger it is than what went in, checked while streaming.
Each case here is what a user sees: the one `Error:` line and its exit code, the
warning a build goes on after, the row the history page lists.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import shutil
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import reportgen
from reportgen.data import files
from reportgen.data.files import CHUNK, count_lines
from reportgen.data.readers import read_ratings_file
from reportgen.data.types import OwnData
from reportgen.errors import InputError
from reportgen.runs import history, outputs
from tests.helpers.commands import invoke
from tests.helpers.planted import unblock_readers

QUICK = ["--epochs", "1", "--factors", "4", "--lr", "0.01", "--top-n", "40", "--no-model"]
RUN = "20261201T010000Z"
NOT_FINITE = "is not a finite number"
TOO_DEEP = "nests deeper than 32 levels, which no file of reportgen's does"
BOMB = "expands more than 100 times its compressed size, which no table of ratings does (they compress 3 to 10 times); refused as a decompression bomb"  # noqa: E501

# --------------------------------------------------------------------------- damaged JSON and TOML

# What a damaged report.json (or model.json) holds, and what the reader says is wrong with it.
DAMAGED_JSON = {
    "1e400": (b'{"metrics": {"valid_mse": 1e400, "valid_rmse": 1.0}}', f"metrics.valid_mse: 1e400 {NOT_FINITE}"),
    "-1e400 in a list": (b'{"items": [{"title": "A", "bias": -1e400}]}', f"items[0].bias: -1e400 {NOT_FINITE}"),
    "NaN": (b'{"metrics": {"valid_mse": NaN, "valid_rmse": 1.0}}', f"metrics.valid_mse: NaN {NOT_FINITE}"),
    "-Infinity": (b'{"metrics": {"valid_rmse": -Infinity}}', f"metrics.valid_rmse: -Infinity {NOT_FINITE}"),
    "an integer no float holds": (
        b'{"dataset": {"n_ratings": 1' + b"0" * 400 + b"}}",
        f"dataset.n_ratings: 100000000000000000000000… (401 characters) {NOT_FINITE}",
    ),
    "1e400 alone": (b"1e400", f"the document: 1e400 {NOT_FINITE}"),
    "100,000 deep": (b"[" * 100_000 + b"]" * 100_000, TOO_DEEP),
    "200 deep, under Python's recursion limit": (b'{"a": ' * 200 + b"1" + b"}" * 200, TOO_DEEP),
    "33 deep": (b"[" * 33 + b"]" * 33, TOO_DEEP),
    "not UTF-8": (b'{"generated_at": "\xff"}', "is not UTF-8 text (byte 0xff at offset 18)"),
    "cut short": (b'{"metrics": ', "is not valid JSON (Expecting value, line 1)"),
}


def plant(where: Path, kind: str, content: bytes = b"") -> str:
    """Put at `where` a FIFO, a link to /dev/zero, a sparse file past the cap, or `content`; the problem expected."""
    where.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(where)
        unblock_readers(where)  # a FIFO opened by mistake ends in another message, never in a hang
        return "is a FIFO, not a regular file"
    if kind == "/dev/zero":
        where.symlink_to("/dev/zero")
        return "is a device, not a regular file"
    if kind == "a folder":
        where.mkdir()
        return "is a folder, not a file"
    if kind == "17 MiB":
        with open(where, "wb") as handle:  # sparse: nothing is written but its length
            handle.truncate(17 << 20)
        return "is 17,825,792 bytes, more than 16 MiB, the most read from a report.json"
    where.write_bytes(content)
    return DAMAGED_JSON[kind][1]


REPORT_CASES = [*DAMAGED_JSON, "fifo", "/dev/zero", "a folder", "17 MiB"]


@pytest.mark.parametrize("kind", REPORT_CASES)
def test_render_refuses_a_damaged_or_special_report_json_in_one_line(tmp_path: Path, kind: str) -> None:
    run = tmp_path / "runs" / RUN
    problem = plant(run / "report.json", kind, DAMAGED_JSON.get(kind, (b"",))[0])
    if kind == "/dev/zero":
        problem = "a symbolic link to /dev/zero, not followed"  # a run's own files are never followed out of it
    result = invoke("render", run)  # a FIFO never waited on, /dev/zero never read: the message says which it saw
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"Error: {run / 'report.json'}: cannot read it as a report.json ({problem})\n"


@pytest.mark.parametrize("kind", REPORT_CASES)
def test_history_lists_a_damaged_or_special_report_json_and_still_writes_the_page(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "out"
    problem = plant(out / "runs" / RUN / "report.json", kind, DAMAGED_JSON.get(kind, (b"",))[0])
    if kind == "/dev/zero":
        problem = "is a symbolic link, not followed"  # a run's own files are never followed out of it
    result = invoke("history", "--output", out)
    assert (result.exit_code, result.stderr) == (0, "")
    assert [(r.name, r.problem) for r in history.collect(out)] == [(RUN, f"report.json {problem}")]
    page = (out / "index.html").read_text(encoding="utf-8")
    assert RUN in page and "report.json" in page


@pytest.mark.parametrize("kind", REPORT_CASES)
def test_a_damaged_previous_report_is_one_warning_and_no_comparison(
    tmp_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    problem = plant(tmp_path / "report.json", kind, DAMAGED_JSON.get(kind, (b"",))[0])
    # Inside the output folder no link but reportgen's own is followed; --compare-with follows the user's path.
    automatic = "a symbolic link to /dev/zero, not followed" if kind == "/dev/zero" else problem
    assert outputs.previous_report(tmp_path) is None
    assert caplog.messages == [f"warning: not comparing with {tmp_path / 'report.json'}: {automatic}"]
    with pytest.raises(InputError) as refused:
        outputs.previous_report(tmp_path, explicit=tmp_path / "report.json")
    assert str(refused.value) == f"{tmp_path / 'report.json'}: cannot read it as a report.json ({problem})"


@pytest.fixture(scope="module")
def published_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One finished run on the planted data (built once), and the data it read."""
    from tests.helpers.planted import planted_frame, write_grouplens

    base = tmp_path_factory.mktemp("published")
    planted = planted_frame()
    data = write_grouplens(base / "ml-planted", planted.frame, planted.titles)
    result = invoke("build", "--output", base / "out", "--data", data, *QUICK)
    assert result.exit_code == 0, result.output
    return base / "out", data


@pytest.mark.usefixtures("undrawn")
@pytest.mark.parametrize("kind", ["1e400", "100,000 deep", "fifo"])
def test_a_damaged_previous_report_never_stops_the_next_build(
    tmp_path: Path, published_once: tuple[Path, Path], kind: str
) -> None:
    out = Path(shutil.copytree(published_once[0], tmp_path / "out", symlinks=True))
    previous = out / "runs" / os.readlink(out / "latest").split("/")[-1] / "report.json"
    previous.unlink()
    problem = plant(previous, kind, DAMAGED_JSON.get(kind, (b"",))[0])
    result = invoke("build", "--output", out, "--data", published_once[1], *QUICK)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "warning: not comparing" in line]
    assert [w.split(" ", 1)[1] for w in warnings] == [f"warning: not comparing with {out / 'report.json'}: {problem}"]
    assert "comparison" not in json.loads((out / "report.json").read_text(encoding="utf-8"))
    rows = {r.name: r.problem for r in history.collect(out)}  # the damaged run is listed as such
    assert rows[previous.parent.name] == f"report.json {problem}"


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "100,000 deep", "1e400"])
def test_compare_with_a_special_or_damaged_file_is_refused_before_training(
    tmp_path: Path, planted_dir: Path, kind: str
) -> None:
    old = tmp_path / "old.json"
    problem = plant(old, kind, DAMAGED_JSON.get(kind, (b"",))[0])
    result = invoke("build", "--output", tmp_path / "out", "--data", planted_dir, "--compare-with", old, *QUICK)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {old}: cannot read it as a report.json ({problem})"
    assert "epoch" not in result.stderr


CONFIGS = {
    "lr = 1e400": (b"lr = 1e400\n", f"lr: 1e400 {NOT_FINITE}"),
    "lr = nan": (b"lr = nan\n", f"lr: nan {NOT_FINITE}"),
    "wd = -inf": (b"wd = -inf\n", f"wd: -inf {NOT_FINITE}"),
    "lr = 10**400": (
        b"lr = 1" + b"0" * 400 + b"\n",
        f"lr: 100000000000000000000000… (401 characters) {NOT_FINITE}",
    ),
    "100,000 deep": (b"epochs = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", TOO_DEEP),
    "40 deep tables": (b"[" + b".".join(b"t%d" % i for i in range(40)) + b"]\nx = 1\n", TOO_DEEP),
    "not UTF-8": (b'title-col = "\xff"\n', "is not UTF-8 text (byte 0xff at offset 13)"),
    "not TOML": (b"epochs = [1\n", "is not valid TOML (Unclosed array (at end of document))"),
}


@pytest.mark.parametrize("kind", [*CONFIGS, "fifo", "/dev/zero", "2 MiB"])
def test_a_special_or_damaged_config_file_is_one_usage_error(tmp_path: Path, kind: str) -> None:
    config = tmp_path / "nightly.toml"
    if kind in CONFIGS:
        config.write_bytes(CONFIGS[kind][0])
        problem = CONFIGS[kind][1]
    elif kind == "2 MiB":
        config.write_bytes(b"# a comment\n" * ((2 << 20) // 12 + 1))
        problem = f"is {config.stat().st_size:,} bytes, more than 1 MiB, the most read from a config file"
    else:
        problem = plant(config, kind)
    result = invoke("build", "--config", config, "--output", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr == f"Error: Invalid value for '--config': {config}: {problem}\n"


# --------------------------------------------------------------------------- the kept model


def write_model(folder: Path, *, description: dict | None = None, tensors: dict | None = None) -> Path:
    """A small kept model made by hand (no training): 2 users, 3 items, 2 factors, and what `load_model` reads."""
    import torch
    from safetensors.torch import save

    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    made = {
        "u_weight": torch.randn(3, 2, generator=generator),
        "i_weight": torch.randn(4, 2, generator=generator),
        "u_bias": torch.randn(3, 1, generator=generator),
        "i_bias": torch.randn(4, 1, generator=generator),
    }
    made.update(tensors or {})
    vocabulary = {
        "format": "reportgen-model/1",
        "reportgen_version": reportgen.__version__,
        "weights": "model.safetensors",
        "model": "fastai.collab.EmbeddingDotBias",
        "factors": 2,
        "y_range": [0.0, 5.5],
        "users": ["#na#", "u1", "u2"],
        "items": ["#na#", "A (1990)", "B (1991)", "C (1992)"],
    }
    vocabulary.update(description or {})
    (folder / "model.safetensors").write_bytes(save(made, metadata={"format": "reportgen-model/1"}))
    (folder / "model.json").write_text(json.dumps({k: v for k, v in vocabulary.items() if v is not ...}))
    return folder


def test_a_sound_hand_made_model_loads_and_predicts(tmp_path: Path) -> None:
    import torch

    loaded = reportgen.load_model(write_model(tmp_path / "run"))
    with torch.no_grad():
        predicted = loaded.model(loaded.codes(["u1", "u2"], ["A (1990)", "C (1992)"]))
    assert predicted.shape == (2,) and bool(torch.isfinite(predicted).all())
    assert bool(((predicted >= 0) & (predicted <= 5.5)).all())


MODEL_JSON = "model.json"
DAMAGED_DESCRIPTIONS = {
    "factors a string": ({"factors": "2"}, "factors is '2', expected a whole number of at least 1"),
    "factors true": ({"factors": True}, "factors is True, expected a whole number of at least 1"),
    "factors 0": ({"factors": 0}, "factors is 0, expected a whole number of at least 1"),
    "factors missing": ({"factors": ...}, "factors is missing, expected a whole number of at least 1"),
    "users missing": ({"users": ...}, "users is missing, expected a non-empty list of strings (row 0 is #na#)"),
    "users an object": ({"users": {"a": 1}}, "users is dict, expected a non-empty list of strings (row 0 is #na#)"),
    "items empty": ({"items": []}, "items is list, expected a non-empty list of strings (row 0 is #na#)"),
    "items of numbers": (
        {"items": [0, 1, 2, 3]},
        "items is list, expected a non-empty list of strings (row 0 is #na#)",
    ),
    "a user twice": ({"users": ["#na#", "u1", "u1"]}, "users names a row twice, so its rows cannot be told apart"),
    "y_range of one": ({"y_range": [1]}, "y_range is list, expected null or [low, high] with low < high"),
    "y_range reversed": ({"y_range": [5, 1]}, "y_range is list, expected null or [low, high] with low < high"),
    "y_range of strings": ({"y_range": ["0", "9"]}, "y_range is list, expected null or [low, high] with low < high"),
    "y_range a number": ({"y_range": 5}, "y_range is 5, expected null or [low, high] with low < high"),
    "another format": ({"format": "pickle"}, "not a reportgen model description (format reportgen-model/1 expected)"),
}


@pytest.mark.parametrize("damage", DAMAGED_DESCRIPTIONS)
def test_a_damaged_model_json_is_one_input_error_naming_it(tmp_path: Path, damage: str) -> None:
    change, problem = DAMAGED_DESCRIPTIONS[damage]
    folder = write_model(tmp_path / "run", description=change)
    with pytest.raises(InputError) as refused:
        reportgen.load_model(folder)
    assert str(refused.value) == f"{folder / MODEL_JSON}: {problem}"


@pytest.mark.parametrize("kind", ["1e400", "100,000 deep", "fifo", "/dev/zero", "not UTF-8"])
def test_a_special_or_unparsable_model_json_is_one_input_error(tmp_path: Path, kind: str) -> None:
    folder = write_model(tmp_path / "run")
    (folder / MODEL_JSON).unlink()
    problem = plant(folder / MODEL_JSON, kind, DAMAGED_JSON.get(kind, (b"",))[0])
    with pytest.raises(InputError) as refused:
        reportgen.load_model(folder)
    assert str(refused.value) == f"{folder / MODEL_JSON}: the kept model cannot be read ({problem})"


@pytest.mark.parametrize(
    ("tensor", "value", "problem"),
    [
        ("u_weight", float("nan"), "u_weight holds NaN or infinite weights; the model cannot predict with them"),
        ("i_bias", float("inf"), "i_bias holds NaN or infinite weights; the model cannot predict with them"),
        ("i_weight", "float16", "i_weight is float16, expected float32"),
        ("u_bias", "int64", "u_bias is int64, expected float32"),
    ],
)
def test_weights_that_are_not_finite_float32_are_refused(
    tmp_path: Path, tensor: str, value: object, problem: str
) -> None:
    import torch

    shapes = {"u_weight": (3, 2), "i_weight": (4, 2), "u_bias": (3, 1), "i_bias": (4, 1)}
    if isinstance(value, float):
        made = torch.zeros(shapes[tensor])
        made[1, 0] = value
    else:
        made = torch.ones(shapes[tensor], dtype=getattr(torch, str(value)))
    folder = write_model(tmp_path / "run", tensors={tensor: made})
    with pytest.raises(InputError) as refused:
        reportgen.load_model(folder)
    assert str(refused.value) == f"{folder / 'model.safetensors'}: {problem}"


def test_weights_larger_than_model_json_says_are_not_read(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "run")
    with open(folder / "model.safetensors", "r+b") as handle:  # sparse: 1 GiB of nothing after the tensors
        handle.truncate(1 << 30)
    with pytest.raises(InputError) as refused:
        reportgen.load_model(folder)
    limit = f"{4 * (3 + 4) * (2 + 1) + (64 << 10):,} bytes"  # its tensors' bytes, and 64 KiB for its header
    expected = f"is 1,073,741,824 bytes, more than {limit}, the most read from the model.safetensors of its model.json"
    assert str(refused.value) == f"{folder / 'model.safetensors'}: the kept model cannot be read ({expected})"


def test_a_kept_model_as_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "run")
    (folder / "model.safetensors").unlink()
    os.mkfifo(folder / "model.safetensors")
    with pytest.raises(InputError) as refused:
        reportgen.load_model(folder)
    problem = "the kept model cannot be read (is a FIFO, not a regular file)"
    assert str(refused.value) == f"{folder / 'model.safetensors'}: {problem}"


# --------------------------------------------------------------------------- decompression bombs

HEADER = b"user,item,rating\n"


def gzip_repeated(block: bytes, times: int, prefix: bytes = HEADER) -> bytes:
    """A gzip of `prefix` then `block` `times` times, small on disk: one member, repeated (gzip allows that)."""
    return gzip.compress(prefix, mtime=0) + gzip.compress(block, 9, mtime=0) * times


def deflate_repeated(prefix: bytes, block: bytes, times: int) -> tuple[bytes, int, int]:
    """A raw deflate stream of `prefix` then `block` `times` times, made in milliseconds: its bytes, CRC-32, size.

    After a full flush the compressor's output for the same input repeats, so the
    middle is one compressed block copied `times - 1` times.
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = packer.compress(prefix + block) + packer.flush(zlib.Z_FULL_FLUSH)
    again = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(block, zlib.crc32(prefix))
    for _ in range(times - 1):
        crc = zlib.crc32(block, crc)
    return first + again * (times - 1) + packer.flush(), crc, len(prefix) + len(block) * times


def zip_of(members: dict[str, tuple[bytes, int, int]], stated_size: int | None = None) -> bytes:
    """A zip of deflated members `{name: (data, crc, size)}`, written by hand (zipfile would deflate it all again)."""
    local, central = b"", b""
    for name, (data, crc, size) in members.items():
        raw, size = name.encode(), stated_size or size
        central += struct.pack(
            "<4s6H3L5H2L",
            b"PK\x01\x02",
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(data),
            size,
            len(raw),
            0,
            0,
            0,
            0,
            0,
            len(local),
        )
        central += raw
        local += (
            struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw), 0) + raw + data
        )
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0)
    return local + central + end


def deflated(data: bytes) -> tuple[bytes, int, int]:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(), zlib.crc32(data), len(data)


@functools.cache
def genuine_rows(n: int, seed: int = 0) -> bytes:
    """`n` ratings as a real export looks: random users and items, ratings 1-5 (compresses about 2 times)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    table = pa.table({"u": rng.integers(1, 100_000, n), "i": rng.integers(1, 50_000, n), "r": rng.integers(1, 6, n)})
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buffer.getvalue()


def parquet_bytes() -> bytes:
    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame({"user": ["u1"], "item": ["i1"], "rating": [4.0]}).to_parquet(buffer)
    return buffer.getvalue()


BOMBS = {  # name -> (file name, bytes on disk): each expands 1,000 times or more
    "150 KB gzip of blank lines (150 MiB)": ("blank.csv.gz", lambda: gzip_repeated(b"\n" * (1 << 20), 150)),
    "gzip of one valid row 250 million times (1.5 GB)": (
        "row.csv.gz",
        lambda: gzip_repeated(b"1,1,5\n" * (1 << 18), 900),
    ),
    "zip of one 1.5 GB field": (
        "field.csv.zip",
        lambda: zip_of({"field.csv": deflate_repeated(HEADER + b"1,1,", b"a" * (1 << 20), 1500)}),
    ),
    "zip of blank lines stating the wrong sizes (512 MiB)": (
        "lying.csv.zip",
        lambda: zip_of({"lying.csv": deflate_repeated(HEADER, b"\n" * (1 << 20), 512)}, stated_size=1000),
    ),
    "a genuine 1 MB first, then blank lines (the ratio is judged per window)": (
        "padded.csv.gz",
        lambda: gzip_repeated(b"\n" * (1 << 20), 600, prefix=HEADER + genuine_rows(80_000)),
    ),
    "gzip of a Parquet file padded with 150 MiB of zeros": (
        "padded.parquet.gz",
        lambda: gzip_repeated(b"\0" * (1 << 20), 150, prefix=parquet_bytes()),
    ),
}
REFUSED = {"lying.csv.zip": "cannot decompress (Bad CRC-32 for file 'lying.csv')"}


@pytest.mark.parametrize("bomb", BOMBS)
def test_a_compressed_bomb_is_refused_in_one_line_within_seconds(tmp_path: Path, bomb: str) -> None:
    name, make = BOMBS[bomb]
    path = tmp_path / name
    path.write_bytes(make())
    assert path.stat().st_size < 2_200_000  # small on disk
    started = time.process_time()  # CPU seconds: this process's own work, however busy the machine is
    result = invoke("build", "--ratings", path, "--output", tmp_path / "out", *QUICK)
    assert time.process_time() - started < 30  # seconds, not the minutes the whole bomb would take
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines()[-1] == f"Error: {path}: {REFUSED.get(name, BOMB)}"
    assert not (tmp_path / "out" / "report.json").exists()


def test_a_bomb_as_the_items_file_or_inside_a_grouplens_zip_is_refused_too(tmp_path: Path) -> None:
    ratings = tmp_path / "ratings.csv"
    ratings.write_bytes(b"user,item,rating\nu1,i1,4\nu2,i1,3\n")
    items = tmp_path / "items.csv.gz"
    items.write_bytes(gzip_repeated(b"\n" * (1 << 20), 100, prefix=b"item,title\ni1,A\n"))
    result = invoke("build", "--ratings", ratings, "--items", items, "--output", tmp_path / "out", *QUICK)
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (2, f"Error: {items}: {BOMB}")

    ml = tmp_path / "ml-100k.zip"
    item_line = deflated(b"1|Alpha (1990)|01-Jan-1990||http://x|" + b"0|" * 18 + b"0\n")
    ml.write_bytes(
        zip_of({"ml-100k/u.data": deflate_repeated(b"", b"1\t1\t5\t0\n" * (1 << 17), 600), "ml-100k/u.item": item_line})
    )
    result = invoke("build", "--data", ml, "--output", tmp_path / "out", *QUICK)
    assert (result.exit_code, result.stderr.splitlines()[-1]) == (2, f"Error: {ml}: {BOMB}")


def test_a_zip_stating_a_bomb_is_refused_before_decompressing(tmp_path: Path) -> None:
    path = tmp_path / "stated.csv.zip"  # what the zip says is enough: 100 MiB from 1 KiB
    path.write_bytes(zip_of({"stated.csv": (b"\0" * 1024, 0, 100 << 20)}))
    with pytest.raises(InputError) as refused:
        read_ratings_file(OwnData(ratings=path))
    assert str(refused.value) == f"{path}: {BOMB}"


def test_a_zip_stating_more_than_the_total_is_refused_before_decompressing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_EXPANDED_BYTES", 16 << 20)  # as 4 GiB is, without a zip64 in the test
    path = tmp_path / "stated.csv.zip"
    path.write_bytes(zip_of({"stated.csv": (b"\0" * (1 << 20), 0, 20 << 20)}))  # 20 MiB at 20 times
    with pytest.raises(InputError) as refused:
        read_ratings_file(OwnData(ratings=path))
    assert str(refused.value) == (
        f"{path}: expands to more than 16 MiB, the most reportgen decompresses from one file; "
        "decompress it yourself if it really is a table of ratings"
    )


@pytest.mark.parametrize("suffix", [".csv.gz", ".csv.zip"])
def test_genuine_tables_pass_every_window_and_only_the_total_is_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """The limits scaled down (1 MiB windows, 6 MiB in all), so that a genuine table crosses them quickly."""
    monkeypatch.setattr(files, "WINDOW", 1 << 20)
    monkeypatch.setattr(files, "MAX_EXPANDED_BYTES", 6 << 20)

    def compressed(data: bytes) -> bytes:
        return gzip.compress(data, 6, mtime=0) if suffix.endswith(".gz") else zip_of({"r.csv": deflated(data)})

    table = HEADER + genuine_rows(200_000)  # about 2.7 MB: two windows, each compressed about 2 times
    path = tmp_path / f"genuine{suffix}"
    path.write_bytes(compressed(table))
    assert read_ratings_file(OwnData(ratings=path)).n_ratings == 200_000

    path.write_bytes(compressed(table + genuine_rows(300_000, seed=1)))  # about 6.8 MB: past the total
    with pytest.raises(InputError) as refused:
        read_ratings_file(OwnData(ratings=path))
    assert str(refused.value) == (
        f"{path}: expands to more than 6 MiB, the most reportgen decompresses from one file; "
        "decompress it yourself if it really is a table of ratings"
    )

    path.write_bytes(compressed(table + b"\n" * (3 << 20)))  # genuine, then three windows of blank lines
    with pytest.raises(InputError) as refused:
        read_ratings_file(OwnData(ratings=path))
    assert str(refused.value) == f"{path}: {BOMB}"


@pytest.mark.parametrize(
    ("text", "lines", "empty"),
    [
        (b"a,b\n1,2\n", 2, False),
        (b"a,b\n1,2", 2, False),
        (b"a,b\n\n1,2\n", 3, True),
        (b"a,b\r\n\r\n1,2\r\n", 3, True),
        (b"a,b\n1,2\n\n", 3, True),
        (b"a,b\n" + b"1,2\n" * 5, 6, False),
    ],
)
def test_count_lines_says_whether_a_line_is_empty(text: bytes, lines: int, empty: bool) -> None:
    """A file with empty lines skips the whole-file fast read (pyarrow would hold every empty row at once)."""
    assert count_lines(io.BytesIO(text)) == (lines, empty)


@pytest.mark.parametrize("gap", [b"\n\n", b"\n\r\n"])
def test_count_lines_finds_an_empty_line_split_across_two_blocks(gap: bytes) -> None:
    for cut in range(1, len(gap)):
        head = b"x" * (CHUNK - cut) + gap[:cut]
        text = head + gap[cut:] + b"1,2\n"
        assert len(head) == CHUNK
        assert count_lines(io.BytesIO(text))[1] is True
    assert count_lines(io.BytesIO(b"x" * (CHUNK - 1) + b"\n" + b"1,2\n"))[1] is False
