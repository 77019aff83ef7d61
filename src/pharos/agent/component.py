"""The agent embedded in `pharos up`: host metrics always, the `--logs` files when given.

Its node metrics are served on the server's own port at `/agent/metrics` (which `pharos up`'s
built-in config scrapes as job `node`), and its log lines are pushed to the server's own Loki
push endpoint in-process (`pharos.server.loopback`: no socket, so the server's authentication
and TLS do not apply to it), so one process covers the machine.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from starlette.responses import PlainTextResponse, Response

from pharos.agent.runner import Agent, AgentOptions
from pharos.server.options import AGENT_METRICS_PATH

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pharos.config.loader import LoadedConfig
    from pharos.server.runtime import Runtime

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def embedded_options(runtime: Runtime) -> AgentOptions:
    """Agent options for `pharos up`: no listener of its own, positions in the data dir."""
    opts = runtime.opts
    options = AgentOptions.from_config(
        opts.config_file,
        logs=opts.agent_logs,
        push_url=f"{opts.url}/loki/api/v1/push",
        positions=opts.data_dir / "agent" / "positions.db",
        logs_enabled=bool(opts.agent_logs),
    )
    return dataclasses.replace(options, listen=None)  # from_config reads None as "not given"


class EmbeddedAgentComponent:
    """Runs an Agent inside the server process (the `up` role)."""

    name = "agent"

    def __init__(self, runtime: Runtime) -> None:
        self.agent = Agent(embedded_options(runtime))
        self._started = False

    def register(self, app: FastAPI) -> None:
        """Serve the agent's node, container and pharos_agent_* metrics."""

        @app.get(AGENT_METRICS_PATH, include_in_schema=False)
        async def agent_metrics() -> Response:
            return PlainTextResponse(self.agent.metrics_text(), media_type=METRICS_CONTENT_TYPE)

    async def start(self, runtime: Runtime) -> None:
        """Start tailing and shipping once the log store accepts pushes."""
        loopback = getattr(runtime, "loopback", None)  # None: a runtime without an app (tests)
        if loopback is not None:
            self.agent.connect = loopback.client
        await self.agent.start()
        self._started = True

    async def apply_config(self, loaded: LoadedConfig) -> None:
        """The agent's options are read at start; a reload does not change them."""

    async def maintain(self) -> None:
        """The agent runs its own loops; nothing periodic here."""

    async def stop(self) -> None:
        """Stop the agent (positions saved)."""
        if self._started:
            self._started = False
            await self.agent.stop()
