"""Helpers shared by the scrape tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

import math
import re
import struct
from typing import Any

import numpy as np
import pytest

from pharos.config.model import PharosConfig
from pharos.metrics.exposition import parser as real_parser
from pharos.metrics.exposition.parser import (
    ExpositionFormat,
    MetricMetadata,
    ParseError,
    ParseResult,
    Sample,
)
from pharos.metrics.model import STALE_NAN_BITS, Labels, Matcher, MatchOp, make_labels
from pharos.metrics.scrape import loop as loop_mod
from pharos.metrics.scrape.loop import ScrapeLoop
from pharos.metrics.scrape.manager import ScrapeManager
from pharos.metrics.tsdb.db import TSDB

HOUR = 3600.0

_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(?:\s+(-?\d+))?$')
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def _fake_parse(body: bytes, fmt: ExpositionFormat, cache: object | None = None) -> ParseResult:
    """A minimal text-format parser, used only until the real parser lands."""
    samples: list[Sample] = []
    meta: dict[str, MetricMetadata] = {}
    for n, raw in enumerate(body.decode().splitlines(), 1):
        line = raw.strip()
        if not line or line == "# EOF":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE", "UNIT"):
                md = meta.setdefault(parts[2], MetricMetadata("unknown", "", ""))
                text = parts[3] if len(parts) > 3 else ""
                setattr(md, {"HELP": "help", "TYPE": "type", "UNIT": "unit"}[parts[1]], text)
            continue
        m = _LINE.match(line)
        if m is None:
            raise ParseError(f"line {n}: bad sample line")
        name, block, value, ts = m.groups()
        pairs = [("__name__", name), *_PAIR.findall(block or "")]
        key = name + (block or "")
        samples.append(Sample(key, make_labels(pairs), float(value), int(ts) if ts else None))
    return ParseResult(samples, meta)


def install_fallback_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the fake parser if the real one is still a stub."""
    try:
        real_parser.parse(b"a 1\n", ExpositionFormat.PROMETHEUS_TEXT)
    except NotImplementedError:
        monkeypatch.setattr(loop_mod, "parse", _fake_parse)
    try:
        real_parser.format_from_content_type("text/plain")
    except NotImplementedError:
        monkeypatch.setattr(loop_mod, "format_from_content_type", lambda ct: ExpositionFormat.PROMETHEUS_TEXT)


def config(*jobs: dict[str, Any], **glob: Any) -> PharosConfig:
    """A PharosConfig with long intervals by default (tests drive scrapes by hand)."""
    glob = {"scrape_interval": HOUR, "scrape_timeout": 5.0, **glob}
    return PharosConfig.model_validate({"global": glob, "scrape_configs": list(jobs)})


def job(name: str, *addresses: str, **kw: Any) -> dict[str, Any]:
    return {"job_name": name, "static_configs": [{"targets": list(addresses)}], **kw}


def loops(manager: ScrapeManager) -> list[ScrapeLoop]:
    return [lp for pool in manager.pools.values() for lp in pool.loops.values()]


def only_loop(manager: ScrapeManager) -> ScrapeLoop:
    (lp,) = loops(manager)
    return lp


def series(tsdb: TSDB, name: str, **labels: str) -> dict[Labels, list[tuple[int, float]]]:
    """Every series named `name` (with the given labels) -> [(ts, value)]."""
    matchers = [Matcher("__name__", MatchOp.EQUAL, name)]
    matchers += [Matcher(k, MatchOp.EQUAL, v) for k, v in labels.items()]
    out = {}
    for s in tsdb.select(matchers, -(2**62), 2**62):
        out[s.labels] = list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
    return out


def points(tsdb: TSDB, name: str, **labels: str) -> list[tuple[int, float]]:
    """The samples of the one series named `name` (with the given labels)."""
    found = series(tsdb, name, **labels)
    assert len(found) == 1, f"expected one {name} series, got {list(found)}"
    return next(iter(found.values()))


def is_stale(value: float) -> bool:
    return math.isnan(value) and struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS


def value_bits(values: np.ndarray) -> list[int]:
    return np.asarray(values, dtype=np.float64).view(np.uint64).tolist()
