"""Metrics: exposition parsing, scraping, the TSDB and the Prometheus HTTP API."""
