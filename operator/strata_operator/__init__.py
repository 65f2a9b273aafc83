"""The Strata Kubernetes operator (kopf): custom resources for clusters, autoscalers and
file settings become StatefulSets, ConfigMaps and Services.

Only the package exists so far; its builders and handlers are the operator issue's work.
"""

__version__ = "0.1.0"
