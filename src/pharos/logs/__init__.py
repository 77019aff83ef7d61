"""Loki-compatible log aggregation: push, limits, LogQL, query APIs."""
