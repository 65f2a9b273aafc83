"""The reserved state service as a pure function: a settings document and a cluster state
in, at most one new cluster state out."""

from __future__ import annotations

import msgspec
import orjson
import pytest

from strata_node.action.cluster_admin import UpdateSettingsRequest, modified_settings
from strata_node.cluster.state import ClusterStateContent, Metadata
from strata_node.common.errors import IllegalArgument
from strata_node.reservedstate import service
from strata_node.reservedstate.cluster_settings import ClusterSettingsHandler
from strata_node.reservedstate.handler import TransformResult
from strata_node.reservedstate.metadata import (
    EMPTY_VERSION,
    ReservedStateMetadata,
    refuse_reserved,
)
from strata_node.reservedstate.registry import handlers_by_name

NS = service.FILE_SETTINGS


class Recording:
    """A handler that records the order it ran in and reserves its source's keys; it writes
    them into the persistent settings under its own prefix so changes are visible."""

    def __init__(self, name, deps=(), optional=(), fail=False, log=None):
        self.name, self.deps, self.optional, self.fail = name, deps, optional, fail
        self.log = log if log is not None else []

    def dependencies(self):
        return self.deps

    def optional_dependencies(self):
        return self.optional

    def transform(self, source, content, previous_keys):
        self.log.append(self.name)
        if self.fail:
            raise IllegalArgument(f"{self.name} refuses")
        md = content.metadata
        kept = {k: v for k, v in md.persistent_settings.items() if not k.startswith(f"{self.name}.")}
        kept.update({f"{self.name}.{k}": v for k, v in (source or {}).items()})
        content = msgspec.structs.replace(content, metadata=msgspec.structs.replace(
            md, persistent_settings=kept, version=md.version + 1))
        return TransformResult(content, frozenset(source or {}))


def doc(version, state, compatibility="8.4.0") -> bytes:
    return orjson.dumps({"metadata": {"version": str(version), "compatibility": compatibility},
                         "state": state})


def applied(content):
    return content.metadata.reserved_state[NS]


EMPTY = ClusterStateContent()


# -- parsing ----------------------------------------------------------------------------


def test_version_is_read_from_a_string_or_an_integer():
    assert service.parse_chunk(doc(3, {})).version == 3
    assert service.parse_chunk(b'{"metadata": {"version": 4}, "state": {}}').version == 4


@pytest.mark.parametrize("data, message", [
    (b"{not json", "failed to parse"),
    (b"[]", "must be a JSON object"),
    (b'{"state": {}}', "[metadata.version] is required"),
    (b'{"metadata": {"version": "x"}, "state": {}}', "must be an integer"),
    (b'{"metadata": {"version": true}, "state": {}}', "must be an integer"),
    (b'{"metadata": {"version": 1}, "state": []}', "[state] must be an object"),
    (b'{"metadata": {"version": 1}, "other": {}}', "unknown field [other]"),
    (b'{"metadata": {"version": "99999999999999999999999"}, "state": {}}', "out of range for a long"),
])
def test_malformed_documents_are_parse_errors(data, message):
    with pytest.raises(service.ChunkParseError, match=message.replace("[", r"\[").replace("]", r"\]")):
        service.parse_chunk(data)


# -- ordering ---------------------------------------------------------------------------


def test_handlers_run_after_their_dependencies_and_present_optional_dependencies():
    handlers = handlers_by_name(Recording("one", deps=("two",), optional=("three",)), Recording("two"),
                                Recording("three"))
    assert service.order_handlers(handlers, {"one", "two", "three"}) == ["two", "three", "one"]
    assert service.order_handlers(handlers, {"one", "two"}) == ["two", "one"]


def test_unknown_handler_missing_dependency_and_cycle_are_refused():
    handlers = handlers_by_name(Recording("one", deps=("two",)), Recording("two", deps=("one",)),
                                Recording("three", deps=("four",)))
    with pytest.raises(ValueError, match="Unknown handler type: five"):
        service.order_handlers(handlers, {"five"})
    with pytest.raises(ValueError, match="Missing handler dependency definition: three -> four"):
        service.order_handlers(handlers, {"three"})
    with pytest.raises(ValueError, match="Cycle found in settings dependencies: one -> two -> one"):
        service.order_handlers(handlers, {"one", "two"})


def test_duplicate_handler_names_are_refused():
    with pytest.raises(ValueError, match="Duplicate key one"):
        handlers_by_name(Recording("one"), Recording("one"))


