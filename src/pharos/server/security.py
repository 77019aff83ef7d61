"""The `server:` section at the door of every request: basic or bearer authentication, Loki's
`auth_enabled` (tenant-scoped APIs need X-Scope-OrgID), the request body cap, and the TLS
settings uvicorn serves with.

An ASGI middleware, so it also guards WebSocket handshakes (`/loki/api/v1/tail`). It reads the
runtime's current config on each request, so a reload changes credentials and limits; TLS is
read once, when the listener starts. Requests of pharos' own components made in-process
(`pharos.server.loopback`: the notifier, the embedded agent, Kubernetes events) need no
credentials and no X-Scope-OrgID; the body cap still applies.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pharos.config.model import ServerConfig
from pharos.server.inflate import BODY_LIMIT
from pharos.server.loopback import INTERNAL

if TYPE_CHECKING:
    from pharos.server.runtime import Runtime

# Probes (kubelet, load balancers) reach these without credentials; they reveal nothing else.
OPEN_PATHS = frozenset({"/-/healthy", "/-/ready"})
# The APIs whose data belongs to the X-Scope-OrgID tenant (Loki's, and its ruler's).
TENANT_PREFIXES = ("/loki/api/", "/api/prom/", "/prometheus/api/v1/")
# Config documents (rules, monitors, dashboards, silences) are small: a tighter cap than ingestion.
DOCUMENT_PREFIXES = ("/loki/api/v1/rules", "/api/prom/rules", "/api/pharos/v1/", "/api/v2/silences")
DOCUMENT_BODY_LIMIT = 8 << 20


class SecretError(Exception):
    """A configured password or token file cannot be read."""


@dataclass(frozen=True)
class Credentials:
    """What a request must present: a Basic user:password and/or a Bearer token (either passes)."""

    basic: bytes | None = None  # "user:password"
    bearer: bytes | None = None

    @property
    def required(self) -> bool:
        """Whether any credential is configured."""
        return self.basic is not None or self.bearer is not None

    def accepts(self, authorization: str) -> bool:
        """Whether an Authorization header value carries a configured credential."""
        scheme, _, value = authorization.strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme == "bearer" and self.bearer is not None:
            return hmac.compare_digest(value.encode(), self.bearer)
        if scheme == "basic" and self.basic is not None:
            try:
                decoded = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return False
            return hmac.compare_digest(decoded, self.basic)
        return False

    def challenge(self) -> str:
        """The WWW-Authenticate value of a 401 (Basic first, so browsers prompt for the UI)."""
        return 'Basic realm="pharos"' if self.basic is not None else 'Bearer realm="pharos"'


def _read_secret(path: str) -> bytes:
    try:
        return Path(path).read_bytes().strip()
    except OSError as exc:
        raise SecretError(f"cannot read {path}: {exc.strerror or exc}") from None


def credentials(server: ServerConfig) -> Credentials:
    """The credentials `server:` configures (secret files read now); SecretError if unreadable."""
    basic = bearer = None
    if (auth := server.basic_auth) is not None:
        password = _read_secret(auth.password_file) if auth.password_file else (auth.password or "").encode()
        basic = auth.username.encode() + b":" + password
    if server.bearer_token_file:
        bearer = _read_secret(server.bearer_token_file)
    elif server.bearer_token:
        bearer = server.bearer_token.encode()
    return Credentials(basic, bearer)


def ssl_options(server: ServerConfig) -> dict[str, Any]:
    """uvicorn.Config keyword arguments for `tls_server_config` (empty without TLS)."""
    import ssl

    tls = server.tls_server_config
    if tls is None:
        return {}
    options: dict[str, Any] = {"ssl_certfile": tls.cert_file, "ssl_keyfile": tls.key_file}
    if tls.client_ca_file:
        options |= {"ssl_ca_certs": tls.client_ca_file, "ssl_cert_reqs": ssl.CERT_REQUIRED}
    return options


def body_limit(server: ServerConfig, path: str) -> int:
    """The largest request body `path` accepts."""
    if path.startswith(DOCUMENT_PREFIXES):
        return min(server.max_request_body_size, DOCUMENT_BODY_LIMIT)
    return int(server.max_request_body_size)


class BodyTooLarge(BaseException):
    """A streamed body went past its cap: a BaseException, so that handlers answering any
    Exception in their own format let it through to the middleware, which answers 413."""


class SecurityMiddleware:
    """Authentication, X-Scope-OrgID under auth_enabled, and the body cap, before any route."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        self._server: ServerConfig | None = None
        self._credentials = Credentials()

    def _current(self) -> tuple[ServerConfig, Credentials]:
        server = self.runtime.loaded.config.server
        if server is not self._server:
            self._credentials = credentials(server)  # validated at load; a vanished file raises here
            self._server = server
        return server, self._credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            server, creds = self._current()
        except SecretError as exc:
            await _deny(scope, send, 500, f"authentication is misconfigured: {exc}")
            return
        denial = None if scope.get(INTERNAL) else _check(scope, server, creds)
        if denial is not None:
            status, message, headers = denial
            await _deny(scope, send, status, message, headers)
            return
        if scope["type"] == "http":
            await self._capped(scope, receive, send, body_limit(server, scope["path"]))
        else:
            await self.app(scope, receive, send)

    async def _capped(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app with a body no larger than `limit`: 413 instead of reading past it."""
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _deny(scope, send, 413, _too_large(limit))
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        token = BODY_LIMIT.set(limit)  # decompression stops at the same cap (pharos.server.inflate)
        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _deny(scope, send, 413, _too_large(limit))
        finally:
            BODY_LIMIT.reset(token)


def _too_large(limit: int) -> str:
    return f"request body too large: the limit is {limit} bytes (server.max_request_body_size)"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _check(scope: Scope, server: ServerConfig, creds: Credentials) -> tuple[int, str, dict[str, str]] | None:
    """Why the request may not pass (status, message, headers), or None."""
    path: str = scope["path"]
    if path in OPEN_PATHS:
        return None
    if creds.required and not creds.accepts(_header(scope, b"authorization") or ""):
        return 401, "Unauthorized", {"WWW-Authenticate": creds.challenge()}
    if (
        server.auth_enabled
        and path.startswith(TENANT_PREFIXES)
        and not (_header(scope, b"x-scope-orgid") or "").strip()
    ):
        return 401, "no org id", {}
    return None


async def _deny(
    scope: Scope, send: Send, status: int, message: str, headers: dict[str, str] | None = None
) -> None:
    """Answer `status` with a plain-text message; a WebSocket handshake is refused (uvicorn
    answers it 403: its denial-response path logs a spurious error)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    body = (message.rstrip("\n") + "\n").encode()
    raw = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def check_server_config(server: ServerConfig) -> None:
    """Read the secret files and load the TLS certificate now, so a bad one stops the start
    with one clear line (ValueError) instead of failing each request."""
    import ssl

    try:
        credentials(server)
    except SecretError as exc:
        raise ValueError(f"server: {exc}") from None
    tls = server.tls_server_config
    if tls is None:
        return
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls.cert_file, tls.key_file)
        if tls.client_ca_file:
            context.load_verify_locations(tls.client_ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"server.tls_server_config: cannot load {tls.cert_file} / {tls.key_file}: {exc}"
        ) from None
