"""IP field values: IPv4 and IPv6 text, in the canonical form Elasticsearch prints
(InetAddresses.toAddrString): dotted quads, RFC 5952 compressed IPv6 in lower case, and
IPv4-mapped IPv6 addresses as the IPv4 address they carry (Lucene stores both the same
way). Octets with leading zeros are refused, as Elasticsearch refuses them.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from .errors import MalformedValue, illegal, not_text

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_fast_ipv4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}").fullmatch  # canonical already: no leading zeros


def canonical_ip(text: str) -> str:
    """The canonical text of an address, or ValueError."""
    if _fast_ipv4(text):
        return text
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            address = ipaddress.IPv6Address(text.split("%", 1)[0])
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
    return str(address)


def convert_ip(value: Any) -> str:
    if value.__class__ is str:
        if _fast_ipv4(value):
            return value
        try:
            return canonical_ip(value)
        except ValueError:
            raise illegal(f"'{value}' is not an IP string literal.") from None
    if isinstance(value, dict | list):
        raise not_text(value)
    text = "true" if value is True else "false" if value is False else str(value)
    raise illegal(f"'{text}' is not an IP string literal.")


def is_ip(value: Any) -> bool:
    try:
        convert_ip(value)
    except MalformedValue:
        return False
    return True
