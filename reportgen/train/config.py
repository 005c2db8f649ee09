"""How a fit is configured: `TrainConfig` and its presets, the sparse engine's `EngineSettings`.

The types every training engine reads, below all of them (ARCHITECTURE.md, "train
stage"): the hyper-parameters (the tutorial's defaults), how to run them (loader,
engine, threads, device), the named presets, and `check_config`, the one check of a
config's settings that the command line and the Python API share.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from numbers import Real
from typing import Any

from reportgen.errors import Bound, InputError, finite, setting, shown

LOADERS = ("lean", "fastai")
ENGINES = ("auto", "learner", "sparse")  # learner: fastai's Learner (fed by `loader`); sparse: reportgen.train.sparse
# Values renamed, old spelling -> new: still accepted (TrainConfig, the command line, an older report.json)
# and read as the new one. "lean" named both an engine and the loader that feeds it: it is the loader's alone.
RENAMED = {"engine": {"lean": "learner"}}
DEVICES = ("auto", "cpu", "cuda")
# Which ratings validate (train.splits): random, the tutorial's RandomSplitter over the row positions; stable,
# a keyed hash of (user, item, seed) below valid_pct, the same for a rating whatever the data around it; time,
# the latest ratings. "auto" (the default): random for the tutorial preset on MovieLens 100k, stable elsewhere
# (`fitting.resolve_split`); a fitted model's config holds the kind it resolved to.
SPLITS = ("auto", "random", "stable", "time")
# What each kind holds out: random and stable a random share of every period (one measurement, on other
# rows), time the latest ratings (another measurement). Runs are judged against each other only within one.
HOLDS_OUT = {"random": "a random share", "stable": "a random share", "time": "the latest ratings"}
# Every numeric setting's allowed values: `check_config` refuses others, the CLI's options read them.
BOUNDS = {
    "epochs": Bound(whole=True, low=1),
    "lr": Bound(whole=False, low=0, low_open=True),
    "wd": Bound(whole=False, low=0),
    "factors": Bound(whole=True, low=1),
    "bs": Bound(whole=True, low=1),
    "valid_pct": Bound(whole=False, low=0, high=1, low_open=True, high_open=True),
    "seed": Bound(whole=True, low=0, high=2**32 - 1),  # what numpy's and torch's generators all accept
    "threads": Bound(whole=True, low=1),  # None too: chosen by batch size
}


@dataclass(frozen=True)
class Preset:
    """Starting settings: the `TrainConfig` fields they change, and what they are for."""

    changes: dict[str, Any]
    purpose: str


PRESETS: dict[str, Preset] = {
    # The tutorial's settings: TrainConfig's defaults.
    "tutorial": Preset({}, "the fastai tutorial's settings"),
    # The least fit time found that reaches valid MSE <= 0.83 on ML-100k for seeds 42, 1
    # and 2 alike (benchmarks/train_speed.py --sweep; docs/training.md, "Presets"): 16x larger
    # batches, so 16x fewer steps, a doubled learning rate and five times the weight
    # decay (fewer steps decay the weights less).
    "fast": Preset(
        {"bs": 1024, "epochs": 5, "lr": 0.01, "wd": 0.5},
        "a sixteenth of the tutorial's optimizer steps, for a validation MSE of at most 0.83 on ML-100k",
    ),
}


def describe_preset(name: str) -> str:
    """One line for the report and `--help`, from the preset's own settings."""
    config = TrainConfig.from_preset(name)
    return (
        f"{PRESETS[name].purpose}: batch size {config.bs}, {config.epochs} epochs, "
        f"learning rate {_as_written(config.lr)}, weight decay {_as_written(config.wd)}"
    )


def _as_written(x: float) -> str:
    """A setting as the tutorial writes it: 5e-3 below a hundredth, else 0.01, 0.1, 0.5."""
    if 0 < abs(x) < 0.01:
        mantissa, exponent = f"{x:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{x:g}"


