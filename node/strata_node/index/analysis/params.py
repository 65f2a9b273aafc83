"""One analysis component's settings, read the way Elasticsearch's Settings getters read
them: `getAsList` splits a plain string at commas, `getAsInt` and `getAsBoolean` parse
strings and fail with Elasticsearch's messages.

Values come from three places: a create-index body (JSON values, lists kept), index
metadata as stored (flat strings), and an inline definition in an `_analyze` body. Index
metadata currently stores a list value as its Python text (`"['lowercase', 'stop']"`),
so a string that is exactly such a list literal reads back as the list it was.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from typing import Any

from ...common.errors import IllegalArgument, SettingsError


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# A flat list of Python string literals: only such text reaches literal_eval, so user text
# nested thousands deep cannot exhaust the parser's recursion or memory.
_STRING = r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_FLAT_LIST = re.compile(rf"\[\s*(?:{_STRING}(?:\s*,\s*{_STRING})*\s*,?\s*)?\]", re.DOTALL)


def _stored_list(text: str) -> list[str] | None:
    if not (text.startswith("[") and text.endswith("]")) or _FLAT_LIST.fullmatch(text) is None:
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


class Params:
    def __init__(self, values: Mapping[str, Any]):
        self.values = {k: v for k, v in values.items() if v is not None}

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> str | None:
        value = self.values.get(key)
        if value is None:
            return None
        if isinstance(value, list) or (isinstance(value, str) and _stored_list(value) is not None):
            raise IllegalArgument(f"Found list type value for setting [{key}] but but did not expect a list "
                                  "for it.")
        return _text(value)

    def get_list(self, key: str) -> list[str]:
        value = self.values.get(key)
        if value is None:
            return []
        if isinstance(value, list):
            return [_text(v) for v in value]
        text = _text(value)
        stored = _stored_list(text)
        if stored is not None:
            return stored
        return [part.strip() for part in text.split(",") if part.strip()]

    def get_int(self, key: str, default: int) -> int:
        text = self.get(key)
        if text is None:
            return default
        try:
            value = int(text) if text.strip() == text else None
        except ValueError:
            value = None
        if value is None or not -(2**31) <= value < 2**31:
            raise SettingsError(f"Failed to parse int setting [{key}] with value [{text}]")
        return value

    def get_bool(self, key: str, default: bool) -> bool:
        text = self.get(key)
        if text is None:
            return default
        if text not in ("true", "false"):
            raise IllegalArgument(f"Failed to parse value [{text}] as only [true] or [false] are allowed.")
        return text == "true"

    def describe(self) -> str:
        """The settings as Elasticsearch prints them in messages: flat JSON of strings."""
        return json.dumps({k: v if isinstance(v, list) else _text(v) for k, v in self.values.items()},
                          separators=(",", ":"))
