"""WAL: replay after kill -9, torn and corrupt tails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from crash_writer import T0, batch
from tsdb_helpers import bits, eq, lbl, open_db, read_all

from pharos.metrics.model import make_labels

HERE = Path(__file__).parent


def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "crash_writer.py"), str(tmp_path)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    last_ack = -1
    blocks = tmp_path / "blocks"
    for line in proc.stdout:  # kill once enough is acknowledged and a flush has written Parquet
        last_ack = int(line.split()[1])
        if (last_ack >= 1500 and any(blocks.glob("*.parquet"))) or last_ack >= 200_000:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for line in proc.stdout:  # acknowledgements still in the pipe when the child died
        last_ack = int(line.split()[1])
    assert last_ack >= 1500
    assert list((tmp_path / "blocks").glob("*.parquet")), "the head was never flushed during the run"

    db = open_db(tmp_path)
    got = read_all(db)
    expected: dict = {}
    for k in range(last_ack + 1):
        idx, values = batch(k)
        for i, v in zip(idx, bits(values), strict=True):
            ts_list, val_list = expected.setdefault(make_labels({"__name__": "crash", "s": str(i)}), ([], []))
            ts_list.append(T0 + k * 1000)
            val_list.append(v)
    for labels, (ts_list, val_list) in expected.items():
        got_ts, got_vals = got[labels]
        n = len(ts_list)
        assert got_ts[:n] == ts_list, labels
        assert got_vals[:n] == val_list, labels
        assert len(got_ts) - n <= 1  # at most the one batch in flight at the kill
    db.close()


def _write_some(path: Path) -> dict:
    db = open_db(path)
    refs = np.array([db.get_ref(lbl("m", i=str(i))) for i in range(10)])
    for k in range(5):
        db.append(refs, np.array([T0 + k]), np.arange(10.0) + k)
    expected = read_all(db)
    db.close()
    return expected


def test_torn_tail_is_truncated_not_fatal(tmp_path: Path) -> None:
    expected = _write_some(tmp_path)
    seg = sorted((tmp_path / "wal").iterdir())[-1]
    size = seg.stat().st_size
    with open(seg, "ab") as f:  # a crash mid-write: a record header promising more bytes
        f.write(b"\x02\xff\x00\x00\x00\x12\x34\x56\x78partial")
    db = open_db(tmp_path)
    assert read_all(db) == expected
    assert seg.stat().st_size == size  # the torn tail was cut off
    r = db.get_ref(lbl("m", i="0"))
    assert db.append(np.array([r]), np.array([T0 + 100]), np.array([42.0])).appended == 1
    db.close()
    db = open_db(tmp_path)
    assert db.select([eq("i", "0")], 0, 2**62)[0].values.tolist()[-1] == 42.0
    db.close()


def test_cut_last_record_drops_only_that_record(tmp_path: Path) -> None:
    _write_some(tmp_path)
    seg = sorted((tmp_path / "wal").iterdir())[-1]
    data = seg.read_bytes()
    seg.write_bytes(data[:-5])  # the last samples record (k=4) loses its last bytes
    db = open_db(tmp_path)
    s = db.select([eq("i", "3")], 0, 2**62)[0]
    assert s.timestamps.tolist() == [T0 + k for k in range(4)]
    db.close()


def test_corrupt_crc_stops_replay_of_that_segment(tmp_path: Path) -> None:
    _write_some(tmp_path)
    seg = sorted((tmp_path / "wal").iterdir())[-1]
    data = bytearray(seg.read_bytes())
    data[-3] ^= 0xFF  # flip bits inside the last record's payload
    seg.write_bytes(bytes(data))
    db = open_db(tmp_path)
    assert len(db.select([eq("i", "3")], 0, 2**62)[0].timestamps) == 4
    db.close()
