"""Strata node runtime: the distributed core of Elasticsearch, in Python."""

__version__ = "0.1.0"

# The Elasticsearch API version Strata reports; the official 8.x clients accept it.
ES_COMPAT_VERSION = "8.17.0"
LUCENE_COMPAT_VERSION = "9.12.0"
