"""The running server: TSDB, scrape manager, config and its reloads, background maintenance.

Lifecycle: `start()` opens the TSDB in a worker thread (WAL replay; /-/ready answers 503 until
done), starts scraping with the config and a maintenance task that runs `tsdb.maintain()`
every minute. `reload()` re-reads the config files and applies them; a broken file keeps the
running config. `stop()` stops scraping, then closes the TSDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pharos.config.loader import ConfigError, LoadedConfig
from pharos.metrics.api.responses import go_time, prom_duration
from pharos.metrics.scrape.manager import ScrapeManager
from pharos.metrics.tsdb.db import TSDB, TSDBLockedError
from pharos.server.components import Component, build_components
from pharos.server.loopback import Loopback
from pharos.server.options import ServerOptions, load, tsdb_options
from pharos.server.redact import redact_secrets

log = logging.getLogger("pharos.server")
MAINTAIN_INTERVAL_S = 60.0


class ReloadError(Exception):
    """A reload that failed; the running config stays in force."""


class Runtime:
    """Holds the server's parts; the HTTP app and the signal handlers call into it."""

    def __init__(self, opts: ServerOptions, loaded: LoadedConfig) -> None:
        self.opts = opts
        self.loaded = loaded
        self.tsdb: TSDB | None = None
        self.scrape: ScrapeManager | None = None
        self.started_at = time.time()
        self.last_config_time = time.time()
        self.reload_success = True
        self.reloads_total = 0
        self.reload_failures_total = 0
        self.startup_error: str | None = None
        self._ready = False
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._reload_lock = asyncio.Lock()
        self.on_fatal: Callable[[], None] | None = None  # set by the runner: stop serving
        self.loopback: Loopback | None = None  # set by create_app: requests to the app in-process
        self.components: list[Component] = build_components(self)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Begin opening the TSDB and scraping in the background (the listener is already up)."""
        self._tasks.append(asyncio.create_task(self._open_and_run(), name="pharos-start"))

    async def _open_and_run(self) -> None:
        try:
            tsdb = TSDB(self.opts.data_dir, tsdb_options(self.loaded.config.storage))
            await asyncio.to_thread(tsdb.open)
        except Exception as exc:
            self.startup_error = f"cannot open the TSDB in {self.opts.data_dir}: {exc}"
            if not isinstance(exc, TSDBLockedError | OSError):
                log.exception("%s", self.startup_error)
            if self.on_fatal is not None:
                self.on_fatal()
            return
        self.tsdb = tsdb
        if self._stopping:
            return
        self.scrape = ScrapeManager(tsdb)
        await self.scrape.apply_config(self.loaded.config)
        for component in self.components:
            await component.start(self)
        self._ready = True
        log.info("ready: %d scrape configs", len(self.loaded.config.scrape_configs))
        self._tasks.append(asyncio.create_task(self._maintain_loop(), name="pharos-maintain"))

    async def _maintain_loop(self) -> None:
        while True:
            await asyncio.sleep(MAINTAIN_INTERVAL_S)
            await self.maintain_once()

    async def maintain_once(self) -> None:
        """One round of housekeeping (TSDB in a worker thread, then each component); failures
        are logged, not raised."""
        if self.tsdb is None:
            return
        try:
            await asyncio.to_thread(self.tsdb.maintain, int(time.time() * 1000))
        except Exception:
            log.exception("TSDB maintenance failed")
        for component in self.components:
            try:
                await component.maintain()
            except Exception:
                log.exception("%s maintenance failed", component.name)

    async def stop(self) -> None:
        """Stop scraping, end background tasks, stop the components, close the TSDB."""
        self._stopping = True
        self._ready = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.scrape is not None:
            await self.scrape.stop()
        for component in reversed(self.components):
            try:
                await component.stop()
            except Exception:
                log.exception("stopping %s failed", component.name)
        if self.tsdb is not None:
            await asyncio.to_thread(self.tsdb.close)
            self.tsdb = None
        log.info("stopped")

    # -- reload --------------------------------------------------------------------------------
    async def reload(self) -> None:
        """Re-read the config files and apply them; ReloadError (file:line reasons) keeps the old."""
        async with self._reload_lock:
            self.reloads_total += 1
            try:
                loaded = await asyncio.to_thread(load, self.opts)
            except ConfigError as exc:
                self._reload_failed(exc.messages)
                raise ReloadError("; ".join(exc.messages)) from None
            for warning in loaded.warnings:
                log.warning("config: %s", warning)
            if self.scrape is not None:
                try:
                    await self.scrape.apply_config(loaded.config)
                except Exception as exc:
                    self._reload_failed([f"applying the scrape config: {exc}"])
                    raise ReloadError(str(exc)) from exc
            self._apply_storage(loaded)
            self.loaded = loaded  # components read the new config through the runtime too
            for component in self.components:
                try:
                    await component.apply_config(loaded)
                except Exception as exc:
                    self._reload_failed([f"applying the {component.name} config: {exc}"])
                    raise ReloadError(str(exc)) from exc
            self.reload_success = True
            self.last_config_time = time.time()
            log.info("configuration reloaded")

    def _reload_failed(self, messages: list[str]) -> None:
        self.reload_success = False
        self.reload_failures_total += 1
        for message in messages:
            log.error("reload failed, keeping the running config: %s", message)

    def _apply_storage(self, loaded: LoadedConfig) -> None:
        """Retention changes apply live; the others take effect on the next start."""
        if self.tsdb is None:
            return
        new = tsdb_options(loaded.config.storage)
        old = self.tsdb.options
        self.tsdb.options = replace(
            old, retention_time_ms=new.retention_time_ms, retention_size_bytes=new.retention_size_bytes
        )
        if replace(new, retention_time_ms=0, retention_size_bytes=0) != replace(
            old, retention_time_ms=0, retention_size_bytes=0
        ):
            log.warning("storage settings other than retention take effect after a restart")

    # -- what the API reads --------------------------------------------------------------------
    def is_ready(self) -> bool:
        """True once the TSDB is open and scraping has started."""
        return self._ready

    def config_yaml(self) -> str:
        """The text of the config in force, secrets shown as `<secret>` (as Prometheus)."""
        return redact_secrets(self.loaded.text)

    def flags(self) -> dict[str, str]:
        """Flags for /api/v1/status/flags."""
        return self.opts.flags()

    def runtime_info(self) -> dict[str, Any]:
        """/api/v1/status/runtimeinfo, with Prometheus's field names."""
        storage = self.loaded.config.storage
        retention = prom_duration(storage.retention_time)
        if storage.retention_size:
            retention += f" or {storage.retention_size}B"
        return {
            "startTime": go_time(self.started_at),
            "CWD": os.getcwd(),
            "reloadConfigSuccess": self.reload_success,
            "lastConfigTime": go_time(int(self.last_config_time)),
            "corruptionCount": 0,
            "goroutineCount": len(asyncio.all_tasks()),
            "GOMAXPROCS": os.cpu_count() or 1,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": retention,
        }
