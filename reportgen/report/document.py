"""An earlier run's report.json, read for what a comparison, the history and the output folder need: `ReportDoc`.

It hands out each value it is asked for only after checking it, so a damaged or foreign
file is refused in one place, by one message (a `ValueError` naming the key path). Unlike
`reader.from_json`, which rebuilds a whole `Report` of this version only, it reads any
reportgen's report.json: yesterday's file may be an older version's.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from reportgen.data.documents import REPORT_BYTES, loads_json, read_json
from reportgen.errors import shown


class ReportDoc:
    """A report.json read back: the values `compare` and `outputs` use, each checked.

    Any value of the wrong type or shape raises `ValueError` naming its key path,
    so a damaged or foreign file is refused in one place, by one message.
    """

    def __init__(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            raise ValueError("not a reportgen report.json: the document is not an object")
        self.doc = doc
        self.valid_mse = self._number("metrics", "valid_mse")
        self.valid_rmse = self._number("metrics", "valid_rmse")

    @classmethod
    def read(cls, path: Path, *, follow: bool = True) -> ReportDoc:
        """Read (bounded: `documents.read_json`) and check `path`.

        `UnreadableFile` where the file cannot be read as JSON (not a regular file, too
        large, too deep, not finite, not JSON); `ValueError` where its values are wrong.
        `follow=False` refuses a symbolic link.
        """
        return cls(read_json(Path(path), REPORT_BYTES, "a report.json", follow=follow))

    @classmethod
    def read_text(cls, text: str, name: str = "report.json") -> ReportDoc:
        """Parse and check report.json's text, as `read` does a file's."""
        return cls(loads_json(text, name))

    def _get(self, *keys: str) -> Any:
        value: Any = self.doc
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def _number(self, *keys: str) -> float:
        value = self._get(*keys)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"not a reportgen report.json: {'.'.join(keys)} is not a finite number")
        return float(value)

    def _rows(self, *keys: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        """A list of objects that each carry `fields`; missing: empty; malformed: ValueError."""
        value = self._get(*keys)
        if value is None:
            return []
        path = ".".join(keys)
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise ValueError(f"not a reportgen report.json: {path} is not a list of objects")
        for row in value:
            if not isinstance(row.get("title"), str) or any(
                isinstance(row.get(f), bool) or not isinstance(row.get(f), (int, float)) for f in fields
            ):
                raise ValueError(
                    f"not a reportgen report.json: an entry of {path} lacks a title or {', '.join(fields)}"
                )
        return value

    def number(self, *keys: str) -> float | None:
        """The finite number at `keys`; None where it is missing; `ValueError` where it is anything else."""
        return None if self._get(*keys) is None else self._number(*keys)

    def section(self, *keys: str) -> dict[str, Any] | None:
        """The object at `keys`; None where it is missing or null; `ValueError` where it is anything else."""
        value = self._get(*keys)
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"not a reportgen report.json: {'.'.join(keys)} is not an object")
        return value

    def text(self, *keys: str) -> str | None:
        """The string at `keys`; None where it is missing; `ValueError` where it is anything else."""
        value = self._get(*keys)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"not a reportgen report.json: {'.'.join(keys)} is not a string")
        return value

    @property
    def generated_at(self) -> str:
        value = self._get("generated_at")
        return value if isinstance(value, str) else ""

    @property
    def split(self) -> str:
        """Which split scored the run: `config.split`; in older files a time split's `split.kind`, else random."""
        value = self._get("config", "split") or self._get("split", "kind") or "random"
        if value not in ("random", "stable", "time"):
            raise ValueError(f"not a reportgen report.json: its split is {shown(value)}, not random, stable or time")
        return value

    @property
    def sha256(self) -> str:
        value = self._get("dataset", "sha256")
        return value if isinstance(value, str) else ""

    def ranked_lists(self) -> list[tuple[str, list[str]]]:
        """The report's ranked lists of titles, by name, in the page's order."""
        lists = [
            ("Lowest biases", [e["title"] for e in self._rows("bias", "worst", fields=())]),
            ("Highest biases", [e["title"] for e in self._rows("bias", "best", fields=())]),
        ]
        components = self._get("pca", "components") or []
        if not isinstance(components, list) or not all(isinstance(c, dict) for c in components):
            raise ValueError("not a reportgen report.json: pca.components is not a list of objects")
        for position, component in enumerate(components):
            index = component.get("index", position)
            for end, label in (("top", "highest"), ("bottom", "lowest")):
                entries = component.get(end) or []
                if not isinstance(entries, list) or not all(
                    isinstance(e, dict) and isinstance(e.get("title"), str) for e in entries
                ):
                    raise ValueError(f"not a reportgen report.json: pca.components[{position}].{end} is malformed")
                lists.append((f"Component {index}, {label} scores", [e["title"] for e in entries]))
        return lists

    def item_biases(self) -> dict[str, float]:
        """Each analysed item's learned bias."""
        return {e["title"]: float(e["bias"]) for e in self._rows("items", fields=("bias",))}
