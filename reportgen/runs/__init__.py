"""Publish stage: the output folder, the one place reportgen writes.

Modules, lowest first: `files` (the one way to open, read, list and remove inside the
output folder, never through a link), `lock` (OUTPUT/.reportgen.lock), `outputs` (file
names, the atomic writer, staging, runs, publishing, pruning, where `render` may write)
and `history` (every entry of runs/ read back as a row for the history page).
"""
