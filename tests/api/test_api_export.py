"""/api/v1/export: JSON lines that give back every stored float64 exactly; NaN, ±Inf and
staleness markers as documented in pharos.metrics.api.export."""

from __future__ import annotations

import json
import math
import struct

from api_fixtures import T0, add_series
from starlette.testclient import TestClient

from pharos.metrics.model import STALE_NAN
from pharos.server.runtime import Runtime

TRICKY = [0.1, 1e-300, 2.0**53 + 1, -0.0, 5e-324, 1.7976931348623157e308, 123456789.123456789, 3.0]


def lines(client: TestClient, **params: str | list[str]) -> list[dict]:
    resp = client.get("/api/v1/export", params=params)
    assert resp.status_code == 200, resp.text
    return [json.loads(line) for line in resp.text.splitlines()]


def bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def test_values_round_trip_bit_exactly(client: TestClient, runtime: Runtime) -> None:
    ts = [T0 + i * 1000 for i in range(len(TRICKY))]
    add_series(runtime, {"__name__": "v", "job": "x"}, ts, TRICKY)
    [row] = lines(client, **{"match[]": "v"})
    assert row["metric"] == {"__name__": "v", "job": "x"}
    assert row["timestamps"] == ts
    assert [bits(float(v)) for v in row["values"]] == [bits(v) for v in TRICKY]


def test_nan_inf_and_staleness_markers(client: TestClient, runtime: Runtime) -> None:
    values = [math.nan, math.inf, -math.inf, STALE_NAN, 1.0]
    add_series(runtime, {"__name__": "odd"}, [T0 + i for i in range(5)], values)
    [row] = lines(client, **{"match[]": "odd"})
    assert row["values"] == [None, "Infinity", "-Infinity", 1.0]
    assert row["timestamps"] == [T0, T0 + 1, T0 + 2, T0 + 4]
    [full] = lines(client, **{"match[]": "odd", "include_stale": "1"})
    assert full["values"] == [None, "Infinity", "-Infinity", "StaleNaN", 1.0]


def test_only_stale_series_is_left_out(client: TestClient, runtime: Runtime) -> None:
    add_series(runtime, {"__name__": "gone"}, [T0], [STALE_NAN])
    assert lines(client, **{"match[]": "gone"}) == []


def test_time_window_and_several_selectors(client: TestClient, runtime: Runtime) -> None:
    add_series(runtime, {"__name__": "a"}, [T0, T0 + 10_000, T0 + 20_000], [1, 2, 3])
    add_series(runtime, {"__name__": "b"}, [T0], [9])
    [row] = lines(
        client, **{"match[]": "a", "start": str((T0 + 5000) / 1000), "end": str((T0 + 20_000) / 1000)}
    )
    assert row["timestamps"] == [T0 + 10_000, T0 + 20_000] and row["values"] == [2, 3]
    both = lines(client, **{"match[]": ["a", "b", '{__name__=~"a|b"}']})
    assert [r["metric"]["__name__"] for r in both] == ["a", "b"]


def test_post_form_and_errors(client: TestClient, runtime: Runtime) -> None:
    add_series(runtime, {"__name__": "a"}, [T0], [1])
    resp = client.post(
        "/api/v1/export", content="match[]=a", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert resp.status_code == 200 and json.loads(resp.text)["values"] == [1]
    missing = client.get("/api/v1/export")
    assert missing.status_code == 400 and missing.json()["error"] == "no match[] parameter provided"
    bad = client.get("/api/v1/export", params={"match[]": "a", "end": "soon"})
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"
