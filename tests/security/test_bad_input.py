"""Bad input on every POST/PUT route of a real `pharos server`: bodies over the cap are a 413
naming the limit (declared or streamed), garbage JSON / YAML / protobuf / snappy / gzip under any
content type is a 4xx with a message, never a 500, and whatever was accepted before is still
there afterwards."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator

import cramjam
import pytest
from sechelp import DASHBOARD, MONITOR, RULES, SILENCE, Call, SecureServer, push_line

from pharos.server.security import DOCUMENT_BODY_LIMIT

CAP = 256 * 1024
FORM = "application/x-www-form-urlencoded"
YAML = {"Content-Type": "application/yaml"}
GARBAGE = [
    b"",
    b"{",
    b"[1, 2",
    b"\x00\xff\xfe garbage \x80",
    b'{"streams": 5}',
    b"- a\n b: [",
    b"null",
    b"[]",
    b"\x0a\x05\x0a\x03",
    b"{}" * 10,
]
CONTENT_TYPES = [
    "application/json",
    "application/x-protobuf",
    "application/yaml",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
]
ENCODINGS = [None, "gzip", "snappy", "zstd"]
WRITES = [
    Call("POST", p)
    for p in (
        "/loki/api/v1/push",
        "/api/v1/write",
        "/api/v1/read",
        "/api/v1/otlp/v1/metrics",
        "/api/pharos/v1/dashboards",
        "/api/pharos/v1/monitors",
        "/api/v2/alerts",
        "/api/v2/silences",
        "/loki/api/v1/rules/ns",
        "/api/prom/rules/ns",
        "/api/pharos/v1/monitors/kept/mute",
        "/api/v1/query",
        "/api/v1/query_range",
        "/api/v1/series",
        "/api/v1/labels",
        "/api/v1/export",
        "/federate",
        "/loki/api/v1/query",
        "/loki/api/v1/query_range",
        "/loki/api/v1/delete",
        "/api/v1/rules",
        "/metrics/job/garbage",
    )
] + [
    Call("PUT", p)
    for p in (
        "/metrics/job/garbage",
        "/api/pharos/v1/dashboards/kept",
        "/api/pharos/v1/monitors/kept",
        "/loki/api/v1/delete",
    )
]


@pytest.fixture(scope="module")
def server(start_module) -> SecureServer:  # type: ignore[no-untyped-def]
    srv = start_module("server:\n  max_request_body_size: 256KB\n")
    c = srv.client
    assert push_line(c, "t1", {"app": "kept"}, "accepted before").status_code == 204
    assert c.put("/metrics/job/kept", content=b"kept_metric 42\n").status_code == 200
    assert c.post("/loki/api/v1/rules/kept", content=RULES, headers=YAML).status_code == 202
    assert c.post(
        "/api/pharos/v1/dashboards", json={"dashboard": {**DASHBOARD["dashboard"], "uid": "kept"}}
    ).is_success
    assert c.post("/api/pharos/v1/monitors", json={**MONITOR, "name": "kept"}).status_code == 201
    assert c.post("/api/v2/silences", json=SILENCE).status_code == 200
    return srv


def still_there(srv: SecureServer) -> None:
    """Everything the fixture stored answers as before."""
    c, now = srv.client, time.time_ns()
    r = c.get(
        "/loki/api/v1/query_range",
        params={"query": '{app="kept"}', "start": str(now - 3600 * 10**9), "end": str(now + 10**9)},
        headers={"X-Scope-OrgID": "t1"},
    )
    assert [v[1] for s in r.json()["data"]["result"] for v in s["values"]] == ["accepted before"]
    assert "kept_metric" in c.get("/api/v1/metrics").text
    assert "sec:lines:rate1m" in c.get("/loki/api/v1/rules/kept").text
    assert c.get("/api/pharos/v1/dashboards/kept").status_code == 200
    assert c.get("/api/pharos/v1/monitors/kept").json()["name"] == "kept"
    assert len(c.get("/api/v2/silences").json()) == 1


def encode(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "snappy":
        return bytes(cramjam.snappy.compress_raw(body))
    if encoding == "zstd":
        return bytes(cramjam.zstd.compress(body))
    return body


def test_garbage_is_a_clear_4xx_and_loses_nothing(server: SecureServer) -> None:
    failures = set()
    for call in WRITES:
        for ctype in CONTENT_TYPES:
            for body in GARBAGE:
                for encoding in ENCODINGS:
                    headers = {"Content-Type": ctype, **({"Content-Encoding": encoding} if encoding else {})}
                    r = call.send(server.client, content=encode(body, encoding), headers=headers)
                    if r.status_code >= 500 or (r.status_code >= 400 and not r.text.strip()):
                        failures.add((call.method, call.path, ctype, encoding, r.status_code, r.text[:100]))
    assert sorted(failures) == []
    still_there(server)


def chunks(total: int) -> Iterator[bytes]:
    """`total` bytes in 16 KiB chunks (sent without Content-Length)."""
    for _ in range(total // 16384):
        yield b"x" * 16384


@pytest.mark.parametrize("call", WRITES, ids=lambda c: f"{c.method} {c.path}")
def test_bodies_over_the_cap_are_413(server: SecureServer, call: Call) -> None:
    declared = call.send(server.client, content=b"x" * (CAP + 1))
    assert declared.status_code == 413, declared.text
    assert f"the limit is {CAP} bytes" in declared.text
    streamed = call.send(server.client, content=chunks(CAP + 65536), headers={"Content-Type": FORM})
    unread = call.send(
        server.client, content=b"", headers={"Content-Type": FORM}
    )  # a route may ignore bodies
    assert streamed.status_code == 413 or streamed.status_code == unread.status_code < 500, streamed.text
    assert call.send(server.client, content=b"x" * CAP).status_code != 413


def test_after_oversized_bodies_nothing_is_lost(server: SecureServer) -> None:
    still_there(server)


def test_compressed_bombs_are_refused(server: SecureServer) -> None:
    """A small compressed body that inflates far past the cap is not inflated into memory."""
    bomb = b'{"streams": [{"stream": {"app": "bomb"}, "values": [["1", "' + b"a" * (4 << 20) + b'"]]}]}'
    for encoding in ("gzip", "snappy", "zstd"):
        small = encode(bomb, encoding)
        assert len(small) < CAP
        r = server.client.post(
            "/loki/api/v1/push",
            content=small,
            headers={"Content-Type": "application/json", "Content-Encoding": encoding},
        )
        assert r.status_code == 413, (encoding, r.status_code, r.text[:200])
        assert f"decompressed body larger than the limit of {CAP} bytes" in r.text
    for path in ("/api/v1/write", "/loki/api/v1/push"):  # protobuf bodies: snappy without a header
        r = server.client.post(
            path, content=encode(bomb, "snappy"), headers={"Content-Type": "application/x-protobuf"}
        )
        assert 400 <= r.status_code < 500 and "decompressed body larger" in r.text, (path, r.text[:200])
    for path in ("/api/v1/otlp/v1/metrics", "/metrics/job/bomb"):
        r = server.client.post(path, content=encode(bomb, "gzip"), headers={"Content-Encoding": "gzip"})
        assert 400 <= r.status_code < 500 and "decompressed body larger" in r.text, (path, r.text[:200])
    still_there(server)


def test_config_documents_have_a_tighter_cap_than_ingestion(start_module) -> None:  # type: ignore[no-untyped-def]
    defaults = start_module("")
    big = b"#" * (DOCUMENT_BODY_LIMIT + 1)
    for path in (
        "/loki/api/v1/rules/ns",
        "/api/pharos/v1/monitors",
        "/api/pharos/v1/dashboards",
        "/api/v2/silences",
    ):
        r = defaults.client.post(path, content=big, headers=YAML)
        assert r.status_code == 413 and f"the limit is {DOCUMENT_BODY_LIMIT} bytes" in r.text, path
    pushed = defaults.client.post(
        "/loki/api/v1/push", content=big, headers={"Content-Type": "application/json"}
    )
    assert pushed.status_code == 400  # within the ingestion cap: parsed, and refused as bad JSON
