"""Push-based metric ingestion as a server component: the Pushgateway API, the remote-write
receiver and remote read, the OTLP receiver, /federate, and the remote-write sender."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pharos.metrics import federate, otlp, pushgateway, remote

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pharos.config.loader import LoadedConfig
    from pharos.server.runtime import Runtime


class PushIngestComponent:
    """Routes for pushed and federated metrics plus the remote-write queues."""

    name = "push"

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._pushgateway: pushgateway.PushgatewayService | None = None
        self._remote_write = remote.RemoteWriteManager(runtime)
        self._started = False

    def register(self, app: FastAPI) -> None:
        """/metrics/job/..., /api/v1/write, /api/v1/read, /api/v1/otlp/v1/metrics, /federate."""
        self._pushgateway = pushgateway.register(app, self._runtime)
        remote.register(app, self._runtime)
        otlp.register(app, self._runtime)
        federate.register(app, self._runtime)

    async def start(self, runtime: Runtime) -> None:
        """Start ingesting pushed groups and sending to the `remote_write` endpoints."""
        assert self._pushgateway is not None, "register() runs before start()"
        await self._pushgateway.start()
        await self._remote_write.start()
        self._started = True

    async def apply_config(self, loaded: LoadedConfig) -> None:
        """Restart the remote-write queues on the new `remote_write` list (the runtime already
        holds the new config; the Pushgateway reads its interval and TTL from it each round)."""
        if self._started:
            await self._remote_write.reload()

    async def maintain(self) -> None:
        """The services run their own loops."""

    async def stop(self) -> None:
        """Flush the remote-write queues, then save the pushed groups."""
        if self._started:
            self._started = False
            await self._remote_write.stop()
            assert self._pushgateway is not None
            await self._pushgateway.stop()

    def metrics_text(self) -> str:
        """The remote-write queues' metrics (prometheus_remote_storage_* names) for /metrics."""
        return self._remote_write.render_metrics()
