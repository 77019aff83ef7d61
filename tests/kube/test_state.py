"""Cluster-state metrics (kube-state-metrics' names, labels and values) from objects served by
the FAKE API server (fakekube.py), following changes."""

from __future__ import annotations

import re
from typing import Any

from fakekube import FakeKube
from test_sd_conformance import until

from pharos.kube.quantity import parse_quantity
from pharos.kube.state import ClusterState
from pharos.kube.watch import KubeConfig

NODE = {"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "creationTimestamp": "2024-01-02T03:04:05Z"},
        "spec": {"providerID": "kind://n1", "podCIDR": "10.244.0.0/24"},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
                   "nodeInfo": {"kernelVersion": "6.1.0", "osImage": "Debian 12", "containerRuntimeVersion":
                                "containerd://1.7", "kubeletVersion": "v1.30.0", "kubeProxyVersion": "v1.30.0",
                                "systemUUID": "abc"},
                   "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                   "allocatable": {"cpu": "3500m", "memory": "7Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}]}}
POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web-1", "namespace": "shop", "uid": "u1",
                    "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc", "controller": True}]},
       "spec": {"nodeName": "n1", "containers": [
           {"name": "app", "image": "web:1", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"},
                                                            "limits": {"memory": "128Mi"}}},
           {"name": "sidecar", "image": "proxy:2"}]},
       "status": {"phase": "Running", "hostIP": "172.18.0.2", "podIP": "10.244.0.5", "qosClass": "Burstable",
                  "containerStatuses": [
                      {"name": "app", "ready": True, "restartCount": 3, "image": "web:1", "imageID": "sha",
                       "containerID": "containerd://1", "state": {"running": {}}},
                      {"name": "sidecar", "ready": False, "restartCount": 7, "image": "proxy:2", "imageID": "",
                       "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}}
WORKLOADS: list[dict[str, Any]] = [
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop", "generation": 4},
     "spec": {"replicas": 3}, "status": {"replicas": 3, "availableReplicas": 2, "updatedReplicas": 3,
                                         "readyReplicas": 2, "unavailableReplicas": 1, "observedGeneration": 4}},
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "pharos"},
     "spec": {}, "status": {"currentNumberScheduled": 2, "desiredNumberScheduled": 3, "numberReady": 2,
                            "numberAvailable": 2, "numberMisscheduled": 0, "numberUnavailable": 1,
                            "updatedNumberScheduled": 2}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "shop"},
     "spec": {"replicas": 2}, "status": {"replicas": 2, "readyReplicas": 1, "currentReplicas": 2,
                                         "updatedReplicas": 2, "availableReplicas": 1}},
    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "shop"},
     "spec": {"completions": 1, "parallelism": 1},
     "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}, "spec": {}, "status": {"phase": "Active"}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old"}, "spec": {},
     "status": {"phase": "Terminating"}},
    {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-db-0", "namespace": "shop"},
     "spec": {"storageClassName": "standard", "volumeName": "pv-1", "volumeMode": "Filesystem",
              "resources": {"requests": {"storage": "10Gi"}}}, "status": {"phase": "Bound"}},
]

