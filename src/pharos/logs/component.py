"""The log side as a server component: the log store in `<data-dir>/logs`, Loki's HTTP API on
the shared port, limits from the `logs:` config section (followed on reload)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING

from pharos.logs.api import LokiAPI, register
from pharos.logs.limits import Limits, LimitsConfig
from pharos.logs.logql import parse
from pharos.logs.logql.pipeline import matcher_test
from pharos.storage.logs import LogStore, StoreOptions
from pharos.storage.logs.store import LabelMatch, StreamRule

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pharos.config.loader import LoadedConfig
    from pharos.config.model import LogLimitsConfig, LogsConfig
    from pharos.server.runtime import Runtime

_NS = 10**9
_DURATION_FIELDS = {  # config name (seconds) -> Limits field (nanoseconds)
    "reject_old_samples_max_age": "reject_old_samples_max_age_ns",
    "creation_grace_period": "creation_grace_period_ns",
    "max_chunk_age": "max_chunk_age_ns",
    "retention_period": "retention_period_ns",
}
_STORE_ONLY = {"retention_stream"}  # applied by the store, not by push limits


def limit_values(cfg: LogLimitsConfig, only_set: bool) -> dict[str, object]:
    """Config values under the Limits field names (durations converted to nanoseconds)."""
    names = cfg.model_fields_set if only_set else type(cfg).model_fields.keys()
    out: dict[str, object] = {}
    for name in names:
        if name in _STORE_ONLY:
            continue
        value = getattr(cfg, name)
        if name in _DURATION_FIELDS:
            out[_DURATION_FIELDS[name]] = int(value * _NS)
        else:
            out[name] = value
    return out


def limits_config(logs: LogsConfig) -> LimitsConfig:
    """The API's LimitsConfig from the `logs:` section."""
    defaults = Limits(**limit_values(logs.limits, only_set=False))  # type: ignore[arg-type]
    overrides = {tenant: limit_values(cfg, only_set=True) for tenant, cfg in logs.overrides.items()}
    return LimitsConfig(defaults=defaults, overrides=overrides)


def selector_match(selector: str) -> LabelMatch:
    """A predicate over stream labels for a stream selector such as `{ns="dev"}`."""
    tests = [matcher_test(m) for m in parse(selector).matchers]  # type: ignore[union-attr]
    return lambda lb: all(t(lb) for t in tests)


def stream_rules(cfg: LogLimitsConfig) -> list[StreamRule]:
    """The store's rules for one `retention_stream` list."""
    return [StreamRule(selector_match(r.selector), int(r.period * _NS), r.priority) for r in cfg.retention_stream]


def store_options(logs: LogsConfig) -> StoreOptions:
    """Retention for the store: the global default, each tenant's override, stream rules."""
    tenant = {
        name: int(cfg.retention_period * _NS)
        for name, cfg in logs.overrides.items()
        if "retention_period" in cfg.model_fields_set
    }
    tenant_rules = {name: stream_rules(cfg) for name, cfg in logs.overrides.items()
                    if "retention_stream" in cfg.model_fields_set}
    return StoreOptions(retention_ns=int(logs.limits.retention_period * _NS), tenant_retention_ns=tenant,
                        stream_retention=stream_rules(logs.limits), tenant_stream_retention=tenant_rules)


class LogsComponent:
    """Log store + Loki API. The API answers 503 until the store is open."""

    name = "logs"

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self.store: LogStore | None = None
        self._api: LokiAPI | None = None

    def register(self, app: FastAPI) -> None:
        """Mount Loki's API with the limits of the config at start."""
        logs = self._runtime.loaded.config.logs
        self._api = register(app, lambda: self.store, limits_config(logs), int(logs.delete_request_cancel_period * _NS))

    async def start(self, runtime: Runtime) -> None:
        """Open the store (WAL replay) in a worker thread."""
        store = LogStore(runtime.opts.data_dir / "logs", store_options(runtime.loaded.config.logs))
        await asyncio.to_thread(store.open)
        self.store = store

    async def apply_config(self, loaded: LoadedConfig) -> None:
        """New limits apply to the next push; retention to the next maintenance round."""
        logs = loaded.config.logs
        if self._api is not None:
            self._api.limits = limits_config(logs)
            self._api.cancel_period_ns = int(logs.delete_request_cancel_period * _NS)
        if self.store is not None:
            new = store_options(logs)
            self.store.options = dataclasses.replace(
                self.store.options, retention_ns=new.retention_ns, tenant_retention_ns=new.tenant_retention_ns,
                stream_retention=new.stream_retention, tenant_stream_retention=new.tenant_stream_retention,
            )

    async def maintain(self) -> None:
        """Flush the head to blocks, process due delete requests, apply retention and compact,
        in a worker thread."""
        if self.store is not None and self._api is not None:
            await asyncio.to_thread(self._api.deletes().process)
            await asyncio.to_thread(self.store.maintain, int(time.time() * 1000))

    async def stop(self) -> None:
        """Close the store (flushes the head)."""
        if self.store is not None:
            store, self.store = self.store, None
            await asyncio.to_thread(store.close)
