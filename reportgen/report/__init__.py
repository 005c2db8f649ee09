"""The report's schema: its types, report.json written from them, and read back.

`types` holds `Report` and its parts; `writer.to_json` is the one place that names
report.json's keys; `document.ReportDoc` is the one checked reader of an earlier
run's file (used by `compare`, `outputs` and `history`), and `reader.from_json` the
exact inverse of `to_json` (used by `reportgen render`). Keys: ARCHITECTURE.md.
"""

from reportgen.report.document import ReportDoc
from reportgen.report.reader import check_version, from_json, read, read_text
from reportgen.report.summary import data_file, summarise
from reportgen.report.types import (
    SCHEMA_VERSION,
    BiasMove,
    Comparison,
    DataFile,
    DatasetSummary,
    ListChange,
    Report,
    Timings,
    versions,
)
from reportgen.report.writer import dumps, quality_to_json, to_json

__all__ = [
    "SCHEMA_VERSION",
    "BiasMove",
    "Comparison",
    "DataFile",
    "DatasetSummary",
    "ListChange",
    "Report",
    "ReportDoc",
    "Timings",
    "check_version",
    "data_file",
    "dumps",
    "from_json",
    "quality_to_json",
    "read",
    "read_text",
    "summarise",
    "to_json",
    "versions",
]
