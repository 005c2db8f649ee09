"""The lean training path against the tutorial's: same split, same model, numbers within tolerance.

Speed itself is measured by `benchmarks/train_speed.py`, never here; these tests
hold what makes the speed-up honest: the lean path trains the same model on the
same split, and is never worse than the tutorial path.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch

from reportgen.errors import InputError
from reportgen.train import fitting as train
from reportgen.train import learner as lean
from reportgen.train import steps
from reportgen.train.config import LOADERS, PRESETS, describe_preset
from tests.helpers.planted import Planted, as_ratings

CONFIG = train.TrainConfig(epochs=4, lr=1e-2, factors=8, bs=64)
# Importing fastai directly (not through train.fit, which quiets it) warns about torch.jit.
pytestmark = pytest.mark.filterwarnings(r"ignore:.*torch\.jit\.script.* is deprecated")


@pytest.fixture(scope="module")
def both(planted: Planted) -> dict[str, train.TrainedModel]:
    ratings = as_ratings(planted.frame)
    return {loader: train.fit(ratings, dataclasses.replace(CONFIG, loader=loader)) for loader in LOADERS}


def test_lean_is_the_default_and_records_how_it_ran(both) -> None:
    assert train.TrainConfig().loader == "lean"
    lean = both["lean"].runtime
    assert (lean.loader, lean.device, lean.threads, lean.preset) == (
        "lean",
        train.resolve_device("auto"),
        1,
        "tutorial",
    )
    n_train = both["lean"].metrics.n_train
    assert lean.steps == (n_train // CONFIG.bs) * CONFIG.epochs == both["fastai"].runtime.steps
    assert both["fastai"].runtime.loader == "fastai"


def test_both_paths_split_the_same_ratings_and_build_the_same_vocabulary(planted: Planted) -> None:
    from fastai.collab import CollabDataLoaders

    frame = planted.frame[["user", "title", "rating"]].reset_index(drop=True)
    dls = CollabDataLoaders.from_df(
        frame, valid_pct=0.2, user_name="user", item_name="title", rating_name="rating", seed=CONFIG.seed, bs=64
    )
    train_idx, valid_idx, classes = lean.lean_split(frame, CONFIG)
    # TabularPandas keeps the frame's index: the rows of each split, by their row number.
    assert sorted(dls.valid_ds.items.index) == sorted(valid_idx.tolist())
    assert sorted(dls.train_ds.items.index) == sorted(train_idx.tolist())
    for name in ("user", "title"):
        assert list(classes[name]) == list(dls.classes[name])


def test_both_fits_report_the_same_split_and_vocabularies(both) -> None:
    lean, tutorial = both["lean"], both["fastai"]
    for mine, theirs in zip(lean.split, tutorial.split):
        np.testing.assert_array_equal(mine, theirs)
    assert lean.item_classes == tutorial.item_classes and lean.user_classes == tutorial.user_classes
    assert lean.user_biases.shape == (len(lean.user_classes),)


def test_lean_valid_mse_is_never_worse_than_the_tutorial_path(both) -> None:
    lean, tutorial = both["lean"].metrics, both["fastai"].metrics
    assert (lean.n_train, lean.n_valid) == (tutorial.n_train, tutorial.n_valid)
    assert lean.valid_mse <= tutorial.valid_mse + 0.005
    # ... and not suspiciously better either (a leak of validation ratings would be).
    assert lean.valid_mse >= tutorial.valid_mse - 0.05
    assert both["lean"].item_classes == both["fastai"].item_classes


def test_the_lean_training_loader_is_a_permutation_per_epoch() -> None:
    x = torch.arange(10).unsqueeze(1)
    loader = lean.TensorLoader(x, x.float(), 3, shuffle=True, seed=0)
    epochs = [torch.cat([b[0] for b in loader]).view(-1).tolist() for _ in range(2)]
    assert len(loader) == 3 and all(len(e) == 9 for e in epochs)  # the last partial batch is dropped
    assert all(len(set(e)) == 9 for e in epochs)  # no rating twice in an epoch
    assert epochs[0] != epochs[1]  # a new order each epoch
    valid = lean.TensorLoader(x, x.float(), 4, shuffle=False, seed=0)
    assert torch.cat([b[0] for b in valid]).view(-1).tolist() == list(range(10))


def test_the_tutorial_loader_samples_with_replacement(planted: Planted) -> None:
    """docs/training.md's explanation of the MSE gap: fastai 2.8's collab loader is TabWeightedDL."""
    from fastai.collab import CollabDataLoaders

    frame = planted.frame[["user", "title", "rating"]].reset_index(drop=True)
    dls = CollabDataLoaders.from_df(
        frame, valid_pct=0.2, user_name="user", item_name="title", rating_name="rating", seed=CONFIG.seed, bs=64
    )
    seen = list(dls.train.get_idxs())  # one epoch's order of training ratings
    assert type(dls.train).__name__ == "TabWeightedDL"
    # About 1 - 1/e = 63 % of the training ratings in an epoch; a permutation would be 100 %.
    assert len(set(seen)) / len(seen) < 0.75


def test_train_loss_keeps_fastais_meaning(planted: Planted, capsys: pytest.CaptureFixture[str]) -> None:
    """The lean recorder's train loss is fastai's smoothed loss, its valid loss fastai's average."""
    model = train.fit(as_ratings(planted.frame), CONFIG, progress=True)  # progress adds fastai's Recorder
    capsys.readouterr()
    fastai_values = model.learner.recorder.values
    assert len(fastai_values) == len(model.metrics.epochs) == CONFIG.epochs
    for stats, (train_loss, valid_loss) in zip(model.metrics.epochs, fastai_values):
        assert stats.train_loss == pytest.approx(float(train_loss), rel=1e-6)
        assert stats.valid_loss == pytest.approx(float(valid_loss), rel=1e-5)


