"""Cluster-state metrics under kube-state-metrics' names and labels.

:class:`ClusterState` keeps cluster-wide informers (nodes, pods, namespaces, services,
endpoints, ingresses, deployments, daemonsets, statefulsets, jobs, persistentvolumeclaims) and
renders their current state as Prometheus text on request, so a scrape always sees the
latest objects. Each ``*_samples`` function maps one object to (metric, labels, value) rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from pharos.kube.quantity import parse_quantity
from pharos.kube.store import SHARED, Informer, SharedInformers, collection_paths
from pharos.kube.watch import KubeConfig
from pharos.metrics.exposition.writer import Exposition

Obj = dict[str, Any]
Sample = tuple[str, dict[str, str], float]

# metric -> (type, help)
FAMILIES: dict[str, tuple[str, str]] = {}


def _family(name: str, kind: str, help_: str) -> str:
    FAMILIES[name] = (kind, help_)
    return name


def _m(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _created(obj: Obj) -> float | None:
    ts = _m(obj).get("creationTimestamp")
    if not ts:
        return None
    try:
        return datetime.fromisoformat(str(ts).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _resource_name(name: str) -> tuple[str, str]:
    """kube-state-metrics' (resource, unit) labels of a resource name."""
    unit = "integer"
    if name == "cpu":
        unit = "core"
    elif name in ("memory", "ephemeral-storage", "storage") or name.startswith("hugepages-"):
        unit = "byte"
    return re.sub(r"[^a-zA-Z0-9_]", "_", name), unit


# -- nodes ----------------------------------------------------------------------------------

_family("kube_node_info", "gauge", "Information about a cluster node.")
_family("kube_node_status_condition", "gauge", "The condition of a cluster node.")
_family("kube_node_status_capacity", "gauge", "The capacity for different resources of a node.")
_family("kube_node_status_allocatable", "gauge", "The allocatable for different resources of a node.")
_family("kube_node_spec_unschedulable", "gauge", "Whether a node can schedule new pods.")
_family("kube_node_created", "gauge", "Unix creation timestamp")


def node_samples(node: Obj) -> Iterator[Sample]:
    """kube_node_*."""
    name, spec, status = _s(_m(node).get("name")), node.get("spec") or {}, node.get("status") or {}
    info = status.get("nodeInfo") or {}
    internal = next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == "InternalIP"), "")
    yield "kube_node_info", {
        "node": name, "kernel_version": _s(info.get("kernelVersion")), "os_image": _s(info.get("osImage")),
        "container_runtime_version": _s(info.get("containerRuntimeVersion")),
        "kubelet_version": _s(info.get("kubeletVersion")), "kubeproxy_version": _s(info.get("kubeProxyVersion")),
        "provider_id": _s(spec.get("providerID")), "pod_cidr": _s(spec.get("podCIDR")),
        "system_uuid": _s(info.get("systemUUID")), "internal_ip": _s(internal),
    }, 1.0
    yield "kube_node_spec_unschedulable", {"node": name}, 1.0 if spec.get("unschedulable") else 0.0
    if (created := _created(node)) is not None:
        yield "kube_node_created", {"node": name}, created
    for cond in status.get("conditions") or []:
        current = _s(cond.get("status")).lower()
        for state in ("true", "false", "unknown"):
            labels = {"node": name, "condition": _s(cond.get("type")), "status": state}
            yield "kube_node_status_condition", labels, 1.0 if current == state else 0.0
    for field, metric in (("capacity", "kube_node_status_capacity"), ("allocatable", "kube_node_status_allocatable")):
        for res, qty in (status.get(field) or {}).items():
            value = parse_quantity(qty)
            if value is not None:
                resource, unit = _resource_name(res)
                yield metric, {"node": name, "resource": resource, "unit": unit}, value


# -- pods -----------------------------------------------------------------------------------

_family("kube_pod_info", "gauge", "Information about pod.")
_family("kube_pod_status_phase", "gauge", "The pods current phase.")
_family("kube_pod_status_qos_class", "gauge", "The pods current qosClass.")
_family("kube_pod_status_reason", "gauge", "The pod status reasons")
_family("kube_pod_created", "gauge", "Unix creation timestamp")
_family("kube_pod_container_info", "gauge", "Information about a container in a pod.")
_family("kube_pod_container_status_restarts_total", "counter",
        "The number of container restarts per container.")
_family("kube_pod_container_status_waiting_reason", "gauge",
        "Describes the reason the container is currently in waiting state.")
