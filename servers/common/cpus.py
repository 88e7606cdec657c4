"""How many cores this process may use: its CPU set, and its cgroup's CPU quota.

A container limited to 2 CPUs on a 32-core node (``docker --cpus 2``, Kubernetes'
``limits.cpu``) sees all 32 in its CPU set: sized from that, STT admitted 64 calls and
every one of them slowed under throttling, where a later caller should have had its 503.
The quota is read as Go's and the JVM's runtimes read it: the tightest over the process's
cgroup and its ancestors, rounded up (0.5 CPU is one core, taken half the time).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def usable_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cpu_quota(root, proc_cgroup)
    if quota is not None:
        cores = min(cores, math.ceil(quota))
    return max(1, cores)


def cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The CPU quota in CPUs (0.5, 2.0), or None where there is none (or nothing to read:
    not Linux, no cgroup filesystem)."""
    try:
        lines = proc_cgroup.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and not controllers:  # v2: one unified hierarchy
            base = root if (root / "cgroup.controllers").exists() else root / "unified"
            quotas += _each_level(base, path, _v2_quota)
        elif "cpu" in controllers.split(","):  # v1: the cpu controller's own hierarchy
            base = next((root / d for d in (controllers, "cpu", "cpu,cpuacct")
                         if (root / d).is_dir()), None)
            if base is not None:
                quotas += _each_level(base, path, _v1_quota)
    return min(quotas, default=None)


def _each_level(base: Path, path: str, read: Callable[[Path], float | None]) -> list[float]:
    """The quota set at each level from the process's cgroup up to ``base``. Inside a
    container the path may name a cgroup its mount does not show: the levels that
    exist are read (the mount's root is the container's own cgroup then)."""
    found = []
    parts = [p for p in path.split("/") if p]
    for depth in range(len(parts), -1, -1):
        quota = read(base.joinpath(*parts[:depth]))
        if quota is not None:
            found.append(quota)
    return found


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text(encoding="ascii").split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text(encoding="ascii"))
        period = int((folder / "cpu.cfs_period_us").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None
