"""Log store: blocks after flush, reopen, retention, pushdown, tenant paths."""

from __future__ import annotations

import numpy as np
import pytest

from pharos.storage.logs import InvalidTenantError, LineFilter, LogStore, ScanSpec, StoreOptions, StreamWrite

NS = 1_000_000_000


def _write(store: LogStore, tenant: str, app: str, start: int, n: int) -> None:
    ts = np.arange(start, start + n, dtype=np.int64) * NS
    store.append(tenant, [StreamWrite({"app": app}, ts, [f"{app} line {i} {'needle' if i % 7 == 0 else ''}"
                                                         for i in range(n)])])


def test_flush_reopen_and_pushdown(tmp_path):
    s = LogStore(tmp_path)
    s.open()
    _write(s, "t", "a", 1000, 100)
    s.flush()
    _write(s, "t", "a", 2000, 50)  # head only
    blocks = list((tmp_path / "tenants" / "t" / "blocks").glob("*.parquet"))
    assert len(blocks) == 1
    spec = ScanSpec([0], 0, 10**20, [LineFilter("contains", ("needle",))])
    assert s.scan("t", spec).num_rows == len(range(0, 100, 7)) + len(range(0, 50, 7))
    s.close()
    s2 = LogStore(tmp_path)
    s2.open()
    assert s2.streams("t") == [{"app": "a"}]
    assert s2.scan("t", ScanSpec([0], 0, 10**20)).num_rows == 150
    neg = ScanSpec([0], 0, 10**20, [LineFilter("regex", ("line [0-9] ", "line 1[0-9] "), negate=True)])
    expected = 150 - len([i for i in range(100) if i < 10 or 10 <= i < 20]) - len([i for i in range(50) if i < 20])
    assert s2.scan("t", neg).num_rows == expected
    s2.close()


def test_retention_global_and_per_tenant(tmp_path):
    opts = StoreOptions(retention_ns=3600 * NS, tenant_retention_ns={"keep": 10 * 3600 * NS})
    s = LogStore(tmp_path, opts)
    s.open()
    for tenant in ("short", "keep"):
        _write(s, tenant, "a", 1000, 10)
    s.flush()
    now = (1000 + 2 * 3600) * NS
    assert s.apply_retention(now) == 1
    assert s.scan("short", ScanSpec([0], 0, 10**20)).num_rows == 0
    assert s.scan("keep", ScanSpec([0], 0, 10**20)).num_rows == 10
    s.close()


def test_tenant_ids_validated(tmp_path):
    s = LogStore(tmp_path)
    s.open()
    for bad in ("..", ".", "a/b", "", "x" * 151, "a\x00"):
        with pytest.raises(InvalidTenantError):
            _write(s, bad, "a", 1, 1)
    s.close()
    assert sorted(p.name for p in (tmp_path / "tenants").iterdir()) == []


def test_second_process_refused(tmp_path):
    from pharos.storage.logs.store import StoreLockedError

    s = LogStore(tmp_path)
    s.open()
    with pytest.raises(StoreLockedError):
        LogStore(tmp_path).open()
    s.close()
