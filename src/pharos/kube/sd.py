"""``kubernetes_sd_configs``: Prometheus's Kubernetes service discovery over list + watch.

One :class:`KubernetesDiscovery` per config entry runs informers for its role's kind and for
the kinds its labels need (pods behind endpoints, services, nodes and namespaces when
``attach_metadata`` asks), waits until every informer has listed, then builds the group of
every object and, after that, of every object an event touches: the object itself, or the
objects that refer to what changed (Prometheus's re-queueing: pods on a node, endpoints of a
service or a pod, slices of a service, anything in a namespace). Each batch of rebuilt groups
goes to ``on_update``; a deleted object's group comes back empty, meaning "remove".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pharos.config.model import KubernetesSDConfig
from pharos.kube.auth import KubeConfigError, from_sd_config, own_namespace
from pharos.kube.sdlabels import BUILDERS, SERVICE_NAME_LABEL, Obj
from pharos.kube.store import (
    SHARED,
    Handler,
    Informer,
    SharedInformers,
    collection_paths,
    meta,
    namespace_index,
)
from pharos.kube.watch import KubeConfig
from pharos.metrics.scrape.discovery import TargetGroup

log = logging.getLogger(__name__)

OnGroups = Callable[[list[TargetGroup]], Awaitable[None]]


@dataclass(frozen=True)
class Kind:
    """A resource: API group/version, plural, whether namespaced, the selector role naming it."""

    group_version: str
    resource: str
    namespaced: bool
    selector_role: str | None = None


KINDS = {
    "pods": Kind("v1", "pods", True, "pod"),
    "nodes": Kind("v1", "nodes", False, "node"),
    "services": Kind("v1", "services", True, "service"),
    "endpoints": Kind("v1", "endpoints", True, "endpoints"),
    "endpointslices": Kind("discovery.k8s.io/v1", "endpointslices", True, "endpointslice"),
    "ingresses": Kind("networking.k8s.io/v1", "ingresses", True, "ingress"),
    "namespaces": Kind("v1", "namespaces", False),
    "replicasets": Kind("apps/v1", "replicasets", True),
    "jobs": Kind("batch/v1", "jobs", True),
}
MAIN_KIND = {"pod": "pods", "node": "nodes", "service": "services", "endpoints": "endpoints",
             "endpointslice": "endpointslices", "ingress": "ingresses"}
SOURCE_PREFIX = {"pod": "pod", "node": "node", "service": "svc", "endpoints": "endpoints",
                 "endpointslice": "endpointslice", "ingress": "ingress"}


def _pod_node(obj: Obj) -> list[str]:
    return [(obj.get("spec") or {}).get("nodeName") or ""]


def _endpoints_pods(obj: Obj) -> list[str]:
    """Pods behind ready addresses (``namespace/name``)."""
    ns = meta(obj).get("namespace") or ""
    return [
        f"{ref.get('namespace') or ns}/{ref.get('name')}"
        for subset in obj.get("subsets") or []
        for addr in subset.get("addresses") or []
        if (ref := addr.get("targetRef")) and ref.get("kind") == "Pod"
    ]


def _node_of(node_name: Any, ref: Obj | None) -> str | None:
    """Prometheus's node index: ``nodeName`` for Pod targets, the name for Node targets."""
    if not ref:
        return None
    if ref.get("kind") == "Pod":
        return node_name or None
    return ref.get("name") if ref.get("kind") == "Node" else None


def _endpoints_nodes(obj: Obj) -> list[str]:
    found = (_node_of(a.get("nodeName"), a.get("targetRef"))
             for s in obj.get("subsets") or [] for a in s.get("addresses") or [])
    return [n for n in found if n]


def _slice_nodes(obj: Obj) -> list[str]:
    found = (_node_of(ep.get("nodeName"), ep.get("targetRef")) for ep in obj.get("endpoints") or [])
    return [n for n in found if n]


def _slice_service(obj: Obj) -> list[str]:
    name = (meta(obj).get("labels") or {}).get(SERVICE_NAME_LABEL)
    return [f"{meta(obj).get('namespace') or ''}/{name}"] if name else []


