"""What every bench reports about where it ran, and the CPU of an embedded PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path


def machine() -> str:
    """'AMD EPYC …, 2 CPUs, Python 3.11.7'."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def pg_cpu_seconds(data_dir: Path) -> float:
    """User+system CPU of the embedded PostgreSQL under ``data_dir`` (postmaster and its
    backends); nan when there is none (an outside database)."""
    pidfile = next(data_dir.rglob("postmaster.pid"), None)
    if pidfile is None:
        return float("nan")
    master = int(pidfile.read_text().split()[0])
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master or stat.parent.name == str(master):
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
