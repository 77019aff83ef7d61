"""Target groups of Kubernetes objects with Prometheus's ``__meta_kubernetes_*`` labels.

Pure functions over API objects (plain dicts). Anything that needs another object (the pod
behind an endpoint, a node, a namespace, a service) asks the :class:`Lookup` given to it.
Sources are Prometheus's: ``pod/<ns>/<name>``, ``node/<name>``, ``svc/<ns>/<name>``,
``endpoints/<ns>/<name>``, ``endpointslice/<ns>/<name>``, ``ingress/<ns>/<name>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from pharos.metrics.scrape.discovery import TargetGroup

Obj = dict[str, Any]
Labels = dict[str, str]

P = "__meta_kubernetes_"
ADDRESS = "__address__"
NAMESPACE = P + "namespace"
_INVALID = re.compile(r"[^a-zA-Z0-9_]")
NODE_ADDRESS_ORDER = ("InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DUAL_STACK = ("PreferDualStack", "RequireDualStack")


class Lookup(Protocol):
    """Other objects a builder may need, and what the config attaches."""

    attach_node: bool
    attach_namespace: bool
    attach_deployment: bool
    attach_job: bool
    attach_cronjob: bool
    node_filtered: bool  # a node selector limits the node store

    def pod(self, namespace: str, name: str) -> Obj | None: ...
    def node(self, name: str) -> Obj | None: ...
    def service(self, namespace: str, name: str) -> Obj | None: ...
    def namespace(self, name: str) -> Obj | None: ...
    def replicaset(self, namespace: str, name: str) -> Obj | None: ...
    def job(self, namespace: str, name: str) -> Obj | None: ...


def sanitize(name: str) -> str:
    """Prometheus's label-name sanitising: every invalid character becomes ``_``."""
    return _INVALID.sub("_", name)


def join_host_port(host: str, port: Any) -> str:
    """Go's net.JoinHostPort."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _meta(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _bool(value: Any) -> str:
    return "true" if value else "false"


def object_meta_labels(obj: Obj, role: str) -> Labels:
    """``<role>_name``, ``<role>_label_*``/``_labelpresent_*``, ``<role>_annotation_*``/``_annotationpresent_*``."""
    m = _meta(obj)
    out = {f"{P}{role}_name": _str(m.get("name"))}
    for kind, values in (("label", m.get("labels")), ("annotation", m.get("annotations"))):
        for k, v in (values or {}).items():
            name = sanitize(k)
            out[f"{P}{role}_{kind}_{name}"] = _str(v)
            out[f"{P}{role}_{kind}present_{name}"] = "true"
    return out


def namespace_labels(ns: str, lookup: Lookup) -> Labels:
    """``__meta_kubernetes_namespace`` plus the namespace's labels/annotations when attached."""
    out = {NAMESPACE: ns}
    if lookup.attach_namespace:
        obj = lookup.namespace(ns)
        if obj is not None:
            meta = object_meta_labels(obj, "namespace")
            meta.pop(P + "namespace_name")
            out.update(meta)
    return out


def node_labels(name: str | None, lookup: Lookup) -> Labels:
    """The node's name, labels and annotations, when node metadata is attached and known."""
    if not name or not lookup.attach_node:
        return {}
    node = lookup.node(name)
    return object_meta_labels(node, "node") if node is not None else {}


# -- pod ------------------------------------------------------------------------------------


def controller_of(obj: Obj) -> Obj | None:
    """The owner reference with ``controller: true``."""
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def pod_ready(pod: Obj) -> str:
    """The Ready condition's status, lower-cased; ``unknown`` without one."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return _str(cond.get("status")).lower()
    return "unknown"


def pod_labels(pod: Obj) -> Labels:
    """The pod's own labels (no namespace), shared by the pod and endpoint roles."""
    status, spec, m = pod.get("status") or {}, pod.get("spec") or {}, _meta(pod)
    out = {
        P + "pod_ip": _str(status.get("podIP")),
        P + "pod_ready": pod_ready(pod),
        P + "pod_phase": _str(status.get("phase")),
        P + "pod_node_name": _str(spec.get("nodeName")),
        P + "pod_host_ip": _str(status.get("hostIP")),
        P + "pod_uid": _str(m.get("uid")),
    }
    out.update(object_meta_labels(pod, "pod"))
    ref = controller_of(pod)
    if ref is not None:
        if ref.get("kind"):
            out[P + "pod_controller_kind"] = ref["kind"]
        if ref.get("name"):
            out[P + "pod_controller_name"] = ref["name"]
    return out