class KubernetesDiscovery:
    """Target groups of one ``kubernetes_sd_configs`` entry; also the builders' :class:`Lookup`."""

    def __init__(
        self,
        sd: KubernetesSDConfig,
        *,
        kube: KubeConfig | None = None,
        own_ns: str | None = None,
        shared: SharedInformers = SHARED,
        **watch_kw: Any,
    ) -> None:
        self.role = sd.role
        self.sd = sd
        self.config_error = ""
        am = sd.attach_metadata
        self.attach_node = am.node and sd.role in ("pod", "endpoints", "endpointslice")
        self.attach_namespace = am.namespace and sd.role != "node"
        self.attach_deployment = am.deployment and sd.role == "pod"
        self.attach_job = am.job and sd.role == "pod"
        self.attach_cronjob = am.cronjob and sd.role == "pod"
        self.node_filtered = any(s.role == "node" and (s.label or s.field) for s in sd.selectors)
        self.namespaces = self._namespaces(own_ns)
        self.informers: dict[str, Informer] = {}
        self._dirty: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._busy = False
        self.synced = asyncio.Event()
        self.shared = shared
        self.watch_kw = watch_kw
        self._handlers: list[tuple[Informer, Handler]] = []
        self.kube: KubeConfig | None = None
        try:
            self.kube = kube or from_sd_config(sd)
        except (KubeConfigError, OSError) as exc:
            self.config_error = f"kubernetes_sd ({sd.role}): {exc}"

    # -- setup ----------------------------------------------------------------------------

    def _namespaces(self, own_ns: str | None) -> list[str]:
        names = list(dict.fromkeys(self.sd.namespaces.names))
        if self.sd.namespaces.own_namespace:
            own = own_ns or own_namespace()
            if own not in names:
                names.append(own)
        return names

    def _wanted_kinds(self) -> dict[str, dict[str, Callable[[Obj], list[str]]]]:
        """Kinds to watch, with their indexes."""
        role = self.role
        kinds: dict[str, dict[str, Callable[[Obj], list[str]]]] = {MAIN_KIND[role]: {"namespace": namespace_index}}
        if role == "pod":
            kinds["pods"]["node"] = _pod_node
        if role in ("endpoints", "endpointslice"):
            kinds["services"] = {}
            kinds["pods"] = {}
        if role == "endpoints":
            kinds["endpoints"].update(pod=_endpoints_pods, node=_endpoints_nodes)
        if role == "endpointslice":
            kinds["endpointslices"].update(service=_slice_service, node=_slice_nodes)
        if self.attach_node:
            kinds["nodes"] = {}
        if self.attach_namespace:
            kinds["namespaces"] = {}
        if self.attach_deployment:
            kinds["replicasets"] = {}
        if self.attach_cronjob:
            kinds["jobs"] = {}
        return kinds

    def _acquire_informers(self, config: KubeConfig) -> None:
        """Shared informers for every kind needed, then the handlers (replayed what is known)."""
        for name, indexers in self._wanted_kinds().items():
            kind = KINDS[name]
            label, field = self._selector(kind.selector_role)
            paths = collection_paths(kind.group_version, kind.resource, self.namespaces if kind.namespaced else None)
            self.informers[name] = self.shared.acquire(config, paths, label_selector=label, field_selector=field,
                                                       indexers=indexers, **self.watch_kw)
        self._subscribe(self.informers[MAIN_KIND[self.role]], lambda _t, obj, _old: self._mark(_key(obj)))
        self._add_secondary_handlers()

    def _subscribe(self, inf: Informer, handler: Handler) -> None:
        self._handlers.append((inf, handler))
        inf.subscribe(handler)

    async def _release_informers(self) -> None:
        for inf in self.informers.values():
            await self.shared.release(inf, [h for i, h in self._handlers if i is inf])
        self._handlers = []

    def _selector(self, role: str | None) -> tuple[str | None, str | None]:
        labels = [s.label for s in self.sd.selectors if s.role == role and s.label]
        fields = [s.field for s in self.sd.selectors if s.role == role and s.field]
        return (",".join(labels) or None, ",".join(fields) or None)

    def _add_secondary_handlers(self) -> None:
        """Re-queue the main objects that depend on a changed secondary object."""
        main = self.informers[MAIN_KIND[self.role]]
        by = self._requeue_by
        sub = self._subscribe
        if "namespaces" in self.informers:
            sub(self.informers["namespaces"], by(main, "namespace", lambda o: meta(o).get("name")))
        if "nodes" in self.informers and self.role != "node":
            sub(self.informers["nodes"], by(main, "node", lambda o: meta(o).get("name")))
        if self.role in ("endpoints", "endpointslice"):
            index = "service" if self.role == "endpointslice" else None
            sub(self.informers["services"], self._service_handler(main, index))
        if self.role == "endpoints":
            sub(self.informers["pods"], by(main, "pod", _key))

    def _requeue_by(self, main: Informer, index: str, value: Callable[[Obj], Any]) -> Callable[..., None]:
        def handler(_type: str, obj: Obj, _old: Obj | None) -> None:
            for dependent in main.by_index(index, str(value(obj) or "")):
                self._mark(_key(dependent))
        return handler

    def _service_handler(self, main: Informer, index: str | None) -> Callable[..., None]:
        def handler(_type: str, obj: Obj, _old: Obj | None) -> None:
            if index is None:
                if main.get(_key(obj)) is not None:
                    self._mark(_key(obj))
                return
            for dependent in main.by_index(index, _key(obj)):
                self._mark(_key(dependent))
        return handler

    # -- running --------------------------------------------------------------------------

    def _mark(self, key: str) -> None:
        self._dirty[key] = None
        self._wake.set()

    def pending(self) -> bool:
        """Whether changes are waiting to be (or being) turned into groups."""
        return bool(self._dirty) or self._busy or not self.synced.is_set()

    def errors(self) -> list[str]:
        """Why discovery is not (fully) working right now."""
        if self.config_error:
            return [self.config_error]
        return [e for inf in self.informers.values() for e in inf.errors()]

    async def run(self, on_update: OnGroups) -> None:
        """Watch until cancelled, reporting changed groups to ``on_update``."""
        if self.config_error or self.kube is None:
            log.error("%s", self.config_error)
            await asyncio.Event().wait()
            return
        self._acquire_informers(self.kube)
        try:
            for inf in self.informers.values():
                for w in inf.watches:
                    await w.synced.wait()
            self.synced.set()
            while True:
                await self._wake.wait()
                await self._flush(on_update)
        finally:
            await self._release_informers()

    async def _flush(self, on_update: OnGroups) -> None:
        self._wake.clear()
        keys, self._dirty = list(self._dirty), {}
        if not keys:
            return
        self._busy = True
        try:
            await on_update([self.build(k) for k in keys])
        except Exception:
            log.exception("kubernetes_sd (%s): applying targets failed", self.role)
        finally:
            self._busy = False

    def build(self, key: str) -> TargetGroup:
        """The current group of the main object under ``key`` (empty when it is gone)."""
        obj = self.informers[MAIN_KIND[self.role]].get(key)
        if obj is None:
            return TargetGroup(f"{SOURCE_PREFIX[self.role]}/{key}")
        return BUILDERS[self.role](obj, self)

    # -- Lookup ---------------------------------------------------------------------------

    def _get(self, kind: str, key: str) -> Obj | None:
        inf = self.informers.get(kind)
        return inf.get(key) if inf is not None else None

    def pod(self, namespace: str, name: str) -> Obj | None:
        return self._get("pods", f"{namespace}/{name}")

    def node(self, name: str) -> Obj | None:
        return self._get("nodes", name)

    def service(self, namespace: str, name: str) -> Obj | None:
        return self._get("services", f"{namespace}/{name}")

    def namespace(self, name: str) -> Obj | None:
        return self._get("namespaces", name)

    def replicaset(self, namespace: str, name: str) -> Obj | None:
        return self._get("replicasets", f"{namespace}/{name}")

    def job(self, namespace: str, name: str) -> Obj | None:
        return self._get("jobs", f"{namespace}/{name}")


def _key(obj: Obj) -> str:
    m = meta(obj)
    ns = m.get("namespace") or ""
    return f"{ns}/{m.get('name', '')}" if ns else str(m.get("name", ""))