@dataclass(frozen=True)
class TrainConfig:
    """The hyper-parameters (the defaults are the tutorial's) and how to run them.

    `loader`: "lean" (tensors built once, the default) or "fastai" (the tutorial's
    `CollabDataLoaders`). `engine`: "auto", "learner" (fastai's Learner, fed by `loader`) or
    "sparse"; the old spelling "lean" is read as "learner" (`RENAMED`). `threads`: torch CPU threads during the fit; None lets
    `choose_threads` pick by batch size. `device`: "auto" (a CUDA GPU when torch
    sees one, else the CPU), "cpu" or "cuda". `preset`: the name of the `PRESETS`
    entry these settings started from, a label for the report.
    """

    epochs: int = 5
    lr: float = 5e-3
    wd: float = 0.1
    factors: int = 50
    bs: int = 64
    valid_pct: float = 0.2
    y_range: tuple[float, float] | None = (0.0, 5.5)  # None: the pipeline derives it from the data
    seed: int = 42
    loader: str = "lean"
    threads: int | None = None
    device: str = "auto"
    preset: str = "tutorial"
    engine: str = "auto"  # "auto": sparse.choose_engine by the number of ratings; "learner" (fastai's) or "sparse"
    split: str = "auto"  # "random" (the tutorial's), "stable" (by a hash of each rating) or "time"; SPLITS

    def __post_init__(self) -> None:
        for name, renamed in RENAMED.items():  # an old spelling, read as the value's name now
            value = getattr(self, name)
            if isinstance(value, str) and value in renamed:
                object.__setattr__(self, name, renamed[value])
        check_config(self)  # a config that cannot train is refused where it is made, in the API as on the CLI
        if self.y_range is not None:  # as given, a list or ints: kept as the tuple of floats the model reads
            object.__setattr__(self, "y_range", (float(self.y_range[0]), float(self.y_range[1])))

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> TrainConfig:
        """The preset's settings, then `overrides` (e.g. options given on the command line)."""
        if not isinstance(name, str) or name not in PRESETS:
            raise InputError(f"{setting('preset')} must be one of {', '.join(PRESETS)}, not {name!r}")
        unknown = sorted(set(overrides) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"{setting(unknown[0])} is not a setting of TrainConfig")
        return cls(**{**PRESETS[name].changes, **overrides, "preset": name})

    def as_dict(self) -> dict[str, Any]:
        """The hyper-parameters, as report.json's `config` carries them (keys unchanged)."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in RUN_FIELDS + OWN_FIELDS}
        values["y_range"] = list(self.y_range) if self.y_range is not None else None
        return values

    def changed_from_preset(self) -> frozenset[str]:
        """The hyper-parameters that differ from this config's preset: what its caller chose."""
        preset = TrainConfig.from_preset(self.preset).as_dict()
        return frozenset(name for name, value in self.as_dict().items() if value != preset[name])

    def run_dict(self) -> dict[str, Any]:
        """How the fit was asked to run: loader, threads (None: by rule), device, preset."""
        return {name: getattr(self, name) for name in RUN_FIELDS}


RUN_FIELDS = ("loader", "threads", "device", "preset", "engine")
# Not in `as_dict` or `run_dict`, so not a hyper-parameter compared with the preset's: report.json's writer
# adds `config.split` (the kind the fit resolved) itself, and a time split's cutoff in its `split` object.
OWN_FIELDS = ("split",)


def comparable_splits(before: str, after: str) -> bool:
    """Two runs' valid errors measure the same thing: their splits hold out the same kind of ratings (`HOLDS_OUT`)."""
    return HOLDS_OUT.get(before, before) == HOLDS_OUT.get(after, after)


def check_y_range(y_range: Any) -> None:
    """The range predictions are squashed into: two finite numbers, LOW below HIGH."""
    numbers = isinstance(y_range, (tuple, list)) and len(y_range) == 2
    if not numbers or any(isinstance(end, bool) or not isinstance(end, Real) for end in y_range):
        raise InputError(
            f"Invalid value for '{setting('y_range')}': expected two numbers LOW HIGH, not {shown(y_range)}"
        )
    low, high = y_range
    if not (finite(low) and finite(high)):
        raise InputError(
            f"Invalid value for '{setting('y_range')}': LOW ({shown(low, 30)}) and HIGH ({shown(high, 30)}) must be finite"
        )
    if not low < high:
        raise InputError(f"Invalid value for '{setting('y_range')}': LOW ({low}) must be below HIGH ({high})")


def check_config(config: TrainConfig) -> None:
    """Refuse settings that cannot train, with the setting at fault named: the one check of a config,
    made where one is built (`TrainConfig.__post_init__`) and again by `fit`, before any work."""
    if not isinstance(config, TrainConfig):
        raise InputError(f"{setting('config')} must be a TrainConfig, not {type(config).__name__}")
    for name, bound in BOUNDS.items():
        if name != "threads" or config.threads is not None:
            bound.check(name, getattr(config, name))
    if config.y_range is not None:
        check_y_range(config.y_range)
    choices = {
        "loader": (LOADERS, "'lean' or 'fastai'"),
        "device": (DEVICES, "auto, cpu or cuda"),
        "engine": (ENGINES, "auto, learner or sparse"),
        "split": (SPLITS, "auto, random, stable or time"),
        "preset": (tuple(PRESETS), "one of " + ", ".join(PRESETS)),
    }
    for name, (allowed, said) in choices.items():
        value = getattr(config, name)
        if not isinstance(value, str) or value not in allowed:
            raise InputError(f"{setting(name)} must be {said}, not {value!r}")


@dataclass(frozen=True)
class EngineSettings:
    """What the sparse engine runs with; `auto_settings` derives them from the data's size.

    `reg`: the L2 penalty per occurrence of a row (factors and biases alike), as in
    cornac's and surprise's SGD. `lr`: the peak learning rate of row-wise Adagrad
    (`eps` in its denominator), reached after `warmup` of the steps and decayed
    along a cosine to `final_lr_frac` of itself by the last step. `valid_bs`: the
    chunk size of the validation pass (memory only, no effect on the numbers).
    """

    epochs: int
    lr: float
    reg: float
    bs: int
    eps: float = 1e-8
    warmup: float = 0.02
    final_lr_frac: float = 0.02
    valid_bs: int = 1 << 18

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
