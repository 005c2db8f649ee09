"""What the tests share besides fixtures (tests/conftest.py holds those and the pytest hooks).

- `planted`: ratings tables with planted structure, and writers of the on-disk layouts reportgen reads.
- `reports`: whole reports from hand-made numbers (no training), with hostile titles.
- `pages`: what every report page must hold (self-contained, its sections in order).
- `commands`: `reportgen ARGS…` in this process, and what a failed command must leave.
- `browser`: headless Chromium, the Nu HTML Checker and axe-core, as a person sees the page.
- `forked`: `reportgen` in a process of its own, for signals and locks.
"""
