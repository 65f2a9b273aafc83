"""What this machine, or the container it runs in, gives the node: memory and processors.

In Kubernetes the pod's limits are what count, not the host's: the cgroup's memory limit
and CPU quota bound the host figures, as the JVM's container support bounds what ES sees
(OsProbe's adjusted total memory, Runtime.availableProcessors).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _meminfo_total() -> int:
    text = _read(Path("/proc/meminfo")) or ""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def memory_limit(root: Path = CGROUP) -> int | None:
    """The cgroup's memory limit in bytes (v2 `memory.max`, v1 `memory.limit_in_bytes`);
    None when there is none."""
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes"):
        text = _read(path)
        if text is None or text == "max":
            continue
        try:
            value = int(text)
        except ValueError:
            continue
        # cgroup v1 writes "no limit" as a huge page-rounded number.
        if 0 < value < 1 << 62:
            return value
    return None


def total_memory_bytes(root: Path = CGROUP) -> int:
    host = _meminfo_total()
    limit = memory_limit(root)
    if limit is None:
        return host
    return min(host, limit) if host else limit


def cpu_quota(root: Path = CGROUP) -> float | None:
    """Processors the cgroup's CPU quota allows (v2 `cpu.max`, v1 cfs quota and period);
    None when there is no quota."""
    text = _read(root / "cpu.max")
    if text:
        quota, _, period = text.partition(" ")
        if quota != "max":
            try:
                return int(quota) / int(period or "100000")
            except ValueError:
                pass
    quota_text = _read(root / "cpu" / "cpu.cfs_quota_us")
    period_text = _read(root / "cpu" / "cpu.cfs_period_us")
    if quota_text and period_text:
        try:
            quota, period = int(quota_text), int(period_text)
        except ValueError:
            return None
        if quota > 0 and period > 0:
            return quota / period
    return None


def available_processors(root: Path = CGROUP) -> int:
    """Like Runtime.availableProcessors: the CPUs this process may run on, bounded by the
    cgroup's quota rounded up, at least one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cpu_quota(root)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)
