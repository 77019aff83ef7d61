"""Kubernetes SD conformance: every case of ../shared/conformance/kubernetes_sd/cases.json
(Prometheus's own discovery tests), served by the FAKE API server in fakekube.py over real
HTTP on 127.0.0.1, discovered by pharos through list + watch, compared exactly (sources,
group labels, targets as a multiset), also after each case's watch events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import pytest
from fakekube import FakeKube

from pharos.config.model import KubernetesSDConfig
from pharos.kube.sd import KubernetesDiscovery
from pharos.kube.watch import KubeConfig
from pharos.metrics.scrape.discovery import TargetGroup
from shared_data import CONFORMANCE

CASES: list[dict[str, Any]] = json.loads((CONFORMANCE / "kubernetes_sd" / "cases.json").read_text())


async def until(cond: Any, what: str, deadline: float = 15.0) -> None:
    """Wait for ``cond()`` (a liveness bound, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.01)


def caught_up(disc: KubernetesDiscovery, rv: int) -> bool:
    """Every stream has seen ``rv`` and nothing is left to build."""
    streams = [w for inf in disc.informers.values() for w in inf.watches]
    return all(w.resource_version == str(rv) for w in streams) and not disc.pending()


async def discover(fake: FakeKube, case: dict[str, Any]) -> dict[str, TargetGroup]:
    """Run discovery over the case's objects and events; the latest group per source."""
    for obj in case["objects"]:
        fake.add(obj)
    latest: dict[str, TargetGroup] = {}

    async def on_update(groups: list[TargetGroup]) -> None:
        latest.update({g.source: g for g in groups})

    sd = KubernetesSDConfig(role=case["role"], **case["config"])
    disc = KubernetesDiscovery(sd, kube=KubeConfig(fake.url), own_ns=case.get("own_namespace_name"),
                               min_backoff=0.01)
    task = asyncio.create_task(disc.run(on_update))
    try:
        rv = fake.bookmark()
        await until(lambda: caught_up(disc, rv), "initial sync")
        for event in case.get("events") or []:
            fake.apply(event["type"], event["object"])
            step = fake.bookmark()
            await until(lambda step=step: caught_up(disc, step), f"event {event['type']}")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return latest


def canonical(targets: list[dict[str, str]]) -> list[bytes]:
    return sorted(orjson.dumps(t, option=orjson.OPT_SORT_KEYS) for t in targets)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
async def test_case(kube: FakeKube, case: dict[str, Any]) -> None:
    got = await discover(kube, case)
    expected = case["expected"]
    assert sorted(got) == sorted(expected), "sources differ"
    for source, want in expected.items():
        group = got[source]
        assert group.labels == want["labels"], source
        assert canonical(group.targets) == canonical(want["targets"]), source
