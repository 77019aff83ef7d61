"""Subsystems the server runs beside the TSDB and scraping: each is a Component.

A component registers its HTTP routes on the one app, starts once the TSDB is open, follows
config reloads, gets a maintenance call every minute and stops before the TSDB closes. Adding a
subsystem to pharos is one line in `build_components`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pharos.config.loader import LoadedConfig
    from pharos.server.runtime import Runtime


class Component(Protocol):
    """What the server asks of a subsystem (log store, pushgateway, rules, ...)."""

    name: str

    def register(self, app: FastAPI) -> None:
        """Add HTTP routes; called once, before the listener serves. Until `start` completes,
        handlers must answer 503 (not ready) rather than fail."""

    async def start(self, runtime: Runtime) -> None:
        """Open storage and start background tasks; `runtime.tsdb` is open by now."""

    async def apply_config(self, loaded: LoadedConfig) -> None:
        """Follow a reloaded config; raise to refuse it (the old config stays in force)."""

    async def maintain(self) -> None:
        """Periodic housekeeping (about once a minute); heavy work goes to a worker thread."""

    async def stop(self) -> None:
        """Stop background tasks and close storage (called before the TSDB closes; also called
        when `start` never ran, so it must cope with that)."""

    # Optional: `def metrics_text(self) -> str` adds exposition text to the server's /metrics.


def build_components(runtime: Runtime) -> list[Component]:
    """The subsystems of this server, in start order (stopped in reverse)."""
    from pharos.agent.component import EmbeddedAgentComponent  # `pharos up`: this machine's agent
    from pharos.alertmanager.component import AlertmanagerComponent
    from pharos.kube.component import KubernetesComponent
    from pharos.logs.component import LogsComponent  # Loki push/query API, log store
    from pharos.metrics.push_component import PushIngestComponent  # pushgateway, remote, OTLP
    from pharos.monitors.component import MonitorsComponent  # Datadog-style monitors
    from pharos.rules.component import RulesComponent
    from pharos.web import WebComponent  # the UI at / and the dashboards API

    return [
        LogsComponent(runtime),
        PushIngestComponent(runtime),
        *([EmbeddedAgentComponent(runtime)] if runtime.opts.mode == "up" else []),
        WebComponent(runtime.opts.data_dir),
        AlertmanagerComponent(runtime),  # Alertmanager API v2, routing, silences, receivers
        RulesComponent(runtime),  # rule groups, notifier, /api/v1/rules and /api/v1/alerts
        MonitorsComponent(runtime),  # monitors: states, /api/pharos/v1/monitors, alerts
        KubernetesComponent(runtime),  # in a cluster: default jobs, /kube/metrics, events -> logs
    ]
