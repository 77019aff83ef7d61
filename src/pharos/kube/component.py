"""The server's Kubernetes component: in-cluster defaults, cluster-state metrics, events.

Inside a cluster (``KUBERNETES_SERVICE_HOST`` set, service-account credentials mounted) it
* adds the default scrape jobs (:mod:`pharos.kube.defaults`) when the config has none (those
  scraping the server itself with its own credentials, see :func:`self_client`),
* serves kube-state-metrics' families at ``/kube/metrics`` (scraped by the defaults),
* collects Kubernetes events into the log store through the server's own Loki push API,
  in-process (``pharos.server.loopback``), whatever auth and TLS the server has.
Outside a cluster it does nothing and ``/kube/metrics`` answers 404.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import Response

from pharos.agent.http import PushClient
from pharos.kube.defaults import STATE_PATH, in_cluster_scrape_configs
from pharos.kube.events import EventCollector
from pharos.kube.state import ClusterState
from pharos.kube.watch import KubeConfig
from pharos.metrics.exposition.writer import Exposition

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pharos.config.loader import LoadedConfig
    from pharos.config.model import ServerConfig
    from pharos.server.runtime import Runtime

log = logging.getLogger(__name__)
TEXT = "text/plain; version=0.0.4; charset=utf-8"


def self_client(server: ServerConfig) -> dict[str, Any]:
    """Scrape-config keys for the jobs scraping this server: its own credentials (basic auth
    first) and, with TLS, https without verifying the certificate — the target is this process,
    at the address it listens on. (With `client_ca_file` these scrapes fail: there is no client
    certificate to present.)"""
    keys: dict[str, Any] = {}
    if server.basic_auth is not None:
        keys["basic_auth"] = server.basic_auth.model_dump(exclude_none=True)
    elif server.bearer_token_file:
        keys["authorization"] = {"type": "Bearer", "credentials_file": server.bearer_token_file}
    elif server.bearer_token:
        keys["authorization"] = {"type": "Bearer", "credentials": server.bearer_token}
    if server.tls_server_config is not None:
        keys |= {"scheme": "https", "tls_config": {"insecure_skip_verify": True}}
    return keys


class KubernetesComponent:
    """Cluster-state metrics, events and in-cluster scrape defaults."""

    name = "kubernetes"

    def __init__(self, runtime: Runtime, kube: KubeConfig | None = None) -> None:
        self.runtime = runtime
        self.kube = kube if kube is not None else KubeConfig.in_cluster()
        self.state: ClusterState | None = None
        self.events: EventCollector | None = None
        self.defaults_applied = False
        if self.kube is not None:
            self._add_defaults(runtime.loaded)  # before the scrape manager first applies the config

    def _self_target(self) -> str:
        return self.runtime.opts.url.split("://", 1)[1]

    def _add_defaults(self, loaded: LoadedConfig) -> bool:
        """In-cluster default jobs when the config has no scrape configs."""
        config = loaded.config
        if config.scrape_configs:
            return False
        config.scrape_configs = in_cluster_scrape_configs(self._self_target(), self_client(config.server))
        if not self.defaults_applied:
            log.info("in a cluster with no scrape configs: scraping annotated pods, the agents, pharos "
                     "and its cluster-state metrics")
        self.defaults_applied = True
        return True

    def register(self, app: FastAPI) -> None:
        @app.get(STATE_PATH, include_in_schema=False)
        async def kube_state_metrics() -> Response:
            if self.kube is None:
                return Response("not running in a Kubernetes cluster\n", status_code=404, media_type="text/plain")
            if self.state is None:
                return Response("starting\n", status_code=503, media_type="text/plain")
            return Response(self.state.render(), media_type=TEXT)

    async def start(self, runtime: Runtime) -> None:
        if self.kube is None:
            return
        self.state = ClusterState(self.kube)
        self.state.start()
        loopback = getattr(runtime, "loopback", None)  # None: a runtime without an app (tests)
        self.events = EventCollector(self.kube, f"{runtime.opts.url}/loki/api/v1/push",
                                     connect=loopback.client if loopback else PushClient)
        self.events.start()

    async def apply_config(self, loaded: LoadedConfig) -> None:
        """A reloaded config without scrape configs gets the defaults again."""
        if self.kube is not None and self._add_defaults(loaded) and self.runtime.scrape is not None:
            await self.runtime.scrape.apply_config(loaded.config)

    async def maintain(self) -> None:
        for error in self.errors():
            log.warning("kubernetes: %s", error)

    async def stop(self) -> None:
        if self.events is not None:
            await self.events.stop()
        if self.state is not None:
            await self.state.stop()

    def errors(self) -> list[str]:
        """Current API errors of the state and event watches."""
        return [*(self.state.errors() if self.state else []), *(self.events.errors() if self.events else [])]

    def metrics_text(self) -> str:
        """pharos' own /metrics: whether the Kubernetes watches work."""
        if self.kube is None:
            return ""
        exp = Exposition()
        exp.add("pharos_kubernetes_watch_errors", "gauge", "Kubernetes API watches currently failing.", len(self.errors()))
        pushed = self.events.pushed if self.events else 0
        exp.add("pharos_kubernetes_events_pushed_total", "counter", "Kubernetes events written to the log store.", pushed)
        return exp.render()
