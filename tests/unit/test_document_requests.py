"""Document API request values read as Elasticsearch reads them: version types, the
versions a get accepts, and numbers in bulk action lines and update bodies."""

import pytest

from strata_node.rest.bulk import parse_bulk
from strata_node.rest.write_params import parse_version_type, read_version_errors


def bulk_items(*lines: str) -> list:
    return parse_bulk("".join(line + "\n" for line in lines).encode(), "i", None, False)


# -- version types ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "version_type"), [
    (None, "internal"), ("internal", "internal"), ("external", "external"), ("external_gt", "external"),
    ("external_gte", "external_gte"),
])
def test_version_types_are_read_as_version_type_from_string_reads_them(name, version_type):
    assert parse_version_type(name) == version_type


def test_a_bulk_action_line_takes_external_gt_as_external():
    [item] = bulk_items('{"index": {"_id": "1", "version": 3, "version_type": "external_gt"}}', "{}")
    assert (item.version, item.version_type) == (3, "external")


# -- versions of reads --------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "version_type", "valid"), [
    (1, "internal", True), (-3, "internal", True), (0, "internal", False), (-1, "internal", False),
    (-5, "internal", False), (0, "external", True), (-3, "external", True), (-1, "external", False),
    (0, "external_gte", True), (-2, "external_gte", False),
])
def test_a_get_version_is_checked_as_validate_version_for_reads_checks_it(version, version_type, valid):
    reason = f"illegal version value [{version}] for version type [{version_type.upper()}]"
    assert read_version_errors(version, version_type) == ([] if valid else [reason])
