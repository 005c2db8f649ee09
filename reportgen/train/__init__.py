"""Train stage: fit the tutorial's dot-product model on a `Ratings` table, with whichever engine fits the data.

The public face of the stage; its modules, lowest first (a module imports only those
before it, tests/test_architecture.py holds the order):

- `config`: `TrainConfig`, the presets, the sparse engine's `EngineSettings`, `check_config`
- `results`: what a fit returns, whichever engine: `EpochStats`, `Metrics`, `Runtime`, `TrainedModel`
- `distributed`: the torchrun world (rank, size, backend, the two collectives)
- `splits`: which ratings train and which validate (`split_rows`: random, stable or one time cutoff; `TimeSplit`);
  `held_out_by`, which of another night's ratings a run held out (by its `SplitSpec`)
- `sparse_loop`: the fused sparse Adagrad loop, on the CPU or CUDA, data-parallel under torchrun
- `sparse`: the sparse engine for large data (`choose_engine`, `auto_settings`, `fit_sparse`)
- `learner`: fastai's Learner path, the engine called "learner" (the lean and the tutorial's loaders)
- `fitting`: `fit`, which picks the engine, the threads and the device
- `kept`: the kept model, written beside a run and loaded back (`model_files`, `load_factors`, `load_model`)

Importing this package loads neither torch nor fastai; `fit` does, when it runs.
"""

from reportgen.train.config import (
    DEVICES,
    ENGINES,
    LOADERS,
    PRESETS,
    RUN_FIELDS,
    SPLITS,
    TrainConfig,
    check_config,
    describe_preset,
)
from reportgen.train.fitting import fit
from reportgen.train.results import (
    NA_CLASS,
    EpochHook,
    EpochStats,
    FactorModel,
    Metrics,
    ProgressHook,
    Runtime,
    SplitSpec,
    TrainedModel,
)
from reportgen.train.splits import TimeSplit, describe_split, held_out_by

__all__ = [
    "DEVICES",
    "ENGINES",
    "LOADERS",
    "NA_CLASS",
    "PRESETS",
    "RUN_FIELDS",
    "SPLITS",
    "EpochHook",
    "EpochStats",
    "FactorModel",
    "Metrics",
    "ProgressHook",
    "Runtime",
    "SplitSpec",
    "TrainConfig",
    "TimeSplit",
    "TrainedModel",
    "check_config",
    "describe_preset",
    "describe_split",
    "fit",
    "held_out_by",
]