# -- applying ---------------------------------------------------------------------------


def test_a_document_applies_every_handler_in_order_and_records_version_and_keys():
    log = []
    handlers = handlers_by_name(Recording("a", deps=("b",), log=log), Recording("b", log=log))
    new, outcome = service.apply(NS, doc(1, {"a": {"x": "1"}, "b": {"y": "2"}}), EMPTY, handlers)
    assert log == ["b", "a"]
    assert outcome.applied
    assert new.metadata.persistent_settings == {"a.x": "1", "b.y": "2"}
    assert applied(new) == ReservedStateMetadata(NS, 1, {"a": ("x",), "b": ("y",)})
    assert new.metadata.version > EMPTY.metadata.version


def test_a_version_not_newer_than_the_stored_one_changes_nothing():
    handlers = handlers_by_name(Recording("a"))
    first, _ = service.apply(NS, doc(2, {"a": {"x": "1"}}), EMPTY, handlers)
    for version in (1, 2):
        again, outcome = service.apply(NS, doc(version, {"a": {"x": "changed"}}), first, handlers)
        assert outcome.skipped and again is first


def test_a_version_of_zero_or_below_is_never_applied():
    handlers = handlers_by_name(Recording("a"))
    for version in (0, -7):
        again, outcome = service.apply(NS, doc(version, {"a": {"x": "1"}}), EMPTY, handlers)
        assert outcome.skipped and again is EMPTY


def test_the_same_content_with_a_higher_version_records_the_new_version():
    handlers = handlers_by_name(Recording("a"))
    first, _ = service.apply(NS, doc(1, {"a": {"x": "1"}}), EMPTY, handlers)
    second, outcome = service.apply(NS, doc(2, {"a": {"x": "1"}}), first, handlers)
    assert outcome.applied and applied(second).version == 2
    assert second.metadata.persistent_settings == first.metadata.persistent_settings


def test_one_failing_handler_applies_nothing_and_records_a_validation_error():
    handlers = handlers_by_name(Recording("a"), Recording("b", fail=True))
    first, _ = service.apply(NS, doc(1, {"a": {"x": "1"}}), EMPTY, handlers)
    second, outcome = service.apply(NS, doc(2, {"a": {"x": "2"}, "b": {"y": "1"}}), first, handlers)
    assert outcome.error_kind == "validation"
    assert second.metadata.persistent_settings == {"a.x": "1"}  # a's change did not land
    reserved = applied(second)
    assert reserved.version == 1 and reserved.handlers == {"a": ("x",)}
    assert reserved.errors.version == 2 and reserved.errors.error_kind == "validation"
    assert reserved.errors.errors == (
        "Error processing b state change: illegal_argument_exception: b refuses",)


def test_a_later_good_document_clears_the_error():
    handlers = handlers_by_name(Recording("a"), Recording("b", fail=True))
    broken, _ = service.apply(NS, doc(1, {"b": {"y": "1"}}), EMPTY, handlers)
    assert applied(broken).errors is not None
    fixed, outcome = service.apply(NS, doc(2, {"a": {"x": "1"}}), broken, handlers)
    assert outcome.applied and applied(fixed).errors is None and applied(fixed).version == 2


def test_a_parse_error_is_recorded_with_the_empty_version_and_changes_nothing_else():
    handlers = handlers_by_name(Recording("a"))
    first, _ = service.apply(NS, doc(1, {"a": {"x": "1"}}), EMPTY, handlers)
    second, outcome = service.apply(NS, b'{"metadata": ', first, handlers)
    assert outcome.error_kind == "parsing"
    assert applied(second).errors.version == EMPTY_VERSION and applied(second).errors.error_kind == "parsing"
    assert applied(second).version == 1
    assert second.metadata.persistent_settings == first.metadata.persistent_settings


def test_an_unknown_handler_is_a_parsing_error_as_in_elasticsearch():
    _, outcome = service.apply(NS, doc(1, {"nope": {}}), EMPTY, handlers_by_name(Recording("a")))
    assert outcome.error_kind == "parsing" and outcome.errors == ("Unknown handler type: nope",)


def test_a_document_for_a_newer_version_of_the_software_is_refused():
    _, outcome = service.apply(NS, doc(1, {"a": {}}, compatibility="99.0.0"), EMPTY,
                               handlers_by_name(Recording("a")))
    assert outcome.error_kind == "validation" and "is not compatible" in outcome.errors[0]


