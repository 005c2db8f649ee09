"""The kept model: model.safetensors + model.json, read back by `reportgen.load_model` into fastai's model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import reportgen
from reportgen.cli import cli
from reportgen.errors import InputError
from reportgen.runs import outputs
from reportgen.train import fitting as train
from reportgen.train import kept as kept_model
from tests.helpers.planted import Planted, as_ratings

CONFIG = train.TrainConfig(epochs=2, lr=1e-2, factors=8, bs=64)


@pytest.fixture(scope="module")
def trained(planted: Planted) -> train.TrainedModel:
    return train.fit(as_ratings(planted.frame), CONFIG)


@pytest.fixture
def kept(trained: train.TrainedModel, tmp_path: Path) -> Path:
    outputs.write_files(tmp_path, kept_model.model_files(trained))
    return tmp_path


def test_the_kept_model_predicts_what_the_trained_learner_predicts(trained: train.TrainedModel, kept: Path) -> None:
    import torch
    from fastai.collab import EmbeddingDotBias

    loaded = reportgen.load_model(kept / "model.safetensors")
    assert isinstance(loaded.model, EmbeddingDotBias)
    _, valid_rows = trained.split
    codes = torch.as_tensor(trained.codes[valid_rows], dtype=torch.long)
    learner_model = trained.learner.model.eval()
    device = next(learner_model.parameters()).device  # a GPU fit is compared on the GPU: the same arithmetic
    with torch.no_grad():
        expected = learner_model(codes.to(device)).cpu()
        got = loaded.model.to(device)(codes.to(device)).cpu()
    assert len(got) == trained.metrics.n_valid
    assert torch.equal(got, expected)
    assert got.std() > 0  # real predictions, not a constant


def test_the_vocabularies_say_what_each_row_is(trained: train.TrainedModel, kept: Path) -> None:
    loaded = reportgen.load_model(kept)  # the run folder works too
    assert loaded.users == trained.user_classes and loaded.items == trained.item_classes
    assert loaded.items[0] == "#na#" and loaded.y_range == CONFIG.y_range
    described = json.loads((kept / "model.json").read_text(encoding="utf-8"))
    assert (described["factors"], described["reportgen_version"]) == (8, reportgen.__version__)
    # Titles and users by name: the codes the model's rows stand for.
    title = trained.item_classes[5]
    user = trained.user_classes[3]
    assert loaded.codes([user, "nobody"], [title, "no such film"]).tolist() == [[3, 5], [0, 0]]


def test_the_file_holds_four_float32_tensors_and_no_pickle(trained: train.TrainedModel, kept: Path) -> None:
    from safetensors.torch import load_file

    tensors = load_file(kept / "model.safetensors")
    n_users, n_items = len(trained.user_classes), len(trained.item_classes)
    assert {n: (tuple(t.shape), str(t.dtype)) for n, t in tensors.items()} == {
        "u_weight": ((n_users, 8), "torch.float32"),
        "i_weight": ((n_items, 8), "torch.float32"),
        "u_bias": ((n_users, 1), "torch.float32"),
        "i_bias": ((n_items, 1), "torch.float32"),
    }
    size = (kept / "model.safetensors").stat().st_size
    assert (
        kept_model.size_bytes(n_users, n_items, 8) < size < kept_model.size_bytes(n_users, n_items, 8) + 1024
    )  # + header
    assert b"\x80\x04" not in (kept / "model.safetensors").read_bytes()[:16]  # not a pickle stream


def test_a_damaged_or_missing_model_is_one_input_error(kept: Path, tmp_path: Path) -> None:
    (kept / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(InputError, match=r"the kept model cannot be read"):
        reportgen.load_model(kept)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"no kept model there .*--no-model"):
        reportgen.load_model(empty)


def test_a_model_from_another_vocabulary_is_refused(trained: train.TrainedModel, kept: Path) -> None:
    described = json.loads((kept / "model.json").read_text(encoding="utf-8"))
    described["items"] = described["items"][:-1]
    (kept / "model.json").write_text(json.dumps(described), encoding="utf-8")
    with pytest.raises(InputError, match=r"does not match model.json: i_weight is \(\d+, 8\), expected \(\d+, 8\)"):
        reportgen.load_model(kept)


@pytest.mark.usefixtures("undrawn")
def test_build_keeps_the_model_unless_told_not_to(planted_dir: Path, tmp_path: Path) -> None:
    fast = ["--offline", "--preset", "fast", "--epochs", "1", "--factors", "4", "-q"]
    runner = CliRunner()
    assert runner.invoke(cli, ["build", "--data", str(planted_dir), "-o", str(tmp_path / "with"), *fast]).exit_code == 0
    assert (
        runner.invoke(
            cli, ["build", "--data", str(planted_dir), "-o", str(tmp_path / "without"), "--no-model", *fast]
        ).exit_code
        == 0
    )
    (with_model,) = outputs.runs(tmp_path / "with")
    (without,) = outputs.runs(tmp_path / "without")
    assert reportgen.load_model(with_model).model.u_weight.weight.shape[1] == 4
    assert sorted(p.name for p in without.iterdir()) == ["report.html", "report.json", "report.md"]


def test_the_kept_tables_read_back_as_numbers_equal_the_fits(trained: train.TrainedModel, kept: Path) -> None:
    """`load_factors` reads the kept model without fastai: the four tables as the fit left them (float32 kept
    exactly), the vocabularies in row order, the y-range; a review scores yesterday's model through it."""
    import numpy as np

    from reportgen.train.kept import load_factors
    from reportgen.train.results import FactorModel

    found, tonight = load_factors(kept), FactorModel.of_trained(trained)
    assert (found.users, found.items, found.y_range) == (tonight.users, tonight.items, tonight.y_range)
    for name in ("user_factors", "user_biases", "item_factors", "item_biases"):
        expected = getattr(tonight.weights, name).astype(np.float32).astype(np.float64)
        assert np.array_equal(getattr(found.weights, name), expected), name


