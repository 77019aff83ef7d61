"""metrics/exposition: Prometheus text 0.0.4 and OpenMetrics 1.0 parsing."""

from pharos.metrics.exposition.parser import (
    SCRAPE_ACCEPT_HEADER,
    Exemplar,
    ExpositionFormat,
    MetricMetadata,
    ParseCache,
    ParseError,
    ParseResult,
    Sample,
    format_from_content_type,
    parse,
    parse_reference,
)

__all__ = [
    "SCRAPE_ACCEPT_HEADER",
    "Exemplar",
    "ExpositionFormat",
    "MetricMetadata",
    "ParseCache",
    "ParseError",
    "ParseResult",
    "Sample",
    "format_from_content_type",
    "parse",
    "parse_reference",
]
