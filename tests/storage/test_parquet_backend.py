"""The embedded Parquet + DuckDB backend: files on disk, encodings, reads, catalog, imports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pharos.metrics.model import STALE_NAN
from pharos.storage.backend import SampleRun
from pharos.storage.parquet import ParquetBackend

W = 7_200_000


def _run(series: list[int], ts: list[int], values: list[float]) -> SampleRun:
    return SampleRun(np.array(series, np.uint32), np.array(ts, np.int64), np.array(values, np.float64))


def test_write_run_splits_by_window_sorted_with_encodings(tmp_path: Path) -> None:
    be = ParquetBackend(tmp_path)
    infos = be.write_run(_run([2, 1, 1, 2], [W + 5, 10, W - 1, 20], [1, 2, 3, 4]), W)
    assert sorted((i.window, i.mint, i.maxt) for i in infos) == [(0, 10, W - 1), (W, W + 5, W + 5)]
    first = tmp_path / "blocks" / next(i.name for i in infos if i.window == 0)
    table = pq.read_table(first)
    assert table.column("series").to_pylist() == [1, 1, 2]
    assert table.column("ts").to_pylist() == [10, W - 1, 20]
    col = pq.ParquetFile(first).metadata.row_group(0)
    assert "DELTA_BINARY_PACKED" in col.column(1).encodings
    assert "DELTA_BINARY_PACKED" in col.column(2).encodings  # exact decimals as scaled ints
    assert "BYTE_STREAM_SPLIT" in col.column(3).encodings  # the rest as floats
    assert col.column(2).compression == "ZSTD"
    assert not list((tmp_path / "blocks").glob(".tmp-*"))


def test_select_filters_and_dedups_keeping_first_written(tmp_path: Path) -> None:
    be = ParquetBackend(tmp_path)
    be.write_run(_run([1, 1, 2, 3], [10, 20, 10, 10], [1, 2, 3, 4]), W)
    be.write_run(_run([1, 1], [20, 30], [99, 5]), W)  # (1, 20) again, different value
    got = be.select(be.blocks(), np.array([1, 3]), 0, 25)
    assert got.series.tolist() == [1, 1, 3]
    assert got.ts.tolist() == [10, 20, 10]
    assert got.values.tolist() == [1, 2, 4]
    many = be.select(be.blocks(), np.arange(0, 500), 0, 100)  # the semi-join path
    assert many.series.tolist() == [1, 1, 1, 2, 3]


def test_values_mix_scaled_ints_and_floats_bit_exactly(tmp_path: Path) -> None:
    be = ParquetBackend(tmp_path)
    values = [0.1, 2.25, -0.0, 1e300, float("inf"), -float("inf"), 1 / 3, 123456.789, 5e-324, 2.0**60]
    be.write_run(_run([1] * len(values), list(range(len(values))), values), W)
    got = be.select(be.blocks(), np.array([1]), 0, 100)
    assert got.values.view(np.uint64).tolist() == np.array(values).view(np.uint64).tolist()
    table = pq.read_table(tmp_path / "blocks" / be.blocks()[0].name)
    assert table.column("value_i").null_count == 7  # 0.1, 2.25 and 123456.789 as scaled ints


def test_stale_nan_bits_survive_duckdb(tmp_path: Path) -> None:
    be = ParquetBackend(tmp_path)
    be.write_run(_run([1, 1], [1, 2], [STALE_NAN, float("nan")]), W)
    got = be.select(be.blocks(), np.array([1]), 0, 10)
    assert got.values.view(np.uint64).tolist() == np.array([STALE_NAN, float("nan")]).view(np.uint64).tolist()


def test_compact_merges_window_and_drops_inputs(tmp_path: Path) -> None:
    be = ParquetBackend(tmp_path)
    be.write_run(_run([1, 2], [10, 10], [1, 2]), W)
    be.write_run(_run([1, 2], [20, 10], [3, 7]), W)
    block = be.compact(be.blocks())
    assert block.level == 1 and [b.name for b in be.blocks()] == [block.name]
    assert len(list((tmp_path / "blocks").glob("*.parquet"))) == 3  # inputs wait for GC
    be.collect_garbage()
    assert [p.name for p in (tmp_path / "blocks").glob("*.parquet")] == [block.name]
    got = be.select(be.blocks(), np.array([1, 2]), 0, 100)
    assert list(zip(got.series.tolist(), got.ts.tolist(), got.values.tolist(), strict=True)) == [
        (1, 10, 1.0),
        (1, 20, 3.0),
        (2, 10, 2.0),
    ]
    assert ParquetBackend(tmp_path).blocks() == be.blocks()  # reopened from file names


def test_series_catalog_round_trip_and_compaction(tmp_path: Path) -> None:
    be = ParquetBackend(tmp_path)
    for i in range(20):
        be.save_series(i * 2, [["__name__", "m", "i", str(i * 2)], ["__name__", "m", "i", str(i * 2 + 1)]])
    be.save_series(10, [["__name__", "m", "i", "10"]])  # overlap: ignored on load
    be.compact_series_catalog()
    assert len(list((tmp_path / "series").glob("*.parquet"))) == 1
    entries = list(ParquetBackend(tmp_path).load_series())
    assert [r for r, _ in entries] == list(range(40))
    assert entries[7][1] == ["__name__", "m", "i", "7"]


def test_import_units_are_atomic_and_readable(tmp_path: Path) -> None:
    be = ParquetBackend(tmp_path)
    unit = be.write_import([["__name__", "a"], ["__name__", "b"]], _run([0, 1], [5, 6], [1.5, 2.5]))
    assert be.pending_imports() == [unit]
    labels, run = be.read_import(unit)
    assert labels == [["__name__", "a"], ["__name__", "b"]]
    assert run.ts.tolist() == [5, 6]
    be.finish_import(unit)
    assert be.pending_imports() == []


def test_series_in_and_latest(tmp_path: Path) -> None:
    be = ParquetBackend(tmp_path)
    be.write_run(_run([1, 1, 2, 5], [10, 30, 20, 40], [1, 2, 3, 4]), W)
    assert be.series_in(be.blocks(), 15, 25).tolist() == [2]
    assert be.series_in(be.blocks(), 0, 100).tolist() == [1, 2, 5]
    latest = be.latest(be.blocks())
    order = np.argsort(latest.series)
    assert latest.ts[order].tolist() == [30, 20, 40]
    assert latest.values[order].tolist() == [2, 3, 4]
