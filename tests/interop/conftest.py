"""Fixtures for the interop test: a registry of started processes, stopped in teardown."""

from e2e_fixtures import procs

__all__ = ["procs"]
