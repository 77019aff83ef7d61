"""Send alerts to Alertmanagers (API v2), as Prometheus's notifier does.

Alerts due from the rule groups are queued (bounded: the oldest are dropped and counted when
full), external labels are added where the alert lacks them, `alert_relabel_configs` are
applied, and batches of up to 64 alerts are POSTed as JSON to `/api/v2/alerts` of every
configured Alertmanager concurrently. Each `alerting.alertmanagers` entry has Prometheus's HTTP
client config (basic_auth with password_file, authorization / bearer_token[_file], tls_config),
through the scrape client's code. pharos' own Alertmanager is reached in-process
(`pharos.server.loopback`), so the server's authentication and TLS do not stand in the way.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import ssl
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from pharos.config.model import AlertingConfig, AlertmanagerEndpointConfig
from pharos.metrics.api.responses import go_time
from pharos.metrics.scrape.client import auth_headers, ssl_context
from pharos.metrics.scrape.relabel import Relabeler, compile_relabel
from pharos.metrics.scrape.settings import HTTPSettings, http_settings
from pharos.rules.rule import Alert
from pharos.server.loopback import Loopback
from pharos.tasks import cancel

log = logging.getLogger("pharos.rules.notifier")
MAX_BATCH = 64
DEFAULT_QUEUE_CAPACITY = 10_000


@dataclass
class Endpoint:
    """One Alertmanager: its URL and client settings, or the app in this process."""

    url: str
    timeout_s: float = 10.0
    http: HTTPSettings = field(default_factory=HTTPSettings)
    loopback: Loopback | None = None  # pharos' own Alertmanager: posted in-process
    sent: int = 0
    errors: int = 0
    _ssl: ssl.SSLContext | bool | None = field(default=None, init=False, repr=False)

    def tls(self) -> ssl.SSLContext | bool:
        """The TLS context of `tls_config` (built at the first send: a bad file fails sends)."""
        if self._ssl is None:
            self._ssl = ssl_context(self.http)
        return self._ssl


def endpoints_from_config(alerting: AlertingConfig | None) -> list[Endpoint]:
    """The Alertmanager URLs of `alerting.alertmanagers` (static targets)."""
    out: list[Endpoint] = []
    for am in alerting.alertmanagers if alerting else []:
        for sc in am.static_configs:
            for target in sc.targets:
                out.append(_endpoint(am, target))
    return out


def _endpoint(am: AlertmanagerEndpointConfig, target: str) -> Endpoint:
    prefix = "/" + am.path_prefix.strip("/") if am.path_prefix.strip("/") else ""
    return Endpoint(f"{am.scheme}://{target}{prefix}/api/v2/alerts", am.timeout, http_settings(am))


def table_link(expr: str) -> str:
    """Prometheus's generator link for an expression."""
    return "/graph?g0.expr=" + urllib.parse.quote_plus(expr) + "&g0.tab=1"


def alert_json(a: Alert, expr: str, external_url: str) -> dict[str, Any]:
    """An alert as Prometheus posts it (times are RFC 3339)."""
    ends = a.resolved_at or a.valid_until
    return {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "startsAt": go_time(a.fired_at / 1000),
        "endsAt": go_time(ends / 1000),
        "generatorURL": external_url + table_link(expr),
    }


class Notifier:
    """A bounded queue of alerts and the task delivering them."""

    def __init__(self, capacity: int = DEFAULT_QUEUE_CAPACITY) -> None:
        self.capacity = capacity
        self.queue: collections.deque[dict[str, Any]] = collections.deque()
        self.lock = threading.Lock()
        self.dropped = 0
        self.endpoints: list[Endpoint] = []
        self.external_labels: dict[str, str] = {}
        self.relabel: Relabeler = compile_relabel([])
        self.external_url = ""
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def configure(
        self,
        alerting: AlertingConfig | None,
        external_labels: dict[str, str],
        external_url: str,
        builtin: list[Endpoint] | None = None,
    ) -> None:
        """Take the Alertmanagers, relabelling and external labels of a (re)loaded config;
        `builtin` are pharos' own (see pharos.rules.component.builtin_alertmanagers)."""
        eps = endpoints_from_config(alerting) + list(builtin or [])
        old = {e.url: e for e in self.endpoints}
        for e in eps:
            if e.url in old:
                e.sent, e.errors = old[e.url].sent, old[e.url].errors
        self.endpoints = eps
        self.external_labels = dict(external_labels)
        self.relabel = compile_relabel(alerting.alert_relabel_configs if alerting else [])
        self.external_url = external_url

    # -- producer side (any thread) ------------------------------------------------------------
    def send(self, expr: str, alerts: list[Alert]) -> None:
        """Queue alerts from a rule evaluation (thread-safe); with no Alertmanager configured
        they are dropped here, as Prometheus's notifier drops them."""
        if not self.endpoints:
            return
        items = [x for a in alerts if (x := self._prepare(a, expr)) is not None]
        if not items:
            return
        with self.lock:
            self.queue.extend(items)
            overflow = len(self.queue) - self.capacity
            for _ in range(max(overflow, 0)):
                self.queue.popleft()
            self.dropped += max(overflow, 0)
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _prepare(self, a: Alert, expr: str) -> dict[str, Any] | None:
        doc = alert_json(a, expr, self.external_url)
        labels = {
            **{k: v for k, v in self.external_labels.items() if k not in doc["labels"]},
            **doc["labels"],
        }
        relabelled = self.relabel.apply_dict(labels)
        if relabelled is None or not relabelled:
            return None
        doc["labels"] = relabelled
        return doc

    def pending(self) -> int:
        """Alerts waiting in the queue."""
        with self.lock:
            return len(self.queue)

    # -- delivery -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the delivery task on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="pharos-notifier")

    async def stop(self) -> None:
        """Deliver what is queued (briefly), then stop."""
        await cancel(self._task)
        self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Send everything queued now, in batches."""
        while True:
            with self.lock:
                batch = [self.queue.popleft() for _ in range(min(MAX_BATCH, len(self.queue)))]
            if not batch:
                return
            await self._deliver(batch)

    async def _deliver(self, batch: list[dict[str, Any]]) -> None:
        if not self.endpoints:
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        body = orjson.dumps(batch)
        await asyncio.gather(*(self._post(ep, body, len(batch)) for ep in self.endpoints))

    async def _post(self, ep: Endpoint, body: bytes, n: int) -> None:
        headers = {"Content-Type": "application/json", "User-Agent": "pharos"}
        try:
            if ep.loopback is not None:
                async with asyncio.timeout(ep.timeout_s):
                    status, _ = await ep.loopback.request("POST", ep.url, body, headers)
            else:
                status = await self._post_http(ep, body, headers)
            if status // 100 != 2:
                raise RuntimeError(f"bad response status {status}")
            ep.sent += n
        except Exception as exc:
            ep.errors += n
            log.warning("sending %d alerts to %s failed: %s", n, ep.url, exc)

    async def _post_http(self, ep: Endpoint, body: bytes, headers: dict[str, str]) -> int:
        assert self._session is not None
        async with self._session.post(
            ep.url,
            data=body,
            headers=headers | auth_headers(ep.http),
            ssl=ep.tls(),
            server_hostname=ep.http.tls_server_name,
            timeout=aiohttp.ClientTimeout(total=ep.timeout_s),
        ) as resp:
            return resp.status
