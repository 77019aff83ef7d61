"""Fixtures of the security tests: real servers on 127.0.0.1, stopped in teardown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sechelp import SecureServer, make_ca

Start = Callable[..., SecureServer]


@pytest.fixture(scope="module")
def start_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Start]:
    """Factory: start_module(config_text, ca=..., cert=..., auth=...) -> a ready SecureServer, kept for
    the module."""
    started: list[SecureServer] = []

    def start(config: str, **client: Any) -> SecureServer:
        server = SecureServer(tmp_path_factory.mktemp("pharos"), config, **client)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a 127.0.0.1 server certificate."""
    return make_ca(tmp_path_factory.mktemp("tls"))