_family("kube_pod_container_status_running", "gauge", "Describes whether the container is currently in running state.")
_family("kube_pod_container_status_ready", "gauge", "Describes whether the containers readiness check succeeded.")
_family("kube_pod_container_resource_requests", "gauge",
        "The number of requested request resource by a container.")
_family("kube_pod_container_resource_limits", "gauge", "The number of requested limit resource by a container.")

POD_PHASES = ("Pending", "Succeeded", "Failed", "Unknown", "Running")
QOS_CLASSES = ("BestEffort", "Burstable", "Guaranteed")
POD_REASONS = ("Evicted", "NodeAffinity", "NodeLost", "Shutdown", "UnexpectedAdmissionError")


def pod_samples(pod: Obj) -> Iterator[Sample]:
    """kube_pod_*."""
    m, spec, status = _m(pod), pod.get("spec") or {}, pod.get("status") or {}
    base = {"namespace": _s(m.get("namespace")), "pod": _s(m.get("name")), "uid": _s(m.get("uid"))}
    owner: dict[str, Any] = next((r for r in m.get("ownerReferences") or [] if r.get("controller")), {})
    yield "kube_pod_info", {
        **base, "host_ip": _s(status.get("hostIP")), "pod_ip": _s(status.get("podIP")),
        "node": _s(spec.get("nodeName")), "created_by_kind": _s(owner.get("kind")) or "<none>",
        "created_by_name": _s(owner.get("name")) or "<none>", "priority_class": _s(spec.get("priorityClassName")),
        "host_network": "true" if spec.get("hostNetwork") else "false",
    }, 1.0
    if (created := _created(pod)) is not None:
        yield "kube_pod_created", base, created
    phase = _s(status.get("phase"))
    for p in POD_PHASES:
        yield "kube_pod_status_phase", {**base, "phase": p}, 1.0 if phase == p else 0.0
    if status.get("qosClass"):
        for q in QOS_CLASSES:
            yield "kube_pod_status_qos_class", {**base, "qos_class": q}, 1.0 if status["qosClass"] == q else 0.0
    for r in POD_REASONS:
        yield "kube_pod_status_reason", {**base, "reason": r}, 1.0 if status.get("reason") == r else 0.0
    yield from _container_status_samples(base, spec, status)
    yield from _resource_samples(base, spec)


def _container_status_samples(base: dict[str, str], spec: Obj, status: Obj) -> Iterator[Sample]:
    images = {c.get("name"): c.get("image") for c in spec.get("containers") or []}
    for cs in status.get("containerStatuses") or []:
        labels = {**base, "container": _s(cs.get("name"))}
        state = cs.get("state") or {}
        yield "kube_pod_container_info", {
            **labels, "image_spec": _s(images.get(cs.get("name"))), "image": _s(cs.get("image")),
            "image_id": _s(cs.get("imageID")), "container_id": _s(cs.get("containerID")),
        }, 1.0
        yield "kube_pod_container_status_restarts_total", labels, _num(cs.get("restartCount"))
        yield "kube_pod_container_status_ready", labels, 1.0 if cs.get("ready") else 0.0
        yield "kube_pod_container_status_running", labels, 1.0 if "running" in state else 0.0
        reason = (state.get("waiting") or {}).get("reason")
        if reason:
            yield "kube_pod_container_status_waiting_reason", {**labels, "reason": _s(reason)}, 1.0


def _resource_samples(base: dict[str, str], spec: Obj) -> Iterator[Sample]:
    node = _s(spec.get("nodeName"))
    for c in spec.get("containers") or []:
        resources = c.get("resources") or {}
        for field, metric in (("requests", "kube_pod_container_resource_requests"),
                              ("limits", "kube_pod_container_resource_limits")):
            for res, qty in (resources.get(field) or {}).items():
                value = parse_quantity(qty)
                if value is not None:
                    resource, unit = _resource_name(res)
                    labels = {**base, "container": _s(c.get("name")), "node": node, "resource": resource, "unit": unit}
                    yield metric, labels, value


# -- workloads ------------------------------------------------------------------------------

def _fields(kind: str, label: str, fields: dict[str, tuple[str, str]]) -> Callable[[Obj], Iterator[Sample]]:
    """Samples of a workload: one gauge per (metric suffix -> (spec|status, field))."""
    for suffix in fields:
        _family(f"kube_{kind}_{suffix}", "gauge", f"{kind} {suffix.replace('_', ' ')}.")
    _family(f"kube_{kind}_labels", "gauge", f"Kubernetes labels converted to Prometheus labels ({kind}).")
    _family(f"kube_{kind}_created", "gauge", "Unix creation timestamp")

    def samples(obj: Obj) -> Iterator[Sample]:
        m = _m(obj)
        base = {"namespace": _s(m.get("namespace")), label: _s(m.get("name"))}
        yield f"kube_{kind}_labels", base, 1.0
        if (created := _created(obj)) is not None:
            yield f"kube_{kind}_created", base, created
        for suffix, (section, field) in fields.items():
            value = (obj.get(section) or {}).get(field) if section != "metadata" else m.get(field)
            if value is not None or section == "status":
                yield f"kube_{kind}_{suffix}", base, _num(value)
    return samples


