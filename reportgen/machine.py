"""What this process may use of the machine: its cores and its free memory (the one place that counts them)."""

from __future__ import annotations

import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS has one), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def memory_available() -> int | None:
    """Bytes of memory this process could still take before the kernel kills it: the system's MemAvailable, or
    less where its cgroup's limit (v2 `memory.max`, v1 `memory.limit_in_bytes`) leaves less; None where unknown."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            number, controllers, path = line.split(":", 2)
            if number == "0":
                folder, limit, usage = CGROUP / path.lstrip("/"), "memory.max", "memory.current"
            elif "memory" in controllers.split(","):
                folder, limit, usage = (
                    CGROUP / "memory" / path.lstrip("/"),
                    "memory.limit_in_bytes",
                    "memory.usage_in_bytes",
                )
            else:
                continue
            if (folder / limit).is_file() and (text := (folder / limit).read_text().strip()).isdigit():
                found.append(max(0, int(text) - int((folder / usage).read_text().strip() or 0)))
    except (OSError, ValueError):
        pass
    return min(found) if found else None
