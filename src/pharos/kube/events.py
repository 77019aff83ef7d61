"""Kubernetes events into the log store: one stream per (namespace, kind, reason).

Events live about an hour in the API; operators want them kept. The collector watches
``/api/v1/events`` cluster-wide and pushes each new or repeated event (``count`` grew) as one
logfmt line to a Loki push endpoint, batched: in the server, its own ``/loki/api/v1/push``
in-process (``connect`` is the runtime's loopback), so the server's auth and TLS do not apply.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pharos.agent.http import Connect, PushClient
from pharos.kube.store import Informer
from pharos.kube.watch import KubeConfig
from pharos.tasks import cancel

log = logging.getLogger(__name__)

Obj = dict[str, Any]
PUSH_TIMEOUT = 30.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_time_ns(ev: Obj) -> int:
    """The event's latest time (lastTimestamp, eventTime, firstTimestamp, creation), in ns."""
    m = ev.get("metadata") or {}
    for text in (ev.get("lastTimestamp"), (ev.get("series") or {}).get("lastObservedTime"),
                 ev.get("eventTime"), ev.get("firstTimestamp"), m.get("creationTimestamp")):
        if text:
            try:
                when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
                return (when - _EPOCH) // timedelta(microseconds=1) * 1000
            except ValueError:
                continue
    return 0


def _logfmt_value(value: Any) -> str:
    text = "" if value is None else str(value)
    if text and not any(c in text for c in ' "=\n\t\\'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def event_entry(ev: Obj) -> tuple[dict[str, str], int, str]:
    """(stream labels, timestamp ns, logfmt line) of one event."""
    involved = ev.get("involvedObject") or ev.get("regarding") or {}
    m = ev.get("metadata") or {}
    labels = {
        "namespace": str(involved.get("namespace") or m.get("namespace") or ""),
        "kind": str(involved.get("kind") or ""),
        "reason": str(ev.get("reason") or ""),
    }
    source = ev.get("source") or {}
    fields = {
        "type": ev.get("type"),
        "object": f"{involved.get('kind', '')}/{involved.get('name', '')}",
        "count": ev.get("count") or (ev.get("series") or {}).get("count") or 1,
        "source": source.get("component") or ev.get("reportingComponent") or ev.get("reportingController"),
        "host": source.get("host"),
        "msg": ev.get("message") or ev.get("note"),
    }
    line = " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items() if v not in (None, ""))
    return {k: v for k, v in labels.items() if v}, event_time_ns(ev) or 0, line


class EventCollector:
    """Watches events and pushes them, in batches, to a Loki push URL."""

    def __init__(self, config: KubeConfig, push_url: str, *, flush_interval: float = 1.0,
                 tenant: str | None = None, connect: Connect = PushClient, **watch_kw: Any) -> None:
        self.push_url = push_url
        headers = {"Content-Type": "application/json", **({"X-Scope-OrgID": tenant} if tenant else {})}
        self._client = connect(push_url, headers, PUSH_TIMEOUT)
        self.flush_interval = flush_interval
        self.tenant = tenant
        self.informer = Informer(config, ["/api/v1/events"], **watch_kw)
        self.informer.handlers.append(self._on_event)
        self.pending: list[tuple[dict[str, str], int, str]] = []
        self.seen: dict[str, Any] = {}  # uid -> last count reported
        self.pushed = 0
        self.push_errors = 0
        self._task: asyncio.Task[None] | None = None

    def _on_event(self, kind: str, ev: Obj, _old: Obj | None) -> None:
        if kind == "DELETED":
            self.seen.pop((ev.get("metadata") or {}).get("uid", ""), None)
            return
        uid = (ev.get("metadata") or {}).get("uid") or (ev.get("metadata") or {}).get("name", "")
        count = ev.get("count") or (ev.get("series") or {}).get("count") or 1
        if self.seen.get(uid) == count:
            return
        self.seen[uid] = count
        labels, ts, line = event_entry(ev)
        self.pending.append((labels, ts or _now_ns(), line))

    def start(self) -> None:
        self.informer.start()
        self._task = asyncio.create_task(self._flush_loop(), name="kubernetes events")

    async def stop(self) -> None:
        await cancel(self._task)
        await self.informer.stop()

    def errors(self) -> list[str]:
        return self.informer.errors()

    async def _flush_loop(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.flush_interval)
                await self.flush()
        finally:
            self._client.close()

    async def flush(self) -> None:
        """Push what is pending; on failure keep it for the next round (a 400 drops it)."""
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        streams: dict[bytes, dict[str, Any]] = {}
        for labels, ts, line in sorted(batch, key=lambda e: e[1]):
            key = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)
            streams.setdefault(key, {"stream": labels, "values": []})["values"].append([str(ts), line])
        try:
            status, _ = await self._client.post(orjson.dumps({"streams": list(streams.values())}))
            if status >= 300 and status != 400:
                raise ConnectionError(f"HTTP {status}")
            self.pushed += len(batch)
        except (OSError, TimeoutError) as exc:
            self.push_errors += 1
            log.warning("kubernetes events: push to %s failed: %s (will retry)", self.push_url, exc)
            self.pending = batch + self.pending


def _now_ns() -> int:
    import time

    return time.time_ns()