def test_model_json_records_how_the_run_split_and_an_older_one_without_it_still_loads(
    trained: train.TrainedModel, planted: Planted, kept: Path
) -> None:
    """The split record is what lets a later run tell which of its ratings this model never trained on."""
    from reportgen.train.kept import load_factors

    described = json.loads((kept / "model.json").read_text(encoding="utf-8"))
    assert described["split"] == {
        "kind": "stable",  # own data: `auto` is the stable split
        "seed": 42,
        "valid_pct": 0.2,
        "n_ratings": len(planted.frame),
        "sha256": as_ratings(planted.frame).provenance.sha256,
        "item_key": "title",
        "cutoff": None,
    }
    assert load_factors(kept).split_spec == trained.split_spec is not None
    del described["split"]  # as reportgen wrote model.json before it recorded the split
    (kept / "model.json").write_text(json.dumps(described), encoding="utf-8")
    assert load_factors(kept).split_spec is None
    assert reportgen.load_model(kept).users == trained.user_classes


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"kind": "auto"}, "split.kind is 'auto', expected one of random, stable, time"),
        ({"seed": -1}, "split.seed is -1, expected a whole number at least 0 and at most 4294967295"),
        ({"valid_pct": 1.5}, "split.valid_pct is 1.5, expected a number above 0 and below 1"),
        ({"n_ratings": True}, "split.n_ratings is True, expected a whole number of at least 1"),
        ({"sha256": None}, "split.sha256 is None, expected a string"),
        ({"item_key": "isbn"}, "split.item_key is 'isbn', expected title or id"),
        ({"kind": "time"}, "split.cutoff is null, expected the time split's cutoff (epoch seconds)"),
        ({"cutoff": "1998"}, "split.cutoff is '1998', expected null or a whole number (epoch seconds)"),
        ({"extra": 1}, "split has an unknown key 'extra'"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else "",
)
def test_a_damaged_split_record_is_one_line_naming_its_key(kept: Path, change: dict, said: str) -> None:
    described = json.loads((kept / "model.json").read_text(encoding="utf-8"))
    described["split"].update(change)
    (kept / "model.json").write_text(json.dumps(described), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        reportgen.load_model(kept)
    assert str(caught.value) == f"{kept / 'model.json'}: {said}"
    described["split"] = ["not", "an", "object"]
    (kept / "model.json").write_text(json.dumps(described), encoding="utf-8")
    with pytest.raises(InputError, match=r"model.json: split is list, expected an object$"):
        reportgen.load_model(kept)
