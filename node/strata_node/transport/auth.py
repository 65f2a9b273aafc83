"""Proof that a transport request comes from a node holding the cluster secret.

Each request carries an HMAC-SHA256 over the action, a timestamp, a random nonce and the
body, keyed by the shared secret. The receiver refuses a missing or wrong proof, one
whose timestamp is outside the allowed skew, and one whose nonce it has already seen
within that window (a replay). Seen nonces older than the window are forgotten: the
timestamp check refuses their replays anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

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


def _mac(secret: bytes, action: str, timestamp_ms: int, nonce: str, body: bytes) -> str:
    signed = b"\n".join((action.encode(), str(timestamp_ms).encode(), nonce.encode(),
                         hashlib.sha256(body).digest()))
    return hmac.new(secret, signed, hashlib.sha256).hexdigest()


class Signer:
    def __init__(self, secret: str, *, clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000):
        self._secret = secret.encode()
        self._clock_ms = clock_ms

    def sign(self, action: str, body: bytes) -> str:
        timestamp = self._clock_ms()
        nonce = secrets.token_hex(16)
        signature = _mac(self._secret, action, timestamp, nonce, body)
        return f"{SCHEME} ts={timestamp},nonce={nonce},sig={signature}"


class Verifier:
    def __init__(self, secret: str, *, max_skew_ms: int = 60_000,
                 clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000):
        self._secret = secret.encode()
        self._max_skew_ms = max_skew_ms
        self._clock_ms = clock_ms
        self._seen: OrderedDict[str, int] = OrderedDict()  # nonce -> timestamp, oldest first

    def verify(self, action: str, body: bytes, header: str | None, *, peer: str = "?") -> None:
        """Raise AuthenticationFailed (and log who tried) unless the proof is good and new."""
        try:
            self._verify(action, body, header)
        except AuthenticationFailed as e:
            log.warning("refused transport request [%s] from [%s]: %s", action, peer, e.reason)
            raise

    def _verify(self, action: str, body: bytes, header: str | None) -> None:
        if not header:
            raise AuthenticationFailed(f"missing authentication for transport action [{action}]")
        scheme, _, params = header.partition(" ")
        fields = dict(p.split("=", 1) for p in params.split(",") if "=" in p)
        if scheme != SCHEME or not {"ts", "nonce", "sig"} <= fields.keys():
            raise AuthenticationFailed(f"malformed authentication for transport action [{action}]")
        try:
            timestamp = int(fields["ts"])
        except ValueError:
            raise AuthenticationFailed(f"malformed authentication for transport action [{action}]") from None
        expected = _mac(self._secret, action, timestamp, fields["nonce"], body)
        if not hmac.compare_digest(expected, fields["sig"]):
            raise AuthenticationFailed(f"invalid cluster secret for transport action [{action}]")
        now = self._clock_ms()
        if abs(now - timestamp) > self._max_skew_ms:
            raise AuthenticationFailed(f"expired authentication for transport action [{action}]")
        self._forget_before(now - self._max_skew_ms)
        if fields["nonce"] in self._seen:
            raise AuthenticationFailed(f"replayed transport request for action [{action}]")
        self._seen[fields["nonce"]] = timestamp

    def _forget_before(self, oldest_ms: int) -> None:
        # Nonces arrive in roughly timestamp order; stop at the first one still inside
        # the window (a late straggler is kept a little longer, which is safe).
        while self._seen:
            _nonce, ts = next(iter(self._seen.items()))
            if ts >= oldest_ms:
                break
            self._seen.popitem(last=False)
