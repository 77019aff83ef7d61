"""Kubernetes API list + watch over aiohttp, shared by the agent and the server.

:class:`ListWatch` is generic (any resource path, field/label selector): it lists (paginated),
then watches from the list's ``resourceVersion`` with bookmarks, resumes from the last seen
version when a watch ends, re-lists on ``410 Gone`` (as an HTTP status or as an ``ERROR``
event) and backs off exponentially (with jitter) on errors. ``last_error`` holds the latest
failure until the next successful list or watch, so callers can show it.
"""

from __future__ import annotations

import asyncio
import base64
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
    """Where the API is and how to authenticate (bearer token, basic auth or client cert)."""

    api_url: str
    token_file: Path | None = None
    ca_file: Path | None = None
    insecure: bool = False
    token: str | None = None
    username: str | None = None
    password: str | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None
    auth_type: str = "Bearer"
    _ssl: ssl.SSLContext | bool | None = field(default=None, repr=False, compare=False)

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
        if self.username is not None:
            raw = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        token = self.token
        if token is None and self.token_file is not None:
            try:
                token = self.token_file.read_text().strip()
            except OSError:
                return {}
        return {"Authorization": f"{self.auth_type} {token}"} if token else {}

    def ssl_context(self) -> ssl.SSLContext | bool:
        """TLS settings for aiohttp (built once)."""
        if self._ssl is None:
            self._ssl = self._make_ssl()
        return self._ssl

    def _make_ssl(self) -> ssl.SSLContext | bool:
        if not self.api_url.startswith("https"):
            return True
        if self.insecure and self.cert_file is None:
            return False
        ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.cert_file is not None:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file) if self.key_file else None)
        return ctx


def _describe(exc: BaseException) -> str:
    """A short text for a failed request."""
    if isinstance(exc, aiohttp.ClientResponseError):
        hint = {401: " (unauthorised)", 403: " (forbidden: check RBAC)"}.get(exc.status, "")
        return f"HTTP {exc.status}{hint}: {exc.message}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


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
        self.last_error = ""

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
                    self.last_error = f"{self.config.api_url}{self.path}: {_describe(exc)}"
                    delay = min(self.max_backoff, self.min_backoff * 2**attempt) * random.uniform(0.5, 1.0)
                    attempt = min(attempt + 1, 20)
                    log.warning("kubernetes API %s; retrying in %.1fs", self.last_error, delay)
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
        self.last_error = ""
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
        self.last_error = ""
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
        if kind != "BOOKMARK" and kind:
            self.on_event(kind, obj)
        if rv:
            self.resource_version = rv