def test_the_progress_bar_does_not_change_the_numbers(
    both, planted: Planted, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = train.fit(as_ratings(planted.frame), CONFIG, progress=True)
    capsys.readouterr()
    np.testing.assert_array_equal(shown.item_factors, both["lean"].item_factors)
    assert shown.metrics.valid_mse == both["lean"].metrics.valid_mse


@pytest.mark.parametrize("loader", LOADERS)
def test_each_loader_repeats_itself_bit_for_bit_with_two_threads(planted: Planted, loader: str) -> None:
    config = train.TrainConfig(epochs=2, lr=1e-2, factors=8, bs=64, loader=loader, threads=2)
    before = torch.get_num_threads()
    first, second = (train.fit(as_ratings(planted.frame), config) for _ in range(2))
    assert first.runtime.threads == 2
    assert torch.get_num_threads() == before  # the fit restores the process's thread count
    np.testing.assert_array_equal(first.item_factors, second.item_factors)
    assert [e.valid_loss for e in first.metrics.epochs] == [e.valid_loss for e in second.metrics.epochs]


def test_threads_are_chosen_by_batch_size_and_device() -> None:
    assert train.choose_threads(64, "cpu") == 1
    assert train.choose_threads(train.ONE_THREAD_MAX_BS, "cpu") == 1
    assert train.choose_threads(train.ONE_THREAD_MAX_BS + 1, "cpu") == len(os.sched_getaffinity(0))  # every core
    assert train.choose_threads(64, "cuda") == train.choose_threads(1 << 20, "cuda") == 1


def test_device_cpu_trains_on_the_cpu_and_analysis_gets_numpy(planted: Planted) -> None:
    model = train.fit(as_ratings(planted.frame), train.TrainConfig(epochs=1, factors=4, device="cpu"))
    assert model.runtime.device == "cpu"
    assert next(model.learner.model.parameters()).device.type == "cpu"
    assert isinstance(model.item_factors, np.ndarray) and model.item_factors.dtype == np.float64


def test_cuda_without_a_gpu_is_one_clear_input_error(planted: Planted, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError) as err:
        train.fit(as_ratings(planted.frame), train.TrainConfig(device="cuda"))
    assert str(err.value) == "device cuda: torch sees no CUDA GPU on this machine; use device cpu or device auto"
    assert err.value.option == "device"
    assert train.resolve_device("auto") == "cpu"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"loader": "turbo"}, "loader must be 'lean' or 'fastai', not 'turbo'"),
        ({"device": "tpu"}, "device must be auto, cpu or cuda, not 'tpu'"),
        ({"threads": 0}, "threads must be at least 1, not 0"),
    ],
)
def test_bad_run_settings_are_input_errors(planted: Planted, change: dict, message: str) -> None:
    with pytest.raises(InputError) as err:
        train.fit(as_ratings(planted.frame), train.TrainConfig(**change))
    assert str(err.value) == message


def test_presets_set_fields_and_explicit_values_win() -> None:
    assert train.TrainConfig.from_preset("tutorial") == train.TrainConfig()
    fast = train.TrainConfig.from_preset("fast")
    assert (
        fast.preset == "fast"
        and fast.bs == PRESETS["fast"].changes["bs"]
        and fast.epochs == PRESETS["fast"].changes["epochs"]
    )
    assert train.TrainConfig.from_preset("fast", epochs=3).epochs == 3
    assert describe_preset("fast") == (
        "a sixteenth of the tutorial's optimizer steps, for a validation MSE of at most 0.83 on ML-100k: "
        "batch size 1024, 5 epochs, learning rate 0.01, weight decay 0.5"
    )
    assert describe_preset("tutorial") == (  # the rate as the tutorial writes it, 5e-3
        "the fastai tutorial's settings: batch size 64, 5 epochs, learning rate 5e-3, weight decay 0.1"
    )
    with pytest.raises(InputError, match="preset must be one of tutorial, fast, not 'slow'"):
        train.TrainConfig.from_preset("slow")


