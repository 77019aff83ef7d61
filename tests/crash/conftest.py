"""Fixtures for the crash test: a registry of started processes, stopped in teardown."""

from e2e_fixtures import procs

__all__ = ["procs"]
