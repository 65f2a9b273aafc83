"""Mappings: field types, dynamic mapping, merging updates, and parsing documents into
the values the index holds. Pure: no I/O, no clock, no node state; index/service.py
keeps each index's compiled Mapping and persists its updates.

    mapping = Mapping.parse({"properties": {"status": {"type": "long"}}})
    parsed = mapping.parse_document({"status": 200, "path": "/"}, "doc-1")
    parsed.fields                 # {"status": [200], "path": ["/"], "path.keyword": ["/"]}
    mapping = mapping.merge(parsed.dynamic_update)   # adds `path` (text + keyword)
"""

from .dates import DEFAULT_FORMAT, DateFormatter, DateParseError, formatter
from .definition import AnalysisNames, is_typed_mapping
from .document import ParsedDocument
from .errors import DocumentParseError, FailedToParseMapping, MappingParseError, StrictDynamicMapping
from .mappers import FieldMapper, ObjectMapper, RootMapper
from .mapping import Mapping
from .merge import MapperError

__all__ = [
    "DEFAULT_FORMAT",
    "AnalysisNames",
    "DateFormatter",
    "DateParseError",
    "DocumentParseError",
    "FailedToParseMapping",
    "FieldMapper",
    "MapperError",
    "Mapping",
    "MappingParseError",
    "ObjectMapper",
    "ParsedDocument",
    "RootMapper",
    "StrictDynamicMapping",
    "formatter",
    "is_typed_mapping",
]
