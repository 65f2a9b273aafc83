import logging

import pytest

from strata_node.transport.auth import AuthenticationFailed, Signer, Verifier, generate_secret


class Clock:
    def __init__(self, now=1_795_000_000_000):
        self.now = now

    def __call__(self):
        return self.now


def test_a_request_signed_with_the_cluster_secret_is_accepted():
    clock = Clock()
    secret = generate_secret()
    header = Signer(secret, clock_ms=clock).sign("cluster:admin/sleep", b"body")
    Verifier(secret, clock_ms=clock).verify("cluster:admin/sleep", b"body", header)


def test_a_request_without_proof_is_refused_and_logged(caplog):
    refused = pytest.raises(AuthenticationFailed, match="missing authentication")
    with caplog.at_level(logging.WARNING), refused:
        Verifier("s").verify("cluster:admin/sleep", b"", None, peer="10.0.0.9:5555")
    assert "10.0.0.9:5555" in caplog.text


def test_a_foreign_secret_is_refused():
    clock = Clock()
    header = Signer("theirs", clock_ms=clock).sign("a", b"x")
    with pytest.raises(AuthenticationFailed, match="invalid cluster secret"):
        Verifier("ours", clock_ms=clock).verify("a", b"x", header)


def test_a_proof_is_bound_to_its_action_and_body():
    clock = Clock()
    header = Signer("s", clock_ms=clock).sign("a", b"x")
    verifier = Verifier("s", clock_ms=clock)
    with pytest.raises(AuthenticationFailed):
        verifier.verify("b", b"x", header)
    with pytest.raises(AuthenticationFailed):
        verifier.verify("a", b"y", header)


def test_a_replayed_request_is_refused():
    clock = Clock()
    header = Signer("s", clock_ms=clock).sign("a", b"x")
    verifier = Verifier("s", clock_ms=clock)
    verifier.verify("a", b"x", header)
    with pytest.raises(AuthenticationFailed, match="replayed"):
        verifier.verify("a", b"x", header)


def test_an_old_proof_is_refused_once_outside_the_window():
    clock = Clock()
    header = Signer("s", clock_ms=clock).sign("a", b"x")
    clock.now += 61_000
    with pytest.raises(AuthenticationFailed, match="expired"):
        Verifier("s", clock_ms=clock, max_skew_ms=60_000).verify("a", b"x", header)


def test_malformed_proofs_are_refused():
    verifier = Verifier("s")
    for header in ("basic abc", "hmac-sha256 ts=1", "hmac-sha256 ts=x,nonce=n,sig=s"):
        with pytest.raises(AuthenticationFailed, match="malformed"):
            verifier.verify("a", b"", header)


def test_seen_nonces_are_forgotten_after_the_window():
    clock = Clock()
    signer, verifier = Signer("s", clock_ms=clock), Verifier("s", clock_ms=clock, max_skew_ms=1000)
    for _ in range(100):
        verifier.verify("a", b"", signer.sign("a", b""))
    clock.now += 2000
    verifier.verify("a", b"", signer.sign("a", b""))
    assert len(verifier._seen) == 1
