"""The header lines of _msearch, read as MultiSearchRequest.readMultiLineFormat reads them."""

import orjson
import pytest

from strata_node.rest.request import RestRequest
from strata_node.rest.search import parse_msearch


def items(body: bytes, default_index: str | None = None):
    return parse_msearch(RestRequest("POST", "/_msearch", {}, {}, body), default_index)


def test_an_index_given_as_an_array_is_a_comma_list():
    assert items(b'{"index": ["logs-a", "logs-b"]}\n{}\n')[0].expression == "logs-a,logs-b"


def test_an_index_array_of_numbers_names_the_numbers_as_text():
    # nodeStringArrayValue: each element's toString, so the search fails as a missing index
    # in its own item rather than failing the request
    assert items(b'{"index": [1, 2]}\n{}\n')[0].expression == "1,2"


def test_a_header_without_index_searches_the_path_index():
    assert items(b"{}\n{}\n", "logs-*")[0].expression == "logs-*"


@pytest.mark.parametrize(
    "value, expected", [(True, "true"), (["a", "b"], "a,b"), ([True, 1], "true,1"), ("open", "open")]
)
def test_option_values_are_read_as_text(value, expected):
    header = orjson.dumps({"expand_wildcards": value})
    assert items(header + b"\n{}\n")[0].options["expand_wildcards"] == expected
