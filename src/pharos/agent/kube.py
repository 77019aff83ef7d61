"""The node's pod cache, kept current by the shared Kubernetes list + watch client.

The watch itself lives in :mod:`pharos.kube.watch` (shared with the server's service discovery,
cluster-state metrics and events); it is imported only when pods are watched (it brings aiohttp).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pharos.kube.watch import KubeConfig, ListWatch


@dataclass(frozen=True)
class PodMeta:
    """What the agent needs of a pod."""

    namespace: str
    name: str
    uid: str
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> PodMeta:
        """From a Pod API object."""
        meta = obj.get("metadata") or {}
        return cls(
            meta.get("namespace", ""),
            meta.get("name", ""),
            meta.get("uid", ""),
            dict(meta.get("labels") or {}),
            dict(meta.get("annotations") or {}),
        )


class PodCache:
    """Pods of one node, kept current by a :class:`ListWatch`; ``version`` counts changes."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], PodMeta] = {}
        self.version = 0

    def replace(self, items: list[dict[str, Any]]) -> None:
        """Replace the whole view (after a list)."""
        pods = {}
        for obj in items:
            pod = PodMeta.from_object(obj)
            pods[(pod.namespace, pod.name)] = pod
        self.pods = pods
        self.version += 1

    def apply(self, kind: str, obj: dict[str, Any]) -> None:
        """Apply one watch event."""
        pod = PodMeta.from_object(obj)
        pods = dict(self.pods)
        if kind == "DELETED":
            pods.pop((pod.namespace, pod.name), None)
        else:
            pods[(pod.namespace, pod.name)] = pod
        self.pods = pods
        self.version += 1

    def get(self, namespace: str, name: str) -> PodMeta | None:
        """The pod, if known."""
        return self.pods.get((namespace, name))


def watch_node_pods(config: KubeConfig, node: str, cache: PodCache, **kw: Any) -> ListWatch:
    """A ListWatch of the pods scheduled on ``node`` feeding ``cache``."""
    from pharos.kube.watch import ListWatch

    return ListWatch(
        config,
        "/api/v1/pods",
        field_selector=f"spec.nodeName={node}",
        on_replace=cache.replace,
        on_event=cache.apply,
        **kw,
    )
