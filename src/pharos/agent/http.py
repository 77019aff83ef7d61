"""The agent's HTTP: a kept-alive client for the push endpoint and the small /metrics listener.

Both speak HTTP/1.1 through h11 on asyncio streams: the agent needs one POST target and three
GET routes, and aiohttp (with yarl, multidict and the TLS contexts it builds when imported)
would be about a quarter of an idle agent's memory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

import h11

if TYPE_CHECKING:
    from pharos.agent.webconfig import WebConfig

READ_SIZE = 64 << 10
KEEPALIVE_TIMEOUT = 75.0  # seconds an idle server connection is kept (aiohttp's default)
MAX_REQUEST_HEAD = 64 << 10


class Poster(Protocol):
    """What the shipper posts through: :class:`PushClient`, or in `pharos up` the server's app
    in-process (``pharos.server.loopback.LoopbackClient``)."""

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send ``body``; (status, the start of the response body)."""
        ...

    def close(self) -> None:
        """Release the connection, if any."""
        ...


Connect = Callable[[str, dict[str, str], float], Poster]  # (url, headers, timeout) -> Poster


class PushClient:
    """POSTs bodies to one URL over one kept-alive connection (reopened when it breaks).

    Errors are ``OSError`` (connection, TLS, a malformed or cut response) or ``TimeoutError``.
    """

    def __init__(self, url: str, headers: dict[str, str], timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"push URL {url!r}: expected http:// or https://HOST[:PORT]/PATH")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = parts.scheme == "https"
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.headers = [("Host", parts.netloc.rpartition("@")[2]), *headers.items()]
        if parts.username is not None:
            user = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self.headers.append(("Authorization", "Basic " + base64.b64encode(user).decode()))
        self.timeout = timeout
        self._ssl: ssl.SSLContext | None = None
        self._conn: tuple[asyncio.StreamReader, asyncio.StreamWriter, h11.Connection] | None = None

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send ``body``; returns (status, the first 4 KiB of the response body)."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(body)
        except BaseException:
            self.close()
            raise

    async def _exchange(self, body: bytes) -> tuple[int, bytes]:
        reader, writer, conn = await self._connection()
        request = h11.Request(
            method="POST", target=self.target, headers=[*self.headers, ("Content-Length", str(len(body)))]
        )
        try:
            writer.write(conn.send(request) or b"")
            writer.writelines(conn.send_with_data_passthrough(h11.Data(data=body)) or [])
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            status, text = await _read_response(conn, reader)
        except h11.ProtocolError as exc:
            raise ConnectionError(f"bad HTTP response: {exc}") from None
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        else:
            self.close()
        return status, text

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, h11.Connection]:
        if self._conn is not None and not self._conn[0].at_eof() and not self._conn[1].is_closing():
            return self._conn
        self.close()
        if self.tls and self._ssl is None:
            self._ssl = ssl.create_default_context()
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=self._ssl if self.tls else None
        )
        self._conn = (reader, writer, h11.Connection(h11.CLIENT))
        return self._conn

    def close(self) -> None:
        """Drop the connection (the next post opens a new one)."""
        if self._conn is not None:
            self._conn[1].close()
            self._conn = None


async def _read_response(conn: h11.Connection, reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status, text = 0, bytearray()
    while True:
        event = await _next_event(conn, reader)
        if isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            text += event.data[: 4096 - len(text)]
        elif isinstance(event, h11.EndOfMessage):
            return status, bytes(text)
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("connection closed before the response ended")


async def _next_event(conn: h11.Connection, reader: asyncio.StreamReader) -> object:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        conn.receive_data(await reader.read(READ_SIZE))


Handler = Callable[[], Awaitable[tuple[bytes, str]]]  # () -> (body, content type)


class MetricsServer:
    """Serves GET (and HEAD) routes, each a :data:`Handler`; 404 elsewhere, 405 for other methods.
    With a web config (``pharos.agent.webconfig``): https, and 401 without a configured user."""

    def __init__(self, routes: dict[str, Handler], web: WebConfig | None = None) -> None:
        self.routes = routes
        self.web = web
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``."""
        tls = self.web.ssl if self.web is not None else None
        self._server = await asyncio.start_server(self._serve, host, port, ssl=tls)

    async def close(self) -> None:
        """Stop listening and close open connections."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST_HEAD)
        self._writers.add(writer)
        try:
            while await self._one(conn, reader, writer):
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                _respond(conn, writer, exc.error_status_hint, f"bad request: {exc}\n".encode(), "text/plain")
                with contextlib.suppress(OSError):
                    await writer.drain()
        except (OSError, TimeoutError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _one(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; False when the connection is done."""
        async with asyncio.timeout(KEEPALIVE_TIMEOUT):
            request = await _next_event(conn, reader)
        if not isinstance(request, h11.Request):
            return False
        while not isinstance(await _next_event(conn, reader), h11.EndOfMessage | h11.ConnectionClosed):
            pass  # a body is read and ignored
        status, body, ctype = await self._answer(request)
        _respond(conn, writer, status, b"" if request.method == b"HEAD" else body, ctype, len(body))
        await writer.drain()
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE

    async def _answer(self, request: h11.Request) -> tuple[int, bytes, str]:
        if self.web is not None:
            denial = await _denial(self.web, request)
            if denial is not None:
                return denial
        handler = self.routes.get(request.target.split(b"?", 1)[0].decode("latin-1"))
        if handler is None:
            return 404, b"404: Not Found\n", "text/plain"
        if request.method not in (b"GET", b"HEAD"):
            return 405, b"405: Method Not Allowed\n", "text/plain"
        body, ctype = await handler()
        return 200, body, ctype


async def _denial(web: WebConfig, request: h11.Request) -> tuple[int, bytes, str] | None:
    """401 without a configured user's credentials (500 when the web config broke), or None."""
    authorization = next((v for k, v in request.headers if k == b"authorization"), None)
    try:
        if await web.authorized(authorization):
            return None
    except ValueError as exc:
        return 500, f"{exc}\n".encode(), "text/plain"
    return 401, b"Unauthorized\n", "text/plain"


def _respond(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    ctype: str,
    length: int | None = None,
) -> None:
    headers = [
        ("Content-Type", ctype if "charset" in ctype else f"{ctype}; charset=utf-8"),
        ("Content-Length", str(len(body) if length is None else length)),
        ("X-Content-Type-Options", "nosniff"),
    ]
    if status == 405:
        headers.append(("Allow", "GET, HEAD"))
    if status == 401:
        headers.append(("WWW-Authenticate", "Basic"))
    writer.write(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
    if body:
        writer.write(conn.send(h11.Data(data=body)) or b"")
    writer.write(conn.send(h11.EndOfMessage()) or b"")
