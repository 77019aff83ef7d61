"""An informer: one or more list + watch streams feeding one indexed store with event handlers.

Objects are plain dicts as the API serves them, keyed ``namespace/name`` (or ``name`` for
cluster-scoped kinds). A (re-)list replaces only its own scope (one namespace, or all) and
reports the differences to the handlers as ADDED/MODIFIED/DELETED, as client-go's informers do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

from pharos.kube.watch import KubeConfig, ListWatch, cancel

Obj = dict[str, Any]
Handler = Callable[[str, Obj, Obj | None], None]  # (event type, object, previous object)
IndexFn = Callable[[Obj], Iterable[str]]


def meta(obj: Obj) -> dict[str, Any]:
    """The object's metadata (``{}`` when absent)."""
    return obj.get("metadata") or {}


def obj_key(obj: Obj) -> str:
    """``namespace/name``, or ``name`` for cluster-scoped objects."""
    m = meta(obj)
    ns = m.get("namespace") or ""
    return f"{ns}/{m.get('name', '')}" if ns else str(m.get("name", ""))


class Informer:
    """A store of one kind kept current by list + watch over one or more namespaces."""

    def __init__(
        self,
        config: KubeConfig,
        paths: list[str],
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: dict[str, IndexFn] | None = None,
        **watch_kw: Any,
    ) -> None:
        self.items: dict[str, Obj] = {}
        self.handlers: list[Handler] = []
        self.indexers = dict(indexers or {})
        self.index: dict[str, dict[str, set[str]]] = {name: {} for name in self.indexers}
        self.watches = [
            ListWatch(
                config,
                path,
                on_replace=lambda items, scope=_scope(path): self.replace(scope, items),
                on_event=self.apply,
                label_selector=label_selector,
                field_selector=field_selector,
                **watch_kw,
            )
            for path in paths
        ]
        self._tasks: list[asyncio.Task[None]] = []

    # -- running --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the list + watch tasks."""
        self._tasks = [asyncio.create_task(w.run(), name=f"watch {w.path}") for w in self.watches]

    async def stop(self) -> None:
        """Stop the tasks."""
        for task in self._tasks:
            await cancel(task)
        self._tasks = []

    def has_synced(self) -> bool:
        """Whether every stream has completed its first list."""
        return all(w.synced.is_set() for w in self.watches)

    def errors(self) -> list[str]:
        """Current errors of the streams (empty when healthy)."""
        return [w.last_error for w in self.watches if w.last_error]

    # -- the store ------------------------------------------------------------------------

    def get(self, key: str) -> Obj | None:
        """The object under ``namespace/name`` (or ``name``)."""
        return self.items.get(key)

    def by_index(self, name: str, value: str) -> list[Obj]:
        """Objects whose index ``name`` holds ``value``."""
        keys = self.index[name].get(value, ())
        return [self.items[k] for k in sorted(keys) if k in self.items]

    def replace(self, scope: str | None, items: list[Obj]) -> None:
        """A list result for ``scope`` (a namespace, or None for all): diff and notify."""
        fresh = {obj_key(o): o for o in items}
        for key in [k for k in self.items if _in_scope(k, scope) and k not in fresh]:
            self.apply("DELETED", self.items[key])
        for key, obj in fresh.items():
            old = self.items.get(key)
            if old is None or old != obj:
                self.apply("ADDED" if old is None else "MODIFIED", obj)

    def apply(self, kind: str, obj: Obj) -> None:
        """One watch event: update the store and the indexes, then call the handlers."""
        key = obj_key(obj)
        old = self.items.get(key)
        if old is not None:
            self._unindex(key, old)
        if kind == "DELETED":
            self.items.pop(key, None)
        else:
            self.items[key] = obj
            self._reindex(key, obj)
        for handler in self.handlers:
            handler(kind, obj, old)

    def _reindex(self, key: str, obj: Obj) -> None:
        for name, fn in self.indexers.items():
            for value in fn(obj):
                self.index[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, fn in self.indexers.items():
            for value in fn(obj):
                keys = self.index[name].get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self.index[name][value]


def _scope(path: str) -> str | None:
    """The namespace a collection path is limited to, if any."""
    parts = path.strip("/").split("/")
    return parts[parts.index("namespaces") + 1] if "namespaces" in parts[:-1] else None


def _in_scope(key: str, scope: str | None) -> bool:
    return scope is None or key.startswith(scope + "/")


def namespace_index(obj: Obj) -> list[str]:
    """Index function: the object's namespace."""
    return [meta(obj).get("namespace") or ""]


def collection_paths(group_version: str, resource: str, namespaces: list[str] | None) -> list[str]:
    """API paths of a collection: one per namespace, or the cluster-wide one."""
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    if not namespaces:
        return [f"{base}/{resource}"]
    return [f"{base}/namespaces/{ns}/{resource}" for ns in namespaces]
