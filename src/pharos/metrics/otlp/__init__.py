"""OTLP metrics receiver (OTLP/HTTP, protobuf and JSON) mapped to series as Prometheus does."""

from pharos.metrics.otlp.http import register

__all__ = ["register"]