def _owner_labels(pod: Obj, lookup: Lookup) -> Labels:
    """Deployment / Job / CronJob names through the pod's controller (attach_metadata)."""
    ref = controller_of(pod)
    if ref is None:
        return {}
    ns, kind, name = _meta(pod).get("namespace") or "", ref.get("kind"), ref.get("name") or ""
    out: Labels = {}
    if kind == "ReplicaSet" and lookup.attach_deployment:
        rs = lookup.replicaset(ns, name)
        owner = controller_of(rs) if rs is not None else None
        if owner is not None and owner.get("kind") == "Deployment":
            out[P + "pod_deployment_name"] = _str(owner.get("name"))
    if kind == "Job":
        if lookup.attach_job:
            out[P + "pod_job_name"] = name
        if lookup.attach_cronjob:
            job = lookup.job(ns, name)
            owner = controller_of(job) if job is not None else None
            if owner is not None and owner.get("kind") == "CronJob":
                out[P + "pod_cronjob_name"] = _str(owner.get("name"))
    return out


def all_containers(pod: Obj) -> list[tuple[Obj, bool]]:
    """(container, is_init) for containers then init containers."""
    spec = pod.get("spec") or {}
    return [(c, False) for c in spec.get("containers") or []] + [
        (c, True) for c in spec.get("initContainers") or []
    ]


def _container_id(pod: Obj, name: str, init: bool) -> str:
    status = pod.get("status") or {}
    for cs in status.get("initContainerStatuses" if init else "containerStatuses") or []:
        if cs.get("name") == name:
            return _str(cs.get("containerID"))
    return ""


def pod_group(pod: Obj, lookup: Lookup) -> TargetGroup:
    """The pod role's group: one target per container port (or per port-less container)."""
    m = _meta(pod)
    ns, name = m.get("namespace") or "", m.get("name") or ""
    group = TargetGroup(f"pod/{ns}/{name}")
    ip = _str((pod.get("status") or {}).get("podIP"))
    if not ip:
        return group
    node_name = (pod.get("spec") or {}).get("nodeName")
    if lookup.attach_node and lookup.node_filtered and (not node_name or lookup.node(node_name) is None):
        return group
    group.labels = {**pod_labels(pod), **namespace_labels(ns, lookup), **_owner_labels(pod, lookup)}
    group.labels.update(node_labels(node_name, lookup))
    for c, init in all_containers(pod):
        base = {
            P + "pod_container_name": _str(c.get("name")),
            P + "pod_container_id": _container_id(pod, _str(c.get("name")), init),
            P + "pod_container_image": _str(c.get("image")),
            P + "pod_container_init": _bool(init),
        }
        if not c.get("ports"):
            group.targets.append({ADDRESS: ip, **base})
        for port in c.get("ports") or []:
            group.targets.append({ADDRESS: join_host_port(ip, port.get("containerPort", 0)), **base,
                                  **_container_port_labels(port)})
    return group


def _container_port_labels(port: Obj, protocol: Any = None) -> Labels:
    return {
        P + "pod_container_port_name": _str(port.get("name")),
        P + "pod_container_port_number": _str(port.get("containerPort", 0)),
        P + "pod_container_port_protocol": _str(port.get("protocol") if protocol is None else protocol),
    }


# -- node -----------------------------------------------------------------------------------