def test_report_config_keeps_its_keys_and_run_settings_are_separate() -> None:
    config = train.TrainConfig.from_preset("fast", threads=2)
    assert list(config.as_dict()) == ["epochs", "lr", "wd", "factors", "bs", "valid_pct", "y_range", "seed"]
    assert config.run_dict() == {"loader": "lean", "threads": 2, "device": "auto", "preset": "fast", "engine": "auto"}


def test_the_lean_one_cycle_schedule_has_fastais_values() -> None:
    """fit_one_cycle's schedules, evaluated cheaply, give exactly fastai's numbers."""
    from fastai.callback.schedule import combined_cos

    positions = [0.0, 0.25, np.nextafter(0.25, 0), np.nextafter(0.25, 1), 1.0, *np.random.default_rng(0).random(2000)]
    for epoch in range(3):  # the positions TrainEvalCallback produces: epoch / n, then += 1 / (n_iter * n)
        pct = epoch / 3
        for _ in range(100):
            positions.append(pct)
            pct += 1.0 / (100 * 3)
    lr_max = np.array([5e-3])
    for f in (combined_cos(0.25, lr_max / 25, lr_max, lr_max / 1e5), combined_cos(0.25, 0.95, 0.85, 0.95)):
        fast = lean.fast_schedule(f)
        assert isinstance(fast, lean.FastCombinedSchedule)
        assert [np.asarray(fast(p)).tolist() for p in positions] == [np.asarray(f(p)).tolist() for p in positions]
    assert lean.fast_schedule(len) is len  # anything else is left alone


def test_the_lean_optimizer_steps_as_fastais_adam_under_the_one_cycle_schedule() -> None:
    """torch's fused AdamW behind fastai's names takes the steps fastai's own Adam takes, schedules included."""
    from fastai.optimizer import Adam

    rng = np.random.default_rng(3)
    start = [torch.tensor(rng.normal(size=(40, 6)), dtype=torch.float32) for _ in range(2)]
    grads = [[torch.tensor(rng.normal(size=(40, 6)), dtype=torch.float32) for _ in start] for _ in range(30)]
    weights = {}
    for name, make in (("fastai", Adam), ("lean", steps.adamw)):
        params = [torch.nn.Parameter(p.clone()) for p in start]
        opt = make(params, lr=5e-3)
        opt.set_hyper("wd", 0.1)
        for step, grad in enumerate(grads):
            opt.set_hyper("lr", np.array([5e-3 * (1 + step) / 30]))  # one value per group, as fit_one_cycle sets it
            opt.set_hyper("mom", np.array([0.95 - 0.1 * step / 30]))
            for p, g in zip(params, grad):
                p.grad = g.clone()
            opt.step()
            opt.zero_grad()
        assert [h["mom"] for h in opt.hypers] == pytest.approx([0.95 - 0.1 * 29 / 30])  # what the scheduler records
        assert [h["wd"] for h in opt.hypers] == [0.1]
        weights[name] = [p.detach() for p in params]
    for ours, theirs in zip(weights["lean"], weights["fastai"]):
        assert not torch.equal(ours, start[0]) and torch.allclose(ours, theirs, rtol=0, atol=1e-6)


def test_the_lean_optimizers_kernel_takes_torchs_fused_adamw_steps_bit_for_bit() -> None:
    """The AdamW kept outside torch.optim (which imports torch._dynamo) steps exactly as torch's fused AdamW."""
    rng = np.random.default_rng(5)
    start = [torch.tensor(rng.normal(size=shape), dtype=torch.float32) for shape in ((30, 4), (30, 1), (7,))]
    grads = [[torch.tensor(rng.normal(size=p.shape), dtype=torch.float32) for p in start] for _ in range(25)]
    weights = {}
    for name, make in (
        ("torch", lambda ps, **kw: torch.optim.AdamW(ps, fused=True, **kw)),
        ("ours", steps.FusedAdamWKernel),
    ):
        params = [torch.nn.Parameter(p.clone()) for p in start]
        opt = make(
            [{"params": params[:2]}, {"params": params[2:]}], lr=1e-2, betas=(0.9, 0.99), eps=1e-5, weight_decay=0.1
        )
        for n, grad in enumerate(grads):
            for group in opt.param_groups:
                group["lr"], group["betas"] = 1e-2 * (n + 1) / 25, (0.95 - 0.004 * n, 0.99)
            for k, (p, g) in enumerate(zip(params, grad)):
                p.grad = None if (k == 2 and n < 3) else g.clone()  # a parameter without a gradient is left alone
            opt.step()
            opt.zero_grad()
        weights[name] = [p.detach().clone() for p in params]
        if name == "ours":
            saved = opt.state_dict()
            again = steps.FusedAdamWKernel(
                [{"params": params[:2]}, {"params": params[2:]}], lr=0.0, betas=(0.0, 0.0), eps=0.0, weight_decay=0.0
            )
            again.load_state_dict(saved)
            assert again.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
            assert all(torch.equal(again.state[p]["exp_avg"], opt.state[p]["exp_avg"]) for p in params)
    assert float(weights["ours"][2][0]) != float(start[2][0])
    for ours, theirs in zip(weights["ours"], weights["torch"]):
        assert torch.equal(ours, theirs)


