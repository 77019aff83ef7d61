"""Pushgateway semantics over real HTTP: status codes and bodies, the status JSON, ingestion into
the TSDB, persistence across restarts, TTL and wipe."""

from __future__ import annotations

import math
import time
from pathlib import Path

from live_server import read_all
from pgw_helpers import Pgw, start_pgw, stop_pgw

from pharos.metrics.model import is_stale_marker
from pharos.metrics.pushgateway.gofloat import go_g

PREFIX = "pushed metrics are invalid or inconsistent with existing metrics: "


def groups(p: Pgw) -> dict[tuple[tuple[str, str], ...], dict]:
    body = p.client.get("/api/v1/metrics").json()
    assert body["status"] == "success"
    return {tuple(sorted(g["labels"].items())): g for g in body["data"]}


def values(group: dict, name: str) -> dict[tuple[tuple[str, str], ...], str]:
    return {tuple(sorted(m["labels"].items())): m["value"] for m in group[name]["metrics"]}


def test_put_post_delete(pgw: Pgw) -> None:
    r = pgw.client.put(
        "/metrics/job/j1/instance/i1", content=b'# TYPE a counter\n# HELP a A.\na{x="1"} 3\nb 2\n'
    )
    assert (r.status_code, r.content) == (200, b"")
    g = groups(pgw)[(("instance", "i1"), ("job", "j1"))]
    assert g["last_push_successful"] is True
    assert g["a"]["type"] == "COUNTER" and g["a"]["help"] == "A."
    assert values(g, "a") == {(("instance", "i1"), ("job", "j1"), ("x", "1")): "3"}
    assert "help" not in g["b"] and g["b"]["type"] == "UNTYPED"
    # POST replaces only the families it names
    assert pgw.client.post("/metrics/job/j1/instance/i1", content=b'a{x="2"} 4\n').status_code == 200
    g = groups(pgw)[(("instance", "i1"), ("job", "j1"))]
    assert values(g, "a") == {(("instance", "i1"), ("job", "j1"), ("x", "2")): "4"}
    assert "b" in g
    # PUT replaces the whole group
    assert pgw.client.put("/metrics/job/j1/instance/i1", content=b"c 1\n").status_code == 200
    g = groups(pgw)[(("instance", "i1"), ("job", "j1"))]
    assert "a" not in g and "b" not in g and "c" in g
    r = pgw.client.delete("/metrics/job/j1/instance/i1")
    assert (r.status_code, r.content) == (202, b"")
    assert groups(pgw) == {}


def test_empty_bodies(pgw: Pgw) -> None:
    assert pgw.client.post("/metrics/job/e", content=b"").status_code == 200
    g = groups(pgw)[(("job", "e"),)]
    assert set(g) == {"labels", "last_push_successful", "push_time_seconds", "push_failure_time_seconds"}
    assert values(g, "push_failure_time_seconds") == {(("instance", ""), ("job", "e")): "0"}
    assert float(values(g, "push_time_seconds")[(("instance", ""), ("job", "e"))]) > 1e9
    pgw.client.put("/metrics/job/e", content=b"x 1\n")
    pgw.client.post("/metrics/job/e", content=b"")
    assert "x" in groups(pgw)[(("job", "e"),)]  # an empty POST keeps the metrics
    pgw.client.put("/metrics/job/e", content=b"")
    assert "x" not in groups(pgw)[(("job", "e"),)]  # an empty PUT removes them