def test_keys_dropped_from_the_document_leave_the_cluster():
    handlers = handlers_by_name(Recording("a"), Recording("b"))
    first, _ = service.apply(NS, doc(1, {"a": {"x": "1", "z": "3"}, "b": {"y": "2"}}), EMPTY, handlers)
    second, _ = service.apply(NS, doc(2, {"a": {"x": "1"}}), first, handlers)
    # b is gone from the document altogether: it still runs, with nothing, and lets go.
    assert second.metadata.persistent_settings == {"a.x": "1"}
    assert applied(second).handlers == {"a": ("x",)}


def test_the_same_error_is_not_recorded_twice():
    handlers = handlers_by_name(Recording("b", fail=True))
    first, _ = service.apply(NS, doc(1, {"b": {}}), EMPTY, handlers)
    again, _ = service.apply(NS, doc(1, {"b": {}}), first, handlers)
    assert again is first


# -- the cluster_settings handler ---------------------------------------------------------


def test_cluster_settings_become_persistent_settings_reserved_by_name():
    handlers = handlers_by_name(ClusterSettingsHandler())
    state = {"cluster_settings": {"indices": {"recovery": {"max_bytes_per_sec": "50mb"}},
                                  "action.auto_create_index": "false"}}
    new, outcome = service.apply(NS, doc(1, state), EMPTY, handlers)
    assert new.metadata.persistent_settings == {"indices.recovery.max_bytes_per_sec": "50mb",
                                                "action.auto_create_index": "false"}
    assert outcome.handlers == {"cluster_settings": ("action.auto_create_index",
                                                     "indices.recovery.max_bytes_per_sec")}


def test_cluster_settings_dropped_from_the_file_are_removed_and_others_kept():
    handlers = handlers_by_name(ClusterSettingsHandler())
    content = msgspec.structs.replace(EMPTY, metadata=Metadata(
        persistent_settings={"search.default_search_timeout": "10s"}))
    state = {"cluster_settings": {"indices.recovery.max_bytes_per_sec": "50mb",
                                  "action.auto_create_index": "false"}}
    first, _ = service.apply(NS, doc(1, state), content, handlers)
    second, _ = service.apply(NS, doc(2, {"cluster_settings": {"action.auto_create_index": "false"}}),
                              first, handlers)
    assert second.metadata.persistent_settings == {"search.default_search_timeout": "10s",
                                                   "action.auto_create_index": "false"}


@pytest.mark.parametrize("settings, message", [
    ({"no.such.setting": "1"}, "persistent setting [no.such.setting], not recognized"),
    ({"node.name": "x"}, "not dynamically updateable"),
    ({"indices.recovery.max_bytes_per_sec": "lots"}, "max_bytes_per_sec"),
    ({"indices.recovery.max_bytes_per_sec": None}, "is null"),
])
def test_invalid_cluster_settings_are_validation_errors(settings, message):
    _, outcome = service.apply(NS, doc(1, {"cluster_settings": settings}), EMPTY,
                               handlers_by_name(ClusterSettingsHandler()))
    assert outcome.error_kind == "validation" and message in outcome.errors[0], outcome.errors


# -- the REST refusal ----------------------------------------------------------------------


def test_a_change_to_a_reserved_key_is_refused_naming_namespace_and_keys():
    reserved = {NS: ReservedStateMetadata(NS, 1, {"cluster_settings": ("a.b", "c.d")})}
    with pytest.raises(IllegalArgument) as e:
        refuse_reserved(reserved, "cluster_settings", {"a.b", "x.y"}, "req")
    assert e.value.reason == ("Failed to process request [req] with errors: "
                              "[[a.b] set as read-only by [file_settings]]")
    refuse_reserved(reserved, "cluster_settings", {"x.y"}, "req")
    refuse_reserved(reserved, "index_templates", {"a.b"}, "req")


def test_a_wildcard_reset_counts_every_key_it_would_remove_as_modified():
    metadata = Metadata(persistent_settings={"indices.recovery.max_bytes_per_sec": "50mb",
                                             "search.default_search_timeout": "1s"})
    request = UpdateSettingsRequest(persistent={"indices.*": None})
    modified = modified_settings(request, metadata, {"search.default_search_timeout": "1s"}, {})
    assert modified == {"indices.*", "indices.recovery.max_bytes_per_sec"}
