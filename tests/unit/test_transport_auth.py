import logging

import pytest

from strata_node.transport.auth import (
    AuthenticationFailed,
    Signer,
    Verifier,
    audience,
    digest,
    generate_secret,
)

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


# -- responses ---------------------------------------------------------------------------------

def test_a_response_signed_for_its_request_is_accepted():
    proof = Signer("s").request(ME, b"request")
    header = Signer("s").response(proof.nonce, b"answer")
    Verifier("s").verify_response(b"answer", header, request_nonce=proof.nonce)


def test_an_unsigned_response_is_refused_and_logged(caplog):
    refused = pytest.raises(AuthenticationFailed, match="missing authentication for transport response")
    with caplog.at_level(logging.WARNING), refused:
        Verifier("s").verify_response(b"answer", None, request_nonce="n1", peer="10.0.0.7:9300",
                                      action="test:echo")
    assert "refused transport response from [10.0.0.7:9300] to [test:echo]" in caplog.text


def test_a_response_signed_with_another_secret_or_tampered_is_refused():
    header = Signer("theirs").response("n1", b"answer")
    with pytest.raises(AuthenticationFailed, match="invalid cluster secret for transport response"):
        Verifier("ours").verify_response(b"answer", header, request_nonce="n1")
    header = Signer("s").response("n1", b"answer")
    with pytest.raises(AuthenticationFailed, match="invalid cluster secret for transport response"):
        Verifier("s").verify_response(b"forged", header, request_nonce="n1")


def test_a_response_cannot_be_replayed_for_another_request():
    header = Signer("s").response("n1", b"answer")
    with pytest.raises(AuthenticationFailed, match="another request"):
        Verifier("s").verify_response(b"answer", header, request_nonce="n2")
    # Nor can its nonce be swapped in the header: the signature covers it.
    with pytest.raises(AuthenticationFailed, match="invalid cluster secret"):
        Verifier("s").verify_response(b"answer", header.replace("reply_to=n1", "reply_to=n2"),
                                      request_nonce="n2")


def test_request_and_response_proofs_cannot_stand_in_for_each_other():
    clock = Clock()
    proof = Signer("s", clock_ms=clock).request(ME, b"x")
    fields = dict(p.split("=", 1) for p in proof.header.split(" ", 1)[1].split(","))
    as_response = f"hmac-sha256 reply_to={proof.nonce},sig={fields['sig']}"
    with pytest.raises(AuthenticationFailed, match="invalid cluster secret"):
        Verifier("s", clock_ms=clock).verify_response(b"x", as_response, request_nonce=proof.nonce)
    response = Signer("s").response(proof.nonce, b"x")
    sig = response.rsplit("sig=", 1)[1]
    as_request = f"hmac-sha256 ts={fields['ts']},nonce={proof.nonce},to={ME},sig={sig}"
    with pytest.raises(AuthenticationFailed, match="invalid cluster secret"):
        Verifier("s", clock_ms=clock).verify(b"x", as_request, accept=ACCEPT)


def test_malformed_response_proofs_are_refused():
    for header in ("basic abc", "hmac-sha256 reply_to=n1", "hmac-sha256 reply_to=n1,sig=\u00e9"):
        with pytest.raises(AuthenticationFailed, match="malformed"):
            Verifier("s").verify_response(b"", header, request_nonce="n1")


def test_a_digest_taken_ahead_stands_for_its_body_on_either_side():
    clock = Clock()
    secret = generate_secret()
    body = b"a large file chunk" * 1000
    header = Signer(secret, clock_ms=clock).sign(ME, digest(body))
    assert Verifier(secret, clock_ms=clock).verify(body, header, accept=ACCEPT) == ME
    header = Signer(secret, clock_ms=clock).sign(ME, body)
    assert Verifier(secret, clock_ms=clock).verify(digest(body), header, accept=ACCEPT) == ME
    with pytest.raises(AuthenticationFailed, match="invalid cluster secret"):
        Verifier(secret, clock_ms=clock).verify(digest(body + b"!"), header, accept=ACCEPT)
