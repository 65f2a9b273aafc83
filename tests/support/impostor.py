"""A server on loopback that answers transport requests as the test tells it: what a
foreign server on a transport port, or a man in the middle, would send a node."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (request body, request headers) -> (status, response body, response headers)
Answer = Callable[[bytes, dict[str, str]], tuple[int, bytes, dict[str, str]]]


class Impostor:
    def __init__(self, answer: Answer):
        outer = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the node's connection pool expects

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.requests += 1
                status, raw, headers = answer(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                for name, value in {"content-type": "application/x-strata-transport", **headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args) -> None:  # quiet: the test asserts what matters
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> Impostor:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
