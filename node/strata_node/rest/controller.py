"""The route table and the request cycle, like Elasticsearch's RestController.

Routes are matched segment by segment; a literal segment beats a `{param}` at the same
place, so `/_bulk` wins over `/{index}`. A path that matches but not for the method is a
405, a path that matches nothing a 400, both worded as Elasticsearch words them. Every
response carries the product header the official clients check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from ..common import xcontent
from ..common.bodies import read_capped
from ..common.errors import ContentTooLong, IllegalArgument, StrataError, error_body
from ..common.suggest import close_matches
from ..node_client import observing
from ..tasks.manager import TaskManager
from ..tasks.task import Task
from ..transport import context

log = logging.getLogger(__name__)

GLOBAL_PARAMS = frozenset({"pretty", "human", "filter_path", "error_trace", "format"})
SUPPORTED_MEDIA = ("application/json", "application/x-ndjson", "application/vnd.elasticsearch+json",
                   "application/vnd.elasticsearch+x-ndjson")
COMPATIBLE_VERSIONS = ("7", "8", "9")


@dataclass
class RestResponse:
    status: int
    body: Any = None  # JSON-able, or bytes/str sent as text
    headers: dict[str, str] | None = None
    content_type: str | None = None


Handler = Callable[..., Awaitable[RestResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: tuple[str, ...]
    handler: Handler
    params: frozenset[str]
    action: str | None = None  # the top-level transport action the handler executes
    # A handler that answers from constants and runs no action (ES's `_cat` help).
    static: bool = False

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.pattern):
            return None
        found = {}
        for part, seg in zip(self.pattern, segments, strict=True):
            if part.startswith("{"):
                if not seg:
                    return None
                found[part[1:-1]] = seg
            elif part != seg:
                return None
        return found

    @property
    def specificity(self) -> tuple[int, ...]:
        return tuple(1 if p.startswith("{") else 0 for p in self.pattern)


def split_path(raw_path: str) -> list[str]:
    """Segments of the path as sent, each percent-decoded once, so an id may hold an
    encoded `/` (`%2F`) or `%` (`%25`) as in Elasticsearch."""
    return [unquote(s) for s in raw_path.strip("/").split("/")] if raw_path.strip("/") else []


def raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else request.url.path


def raw_uri(request: Request) -> str:
    """The URI as Elasticsearch quotes it in routing errors: path and query string."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    return raw_path(request) + (f"?{query}" if query else "")


# Routes that answer from what the node knows without a cluster state (who it is, who it
# thinks is master, its tasks); everything else waits for the first one.
# Health too: ES's TransportClusterHealthAction ignores global blocks, so a node that has not
# joined answers red locally, or master_not_discovered_exception after `master_timeout`.
STATELESS_ROOTS = frozenset({(), ("_nodes",), ("_tasks",), ("_strata",), ("_cat", "master"),
                             ("_cat", "nodes"), ("_cat", "tasks"), ("_cluster", "state"),
                             ("_cluster", "health")})


