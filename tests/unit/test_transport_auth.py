import logging

import pytest

from strata_node.transport.auth import AuthenticationFailed, Signer, Verifier, audience, generate_secret

ME = audience("c1", "nodeB")
ACCEPT = (ME, audience("c1", None))


class Clock:
    def __init__(self, now=1_795_000_000_000):
        self.now = now

    def __call__(self):
        return self.now


def test_a_request_signed_with_the_cluster_secret_for_this_node_is_accepted():
    clock = Clock()
    secret = generate_secret()
    header = Signer(secret, clock_ms=clock).sign(ME, b"body")
    assert Verifier(secret, clock_ms=clock).verify(b"body", header, accept=ACCEPT) == ME


def test_a_request_without_proof_is_refused_and_logged(caplog):
    refused = pytest.raises(AuthenticationFailed, match="missing authentication")
    with caplog.at_level(logging.WARNING), refused:
        Verifier("s").verify(b"", None, accept=ACCEPT, peer="10.0.0.9:5555")
    assert "10.0.0.9:5555" in caplog.text


def test_a_foreign_secret_is_refused():
    clock = Clock()
    header = Signer("theirs", clock_ms=clock).sign(ME, b"x")
    with pytest.raises(AuthenticationFailed, match="invalid cluster secret"):
        Verifier("ours", clock_ms=clock).verify(b"x", header, accept=ACCEPT)


def test_a_proof_is_bound_to_its_message():
    clock = Clock()
    header = Signer("s", clock_ms=clock).sign(ME, b"x")
    with pytest.raises(AuthenticationFailed, match="invalid"):
        Verifier("s", clock_ms=clock).verify(b"y", header, accept=ACCEPT)


def test_a_proof_meant_for_another_node_or_cluster_is_refused():
    clock = Clock()
    for other in (audience("c1", "nodeC"), audience("c2", "nodeB")):
        header = Signer("s", clock_ms=clock).sign(other, b"x")
        with pytest.raises(AuthenticationFailed, match="not this node"):
            Verifier("s", clock_ms=clock).verify(b"x", header, accept=ACCEPT)


def test_a_tampered_audience_breaks_the_signature():
    clock = Clock()
    header = Signer("s", clock_ms=clock).sign(audience("c1", "nodeC"), b"x").replace("nodeC", "nodeB")
    with pytest.raises(AuthenticationFailed, match="invalid cluster secret"):
        Verifier("s", clock_ms=clock).verify(b"x", header, accept=ACCEPT)


def test_a_replayed_request_is_refused():
    clock = Clock()
    header = Signer("s", clock_ms=clock).sign(ME, b"x")
    verifier = Verifier("s", clock_ms=clock)
    verifier.verify(b"x", header, accept=ACCEPT)
    with pytest.raises(AuthenticationFailed, match="replayed"):
        verifier.verify(b"x", header, accept=ACCEPT)


def test_an_old_proof_is_refused_once_outside_the_window():
    clock = Clock()
    header = Signer("s", clock_ms=clock).sign(ME, b"x")
    clock.now += 61_000
    with pytest.raises(AuthenticationFailed, match="expired"):
        Verifier("s", clock_ms=clock, max_skew_ms=60_000).verify(b"x", header, accept=ACCEPT)


def test_malformed_proofs_are_refused():
    verifier = Verifier("s")
    for header in ("basic abc", "hmac-sha256 ts=1", "hmac-sha256 ts=x,nonce=n,to=c1/,sig=s",
                   "hmac-sha256 ts=1,nonce=n,to=c1/,sig=\u00e9\u00e9"):
        with pytest.raises(AuthenticationFailed, match="malformed"):
            verifier.verify(b"", header, accept=ACCEPT)


def test_seen_nonces_are_forgotten_after_the_window():
    clock = Clock()
    signer, verifier = Signer("s", clock_ms=clock), Verifier("s", clock_ms=clock, max_skew_ms=1000)
    for _ in range(100):
        verifier.verify(b"", signer.sign(ME, b""), accept=ACCEPT)
    clock.now += 2000
    verifier.verify(b"", signer.sign(ME, b""), accept=ACCEPT)
    assert len(verifier._seen) == 1
