"""`/loki/api/v1/push`: decode JSON or protobuf+snappy bodies (gzip/deflate/snappy encodings),
validate against the tenant's limits with Loki's messages, append to the store."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import orjson
from google.protobuf.message import DecodeError

from pharos.logs import limits as L
from pharos.logs.limits import Limits, LimitsConfig, RateLimiter
from pharos.logs.proto import PushRequest
from pharos.server.inflate import InflateError, inflate
from pharos.storage.logs import LogStore, StreamWrite, labels_key

_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_PAIR_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|\Z)')
_ESC = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


class PushError(Exception):
    """A push answered with `status` and Loki's `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class RawStream:
    """One stream as decoded from a request, before validation."""

    labels: str  # as sent (protobuf) or canonical (JSON map)
    ts: np.ndarray
    lines: list[str]
    meta: list[dict[str, str] | None] | None = None
    parsed: dict[str, str] | None = None


@dataclass
class PushResult:
    """Accepted line count and the errors of rejected lines (status 400/429 when any)."""

    accepted: int = 0
    errors: list[str] = field(default_factory=list)
    status: int = 204


def parse_labels(text: str) -> dict[str, str]:
    """Parse `{a="1", b="2"}`; ValueError with a parse message on bad input."""
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        raise ValueError(f"1:1: parse error: unexpected character: {s[:1]!r}, expected '{{'")
    body, pos, out = s[1:-1].strip(), 0, {}
    while pos < len(body):
        m = _PAIR_RE.match(body, pos)
        if not m:
            raise ValueError(f"1:{pos + 2}: parse error: unexpected input {body[pos:pos + 20]!r}")
        value = re.sub(r"\\(.)", lambda e: _ESC.get(e.group(1), e.group(1)), m.group(2))
        if m.group(1) in out:
            raise ValueError(f"duplicate label name: {m.group(1)}")
        out[m.group(1)] = value
        pos = m.end()
    return out


# -- decoding -----------------------------------------------------------------------------------
def decompress(body: bytes, encoding: str) -> bytes:
    """Undo a Content-Encoding (gzip, deflate, snappy, zstd)."""
    enc = encoding.strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "deflate", "snappy", "zstd"):
        raise PushError(415, f"Content-Encoding {encoding!r} not supported")
    try:
        return inflate(body, enc)
    except InflateError as exc:
        raise PushError(exc.status, exc.explain(f"failed to decompress {enc} body")) from None


