"""Composable index templates and component templates (Elasticsearch 7.8+): what they are
(metadata), how the master changes them (updates), and how a new index's name picks one
and composes its settings, mappings and aliases (resolve)."""