def node_address(node: Obj) -> tuple[str | None, dict[str, list[str]]]:
    """The preferred address (InternalIP first ...) and every address by type."""
    by_type: dict[str, list[str]] = {}
    for a in (node.get("status") or {}).get("addresses") or []:
        by_type.setdefault(_str(a.get("type")), []).append(_str(a.get("address")))
    for kind in NODE_ADDRESS_ORDER:
        if by_type.get(kind):
            return by_type[kind][0], by_type
    return None, by_type


def node_group(node: Obj, lookup: Lookup) -> TargetGroup:
    """The node role's group: the kubelet's address."""
    name = _str(_meta(node).get("name"))
    group = TargetGroup(f"node/{name}")
    addr, by_type = node_address(node)
    if addr is None:
        return group
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port", 0)
    target = {ADDRESS: join_host_port(addr, port), "instance": name}
    for kind, values in by_type.items():
        target[f"{P}node_address_{sanitize(kind)}"] = values[0]
    group.targets = [target]
    group.labels = object_meta_labels(node, "node")
    group.labels[P + "node_provider_id"] = _str((node.get("spec") or {}).get("providerID"))
    for cond in status.get("conditions") or []:
        group.labels[f"{P}node_condition_{sanitize(_str(cond.get('type')).lower())}"] = _str(
            cond.get("status")
        ).lower()
    return group


# -- service --------------------------------------------------------------------------------


def service_labels(svc: Obj) -> Labels:
    """``service_name`` and the service's labels/annotations."""
    return object_meta_labels(svc, "service")


def service_group(svc: Obj, lookup: Lookup) -> TargetGroup:
    """The service role's group: one target per service port at ``<name>.<ns>.svc:<port>``."""
    m, spec = _meta(svc), svc.get("spec") or {}
    ns, name = m.get("namespace") or "", m.get("name") or ""
    group = TargetGroup(f"svc/{ns}/{name}", labels={**service_labels(svc), **namespace_labels(ns, lookup)})
    kind = _str(spec.get("type"))
    for port in spec.get("ports") or []:
        target = {
            ADDRESS: join_host_port(f"{name}.{ns}.svc", port.get("port", 0)),
            P + "service_port_name": _str(port.get("name")),
            P + "service_port_number": _str(port.get("port", 0)),
            P + "service_port_protocol": _str(port.get("protocol")),
            P + "service_type": kind,
        }
        if kind == "ExternalName":
            target[P + "service_external_name"] = _str(spec.get("externalName"))
        else:
            target[P + "service_cluster_ip"] = _str(spec.get("clusterIP"))
        if kind == "LoadBalancer":
            target[P + "service_loadbalancer_ip"] = _loadbalancer_ip(svc)
        group.targets.append(target)
    return group


def _loadbalancer_ip(svc: Obj) -> str:
    lb_ip = _str((svc.get("spec") or {}).get("loadBalancerIP"))
    if lb_ip:
        return lb_ip
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return ",".join(_str(i.get("ip") or i.get("hostname")) for i in ingress)


# -- endpoints and endpointslices -----------------------------------------------------------


@dataclass
class _SeenPod:
    pod: Obj
    ports: set[int]


def _pod_target(target: Labels, pod: Obj, port: int, protocol: Any, seen: dict[str, _SeenPod]) -> None:
    """Add the pod's labels and the container port matching ``port`` to an endpoint target."""
    key = f"{_meta(pod).get('namespace')}/{_meta(pod).get('name')}"
    seen.setdefault(key, _SeenPod(pod, set())).ports.add(port)
    target.update(pod_labels(pod))
    for c, init in all_containers(pod):
        match = next((p for p in c.get("ports") or [] if p.get("containerPort") == port), None)
        if match is not None:
            target[P + "pod_container_name"] = _str(c.get("name"))
            target[P + "pod_container_image"] = _str(c.get("image"))
            target[P + "pod_container_init"] = _bool(init)
            target.update(_container_port_labels(match, protocol))
            return


