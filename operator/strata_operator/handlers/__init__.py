"""The kopf handlers, one module per custom resource; importing this package registers them.

Handlers are thin: they call strata_operator.reconcile and write back the status, the
annotations and the events it returns."""

from __future__ import annotations

from . import autoscaler, cluster, file_settings, operator  # noqa: F401  (registration)
