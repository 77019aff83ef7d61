"""Discovery through the scrape side and the failure paths, against the FAKE API server
(fakekube.py): targets follow objects, 410 Gone re-lists, an unauthorised or unreachable API
is reported (errors(), a log line) and retried with backoff, and the fake itself answers the
official ``kubernetes`` Python client as the real API server would."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kubernetes
import pytest
from fakekube import FakeKube, free_port
from test_sd_conformance import until

from pharos.config.model import KubernetesSDConfig, ScrapeConfig
from pharos.kube.sd import KubernetesDiscovery
from pharos.kube.watch import KubeConfig
from pharos.metrics.scrape.discovery import TargetGroup
from pharos.metrics.scrape.discovery_adapter import DiscoveryRunner


def pod(name: str, ip: str = "10.0.0.1", ns: str = "shop", annotations: dict | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "annotations": annotations or {}},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "app:1",
                                                        "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "podIP": ip}}


class StubPool:
    """What DiscoveryRunner needs of a scrape pool."""

    name = "k8s"

    def __init__(self) -> None:
        self.groups: dict[str, list[dict[str, str]]] = {}

    async def set_groups(self, groups: dict[str, list[dict[str, str]]]) -> None:
        for source, sets in groups.items():
            if sets:
                self.groups[source] = [dict(s) for s in sets]
            else:
                self.groups.pop(source, None)

    def addresses(self) -> set[str]:
        return {s["__address__"] for sets in self.groups.values() for s in sets}


async def test_targets_follow_pods_through_the_runner(kube: FakeKube) -> None:
    kube.add(pod("a", "10.0.0.1"))
    config = ScrapeConfig(job_name="k8s", kubernetes_sd_configs=[{"role": "pod", "api_server": kube.url}])
    pool = StubPool()
    runner = DiscoveryRunner(config, pool)  # type: ignore[arg-type]
    await runner.start()
    try:
        await until(lambda: pool.addresses() == {"10.0.0.1:8080"}, "first pod")
        assert list(pool.groups) == ["kubernetes/0/pod/shop/a"]
        kube.add(pod("b", "10.0.0.2"))
        await until(lambda: pool.addresses() == {"10.0.0.1:8080", "10.0.0.2:8080"}, "added pod")
        kube.apply("DELETED", pod("a", "10.0.0.1"))
        await until(lambda: pool.addresses() == {"10.0.0.2:8080"}, "deleted pod")
        assert runner.errors() == []
    finally:
        await runner.stop()


async def collect(disc: KubernetesDiscovery) -> tuple[dict[str, TargetGroup], asyncio.Task[None]]:
    latest: dict[str, TargetGroup] = {}

    async def on_update(groups: list[TargetGroup]) -> None:
        latest.update({g.source: g for g in groups})

    return latest, asyncio.create_task(disc.run(on_update))


async def test_gone_relists_and_keeps_the_view(kube: FakeKube) -> None:
    kube.add(pod("a"))
    disc = KubernetesDiscovery(KubernetesSDConfig(role="pod"), kube=KubeConfig(kube.url), min_backoff=0.01)
    latest, task = await collect(disc)
    try:
        await until(lambda: "pod/shop/a" in latest, "initial list")
        watch = disc.informers["pods"].watches[0]
        kube.drop_watches()  # the stream ends; meanwhile a pod goes and another comes, then compaction
        kube.apply("DELETED", pod("a"))
        kube.add(pod("c", "10.0.0.3"))
        kube.compact()
        await until(lambda: watch.lists >= 2 and latest["pod/shop/a"].targets == [], "re-list after 410")
        assert latest["pod/shop/c"].targets[0]["__address__"] == "10.0.0.3:8080"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_unauthorised_is_reported_and_retried(kube: FakeKube, caplog: pytest.LogCaptureFixture) -> None:
    kube.add(pod("a"))
    kube.token = "right"
    wrong = KubeConfig(kube.url, token="wrong")
    disc = KubernetesDiscovery(KubernetesSDConfig(role="pod"), kube=wrong, min_backoff=0.01, max_backoff=0.05)
    caplog.set_level(logging.WARNING, logger="pharos.kube.watch")
    latest, task = await collect(disc)
    try:
        await until(lambda: disc.errors() and disc.informers["pods"].watches[0].errors >= 3, "retries")
        assert "HTTP 401 (unauthorised)" in disc.errors()[0]
        assert any("401" in r.getMessage() and "retrying" in r.getMessage() for r in caplog.records)
        assert latest == {}
        wrong.token = "right"  # credentials fixed (a rotated token): discovery recovers
        await until(lambda: "pod/shop/a" in latest and not disc.errors(), "recovery")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_unreachable_api_is_reported() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    disc = KubernetesDiscovery(KubernetesSDConfig(role="node", api_server=url), min_backoff=0.01, max_backoff=0.05)
    latest, task = await collect(disc)
    try:
        await until(lambda: bool(disc.errors()), "connection error")
        assert url in disc.errors()[0]
        assert not disc.synced.is_set() and latest == {}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_no_cluster_and_no_api_server_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    disc = KubernetesDiscovery(KubernetesSDConfig(role="pod"))
    assert "not running in a cluster" in disc.errors()[0]


# -- the fake speaks the real protocol: the official client ------------------------------------


def official_client(url: str) -> kubernetes.client.CoreV1Api:
    cfg = kubernetes.client.Configuration()
    cfg.host = url
    cfg.client_side_validation = False
    return kubernetes.client.CoreV1Api(kubernetes.client.ApiClient(cfg))


def _official_list_and_watch(url: str, rv_holder: dict[str, Any]) -> dict[str, Any]:
    api = official_client(url)
    pods = api.list_namespaced_pod("shop", limit=1)
    out: dict[str, Any] = {"first_page": [p.metadata.name for p in pods.items], "continue": pods.metadata._continue}
    rest = api.list_namespaced_pod("shop", limit=1, _continue=pods.metadata._continue)
    out["second_page"] = [p.metadata.name for p in rest.items]
    out["rv"] = rest.metadata.resource_version
    rv_holder["rv"] = out["rv"]
    nodes = api.list_node(label_selector="role=worker")
    out["nodes"] = [n.metadata.name for n in nodes.items]
    w = kubernetes.watch.Watch()
    events = []
    for ev in w.stream(api.list_namespaced_pod, "shop", resource_version=out["rv"],
                       allow_watch_bookmarks=True, timeout_seconds=2):
        events.append((ev["type"], ev["object"].metadata.name if ev["type"] != "BOOKMARK" else None))
        if len(events) == 2:
            w.stop()
    out["events"] = events
    try:
        list(kubernetes.watch.Watch().stream(api.list_namespaced_pod, "shop", resource_version="1",
                                             timeout_seconds=2))
        out["gone"] = None
    except kubernetes.client.ApiException as exc:
        out["gone"] = exc.status
    return out


async def test_official_client_against_the_fake(kube: FakeKube) -> None:
    kube.add(pod("a"))
    kube.add(pod("b", "10.0.0.2"))
    kube.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "w1", "labels": {"role": "worker"}},
              "spec": {}, "status": {}})
    kube.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "m1", "labels": {"role": "master"}},
              "spec": {}, "status": {}})
    kube.compact()
    holder: dict[str, Any] = {}
    fut = asyncio.create_task(asyncio.to_thread(_official_list_and_watch, kube.url, holder))
    await until(lambda: "rv" in holder and kube.watchers, "official client watching")
    kube.add(pod("c", "10.0.0.3"))
    kube.bookmark()
    out = await fut
    assert out["first_page"] == ["a"] and out["continue"] and out["second_page"] == ["b"]
    assert out["nodes"] == ["w1"]
    assert out["events"] == [("ADDED", "c"), ("BOOKMARK", None)]
    assert out["gone"] == 410


async def test_one_watch_shared_by_discoveries_and_cluster_state(kube: FakeKube) -> None:
    from pharos.kube.state import ClusterState
    from pharos.kube.store import SHARED

    kube.add(pod("a"))
    config = KubeConfig(kube.url)
    first = KubernetesDiscovery(KubernetesSDConfig(role="pod"), kube=config)
    latest1, task1 = await collect(first)
    await until(lambda: "pod/shop/a" in latest1, "first discovery")
    state = ClusterState(config)
    state.start()
    second = KubernetesDiscovery(KubernetesSDConfig(role="pod"), kube=config)
    latest2, task2 = await collect(second)
    try:
        await until(lambda: "pod/shop/a" in latest2, "second discovery (replayed from the shared store)")
        assert first.informers["pods"] is second.informers["pods"] is state.informers["pods"]
        assert sum(1 for r in kube.requests if r.startswith("/api/v1/pods?") and "watch=1" not in r) == 1
        kube.add(pod("b", "10.0.0.2"))
        await until(lambda: "pod/shop/b" in latest1 and "pod/shop/b" in latest2, "both see a new pod")
    finally:
        for task in (task1, task2):
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await state.stop()
    assert SHARED._informers == {}