deployment_samples = _fields("deployment", "deployment", {
    "spec_replicas": ("spec", "replicas"),
    "status_replicas": ("status", "replicas"),
    "status_replicas_available": ("status", "availableReplicas"),
    "status_replicas_unavailable": ("status", "unavailableReplicas"),
    "status_replicas_updated": ("status", "updatedReplicas"),
    "status_replicas_ready": ("status", "readyReplicas"),
    "status_observed_generation": ("status", "observedGeneration"),
    "metadata_generation": ("metadata", "generation"),
})
daemonset_samples = _fields("daemonset", "daemonset", {
    "status_current_number_scheduled": ("status", "currentNumberScheduled"),
    "status_desired_number_scheduled": ("status", "desiredNumberScheduled"),
    "status_number_available": ("status", "numberAvailable"),
    "status_number_misscheduled": ("status", "numberMisscheduled"),
    "status_number_ready": ("status", "numberReady"),
    "status_number_unavailable": ("status", "numberUnavailable"),
    "status_updated_number_scheduled": ("status", "updatedNumberScheduled"),
    "status_observed_generation": ("status", "observedGeneration"),
})
statefulset_samples = _fields("statefulset", "statefulset", {
    "replicas": ("spec", "replicas"),
    "status_replicas": ("status", "replicas"),
    "status_replicas_ready": ("status", "readyReplicas"),
    "status_replicas_current": ("status", "currentReplicas"),
    "status_replicas_updated": ("status", "updatedReplicas"),
    "status_replicas_available": ("status", "availableReplicas"),
    "status_observed_generation": ("status", "observedGeneration"),
})
_job_fields = _fields("job", "job_name", {
    "spec_completions": ("spec", "completions"),
    "spec_parallelism": ("spec", "parallelism"),
    "status_active": ("status", "active"),
    "status_succeeded": ("status", "succeeded"),
    "status_failed": ("status", "failed"),
})
_family("kube_job_info", "gauge", "Information about job.")
_family("kube_job_complete", "gauge", "The job has completed its execution.")
_family("kube_job_failed", "gauge", "The job has failed its execution.")


def job_samples(job: Obj) -> Iterator[Sample]:
    """kube_job_*."""
    m = _m(job)
    base = {"namespace": _s(m.get("namespace")), "job_name": _s(m.get("name"))}
    yield "kube_job_info", base, 1.0
    yield from (s for s in _job_fields(job) if s[0] != "kube_job_labels")
    for cond in (job.get("status") or {}).get("conditions") or []:
        metric = {"Complete": "kube_job_complete", "Failed": "kube_job_failed"}.get(cond.get("type"))
        if metric:
            current = _s(cond.get("status")).lower()
            for state in ("true", "false", "unknown"):
                yield metric, {**base, "condition": state}, 1.0 if current == state else 0.0


# -- namespaces, services, endpoints, ingresses, claims -------------------------------------

_family("kube_namespace_status_phase", "gauge", "kubernetes namespace status phase.")
_family("kube_namespace_labels", "gauge", "Kubernetes labels converted to Prometheus labels.")
_family("kube_namespace_created", "gauge", "Unix creation timestamp")
_family("kube_service_info", "gauge", "Information about service.")
_family("kube_endpoint_info", "gauge", "Information about endpoint.")
_family("kube_ingress_info", "gauge", "Information about ingress.")
_family("kube_persistentvolumeclaim_info", "gauge", "Information about persistent volume claim.")
_family("kube_persistentvolumeclaim_status_phase", "gauge",
        "The phase the persistent volume claim is currently in.")
_family("kube_persistentvolumeclaim_resource_requests_storage_bytes", "gauge",
        "The capacity of storage requested by the persistent volume claim.")


def namespace_samples(ns: Obj) -> Iterator[Sample]:
    """kube_namespace_*."""
    name = _s(_m(ns).get("name"))
    phase = _s((ns.get("status") or {}).get("phase")) or "Active"
    for p in ("Active", "Terminating"):
        yield "kube_namespace_status_phase", {"namespace": name, "phase": p}, 1.0 if phase == p else 0.0
    yield "kube_namespace_labels", {"namespace": name}, 1.0
    if (created := _created(ns)) is not None:
        yield "kube_namespace_created", {"namespace": name}, created


