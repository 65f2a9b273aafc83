"""What this machine, or the container it runs in, gives the node: memory, processors and
the disk of its data path.

In Kubernetes the pod's limits are what count, not the host's: the cgroup's memory limit
and CPU quota bound the host figures, as the JVM's container support bounds what ES sees
(OsProbe's adjusted total memory, Runtime.availableProcessors).
"""

from __future__ import annotations

import math
import os
import platform
import time
from pathlib import Path
from typing import NamedTuple

CGROUP = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
STARTED_AT = time.time()  # this process's start, near enough: the module loads at start-up
# platform.machine() -> the JVM's os.arch, which ES reports
_JAVA_ARCH = {"x86_64": "amd64", "AMD64": "amd64", "i686": "x86", "i386": "x86", "arm64": "aarch64"}


class DiskSpace(NamedTuple):
    total: int
    free: int
    available: int  # what the node's user may still write (free less the root reserve)


def disk_space(path: Path | str) -> DiskSpace:
    """The disk holding `path`, in bytes (statvfs); raises OSError when it cannot be read."""
    st = os.statvfs(path)
    return DiskSpace(st.f_blocks * st.f_frsize, st.f_bfree * st.f_frsize, st.f_bavail * st.f_frsize)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes (counts without a unit as they are); empty if unreadable."""
    out = {}
    for line in (_read(Path("/proc/meminfo")) or "").splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            out[name] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
    return out


def own_cgroups(proc: Path = PROC_CGROUP) -> dict[str, str]:
    """This process's cgroup per controller from /proc/self/cgroup: v2's unified
    hierarchy under "", v1's under each controller's name."""
    out: dict[str, str] = {}
    for line in (_read(proc) or "").splitlines():
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        for controller in controllers.split(",") if controllers else [""]:
            out[controller] = path
    return out


def _upwards(mount: Path, path: str | None):
    """The cgroup's folder and each parent up to the mount: a limit set higher up binds
    too (a service under a slice). Inside a container's own namespace the path is `/`."""
    parts = [p for p in (path or "/").split("/") if p]
    for n in range(len(parts), -1, -1):
        yield mount.joinpath(*parts[:n])


def _tightest(values) -> int | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None


def _number(text: str | None) -> int | None:
    if text is None or text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    # cgroup v1 writes "no limit" as a huge page-rounded number.
    return value if 0 < value < 1 << 62 else None


def memory_limit(root: Path = CGROUP, proc: Path = PROC_CGROUP) -> int | None:
    """The tightest memory limit on this process's cgroup and its parents, in bytes (v2
    `memory.max`, v1 `memory.limit_in_bytes`); None when there is none."""
    own = own_cgroups(proc)
    v2 = (_number(_read(d / "memory.max")) for d in _upwards(root, own.get("")))
    v1 = (_number(_read(d / "memory.limit_in_bytes")) for d in _upwards(root / "memory", own.get("memory")))
    return _tightest([*v2, *v1])


def total_memory_bytes(root: Path = CGROUP, proc: Path = PROC_CGROUP) -> int:
    host = meminfo().get("MemTotal", 0)
    limit = memory_limit(root, proc)
    if limit is None:
        return host
    return min(host, limit) if host else limit


def _v2_quota(folder: Path) -> float | None:
    quota, _, period = (_read(folder / "cpu.max") or "max").partition(" ")
    try:
        return None if quota == "max" else int(quota) / int(period or "100000")
    except ValueError:
        return None


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int(_read(folder / "cpu.cfs_quota_us") or "-1")
        period = int(_read(folder / "cpu.cfs_period_us") or "0")
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def cpu_quota(root: Path = CGROUP, proc: Path = PROC_CGROUP) -> float | None:
    """The tightest CPU quota on this process's cgroup and its parents, in processors (v2
    `cpu.max`, v1 cfs quota over period); None when there is none."""
    own = own_cgroups(proc)
    v2 = (_v2_quota(d) for d in _upwards(root, own.get("")))
    v1_mounts = [root / "cpu", root / "cpu,cpuacct"]
    v1 = (_v1_quota(d) for mount in v1_mounts for d in _upwards(mount, own.get("cpu")))
    return _tightest([*v2, *v1])


def available_processors(root: Path = CGROUP, proc: Path = PROC_CGROUP) -> int:
    """Like Runtime.availableProcessors: the CPUs this process may run on, bounded by the
    cgroup's quota rounded up, at least one."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = cpu_quota(root, proc)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


class OperatingSystem(NamedTuple):
    name: str  # Linux
    pretty_name: str  # /etc/os-release's PRETTY_NAME, else the name
    arch: str  # as the JVM names it (amd64, aarch64)
    version: str  # the kernel release


def operating_system() -> OperatingSystem:
    """What ES's OsInfo says of the system (os.name, os.arch, os.version and the
    distribution's pretty name)."""
    name = platform.system()
    try:
        pretty = platform.freedesktop_os_release().get("PRETTY_NAME", name)
    except (OSError, ValueError):  # none, unreadable, or not UTF-8
        pretty = name
    machine = platform.machine()
    return OperatingSystem(name, pretty, _JAVA_ARCH.get(machine, machine), platform.release())
