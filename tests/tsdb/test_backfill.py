"""Backfill from OpenMetrics into a stopped and into a running TSDB."""

from __future__ import annotations

from pathlib import Path

import pytest
from tsdb_helpers import HOUR, bits, eq, lbl, open_db, read_all

from pharos.metrics.model import STALE_NAN
from pharos.metrics.tsdb.backfill import BackfillError, backfill_openmetrics, split_families

T0_S = 1_700_006_400  # seconds, aligned to 2h


def _om_file(path: Path, hours: int = 5, step_s: int = 60) -> dict:
    """An OM file with a counter and a gauge family; returns the expected read-back."""
    lines = ["# HELP http_requests_total Requests.", "# TYPE http_requests_total counter"]
    expected: dict = {}
    times = list(range(T0_S, T0_S + hours * 3600, step_s))
    for code in ("200", "500"):
        labels = lbl("http_requests_total", code=code, job="app")
        for k, t in enumerate(times):
            lines.append(f'http_requests_total{{code="{code}",job="app"}} {k * 3} {t}')
        expected[labels] = ([t * 1000 for t in times], bits([float(k * 3) for k in range(len(times))]))
    for name in ("temp_celsius", "temp2_celsius", "temp3_celsius", "temp4_celsius"):
        lines += [f"# HELP {name} Temperature.", f"# TYPE {name} gauge"]
        for k, t in enumerate(times):
            lines.append(f"{name} {20 + k * 0.25} {t}.5")
        expected[lbl(name)] = (
            [t * 1000 + 500 for t in times],
            bits([20 + k * 0.25 for k in range(len(times))]),
        )
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    return expected


def test_backfill_into_stopped_server(tmp_path: Path) -> None:
    src = tmp_path / "in.om"
    expected = _om_file(src)
    calls: list[tuple[int, int]] = []
    res = backfill_openmetrics(
        src, tmp_path / "data", progress=lambda d, t: calls.append((d, t)), chunk_bytes=4096
    )
    assert res.ingested_now and res.series == 6 and res.samples == 6 * 300
    assert len(calls) > 3
    assert calls[-1][0] == calls[-1][1] == src.stat().st_size
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert not [p for p in (tmp_path / "data" / "import").iterdir()]
    blocks = sorted((tmp_path / "data" / "blocks").glob("L1-*.parquet"))
    assert len(blocks) == 3  # 5h of data over aligned 2h windows
    db = open_db(tmp_path / "data")
    assert read_all(db) == expected
    db.close()


def test_backfill_into_running_server(tmp_path: Path) -> None:
    db = open_db(tmp_path / "data")
    r = db.get_ref(lbl("live"))
    db.append([r], [T0_S * 1000 + 6 * HOUR], [STALE_NAN])
    src = tmp_path / "in.om"
    expected = _om_file(src, hours=2)
    res = backfill_openmetrics(src, tmp_path / "data")
    assert not res.ingested_now
    assert len(list((tmp_path / "data" / "import").iterdir())) == 1
    assert db.select([eq("__name__", "temp_celsius")], 0, 2**62) == []
    db.maintain(T0_S * 1000 + 6 * HOUR)
    got = read_all(db)
    assert {k: v for k, v in got.items() if k in expected} == expected
    assert not list((tmp_path / "data" / "import").iterdir())
    db.close()
    db = open_db(tmp_path / "data")
    assert {k: v for k, v in read_all(db).items() if k in expected} == expected
    db.close()


def test_sample_without_timestamp_is_rejected(tmp_path: Path) -> None:
    src = tmp_path / "in.om"
    src.write_text("# TYPE a gauge\na 1\n# EOF\n")
    with pytest.raises(BackfillError, match="timestamp"):
        backfill_openmetrics(src, tmp_path / "data")


def test_missing_eof_is_rejected(tmp_path: Path) -> None:
    src = tmp_path / "in.om"
    src.write_text("# TYPE a gauge\na 1 1\n")
    with pytest.raises(BackfillError, match="EOF"):
        backfill_openmetrics(src, tmp_path / "data")


def test_split_families_keeps_metadata_with_samples() -> None:
    body = b"# HELP a x\n# TYPE a gauge\na 1 1\na 2 2\n# HELP b y\n# TYPE b gauge\nb 1 1\n# EOF\n"
    chunks = split_families(body, chunk_bytes=5)
    assert [body[s:e] for s, e in chunks][1].startswith(b"# HELP b")
    assert b"".join(body[s:e] for s, e in chunks) == body
