"""Remote protocols: the remote-write receiver, remote read and the remote-write sender."""

from pharos.metrics.remote.http import register

__all__ = ["register"]
