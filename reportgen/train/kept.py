"""The trained model kept beside its report: model.safetensors and model.json, and `load_model`.

No pickle: `model.safetensors` holds four float32 tensors (the weights of fastai's
`EmbeddingDotBias`: `u_weight`, `i_weight`, `u_bias`, `i_bias`) and `model.json` the
vocabularies (row `i` of the user and item tensors is `users[i]`, `items[i]`; row 0
is fastai's `#na#`), the y-range, the factor count, the reportgen version and, under
`split`, how the run split its data (`SplitSpec`: which ratings its model never trained on,
recomputed on another night's data by `splits.held_out_by`; absent in a model.json kept
before it was recorded). Opening either runs no code, so a model attached to a review is safe to load.
Size: 4 bytes × (users + items) × (factors + 1), plus the vocabularies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reportgen import __version__
from reportgen.data.dataset import ITEM_KEYS
from reportgen.data.documents import MODEL_JSON_BYTES, loads_json, read_bytes
from reportgen.data.files import NO_SUCH_FILE, UnreadableFile
from reportgen.errors import InputError, shown
from reportgen.train.config import BOUNDS, SPLITS
from reportgen.train.results import FactorModel, SplitSpec, TrainedModel, Weights

WEIGHTS_NAME = "model.safetensors"
VOCABULARY_NAME = "model.json"
FORMAT = "reportgen-model/1"
TENSORS = ("u_weight", "i_weight", "u_bias", "i_bias")
HEADER_BYTES = 64 << 10  # model.safetensors past its tensors: its JSON header, a few hundred bytes


@dataclass(frozen=True)
class KeptModel:
    """A kept model read back: fastai's `EmbeddingDotBias` with its weights, and what its rows mean."""

    model: Any  # fastai.collab.EmbeddingDotBias, in eval mode, on the CPU
    users: tuple[str, ...]  # users[i] is row i of the user embeddings; users[0] is "#na#"
    items: tuple[str, ...]
    y_range: tuple[float, float] | None

    def codes(self, users: list[str], items: list[str]) -> Any:
        """The (n, 2) long tensor of rows for these users and items; unknown ones get row 0 (`#na#`)."""
        import torch

        user_row = {u: i for i, u in enumerate(self.users)}
        item_row = {t: i for i, t in enumerate(self.items)}
        return torch.tensor(
            [[user_row.get(str(u), 0), item_row.get(str(t), 0)] for u, t in zip(users, items)], dtype=torch.long
        )


def model_files(trained: TrainedModel) -> dict[str, bytes]:
    """`{file name: bytes}` of the kept model: the weights (safetensors) and the vocabularies (JSON)."""
    import numpy as np
    import torch
    from safetensors.torch import save

    arrays = {
        "u_weight": trained.user_factors,
        "i_weight": trained.item_factors,
        "u_bias": None if trained.user_biases is None else trained.user_biases[:, None],
        "i_bias": trained.item_biases[:, None],
    }
    if any(a is None for a in arrays.values()):
        raise ValueError("this TrainedModel has no user factors or biases to keep")
    # The learner's weights are float32; via float64 and back is exact.
    tensors = {name: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for name, a in arrays.items()}
    y_range = trained.config.y_range
    vocabulary = {
        "format": FORMAT,
        "reportgen_version": __version__,
        "weights": WEIGHTS_NAME,
        "model": "fastai.collab.EmbeddingDotBias",
        "factors": int(tensors["u_weight"].shape[1]),
        "y_range": list(y_range) if y_range is not None else None,
        "users": list(trained.user_classes),
        "items": list(trained.item_classes),
    }
    if trained.split_spec is not None:  # `fit` records it; a hand-made model may not
        vocabulary["split"] = trained.split_spec.as_dict()
    return {
        WEIGHTS_NAME: save(tensors, metadata={"format": FORMAT}),
        VOCABULARY_NAME: (json.dumps(vocabulary, ensure_ascii=False) + "\n").encode("utf-8"),
    }


