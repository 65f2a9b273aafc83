"""Document API request values read as Elasticsearch reads them."""

import pytest

from strata_node.rest.bulk import parse_bulk
from strata_node.rest.write_params import parse_version_type


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
