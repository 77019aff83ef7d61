"""Resolved per-pool scrape settings: a ScrapeConfig with the global defaults filled in."""

from __future__ import annotations

from dataclasses import dataclass

from pharos.config.model import AlertmanagerEndpointConfig, GlobalConfig, RelabelConfig, ScrapeConfig


@dataclass(frozen=True)
class Limits:
    """Per-scrape limits; 0 means unlimited (Prometheus semantics)."""

    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    body_size_limit: int = 0


@dataclass(frozen=True)
class HTTPSettings:
    """What the HTTP client of a pool needs (auth and TLS); compared to decide on restarts."""

    basic_auth: tuple[str, str | None, str | None] | None = None  # username, password, password_file
    authorization: tuple[str, str | None, str | None] | None = None  # type, credentials, file
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_server_name: str | None = None
    tls_insecure_skip_verify: bool = False


@dataclass
class ScrapeSettings:
    """Everything a scrape pool and its loops need, with global defaults applied."""

    job_name: str
    interval: float
    timeout: float
    metrics_path: str
    scheme: str
    params: dict[str, list[str]]
    honor_labels: bool
    honor_timestamps: bool
    limits: Limits
    http: HTTPSettings
    relabel_configs: list[RelabelConfig]
    metric_relabel_configs: list[RelabelConfig]

    @classmethod
    def from_config(cls, cfg: ScrapeConfig, glob: GlobalConfig) -> ScrapeSettings:
        """Fill in interval, timeout (global, capped at the interval) and limits."""
        interval = cfg.scrape_interval if cfg.scrape_interval else glob.scrape_interval
        timeout = cfg.scrape_timeout if cfg.scrape_timeout else min(glob.scrape_timeout, interval)
        return cls(
            job_name=cfg.job_name,
            interval=interval,
            timeout=timeout,
            metrics_path=cfg.metrics_path,
            scheme=cfg.scheme,
            params={k: list(v) for k, v in cfg.params.items()},
            honor_labels=cfg.honor_labels,
            honor_timestamps=cfg.honor_timestamps,
            limits=_limits(cfg, glob),
            http=http_settings(cfg),
            relabel_configs=list(cfg.relabel_configs),
            metric_relabel_configs=list(cfg.metric_relabel_configs),
        )

    def loop_key(self) -> tuple:
        """What a running loop depends on besides its target; a change restarts the loop."""
        return (
            self.honor_labels,
            self.honor_timestamps,
            self.limits,
            self.http,
            _relabel_key(self.metric_relabel_configs),
        )

    def cache_key(self) -> tuple:
        """What decides the series cache: loops restarted with an equal key keep their cache."""
        return (self.honor_labels, self.honor_timestamps, _relabel_key(self.metric_relabel_configs))

    def targets_key(self) -> tuple:
        """What decides the target list built from discovered groups."""
        return (
            self.job_name,
            self.interval,
            self.timeout,
            self.metrics_path,
            self.scheme,
            tuple((k, tuple(v)) for k, v in sorted(self.params.items())),
            _relabel_key(self.relabel_configs),
        )


def _limit(job_value: int | None, global_value: int) -> int:
    return global_value if job_value is None else job_value


def _limits(cfg: ScrapeConfig, glob: GlobalConfig) -> Limits:
    return Limits(
        sample_limit=_limit(cfg.sample_limit, glob.sample_limit),
        label_limit=_limit(cfg.label_limit, glob.label_limit),
        label_name_length_limit=_limit(cfg.label_name_length_limit, glob.label_name_length_limit),
        label_value_length_limit=_limit(cfg.label_value_length_limit, glob.label_value_length_limit),
        body_size_limit=_limit(cfg.body_size_limit, glob.body_size_limit),
    )


def http_settings(cfg: ScrapeConfig | AlertmanagerEndpointConfig) -> HTTPSettings:
    """The HTTP client settings of a scrape job or an `alerting.alertmanagers` entry."""
    basic = None
    if cfg.basic_auth is not None:
        basic = (cfg.basic_auth.username, cfg.basic_auth.password, cfg.basic_auth.password_file)
    authz = None
    if cfg.authorization is not None:
        a = cfg.authorization
        authz = (a.get("type") or "Bearer", a.get("credentials"), a.get("credentials_file"))
    elif cfg.bearer_token is not None or cfg.bearer_token_file is not None:
        authz = ("Bearer", cfg.bearer_token, cfg.bearer_token_file)
    tls = cfg.tls_config
    if tls is None:
        return HTTPSettings(basic_auth=basic, authorization=authz)
    return HTTPSettings(
        basic_auth=basic,
        authorization=authz,
        tls_ca_file=tls.ca_file,
        tls_cert_file=tls.cert_file,
        tls_key_file=tls.key_file,
        tls_server_name=tls.server_name,
        tls_insecure_skip_verify=tls.insecure_skip_verify,
    )


def _relabel_key(configs: list[RelabelConfig]) -> tuple:
    return tuple(repr(c.model_dump()) for c in configs)