_LINE = re.compile(r'^(\w+)\{(.*)\} (\S+)$')


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = _LINE.match(line)
        assert m, line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples: dict, name: str, **labels: str) -> float | None:
    """The value of the one sample of ``name`` whose labels include ``labels``."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else None


def labels_of(samples: dict, name: str) -> list[dict[str, str]]:
    return [dict(ls) for (n, ls) in samples if n == name]


async def test_cluster_state_metrics(kube: FakeKube) -> None:
    for obj in [NODE, POD, *WORKLOADS]:
        kube.add(obj)
    state = ClusterState(KubeConfig(kube.url), min_backoff=0.01)
    state.start()
    try:
        await until(lambda: all(inf.has_synced() for inf in state.informers.values()), "sync")
        s = parse(state.render())
        assert labels_of(s, "kube_node_info") == [{
            "node": "n1", "kernel_version": "6.1.0", "os_image": "Debian 12",
            "container_runtime_version": "containerd://1.7", "kubelet_version": "v1.30.0",
            "kubeproxy_version": "v1.30.0", "provider_id": "kind://n1", "pod_cidr": "10.244.0.0/24",
            "system_uuid": "abc", "internal_ip": "172.18.0.2"}]
        assert value(s, "kube_node_created", node="n1") == 1704164645
        assert value(s, "kube_node_status_condition", node="n1", condition="Ready", status="true") == 1
        assert value(s, "kube_node_status_condition", node="n1", condition="Ready", status="false") == 0
        assert value(s, "kube_node_status_capacity", node="n1", resource="cpu", unit="core") == 4
        assert value(s, "kube_node_status_capacity", node="n1", resource="memory", unit="byte") == 8 * 2**30
        assert value(s, "kube_node_status_capacity", node="n1", resource="ephemeral_storage", unit="byte") == 100 * 2**30
        assert value(s, "kube_node_status_allocatable", node="n1", resource="cpu", unit="core") == 3.5
        assert value(s, "kube_node_status_allocatable", node="n1", resource="pods", unit="integer") == 110
        pod = {"namespace": "shop", "pod": "web-1", "uid": "u1"}
        assert labels_of(s, "kube_pod_info") == [{**pod, "host_ip": "172.18.0.2", "pod_ip": "10.244.0.5",
                                                  "node": "n1", "created_by_kind": "ReplicaSet",
                                                  "created_by_name": "web-abc", "priority_class": "",
                                                  "host_network": "false"}]
        assert {dict(ls)["phase"]: v for (n, ls), v in s.items() if n == "kube_pod_status_phase"} == {
            "Pending": 0, "Succeeded": 0, "Failed": 0, "Unknown": 0, "Running": 1}
        assert value(s, "kube_pod_status_qos_class", qos_class="Burstable") == 1
        assert value(s, "kube_pod_container_status_restarts_total", container="sidecar") == 7
        assert value(s, "kube_pod_container_status_restarts_total", container="app") == 3
        assert labels_of(s, "kube_pod_container_status_waiting_reason") == [
            {**pod, "container": "sidecar", "reason": "CrashLoopBackOff"}]
        assert value(s, "kube_pod_container_status_running", container="app") == 1
        assert value(s, "kube_pod_container_resource_requests", container="app", node="n1", resource="cpu",
                     unit="core") == 0.25
        assert value(s, "kube_pod_container_resource_requests", resource="memory", unit="byte") == 64 * 2**20
        assert value(s, "kube_pod_container_resource_limits", container="app", resource="memory") == 128 * 2**20
        assert value(s, "kube_deployment_spec_replicas", namespace="shop", deployment="web") == 3
        assert value(s, "kube_deployment_status_replicas_available", deployment="web") == 2
        assert value(s, "kube_deployment_status_replicas_unavailable", deployment="web") == 1
        assert value(s, "kube_deployment_metadata_generation", deployment="web") == 4
        assert value(s, "kube_daemonset_status_desired_number_scheduled", namespace="pharos", daemonset="agent") == 3
        assert value(s, "kube_daemonset_status_number_ready", daemonset="agent") == 2
        assert value(s, "kube_daemonset_status_number_unavailable", daemonset="agent") == 1
        assert value(s, "kube_statefulset_replicas", namespace="shop", statefulset="db") == 2
        assert value(s, "kube_statefulset_status_replicas_ready", statefulset="db") == 1
        assert value(s, "kube_job_status_succeeded", namespace="shop", job_name="migrate") == 1
        assert value(s, "kube_job_status_failed", job_name="migrate") == 0
        assert value(s, "kube_job_complete", job_name="migrate", condition="true") == 1
        assert value(s, "kube_job_spec_completions", job_name="migrate") == 1
        assert value(s, "kube_namespace_status_phase", namespace="old", phase="Terminating") == 1
        assert value(s, "kube_namespace_status_phase", namespace="shop", phase="Active") == 1
        assert labels_of(s, "kube_persistentvolumeclaim_info") == [{
            "namespace": "shop", "persistentvolumeclaim": "data-db-0", "storageclass": "standard",
            "volumename": "pv-1", "volumemode": "Filesystem"}]
        assert value(s, "kube_persistentvolumeclaim_status_phase", phase="Bound") == 1
        assert value(s, "kube_persistentvolumeclaim_resource_requests_storage_bytes") == 10 * 2**30

        # Changes follow: a restart, a scale-up, a deleted pod.
        kube.apply("MODIFIED", {**WORKLOADS[0], "spec": {"replicas": 5}})
        kube.apply("DELETED", POD)
        rv = kube.bookmark()
        await until(lambda: all(w.resource_version == str(rv) for inf in state.informers.values()
                                for w in inf.watches), "changes")
        s = parse(state.render())
        assert value(s, "kube_deployment_spec_replicas", deployment="web") == 5
        assert labels_of(s, "kube_pod_info") == []
    finally:
        await state.stop()


def test_quantities() -> None:
    assert parse_quantity("100m") == 0.1
    assert parse_quantity("1Ki") == 1024
    assert parse_quantity("1.5G") == 1.5e9
    assert parse_quantity("2e3") == 2000
    assert parse_quantity("12") == 12
    assert parse_quantity("bogus") is None