def test_refusals_name_the_reason(pgw: Pgw) -> None:
    r = pgw.client.post("/metrics/job/t", content=b"baz 1 1700000000000\n")
    assert (r.status_code, r.text) == (400, PREFIX + "pushed metrics must not have timestamps\n")
    g = groups(pgw)[(("job", "t"),)]
    assert g["last_push_successful"] is False
    assert values(g, "push_time_seconds") == {(("instance", ""), ("job", "t")): "0"}
    assert float(values(g, "push_failure_time_seconds")[(("instance", ""), ("job", "t"))]) > 1e9

    pgw.client.put("/metrics/job/a", content=b"bar 2\n")
    r = pgw.client.post("/metrics/job/b", content=b"# TYPE bar gauge\nbar 1\n")
    assert r.status_code == 400
    assert r.text == (
        PREFIX + 'collected metric "bar" { label:<name:"instance" value:"" > '
        'label:<name:"job" value:"b" > gauge:<value:1 > } is not a UNTYPED\n'
    )
    r = pgw.client.post("/metrics/job/d", content=b"y 1\ny 2\n")
    assert r.text == (
        PREFIX + 'collected metric "y" { label:<name:"instance" value:"" > label:<name:"job" value:"d" > '
        "untyped:<value:2 > } was collected before with the same name and label values\n"
    )
    r = pgw.client.post("/metrics/job/p", content=b"y{ 1\n")
    assert r.status_code == 400 and r.text.startswith("text format parsing error in line 1:")
    assert (("job", "p"),) not in groups(pgw)  # a body that does not parse is no failed push


def test_grouping_key_paths(pgw: Pgw) -> None:
    # job "foo/bar" and an empty label value, both base64 (URL-safe alphabet)
    assert pgw.client.put("/metrics/job@base64/Zm9vL2Jhcg/a@base64/=", content=b"y 1\n").status_code == 200
    assert (("a", ""), ("job", "foo/bar")) in groups(pgw)
    r = pgw.client.post("/metrics/job/j/a", content=b"y 1\n")
    assert (r.status_code, r.text) == (400, 'odd number of components in label string "/a"\n')
    r = pgw.client.post("/metrics/job/j/__x/1", content=b"y 1\n")
    assert (r.status_code, r.text) == (400, 'improper label name "__x"\n')
    assert pgw.client.post("/metrics/job@base64/=", content=b"y 1\n").status_code == 400
    # grouping labels override pushed ones; a pushed instance stays when the key has none
    pgw.client.put("/metrics/job/k", content=b'x{job="other",instance="zz"} 1\n')
    assert values(groups(pgw)[(("job", "k"),)], "x") == {(("instance", "zz"), ("job", "k")): "1"}


def test_histogram_and_summary_status(pgw: Pgw) -> None:
    body = (
        b'# TYPE h histogram\nh_bucket{le="1.0"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3.5\nh_count 2\n'
        b'# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 1\ns_count 1\n'
    )
    assert pgw.client.put("/metrics/job/h", content=body).status_code == 200
    g = groups(pgw)[(("job", "h"),)]
    assert g["h"]["metrics"] == [
        {
            "labels": {"instance": "", "job": "h"},
            "buckets": {"1": "1", "+Inf": "2"},
            "count": "2",
            "sum": "3.5",
        }
    ]
    assert g["s"]["metrics"][0]["quantiles"] == {"0.5": "1"}


def test_ingested_as_a_scrape_with_honor_labels(pgw: Pgw) -> None:
    pgw.client.put(
        "/metrics/job/j/instance/i",
        content=b'# TYPE h histogram\nh_bucket{le="1.0"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n',
    )
    pgw.client.put("/metrics/job/k", content=b"up_like 5\n")
    t0 = 1_800_000_000_000
    n = pgw.server.call(lambda: pgw.service.ingest_once(t0))
    assert n == 4 + 2 + 1 + 2
    got = read_all(pgw.runtime.tsdb)
    assert got[(("__name__", "h_bucket"), ("instance", "i"), ("job", "j"), ("le", "1"))] == [(t0, 1.0)]
    assert got[(("__name__", "up_like"), ("job", "k"))] == [(t0, 5.0)]  # instance="" is no label
    push_time = got[(("__name__", "push_time_seconds"), ("job", "k"))][0][1]
    assert abs(push_time - time.time()) < 600
    # a deleted group's series go stale at the next ingestion
    pgw.client.delete("/metrics/job/k")
    pgw.server.call(lambda: pgw.service.ingest_once(t0 + 15_000))
    got = read_all(pgw.runtime.tsdb, job="k")
    assert all(is_stale_marker(s[-1][1]) for s in got.values()) and len(got) == 3


