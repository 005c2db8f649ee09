"""What this process may use of the machine: its cores (the one place that counts them)."""

from __future__ import annotations

import os


def cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS has one), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
