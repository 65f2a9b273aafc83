"""Proof that a transport request comes from a node holding the cluster secret.

Each request carries an HMAC-SHA256, keyed by the shared secret, over its audience (the
cluster name and the node id it is meant for), a timestamp, a random nonce and the whole
message (which names the action). The receiver checks it on the raw bytes before it
decodes anything, and refuses a missing or wrong proof, one meant for another node or
cluster (so a request captured on its way to one node cannot be replayed to another),
one whose timestamp is outside the allowed skew, and one whose nonce it has already seen
within that window (a replay). Seen nonces older than the window are forgotten: the
timestamp check refuses their replays anyway, and the window bounds their number.

A handshake is sent before the sender knows the receiver's node id: its audience names
the cluster and no node, and the receiver accepts such a proof for the handshake only.

Responses are signed too, or a man in the middle, or a foreign server answering on a
transport port, could feed a node fake answers. A response's proof is an HMAC over the
response bytes and the nonce of the request it answers (and a purpose, so no request
proof can pass for a response proof or the other way round): a response captured on
its way to one request cannot answer another, and since the sender waits for each nonce
once, no seen-response memory is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..common.errors import StrataError

log = logging.getLogger("strata.transport.auth")

HEADER = "x-strata-auth"
SCHEME = "hmac-sha256"


class AuthenticationFailed(StrataError):
    type = "security_exception"
    status = 401


def generate_secret() -> str:
    """A new cluster secret (256 bits), for a local cluster started without one."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Digest:
    """A body's SHA-256, taken ahead: what a proof covers. Hashing a large body (a file
    chunk) takes a millisecond or more, so the transport takes it off the event loop
    (hashlib lets go of the GIL) and hands the digest in where a body is asked for."""

    value: bytes


def digest(body: bytes | memoryview) -> Digest:
    return Digest(hashlib.sha256(body).digest())


Body = bytes | memoryview | Digest


def _mac(secret: bytes, purpose: bytes, fields: tuple[str, ...], body: Body) -> str:
    hashed = body.value if isinstance(body, Digest) else hashlib.sha256(body).digest()
    signed = b"\n".join((purpose, *(f.encode() for f in fields), hashed))
    return hmac.new(secret, signed, hashlib.sha256).hexdigest()


def _request_mac(secret: bytes, audience: str, timestamp_ms: int, nonce: str, body: Body) -> str:
    return _mac(secret, b"request", (audience, str(timestamp_ms), nonce), body)


def _response_mac(secret: bytes, request_nonce: str, body: Body) -> str:
    return _mac(secret, b"response", (request_nonce,), body)


