"""Exposition parsing: Prometheus text 0.0.4 and OpenMetrics 1.0.

INTERFACE CONTRACT (the parser helper implements; the scrape loop and `pharos import` use it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pharos.metrics.model import Labels


class ExpositionFormat(str, Enum):
    PROMETHEUS_TEXT = "text/plain"
    OPENMETRICS = "application/openmetrics-text"


# The Accept header Prometheus 2.42 sends when scraping.
SCRAPE_ACCEPT_HEADER = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


class ParseError(ValueError):
    """Malformed exposition; the message names the line number and what was expected."""


@dataclass(slots=True)
class Exemplar:
    labels: Labels
    value: float
    timestamp_ms: int | None


@dataclass(slots=True)
class Sample:
    key: str  # the series text exactly as exposed (name + label block); stable across scrapes
    labels: Labels  # canonical, includes __name__
    value: float
    timestamp_ms: int | None
    exemplar: Exemplar | None = None


@dataclass(slots=True)
class MetricMetadata:
    type: str  # counter, gauge, histogram, summary, unknown, info, stateset, gaugehistogram
    help: str
    unit: str


@dataclass
class ParseResult:
    samples: list[Sample]
    metadata: dict[str, MetricMetadata]  # by metric family name


def format_from_content_type(content_type: str | None) -> ExpositionFormat:
    raise NotImplementedError


def parse(body: bytes, fmt: ExpositionFormat, cache: object | None = None) -> ParseResult:
    """Parse a whole exposition body; raise ParseError on the first malformed line."""
    raise NotImplementedError
