"""Run the app under uvicorn (uvloop, httptools) with Prometheus's signal semantics:
SIGINT/SIGTERM stop cleanly (exit 0), SIGHUP reloads the config."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Generator

import uvicorn

from pharos.server.app import create_app
from pharos.server.runtime import ReloadError, Runtime
from pharos.server.security import ssl_options

log = logging.getLogger("pharos.server")


class ListenError(Exception):
    """The listener address cannot be bound."""


class _Server(uvicorn.Server):
    """uvicorn's server with our signal handlers (and no re-raise of the signal on exit)."""

    def __init__(self, config: uvicorn.Config, on_hup: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_hup = on_hup

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        loop.add_signal_handler(signal.SIGHUP, self._on_hup)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)


def bind(host: str, port: int) -> socket.socket:
    """Bind the listener before anything else, so a busy port is a clear one-line error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve(runtime: Runtime, sock: socket.socket, log_level: str = "warning") -> None:
    """Serve until SIGINT/SIGTERM; returns after a clean shutdown."""
    app = create_app(runtime)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        server_header=False,
        log_level=log_level,
        timeout_graceful_shutdown=5,
        **ssl_options(runtime.loaded.config.server),
    )
    reload_tasks: set[asyncio.Task[None]] = set()

    def on_hup() -> None:
        log.info("SIGHUP: reloading the configuration")
        task = asyncio.get_running_loop().create_task(_reload(runtime))
        reload_tasks.add(task)
        task.add_done_callback(reload_tasks.discard)

    server = _Server(config, on_hup)

    def on_fatal() -> None:
        server.should_exit = True

    runtime.on_fatal = on_fatal
    server.run(sockets=[sock])


async def _reload(runtime: Runtime) -> None:
    with contextlib.suppress(ReloadError):
        await runtime.reload()
