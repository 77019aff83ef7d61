"""The server's Kubernetes component against the FAKE API server (fakekube.py): in-cluster
default jobs (annotated pods with port/path/scheme, the agents, itself, cluster state),
/kube/metrics over HTTP, and events pushed to a Loki push endpoint (a fake recording pushes)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
from aiohttp import web
from fakekube import FakeKube, free_port
from fastapi import FastAPI
from test_sd_conformance import until

from pharos.config.loader import LoadedConfig
from pharos.config.model import PharosConfig
from pharos.kube.component import KubernetesComponent
from pharos.kube.defaults import in_cluster_scrape_configs
from pharos.kube.events import EventCollector, event_entry
from pharos.kube.sd import KubernetesDiscovery
from pharos.kube.watch import KubeConfig
from pharos.metrics.scrape.discovery import TargetGroup
from pharos.metrics.scrape.settings import ScrapeSettings
from pharos.metrics.scrape.target import build_target


def pod(name: str, ip: str, annotations: dict[str, str], labels: dict[str, str] | None = None,
        ports: tuple[int, ...] = (8080,), phase: str = "Running") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "shop", "uid": name, "annotations": annotations,
                         "labels": labels or {}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i",
                                                        "ports": [{"containerPort": p} for p in ports]}]},
            "status": {"phase": phase, "podIP": ip}}


async def scrape_urls(kube: FakeKube, job: str) -> set[str]:
    """Discover with a default job's SD config and relabel as its pool would: the scrape URLs."""
    sc = next(c for c in in_cluster_scrape_configs("127.0.0.1:9494") if c.job_name == job)
    disc = KubernetesDiscovery(sc.kubernetes_sd_configs[0], kube=KubeConfig(kube.url), min_backoff=0.01)
    groups: dict[str, TargetGroup] = {}

    async def on_update(batch: list[TargetGroup]) -> None:
        groups.update({g.source: g for g in batch})

    task = asyncio.create_task(disc.run(on_update))
    try:
        await until(lambda: disc.synced.is_set() and not disc.pending(), "sync")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    settings = ScrapeSettings.from_config(sc, PharosConfig().global_)
    urls = set()
    for g in groups.values():
        for ls in g.label_sets():
            target, _ = build_target(ls, settings)
            if target is not None:
                labels = dict(target.labels)
                urls.add(f"{target.url} {labels.get('namespace', '')}/{labels.get('pod', '')}")
    return urls


async def test_default_jobs_scrape_annotated_pods_and_agents(kube: FakeKube) -> None:
    kube.add(pod("plain", "10.0.0.1", {}))
    kube.add(pod("annotated", "10.0.0.2", {"prometheus.io/scrape": "true"}))
    kube.add(pod("custom", "10.0.0.3", {"prometheus.io/scrape": "true", "prometheus.io/port": "9102",
                                        "prometheus.io/path": "/stats", "prometheus.io/scheme": "https"},
                 ports=(8080, 8443)))
    kube.add(pod("off", "10.0.0.4", {"prometheus.io/scrape": "false"}))
    kube.add(pod("done", "10.0.0.5", {"prometheus.io/scrape": "true"}, phase="Succeeded"))
    kube.add(pod("agent-x", "10.0.0.9", {}, labels={"app.kubernetes.io/name": "pharos-agent"}, ports=()))
    assert await scrape_urls(kube, "kubernetes-pods") == {
        "http://10.0.0.2:8080/metrics shop/annotated",
        "https://10.0.0.3:9102/stats shop/custom",
    }
    assert await scrape_urls(kube, "node") == {"http://10.0.0.9:9495/metrics shop/agent-x"}
    jobs = {c.job_name: c for c in in_cluster_scrape_configs("127.0.0.1:9494")}
    assert jobs["kube-state-metrics"].metrics_path == "/kube/metrics"
    assert jobs["pharos"].static_configs[0].targets == ["127.0.0.1:9494"]


class FakeLoki:
    """Records Loki JSON pushes (a fake, not Loki)."""

    def __init__(self) -> None:
        self.streams: list[dict[str, Any]] = []
        self.fail = False

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail:
            return web.Response(status=503)
        self.streams.extend(orjson.loads(await request.read())["streams"])
        return web.Response(status=204)


def event(name: str, reason: str, count: int, kind: str = "Pod", ns: str = "shop") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}"},
            "involvedObject": {"kind": kind, "name": "web-1", "namespace": ns},
            "reason": reason, "message": f"{reason} happened", "type": "Warning", "count": count,
            "source": {"component": "kubelet", "host": "n1"}, "lastTimestamp": "2024-05-01T10:00:00Z"}