class RestController:
    def __init__(self, max_content_length: int, tasks: TaskManager | None = None,
                 cancel: Callable[[Task, str], Awaitable[None]] | None = None):
        self.routes: list[Route] = []
        self.max_content_length = max_content_length
        # With a TaskManager, the cancellable actions a request started are cancelled when
        # its client goes away; `cancel` is how (with bans on the nodes running children).
        self.tasks = tasks
        self.cancel = cancel
        # Waits until the node has applied a cluster state (raises when it cannot): most
        # routes need what the state holds or opens (STATELESS_ROOTS do not).
        self.wait_for_state: Callable[[], Awaitable[None]] | None = None

    def register(self, method: str, path: str, handler: Handler, params: Iterable[str] = (), *,
                 action: str | None = None, static: bool = False) -> None:
        if (action is None) != static:
            raise ValueError(f"route [{method} {path}] names the action its handler executes, or is static")
        pattern = tuple(p for p in path.strip("/").split("/") if p)
        self.routes.append(Route(method, pattern, handler, frozenset(params), action, static))
        self.routes.sort(key=lambda r: r.specificity)

    def _find(self, method: str, segments: list[str]) -> tuple[Route | None, dict[str, str], list[str]]:
        allowed: list[str] = []
        best: tuple[int, ...] | None = None
        head_fallback: tuple[Route, dict[str, str]] | None = None
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if best is not None and route.specificity != best:
                break  # only the most specific matching pattern answers
            best = route.specificity
            if route.method == method:
                return route, params, []
            if method == "HEAD" and route.method == "GET":
                head_fallback = (route, params)  # HEAD is GET without a body, unless it has its own
            allowed.append(route.method)
        if head_fallback is not None:
            return head_fallback[0], head_fallback[1], []
        if "GET" in allowed:
            allowed.append("HEAD")  # every GET route answers HEAD too
        return None, {}, allowed

    async def handle(self, request: Request) -> Response:
        start = time.monotonic()
        params = dict(request.query_params)
        pretty = params.get("pretty") in ("", "true")
        error_trace = params.get("error_trace") in ("", "true")
        accept = request.headers.get("accept", "")
        try:
            route, path_params, allowed = self._find(request.method, split_path(raw_path(request)))
            if route is None:
                return self._no_route(request, allowed, pretty)
            body = await self._read_body(request)
            self._check_content_type(request, body)
            self._check_params(request.url.path, params, route)
            rest = RestRequest(request.method, request.url.path, params, path_params, body,
                               dict(request.headers))
            if self.wait_for_state is not None and route.pattern[:1] not in STATELESS_ROOTS \
                    and route.pattern[:2] not in STATELESS_ROOTS:
                await self.wait_for_state()
            response = await self._run(route, rest, request)
        except ClientDisconnect:
            return Response(status_code=499)
        except _MediaTypeError as e:
            return self._json(request, {"error": e.reason, "status": e.status}, e.status, pretty)
        except StrataError as e:
            response = RestResponse(e.status, error_body(e, stack_trace=error_trace))
        except Exception as e:
            log.exception("unexpected failure handling [%s %s]", request.method, request.url.path)
            response = RestResponse(500, error_body(e, stack_trace=error_trace))
        return self._render(request, response, params, pretty, accept, start)

    async def _run(self, route: Route, rest: RestRequest, request: Request) -> RestResponse:
        """Run the handler with the request's headers bound, so the actions it executes
        through the node client carry them; the handler registers no task of its own
        (the action's task is the request's, as in Elasticsearch). A cancellable action
        is cancelled when the client disconnects."""
        if self.tasks is None:
            return await route.handler(rest)
        cancellable: list[Task] = []
        watcher: asyncio.Future | None = None

        def started(task: Task) -> None:
            nonlocal watcher
            if task.cancellable:
                cancellable.append(task)
                if watcher is None:
                    watcher = asyncio.ensure_future(self._watch_disconnect(request, cancellable))

        try:
            with context.bound(context.RequestContext(context.propagated(rest.headers), None)), \
                    observing(started):
                return await route.handler(rest)
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _watch_disconnect(self, request: Request, tasks: list[Task]) -> None:
        """One watcher per request: a client that goes away cancels every cancellable
        action its request started and that still runs."""
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                break
        reason = "channel closed"
        for task in [t for t in tasks if not t.finished and not t.cancelled]:
            log.info("client of [%s] disconnected, cancelling task [%s]", task.action, task.id)
            if self.cancel is not None:
                # The action ends as soon as its task is cancelled, and with it this watcher:
                # the bans to the other nodes must still go out.
                await asyncio.shield(self.cancel(task, reason))
            else:
                self.tasks.cancel(task, reason)

    @staticmethod
    def _check_params(path: str, params: dict[str, str], route: Route) -> None:
        """Refuse parameters the route does not know, suggesting the near misses as
        Elasticsearch's BaseRestHandler does (unknown names in sorted order)."""
        unknown = sorted(p for p in params if p not in route.params and p not in GLOBAL_PARAMS)
        if not unknown:
            return
        candidates = route.params | GLOBAL_PARAMS
        parts = []
        for p in unknown:
            close = close_matches(p, candidates)
            part = f"[{p}]"
            if len(close) == 1:
                part += f" -> did you mean [{close[0]}]?"
            elif close:
                part += f" -> did you mean any of [{', '.join(close)}]?"
            parts.append(part)
        noun = "parameter" if len(unknown) == 1 else "parameters"
        raise IllegalArgument(f"request [{path}] contains unrecognized {noun}: {', '.join(parts)}")

    async def _read_body(self, request: Request) -> bytes:
        def too_large(declared: str | None) -> ContentTooLong:
            if declared is not None:
                return ContentTooLong(f"request content length [{declared}] is larger than the allowed "
                                      f"[http.max_content_length] of [{self.max_content_length}] bytes")
            return ContentTooLong(f"request content is larger than the allowed [http.max_content_length] "
                                  f"of [{self.max_content_length}] bytes")

        return await read_capped(request, self.max_content_length, too_large)

    @staticmethod
    def _check_content_type(request: Request, body: bytes) -> None:
        content_type = request.headers.get("content-type")
        if not body:
            return
        if content_type is None:
            raise _MediaTypeError(406, "Content-Type header is missing")
        media, _, rest = content_type.partition(";")
        media = media.strip().lower()
        if media not in SUPPORTED_MEDIA:
            raise _MediaTypeError(406, f"Content-Type header [{content_type}] is not supported")
        if "compatible-with" in rest:
            version = rest.split("compatible-with=", 1)[1].split(";")[0].strip()
            if version not in COMPATIBLE_VERSIONS:
                raise _MediaTypeHeaderError(
                    "Invalid media-type value on headers [Accept, Content-Type]",
                    caused_by=_StatusError("A compatible version is required on both Content-Type and "
                                           "Accept headers if either one has requested a compatible "
                                           f"version. Accept=null, Content-Type={version}"))

    def _no_route(self, request: Request, allowed: list[str], pretty: bool) -> Response:
        if request.method == "OPTIONS" and allowed:
            return Response(status_code=200, headers={"Allow": ",".join(sorted(set(allowed)))})
        if allowed:
            body = {"error": f"Incorrect HTTP method for uri [{raw_uri(request)}] and method "
                             f"[{request.method}], allowed: [{', '.join(sorted(set(allowed)))}]",
                    "status": 405}
            return self._json(request, body, 405, pretty, {"Allow": ",".join(sorted(set(allowed)))})
        body = {"error": f"no handler found for uri [{raw_uri(request)}] and method [{request.method}]",
                "status": 400}
        return self._json(request, body, 400, pretty)

    def _json(self, request: Request, body: Any, status: int, pretty: bool,
              headers: dict[str, str] | None = None) -> Response:
        data = xcontent.dumps(body, pretty=pretty)
        return self._send(request, data, status, "application/json", headers)

    @staticmethod
    def _send(request: Request, data: bytes, status: int, content_type: str,
              headers: dict[str, str] | None = None) -> Response:
        out = {"X-Elastic-Product": "Elasticsearch"}
        if headers:
            out.update(headers)
        if request.method == "HEAD":
            out["content-length"] = str(len(data))
            return Response(b"", status_code=status, headers=out, media_type=content_type)
        return Response(data, status_code=status, headers=out, media_type=content_type)

    def _render(self, request: Request, response: RestResponse, params: dict[str, str], pretty: bool,
                accept: str, start: float) -> Response:
        body = response.body
        if isinstance(body, bytes | str):
            data = body.encode() if isinstance(body, str) else body
            return self._send(request, data, response.status, response.content_type or "text/plain",
                              response.headers)
        if body is None:
            return self._send(request, b"", response.status, "application/json", response.headers)
        if "filter_path" in params:
            body = xcontent.filter_path(xcontent.materialize(body), params["filter_path"].split(","))
        data = xcontent.dumps(body, pretty=pretty)
        content_type = response.content_type or "application/json"
        if "compatible-with" in accept and "vnd.elasticsearch+json" in accept:
            version = accept.split("compatible-with=", 1)[1].split(";")[0].strip()
            content_type = f"application/vnd.elasticsearch+json;compatible-with={version}"
        elapsed = time.monotonic() - start
        if elapsed > 1:
            log.debug("[%s %s] took %.1fs", request.method, request.url.path, elapsed)
        return self._send(request, data, response.status, content_type, response.headers)


class _MediaTypeHeaderError(StrataError):
    type = "media_type_header_exception"
    status = 400


class _StatusError(StrataError):
    type = "status_exception"
    status = 400


class _MediaTypeError(Exception):
    """A body in a format this node does not read. Elasticsearch answers these before any
    handler runs, with its simple error shape: `{"error": "<reason>", "status": 406}`."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


# imported here to avoid a cycle at module import time
from .request import RestRequest  # noqa: E402
