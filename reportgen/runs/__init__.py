"""Publish stage: the output folder, the one place reportgen writes.

Modules, lowest first: `outputs` (file names, the atomic writer, the lock, staging,
runs, publishing, pruning) and `history` (every entry of runs/ read back as a row
for the history page, never following a link).
"""
