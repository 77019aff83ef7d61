"""Scraping over HTTPS: ca_file, insecure_skip_verify, client certificates."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from aiohttp import web
from scrape_helpers import config, job, loops, points

from pharos.metrics.scrape.manager import ScrapeManager
from pharos.metrics.tsdb.db import TSDB

T0 = 1_700_000_000_000
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (also usable as its own CA)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


@pytest.fixture
async def https_target(tmp_path: Path):
    cert, key = make_cert(tmp_path, "server")
    client_cert, client_key = make_cert(tmp_path, "client")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(client_cert)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    seen: list[bool] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.transport.get_extra_info("peercert") is not None)
        return web.Response(text="secure_metric 1\n", content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    yield {"address": f"127.0.0.1:{runner.addresses[0][1]}", "ca": cert,
           "client_cert": client_cert, "client_key": client_key, "seen_client_cert": seen}
    await runner.cleanup()


async def scrape(tsdb: TSDB, address: str, tls: dict | None) -> str:
    m = ScrapeManager(tsdb, end_of_run_stale_delay=0)
    extra = {"tls_config": tls} if tls is not None else {}
    await m.apply_config(config(job("tls", address, scheme="https", **extra)))
    (lp,) = loops(m)
    await lp.stop()
    await lp.scrape_once(T0)
    error = lp.last_error
    await m.stop()
    return error


async def test_ca_file(tsdb: TSDB, https_target) -> None:
    assert await scrape(tsdb, https_target["address"], {"ca_file": str(https_target["ca"])}) == ""
    assert points(tsdb, "secure_metric")[0] == (T0, 1.0)


async def test_untrusted_certificate_fails(tsdb: TSDB, https_target) -> None:
    error = await scrape(tsdb, https_target["address"], None)
    assert error.startswith(f'Get "https://{https_target["address"]}/metrics"')
    assert "certificate" in error.lower()


async def test_insecure_skip_verify(tsdb: TSDB, https_target) -> None:
    assert await scrape(tsdb, https_target["address"], {"insecure_skip_verify": True}) == ""


async def test_client_certificate(tsdb: TSDB, https_target) -> None:
    tls = {"ca_file": str(https_target["ca"]), "cert_file": str(https_target["client_cert"]),
           "key_file": str(https_target["client_key"])}
    assert await scrape(tsdb, https_target["address"], tls) == ""
    assert https_target["seen_client_cert"] == [True]