def _fields(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, params = header.partition(" ")
    return scheme, dict(p.split("=", 1) for p in params.split(",") if "=" in p)


def audience(cluster_name: str, node_id: str | None) -> str:
    return f"{cluster_name}/{node_id or ''}"


def request_nonce(header: str | None) -> str | None:
    """The nonce a request proof names (unchecked): what the response is bound to."""
    if not header:
        return None
    scheme, fields = _fields(header)
    nonce = fields.get("nonce")
    return nonce if scheme == SCHEME and nonce and nonce.isascii() else None


@dataclass(frozen=True)
class Proof:
    """A request's proof header, and its nonce, which the response must be bound to."""

    header: str
    nonce: str


class Signer:
    def __init__(self, secret: str, *, clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000):
        self._secret = secret.encode()
        self._clock_ms = clock_ms

    def request(self, to: str, body: Body) -> Proof:
        """A proof for the request `body` meant for the audience `to` (see `audience()`)."""
        timestamp = self._clock_ms()
        nonce = secrets.token_hex(16)
        signature = _request_mac(self._secret, to, timestamp, nonce, body)
        return Proof(f"{SCHEME} ts={timestamp},nonce={nonce},to={to},sig={signature}", nonce)

    def sign(self, to: str, body: Body) -> str:
        """The header of `request()`, where the nonce is not needed."""
        return self.request(to, body).header

    def response(self, request_nonce: str, body: Body) -> str:
        """A proof for the response `body` to the request that carried `request_nonce`."""
        return f"{SCHEME} reply_to={request_nonce},sig={_response_mac(self._secret, request_nonce, body)}"


class Verifier:
    def __init__(self, secret: str, *, max_skew_ms: int = 60_000,
                 clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000):
        self._secret = secret.encode()
        self._max_skew_ms = max_skew_ms
        self._clock_ms = clock_ms
        self._seen: OrderedDict[str, int] = OrderedDict()  # nonce -> timestamp, oldest first

    def verify(self, body: Body, header: str | None, *, accept: tuple[str, ...], peer: str = "?") -> str:
        """Raise AuthenticationFailed (and log who tried) unless the proof is good, new and
        meant for one of the `accept` audiences; returns the audience it was meant for."""
        try:
            return self._verify(body, header, accept)
        except AuthenticationFailed as e:
            log.warning("refused transport request from [%s]: %s", peer, e.reason)
            raise

    def verify_response(self, body: Body, header: str | None, *, request_nonce: str, peer: str = "?",
                        action: str = "?") -> None:
        """Raise AuthenticationFailed (and log who answered) unless the response carries a
        good proof bound to the request that carried `request_nonce`."""
        try:
            self._verify_response(body, header, request_nonce)
        except AuthenticationFailed as e:
            log.warning("refused transport response from [%s] to [%s]: %s", peer, action, e.reason)
            raise

    def _verify_response(self, body: Body, header: str | None, request_nonce: str) -> None:
        if not header:
            raise AuthenticationFailed("missing authentication for transport response")
        scheme, fields = _fields(header)
        if scheme != SCHEME or not {"reply_to", "sig"} <= fields.keys() or not fields["sig"].isascii():
            raise AuthenticationFailed("malformed authentication for transport response")
        expected = _response_mac(self._secret, fields["reply_to"], body)
        if not hmac.compare_digest(expected, fields["sig"]):
            raise AuthenticationFailed("invalid cluster secret for transport response")
        if fields["reply_to"] != request_nonce:
            raise AuthenticationFailed("transport response to another request (a replayed response)")

    def _verify(self, body: Body, header: str | None, accept: tuple[str, ...]) -> str:
        if not header:
            raise AuthenticationFailed("missing authentication for transport request")
        scheme, fields = _fields(header)
        complete = {"ts", "nonce", "to", "sig"} <= fields.keys()
        if scheme != SCHEME or not complete or not fields["sig"].isascii():
            raise AuthenticationFailed("malformed authentication for transport request")
        try:
            timestamp = int(fields["ts"])
        except ValueError:
            raise AuthenticationFailed("malformed authentication for transport request") from None
        expected = _request_mac(self._secret, fields["to"], timestamp, fields["nonce"], body)
        if not hmac.compare_digest(expected, fields["sig"]):
            raise AuthenticationFailed("invalid cluster secret for transport request")
        if fields["to"] not in accept:
            raise AuthenticationFailed(f"transport request meant for [{fields['to']}], not this node")
        now = self._clock_ms()
        if abs(now - timestamp) > self._max_skew_ms:
            raise AuthenticationFailed("expired authentication for transport request")
        self._forget_before(now - self._max_skew_ms)
        if fields["nonce"] in self._seen:
            raise AuthenticationFailed("replayed transport request")
        self._seen[fields["nonce"]] = timestamp
        return fields["to"]

    def _forget_before(self, oldest_ms: int) -> None:
        # Nonces arrive in roughly timestamp order; stop at the first one still inside
        # the window (a late straggler is kept a little longer, which is safe).
        while self._seen:
            _nonce, ts = next(iter(self._seen.items()))
            if ts >= oldest_ms:
                break
            self._seen.popitem(last=False)
