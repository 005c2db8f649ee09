"""reportgen: train a fastai collaborative-filtering model and report what it learned.

The Python API, for a notebook or a script (no click needed)::

    from reportgen import load, fit, analyse, make_report, render_html

    ratings = load()                      # MovieLens 100k (or load(OwnData(...)), load(DbData(...)))
    report = make_report(ratings)         # train, analyse, draw: a Report in memory
    html = render_html(report)            # the self-contained page, as a string

`build(BuildOptions(...))` is what `reportgen build` runs (lock, compare, publish).
Names are imported on first use, so `import reportgen` stays light and changes
nothing global (no matplotlib backend is selected).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load": "reportgen.data",
    "OwnData": "reportgen.data",
    "DbData": "reportgen.data",
    "Ratings": "reportgen.data",
    "fit": "reportgen.train",
    "TrainConfig": "reportgen.train",
    "TrainedModel": "reportgen.train",
    "analyse": "reportgen.analysis",
    "Analysis": "reportgen.analysis",
    "make_report": "reportgen.pipeline",
    "build": "reportgen.pipeline",
    "BuildOptions": "reportgen.pipeline",
    "write": "reportgen.pipeline",
    "Report": "reportgen.report",
    "to_json": "reportgen.report",
    "render_html": "reportgen.render.html",
    "notebook_frame": "reportgen.render.html",
    "from_json": "reportgen.report",
    "load_model": "reportgen.train.kept",
    "KeptModel": "reportgen.train.kept",
    "ReportgenError": "reportgen.errors",
    "InputError": "reportgen.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'reportgen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
