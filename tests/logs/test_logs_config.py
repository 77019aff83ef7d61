"""The `logs:` config section: retention_stream rules, per-stream rate limits, cancel period."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pharos.config.model import LogsConfig
from pharos.logs.component import limits_config, store_options

NS = 1_000_000_000


def test_retention_stream_and_stream_rate_limits_reach_store_and_limits():
    cfg = LogsConfig.model_validate({
        "limits": {"retention_period": "30d", "per_stream_rate_limit": "1MB",
                   "retention_stream": [{"selector": '{ns="dev"}', "priority": 1, "period": "90s"}]},
        "overrides": {"t2": {"retention_stream": [{"selector": '{app=~"x.*"}', "period": "1h"}]}},
        "delete_request_cancel_period": "10m",
    })
    opts = store_options(cfg)
    assert opts.retention_ns == 30 * 86400 * NS
    [rule] = opts.stream_retention
    assert (rule.period_ns, rule.priority) == (90 * NS, 1)
    assert rule.match({"ns": "dev", "app": "a"}) and not rule.match({"ns": "prod"})
    [rule2] = opts.tenant_stream_retention["t2"]
    assert rule2.match({"app": "xyz"}) and rule2.period_ns == 3600 * NS
    lim = limits_config(cfg)
    assert lim.defaults.per_stream_rate_limit == 1 << 20
    assert lim.for_tenant("t2").per_stream_rate_limit == 1 << 20
    assert cfg.delete_request_cancel_period == 600


def test_bad_retention_selector_is_a_config_error():
    with pytest.raises(ValidationError, match="stream selector"):
        LogsConfig.model_validate({"limits": {"retention_stream": [{"selector": '{a="b"} |= "x"', "period": "1h"}]}})
    with pytest.raises(ValidationError, match="parse error"):
        LogsConfig.model_validate({"limits": {"retention_stream": [{"selector": '{a="b"', "period": "1h"}]}})