def test_the_lean_training_step_takes_autograds_gradients_by_hand() -> None:
    """The tutorial model's forward pass and MSE gradient by hand: fastai's forward and autograd's gradients."""
    from fastai.collab import EmbeddingDotBias

    torch.manual_seed(0)
    model = EmbeddingDotBias(8, 30, 20, y_range=(0, 5.5))
    for p in model.parameters():
        p.data.normal_(0, 0.5)  # away from fastai's tiny init, so every term of the gradient counts
    x = torch.stack([torch.randint(0, 30, (64,)), torch.randint(0, 20, (64,))], dim=1)  # repeated rows included
    y = torch.randint(1, 6, (64, 1)).float()
    pred, loss = steps.dot_bias_step(model, x, y)
    by_hand = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    expected = lean.mse(model(x), y)
    expected.backward()
    assert torch.allclose(pred, model(x).detach(), rtol=0, atol=1e-6)
    assert float(loss) == pytest.approx(float(expected.detach()), abs=1e-6)
    for name, p in model.named_parameters():
        assert p.grad.abs().sum() > 0, name
        assert torch.allclose(by_hand[name], p.grad, rtol=0, atol=1e-7), name


def test_the_compiled_training_step_computes_the_torch_steps_numbers() -> None:
    """The lean step compiled (numba): the predictions, loss and every gradient of `dot_bias_step`, to float32 rounding."""
    from fastai.collab import EmbeddingDotBias

    kernel = steps.load_step_kernel()
    assert kernel is not None  # numba is a dependency: the compiled step is what the default fit runs
    torch.manual_seed(1)
    model = EmbeddingDotBias(8, 30, 20, y_range=(0, 5.5))
    for p in model.parameters():
        p.data.normal_(0, 0.5)
    x = torch.stack([torch.randint(0, 30, (64,)), torch.randint(0, 20, (64,))], dim=1)  # repeated rows included
    y = torch.randint(1, 6, (64, 1)).float()
    pred, loss = steps.dot_bias_step(model, x, y)
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    step = steps.CompiledStep.for_model(kernel, model)
    for _ in range(2):  # the gradient tables are reused: the second call starts from zero again
        got_pred, got_loss = step(x, y)
    assert step.serves(model)
    assert torch.allclose(got_pred, pred, rtol=0, atol=1e-5)
    assert float(got_loss) == pytest.approx(float(loss), rel=1e-5)
    for name, p in model.named_parameters():
        assert torch.allclose(p.grad, expected[name], rtol=1e-4, atol=1e-6), name
        assert int((p.grad != 0).sum()) > 0


def test_without_numba_the_lean_fit_steps_with_torch_after_one_warning(
    planted: Planted, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Where numba cannot load, the tutorial's fit still runs (torch's ops take the step) and learns the same."""
    import sys

    config = train.TrainConfig(epochs=2, lr=1e-2, factors=8, bs=64)
    compiled = train.fit(as_ratings(planted.frame), config)
    monkeypatch.setitem(sys.modules, "numba", None)
    monkeypatch.delitem(sys.modules, "reportgen.train.step_kernel", raising=False)
    with caplog.at_level("WARNING", logger=steps.__name__):
        plain = train.fit(as_ratings(planted.frame), config)
    warned = [r.getMessage() for r in caplog.records if r.name == steps.__name__]
    assert warned == [
        "the compiled training step is unavailable (ModuleNotFoundError: import of numba halted; None in sys.modules); "
        "stepping with torch's ops"
    ]
    assert plain.metrics.valid_mse == pytest.approx(compiled.metrics.valid_mse, rel=1e-4)  # float32 rounding apart
    from fastai.collab import EmbeddingDotBias

    assert steps.CompiledStep.for_model(None, EmbeddingDotBias(4, 5, 5, y_range=(0, 5.5))) is None
