"""Monitors as a server Component: the manager on the server's TSDB and log store, its API,
persistence in `<data-dir>/monitors`, and alerts posted through the rules' notifier.

Alerts go where rule alerts go: the Alertmanagers of `alerting.alertmanagers`, or, without an
`alerting` section, pharos' own Alertmanager at the server's `/api/v2/alerts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from pharos.monitors.alerts import MonitorAlert
from pharos.monitors.api import monitors_router
from pharos.monitors.manager import MonitorManager
from pharos.monitors.sources import QuerySources
from pharos.monitors.store import MonitorStore
from pharos.rules.component import builtin_alertmanagers
from pharos.rules.notifier import Notifier
from pharos.rules.rule import Alert, AlertState
from pharos.tasks import cancel

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pharos.config.loader import LoadedConfig
    from pharos.server.runtime import Runtime

log = logging.getLogger("pharos.monitors")
TICK_S = 1.0


def rule_alert(a: MonitorAlert) -> Alert:
    """A monitor alert in the notifier's shape (endsAt is `ends_ms`: ahead while firing, the
    resolution time once resolved)."""
    return Alert(labels=tuple(sorted(a.labels.items())), annotations=dict(a.annotations), value=a.value,
                 active_at=a.starts_ms, state=AlertState.FIRING, fired_at=a.starts_ms, valid_until=a.ends_ms)


class MonitorsComponent:
    """Evaluates the monitors of pharos.yml and the API every second they are due."""

    name = "monitors"

    def __init__(self, runtime: Any = None) -> None:
        self.runtime = runtime
        self.manager: MonitorManager | None = None
        self.store: MonitorStore | None = None
        self.notifier = Notifier()
        self._task: asyncio.Task[None] | None = None

    def register(self, app: FastAPI) -> None:
        """Mount /api/pharos/v1/monitors."""
        app.include_router(monitors_router(lambda: self.manager))

    async def start(self, runtime: Runtime) -> None:
        """Load API monitors and states, configure notification, start evaluating."""
        self.runtime = runtime
        sources = QuerySources(self._querier, self._log_store)
        manager = MonitorManager(sources, self._send)
        self.store = MonitorStore(runtime.opts.data_dir / "monitors")
        defs, mutes = await asyncio.to_thread(self.store.load_definitions)
        manager.load_api_monitors(defs, mutes)
        self._configure(manager, runtime.loaded)
        manager.restore(await asyncio.to_thread(self.store.load_state))
        manager.on_change = self._save_definitions
        self.notifier.start()
        self.manager = manager
        self._task = asyncio.create_task(self._loop(), name="pharos-monitors")

    def _querier(self) -> Any:
        tsdb = getattr(self.runtime, "tsdb", None)
        if tsdb is None:
            raise RuntimeError("TSDB not ready")
        return tsdb

    def _log_store(self) -> Any:
        for c in getattr(self.runtime, "components", []):
            if getattr(c, "name", "") == "logs":
                return getattr(c, "store", None)
        return None

    def _configure(self, manager: MonitorManager, loaded: LoadedConfig) -> None:
        cfg = loaded.config
        url = str(getattr(self.runtime.opts, "url", ""))
        self.notifier.configure(cfg.alerting, dict(cfg.global_.external_labels), url,
                                builtin_alertmanagers(self.runtime, loaded))
        manager.set_config_monitors(cfg.monitors)
        log.info("%d monitors from the config", len(cfg.monitors))

    def _send(self, alerts: list[MonitorAlert]) -> None:
        by_query: dict[str, list[Alert]] = {}
        for a in alerts:
            by_query.setdefault(a.query, []).append(rule_alert(a))
        for query, batch in by_query.items():
            self.notifier.send(query, batch)

    def _save_definitions(self) -> None:
        if self.manager is None or self.store is None:
            return
        with self.manager.lock:
            defs = list(self.manager.api_defs.values())
        self.store.save_definitions(defs, self.manager.mutes())

    async def _loop(self) -> None:
        assert self.manager is not None
        while True:
            try:
                await asyncio.to_thread(self.manager.tick)
            except Exception:
                log.exception("monitor evaluation failed")
            await asyncio.sleep(TICK_S)

    async def apply_config(self, loaded: LoadedConfig) -> None:
        """Follow a reload: new, changed and removed config monitors; notifier targets."""
        if self.manager is not None:
            self._configure(self.manager, loaded)

    async def maintain(self) -> None:
        """Save states and history."""
        if self.manager is not None and self.store is not None:
            await asyncio.to_thread(self.store.save_state, self.manager.snapshot())

    async def stop(self) -> None:
        """Stop evaluating, save states, deliver what is queued."""
        await cancel(self._task)
        self._task = None
        await self.maintain()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.notifier.flush(), 5)
        await self.notifier.stop()