def service_samples(svc: Obj) -> Iterator[Sample]:
    """kube_service_info."""
    m, spec = _m(svc), svc.get("spec") or {}
    yield "kube_service_info", {
        "namespace": _s(m.get("namespace")), "service": _s(m.get("name")), "uid": _s(m.get("uid")),
        "cluster_ip": _s(spec.get("clusterIP")), "external_name": _s(spec.get("externalName")),
        "load_balancer_ip": _s(spec.get("loadBalancerIP")),
    }, 1.0


def endpoints_samples(eps: Obj) -> Iterator[Sample]:
    """kube_endpoint_info."""
    yield "kube_endpoint_info", {"namespace": _s(_m(eps).get("namespace")), "endpoint": _s(_m(eps).get("name"))}, 1.0


def ingress_samples(ing: Obj) -> Iterator[Sample]:
    """kube_ingress_info."""
    m = _m(ing)
    yield "kube_ingress_info", {"namespace": _s(m.get("namespace")), "ingress": _s(m.get("name")),
                                "ingressclass": _s((ing.get("spec") or {}).get("ingressClassName")) or "_default"}, 1.0


def pvc_samples(pvc: Obj) -> Iterator[Sample]:
    """kube_persistentvolumeclaim_*."""
    m, spec, status = _m(pvc), pvc.get("spec") or {}, pvc.get("status") or {}
    base = {"namespace": _s(m.get("namespace")), "persistentvolumeclaim": _s(m.get("name"))}
    yield "kube_persistentvolumeclaim_info", {
        **base, "storageclass": _s(spec.get("storageClassName")), "volumename": _s(spec.get("volumeName")),
        "volumemode": _s(spec.get("volumeMode")),
    }, 1.0
    phase = _s(status.get("phase"))
    for p in ("Lost", "Bound", "Pending"):
        yield "kube_persistentvolumeclaim_status_phase", {**base, "phase": p}, 1.0 if phase == p else 0.0
    storage = parse_quantity(((spec.get("resources") or {}).get("requests") or {}).get("storage", "x"))
    if storage is not None:
        yield "kube_persistentvolumeclaim_resource_requests_storage_bytes", base, storage


# kind -> (group/version, resource, sampler)
RESOURCES: dict[str, tuple[str, str, Callable[[Obj], Iterator[Sample]]]] = {
    "nodes": ("v1", "nodes", node_samples),
    "pods": ("v1", "pods", pod_samples),
    "namespaces": ("v1", "namespaces", namespace_samples),
    "services": ("v1", "services", service_samples),
    "endpoints": ("v1", "endpoints", endpoints_samples),
    "persistentvolumeclaims": ("v1", "persistentvolumeclaims", pvc_samples),
    "ingresses": ("networking.k8s.io/v1", "ingresses", ingress_samples),
    "deployments": ("apps/v1", "deployments", deployment_samples),
    "daemonsets": ("apps/v1", "daemonsets", daemonset_samples),
    "statefulsets": ("apps/v1", "statefulsets", statefulset_samples),
    "jobs": ("batch/v1", "jobs", job_samples),
}


class ClusterState:
    """Cluster-wide informers and the kube-state-metrics text of their objects."""

    def __init__(self, config: KubeConfig, shared: SharedInformers = SHARED, **watch_kw: Any) -> None:
        self.config = config
        self.shared = shared
        self.watch_kw = watch_kw
        self.informers: dict[str, Informer] = {}

    def start(self) -> None:
        """Acquire the cluster-wide informers (shared with service discovery watching the same)."""
        for kind, (gv, res, _) in RESOURCES.items():
            self.informers[kind] = self.shared.acquire(self.config, collection_paths(gv, res, None), **self.watch_kw)

    async def stop(self) -> None:
        for inf in self.informers.values():
            await self.shared.release(inf)
        self.informers = {}

    def errors(self) -> list[str]:
        return [e for inf in self.informers.values() for e in inf.errors()]

    def samples(self) -> Iterator[Sample]:
        """Every sample of every known object."""
        for kind, (_, _, sampler) in RESOURCES.items():
            inf = self.informers.get(kind)
            items = inf.items if inf is not None else {}
            for key in sorted(items):
                yield from sampler(items[key])

    def render(self) -> str:
        """Prometheus text exposition 0.0.4, families in name order."""
        exp = Exposition()
        for name, labels, value in self.samples():
            exp.add(name, *FAMILIES.get(name, ("gauge", name)), value, labels)
        return exp.render(by_name=True)
