"""Scrape targets: discovered label sets -> relabel_configs -> the target's labels and URL.

Follows Prometheus 2.42's PopulateLabels: job/interval/timeout/path/scheme/params defaults are
added before relabelling, a default port is added to `__address__`, `__meta_*` labels are
removed, `instance` defaults to `__address__`, and the labels a target exposes on its series are
the ones not starting with `__`.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

from pharos.config.units import format_duration, parse_duration
from pharos.metrics.model import Labels, make_labels
from pharos.metrics.scrape.relabel import relabel
from pharos.metrics.scrape.settings import ScrapeSettings

ADDRESS = "__address__"
SCHEME = "__scheme__"
METRICS_PATH = "__metrics_path__"
SCRAPE_INTERVAL = "__scrape_interval__"
SCRAPE_TIMEOUT = "__scrape_timeout__"
PARAM_PREFIX = "__param_"
META_PREFIX = "__meta_"
RESERVED_PREFIX = "__"

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1
_HOST_PORT_RE = re.compile(r"^(\[[^\]]*\]|[^:\[\]/]*):(\d*)$")


class TargetError(ValueError):
    """A discovered target that cannot be scraped (no address, bad interval, ...)."""


@dataclass(eq=False)
class Target:
    """One scrape target: its full label set (with `__` labels) and what derives from it."""

    all_labels: dict[str, str]  # after relabelling, `__meta_*` removed, includes `__` labels
    discovered_labels: dict[str, str]  # before relabelling
    labels: Labels  # what its series carry: all_labels minus the `__` ones
    url: str
    interval: float
    timeout: float
    key: Labels = field(default=())  # identity within a pool

    def __post_init__(self) -> None:
        if not self.key:
            self.key = make_labels(self.all_labels)

    def hash(self) -> int:
        """A 64-bit hash of the labels and URL (FNV-1a), as Prometheus's Target.hash."""
        text = "\xff".join(f"{n}\xfe{v}" for n, v in self.key) + "\xff" + self.url
        return fnv1a64(text.encode())

    def offset(self, interval: float, jitter_seed: int, now: float) -> float:
        """Seconds to wait before the first scrape, spreading targets over the interval."""
        interval_ns = max(1, int(interval * 1e9))
        now_ns = int(now * 1e9)
        base = interval_ns - now_ns % interval_ns
        nxt = base + (self.hash() ^ jitter_seed) % interval_ns
        if nxt > interval_ns:
            nxt -= interval_ns
        return nxt / 1e9


def fnv1a64(data: bytes) -> int:
    """FNV-1a 64-bit hash (only used on per-target data, not on the hot path)."""
    h = _FNV_OFFSET
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & _MASK64
    return h


def jitter_seed(external_labels: Mapping[str, str]) -> int:
    """Per-server seed so two servers with the same targets scrape at different offsets."""
    text = socket.gethostname() + "".join(f"{k}={v}" for k, v in sorted(external_labels.items()))
    return fnv1a64(text.encode())


def populate_labels(
    discovered: Mapping[str, str], settings: ScrapeSettings
) -> tuple[dict[str, str] | None, dict[str, str]]:
    """Return (target labels or None if relabelling dropped it, pre-relabel labels).

    Raises TargetError when the kept target is invalid.
    """
    pre = {k: v for k, v in discovered.items() if v != ""}
    defaults = {
        "job": settings.job_name,
        SCRAPE_INTERVAL: format_duration(settings.interval),
        SCRAPE_TIMEOUT: format_duration(settings.timeout),
        METRICS_PATH: settings.metrics_path,
        SCHEME: settings.scheme,
    }
    for name, value in defaults.items():
        if not pre.get(name):
            pre[name] = value
    for name, values in settings.params.items():
        if values:
            pre[PARAM_PREFIX + name] = values[0]
    relabelled = relabel(make_labels(pre), settings.relabel_configs)
    if relabelled is None:
        return None, pre
    return _finish_labels(dict(relabelled)), pre


def _finish_labels(lset: dict[str, str]) -> dict[str, str]:
    addr = lset.get(ADDRESS, "")
    if not addr:
        raise TargetError("no address")
    addr = _with_default_port(addr, lset.get(SCHEME, ""))
    lset[ADDRESS] = addr
    if "/" in addr:
        raise TargetError(f'"{addr}" is not a valid hostname')
    interval, timeout = _interval_and_timeout(lset)
    if interval == 0:
        raise TargetError("scrape interval cannot be 0")
    if timeout == 0:
        raise TargetError("scrape timeout cannot be 0")
    if timeout > interval:
        raise TargetError(
            f"scrape timeout cannot be greater than scrape interval "
            f'("{lset[SCRAPE_TIMEOUT]}" > "{lset[SCRAPE_INTERVAL]}")'
        )
    out = {k: v for k, v in lset.items() if not k.startswith(META_PREFIX)}
    if not out.get("instance"):
        out["instance"] = addr
    return out


def _with_default_port(addr: str, scheme: str) -> str:
    if _HOST_PORT_RE.match(addr):
        return addr
    if addr.count(":") > 1 and not addr.startswith("["):
        return addr  # a bare IPv6 address: Prometheus leaves it as it is
    if scheme in ("http", ""):
        return addr + ":80"
    if scheme == "https":
        return addr + ":443"
    raise TargetError(f'invalid scheme: "{scheme}"')


def _interval_and_timeout(lset: Mapping[str, str]) -> tuple[float, float]:
    try:
        interval = parse_duration(lset.get(SCRAPE_INTERVAL, ""))
    except ValueError as exc:
        raise TargetError(f"error parsing scrape interval: {exc}") from None
    try:
        timeout = parse_duration(lset.get(SCRAPE_TIMEOUT, ""))
    except ValueError as exc:
        raise TargetError(f"error parsing scrape timeout: {exc}") from None
    return interval, timeout


def build_target(
    discovered: Mapping[str, str], settings: ScrapeSettings
) -> tuple[Target | None, dict[str, str]]:
    """A Target for a discovered label set, or (None, pre-relabel labels) when dropped."""
    lset, pre = populate_labels(discovered, settings)
    if lset is None:
        return None, pre
    interval, timeout = _interval_and_timeout(lset)
    public = make_labels({k: v for k, v in lset.items() if not k.startswith(RESERVED_PREFIX)})
    target = Target(
        all_labels=lset,
        discovered_labels=pre,
        labels=public,
        url=scrape_url(lset, settings.params),
        interval=interval,
        timeout=timeout,
    )
    return target, pre


def scrape_url(lset: Mapping[str, str], params: Mapping[str, list[str]]) -> str:
    """scheme://address/path?params, `__param_<name>` replacing the first value of a param."""
    query: dict[str, list[str]] = {k: list(v) for k, v in params.items()}
    for name, value in lset.items():
        if name.startswith(PARAM_PREFIX):
            key = name[len(PARAM_PREFIX):]
            if query.get(key):
                query[key][0] = value
            else:
                query[key] = [value]
    qs = urlencode([(k, v) for k in sorted(query) for v in query[k]])
    path = lset.get(METRICS_PATH, "")
    return urlunsplit((lset.get(SCHEME, ""), lset.get(ADDRESS, ""), path, qs, ""))


def global_url(url: str) -> str:
    """The scrape URL with a loopback host replaced by this machine's hostname."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host not in ("localhost", "127.0.0.1", "::1"):
        return url
    netloc = socket.gethostname() + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
