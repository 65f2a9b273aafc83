"""Reading a request body with a size cap, for the REST and the transport servers: a
declared length over the cap is refused before a byte is read, a streamed one as soon as
it passes the cap, so an oversized body is never held whole in memory."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request


async def read_capped(request: Request, limit: int, too_large: Callable[[str | None], Exception]) -> bytes:
    """The body, or `too_large(declared length)` raised (None when the length was not
    declared and the stream passed the cap)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(declared)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(None)
        chunks.append(chunk)
    return b"".join(chunks)
