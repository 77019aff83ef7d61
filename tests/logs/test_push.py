"""Push endpoint: JSON, protobuf+snappy, gzip, structured metadata, limits, tenants."""

from __future__ import annotations

import gzip
import struct

import cramjam
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from loghelp import NS, now_ns, serve

from pharos.logs.limits import Limits, LimitsConfig


# -- a hand-made protobuf encoder for Loki's logproto.PushRequest (independent of pharos) ------
def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, wire: int, payload: bytes | int) -> bytes:
    key = _varint(num << 3 | wire)
    if wire == 0:
        return key + _varint(int(payload))  # type: ignore[arg-type]
    assert isinstance(payload, bytes)
    return key + _varint(len(payload)) + payload


def pb_push(streams: list[tuple[str, list[tuple[int, str, dict[str, str]]]]]) -> bytes:
    """PushRequest{streams: [StreamAdapter{labels, entries: [EntryAdapter{timestamp, line, sm}]}]}."""
    body = b""
    for labels, entries in streams:
        s = _field(1, 2, labels.encode())
        for ts, line, sm in entries:
            stamp = _field(1, 0, ts // NS) + (_field(2, 0, ts % NS) if ts % NS else b"")
            e = _field(1, 2, stamp) + _field(2, 2, line.encode())
            for k, v in sm.items():
                e += _field(3, 2, _field(1, 2, k.encode()) + _field(2, 2, v.encode()))
            s += _field(2, 2, e)
        body += _field(1, 2, s)
    return body


def _lines(server, query: str, t0: int, tenant: str | None = None) -> list[tuple[dict, str, str]]:
    r = server.get("/loki/api/v1/query_range", tenant=tenant, query=query, start=t0 - NS,
                   end=t0 + 100 * NS, direction="forward", limit=1000)
    assert r.status_code == 200, r.text
    return [(s["stream"], v[0], v[1]) for s in r.json()["data"]["result"] for v in s["values"]]


def test_json_push_with_structured_metadata(server):
    t0 = now_ns()
    r = server.push([{"stream": {"job": "j"}, "values": [[str(t0), "plain"], [str(t0 + 1), "with", {"trace_id": "abc"}]]}])
    assert r.status_code == 204, r.text
    got = sorted(_lines(server, '{job="j"}', t0), key=lambda x: x[1])
    assert got == [({"job": "j"}, str(t0), "plain"), ({"job": "j", "trace_id": "abc"}, str(t0 + 1), "with")]
    got = _lines(server, '{job="j"} | trace_id="abc"', t0)
    assert [x[2] for x in got] == ["with"]


def test_protobuf_snappy_push(server):
    t0 = now_ns()
    body = pb_push([('{app="pb", env="prod"}', [(t0 + 5, "first", {}), (t0 + NS, "second", {"user": "u1"})])])
    r = server.client.post("/loki/api/v1/push", content=bytes(cramjam.snappy.compress_raw(body)),
                           headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 204, r.text
    got = _lines(server, '{app="pb"}', t0)
    assert got == [({"app": "pb", "env": "prod"}, str(t0 + 5), "first"),
                   ({"app": "pb", "env": "prod", "user": "u1"}, str(t0 + NS), "second")]


def test_gzip_json_push(server):
    t0 = now_ns()
    doc = {"streams": [{"stream": {"app": "gz"}, "values": [[str(t0), "zipped"]]}]}
    r = server.client.post("/loki/api/v1/push", content=gzip.compress(orjson.dumps(doc)),
                           headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status_code == 204, r.text
    assert [x[2] for x in _lines(server, '{app="gz"}', t0)] == ["zipped"]


def test_tenants_are_isolated(server):
    t0 = now_ns()
    assert server.push([{"stream": {"app": "a", "secret": "x"}, "values": [[str(t0), "A"]]}], tenant="t1").status_code == 204
    assert server.push([{"stream": {"app": "b"}, "values": [[str(t0), "B"]]}], tenant="t2").status_code == 204
    assert [x[2] for x in _lines(server, '{app=~".+"}', t0, tenant="t1")] == ["A"]
    assert [x[2] for x in _lines(server, '{app=~".+"}', t0, tenant="t2")] == ["B"]
    assert _lines(server, '{app=~".+"}', t0) == []  # default tenant "fake"
    r = server.get("/loki/api/v1/labels", tenant="t2", start=t0 - NS, end=t0 + NS)
    assert r.json()["data"] == ["app"]
    r = server.get("/loki/api/v1/label/app/values", tenant="t1", start=t0 - NS, end=t0 + NS)
    assert r.json()["data"] == ["a"]
    r = server.get("/loki/api/v1/index/volume", tenant="t2", query='{app=~".+"}', start=t0 - NS, end=t0 + NS)
    assert [x["metric"] for x in r.json()["data"]["result"]] == [{"app": "b"}]


def test_invalid_tenant_rejected(server):
    for bad in ("..", "a/b", "x" * 151):
        r = server.push([{"stream": {"a": "b"}, "values": [[str(now_ns()), "l"]]}], tenant=bad)
        assert r.status_code == 400, bad
    assert not any(p.name == ".." for p in (server.store.root / "tenants").iterdir())


def test_line_too_long_message(server):
    t0 = now_ns()
    line = "x" * (256 * 1024 + 1)
    r = server.push([{"stream": {"app": "big"}, "values": [[str(t0), line], [str(t0 + 1), "ok"]]}])
    assert r.status_code == 400
    assert r.text.strip() == (f"Max entry size '262144' bytes exceeded for stream '{{app=\"big\"}}' while adding "
                              f"an entry with length '{len(line)}' bytes")
    assert [x[2] for x in _lines(server, '{app="big"}', t0)] == ["ok"]  # the valid line is kept


def test_too_many_labels_and_long_names(server):
    labels = {f"l{i}": "v" for i in range(16)}
    r = server.push([{"stream": labels, "values": [[str(now_ns()), "x"]]}])
    assert r.status_code == 400
    key = "{" + ", ".join(f'{k}="v"' for k in sorted(labels)) + "}"
    assert r.text.strip() == f"entry for stream '{key}' has 16 label names; limit 15"
    r = server.push([{"stream": {"a": "v" * 2049}, "values": [[str(now_ns()), "x"]]}])
    assert r.status_code == 400 and "has label value too long" in r.text


def test_old_and_future_samples(server):
    r = server.push([{"stream": {"app": "old"}, "values": [["1000000000", "ancient"]]}])
    assert r.status_code == 400
    assert r.text.startswith("entry for stream '{app=\"old\"}' has timestamp too old: 1970-01-01T00:00:01Z, ")
    future = now_ns() + 3600 * NS
    r = server.push([{"stream": {"app": "new"}, "values": [[str(future), "future"]]}])
    assert r.status_code == 400 and "has timestamp too new" in r.text


def test_too_far_behind(server):
    t0 = now_ns()
    assert server.push([{"stream": {"app": "ooo"}, "values": [[str(t0), "new"]]}]).status_code == 204
    behind = t0 - 2 * 3600 * NS
    r = server.push([{"stream": {"app": "ooo"}, "values": [[str(behind), "late"], [str(t0 - NS), "fine"]]}])
    assert r.status_code == 400
    assert "entry too far behind" in r.text
    assert r.text.strip().endswith("user 'fake', total ignored: 1 out of 2 for stream: {app=\"ooo\"}")
    assert sorted(x[2] for x in _lines(server, '{app="ooo"}', t0 - 2 * NS)) == ["fine", "new"]


def test_duplicates_dropped(server):
    t0 = now_ns()
    for _ in range(2):
        assert server.push([{"stream": {"app": "dup"}, "values": [[str(t0), "same"]]}]).status_code == 204
    assert len(_lines(server, '{app="dup"}', t0)) == 1


def test_rate_limit_429(store):
    limits = LimitsConfig(overrides={"small": {"ingestion_rate_mb": 0.001, "ingestion_burst_size_mb": 0.001}})
    for srv in serve(store, limits):
        line = "y" * 2000
        r = srv.push([{"stream": {"app": "r"}, "values": [[str(now_ns()), line]]}], tenant="small")
        assert r.status_code == 429
        limit = int(0.001 * 1024 * 1024)
        assert r.text.strip() == (f"Ingestion rate limit exceeded for user small (limit: {limit} bytes/sec) while "
                                  "attempting to ingest '1' lines totaling '2000' bytes, reduce log volume or "
                                  "contact your Loki administrator to see if the limit can be increased")
        # other tenants are unaffected
        assert srv.push([{"stream": {"app": "r"}, "values": [[str(now_ns()), line]]}]).status_code == 204


def test_stream_limit(store):
    limits = LimitsConfig(defaults=Limits(max_global_streams_per_user=2))
    for srv in serve(store, limits):
        t0 = now_ns()
        for i in range(2):
            assert srv.push([{"stream": {"s": str(i)}, "values": [[str(t0), "x"]]}]).status_code == 204
        r = srv.push([{"stream": {"s": "9"}, "values": [[str(t0), "x"]]}])
        assert r.status_code == 429
        assert "Maximum active stream limit exceeded when trying to create stream {s=\"9\"}" in r.text


def test_bad_bodies(server):
    r = server.client.post("/loki/api/v1/push", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = server.client.post("/loki/api/v1/push", content=b"\x00garbage", headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400
    r = server.push([{"stream": {}, "values": [[str(now_ns()), "x"]]}])
    assert r.status_code == 400 and r.text.strip() == "error at least one label pair is required per stream"
    body = pb_push([("{bad labels", [(now_ns(), "x", {})])])
    r = server.client.post("/loki/api/v1/push", content=bytes(cramjam.snappy.compress_raw(body)),
                           headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400 and r.text.startswith("Error parsing labels '{bad labels' with error:")
    assert struct  # keep import used


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=20), st.integers(1, 120))
def test_line_sizes_flag_exactly_the_lines_over_the_limit(lines, limit):
    """Only lines of more than limit/4 characters are encoded to be measured; the verdict and
    the reported size of every line over the limit are exact."""
    from pharos.logs.push import _utf8_sizes

    sizes = _utf8_sizes(lines, limit)
    for line, size in zip(lines, sizes, strict=True):
        real = len(line.encode())
        assert (size > limit) == (real > limit)
        if real > limit:
            assert size == real
