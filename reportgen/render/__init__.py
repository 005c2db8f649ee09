"""Render stage: the report as a page (HTML), a summary (Markdown) and figures (SVG).

Modules, lowest first (a module imports only those before it, tests/test_architecture.py
holds the order): `formatting` (the one formatter of numbers), `labels` (the one table
of names the page, the Markdown and the log show), `figures/` (matplotlib, nowhere else),
`history` (the history page's view model), `explorer` (the factor-space explorer's
view model: its JSON island), `html` (the one Jinja environment, the
CSP, the sections) and `markdown` (report.md).
"""