def _unseen_port_targets(seen: dict[str, _SeenPod]) -> list[Labels]:
    """Targets for container ports of referenced pods that no endpoint port covered."""
    out: list[Labels] = []
    for entry in seen.values():
        ip = _str((entry.pod.get("status") or {}).get("podIP"))
        for c, init in all_containers(entry.pod):
            for port in c.get("ports") or []:
                if port.get("containerPort") in entry.ports or not ip:
                    continue
                out.append({
                    ADDRESS: join_host_port(ip, port.get("containerPort", 0)),
                    P + "pod_container_name": _str(c.get("name")),
                    P + "pod_container_image": _str(c.get("image")),
                    P + "pod_container_init": _bool(init),
                    **_container_port_labels(port),
                    **pod_labels(entry.pod),
                })
    return out


def _ref_pod(ref: Obj | None, namespace: str, lookup: Lookup) -> Obj | None:
    if not ref or ref.get("kind") != "Pod":
        return None
    return lookup.pod(ref.get("namespace") or namespace, _str(ref.get("name")))


def _ref_node_name(node_name: Any, ref: Obj | None) -> str | None:
    if node_name:
        return str(node_name)
    if ref and ref.get("kind") == "Node":
        return _str(ref.get("name"))
    return None


def endpoints_group(eps: Obj, lookup: Lookup) -> TargetGroup:
    """The endpoints role's group: one target per address and port (not-ready ones too)."""
    m = _meta(eps)
    ns, name = m.get("namespace") or "", m.get("name") or ""
    group = TargetGroup(f"endpoints/{ns}/{name}")
    group.labels = {**object_meta_labels(eps, "endpoints"), **namespace_labels(ns, lookup)}
    svc = lookup.service(ns, name)
    if svc is not None:
        group.labels.update(service_labels(svc))
    seen: dict[str, _SeenPod] = {}
    for subset in eps.get("subsets") or []:
        for port in subset.get("ports") or []:
            for ready, key in (("true", "addresses"), ("false", "notReadyAddresses")):
                for addr in subset.get(key) or []:
                    group.targets.append(_endpoint_target(addr, port, ready, ns, lookup, seen))
    group.targets.extend(_unseen_port_targets(seen))
    return group


def _endpoint_target(addr: Obj, port: Obj, ready: str, ns: str, lookup: Lookup,
                     seen: dict[str, _SeenPod]) -> Labels:
    ref = addr.get("targetRef")
    target = {
        ADDRESS: join_host_port(_str(addr.get("ip")), port.get("port", 0)),
        P + "endpoint_port_name": _str(port.get("name")),
        P + "endpoint_port_protocol": _str(port.get("protocol")),
        P + "endpoint_ready": ready,
    }
    if ref is not None:
        target[P + "endpoint_address_target_kind"] = _str(ref.get("kind"))
        target[P + "endpoint_address_target_name"] = _str(ref.get("name"))
    if addr.get("nodeName"):
        target[P + "endpoint_node_name"] = _str(addr.get("nodeName"))
    if addr.get("hostname"):
        target[P + "endpoint_hostname"] = _str(addr.get("hostname"))
    target.update(node_labels(_ref_node_name(addr.get("nodeName"), ref), lookup))
    pod = _ref_pod(ref, ns, lookup)
    if pod is not None:
        _pod_target(target, pod, port.get("port", 0), port.get("protocol"), seen)
    return target


def endpointslice_group(eps: Obj, lookup: Lookup) -> TargetGroup:
    """The endpointslice role's group: one target per endpoint address and port."""
    m = _meta(eps)
    ns, name = m.get("namespace") or "", m.get("name") or ""
    group = TargetGroup(f"endpointslice/{ns}/{name}")
    group.labels = {**object_meta_labels(eps, "endpointslice"), **namespace_labels(ns, lookup)}
    group.labels[P + "endpointslice_address_type"] = _str(eps.get("addressType"))
    svc_name = (m.get("labels") or {}).get(SERVICE_NAME_LABEL)
    svc = lookup.service(ns, svc_name) if svc_name else None
    if svc is not None:
        group.labels.update(service_labels(svc))
        if _secondary_family(svc, eps):
            return group
    seen: dict[str, _SeenPod] = {}
    for port in eps.get("ports") or []:
        for ep in eps.get("endpoints") or []:
            for addr in ep.get("addresses") or []:
                group.targets.append(_slice_target(_str(addr), ep, port, ns, lookup, seen))
    group.targets.extend(_unseen_port_targets(seen))
    return group


