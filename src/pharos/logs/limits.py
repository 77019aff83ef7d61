"""Per-tenant ingestion limits with Loki's defaults, names and error messages."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

MB = 1 << 20
HOUR_NS = 3600 * 10**9

MISSING_STREAMS = "error at least one valid stream is required for ingestion"
MISSING_LABELS = "error at least one label pair is required per stream"
INVALID_LABELS = "Error parsing labels '{}' with error: {}"
RATE_LIMITED = (
    "Ingestion rate limit exceeded for user {} (limit: {} bytes/sec) while attempting to ingest '{}' lines "
    "totaling '{}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased"
)
LINE_TOO_LONG = "Max entry size '{}' bytes exceeded for stream '{}' while adding an entry with length '{}' bytes"
STREAM_LIMIT = (
    "Maximum active stream limit exceeded when trying to create stream {}, reduce the number of active streams "
    "(reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be "
    "increased, user: '{}'"
)
TOO_OLD = "entry for stream '{}' has timestamp too old: {}, oldest acceptable timestamp is: {}"
TOO_NEW = "entry for stream '{}' has timestamp too new: {}"
TOO_MANY_LABELS = "entry for stream '{}' has {} label names; limit {}"
NAME_TOO_LONG = "stream '{}' has label name too long: '{}'"
VALUE_TOO_LONG = "stream '{}' has label value too long: '{}'"
DUPLICATE_LABEL = "stream '{}' has duplicate label name: '{}'"
TOO_FAR_BEHIND = "entry too far behind, entry timestamp is: {}, oldest acceptable timestamp is: {}"
STREAM_RATE_LIMITED = (
    "Per stream rate limit exceeded (limit: {}/sec) while attempting to ingest for stream '{}' totaling {}, "
    "consider splitting a stream via additional labels or contact your Loki administrator to see if the limit "
    "can be increased"
)
SM_TOO_LARGE = (
    "stream '{}' has structured metadata too large: '{}' bytes, limit: '{}' bytes. Please see "
    "`limits_config.max_structured_metadata_size` or contact your Loki administrator to increase it."
)
SM_TOO_MANY = (
    "stream '{}' has too many structured metadata labels: '{}', limit: '{}'. Please see "
    "`limits_config.max_structured_metadata_entries_count` or contact your Loki administrator to increase it."
)


@dataclass(frozen=True)
class Limits:
    """One tenant's limits (Loki's `limits_config` names and defaults)."""

    max_line_size: int = 256 * 1024
    max_line_size_truncate: bool = False
    max_label_names_per_series: int = 15
    max_label_name_length: int = 1024
    max_label_value_length: int = 2048
    reject_old_samples: bool = True
    reject_old_samples_max_age_ns: int = 168 * HOUR_NS
    creation_grace_period_ns: int = 10 * 60 * 10**9
    ingestion_rate_mb: float = 4.0
    ingestion_burst_size_mb: float = 6.0
    max_global_streams_per_user: int = 5000
    max_chunk_age_ns: int = 2 * HOUR_NS  # out-of-order window is half of it (Loki)
    max_structured_metadata_size: int = 64 * 1024
    max_structured_metadata_entries_count: int = 128
    retention_period_ns: int = 0
    max_entries_limit_per_query: int = 5000
    max_query_series: int = 500
    per_stream_rate_limit: int = 3_000_000
    per_stream_rate_limit_burst: int = 15_000_000


_FIELDS = set(Limits.__dataclass_fields__)


@dataclass
class LimitsConfig:
    """Defaults plus per-tenant overrides (`overrides[tenant]` holds field -> value)."""

    defaults: Limits = field(default_factory=Limits)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)

    def for_tenant(self, tenant: str) -> Limits:
        """The effective limits of `tenant`."""
        extra = self.overrides.get(tenant)
        if not extra:
            return self.defaults
        unknown = set(extra) - _FIELDS
        if unknown:
            raise ValueError(f"unknown limits for tenant {tenant}: {sorted(unknown)}")
        return replace(self.defaults, **extra)


class RateLimiter:
    """Token buckets per tenant (bytes/s with a burst), like Loki's local rate strategy."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, tenant: str, nbytes: int, rate: float, burst: float, now: float | None = None) -> bool:
        """Take `nbytes` from the tenant's bucket if it holds them."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(tenant, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if nbytes > tokens:
                self._buckets[tenant] = (tokens, now)
                return False
            self._buckets[tenant] = (tokens - nbytes, now)
            return True


    def take(self, key: str, sizes: list[int], rate: float, burst: float, now: float | None = None) -> int:
        """Take tokens entry by entry (Loki's per-stream limiter); returns how many of the
        leading entries were allowed."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            n = 0
            for size in sizes:
                if size > tokens:
                    break
                tokens -= size
                n += 1
            self._buckets[key] = (tokens, now)
            return n


def human_bytes(n: int) -> str:
    """go-humanize's Bytes (SI units), as Loki prints sizes: `3.0 MB`, `512 B`."""
    if n < 10:
        return f"{n} B"
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    e = min(math.floor(math.log(n) / math.log(1000)), len(units) - 1)
    val = math.floor(n / 1000**e * 10 + 0.5) / 10
    return f"{val:.0f} {units[e]}" if val >= 10 else f"{val:.1f} {units[e]}"


def go_time(ns: int) -> str:
    """Go's time.Time.String() of a UTC instant, e.g. `2024-01-02 03:04:05.5 +0000 UTC`."""
    sec, frac = divmod(ns, 10**9)
    base = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%d %H:%M:%S")
    if frac:
        base += "." + f"{frac:09d}".rstrip("0")
    return base + " +0000 UTC"


def rfc3339(ns: int) -> str:
    """Go's time.RFC3339 format of a UTC instant (whole seconds)."""
    return datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
