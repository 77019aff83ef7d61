"""A FAKE Kubernetes API server for tests (aiohttp on 127.0.0.1), written here from the API's
documented wire protocol. It is not Kubernetes: objects are plain dicts, nothing is validated.

What it does as the real API server does:
* LIST ``/api/v1/<resource>``, ``/api/v1/namespaces/<ns>/<resource>``, ``/apis/<g>/<v>/...``:
  a ``<Kind>List`` with ``metadata.resourceVersion``; ``limit``/``continue`` pagination;
  ``labelSelector`` (``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``) and ``fieldSelector``
  (``metadata.name``, ``metadata.namespace``, ``spec.nodeName``), comma meaning AND.
* WATCH (``watch=1``): newline-delimited JSON events ``{"type", "object"}`` after the given
  ``resourceVersion``: ADDED/MODIFIED/DELETED (an object moving out of or into a selector is
  DELETED/ADDED for that watcher), BOOKMARK (``allowWatchBookmarks=true``) carrying only
  ``metadata.resourceVersion``; ``timeoutSeconds`` ends the stream; a version older than the
  compaction point gets one ERROR event whose Status has ``code: 410`` (HTTP 200, as the real
  server streams it).
* ``Authorization`` checked when ``token`` is set (401 Status otherwise).
"""

from __future__ import annotations

import asyncio
import copy
import socket
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

KINDS: dict[str, tuple[str, str]] = {  # kind -> (group/version, resource)
    "Pod": ("v1", "pods"), "Node": ("v1", "nodes"), "Service": ("v1", "services"),
    "Endpoints": ("v1", "endpoints"), "Namespace": ("v1", "namespaces"), "Event": ("v1", "events"),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims"),
    "EndpointSlice": ("discovery.k8s.io/v1", "endpointslices"),
    "Ingress": ("networking.k8s.io/v1", "ingresses"),
    "ReplicaSet": ("apps/v1", "replicasets"), "Deployment": ("apps/v1", "deployments"),
    "DaemonSet": ("apps/v1", "daemonsets"), "StatefulSet": ("apps/v1", "statefulsets"),
    "Job": ("batch/v1", "jobs"), "CronJob": ("batch/v1", "cronjobs"),
}
RESOURCE_KIND = {f"{gv}/{res}": kind for kind, (gv, res) in KINDS.items()}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Change:
    rv: int
    type: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


