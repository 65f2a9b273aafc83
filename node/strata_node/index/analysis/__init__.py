"""Text analysis: turning a text value into the terms an inverted index holds, as
Elasticsearch's analyzers do.

Pure functions of text and settings, no I/O. The usual entry points:

- `index_analyzers(settings)` -> IndexAnalyzers: an index's analyzers by name (its own from
  `index.analysis.*`, then the built-ins), `.default` for text fields, `.normalizer(name)`
  for keyword fields. Cached per distinct analysis configuration.
- `Analyzer.analyze(text)` -> TokenList: terms and positions (`detail=True` adds offsets
  and types); `Analyzer.analyze_values(values)` for a multi-valued field;
  `Analyzer.tokens(text)` -> list of Token tuples.
- `validate_analysis_settings(settings)`: refuses what index creation must refuse.
- `analyze(AnalyzeRequest, ...)`: the `_analyze` API's response body.
"""

from .analyze import AnalyzeRequest, analyze
from .analyzer import Analyzer
from .registry import IndexAnalyzers, global_analyzer, index_analyzers, validate_analysis_settings
from .tokens import Token, TokenList

__all__ = [
    "AnalyzeRequest",
    "Analyzer",
    "IndexAnalyzers",
    "Token",
    "TokenList",
    "analyze",
    "global_analyzer",
    "index_analyzers",
    "validate_analysis_settings",
]