def _secondary_family(svc: Obj, eps: Obj) -> bool:
    """A dual-stack service's slice of its secondary IP family (Prometheus skips its targets)."""
    spec = svc.get("spec") or {}
    families = spec.get("ipFamilies") or []
    return spec.get("ipFamilyPolicy") in DUAL_STACK and bool(families) and eps.get("addressType") != families[0]


def _slice_target(addr: str, ep: Obj, port: Obj, ns: str, lookup: Lookup,
                  seen: dict[str, _SeenPod]) -> Labels:
    q = P + "endpointslice_"
    number = port.get("port")
    target = {ADDRESS: addr if number is None else join_host_port(addr, number)}
    for key, label in (("name", "port_name"), ("protocol", "port_protocol"), ("port", "port"),
                       ("appProtocol", "port_app_protocol")):
        if port.get(key) is not None:
            target[q + label] = _str(port[key])
    for cond, value in (ep.get("conditions") or {}).items():
        if cond in ("ready", "serving", "terminating") and value is not None:
            target[f"{q}endpoint_conditions_{cond}"] = _bool(value)
    ref = ep.get("targetRef")
    for key, label in (("hostname", "endpoint_hostname"), ("nodeName", "endpoint_node_name"),
                       ("zone", "endpoint_zone")):
        if ep.get(key) is not None:
            target[q + label] = _str(ep[key])
    if ref is not None:
        target[q + "address_target_kind"] = _str(ref.get("kind"))
        target[q + "address_target_name"] = _str(ref.get("name"))
    for k, v in (ep.get("deprecatedTopology") or {}).items():
        target[f"{q}endpoint_topology_{sanitize(k)}"] = _str(v)
        target[f"{q}endpoint_topology_present_{sanitize(k)}"] = "true"
    target.update(node_labels(_ref_node_name(ep.get("nodeName"), ref), lookup))
    pod = _ref_pod(ref, ns, lookup)
    if pod is not None:
        _pod_target(target, pod, number or 0, port.get("protocol"), seen)
    return target


# -- ingress --------------------------------------------------------------------------------


def _host_matches(patterns: list[str], host: str) -> bool:
    for pattern in patterns:
        if pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and "." not in host[: -len(pattern) + 1]:
            return True
    return False


def ingress_group(ing: Obj, lookup: Lookup) -> TargetGroup:
    """The ingress role's group: one target per rule host and path."""
    m, spec = _meta(ing), ing.get("spec") or {}
    ns, name = m.get("namespace") or "", m.get("name") or ""
    group = TargetGroup(f"ingress/{ns}/{name}")
    group.labels = {**object_meta_labels(ing, "ingress"), **namespace_labels(ns, lookup)}
    if spec.get("ingressClassName") is not None:
        group.labels[P + "ingress_class_name"] = _str(spec["ingressClassName"])
    tls_hosts = [h for t in spec.get("tls") or [] for h in t.get("hosts") or []]
    for rule in spec.get("rules") or []:
        host = _str(rule.get("host"))
        scheme = "https" if _host_matches(tls_hosts, host) else "http"
        http = rule.get("http")
        paths = ["/"] if http is None else [_str(p.get("path")) or "/" for p in http.get("paths") or []]
        for path in paths:
            group.targets.append({
                ADDRESS: host,
                P + "ingress_scheme": scheme,
                P + "ingress_host": host,
                P + "ingress_path": path,
            })
    return group


BUILDERS = {
    "pod": pod_group,
    "node": node_group,
    "service": service_group,
    "endpoints": endpoints_group,
    "endpointslice": endpointslice_group,
    "ingress": ingress_group,
}
