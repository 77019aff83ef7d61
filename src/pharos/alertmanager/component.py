"""The alertmanager as a server Component: API v2 routes, state in `<data-dir>/alertmanager`,
config from `--alertmanager-config` or pharos.yml's `alertmanager:` section, live reloads."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pharos import __version__
from pharos.alertmanager.api import router
from pharos.alertmanager.config import resolve
from pharos.alertmanager.core import Alertmanager

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pharos.config.loader import LoadedConfig
    from pharos.server.runtime import Runtime

log = logging.getLogger("pharos.alertmanager")


class AlertmanagerComponent:
    """Owns the Alertmanager of a running server."""

    name = "alertmanager"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.am: Alertmanager | None = None

    def register(self, app: FastAPI) -> None:
        """Mount /api/v2/* (503 until started)."""
        app.include_router(router(lambda: self.am, __version__))

    async def start(self, runtime: Runtime) -> None:
        """Load the config and state, start dispatching."""
        config = resolve(runtime.loaded, runtime.opts.alertmanager_config)
        state_dir = runtime.opts.data_dir / "alertmanager"
        state_dir.mkdir(parents=True, exist_ok=True)
        am = Alertmanager(config, state_dir, external_url=runtime.opts.url)
        am.start()
        self.am = am
        log.info("alertmanager: %d receivers, %d alerts restored", len(config.receivers), len(am.store))

    async def apply_config(self, loaded: LoadedConfig) -> None:
        """Follow a reload (a broken config raises ConfigError and the old one stays)."""
        config = resolve(loaded, self.runtime.opts.alertmanager_config)
        if self.am is not None:
            await self.am.apply_config(config)

    async def maintain(self) -> None:
        """Garbage-collect and save state."""
        if self.am is not None:
            self.am.maintain()

    async def stop(self) -> None:
        """Stop dispatching and save the alerts."""
        if self.am is not None:
            await self.am.stop()