def decode_push(body: bytes, content_type: str) -> list[RawStream]:
    """Streams of a push body (protobuf+snappy unless the content type says JSON)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json":
        return _decode_json(body)
    try:
        raw = inflate(body, "snappy")
    except InflateError as exc:
        raise PushError(exc.status, str(exc)) from None  # "snappy: corrupt input (...)" or the cap
    return _decode_proto(raw)


def _decode_proto(raw: bytes) -> list[RawStream]:
    req = PushRequest()
    try:
        req.ParseFromString(raw)
    except DecodeError as exc:
        raise PushError(400, f"unexpected error decoding protobuf: {exc}") from None
    out = []
    for s in req.streams:  # type: ignore[attr-defined]
        ents = s.entries
        ts = np.fromiter((e.timestamp.seconds * 1_000_000_000 + e.timestamp.nanos for e in ents), np.int64, len(ents))
        lines = [e.line for e in ents]
        meta = None
        if any(len(e.structuredMetadata) for e in ents):
            meta = [{p.name: p.value for p in e.structuredMetadata} or None for e in ents]
        out.append(RawStream(s.labels, ts, lines, meta))
    return out


def _decode_json(body: bytes) -> list[RawStream]:
    try:
        doc = orjson.loads(body)
        return [_json_stream(s) for s in doc["streams"]]
    except PushError:
        raise
    except Exception as exc:
        raise PushError(400, f"failed to parse JSON push body: {exc}") from None


def _json_stream(s: dict[str, object]) -> RawStream:
    if "stream" in s:
        parsed = {str(k): str(v) for k, v in dict(s["stream"]).items()}  # type: ignore[call-overload]
        labels = labels_key(parsed)
    else:
        parsed, labels = None, str(s.get("labels", ""))
    values = s.get("values")
    if values is None and "entries" in s:  # legacy {"ts": RFC3339, "line": ...}
        values = [[_legacy_ts(e["ts"]), e["line"]] for e in s["entries"]]  # type: ignore[attr-defined]
    vals: list[list[object]] = list(values or [])  # type: ignore[call-overload]
    ts = np.array([int(v[0]) for v in vals], dtype=np.int64)  # type: ignore[call-overload]
    lines = [str(v[1]) for v in vals]
    meta = None
    if any(len(v) > 2 and v[2] for v in vals):
        meta = [({str(k): str(x) for k, x in v[2].items()} or None) if len(v) > 2 and v[2] else None  # type: ignore[attr-defined]
                for v in vals]
    return RawStream(labels, ts, lines, meta, parsed)


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)\Z", re.I)


def _legacy_ts(value: object) -> int:
    """A legacy entry timestamp: RFC3339 with any offset and up to 9 fraction digits -> ns."""
    if isinstance(value, int | float):
        return int(value)
    m = _RFC3339.match(str(value).strip())
    if not m:
        raise ValueError(f"cannot parse timestamp {value!r} as RFC3339")
    tz = "+00:00" if m.group(3).upper() == "Z" else m.group(3)
    secs = int(datetime.fromisoformat(m.group(1) + tz).timestamp())
    return secs * 1_000_000_000 + int((m.group(2) or "0").ljust(9, "0"))


# -- validation ---------------------------------------------------------------------------------
def _check_labels(raw: RawStream, lim: Limits) -> tuple[dict[str, str], str]:
    """Parsed labels and canonical key, or ValueError(message) as Loki words it."""
    if raw.parsed is not None:
        labels = raw.parsed
        bad = next((k for k in labels if not _NAME_RE.match(k)), None)
        if bad is not None:
            raise ValueError(L.INVALID_LABELS.format(raw.labels, f"invalid label name {bad!r}"))
    else:
        try:
            labels = parse_labels(raw.labels)
        except ValueError as exc:
            raise ValueError(L.INVALID_LABELS.format(raw.labels, exc)) from None
    if not labels:
        raise ValueError(L.MISSING_LABELS)
    n = len(labels) - (1 if "service_name" in labels else 0)
    if n > lim.max_label_names_per_series:
        raise ValueError(L.TOO_MANY_LABELS.format(raw.labels, n, lim.max_label_names_per_series))
    for k in sorted(labels):
        if len(k) > lim.max_label_name_length:
            raise ValueError(L.NAME_TOO_LONG.format(raw.labels, k))
        if len(labels[k].encode()) > lim.max_label_value_length:
            raise ValueError(L.VALUE_TOO_LONG.format(raw.labels, labels[k]))
    return labels, labels_key(labels)


@dataclass
class _Valid:
    labels: dict[str, str]
    key: str
    ts: np.ndarray
    lines: list[str]
    meta: list[str | None] | None
    nbytes: int


def _entry_checks(raw: RawStream, key: str, lim: Limits, now_ns: int, errors: list[str]) -> np.ndarray:
    """Mask of entries passing Loki's per-entry validation; messages appended to `errors`."""
    n = len(raw.lines)
    keep = np.ones(n, dtype=bool)
    oldest = now_ns - lim.reject_old_samples_max_age_ns
    too_old = (raw.ts < oldest) if lim.reject_old_samples else np.zeros(n, dtype=bool)
    too_new = ~too_old & (raw.ts > now_ns + lim.creation_grace_period_ns)
    sizes = _utf8_sizes(raw.lines, lim.max_line_size)
    too_long = ~too_old & ~too_new & (sizes > lim.max_line_size) if lim.max_line_size else np.zeros(n, bool)
    for i in np.flatnonzero(too_old):
        errors.append(L.TOO_OLD.format(key, L.rfc3339(int(raw.ts[i])), L.rfc3339(oldest)))
    for i in np.flatnonzero(too_new):
        errors.append(L.TOO_NEW.format(key, L.rfc3339(int(raw.ts[i]))))
    if lim.max_line_size_truncate:
        for i in np.flatnonzero(too_long):
            raw.lines[i] = raw.lines[i].encode()[: lim.max_line_size].decode(errors="ignore")
        too_long[:] = False
    for i in np.flatnonzero(too_long):
        errors.append(L.LINE_TOO_LONG.format(lim.max_line_size, key, int(sizes[i])))
    keep &= ~(too_old | too_new | too_long)
    if raw.meta is not None:
        keep &= _meta_checks(raw, key, lim, keep, errors)
    return keep


def _utf8_sizes(lines: list[str], limit: int) -> np.ndarray:
    """UTF-8 sizes of the lines that could exceed `limit` bytes (a character takes at most 4);
    the others get their character count, which is no larger than the limit either."""
    sizes = np.fromiter(map(len, lines), np.int64, len(lines))
    for i in np.flatnonzero(sizes * 4 > limit) if limit else ():
        sizes[i] = len(lines[i].encode())
    return sizes


def _meta_checks(raw: RawStream, key: str, lim: Limits, keep: np.ndarray, errors: list[str]) -> np.ndarray:
    ok = np.ones(len(raw.lines), dtype=bool)
    for i, m in enumerate(raw.meta or []):
        if not m or not keep[i]:
            continue
        size = sum(len(k) + len(v) for k, v in m.items())
        if lim.max_structured_metadata_size and size > lim.max_structured_metadata_size:
            errors.append(L.SM_TOO_LARGE.format(key, size, lim.max_structured_metadata_size))
            ok[i] = False
        elif lim.max_structured_metadata_entries_count and len(m) > lim.max_structured_metadata_entries_count:
            errors.append(L.SM_TOO_MANY.format(key, len(m), lim.max_structured_metadata_entries_count))
            ok[i] = False
    return ok


