"""Child process for the crash test: appends batches forever, acknowledging each on stdout.

Batch k (k = 0, 1, ...) appends, at ts = T0 + k*1000, one sample for each of the series
s0..s{k % 50 + 20} (so series keep being created) with value k * 1000 + i, every 7th batch a
staleness marker for s0. A maintenance thread flushes the head and truncates the WAL meanwhile.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np

from pharos.metrics.model import STALE_NAN, make_labels
from pharos.metrics.tsdb.db import TSDB, TSDBOptions

T0 = 1_700_006_400_000


def batch(k: int) -> tuple[list[int], np.ndarray]:
    n = k % 50 + 20
    values = np.array([k * 1000.0 + i for i in range(n)])
    if k % 7 == 0:
        values[0] = STALE_NAN
    return list(range(n)), values


def main() -> None:
    db = TSDB(Path(sys.argv[1]), TSDBOptions(head_flush_interval_ms=20_000, wal_fsync_interval_s=0.05))
    db.open()
    latest = [T0]

    def maintain() -> None:
        while True:
            db.maintain(latest[0])

    threading.Thread(target=maintain, daemon=True).start()
    k = 0
    while True:
        idx, values = batch(k)
        refs = np.array([db.get_ref(make_labels({"__name__": "crash", "s": str(i)})) for i in idx])
        ts = T0 + k * 1000
        res = db.append(refs, np.array([ts]), values)
        assert res.appended == len(idx), res
        latest[0] = ts
        sys.stdout.write(f"ack {k}\n")
        sys.stdout.flush()
        k += 1


if __name__ == "__main__":
    main()
