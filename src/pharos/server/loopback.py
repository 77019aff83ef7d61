"""In-process requests from pharos' own components to the server's app: no socket, no TLS.

The rules and monitors notifier (to the built-in Alertmanager), the agent embedded in
`pharos up` and the Kubernetes event collector (to the Loki push API) call the app through
`Loopback` instead of connecting to the server's own port. Their requests go through the whole
app — the security middleware (body cap), validation, limits — but carry the scope key
`INTERNAL`, which only this module sets (a scope that uvicorn builds from a network request never
has it), so the middleware does not ask them for credentials. That works whatever `server:`
configures: basic or bearer auth, TLS, client certificates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from starlette.types import ASGIApp, Message

INTERNAL = "pharos.internal"  # scope key of an in-process request
log = logging.getLogger("pharos.server.loopback")


class Loopback:
    """Sends requests to `app` in this process."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def request(
        self, method: str, target: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """(status, response body) of `method target` (a path with an optional query, or a URL
        whose path and query are used); an exception in the app is a 500."""
        parts = urlsplit(target)
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
        raw.append((b"content-length", str(len(body)).encode()))
        if not any(name == b"host" for name, _ in raw):
            raw.append((b"host", (parts.netloc.rpartition("@")[2] or "localhost").encode("latin-1")))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(parts.path or "/"),
            "raw_path": (parts.path or "/").encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": raw,
            "client": ("127.0.0.1", 0),
            "server": None,
            INTERNAL: True,
        }
        exchange = _Exchange(body)
        try:
            await self.app(scope, exchange.receive, exchange.send)
        except Exception:
            log.exception("in-process %s %s failed", method, parts.path)
            return exchange.status or 500, bytes(exchange.body)
        return exchange.status, bytes(exchange.body)

    def client(self, url: str, headers: Mapping[str, str], timeout: float) -> LoopbackClient:
        """A client POSTing to the path of `url` (the interface of pharos.agent.http.PushClient)."""
        return LoopbackClient(self, url, dict(headers), timeout)


class LoopbackClient:
    """POSTs bodies to one path of the app in this process."""

    def __init__(self, loopback: Loopback, url: str, headers: dict[str, str], timeout: float) -> None:
        self.loopback = loopback
        self.url = url
        self.headers = headers
        self.timeout = timeout

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send `body`; (status, the first 4 KiB of the response body)."""
        async with asyncio.timeout(self.timeout):
            status, text = await self.loopback.request("POST", self.url, body, self.headers)
        return status, text[:4096]

    def close(self) -> None:
        """Nothing to release (no connection)."""


class _Exchange:
    """The receive/send pair of one in-process request."""

    def __init__(self, body: bytes) -> None:
        self.request_body: bytes | None = body
        self.status = 0
        self.body = bytearray()
        self.done = asyncio.Event()

    async def receive(self) -> Message:
        if self.request_body is not None:
            body, self.request_body = self.request_body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self.done.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
            if not message.get("more_body", False):
                self.done.set()
