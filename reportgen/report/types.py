"""The report's types: `Report` and its parts, what every page, Markdown summary and report.json is made from."""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import platform
import types
import typing
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

from reportgen import __version__
from reportgen.analysis.findings import Analysis
from reportgen.analysis.review import Review
from reportgen.data.sources import CITATION
from reportgen.data.types import DatabaseRead
from reportgen.errors import finite, shown
from reportgen.train.config import PRESETS, TrainConfig, comparable_splits, describe_preset
from reportgen.train.results import Metrics, Runtime
from reportgen.train.splits import TimeSplit

SCHEMA_VERSION = 2  # 2: lossless (full floats, quality.n_valid, overall bucket RMSEs, standout genres)
VERSIONED_PACKAGES = ("fastai", "torch", "pandas", "numpy", "matplotlib", "jinja2", "click")


@dataclass(frozen=True)
class DataFile:
    """A file the ratings came from, as a report attached to a review names it: no folders."""

    role: str  # "ratings" or "titles"
    name: str  # the file's name; a zip member is "archive.zip!folder/member"
    size: int | None  # bytes; None for a member of a zip
    sha256: str


@dataclass(frozen=True)
class DatasetSummary:
    """The data set as the report shows it: names, sizes and checksums, never the machine's paths."""

    name: str
    source: str  # one of data.SOURCE_*: path, fastai-cache, recbole, download, file, database
    location: str  # the folder, zip or file read, by its name alone (a database: its name)
    files: tuple[DataFile, ...]  # the ratings file first
    n_ratings: int
    n_users: int
    n_items: int
    n_titles: int
    item_key: str = "title"
    duplicates_dropped: int = 0
    columns: tuple[tuple[str, str], ...] = ()  # (role, column) for own files
    database: DatabaseRead | None = None  # ratings from a database: its kind, name, query and rows

    @property
    def sha256(self) -> str:
        """The SHA-256 of the ratings file (or of a database's rows as read): what tells two runs' data apart."""
        return self.files[0].sha256


@dataclass(frozen=True)
class Timings:
    """Seconds per stage. `render` covers drawing the figures; writing is not timed."""

    load: float
    train: float
    analyse: float
    render: float
    total: float


@dataclass(frozen=True)
class ListChange:
    """Titles that entered or left one of the report's ranked lists."""

    name: str  # e.g. "Lowest biases", "Component 0, highest scores"
    entered: tuple[str, ...]
    left: tuple[str, ...]