def load_model(path: Path | str) -> KeptModel:
    """A kept model from a run folder, its model.safetensors or its model.json, as fastai's `EmbeddingDotBias`.

    Raises `InputError` (one line, naming the file and what is wrong) for a missing,
    damaged or inconsistent pair of files (`load_factors` reads and checks them).
    """
    found = load_factors(path)
    import torch
    from fastai.collab import EmbeddingDotBias

    w = found.weights
    model = EmbeddingDotBias(w.item_factors.shape[1], len(found.users), len(found.items), y_range=found.y_range)
    tables = {"u_weight": w.user_factors, "i_weight": w.item_factors, "u_bias": w.user_biases, "i_bias": w.item_biases}
    with torch.no_grad():
        model.load_state_dict(
            {f"{name}.weight": torch.from_numpy(t.reshape(len(t), -1).astype("float32")) for name, t in tables.items()}
        )
    model.eval()
    return KeptModel(model=model, users=found.users, items=found.items, y_range=found.y_range)


def load_factors(path: Path | str, read: Callable[[Path, int, str], bytes] | None = None) -> FactorModel:
    """A kept model's tables and vocabularies as numbers (`FactorModel`, float64), without fastai.

    `path`: a run folder, its model.safetensors or its model.json. Both files are read bounded
    (`read(file, limit, what)`, by default `data.documents.read_bytes`: regular files only;
    `runs.outputs` passes its own, which never follows a link inside an output folder):
    model.json at most MODEL_JSON_BYTES, the weights no larger than model.json says they are.
    Every value of model.json is checked before it is used, and weights that are not finite
    float32 numbers are refused: `InputError`, one line naming the file and what is wrong.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    weights, vocabulary_file = folder / WEIGHTS_NAME, folder / VOCABULARY_NAME
    read = read or read_bytes
    vocabulary = _read(
        vocabulary_file, lambda: loads_json(read(vocabulary_file, MODEL_JSON_BYTES, "a model.json"), vocabulary_file)
    )
    users, items, factors, y_range = _described(vocabulary, vocabulary_file)
    limit = size_bytes(len(users), len(items), factors) + HEADER_BYTES
    raw = _read(weights, lambda: read(weights, limit, "the model.safetensors of its model.json"))
    try:
        from safetensors.numpy import load

        tensors = load(raw)
    except Exception as exc:  # safetensors raises its own error types for a damaged file
        raise InputError(f"{weights}: the kept model cannot be read ({type(exc).__name__}: {exc})") from exc
    _check_tensors(tensors, weights, users, items, factors)
    import numpy as np

    def table(name: str) -> np.ndarray:
        return tensors[name].astype(np.float64)

    tables = Weights(table("i_weight"), table("i_bias")[:, 0], table("u_weight"), table("u_bias")[:, 0])
    return FactorModel(
        users=users, items=items, weights=tables, y_range=y_range, split_spec=split_of(vocabulary, vocabulary_file)
    )


def split_of(vocabulary: dict[str, Any], file: Path) -> SplitSpec | None:
    """model.json's `split`, every value checked (`InputError` naming `split.<key>`); None where it has none."""
    if "split" not in vocabulary:
        return None
    split = vocabulary["split"]
    if not isinstance(split, dict):
        raise InputError(f"{file}: split is {type(split).__name__}, expected an object")

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    checks: dict[str, tuple[Any, str]] = {
        "kind": (lambda v: v in SPLITS[1:], "one of " + ", ".join(SPLITS[1:])),
        "seed": (lambda v: BOUNDS["seed"].problem(v) is None, "a whole number " + BOUNDS["seed"].limits()),
        "valid_pct": (lambda v: BOUNDS["valid_pct"].problem(v) is None, "a number " + BOUNDS["valid_pct"].limits()),
        "n_ratings": (lambda v: whole(v) and v >= 1, "a whole number of at least 1"),
        "sha256": (lambda v: isinstance(v, str), "a string"),
        "item_key": (lambda v: v in ITEM_KEYS, " or ".join(ITEM_KEYS)),
        "cutoff": (lambda v: v is None or whole(v), "null or a whole number (epoch seconds)"),
    }
    for key, (good, expected) in checks.items():
        value = split.get(key)
        if key not in split or not good(value):
            found = "missing" if key not in split else shown(value, 40)
            raise InputError(f"{file}: split.{key} is {found}, expected {expected}")
    if split["kind"] == "time" and split["cutoff"] is None:
        raise InputError(f"{file}: split.cutoff is null, expected the time split's cutoff (epoch seconds)")
    unknown = sorted(set(split) - set(checks))
    if unknown:
        raise InputError(f"{file}: split has an unknown key {unknown[0]!r}")
    return SplitSpec(**{key: split[key] for key in checks})


