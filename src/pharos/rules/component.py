"""The rules subsystem as a server Component: rule groups, notifier and their HTTP API.

Where alerts go: the Alertmanagers of `alerting.alertmanagers`; when the config has no
`alerting` section and the server runs pharos' own Alertmanager (a component named
"alertmanager"), alerts go to the server's own `/api/v2/alerts`, in-process — see
`builtin_alertmanagers`.

LogQL rule groups (Loki's ruler): a group in a `rule_files` file marked `source: logs` (and
optionally `tenant: <X-Scope-OrgID>`, default `fake`) has LogQL metric queries as expressions;
they run against the log store of the "logs" component for that tenant, under that tenant's
`logs:` query limits; recording results and ALERTS go into the TSDB (where Loki's ruler would
remote-write them) and alerts go through the same state machine and notifier
(see `pharos.rules.logrules`, `pharos.rules.rulefile`).

Loki's ruler API (`pharos.rules.lokiruler`) adds LogQL groups over HTTP, kept under
`<data-dir>/loki-rules`; they run in the same manager beside the rule-file groups.

A rule file that does not load at start stops the server with file:line reasons (as Prometheus
does); at reload it is refused and the running rules stay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pharos.logs.component import limits_config
from pharos.rules.api import rules_router
from pharos.rules.group import Group, GroupOptions, RuleStorage
from pharos.rules.logrules import DEFAULT_MAX_SERIES, LogRuleStorage
from pharos.rules.lokiruler import LokiRuler, loki_ruler_router
from pharos.rules.manager import Clock, RuleManager, load_groups, resolve_rule_files
from pharos.rules.notifier import Endpoint, Notifier
from pharos.rules.rule import AlertContext
from pharos.rules.rulefile import RuleFileError
from pharos.rules.storage import TSDBStorage

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pharos.config.loader import LoadedConfig
    from pharos.server.runtime import Runtime
    from pharos.storage.logs import LogStore

log = logging.getLogger("pharos.rules")
BUILTIN_ALERTMANAGER_COMPONENT = "alertmanager"
LOGS_COMPONENT = "logs"
RULER_DIR = "loki-rules"


_GROUP_METRICS: list[tuple[str, str, Callable[[Group], float]]] = [
    ("prometheus_rule_group_last_duration_seconds", "gauge", lambda g: float(g.evaluation_s)),
    ("prometheus_rule_group_last_evaluation_timestamp_seconds", "gauge", lambda g: g.last_evaluation_ms / 1000),
    ("prometheus_rule_group_interval_seconds", "gauge", lambda g: g.interval_ms / 1000),
    ("prometheus_rule_group_rules", "gauge", lambda g: float(len(g.rules))),
]


class RulesConfigError(Exception):
    """Rule files that do not load; the message lists file:line reasons."""


def builtin_alertmanagers(runtime: Any, loaded: LoadedConfig) -> list[Endpoint]:
    """pharos' own Alertmanager, when `alerting` is absent and the server has a component named
    "alertmanager" (the built-in one), else nothing; it is posted to in-process when the runtime
    has an app (`runtime.loopback`), so the server's auth and TLS do not apply to it."""
    if loaded.config.alerting is not None:
        return []
    names = {getattr(c, "name", "") for c in getattr(runtime, "components", [])}
    if BUILTIN_ALERTMANAGER_COMPONENT not in names:
        return []
    url = runtime.opts.url.rstrip("/") + "/api/v2/alerts"
    return [Endpoint(url, loopback=getattr(runtime, "loopback", None))]


