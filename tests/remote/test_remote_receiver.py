"""The remote-write receiver and remote read over real HTTP: bytes on the wire, values read back."""

from __future__ import annotations

import math

import cramjam
from live_server import append, read_all
from prom_proc import remote_read
from remote_helpers import Live

from pharos.metrics.model import STALE_NAN, is_stale_marker
from pharos.metrics.remote.schema import ReadRequest, ReadResponse, WriteRequest

T0 = 1_800_000_000_000
HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


def write_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    req = WriteRequest()
    for labels, samples in series:
        ts = req.timeseries.add()
        for name, value in sorted(labels.items()):
            ts.labels.add(name=name, value=value)
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def test_write_appends_and_answers_204(live: Live) -> None:
    body = write_request(
        [
            ({"__name__": "up", "job": "a", "instance": "h:1"}, [(T0, 1.0), (T0 + 15_000, 0.0)]),
            ({"__name__": "temp", "job": "a", "empty": ""}, [(T0, 21.5), (T0 + 15_000, STALE_NAN)]),
        ]
    )
    r = live.client.post("/api/v1/write", content=body, headers=HEADERS)
    assert (r.status_code, r.content) == (204, b"")
    got = read_all(live.runtime.tsdb)
    assert got[(("__name__", "up"), ("instance", "h:1"), ("job", "a"))] == [(T0, 1.0), (T0 + 15_000, 0.0)]
    temp = got[(("__name__", "temp"), ("job", "a"))]  # the empty label is no label
    assert temp[0] == (T0, 21.5) and is_stale_marker(temp[1][1])
    # the same request again is a no-op, not an error (retries after a lost answer)
    assert live.client.post("/api/v1/write", content=body, headers=HEADERS).status_code == 204


def test_bad_input_is_400_with_a_reason(live: Live) -> None:
    r = live.client.post("/api/v1/write", content=b"not snappy at all", headers=HEADERS)
    assert r.status_code == 400 and r.text.startswith("snappy: corrupt input")
    r = live.client.post(
        "/api/v1/write", content=bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff")), headers=HEADERS
    )
    assert r.status_code == 400 and r.text.startswith("cannot decode remote write request")
    r = live.client.post("/api/v1/write", content=write_request([({"__name__": "x", "a-b": "1"}, [(T0, 1)])]))
    assert r.status_code == 400 and "invalid label name 'a-b'" in r.text
    r = live.client.post("/api/v1/write", content=write_request([({}, [(T0, 1)])]))
    assert (r.status_code, r.text) == (400, "a series has no labels\n")


def test_out_of_order_window(live: Live) -> None:
    labels = {"__name__": "ooo", "job": "a"}
    assert (
        live.client.post("/api/v1/write", content=write_request([(labels, [(T0, 1.0)])])).status_code == 204
    )
    # 5 minutes back is inside the default 10m window; an hour back is not
    late = write_request([(labels, [(T0 - 300_000, 2.0)])])
    assert live.client.post("/api/v1/write", content=late).status_code == 204
    r = live.client.post("/api/v1/write", content=write_request([(labels, [(T0 - 3_600_000, 3.0)])]))
    assert r.status_code == 400 and r.text.startswith("out of order sample")
    got = read_all(live.runtime.tsdb, __name__="ooo")
    assert list(got.values()) == [[(T0 - 300_000, 2.0), (T0, 1.0)]]


def test_remote_read(live: Live) -> None:
    tsdb = live.runtime.tsdb
    append(tsdb, {"__name__": "rr", "job": "a", "i": "1"}, [T0, T0 + 1000, T0 + 2000], [1.0, 2.0, math.inf])
    append(tsdb, {"__name__": "rr", "job": "b", "i": "2"}, [T0], [5.0])
    append(tsdb, {"__name__": "other", "job": "a"}, [T0], [7.0])
    got = remote_read(live.url + "/api/v1/read", T0, T0 + 1000, "rr")
    assert got == {
        (("__name__", "rr"), ("i", "1"), ("job", "a")): [(T0, 1.0), (T0 + 1000, 2.0)],
        (("__name__", "rr"), ("i", "2"), ("job", "b")): [(T0, 5.0)],
    }
    # several queries, other matcher types; the answer is snappy protobuf
    req = ReadRequest()
    q = req.queries.add(start_timestamp_ms=T0, end_timestamp_ms=T0 + 5000)
    q.matchers.add(type=0, name="job", value="a")
    q.matchers.add(type=3, name="__name__", value="oth.*")
    q2 = req.queries.add(start_timestamp_ms=0, end_timestamp_ms=1)
    q2.matchers.add(type=1, name="job", value="zzz")
    r = live.client.post("/api/v1/read", content=bytes(cramjam.snappy.compress_raw(req.SerializeToString())))
    assert r.status_code == 200
    assert (r.headers["content-type"], r.headers["content-encoding"]) == ("application/x-protobuf", "snappy")
    resp = ReadResponse.FromString(bytes(cramjam.snappy.decompress_raw(r.content)))
    assert len(resp.results) == 2 and len(resp.results[1].timeseries) == 0  # nothing in [0, 1]
    (series,) = resp.results[0].timeseries
    assert [(lb.name, lb.value) for lb in series.labels] == [("__name__", "rr"), ("i", "1"), ("job", "a")]
    assert [s.value for s in series.samples] == [1.0, 2.0, math.inf]
    # a query without matchers is refused
    bad = ReadRequest()
    bad.queries.add(start_timestamp_ms=0, end_timestamp_ms=1)
    r = live.client.post("/api/v1/read", content=bytes(cramjam.snappy.compress_raw(bad.SerializeToString())))
    assert (r.status_code, r.text) == (400, "no matchers specified\n")