def _read(file: Path, read: Callable[[], Any]) -> Any:
    """`read()`, its refusals as one line: a missing file says how a run comes to have no model."""
    try:
        return read()
    except UnreadableFile as exc:
        if exc.problem == NO_SUCH_FILE:
            raise InputError(
                f"{file.parent}: no kept model there ({file.name}: {NO_SUCH_FILE}); was the run built with --no-model?"
            ) from exc
        raise InputError(f"{file}: the kept model cannot be read ({exc.problem})") from exc


def _described(vocabulary: Any, file: Path) -> tuple[tuple[str, ...], tuple[str, ...], int, tuple[float, float] | None]:
    """users, items, factors and y_range of a model.json, each checked; `InputError` naming the key otherwise."""
    if not isinstance(vocabulary, dict) or vocabulary.get("format") != FORMAT:
        raise InputError(f"{file}: not a reportgen model description (format {FORMAT} expected)")

    def wrong(key: str, expected: str) -> InputError:
        found = vocabulary.get(key, "missing")
        shown = (
            "missing"
            if key not in vocabulary
            else type(found).__name__
            if isinstance(found, (list, dict))
            else repr(found)
        )
        return InputError(f"{file}: {key} is {shown[:40]}, expected {expected}")

    factors = vocabulary.get("factors")
    if isinstance(factors, bool) or not isinstance(factors, int) or factors < 1:
        raise wrong("factors", "a whole number of at least 1")
    vocabularies = []
    for key in ("users", "items"):
        values = vocabulary.get(key)
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise wrong(key, "a non-empty list of strings (row 0 is #na#)")
        if len(set(values)) != len(values):
            raise InputError(f"{file}: {key} names a row twice, so its rows cannot be told apart")
        vocabularies.append(tuple(values))
    raw_range = vocabulary.get("y_range")
    y_range = None
    if raw_range is not None:
        if (
            not isinstance(raw_range, list)
            or len(raw_range) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in raw_range)
            or not raw_range[0] < raw_range[1]
        ):
            raise wrong("y_range", "null or [low, high] with low < high")
        y_range = (float(raw_range[0]), float(raw_range[1]))
    return vocabularies[0], vocabularies[1], factors, y_range


def _check_tensors(tensors: dict[str, Any], weights: Path, users: tuple, items: tuple, factors: int) -> None:
    """The four arrays model.json describes: float32, of its shapes, every value finite."""
    import numpy as np

    shapes = {
        "u_weight": (len(users), factors),
        "i_weight": (len(items), factors),
        "u_bias": (len(users), 1),
        "i_bias": (len(items), 1),
    }
    wrong = [
        f"{n} is {tuple(tensors[n].shape) if n in tensors else 'missing'}, expected {s}"
        for n, s in shapes.items()
        if n not in tensors or tuple(tensors[n].shape) != s
    ]
    if wrong:
        raise InputError(f"{weights}: does not match {VOCABULARY_NAME}: {'; '.join(wrong)}")
    for name in TENSORS:
        if tensors[name].dtype != np.float32:
            raise InputError(f"{weights}: {name} is {tensors[name].dtype}, expected float32")
        if not bool(np.isfinite(tensors[name]).all()):
            raise InputError(f"{weights}: {name} holds NaN or infinite weights; the model cannot predict with them")


def size_bytes(n_users: int, n_items: int, factors: int) -> int:
    """The tensors' bytes in model.safetensors (without its small header): float32, one bias per row."""
    return 4 * (n_users + n_items) * (factors + 1)
