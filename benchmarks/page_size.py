"""Page-size benchmark: how many bytes report.html takes, section by section, night after night.

A script, not a test: it prints figures (the 1-minute load average beside each run, for the
build times it also prints). The page's promise: every title whole, the page's own bytes
(everything but its titles) at most 450 KB at any data size, ML-100k's at most 400 KB.

    .venv/bin/python benchmarks/page_size.py                      # ML-100k: the three nights of issue 29
    .venv/bin/python benchmarks/page_size.py --ratings benchmarks/.data/planted-10m.parquet
    .venv/bin/python benchmarks/page_size.py --ratings FILE --nights 2 --keep out/

The nights: `reportgen build` (the tutorial's settings), then `--preset fast --seed 7`, then
`--split time`, all into one output folder, so the second page has "Changes since the previous
run" and the third that and the time split. For `--ratings FILE` the nights are the same with
the file's own data (a file without times skips the time split). Each page is checked: every
title of report.json's lists is in the page's text, whole.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NIGHTS = (
    ("default", []),
    ("fast, seed 7", ["--preset", "fast", "--seed", "7"]),
    ("time split", ["--split", "time"]),
)
SECTION = re.compile(r'<section id="([^"]+)".*?</section>', re.S)
SVG = re.compile(r"<svg.*?</svg>", re.S)


def sizes(page: str) -> dict[str, tuple[int, int]]:
    """Bytes of each part of the page: (all of it, of which inline SVG)."""

    def size(text: str) -> int:
        return len(text.encode("utf-8"))

    parts = {"head, style, contents": (size(page[: page.index("<main>")]), 0)}
    for match in SECTION.finditer(page):
        parts[match.group(1)] = (size(match.group(0)), sum(size(s) for s in SVG.findall(match.group(0))))
    script = re.search(r"<script>.*?</script>", page, re.S)
    parts["script"] = (size(script.group(0)) if script else 0, 0)
    return parts


def titles_of(doc: dict) -> set[str]:
    """Every title report.json names in the lists the page shows."""
    found = set(doc.get("top_items", []))
    for key in ("worst", "best"):
        found |= {e["title"] for e in doc.get("bias", {}).get(key, [])}
    found |= {p["title"] for p in doc.get("scatter", [])}
    return found


def cut_titles(page: str, doc: dict) -> list[str]:
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    return sorted(t for t in titles_of(doc) if t not in text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=Path, help="own ratings (default: MovieLens 100k)")
    parser.add_argument("--nights", type=int, default=3, choices=(1, 2, 3), help="how many of the nights to run")
    parser.add_argument("--keep", type=Path, help="build into this folder and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    source = ["--ratings", str(args.ratings)] if args.ratings else ["--offline"]
    with tempfile.TemporaryDirectory(prefix="page-size-") as tmp:
        out = args.keep or Path(tmp) / "out"
        rows = []
        for name, extra in NIGHTS[: args.nights]:
            load, started = os.getloadavg()[0], time.perf_counter()
            command = [sys.executable, "-m", "reportgen", "build", *source, "-o", str(out), "-q", *extra]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                print(f"{name}: exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
                continue
            page = (out / "report.html").read_text(encoding="utf-8")
            doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
            rows.append((name, page, doc, seconds, load))
        for name, page, doc, seconds, load in rows:
            cut = cut_titles(page, doc)
            total = len(page.encode("utf-8"))
            print(
                f"\n{name}: report.html {total:,} bytes ({total / 1000:.1f} KB), "
                f"{len(titles_of(doc))} titles, {'every one whole' if not cut else f'{len(cut)} NOT whole, e.g. {cut[0]!r}'}; "
                f"{doc['dataset']['n_ratings']:,} ratings; build {seconds:.1f} s (load {load:.2f})"
            )
            for part, (bytes_, svg) in sizes(page).items():
                print(f"  {part:32} {bytes_:>9,}" + (f"   of which SVG {svg:>8,}" if svg else ""))


if __name__ == "__main__":
    main()