def _order_checks(store: LogStore, tenant: str, raw: RawStream, key: str, lim: Limits,
                  keep: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Drop entries too far behind the stream's newest (unordered writes) and exact duplicates
    of the previous entry; returns the mask and ingester-style messages."""
    state = store.stream_state(tenant, key)
    newest, last = (state if state is not None else (-(2**62), None))
    newest = max(newest, -(2**62))
    ts = raw.ts
    idx = np.flatnonzero(keep)
    if not len(idx):
        return keep, []
    window = lim.max_chunk_age_ns // 2
    prior = np.maximum.accumulate(np.concatenate([[newest], ts[idx]]))[:-1]
    behind = ts[idx] < prior - window
    msgs = [
        f"entry with timestamp {L.go_time(int(ts[i]))} ignored, reason: '"
        + L.TOO_FAR_BEHIND.format(L.rfc3339(int(ts[i])), L.rfc3339(int(p - window))) + "',"
        for i, p in zip(idx[behind][:10], prior[behind][:10], strict=False)
    ]
    keep = keep.copy()
    keep[idx[behind]] = False
    _drop_duplicates(raw, keep, last)
    if msgs:
        msgs.append(f"user '{tenant}', total ignored: {int(behind.sum())} out of {len(ts)} for stream: {key}")
    return keep, msgs


def _drop_duplicates(raw: RawStream, keep: np.ndarray, last: tuple[int, str] | None) -> None:
    prev: tuple[int, str] | None = last
    for i in np.flatnonzero(keep):
        cur = (int(raw.ts[i]), raw.lines[i])
        if prev is not None and cur == prev:
            keep[i] = False
        prev = cur


def _select(raw: RawStream, labels: dict[str, str], key: str, keep: np.ndarray) -> _Valid:
    idx = np.flatnonzero(keep)
    lines = [raw.lines[i] for i in idx] if len(idx) != len(raw.lines) else raw.lines
    meta = None
    if raw.meta is not None:
        meta = [orjson.dumps(raw.meta[i]).decode() if raw.meta[i] else None for i in idx]
    nbytes = sum(map(len, lines)) + sum(len(m) for m in meta or [] if m)
    return _Valid(labels, key, raw.ts[idx], lines, meta, nbytes)


def push(store: LogStore, limits: LimitsConfig, rates: RateLimiter, tenant: str,
         streams: list[RawStream], now_ns: int | None = None) -> PushResult:
    """Validate and store; PushError(429) when the tenant's rate limit refuses the push."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    lim = limits.for_tenant(tenant)
    result = PushResult()
    valid: list[_Valid] = []
    for raw in streams:
        _validate_stream(store, tenant, raw, lim, now_ns, valid, result)
    total = sum(v.nbytes for v in valid)
    lines = sum(len(v.lines) for v in valid)
    rate, burst = lim.ingestion_rate_mb * L.MB, lim.ingestion_burst_size_mb * L.MB
    if total and not rates.allow(tenant, total, rate, burst):
        raise PushError(429, L.RATE_LIMITED.format(tenant, int(rate), lines, total))
    for v in valid:
        _stream_rate(rates, tenant, v, lim, result)
    writes = [StreamWrite(v.labels, v.ts, v.lines, v.meta) for v in valid if len(v.lines)]
    result.accepted = store.append(tenant, writes)
    if result.errors:
        result.status = 429 if result.status == 429 else 400
    return result


def _validate_stream(store: LogStore, tenant: str, raw: RawStream, lim: Limits, now_ns: int,
                     valid: list[_Valid], result: PushResult) -> None:
    try:
        labels, key = _check_labels(raw, lim)
    except ValueError as exc:
        result.errors.append(str(exc))
        return
    if not len(raw.lines):
        return
    if store.stream_state(tenant, key) is None and store.stream_count(tenant) >= lim.max_global_streams_per_user:
        result.errors.append(L.STREAM_LIMIT.format(key, tenant))
        result.status = 429
        return
    keep = _entry_checks(raw, key, lim, now_ns, result.errors)
    keep, msgs = _order_checks(store, tenant, raw, key, lim, keep)
    if msgs:
        result.errors.append("\n".join(msgs))
    valid.append(_select(raw, labels, key, keep))


def _stream_rate(rates: RateLimiter, tenant: str, v: _Valid, lim: Limits, result: PushResult) -> None:
    """Loki's per-stream limit: entries past the stream's token bucket are refused (429)."""
    rate, burst = lim.per_stream_rate_limit, lim.per_stream_rate_limit_burst
    if not rate or not len(v.lines):
        return
    key = f"{tenant}\x00{v.key}"
    if rates.allow(key, v.nbytes, rate, max(burst, rate)):
        return
    sizes = [len(x.encode()) for x in v.lines]
    n = rates.take(key, sizes, rate, max(burst, rate))
    result.errors.append(L.STREAM_RATE_LIMITED.format(L.human_bytes(rate), v.key, L.human_bytes(sum(sizes[n:]))))
    result.status = 429
    v.ts, v.lines = v.ts[:n], v.lines[:n]
    v.meta = v.meta[:n] if v.meta is not None else None
