"""Loading pharos.yml / prometheus.yml: defaults, errors with file:line:key, warnings."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pharos.config.loader import ConfigError, check_config, load_config, parse_config
from pharos.config.model import PharosConfig, ScrapeConfig


def write(tmp_path: Path, text: str, name: str = "pharos.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), filename="pharos.yml")
    return info.value.messages


def test_empty_file_gives_prometheus_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "")).config
    assert (cfg.global_.scrape_interval, cfg.global_.scrape_timeout, cfg.global_.evaluation_interval) == (
        60.0, 10.0, 60.0)
    assert cfg.scrape_configs == []
    assert cfg.storage.retention_time == 15 * 86400


def test_scrape_defaults_from_global() -> None:
    cfg = parse_config(textwrap.dedent("""
        global:
          scrape_interval: 15s
          scrape_timeout: 5s
        scrape_configs:
          - job_name: a
          - job_name: b
            scrape_interval: 2s
          - job_name: c
            scrape_interval: 1m30s
            scrape_timeout: 1m
    """)).config
    a, b, c = cfg.scrape_configs
    assert (a.scrape_interval, a.scrape_timeout) == (15.0, 5.0)
    assert (b.scrape_interval, b.scrape_timeout) == (2.0, 2.0)  # capped at the interval
    assert (c.scrape_interval, c.scrape_timeout) == (90.0, 60.0)
    assert (a.metrics_path, a.scheme, a.honor_labels, a.honor_timestamps) == ("/metrics", "http", False, True)


def test_global_short_interval_caps_default_timeout() -> None:
    cfg = parse_config("global:\n  scrape_interval: 5s\n").config
    assert cfg.global_.scrape_timeout == 5.0


def test_bad_duration_names_file_line_key() -> None:
    msgs = errors_of("""
        scrape_configs:
          - job_name: a
            scrape_interval: 5x
    """)
    assert msgs == ['pharos.yml:4: scrape_configs[0].scrape_interval: not a valid duration string: "5x"']


def test_bare_number_duration_rejected_with_hint() -> None:
    (msg,) = errors_of("global:\n  scrape_interval: 30\n")
    assert msg.startswith('pharos.yml:2: global.scrape_interval: not a valid duration string: "30"')
    assert '"30s"' in msg


def test_timeout_greater_than_interval_is_prometheus_error() -> None:
    (msg,) = errors_of("""
        scrape_configs:
          - job_name: slow
            scrape_interval: 5s
            scrape_timeout: 10s
    """)
    assert msg == ('pharos.yml:5: scrape_configs[0].scrape_timeout: scrape timeout greater than scrape '
                   'interval for scrape config with job name "slow"')


def test_global_timeout_greater_than_interval() -> None:
    (msg,) = errors_of("global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n")
    assert msg == "pharos.yml:3: global.scrape_timeout: global scrape timeout greater than scrape interval"


def test_duplicate_job_names() -> None:
    (msg,) = errors_of("""
        scrape_configs:
          - job_name: a
          - job_name: b
          - job_name: a
    """)
    assert msg == 'pharos.yml:5: scrape_configs[2].job_name: found multiple scrape configs with job name "a"'


def test_missing_and_empty_job_name() -> None:
    assert errors_of("scrape_configs:\n  - scrape_interval: 5s\n") == [
        "pharos.yml:2: scrape_configs[0].job_name: required field is missing"]
    assert errors_of("scrape_configs:\n  - job_name: ''\n") == [
        "pharos.yml:2: scrape_configs[0].job_name: job_name is empty"]


def test_invalid_relabel_regex_is_error_with_line() -> None:
    (msg,) = errors_of("""
        scrape_configs:
          - job_name: a
            relabel_configs:
              - source_labels: [__address__]
                regex: "(foo"
                target_label: x
    """)
    assert msg.startswith('pharos.yml:6: scrape_configs[0].relabel_configs[0].regex: invalid regex "(foo"')


def test_re2_only_regex_rejected() -> None:
    (msg,) = errors_of("""
        scrape_configs:
          - job_name: a
            metric_relabel_configs:
              - action: drop
                source_labels: [__name__]
                regex: "foo(?!bar)"
    """)
    assert "metric_relabel_configs[0].regex" in msg and "pharos.yml:7:" in msg


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("action: hashmod\n    target_label: x", "relabel configuration for hashmod requires non-zero modulus"),
        ("action: replace", "relabel configuration for replace action requires 'target_label' value"),
        ("action: lowercase\n    target_label: '1x'", '"1x" is invalid \'target_label\' for lowercase action'),
        ("action: uppercase\n    target_label: x\n    replacement: y",
         "'replacement' can not be set for uppercase action"),
        ("action: labelmap\n    replacement: '-'", '"-" is invalid \'replacement\' for labelmap action'),
        ("action: keepequal\n    target_label: x\n    regex: a",
         "keepequal action requires only 'source_labels' and `target_label`, and no other fields"),
        ("action: labeldrop\n    source_labels: [a]", "labeldrop action requires only 'regex', and no other fields"),
        ("action: explode", 'unknown relabel action "explode"'),
        ("source_labels: ['a-b']\n    target_label: x", '"a-b" is not a valid label name'),
    ],
)
def test_relabel_config_checks(rule: str, expected: str) -> None:
    text = "scrape_configs:\n- job_name: a\n  relabel_configs:\n  - " + rule + "\n"
    (msg,) = errors_of(text)
    assert msg.startswith("pharos.yml:")
    assert msg.endswith(expected)


def test_action_is_case_insensitive() -> None:
    cfg = parse_config("scrape_configs:\n- job_name: a\n  relabel_configs:\n  - action: Keep\n").config
    assert cfg.scrape_configs[0].relabel_configs[0].action == "keep"


def test_unsupported_fields_are_warnings_with_lines() -> None:
    loaded = parse_config(textwrap.dedent("""
        global:
          scrape_interval: 15s
          query_log_file: q.log
        tracing: {endpoint: x}
        remote_read:
          - url: http://x
        scrape_configs:
          - job_name: k
            scrape_intervall: 5s
            consul_sd_configs:
              - server: localhost:8500
            static_configs:
              - targets: [a:1]
    """))
    assert loaded.warnings == [
        "pharos.yml:4: global.query_log_file: not supported by pharos, ignored",
        "pharos.yml:5: tracing: not supported by pharos, ignored",
        "pharos.yml:6: remote_read: not supported by pharos, ignored",
        'pharos.yml:10: scrape_configs[0].scrape_intervall: not supported by pharos, ignored '
        '(did you mean "scrape_interval"?)',
        "pharos.yml:11: scrape_configs[0].consul_sd_configs: not supported by pharos, ignored",
    ]
    sc = loaded.config.scrape_configs[0]
    assert sc.scrape_interval == 15.0
    assert sc.model_extra == {}


def test_yaml_syntax_error_has_line() -> None:
    (msg,) = errors_of("scrape_configs:\n  - job_name: a\n    static_configs: [\n")
    assert msg.startswith("pharos.yml:4: invalid YAML")


def test_duplicate_yaml_key_is_error() -> None:
    (msg,) = errors_of("scrape_configs:\n  - job_name: a\n    job_name: b\n")
    assert msg == "pharos.yml:3: scrape_configs[0].job_name: mapping key 'job_name' already defined at line 2"


def test_top_level_must_be_mapping() -> None:
    assert errors_of("- a\n- b\n") == ["pharos.yml:1: the top level of a config file must be a mapping"]


def test_wrong_type_error_names_key() -> None:
    (msg,) = errors_of("scrape_configs:\n  - job_name: a\n    honor_labels: maybe\n")
    assert msg.startswith("pharos.yml:3: scrape_configs[0].honor_labels: ")
    assert "'maybe'" in msg


def test_scheme_must_be_http_or_https() -> None:
    (msg,) = errors_of("scrape_configs:\n  - job_name: a\n    scheme: ftp\n")
    assert msg.startswith("pharos.yml:3: scrape_configs[0].scheme:")


def test_sizes_and_limits() -> None:
    cfg = parse_config(textwrap.dedent("""
        scrape_configs:
          - job_name: a
            body_size_limit: 10MB
            sample_limit: 1000
    """)).config
    assert cfg.scrape_configs[0].body_size_limit == 10 * 1024 * 1024
    assert cfg.scrape_configs[0].sample_limit == 1000
    (msg,) = errors_of("scrape_configs:\n  - job_name: a\n    body_size_limit: 10 MB\n")
    assert msg.startswith("pharos.yml:3: scrape_configs[0].body_size_limit: units:")


def test_static_target_with_path_rejected() -> None:
    (msg,) = errors_of("scrape_configs:\n- job_name: a\n  static_configs:\n  - targets: ['http://x/metrics']\n")
    assert msg == ('pharos.yml:4: scrape_configs[0].static_configs[0].targets[0]: '
                   '"http://x/metrics" is not a valid hostname')


def test_static_label_names_validated() -> None:
    (msg,) = errors_of("scrape_configs:\n- job_name: a\n  static_configs:\n  - labels: {a-b: c}\n")
    assert msg.startswith("pharos.yml:4: scrape_configs[0].static_configs[0].labels")
    assert msg.endswith('"a-b" is not a valid label name')


def test_static_label_numbers_become_strings() -> None:
    cfg = parse_config("scrape_configs:\n- job_name: a\n  static_configs:\n  - labels: {port: 9100}\n").config
    assert cfg.scrape_configs[0].static_configs[0].labels == {"port": "9100"}


def test_file_sd_pattern_checked_and_resolved(tmp_path: Path) -> None:
    path = write(tmp_path, """
        scrape_configs:
          - job_name: a
            file_sd_configs:
              - files: [targets/*.json]
                refresh_interval: 30s
    """)
    sd = load_config(path).config.scrape_configs[0].file_sd_configs[0]
    assert sd.files == [str(tmp_path / "targets/*.json")]
    assert sd.refresh_interval == 30.0
    (msg,) = errors_of("scrape_configs:\n- job_name: a\n  file_sd_configs:\n  - files: [t.txt]\n")
    assert msg.endswith('path name "t.txt" is not valid for file discovery')


def test_http_client_checks_and_bearer_normalised() -> None:
    cfg = parse_config("scrape_configs:\n- job_name: a\n  bearer_token: abc\n").config
    assert cfg.scrape_configs[0].authorization == {"type": "Bearer", "credentials": "abc"}
    (msg,) = errors_of("scrape_configs:\n- job_name: a\n  bearer_token: a\n  bearer_token_file: b\n")
    assert msg.endswith("at most one of bearer_token & bearer_token_file must be configured")
    (msg,) = errors_of("scrape_configs:\n- job_name: a\n  authorization: {type: Basic}\n")
    assert msg.endswith('authorization type cannot be set to "basic", use "basic_auth" instead')


def test_null_sections_mean_defaults() -> None:
    cfg = parse_config("global:\nscrape_configs:\n- job_name: a\n  static_configs:\n  relabel_configs:\n").config
    assert cfg.global_.scrape_interval == 60.0
    assert cfg.scrape_configs[0].static_configs == []


def test_yaml_anchors_and_merge_keys() -> None:
    cfg = parse_config(textwrap.dedent("""
        common: &common
          scrape_interval: 5s
          metrics_path: /m
        scrape_configs:
          - job_name: a
            <<: *common
          - job_name: b
            <<: *common
            metrics_path: /other
    """)).config
    a, b = cfg.scrape_configs
    assert (a.scrape_interval, a.metrics_path, b.metrics_path) == (5.0, "/m", "/other")


def test_storage_section() -> None:
    cfg = parse_config("storage:\n  retention_time: 30d\n  retention_size: 10GB\n  block_duration: 2h\n").config
    assert cfg.storage.retention_time == 30 * 86400
    assert cfg.storage.retention_size == 10 * 1024**3
    (msg,) = errors_of("storage:\n  retention_time: forever\n")
    assert msg == 'pharos.yml:2: storage.retention_time: not a valid duration string: "forever"'


def test_prometheus_storage_tsdb_mapped() -> None:
    loaded = parse_config("storage:\n  tsdb:\n    out_of_order_time_window: 30m\n")
    assert loaded.config.storage.out_of_order_time_window == 1800.0
    assert loaded.warnings == []


def test_real_prometheus_yml(tmp_path: Path) -> None:
    path = write(tmp_path, """
        # my global config
        global:
          scrape_interval: 15s
          evaluation_interval: 15s
          external_labels:
            monitor: 'codelab-monitor'
        alerting:
          alertmanagers:
            - static_configs:
                - targets: ['localhost:9093']
        rule_files:
          - "first_rules.yml"
        remote_read:
          - url: "http://localhost:9201/read"
        scrape_configs:
          - job_name: "prometheus"
            static_configs:
              - targets: ["localhost:9090"]
          - job_name: node
            scrape_interval: 5s
            file_sd_configs:
              - files: ['nodes/*.yml']
            relabel_configs:
              - source_labels: [__address__]
                regex: '(.*):\\d+'
                target_label: host
                replacement: '${1}'
            metric_relabel_configs:
              - source_labels: [__name__]
                regex: 'go_.*'
                action: drop
    """, "prometheus.yml")
    loaded = load_config(path)
    assert [w.split(": ")[1] for w in loaded.warnings] == ["remote_read"]
    cfg = loaded.config
    assert cfg.global_.external_labels == {"monitor": "codelab-monitor"}
    assert [sc.job_name for sc in cfg.scrape_configs] == ["prometheus", "node"]
    assert cfg.scrape_configs[1].scrape_timeout == 5.0


def test_check_config(tmp_path: Path) -> None:
    good = write(tmp_path, "remote_read: [{url: 'http://x'}]\nscrape_configs:\n- job_name: a\n", "good.yml")
    ok, messages = check_config(good)
    assert ok
    assert messages[0] == f"warning: {good}:1: remote_read: not supported by pharos, ignored"
    assert "OK (1 scrape config)" in messages[-1]
    bad = write(tmp_path, "scrape_configs:\n- job_name: a\n  scrape_timeout: nope\n", "bad.yml")
    ok, messages = check_config(bad)
    assert not ok
    assert messages == [f'error: {bad}:3: scrape_configs[0].scrape_timeout: not a valid duration string: "nope"']
    ok, messages = check_config(tmp_path / "missing.yml")
    assert not ok and "cannot read config file" in messages[0]


def test_models_usable_from_python() -> None:
    cfg = PharosConfig(scrape_configs=[ScrapeConfig(job_name="x", scrape_interval=5)])
    assert cfg.scrape_configs[0].scrape_timeout == 5.0
    assert cfg.scrape_config("x") is cfg.scrape_configs[0]


def test_check_config_checks_file_sd_files(tmp_path: Path) -> None:
    path = write(tmp_path, "scrape_configs:\n- job_name: f\n  file_sd_configs: [{files: ['sd/*.json']}]\n")
    ok, messages = check_config(path)
    assert ok
    assert messages[0] == f'warning: file "{tmp_path}/sd/*.json" for file_sd in scrape job "f" does not exist'
    (tmp_path / "sd").mkdir()
    (tmp_path / "sd" / "a.json").write_text('[{"targets": ["h:1"]}]')
    (tmp_path / "sd" / "b.json").write_text('[{"targets": "h:1"}]')
    ok, messages = check_config(path)
    assert not ok
    assert messages == [f'error: {tmp_path}/sd/b.json: file_sd of scrape job "f": '
                        'targets of sd/b.json:0 must be a list of strings'.replace("sd/b.json:0",
                                                                                 f"{tmp_path}/sd/b.json:0")]


def test_null_list_item_is_named() -> None:
    (msg,) = errors_of("scrape_configs:\n- job_name: a\n  relabel_configs:\n  -\n")
    assert msg == "pharos.yml:4: scrape_configs[0].relabel_configs[0]: empty or null section"
