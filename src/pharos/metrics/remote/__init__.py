"""Remote protocols: the remote-write receiver, remote read and the remote-write sender."""

from pharos.metrics.remote.http import register
from pharos.metrics.remote.manager import RemoteWriteManager

__all__ = ["RemoteWriteManager", "register"]