def test_groups_survive_restart(tmp_path: Path) -> None:
    p = start_pgw(tmp_path / "data")
    p.client.put(
        "/metrics/job/r/instance/x", content=b'# TYPE a gauge\n# HELP a Help.\na{q="1"} NaN\nb +Inf\n'
    )
    p.client.post("/metrics/job/f", content=b"z 1 123\n")
    before = groups(p)
    stop_pgw(p)
    assert (tmp_path / "data" / "pushgateway" / "groups.json").exists()
    p = start_pgw(tmp_path / "data")
    try:
        assert groups(p) == before
        assert values(before[(("instance", "x"), ("job", "r"))], "b") == {
            (("instance", "x"), ("job", "r")): "+Inf"
        }
    finally:
        stop_pgw(p)


def test_ttl_and_wipe(pgw: Pgw) -> None:
    assert pgw.client.put("/metrics/job/short?ttl=30s", content=b"a 1\n").status_code == 200
    pgw.client.put("/metrics/job/long", content=b"a 2\n", headers={"X-Pharos-Group-TTL": "1h"})
    pgw.client.put("/metrics/job/forever", content=b"a 3\n")
    assert pgw.client.put("/metrics/job/bad?ttl=soon", content=b"a 1\n").status_code == 400
    pgw.service.expire(time.time() + 60)
    assert set(groups(pgw)) == {(("job", "long"),), (("job", "forever"),)}
    pgw.service.expire(time.time() + 7200)
    assert set(groups(pgw)) == {(("job", "forever"),)}
    assert pgw.client.put("/api/v1/admin/wipe").status_code == 202
    assert groups(pgw) == {}


def test_go_float_format() -> None:
    cases = {
        1e6: "1e+06",
        123456.0: "123456",
        1795772591.1127: "1.7957725911127e+09",
        1e-05: "1e-05",
        0.0001: "0.0001",
        2.5: "2.5",
        -1.0: "-1",
        0.0: "0",
        math.inf: "+Inf",
        100.0: "100",
    }
    assert {k: go_g(k) for k in cases} == cases


def test_delimited_protobuf_push(pgw: Pgw) -> None:
    from pharos.metrics.remote.schema import MetricFamily

    def delimited(*families: MetricFamily) -> bytes:
        out = b""
        for mf in families:
            data = mf.SerializeToString()
            out += bytes([len(data)]) + data  # lengths < 128 here
        return out

    g = MetricFamily(name="pb_gauge", help="A gauge.", type=1)
    m = g.metric.add()
    m.label.add(name="k", value="v")
    m.gauge.value = 2.5
    h = MetricFamily(name="pb_hist", type=4)
    hm = h.metric.add()
    hm.histogram.sample_count, hm.histogram.sample_sum = 3, 7.0
    hm.histogram.bucket.add(cumulative_count=1, upper_bound=1.0)
    ctype = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
    r = pgw.client.put("/metrics/job/pb", content=delimited(g, h), headers={"Content-Type": ctype})
    assert r.status_code == 200
    grp = groups(pgw)[(("job", "pb"),)]
    assert values(grp, "pb_gauge") == {(("instance", ""), ("job", "pb"), ("k", "v")): "2.5"}
    assert grp["pb_hist"]["metrics"][0]["buckets"] == {"1": "1"}  # +Inf is added on exposition
    m.timestamp_ms = 5
    r = pgw.client.put("/metrics/job/pb", content=delimited(g), headers={"Content-Type": ctype})
    assert (r.status_code, r.text) == (400, PREFIX + "pushed metrics must not have timestamps\n")
