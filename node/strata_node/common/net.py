"""Listening sockets the node binds itself, so a busy port is a clear start-up error
rather than a failure deep inside the server."""

from __future__ import annotations

import socket


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports free right now, for a local cluster whose seed hosts must be known before its
    nodes start (another process could take one meanwhile; a node then fails to bind)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
