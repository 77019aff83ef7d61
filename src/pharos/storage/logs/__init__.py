"""The log store: the only log code that knows file layouts or SQL."""

from pharos.storage.logs.blocks import LineFilter, ScanSpec
from pharos.storage.logs.store import InvalidTenantError, LogStore, StoreOptions, StreamWrite, labels_key

__all__ = [
    "InvalidTenantError",
    "LineFilter",
    "LogStore",
    "ScanSpec",
    "StoreOptions",
    "StreamWrite",
    "labels_key",
]