async def test_events_become_log_streams(kube: FakeKube) -> None:
    loki = FakeLoki()
    app = web.Application()
    app.router.add_post("/loki/api/v1/push", loki.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    kube.add(event("e1", "BackOff", 1))
    collector = EventCollector(KubeConfig(kube.url), f"http://127.0.0.1:{port}/loki/api/v1/push",
                               flush_interval=0.05, min_backoff=0.01)
    loki.fail = True  # the first pushes fail: entries are kept and retried
    collector.start()
    try:
        await until(lambda: collector.push_errors >= 1, "a failed push")
        loki.fail = False
        await until(lambda: collector.pushed == 1, "first event")
        kube.apply("MODIFIED", event("e1", "BackOff", 2))  # repeated: a new line
        kube.apply("MODIFIED", {**event("e1", "BackOff", 2), "message": "same count"})  # not repeated
        kube.add(event("e2", "Scheduled", 1, kind="Deployment", ns="ops"))
        await until(lambda: collector.pushed == 3, "more events")
        got = sorted((tuple(sorted(s["stream"].items())), v[1]) for s in loki.streams for v in s["values"])
        assert got == [
            ((("kind", "Deployment"), ("namespace", "ops"), ("reason", "Scheduled")),
             'type=Warning object=Deployment/web-1 count=1 source=kubelet host=n1 msg="Scheduled happened"'),
            ((("kind", "Pod"), ("namespace", "shop"), ("reason", "BackOff")),
             'type=Warning object=Pod/web-1 count=1 source=kubelet host=n1 msg="BackOff happened"'),
            ((("kind", "Pod"), ("namespace", "shop"), ("reason", "BackOff")),
             'type=Warning object=Pod/web-1 count=2 source=kubelet host=n1 msg="BackOff happened"'),
        ]
        assert {v[0] for s in loki.streams for v in s["values"]} == {"1714557600000000000"}
    finally:
        await collector.stop()
        await runner.cleanup()


def test_event_entry_of_events_k8s_io() -> None:
    ev = {"metadata": {"name": "x", "namespace": "a"}, "regarding": {"kind": "Node", "name": "n1"},
          "reason": "Rebooted", "note": "node rebooted", "type": "Warning", "reportingController": "kubelet",
          "eventTime": "2024-05-01T10:00:00.000001Z"}
    labels, ts, line = event_entry(ev)
    assert labels == {"namespace": "a", "kind": "Node", "reason": "Rebooted"}
    assert ts == 1714557600000001000
    assert line == 'type=Warning object=Node/n1 count=1 source=kubelet msg="node rebooted"'


async def test_component_defaults_and_state_route(kube: FakeKube) -> None:
    kube.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}, "spec": {},
              "status": {"phase": "Active"}})
    loaded = LoadedConfig(PharosConfig())
    runtime = SimpleNamespace(loaded=loaded, opts=SimpleNamespace(url=f"http://127.0.0.1:{free_port()}"), scrape=None)
    comp = KubernetesComponent(runtime, kube=KubeConfig(kube.url))  # type: ignore[arg-type]
    assert [c.job_name for c in loaded.config.scrape_configs] == ["kubernetes-pods", "node", "pharos",
                                                                   "kube-state-metrics"]
    app = FastAPI()
    comp.register(app)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pharos")
    assert (await client.get("/kube/metrics")).status_code == 503
    await comp.start(runtime)  # type: ignore[arg-type]
    try:
        assert comp.state is not None
        await until(lambda: all(i.has_synced() for i in comp.state.informers.values()), "sync")
        resp = await client.get("/kube/metrics")
        assert resp.status_code == 200
        assert 'kube_namespace_status_phase{namespace="shop",phase="Active"} 1' in resp.text
        assert "pharos_kubernetes_watch_errors 0" in comp.metrics_text()
    finally:
        await comp.stop()
    explicit = LoadedConfig(PharosConfig.model_validate({"scrape_configs": [{"job_name": "mine"}]}))
    KubernetesComponent(SimpleNamespace(loaded=explicit, opts=runtime.opts), kube=KubeConfig(kube.url))  # type: ignore[arg-type]
    assert [c.job_name for c in explicit.config.scrape_configs] == ["mine"]


def test_outside_a_cluster_nothing_changes(monkeypatch: Any) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    loaded = LoadedConfig(PharosConfig())
    comp = KubernetesComponent(SimpleNamespace(loaded=loaded, opts=None))  # type: ignore[arg-type]
    assert comp.kube is None and loaded.config.scrape_configs == []
