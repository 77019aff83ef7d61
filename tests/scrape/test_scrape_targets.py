"""Targets from discovered label sets: defaults, relabelling, URL, dropped targets, offsets."""

from __future__ import annotations

import pytest
from scrape_helpers import config, job

from pharos.metrics.scrape.settings import ScrapeSettings
from pharos.metrics.scrape.target import TargetError, build_target, scrape_url


def settings(**kw: object) -> ScrapeSettings:
    cfg = config(job("node", **kw), scrape_interval=15.0, scrape_timeout=10.0)
    return ScrapeSettings.from_config(cfg.scrape_configs[0], cfg.global_)


def test_defaults_added_and_instance_from_address() -> None:
    target, pre = build_target({"__address__": "10.0.0.1:9100", "env": "prod"}, settings())
    assert target is not None
    assert pre == {
        "__address__": "10.0.0.1:9100",
        "__metrics_path__": "/metrics",
        "__scheme__": "http",
        "__scrape_interval__": "15s",
        "__scrape_timeout__": "10s",
        "env": "prod",
        "job": "node",
    }
    assert dict(target.labels) == {"env": "prod", "instance": "10.0.0.1:9100", "job": "node"}
    assert target.url == "http://10.0.0.1:9100/metrics"
    assert (target.interval, target.timeout) == (15.0, 10.0)


def test_default_port_by_scheme() -> None:
    t_http, _ = build_target({"__address__": "localhost"}, settings())
    t_https, _ = build_target({"__address__": "example.org"}, settings(scheme="https"))
    assert t_http is not None and t_https is not None
    assert dict(t_http.labels)["instance"] == "localhost:80"
    assert t_https.url == "https://example.org:443/metrics"


def test_relabel_drop_keeps_discovered_labels() -> None:
    relabel = [{"source_labels": ["__address__"], "regex": "drop.*", "action": "drop"}]
    target, pre = build_target({"__address__": "drop-me:1"}, settings(relabel_configs=relabel))
    assert target is None
    assert pre["__address__"] == "drop-me:1" and pre["job"] == "node"


def test_meta_and_reserved_labels_removed_after_relabelling() -> None:
    relabel = [
        {"source_labels": ["__meta_zone"], "target_label": "zone"},
        {"source_labels": ["__meta_zone"], "target_label": "__tmp_x"},
    ]
    target, _ = build_target(
        {"__address__": "h:1", "__meta_zone": "eu"}, settings(relabel_configs=relabel)
    )
    assert target is not None
    assert dict(target.labels) == {"instance": "h:1", "job": "node", "zone": "eu"}
    assert "__meta_zone" not in target.all_labels
    assert target.all_labels["__tmp_x"] == "eu"


def test_params_and_param_labels_build_the_url() -> None:
    relabel = [{"target_label": "__param_module", "replacement": "http_2xx"}]
    s = settings(params={"module": ["icmp"], "target": ["a", "b"]}, metrics_path="/probe",
                 relabel_configs=relabel)
    target, pre = build_target({"__address__": "bb:9115"}, s)
    assert target is not None
    assert pre["__param_module"] == "icmp"
    assert target.url == "http://bb:9115/probe?module=http_2xx&target=a&target=b"


def test_interval_and_timeout_from_labels() -> None:
    relabel = [
        {"target_label": "__scrape_interval__", "replacement": "1m"},
        {"target_label": "__scrape_timeout__", "replacement": "30s"},
    ]
    target, _ = build_target({"__address__": "h:1"}, settings(relabel_configs=relabel))
    assert target is not None
    assert (target.interval, target.timeout) == (60.0, 30.0)


def test_invalid_targets_raise() -> None:
    no_addr = [{"target_label": "__address__", "replacement": ""}]
    with pytest.raises(TargetError, match="no address"):
        build_target({"__address__": "h:1"}, settings(relabel_configs=no_addr))
    long_timeout = [{"target_label": "__scrape_timeout__", "replacement": "1m"}]
    with pytest.raises(TargetError, match="scrape timeout cannot be greater"):
        build_target({"__address__": "h:1"}, settings(relabel_configs=long_timeout))


def test_timeout_defaults_to_global_capped_at_interval() -> None:
    cfg = config(job("a", scrape_interval=2.0), scrape_timeout=10.0)
    s = ScrapeSettings.from_config(cfg.scrape_configs[0], cfg.global_)
    assert (s.interval, s.timeout) == (2.0, 2.0)


def test_offsets_spread_over_the_interval() -> None:
    s = settings()
    offsets = set()
    for i in range(100):
        target, _ = build_target({"__address__": f"10.0.0.{i}:9100"}, s)
        assert target is not None
        off = target.offset(15.0, 12345, now=1_700_000_000.0)
        assert 0 <= off <= 15.0
        offsets.add(round(off, 3))
        # deterministic for a target
        assert target.offset(15.0, 12345, now=1_700_000_000.0) == off
    assert len(offsets) > 90
    assert max(offsets) - min(offsets) > 10


def test_scrape_url_without_params() -> None:
    url = scrape_url({"__scheme__": "https", "__address__": "h:1", "__metrics_path__": "/m"}, {})
    assert url == "https://h:1/m"
