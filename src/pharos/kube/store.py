"""An informer: one or more list + watch streams feeding one indexed store with event handlers.

Objects are plain dicts as the API serves them, keyed ``namespace/name`` (or ``name`` for
cluster-scoped kinds). A (re-)list replaces only its own scope (one namespace, or all) and
reports the differences to the handlers as ADDED/MODIFIED/DELETED, as client-go's informers do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pharos.kube.watch import KubeConfig, ListWatch
from pharos.tasks import cancel

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj, Obj | None], None]  # (event type, object, previous object)
IndexFn = Callable[[Obj], list[str]]


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
                on_replace=self._replacer(_scope(path)),
                on_event=self.apply,
                label_selector=label_selector,
                field_selector=field_selector,
                **watch_kw,
            )
            for path in paths
        ]
        self._tasks: list[asyncio.Task[None]] = []

    def subscribe(self, handler: Handler) -> None:
        """Add a handler; objects already known are replayed to it as ADDED."""
        self.handlers.append(handler)
        for obj in list(self.items.values()):
            handler("ADDED", obj, None)

    def add_indexer(self, name: str, fn: IndexFn) -> None:
        """Add an index (no-op when one of that name exists), indexing the known objects."""
        if name in self.indexers:
            return
        self.indexers[name] = fn
        self.index[name] = {}
        for key, obj in self.items.items():
            for value in fn(obj):
                self.index[name].setdefault(value, set()).add(key)

    def _replacer(self, scope: str | None) -> Callable[[list[Obj]], None]:
        """The list callback of the stream over ``scope``."""
        return lambda items: self.replace(scope, items)

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
        keys = self.index.get(name, {}).get(value, ())
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
        for handler in list(self.handlers):
            try:
                handler(kind, obj, old)
            except Exception:  # one faulty consumer must not end the watch of the others
                log.exception("handler of %s failed on %s %s", self.watches[0].path if self.watches else "?", kind, key)

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


class SharedInformers:
    """One informer per (API server, credentials, paths, selectors), shared by its users:
    service discovery, cluster-state metrics. A user that arrives late is replayed the current
    objects as ADDED; the informer stops when its last user releases it."""

    def __init__(self) -> None:
        self._informers: dict[tuple[Any, ...], Informer] = {}
        self._refs: dict[int, int] = {}

    @staticmethod
    def _key(config: KubeConfig, paths: list[str], label: str | None, field: str | None) -> tuple[Any, ...]:
        auth = (config.token, str(config.token_file), config.username, str(config.cert_file), config.insecure)
        return (config.api_url, auth, tuple(paths), label or "", field or "")

    def acquire(
        self,
        config: KubeConfig,
        paths: list[str],
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: dict[str, IndexFn] | None = None,
        **watch_kw: Any,
    ) -> Informer:
        """The shared informer (started), with ``indexers`` added."""
        key = self._key(config, paths, label_selector, field_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = Informer(config, paths, label_selector=label_selector, field_selector=field_selector, **watch_kw)
            self._informers[key] = inf
            inf.start()
        self._refs[id(inf)] = self._refs.get(id(inf), 0) + 1
        for name, fn in (indexers or {}).items():
            inf.add_indexer(name, fn)
        return inf

    async def release(self, inf: Informer, handlers: list[Handler] | None = None) -> None:
        """Drop one use (and the user's handlers); stop the informer after its last user."""
        for handler in handlers or []:
            if handler in inf.handlers:
                inf.handlers.remove(handler)
        refs = self._refs.get(id(inf), 0) - 1
        if refs > 0:
            self._refs[id(inf)] = refs
            return
        self._refs.pop(id(inf), None)
        for key, known in list(self._informers.items()):
            if known is inf:
                del self._informers[key]
        await inf.stop()


SHARED = SharedInformers()
