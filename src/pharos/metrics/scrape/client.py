"""The HTTP side of a scrape: one pooled aiohttp session per scrape pool, Prometheus's headers,
auth and TLS, gzip, the scrape timeout and the body size limit. `ssl_context` and
`auth_headers` are Prometheus's common HTTP client config, also used by the alert notifier."""

from __future__ import annotations

import asyncio
import base64
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from pharos import __version__
from pharos.metrics.exposition.parser import SCRAPE_ACCEPT_HEADER
from pharos.metrics.scrape.settings import HTTPSettings

USER_AGENT = f"Pharos/{__version__}"


class ScrapeError(Exception):
    """A failed scrape; the message is what /api/v1/targets shows as lastError."""


@dataclass
class Response:
    body: bytes  # uncompressed
    content_type: str | None


def make_session(http: HTTPSettings) -> aiohttp.ClientSession:
    """A pooled session for one scrape pool (keep-alive connections to every target)."""
    connector = aiohttp.TCPConnector(limit=0, ssl=ssl_context(http), enable_cleanup_closed=True)
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=True,
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def ssl_context(http: HTTPSettings) -> ssl.SSLContext | bool:
    """The client TLS context of `tls_config` (True: the system's trust, no client certificate)."""
    if not (http.tls_ca_file or http.tls_cert_file or http.tls_insecure_skip_verify):
        return True
    ctx = ssl.create_default_context(cafile=http.tls_ca_file)
    if http.tls_cert_file:
        ctx.load_cert_chain(http.tls_cert_file, http.tls_key_file)
    if http.tls_insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def request_headers(http: HTTPSettings, timeout: float) -> dict[str, str]:
    """Prometheus's scrape headers plus auth (credential files are re-read on every scrape)."""
    return {
        "Accept": SCRAPE_ACCEPT_HEADER,
        "Accept-Encoding": "gzip",
        "User-Agent": USER_AGENT,
        "X-Prometheus-Scrape-Timeout-Seconds": _format_seconds(timeout),
        **auth_headers(http),
    }


def auth_headers(http: HTTPSettings) -> dict[str, str]:
    """The Authorization header of `authorization` or `basic_auth` (secret files read now)."""
    if http.authorization is not None:
        kind, credentials, credentials_file = http.authorization
        secret = _read_secret(credentials_file) if credentials_file else (credentials or "")
        return {"Authorization": f"{kind} {secret}"}
    if http.basic_auth is not None:
        user, password, password_file = http.basic_auth
        secret = _read_secret(password_file) if password_file else (password or "")
        token = base64.b64encode(f"{user}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


def _read_secret(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise ScrapeError(f"unable to read secret file {path}: {exc}") from None


def _format_seconds(seconds: float) -> str:
    return f"{seconds:g}" if seconds != int(seconds) else str(int(seconds))


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    http: HTTPSettings,
    timeout: float,
    body_size_limit: int,
) -> Response:
    """GET `url`; raise ScrapeError with Prometheus's wording on any failure."""
    try:
        headers = request_headers(http, timeout)
        async with asyncio.timeout(timeout):
            async with session.get(
                url,
                headers=headers,
                server_hostname=http.tls_server_name,
                allow_redirects=True,
            ) as resp:
                if resp.status != 200:
                    raise ScrapeError(f"server returned HTTP status {resp.status} {resp.reason or ''}".rstrip())
                body = await _read_body(resp, body_size_limit)
                return Response(body=body, content_type=resp.headers.get("Content-Type"))
    except TimeoutError:
        raise ScrapeError(f'Get "{url}": context deadline exceeded') from None
    except aiohttp.ClientError as exc:
        raise ScrapeError(f'Get "{url}": {_describe(exc)}') from None
    except OSError as exc:
        raise ScrapeError(f'Get "{url}": {exc}') from None


async def _read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The uncompressed body; past `limit` bytes, stop reading and fail (as Prometheus)."""
    if limit <= 0:
        return await resp.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        size += len(chunk)
        if size >= limit:
            raise ScrapeError("body size limit exceeded")
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = "connection refused" if isinstance(exc.os_error, ConnectionRefusedError) else str(exc.os_error)
        return f"dial tcp {exc.host}:{exc.port}: connect: {reason}"
    return str(exc) or type(exc).__name__
