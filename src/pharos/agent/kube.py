"""Kubernetes API list + watch over aiohttp, and the node's pod cache.

:class:`ListWatch` is generic (any resource path, field/label selector): it
lists, then watches from the list's ``resourceVersion`` with bookmarks,
resumes from the last seen version when a watch ends, re-lists on ``410
Gone`` (as an HTTP status or as an ``ERROR`` event) and backs off on errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

log = logging.getLogger(__name__)

SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class Gone(Exception):
    """The resourceVersion is too old: list again."""


@dataclass
class KubeConfig:
    """Where the API is and how to authenticate."""

    api_url: str
    token_file: Path | None = None
    ca_file: Path | None = None
    insecure: bool = False

    @classmethod
    def in_cluster(cls) -> KubeConfig | None:
        """The service-account config inside a pod, or None outside a cluster."""
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
        if not host or not port:
            return None
        host = f"[{host}]" if ":" in host else host
        token, ca = SA_DIR / "token", SA_DIR / "ca.crt"
        return cls(f"https://{host}:{port}", token if token.exists() else None, ca if ca.exists() else None)

    def headers(self) -> dict[str, str]:
        """Authorization header (the token file is re-read: bound tokens rotate)."""
        if self.token_file is None:
            return {}
        try:
            return {"Authorization": "Bearer " + self.token_file.read_text().strip()}
        except OSError:
            return {}

    def ssl_context(self) -> ssl.SSLContext | bool:
        """TLS settings for aiohttp."""
        if self.insecure:
            return False
        if self.ca_file is not None:
            return ssl.create_default_context(cafile=str(self.ca_file))
        return True


class ListWatch:
    """Keeps a local view of a resource collection via list + watch."""

    def __init__(
        self,
        config: KubeConfig,
        path: str,
        *,
        on_replace: Callable[[list[dict[str, Any]]], None],
        on_event: Callable[[str, dict[str, Any]], None],
        field_selector: str | None = None,
        label_selector: str | None = None,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
        watch_timeout: int = 300,
    ) -> None:
        self.config = config
        self.path = path
        self.on_replace = on_replace
        self.on_event = on_event
        self.selectors = {k: v for k, v in (("fieldSelector", field_selector), ("labelSelector", label_selector)) if v}
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.watch_timeout = watch_timeout
        self.resource_version: str | None = None
        self.synced = asyncio.Event()
        self.lists = 0
        self.errors = 0

    def _url(self, **params: str) -> str:
        return f"{self.config.api_url.rstrip('/')}{self.path}?{urlencode({**self.selectors, **params})}"

    async def run(self) -> None:
        """List and watch forever (cancel to stop)."""
        attempt = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)) as session:
            while True:
                try:
                    if self.resource_version is None:
                        await self._list(session)
                    await self._watch(session)
                    attempt = 0
                except Gone:
                    log.info("%s: resourceVersion %s gone, listing again", self.path, self.resource_version)
                    self.resource_version = None
                except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
                    self.errors += 1
                    delay = min(self.max_backoff, self.min_backoff * 2**attempt) * random.uniform(0.5, 1.0)
                    attempt = min(attempt + 1, 20)
                    log.warning("%s: %s; retrying in %.1fs", self.path, exc, delay)
                    await asyncio.sleep(delay)

    async def _get(self, session: aiohttp.ClientSession, url: str, **kw: Any) -> aiohttp.ClientResponse:
        resp = await session.get(url, headers=self.config.headers(), ssl=self.config.ssl_context(), **kw)
        if resp.status == 410:
            resp.release()
            raise Gone()
        if resp.status >= 300:
            body = await resp.text()
            resp.release()
            raise aiohttp.ClientResponseError(
                resp.request_info, (), status=resp.status, message=body[:200]
            )
        return resp

    async def _list(self, session: aiohttp.ClientSession) -> None:
        items: list[dict[str, Any]] = []
        cont = ""
        while True:
            params = {"limit": "500", **({"continue": cont} if cont else {})}
            resp = await self._get(session, self._url(**params), timeout=aiohttp.ClientTimeout(total=60))
            async with resp:
                body = orjson.loads(await resp.read())
            items.extend(body.get("items") or [])
            meta = body.get("metadata") or {}
            cont = meta.get("continue") or ""
            if not cont:
                break
        self.resource_version = meta.get("resourceVersion") or ""
        self.lists += 1
        self.on_replace(items)
        self.synced.set()

    async def _watch(self, session: aiohttp.ClientSession) -> None:
        url = self._url(
            watch="1",
            resourceVersion=self.resource_version or "",
            allowWatchBookmarks="true",
            timeoutSeconds=str(self.watch_timeout),
        )
        resp = await self._get(session, url, timeout=aiohttp.ClientTimeout(total=self.watch_timeout + 30))
        async with resp:
            buf = b""
            async for data in resp.content.iter_any():
                buf += data
                while (nl := buf.find(b"\n")) >= 0:
                    line, buf = buf[:nl], buf[nl + 1 :]
                    if line.strip():
                        self._event(orjson.loads(line))

    def _event(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Gone()
            raise ValueError(f"watch error: {obj.get('message')}")
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv:
            self.resource_version = rv
        if kind != "BOOKMARK" and kind:
            self.on_event(kind, obj)


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
    return ListWatch(
        config,
        "/api/v1/pods",
        field_selector=f"spec.nodeName={node}",
        on_replace=cache.replace,
        on_event=cache.apply,
        **kw,
    )


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancel a task and wait for it."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
