"""What each server says about itself: head series and samples appended (from its own
/metrics), and the bytes and samples of the blocks it wrote (from its data directory).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from e2e_harness import api_get, dir_bytes, http_get, parse_text_metrics

# Names each server uses for the two figures (the first one present wins).
SERIES_NAMES = {
    "prometheus": ["prometheus_tsdb_head_series"],
    "pharos": ["pharos_tsdb_head_series", "pharos_head_series"],
}
APPENDED_NAMES = {
    "prometheus": ["prometheus_tsdb_head_samples_appended_total"],
    "pharos": ["pharos_tsdb_head_samples_appended_total", "pharos_tsdb_samples_appended_total"],
}
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


@dataclass
class Figures:
    head_series: int
    samples_appended: int


def _sum_named(metrics: dict[str, float], names: list[str]) -> float | None:
    """Sum over every label set of the first of `names` that is present."""
    for name in names:
        hits = [v for k, v in metrics.items() if k == name or k.startswith(name + "{")]
        if hits:
            return sum(hits)
    return None


def figures(server: str, base: str, data_dir: Path) -> Figures:
    metrics = parse_text_metrics(http_get(base + "/metrics", timeout=60).decode())
    series = _sum_named(metrics, SERIES_NAMES[server])
    # Prometheus exports its (labelled) appended counter only once something was appended.
    appended = _sum_named(metrics, APPENDED_NAMES[server])
    if server == "pharos" and (series is None or appended is None):
        status = api_get(base, "/api/v1/status/tsdb", timeout=60)
        series = status["headStats"]["numSeries"] if series is None else series
        appended = status.get("pharos", {}).get("samples_appended_total", appended)
    if series is None:
        raise RuntimeError(f"{server}: no head series figure in {base}/metrics")
    return Figures(int(series), int(appended or 0))


@dataclass
class BlockFigures:
    block_bytes: int = 0
    catalog_bytes: int = 0  # pharos' series catalog (labels live in each block's index in Prometheus)
    samples: int = 0


def prometheus_blocks(data_dir: Path) -> BlockFigures:
    """Prometheus' persisted blocks: chunks, index, meta, tombstones; samples from meta.json."""
    out = BlockFigures()
    for block in data_dir.iterdir() if data_dir.exists() else []:
        meta = block / "meta.json"
        if ULID.match(block.name) and meta.exists():
            out.samples += int(json.loads(meta.read_text())["stats"]["numSamples"])
            out.block_bytes += dir_bytes(block)
    return out


def pharos_blocks(data_dir: Path) -> BlockFigures:
    """pharos' compacted Parquet blocks (level >= 1; level-0 files are head flushes awaiting
    compaction) and its series catalog, the counterpart of the label part of a block index."""
    import pyarrow.parquet as pq

    blocks = [b for b in data_dir.glob("**/blocks/L*.parquet") if not b.name.startswith("L0-")]
    if not blocks:
        return BlockFigures()
    return BlockFigures(
        block_bytes=sum(b.stat().st_size for b in blocks),
        catalog_bytes=sum(f.stat().st_size for f in data_dir.glob("**/series/*.parquet")),
        samples=sum(pq.ParquetFile(b).metadata.num_rows for b in blocks),
    )


def block_figures(server: str, data_dir: Path) -> BlockFigures:
    return prometheus_blocks(data_dir) if server == "prometheus" else pharos_blocks(data_dir)
