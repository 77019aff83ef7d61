"""Pushgateway-compatible push API: groups pushed over HTTP, persisted, ingested every interval."""

from pharos.metrics.pushgateway.http import register
from pharos.metrics.pushgateway.service import PushgatewayService

__all__ = ["PushgatewayService", "register"]
