"""Listening sockets the node binds itself, so a busy port is a clear start-up error
rather than a failure deep inside the server."""

from __future__ import annotations

import random
import socket


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


# Below the kernel's ephemeral range, from here up: clear of the well-known services.
_LOWEST = 10000
_DEFAULT_EPHEMERAL = (32768, 60999)
# Ports this process handed out lately, not handed out again while their nodes start.
_handed_out: dict[int, None] = {}
_HANDED_OUT_KEPT = 4096


def ephemeral_range() -> tuple[int, int]:
    """The ports the kernel picks for outgoing connections and port-0 listeners."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(v) for v in f.read().split())
        return low, high
    except (OSError, ValueError):
        return _DEFAULT_EPHEMERAL


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports free right now, for a local cluster whose seed hosts must be known before its
    nodes start. Chosen below the ephemeral range: a port there that is free now can be
    handed to any outgoing connection (loopback HTTP makes many) before the node binds it,
    and the node then fails to start; below it only an explicit bind takes one. Ports this
    process handed out lately are not handed out again. Falls back to the kernel's choice
    when the range leaves no room below it."""
    low, _ = ephemeral_range()
    candidates = [p for p in range(_LOWEST, low) if p not in _handed_out]
    if len(candidates) < count * 4:
        return _kernel_ports(count, host)
    chosen: list[int] = []
    for port in random.sample(candidates, min(len(candidates), count * 64)):
        if _bindable(host, port):
            chosen.append(port)
            if len(chosen) == count:
                break
    else:
        return _kernel_ports(count, host)
    if len(_handed_out) + count > _HANDED_OUT_KEPT:
        _handed_out.clear()
    _handed_out.update(dict.fromkeys(chosen))
    return chosen


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _kernel_ports(count: int, host: str) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
