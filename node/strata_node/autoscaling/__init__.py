"""Autoscaling: policies, deciders and the capacity they require (Elasticsearch x-pack autoscaling)."""
