"""Pod metadata through list + watch, tested against a fake of the Kubernetes API's wire protocol
(written here, stated as such): ``GET /api/v1/pods?fieldSelector=spec.nodeName=X`` returns a PodList
with ``metadata.resourceVersion``; ``watch=1&resourceVersion=N&allowWatchBookmarks=true`` streams one
JSON watch event per line (ADDED/MODIFIED/DELETED/BOOKMARK), answers ``410 Gone`` for a compacted
version (HTTP status before the stream starts, or an ERROR event with a Status of code 410 inside it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from aiohttp import web
from fakeloki import FakeLoki, free_port
from helpers import append_lines, options, started, wait_for

from pharos.agent.kube import PodCache, watch_node_pods
from pharos.agent.labels import LabelPolicy, parse_kubelet_path
from pharos.kube.watch import KubeConfig


def pod(
    name: str, rv: int, labels: dict | None = None, annotations: dict | None = None, node: str = "n1"
) -> dict:
    return {
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": f"uid-{name}",
            "resourceVersion": str(rv),
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "spec": {"nodeName": node},
    }


class FakeApi:
    """Pods in memory; a history of events by resourceVersion; compaction below ``oldest``."""

    def __init__(self) -> None:
        self.rv = 10
        self.pods: dict[str, dict] = {}
        self.history: list[tuple[int, str, dict]] = []
        self.oldest = 0
        self.lists: list[str] = []
        self.watches: list[dict] = []
        self.waiters: list[asyncio.Queue] = []
        self.gone_in_stream = False
        self.fail_next = 0

    def change(self, kind: str, obj: dict) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        if kind == "DELETED":
            self.pods.pop(obj["metadata"]["name"], None)
        else:
            self.pods[obj["metadata"]["name"]] = obj
        self.history.append((self.rv, kind, obj))
        for q in self.waiters:
            q.put_nowait((kind, obj))

    def bookmark(self) -> None:
        self.rv += 1
        for q in self.waiters:
            q.put_nowait(("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": str(self.rv)}}))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        assert q["fieldSelector"] == "spec.nodeName=n1"
        assert request.headers.get("Authorization") == "Bearer secret-token"
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=500)
        if q.get("watch") != "1":
            self.lists.append(str(self.rv))
            items = [p for p in self.pods.values() if p["spec"]["nodeName"] == "n1"]
            return web.json_response(
                {"kind": "PodList", "metadata": {"resourceVersion": str(self.rv)}, "items": items}
            )
        self.watches.append(dict(q))
        since = int(q["resourceVersion"])
        if since < self.oldest:
            return web.json_response({"kind": "Status", "code": 410, "reason": "Expired"}, status=410)
        resp = web.StreamResponse()
        await resp.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        for rv, kind, obj in self.history:
            if rv > since:
                queue.put_nowait((kind, obj))
        self.waiters.append(queue)
        try:
            while True:
                kind, obj = await queue.get()
                if kind == "END":
                    break
                if kind == "GONE":
                    await resp.write(
                        orjson.dumps({"type": "ERROR", "object": {"kind": "Status", "code": 410}}) + b"\n"
                    )
                    break
                if obj["spec"]["nodeName"] if "spec" in obj else True:
                    await resp.write(orjson.dumps({"type": kind, "object": obj}) + b"\n")
        finally:
            self.waiters.remove(queue)
        return resp

    def end_streams(self) -> None:
        for q in self.waiters:
            q.put_nowait(("END", {}))

    def expire_streams(self) -> None:
        for q in self.waiters:
            q.put_nowait(("GONE", {}))


@pytest.fixture
async def api(tmp_path: Path):
    fake = FakeApi()
    app = web.Application()
    app.router.add_get("/api/v1/pods", fake.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.2)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    token = tmp_path / "token"
    token.write_text("secret-token\n")
    fake.config = KubeConfig(f"http://127.0.0.1:{port}", token_file=token)  # type: ignore[attr-defined]
    yield fake
    fake.expire_streams()
    await runner.cleanup()


async def test_list_watch_bookmarks_and_410(api: FakeApi) -> None:
    api.pods["a"] = pod("a", 5, {"app": "web"})
    cache = PodCache()
    lw = watch_node_pods(api.config, "n1", cache, min_backoff=0.01, max_backoff=0.05)
    task = asyncio.create_task(lw.run())
    try:
        await wait_for(lambda: cache.get("shop", "a") is not None, what="list")
        assert api.lists == ["10"]
        await wait_for(lambda: api.watches, what="watch")
        w = api.watches[0]
        assert w["resourceVersion"] == "10" and w["allowWatchBookmarks"] == "true"
        api.change("MODIFIED", pod("a", 0, {"app": "web", "tier": "front"}))
        api.change("ADDED", pod("b", 0))
        await wait_for(lambda: cache.get("shop", "a").labels.get("tier") == "front", what="modified")
        api.bookmark()
        await wait_for(lambda: lw.resource_version == str(api.rv), what="bookmark")
        # the stream ends with 410 Gone inside it; the client lists again
        api.change("DELETED", pod("b", 0))
        await wait_for(lambda: cache.get("shop", "b") is None, what="deleted")
        api.rv += 1  # compaction: versions before the current one are gone
        api.oldest = api.rv
        api.expire_streams()
        await wait_for(lambda: len(api.lists) == 2, what="re-list after 410")
        await wait_for(lambda: len(api.watches) >= 2, what="watch after re-list")
        assert api.watches[-1]["resourceVersion"] == str(api.rv)
        # a watch that ends (timeoutSeconds) resumes from the last version; if that is compacted the
        # API answers HTTP 410 and the client lists again
        api.rv += 1
        api.oldest = api.rv
        api.end_streams()
        await wait_for(lambda: len(api.lists) == 3, what="re-list after HTTP 410")
        assert api.watches[2]["resourceVersion"] == str(api.rv - 1)
        # HTTP 500s: backoff and retry, then catch up from the last resourceVersion
        api.fail_next = 2
        api.expire_streams()
        api.change("ADDED", pod("c", 0, annotations={"pharos.io/exclude": "true"}))
        await wait_for(lambda: cache.get("shop", "c") is not None, what="after errors")
        assert lw.errors >= 1
    finally:
        task.cancel()


async def test_agent_labels_from_pods_and_exclusion(tmp_path: Path, api: FakeApi, loki: FakeLoki) -> None:
    cid = "ab" * 32
    api.pods["web-1"] = pod("web-1", 5, {"app.kubernetes.io/name": "web", "pod-template-hash": "x1"})
    api.pods["noisy"] = pod("noisy", 6, annotations={"pharos.io/exclude": "true"})
    logs = tmp_path / "logs"
    logs.mkdir()
    opts = options(
        tmp_path,
        loki.url,
        kubernetes=True,
        kube_api_url=api.config.api_url,
        kube_token_file=api.config.token_file,
        node_name="n1",
        exclude_namespaces=["kube-*"],
    )
    agent = await started(opts)
    await wait_for(lambda: agent.watch is not None and agent.watch.synced.is_set(), what="synced")
    append_lines(logs / f"web-1_shop_nginx-{cid}.log", "w", 0, 3)
    append_lines(logs / f"noisy_shop_app-{cid}.log", "n", 0, 3)
    append_lines(logs / f"dns_kube-system_coredns-{cid}.log", "k", 0, 3)
    await wait_for(lambda: len(loki.entries) >= 3, what="web lines")
    api.change("MODIFIED", pod("web-1", 0, {"app.kubernetes.io/name": "web", "version": "v2"}))
    await wait_for(lambda: agent.cache.get("shop", "web-1").labels.get("version") == "v2", what="update")
    append_lines(logs / f"web-1_shop_nginx-{cid}.log", "w", 3, 1)
    await wait_for(lambda: len(loki.entries) >= 4, what="after label change")
    await asyncio.sleep(0.3)
    await agent.stop()
    assert [line for _, _, line in loki.entries] == ["w-0", "w-1", "w-2", "w-3"]
    first, last = loki.entries[0][0], loki.entries[-1][0]
    assert 'app_kubernetes_io_name="web"' in first and "pod_template_hash" not in first
    assert 'namespace="shop"' in first and 'pod="web-1"' in first and 'container="nginx"' in first
    assert 'node="n1"' in first and 'version="v2"' in last


def test_file_name_labels_without_api() -> None:
    ident = parse_kubelet_path("/var/log/containers/web-7d4b9-x2_shop_nginx-" + "0f" * 32 + ".log")
    assert ident is not None and (ident.namespace, ident.pod, ident.container) == (
        "shop",
        "web-7d4b9-x2",
        "nginx",
    )
    ident = parse_kubelet_path("/var/log/pods/shop_web-1_0b8f3d5e-1c2a-4b7e-9a1d-2f3e4d5c6b7a/nginx/0.log")
    assert ident is not None and (ident.namespace, ident.pod, ident.container) == ("shop", "web-1", "nginx")
    assert parse_kubelet_path("/var/log/syslog") is None
    policy = LabelPolicy(node="n1", exclude_pods=["shop/debug-*"])
    assert policy.labels("/var/log/containers/debug-1_shop_c-" + "0f" * 32 + ".log", "stdout") is None
    got = policy.labels("/var/log/containers/web-1_shop_c-" + "0f" * 32 + ".log", "stderr")
    assert got is not None and 'stream="stderr"' in got and 'pod="web-1"' in got
