import msgspec
import orjson
import pytest

from strata_node.transport import wire
from strata_node.transport.wire import Message


class Sleep(Message):
    millis: int
    children: list[str] = []


def test_a_request_round_trips_with_its_headers_and_parent():
    body = wire.encode(Sleep(millis=50, children=["b", "c"]))
    request = wire.Request(wire.WIRE_VERSION, "cluster:admin/sleep", body,
                           {"X-Opaque-Id": "abc"}, "nodeA:12", 30_000)
    back = wire.decode_request(wire.encode(request))
    assert back == request
    assert wire.decode_body(back.body, Sleep) == Sleep(millis=50, children=["b", "c"])


def test_a_response_round_trips_with_a_body_or_an_error():
    ok = wire.Response(wire.WIRE_VERSION, wire.encode(wire.Empty()))
    assert wire.decode_response(wire.encode(ok)) == ok
    failed = wire.Response(wire.WIRE_VERSION, None, {"type": "task_cancelled_exception", "reason": "x"})
    assert wire.decode_response(wire.encode(failed)) == failed


def test_messages_are_compact_arrays_without_field_names():
    assert b"millis" not in wire.encode(Sleep(millis=1))


def test_an_unknown_wire_version_is_refused_before_anything_else_is_read():
    future = msgspec.msgpack.encode([99, "cluster:admin/sleep", b"", {"new": "field"}, None, None, "extra"])
    with pytest.raises(wire.UnsupportedWireVersion, match=r"unsupported version \[99\]"):
        wire.decode_request(future)


def test_garbage_and_mistyped_bodies_are_malformed_messages():
    with pytest.raises(wire.MalformedMessage):
        wire.decode_request(b"\xc1\xff")
    with pytest.raises(wire.MalformedMessage, match=r"\[Sleep\]"):
        wire.decode_body(wire.encode(wire.Empty()), Sleep)


@pytest.mark.parametrize("envelope", [{"version": 1}, 7, [], ["1", "cluster:admin/sleep"]])
def test_a_message_that_is_no_envelope_is_malformed_not_an_unknown_version(envelope):
    with pytest.raises(wire.MalformedMessage, match="starts with the wire version"):
        wire.decode_request(msgspec.msgpack.encode(envelope))
    with pytest.raises(wire.MalformedMessage, match="starts with the wire version"):
        wire.decode_response(msgspec.msgpack.encode(envelope))


class Answer(Message):
    body: dict


def test_json_a_response_embeds_as_is_travels_as_the_value_it_spells():
    answer = Answer(body={"_id": "1", "_source": orjson.Fragment(b'{"message":"hi","n":[1,2]}')})
    decoded = wire.decode_body(wire.encode(answer), Answer)
    assert decoded.body == {"_id": "1", "_source": {"message": "hi", "n": [1, 2]}}


def test_a_received_body_is_a_view_into_the_message_not_a_copy():
    chunk = bytes(range(256)) * 4096  # 1 MB: a file chunk
    raw = wire.encode(wire.Request(wire.WIRE_VERSION, "internal:chunk", chunk))
    body = wire.decode_request(raw).body
    assert isinstance(body, memoryview) and body.obj is raw and body == chunk


def test_an_envelope_encoded_with_its_body_is_the_envelope_of_the_encoded_body():
    envelope = wire.Request(wire.WIRE_VERSION, "cluster:admin/sleep", b"", {"X-Opaque-Id": "abc"}, "n:1")
    messages = (Sleep(millis=5, children=["a"]), Sleep(millis=7), Sleep(millis=1, children=["x" * 300_000]))
    for message in messages:
        expected = wire.encode(msgspec.structs.replace(envelope, body=wire.encode(message)))
        assert wire.encode_with_body(envelope, message) == expected


def test_a_kept_encoding_buffer_that_grew_large_is_let_go():
    envelope = wire.Request(wire.WIRE_VERSION, "internal:chunk", b"")
    wire.encode_with_body(envelope, Sleep(millis=1, children=["x" * (wire.KEEP_BUFFER_BYTES + 1)]))
    assert len(wire._kept("body")) == len(wire._kept("whole")) == 0
    raw = wire.encode_with_body(envelope, Sleep(millis=2))
    assert wire.decode_body(wire.decode_request(raw).body, Sleep) == Sleep(millis=2)
