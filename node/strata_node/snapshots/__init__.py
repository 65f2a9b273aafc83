"""Snapshots to and restores from repositories (see service.py)."""