class RulesComponent:
    """Rule evaluation, alert notification, /api/v1/rules and /api/v1/alerts."""

    name = "rules"

    def __init__(self, runtime: Any = None, clock: Clock | None = None) -> None:
        self.runtime = runtime
        self.clock = clock
        self.manager: RuleManager | None = None
        self.notifier = Notifier()
        self.ruler = LokiRuler()
        self._lock = self.ruler.lock

    def register(self, app: FastAPI) -> None:
        """Mount the rules API and Loki's ruler API."""
        app.include_router(rules_router(lambda: self.manager))
        app.include_router(loki_ruler_router(self.ruler))

    async def start(self, runtime: Runtime) -> None:
        """Create the manager on the open TSDB and load the rules of the running config."""
        self.runtime = runtime
        assert runtime.tsdb is not None
        manager = RuleManager(TSDBStorage(runtime.tsdb), self.clock, self.notifier.send,
                              log_storage=self._log_storage)
        self.notifier.start()
        data_dir = getattr(runtime.opts, "data_dir", None)
        if data_dir is not None:
            await asyncio.to_thread(self.ruler.open, Path(data_dir) / RULER_DIR)
        try:
            await self._apply(manager, runtime.loaded)
        except RulesConfigError as exc:
            await manager.stop()
            self._fail_start(runtime, exc)
            raise
        self.manager = self.ruler.manager = manager

    @staticmethod
    def _fail_start(runtime: Any, exc: RulesConfigError) -> None:
        """A bad rule file at start stops the server, naming file:line (as Prometheus does)."""
        message = f"error loading rule files: {exc}"
        log.error("%s", message)
        runtime.startup_error = message
        on_fatal = getattr(runtime, "on_fatal", None)
        if on_fatal is not None:
            on_fatal()

    async def apply_config(self, loaded: LoadedConfig) -> None:
        """Reload rule files; a bad file raises and the running rules stay."""
        if self.manager is None:
            return
        await self._apply(self.manager, loaded)

    async def _apply(self, manager: RuleManager, loaded: LoadedConfig) -> None:
        async with self._lock:
            cfg = loaded.config
            base = Path(loaded.path).resolve().parent if loaded.path else None
            files = resolve_rule_files(cfg.rule_files, base)
            try:
                defs = await asyncio.to_thread(load_groups, files)
            except RuleFileError as exc:
                raise RulesConfigError("\n".join(exc.messages)) from None
            external_url = self._external_url()
            ext = dict(cfg.global_.external_labels)
            self.notifier.configure(cfg.alerting, ext, external_url,
                                    builtin_alertmanagers(self.runtime, loaded))
            opts = GroupOptions(
                interval_ms=round(cfg.global_.evaluation_interval * 1000),
                alert_ctx=AlertContext(ext, external_url),
            )
            self.ruler.file_defs, self.ruler.opts = defs, opts
            await manager.update(defs + self.ruler.all_defs(), opts)
            log.info("loaded %d rule groups from %d files", len(defs), len(files))

    def _log_storage(self, sink: RuleStorage, tenant: str) -> RuleStorage:
        """The storage of a LogQL group: the logs component's store, its per-tenant limits."""
        return LogRuleStorage(sink, tenant, self._log_store, self._max_series)

    def _log_store(self) -> LogStore | None:
        for c in getattr(self.runtime, "components", []):
            if getattr(c, "name", "") == LOGS_COMPONENT:
                store: LogStore | None = getattr(c, "store", None)
                return store
        return None

    def _max_series(self, tenant: str) -> int:
        loaded = getattr(self.runtime, "loaded", None)
        if loaded is None:
            return DEFAULT_MAX_SERIES
        return limits_config(loaded.config.logs).for_tenant(tenant).max_query_series

    def _external_url(self) -> str:
        opts = getattr(self.runtime, "opts", None)
        return str(getattr(opts, "url", "")) if opts is not None else ""

    def metrics_text(self) -> str:
        """Prometheus's rule-group metrics for /metrics (label `rule_group="<file>;<name>"`)."""
        groups = self.manager.sorted_groups() if self.manager is not None else []
        out: list[str] = []
        for metric, kind, value in _GROUP_METRICS:
            out.append(f"# TYPE {metric} {kind}\n")
            for g in groups:
                name = f"{g.file};{g.name}".replace("\\", "\\\\").replace('"', '\\"')
                out.append(f'{metric}{{rule_group="{name}"}} {value(g)!r}\n')
        return "".join(out)

    async def maintain(self) -> None:
        """Nothing periodic beyond the group loops."""

    async def stop(self) -> None:
        """Stop evaluating and deliver nothing more."""
        if self.manager is not None:
            await self.manager.stop()
        await self.notifier.stop()
