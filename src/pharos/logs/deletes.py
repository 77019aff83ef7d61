"""Loki's log deletion API (`/loki/api/v1/delete`, the compactor's handler shapes).

POST adds a request (`query` = stream selector with optional line filters, `start`, `end` in unix
seconds or RFC3339). Its lines are hidden from queries at once; after
`delete_request_cancel_period` the request is processed: the lines are removed from head and
blocks and the request becomes `processed`. GET lists a tenant's requests; DELETE cancels one that
is still `received` (past the cancel period only with `force=true`). Requests are kept in
`<logs dir>/deletes.json`.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

import orjson

from pharos.logs.logql import ParseError, parse
from pharos.logs.logql import ast as A
from pharos.logs.logql.pipeline import matcher_test, plan
from pharos.storage.logs import LineFilter, LogStore
from pharos.storage.logs.store import Hidden, LabelMatch

MS = 1_000_000
RECEIVED, PROCESSED = "received", "processed"


class DeleteError(Exception):
    """A refused request: HTTP `status` and Loki's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class DeleteRequest:
    """One request; times in milliseconds as Loki keeps them (end inclusive)."""

    request_id: str
    tenant: str
    query: str
    start_ms: int
    end_ms: int
    created_ms: int
    status: str = RECEIVED

    def doc(self) -> dict[str, object]:
        """Loki's JSON shape (model.Time fields as seconds)."""
        return {"request_id": self.request_id, "start_time": _secs(self.start_ms), "end_time": _secs(self.end_ms),
                "query": self.query, "status": self.status, "created_at": _secs(self.created_ms)}


def _secs(ms: int) -> int | float:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def parse_delete_query(query: str) -> tuple[LabelMatch, tuple[LineFilter, ...]]:
    """Stream predicate and line filters of a deletion query."""
    try:
        expr = parse(query)
    except ParseError as exc:
        raise DeleteError(400, str(exc)) from None
    if not isinstance(expr, A.LogExpr):
        raise DeleteError(400, "invalid delete query: a log selector is required")
    if any(not isinstance(st, A.LineFilter) or st.ip for st in expr.stages):
        raise DeleteError(400, "invalid delete query: only line filters may follow the stream selector")
    tests = [matcher_test(m) for m in expr.matchers]
    return (lambda lb: all(t(lb) for t in tests)), tuple(plan(expr.stages).pushed)


def parse_delete_time(value: str, now_ms: int) -> int:
    """Loki's delete-time parameter (ms): RFC3339, else exactly 10 digits of unix seconds."""
    if value == "":
        return now_ms
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        pass
    if len(value) != 10:
        raise ValueError("not unix seconds")
    return int(float(value) * 1000)


def go_duration(ns: int) -> str:
    """Go's time.Duration.String() for whole seconds, e.g. `24h0m0s`."""
    secs = ns // 10**9
    h, rest = divmod(secs, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m}m{s}s" if h else (f"{m}m{s}s" if m else f"{s}s")


class DeleteManager:
    """Delete requests of all tenants over one log store."""

    def __init__(self, store: LogStore, cancel_period_ns: int = 24 * 3600 * 10**9) -> None:
        self.store = store
        self.cancel_period_ns = cancel_period_ns
        self.path = store.root / "deletes.json"
        self._lock = threading.Lock()
        self._requests: list[DeleteRequest] = []
        if self.path.exists():
            self._requests = [DeleteRequest(**d) for d in orjson.loads(self.path.read_bytes())]
        for tenant in {r.tenant for r in self._requests}:
            self._refresh(tenant)

    def _save(self) -> None:
        tmp = self.path.with_name(".tmp-deletes.json")
        tmp.write_bytes(orjson.dumps([asdict(r) for r in self._requests]))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.rename(tmp, self.path)

    def _refresh(self, tenant: str) -> None:
        hidden = []
        for r in self._requests:
            if r.tenant == tenant and r.status == RECEIVED:
                match, filters = parse_delete_query(r.query)
                hidden.append(Hidden(match, r.start_ms * MS, r.end_ms * MS + MS - 1, filters))
        self.store.set_hidden(tenant, hidden)

    def add(self, tenant: str, params: dict[str, str], now_ms: int | None = None) -> DeleteRequest:
        """Validate and record a request (Loki's messages on bad input)."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        query = params.get("query", "")
        if not query:
            raise DeleteError(400, "query not set")
        parse_delete_query(query)
        if not params.get("start"):
            raise DeleteError(400, "start time not set")
        try:
            start = parse_delete_time(params["start"], now_ms)
        except ValueError:
            raise DeleteError(400, "invalid start time: require unix seconds or RFC3339 format") from None
        try:
            end = parse_delete_time(params.get("end", ""), now_ms)
        except ValueError:
            raise DeleteError(400, "invalid end time: require unix seconds or RFC3339 format") from None
        if end > now_ms:
            raise DeleteError(400, "deletes in the future are not allowed")
        if start >= end:
            raise DeleteError(400, "start time can't be greater than or equal to end time")
        req = DeleteRequest(uuid.uuid4().hex[:8], tenant, query, start, end, now_ms)
        with self._lock:
            self._requests.append(req)
            self._save()
            self._refresh(tenant)
        return req

    def list(self, tenant: str) -> list[dict[str, object]]:
        """The tenant's requests, oldest first."""
        with self._lock:
            reqs = sorted((r for r in self._requests if r.tenant == tenant), key=lambda r: r.created_ms)
        return [r.doc() for r in reqs]

    def cancel(self, tenant: str, request_id: str, force: bool = False, now_ms: int | None = None) -> None:
        """Drop a request that is not processed yet."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._lock:
            req = next((r for r in self._requests if r.tenant == tenant and r.request_id == request_id), None)
            if req is None:
                raise DeleteError(404, "could not find delete request with given id")
            if req.status == PROCESSED:
                raise DeleteError(400, "deletion of request which is in process or already processed is not allowed")
            if req.created_ms * MS + self.cancel_period_ns < now_ms * MS and not force:
                raise DeleteError(400, "Cancellation of partially completed delete request or delete request past "
                                  f"the deadline of {go_duration(self.cancel_period_ns)} since its creation is not "
                                  "allowed. To force, use the ?force query parameter")
            self._requests.remove(req)
            self._save()
            self._refresh(tenant)

    def process(self, now_ms: int | None = None) -> int:
        """Apply requests past their cancel period to the store; returns how many."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        with self._lock:
            due = [r for r in self._requests
                   if r.status == RECEIVED and r.created_ms * MS + self.cancel_period_ns <= now_ms * MS]
        for r in due:
            match, filters = parse_delete_query(r.query)
            self.store.delete(r.tenant, match, r.start_ms * MS, r.end_ms * MS + MS - 1, filters)
            with self._lock:
                r.status = PROCESSED
                self._save()
                self._refresh(r.tenant)
        return len(due)