@dataclass(frozen=True)
class BiasMove:
    title: str
    before: float
    after: float

    @property
    def change(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class Comparison:
    """What changed since a previous run (`compare.compare`)."""

    previous: str  # how the report.json compared with is named in the report
    previous_generated_at: str
    dataset_changed: bool
    previous_sha256: str
    current_sha256: str
    valid_mse_before: float
    valid_mse_after: float
    valid_rmse_before: float
    valid_rmse_after: float
    lists: tuple[ListChange, ...]
    bias_moves: tuple[BiasMove, ...]  # largest absolute moves among items in both runs' top items
    splits: tuple[str, str] = ("random", "random")  # (previous, current): which split scored each run

    @property
    def split_changed(self) -> bool:
        """The two valid RMSEs were measured on splits that hold out different kinds of ratings (a time split
        and a random share; `train.config.comparable_splits`): not the same measurement. Random and stable
        both hold out a random share of every period, so a change between them is not one."""
        return not comparable_splits(*self.splits)

    @property
    def rmse_change_pct(self) -> float:
        """How much worse (positive) or better (negative) valid RMSE got, in percent."""
        if self.valid_rmse_before <= 0:
            return 0.0  # no meaningful percentage of nothing
        return 100.0 * (self.valid_rmse_after - self.valid_rmse_before) / self.valid_rmse_before

    @property
    def changed_lists(self) -> tuple[ListChange, ...]:
        return tuple(c for c in self.lists if c.entered or c.left)


@dataclass(frozen=True)
class Report:
    """Everything the report shows; templates see nothing else."""

    generated_at: str  # ISO 8601, UTC
    dataset: DatasetSummary
    config: TrainConfig
    top_n: int
    metrics: Metrics
    analysis: Analysis
    timings: Timings | None  # None under SOURCE_DATE_EPOCH: durations never repeat
    figures: dict[str, str] = field(default_factory=dict)  # name -> our own inline SVG
    versions: dict[str, str] = field(default_factory=dict)
    citation: str = CITATION
    notes: tuple[str, ...] = ()  # warnings about the data and the analysis
    comparison: Comparison | None = None  # with the previous run, when there is one
    runtime: Runtime | None = None  # how the fit ran: loader, preset, device, threads, steps
    split: TimeSplit | None = None  # a time split's cutoff and periods; None: the tutorial's random split
    review: Review | None = None  # tonight's model against a baseline model on ratings neither trained on

    @property
    def preset_note(self) -> str:
        return describe_preset(self.config.preset) if self.config.preset in PRESETS else ""

    @property
    def reproducible(self) -> bool:
        """Built under SOURCE_DATE_EPOCH: no durations, so the bytes repeat."""
        return self.timings is None

    def __repr__(self) -> str:
        """One short line (`print(report)` in a notebook): the data, its size and the valid RMSE; the page
        itself only through `_repr_html_` (the dataclass's own repr would be every field, hundreds of KB)."""
        return (
            f"Report(dataset={self.dataset.name!r}, ratings={self.dataset.n_ratings}, "
            f"valid_rmse={self.metrics.valid_rmse:.4f})"
        )

    def _repr_html_(self) -> str:
        """The page inline in a notebook (Jupyter calls this): `render.html.notebook_frame`, an `<iframe srcdoc>`.

        report/ stands below render/, so it is reached through the package's face, the lazy API a notebook imports.
        """
        import reportgen

        return str(reportgen.notebook_frame(self))


def versions() -> dict[str, str]:
    """Versions of Python, reportgen and the libraries that shape the numbers."""
    found = {"python": platform.python_version(), "reportgen": __version__}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


class WrongType(TypeError):
    """A value of a report that is not of its field's declared type (its message names it by path)."""


def check_types(value: Any, hint: Any = Report, where: str = "") -> None:
    """`WrongType` naming the first value (by its path, e.g. `analysis.quality.k`) that is not of the
    type its dataclass field declares: a whole number, a finite number, a string, a tuple or dict of them.

    A report read back from a file is checked with this, value by value, before anything draws it.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        kept = [a for a in args if a is not type(None)]
        for option in kept[:-1]:
            try:
                return check_types(value, option, where)
            except WrongType:
                continue
        return check_types(value, kept[-1], where)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            raise WrongType(f"{where or 'the document'} is {shown(value)}, not an object")
        hints = field_hints(hint)
        for f in dataclasses.fields(hint):
            check_types(getattr(value, f.name), hints[f.name], f"{where}.{f.name}" if where else f.name)
        return
    if origin is tuple:
        if not isinstance(value, tuple) or (args[-1] is not Ellipsis and len(value) != len(args)):
            raise WrongType(f"{where} is {shown(value)}, not a list of {len(args)} values")
        for n, element in enumerate(value):
            check_types(element, args[0] if args[-1] is Ellipsis else args[n], f"{where}[{n}]")
        return
    if origin is dict:
        if not isinstance(value, dict):
            raise WrongType(f"{where} is {shown(value)}, not an object")
        for key, element in value.items():
            check_types(key, args[0], f"{where} (a key)")
            check_types(element, args[1], f"{where}.{key}")
        return
    expected = {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string"}[hint]
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is str:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, Integral if hint is int else Real) and not isinstance(value, bool)
        ok = ok and (hint is int or finite(value))
    if not ok:
        raise WrongType(f"{where} is {shown(value)}, not {expected}")


@functools.cache
def field_hints(cls: type) -> dict[str, Any]:
    """A dataclass's fields' types, resolved (its annotations are strings under `from __future__ import annotations`)."""
    return typing.get_type_hints(cls)
