"""Start a server from command-line values: config, listener, runtime, then serve until stopped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from pharos.config.loader import ConfigError
from pharos.server.options import ServerOptions, load, parse_listen
from pharos.server.run import ListenError, bind, serve
from pharos.server.runtime import Runtime

log = logging.getLogger("pharos.server")

Announce = Callable[[str, Path, str], None]


class ServerError(Exception):
    """The server cannot start or stopped on a fatal error (message is one line or a few)."""


def run(
    *,
    mode: str,
    config: Path | None,
    data_dir: Path,
    listen: str,
    prometheus_config: Path | None = None,
    alertmanager_config: Path | None = None,
    agent_logs: list[str] | None = None,
    announce: Announce | None = None,
) -> None:
    """Run `pharos up` (mode "up": self-scrape without config) or `pharos server`."""
    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        raise ServerError(str(exc)) from None
    opts = ServerOptions(
        data_dir=data_dir,
        host=host,
        port=port,
        config_file=config,
        prometheus_config=prometheus_config,
        alertmanager_config=alertmanager_config,
        self_scrape=mode == "up",
        agent_logs=list(agent_logs or []),
        mode=mode,
    )
    try:
        loaded = load(opts)
    except ConfigError as exc:
        raise ServerError("\n".join(exc.messages)) from None
    for warning in loaded.warnings:
        log.warning("config: %s", warning)
    opts.tls = loaded.config.server.tls_server_config is not None
    try:
        sock = bind(host, port)
    except ListenError as exc:
        raise ServerError(str(exc)) from None
    runtime = Runtime(opts, loaded)
    if announce is not None:
        announce(opts.url, data_dir, str(config or prometheus_config or "built-in (scrapes itself)"))
    log.info("listening on %s, data in %s", opts.url, data_dir)
    serve(runtime, sock, log_level="warning")
    if runtime.startup_error:
        raise ServerError(runtime.startup_error)