def _labels_match(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _field(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def _fields_match(selector: str, obj: dict[str, Any]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        neg = "!=" in term
        k, v = term.replace("!=", "=").replace("==", "=").split("=", 1)
        if (_field(obj, k) == v) == neg:
            return False
    return True


class FakeKube:
    """Objects by (group/version/resource, key); a change history; compaction; bookmarks."""

    def __init__(self, token: str | None = None) -> None:
        self.rv = 100
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.history: list[Change] = []
        self.compacted = 0
        self.last_bookmark = 0
        self.token = token
        self.watchers: list[tuple[str, str | None, dict[str, str], asyncio.Queue]] = []
        self.requests: list[str] = []
        self.fail_status: int | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        for *_, q in self.watchers:
            q.put_nowait(None)
        if self._runner is not None:
            await self._runner.cleanup()

    # -- changing objects ------------------------------------------------------------------

    def apply(self, type_: str, obj: dict[str, Any]) -> int:
        """ADDED / MODIFIED / DELETED one object; returns the new resourceVersion."""
        gv, res = KINDS[obj["kind"]]
        resource = f"{gv}/{res}"
        obj = copy.deepcopy(obj)
        self.rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        store = self.objects.setdefault(resource, {})
        key = self._key(obj)
        old = store.get(key)
        if type_ == "DELETED":
            store.pop(key, None)
        else:
            store[key] = obj
        change = Change(self.rv, type_, obj, old)
        self.history.append(change)
        for w_res, ns, sel, q in self.watchers:
            if w_res == resource:
                self._offer(q, change, ns, sel)
        return self.rv

    def add(self, obj: dict[str, Any]) -> int:
        return self.apply("ADDED", obj)

    def compact(self) -> None:
        """Forget the history: older resourceVersions now get 410 Gone."""
        self.compacted = self.rv
        self.history.clear()

    def bookmark(self) -> int:
        """Advance the version and send a BOOKMARK to every watcher that asked for them."""
        self.rv += 1
        self.last_bookmark = self.rv
        for res, _ns, sel, q in self.watchers:
            if sel.get("allowWatchBookmarks") == "true":
                q.put_nowait(self._bookmark_event(res, self.rv))
        return self.rv

    @staticmethod
    def _bookmark_event(resource: str, rv: int) -> dict[str, Any]:
        kind = RESOURCE_KIND[resource]
        return {"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": KINDS[kind][0],
                                               "metadata": {"resourceVersion": str(rv)}}}

    def drop_watches(self) -> None:
        """End every open watch stream (clients must resume from their last version)."""
        for *_, q in self.watchers:
            q.put_nowait(None)

    @staticmethod
    def _key(obj: dict[str, Any]) -> str:
        m = obj["metadata"]
        return f"{m.get('namespace', '')}/{m['name']}"

    # -- HTTP ------------------------------------------------------------------------------

    def _route(self, path: str) -> tuple[str, str | None] | None:
        """(group/version/resource, namespace) of a collection path."""
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "v1"]:
            gv, rest = "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            gv, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return None
        if len(rest) == 3 and rest[0] == "namespaces":
            return f"{gv}/{rest[2]}", rest[1]
        if len(rest) == 1:
            return f"{gv}/{rest[0]}", None
        return None

    def _status(self, code: int, reason: str, message: str) -> web.Response:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}
        return web.json_response(body, status=code)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(str(request.rel_url))
        if self.fail_status is not None:
            return self._status(self.fail_status, "Forced", "forced failure")
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._status(401, "Unauthorized", "Unauthorized")
        route = self._route(request.path)
        if route is None or route[0] not in RESOURCE_KIND:
            return self._status(404, "NotFound", f"the server could not find {request.path}")
        resource, ns = route
        if request.query.get("watch") in ("1", "true"):
            return await self._watch(request, resource, ns)
        return self._list(request, resource, ns)

    def _matches(self, obj: dict[str, Any] | None, ns: str | None, q: dict[str, str]) -> bool:
        if obj is None:
            return False
        m = obj["metadata"]
        if ns is not None and m.get("namespace") != ns:
            return False
        if q.get("labelSelector") and not _labels_match(q["labelSelector"], m.get("labels") or {}):
            return False
        return not (q.get("fieldSelector") and not _fields_match(q["fieldSelector"], obj))

    def _list(self, request: web.Request, resource: str, ns: str | None) -> web.Response:
        q = dict(request.query)
        items = [o for _, o in sorted(self.objects.get(resource, {}).items()) if self._matches(o, ns, q)]
        start = int(q.get("continue") or 0)
        limit = int(q.get("limit") or 0) or len(items) or 1
        page = items[start:start + limit]
        meta: dict[str, Any] = {"resourceVersion": str(self.rv)}
        if start + limit < len(items):
            meta["continue"] = str(start + limit)
        kind = RESOURCE_KIND[resource]
        return web.Response(body=orjson.dumps({"kind": f"{kind}List", "apiVersion": KINDS[kind][0],
                                               "metadata": meta, "items": page}),
                            content_type="application/json")

    def _offer(self, q: asyncio.Queue, change: Change, ns: str | None, sel: dict[str, str]) -> None:
        now, before = self._matches(change.obj, ns, sel), self._matches(change.old, ns, sel)
        if change.type == "DELETED":
            if before or now:
                q.put_nowait({"type": "DELETED", "object": change.obj})
        elif now:
            q.put_nowait({"type": "MODIFIED" if before else "ADDED", "object": change.obj})
        elif before:
            q.put_nowait({"type": "DELETED", "object": change.obj})

    async def _watch(self, request: web.Request, resource: str, ns: str | None) -> web.StreamResponse:
        q = dict(request.query)
        since = int(q.get("resourceVersion") or 0)
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        if since and since < self.compacted:
            await self._send(resp, {"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": f"too old resource version: {since} ({self.compacted})",
                "reason": "Expired", "code": 410}})
            return resp
        queue: asyncio.Queue = asyncio.Queue()
        for change in self.history:
            if change.rv > since and "/".join(KINDS[change.obj["kind"]]) == resource:
                self._offer(queue, change, ns, q)
        newest = max((c.rv for c in self.history), default=0)
        if q.get("allowWatchBookmarks") == "true" and self.last_bookmark > max(since, newest):
            # a watcher that connects after a bookmark still gets it (the real server repeats them)
            queue.put_nowait(self._bookmark_event(resource, self.last_bookmark))
        entry = (resource, ns, q, queue)
        self.watchers.append(entry)
        try:
            await self._pump(resp, queue, float(q.get("timeoutSeconds") or 0) or None)
        finally:
            self.watchers.remove(entry)
        return resp

    async def _pump(self, resp: web.StreamResponse, queue: asyncio.Queue, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                event = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                return
            if event is None:
                return
            await self._send(resp, event)

    @staticmethod
    async def _send(resp: web.StreamResponse, event: dict[str, Any]) -> None:
        await resp.write(orjson.dumps(event) + b"\n")
