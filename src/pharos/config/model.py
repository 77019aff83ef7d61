"""pharos.yml as pydantic models. Sections keep the peers' formats (Prometheus `global`,
`scrape_configs`), so a prometheus.yml loads unchanged.

INTERFACE CONTRACT: field names are Prometheus's; durations are parsed to seconds (float),
sizes to bytes (int). The config helper owns loading (line numbers in errors, warnings for
unsupported fields); scraping reads these models.

After validation of a `PharosConfig`, every `ScrapeConfig.scrape_interval` and `scrape_timeout`
is filled in from `global` (Prometheus's defaulting), `authorization` holds the normalised
credentials (`bearer_token*` are mapped onto it, type defaults to "Bearer"), and each
`RelabelConfig.rule` is its compiled relabel rule (see pharos.metrics.scrape.relabel).

Durations accept Prometheus strings (`15s`, `1m30s`) and, when built from Python, plain numbers
of seconds; loading a file (validation context `{"strict_formats": True}`) rejects bare numbers
other than 0 as Prometheus does. Sizes likewise (`10MB`, `512KiB`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pharos.config.units import parse_duration, parse_size
from pharos.metrics.scrape.relabel import RELABEL_TARGET_RE, Rule, compile_rule, is_valid_label_name
from pharos.monitors.model import MonitorList

RELABEL_ACTIONS = (
    "replace", "keep", "drop", "keepequal", "dropequal", "hashmod",
    "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase",
)
_FILE_SD_NAME_RE = re.compile(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$")


def fail(message: str, *path: str | int) -> NoReturn:
    """Raise a validation error with a clean message; `path` narrows the location below the model."""
    raise PydanticCustomError("pharos", "{msg}", {"msg": message, "path": path})


def _strict(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("strict_formats"))


def _go_quote(value: Any) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _to_duration(value: Any, info: ValidationInfo) -> Any:
    """Parse a Prometheus duration to seconds."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            fail(str(exc))
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value == 0 or not _strict(info):
            return float(value)
        fail(f"not a valid duration string: {_go_quote(value)} (a duration needs a unit, e.g. \"{value}s\")")
    return value


def _to_size(value: Any, info: ValidationInfo) -> Any:
    """Parse a Prometheus byte size to bytes."""
    if isinstance(value, str):
        try:
            return parse_size(value)
        except ValueError as exc:
            fail(str(exc))
    if isinstance(value, int) and not isinstance(value, bool):
        if value == 0 or not _strict(info):
            return value
        fail(f"not a valid size: {_go_quote(value)} (a size needs a unit, e.g. \"{value}B\" or \"{value}MB\")")
    return value


Duration = Annotated[float, BeforeValidator(_to_duration)]
OptDuration = Annotated[float | None, BeforeValidator(_to_duration)]
Size = Annotated[int, BeforeValidator(_to_size)]
OptSize = Annotated[int | None, BeforeValidator(_to_size)]
Count = Annotated[int, Field(ge=0)]
OptCount = Annotated[int | None, Field(ge=0)]


def _check_label_names(names: Any, what: str = "label name") -> None:
    """Fail on the first invalid label name."""
    for name in names:
        if not is_valid_label_name(name):
            fail(f"{_go_quote(name)} is not a valid {what}", name)


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)


class RelabelConfig(_Model):
    source_labels: list[str] = Field(default_factory=list)
    separator: str = ";"
    regex: str = "(.*)"
    modulus: int = Field(default=0, ge=0)
    target_label: str = ""
    replacement: str = "$1"
    action: Literal[
        "replace", "keep", "drop", "keepequal", "dropequal", "hashmod",
        "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase",
    ] = "replace"
    _rule: Rule | None = PrivateAttr(default=None)

    @field_validator("action", mode="before")
    @classmethod
    def _lower_action(cls, value: Any) -> Any:
        """Actions are case-insensitive, as in Prometheus."""
        if isinstance(value, str):
            if value.lower() not in RELABEL_ACTIONS:
                fail(f"unknown relabel action {_go_quote(value)}")
            return value.lower()
        return value

    @field_validator("source_labels")
    @classmethod
    def _check_sources(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            if not is_valid_label_name(name):
                fail(f"{_go_quote(name)} is not a valid label name", i)
        return value

    @field_validator("regex", mode="before")
    @classmethod
    def _null_regex(cls, value: Any) -> Any:
        """An explicit null regex is the empty regex (Prometheus)."""
        return "" if value is None else value

    @model_validator(mode="after")
    def _validate(self) -> RelabelConfig:
        """Prometheus's relabel config checks, then compile the rule."""
        _check_relabel(self, self.model_fields_set)
        try:
            self._rule = compile_rule(self)
        except re.error as exc:
            fail(f"invalid regex {_go_quote(self.regex)}: {exc}", "regex")
        return self

    @property
    def rule(self) -> Rule:
        """The compiled rule (compiled on validation)."""
        if self._rule is None:
            self._rule = compile_rule(self)
        return self._rule


def _check_relabel(c: RelabelConfig, given: set[str]) -> None:
    """Prometheus's RelabelConfig.UnmarshalYAML checks, same messages."""
    act = c.action
    if c.modulus == 0 and act == "hashmod":
        fail("relabel configuration for hashmod requires non-zero modulus", "modulus")
    needs_target = act in ("replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal")
    if needs_target and c.target_label == "":
        fail(f"relabel configuration for {act} action requires 'target_label' value", "target_label")
    templated = act in ("replace", "lowercase", "uppercase", "keepequal", "dropequal")
    if templated and not RELABEL_TARGET_RE.fullmatch(c.target_label):
        fail(f"{_go_quote(c.target_label)} is invalid 'target_label' for {act} action", "target_label")
    if act in ("lowercase", "uppercase", "keepequal", "dropequal") and c.replacement != "$1":
        fail(f"'replacement' can not be set for {act} action", "replacement")
    if act == "labelmap" and not RELABEL_TARGET_RE.fullmatch(c.replacement):
        fail(f"{_go_quote(c.replacement)} is invalid 'replacement' for {act} action", "replacement")
    if act == "hashmod" and not is_valid_label_name(c.target_label):
        fail(f"{_go_quote(c.target_label)} is invalid 'target_label' for {act} action", "target_label")
    if act in ("keepequal", "dropequal") and given & {"regex", "modulus", "separator", "replacement"}:
        fail(f"{act} action requires only 'source_labels' and `target_label`, and no other fields")
    if act in ("labeldrop", "labelkeep") and given & {
        "source_labels", "target_label", "modulus", "separator", "replacement"
    }:
        fail(f"{act} action requires only 'regex', and no other fields")


class StaticConfig(_Model):
    targets: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _check_labels(cls, value: dict[str, str]) -> dict[str, str]:
        _check_label_names(value)
        return value


class FileSDConfig(_Model):
    files: list[str]
    refresh_interval: Duration = 300.0

    @field_validator("files")
    @classmethod
    def _check_files(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            if not _FILE_SD_NAME_RE.match(name):
                fail(f"path name {_go_quote(name)} is not valid for file discovery", i)
        return value


class BasicAuth(_Model):
    username: str = ""
    password: str | None = None
    password_file: str | None = None


class TLSConfig(_Model):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False


KUBERNETES_ROLES = ("pod", "node", "service", "endpoints", "endpointslice", "ingress")
# Which selector roles each discovery role may filter (Prometheus's allowedSelectors).
_K8S_SELECTOR_ROLES = {
    "pod": ("pod", "node"),
    "node": ("node",),
    "service": ("service",),
    "endpoints": ("endpoints", "pod", "service", "node"),
    "endpointslice": ("endpointslice", "pod", "service", "node"),
    "ingress": ("ingress",),
}


class KubernetesNamespaces(_Model):
    own_namespace: bool = False
    names: list[str] = Field(default_factory=list)


class KubernetesSelector(_Model):
    role: str
    label: str = ""
    field: str = ""


class KubernetesAttachMetadata(_Model):
    node: bool = False
    namespace: bool = False
    deployment: bool = False
    job: bool = False
    cronjob: bool = False


class KubernetesSDConfig(_Model):
    """One `kubernetes_sd_configs` entry (Prometheus's fields)."""

    role: str
    api_server: str | None = None
    kubeconfig_file: str | None = None
    namespaces: KubernetesNamespaces = Field(default_factory=KubernetesNamespaces)
    selectors: list[KubernetesSelector] = Field(default_factory=list)
    attach_metadata: KubernetesAttachMetadata = Field(default_factory=KubernetesAttachMetadata)
    basic_auth: BasicAuth | None = None
    authorization: dict[str, str] | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    tls_config: TLSConfig | None = None

    @model_validator(mode="after")
    def _validate(self) -> KubernetesSDConfig:
        """Prometheus's SDConfig checks, same messages."""
        if self.role not in KUBERNETES_ROLES:
            fail(f"unknown Kubernetes SD role {_go_quote(self.role)}", "role")
        if self.api_server and self.kubeconfig_file:
            fail("cannot use 'kubeconfig_file' and 'api_server' simultaneously", "kubeconfig_file")
        custom = self.basic_auth or self.authorization or self.bearer_token or self.bearer_token_file
        if not self.api_server and (custom or self.tls_config is not None):
            fail("to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
                 "api_server")
        allowed = _K8S_SELECTOR_ROLES[self.role]
        for i, sel in enumerate(self.selectors):
            if sel.role not in allowed:
                fail(f"{sel.role} is not allowed for {self.role} role, only {list(allowed)} are allowed",
                     "selectors", i, "role")
        return self


class GlobalConfig(_Model):
    scrape_interval: Duration = 60.0
    scrape_timeout: Duration = 10.0
    evaluation_interval: Duration = 60.0
    external_labels: dict[str, str] = Field(default_factory=dict)
    body_size_limit: Size = 0
    sample_limit: Count = 0
    label_limit: Count = 0
    label_name_length_limit: Count = 0
    label_value_length_limit: Count = 0

    @field_validator("external_labels")
    @classmethod
    def _check_external(cls, value: dict[str, str]) -> dict[str, str]:
        _check_label_names(value)
        return value

    @model_validator(mode="after")
    def _defaults(self) -> GlobalConfig:
        """Prometheus's global defaulting: timeout <= interval, zero means default."""
        if self.scrape_interval == 0:
            self.scrape_interval = 60.0
        if self.scrape_timeout == 0 or "scrape_timeout" not in self.model_fields_set:
            self.scrape_timeout = min(10.0, self.scrape_interval)
        if self.scrape_timeout > self.scrape_interval:
            fail("global scrape timeout greater than scrape interval", "scrape_timeout")
        if self.evaluation_interval == 0:
            self.evaluation_interval = 60.0
        return self


class ScrapeConfig(_Model):
    job_name: str
    scrape_interval: OptDuration = None  # None: from global
    scrape_timeout: OptDuration = None  # None: from global (capped at the interval)
    metrics_path: str = "/metrics"
    scheme: Literal["http", "https"] = "http"
    params: dict[str, list[str]] = Field(default_factory=dict)
    honor_labels: bool = False
    honor_timestamps: bool = True
    basic_auth: BasicAuth | None = None
    authorization: dict[str, str] | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    tls_config: TLSConfig | None = None
    static_configs: list[StaticConfig] = Field(default_factory=list)
    file_sd_configs: list[FileSDConfig] = Field(default_factory=list)
    kubernetes_sd_configs: list[KubernetesSDConfig] = Field(default_factory=list)
    relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    metric_relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    sample_limit: OptCount = None
    label_limit: OptCount = None
    label_name_length_limit: OptCount = None
    label_value_length_limit: OptCount = None
    body_size_limit: OptSize = None

    @model_validator(mode="after")
    def _validate(self) -> ScrapeConfig:
        """Prometheus's scrape config checks (job name, HTTP client, static targets)."""
        if not self.job_name:
            fail("job_name is empty", "job_name")
        _check_http_client(self)
        if not self.relabel_configs:
            for i, sc in enumerate(self.static_configs):
                for j, target in enumerate(sc.targets):
                    if "/" in target:
                        fail(f"{_go_quote(target)} is not a valid hostname", "static_configs", i, "targets", j)
        return self


def _check_http_client(c: ScrapeConfig | AlertmanagerEndpointConfig) -> None:
    """Prometheus's HTTPClientConfig.Validate, normalising bearer tokens into `authorization`."""
    if c.bearer_token and c.bearer_token_file:
        fail("at most one of bearer_token & bearer_token_file must be configured", "bearer_token_file")
    if c.basic_auth is not None and (c.bearer_token or c.bearer_token_file):
        fail("at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured")
    if c.basic_auth is not None and c.basic_auth.password and c.basic_auth.password_file:
        fail("at most one of basic_auth password & password_file must be configured", "basic_auth")
    if c.authorization is None:
        if c.bearer_token:
            c.authorization = {"type": "Bearer", "credentials": c.bearer_token}
        elif c.bearer_token_file:
            c.authorization = {"type": "Bearer", "credentials_file": c.bearer_token_file}
        return
    _check_authorization(c)


def _check_authorization(c: ScrapeConfig | AlertmanagerEndpointConfig) -> None:
    """Validate and normalise an explicit `authorization` block."""
    auth = c.authorization or {}
    for key in auth:
        if key not in ("type", "credentials", "credentials_file"):
            fail(f"field {key} not found in type config.Authorization", "authorization", key)
    if c.bearer_token or c.bearer_token_file:
        fail("authorization is not compatible with bearer_token & bearer_token_file", "authorization")
    if auth.get("credentials") and auth.get("credentials_file"):
        fail("at most one of authorization credentials & credentials_file must be configured", "authorization")
    auth["type"] = auth.get("type", "").strip() or "Bearer"
    if auth["type"].lower() == "basic":
        fail('authorization type cannot be set to "basic", use "basic_auth" instead', "authorization", "type")
    if c.basic_auth is not None:
        fail("at most one of basic_auth, oauth2 & authorization must be configured", "authorization")


class StorageConfig(_Model):
    """pharos' own `storage:` section (Prometheus sets these by flags)."""

    retention_time: Duration = 15 * 24 * 3600.0
    retention_size: Size = 0
    block_duration: Duration = 2 * 3600.0
    out_of_order_time_window: Duration = 600.0
    wal_fsync_interval: Duration = 1.0

    @model_validator(mode="after")
    def _positive(self) -> StorageConfig:
        """Block duration and fsync interval must be positive."""
        if self.block_duration <= 0:
            fail("block_duration must be greater than 0", "block_duration")
        if self.wal_fsync_interval <= 0:
            fail("wal_fsync_interval must be greater than 0", "wal_fsync_interval")
        return self


class LogLimitsConfig(_Model):
    """Per-tenant log limits under Loki's `limits_config` names and defaults."""

    max_line_size: Size = 256 * 1024
    max_line_size_truncate: bool = False
    max_label_names_per_series: Count = 15
    max_label_name_length: Count = 1024
    max_label_value_length: Count = 2048
    reject_old_samples: bool = True
    reject_old_samples_max_age: Duration = 168 * 3600.0
    creation_grace_period: Duration = 600.0
    ingestion_rate_mb: float = 4.0
    ingestion_burst_size_mb: float = 6.0
    max_global_streams_per_user: Count = 5000
    max_chunk_age: Duration = 2 * 3600.0
    max_structured_metadata_size: Size = 64 * 1024
    max_structured_metadata_entries_count: Count = 128
    retention_period: Duration = 0.0
    max_entries_limit_per_query: Count = 5000
    max_query_series: Count = 500
    per_stream_rate_limit: Size = 3_000_000
    per_stream_rate_limit_burst: Size = 15_000_000
    retention_stream: list[RetentionStreamConfig] = Field(default_factory=list)


class RetentionStreamConfig(_Model):
    """One `retention_stream` rule (Loki): streams matching `selector` keep `period`."""

    selector: str
    priority: int = 0
    period: Duration

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        from pharos.logs.logql import ParseError, parse
        from pharos.logs.logql.ast import LogExpr

        try:
            expr = parse(value)
        except ParseError as exc:
            fail(str(exc))
        if not isinstance(expr, LogExpr) or expr.stages:
            fail(f"retention_stream selector must be a stream selector: {value}")
        return value


class LogsConfig(_Model):
    """pharos' `logs:` section: Loki-style limits, with per-tenant overrides of any of them."""

    limits: LogLimitsConfig = Field(default_factory=LogLimitsConfig)
    overrides: dict[str, LogLimitsConfig] = Field(default_factory=dict)
    delete_request_cancel_period: Duration = 24 * 3600.0


class QueueConfig(_Model):
    """`remote_write[].queue_config` (Prometheus's names and defaults)."""

    capacity: int = Field(default=2500, gt=0)
    max_shards: int = Field(default=4, gt=0)  # pharos runs a fixed number of shards (min of the two)
    min_shards: int = Field(default=1, gt=0)
    max_samples_per_send: int = Field(default=2000, gt=0)
    batch_send_deadline: Duration = 5.0
    min_backoff: Duration = 0.03
    max_backoff: Duration = 5.0
    retry_on_http_429: bool = True
    max_pending_samples: int = Field(default=10_000_000, gt=0)  # pharos: memory bound per queue


class RemoteWriteConfig(_Model):
    """One `remote_write` entry in Prometheus's format."""

    url: str
    name: str = ""
    remote_timeout: Duration = 30.0
    headers: dict[str, str] = Field(default_factory=dict)
    write_relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    basic_auth: BasicAuth | None = None
    authorization: dict[str, str] | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    queue_config: QueueConfig = Field(default_factory=QueueConfig)


class PushgatewayConfig(_Model):
    """pharos' `pushgateway:` section: an optional default lifetime for pushed groups."""

    group_ttl: OptDuration = None


class TLSServerConfig(_Model):
    """`server.tls_server_config`: the certificate pharos serves (Prometheus web-config names)."""

    cert_file: str
    key_file: str
    client_ca_file: str | None = None  # when set, clients must present a certificate it signed


class ServerConfig(_Model):
    """pharos' `server:` section: HTTP authentication, TLS, tenancy and the request body cap."""

    auth_enabled: bool = False  # Loki's: tenant-scoped APIs require X-Scope-OrgID
    basic_auth: BasicAuth | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    tls_server_config: TLSServerConfig | None = None
    max_request_body_size: Size = 100 << 20

    @model_validator(mode="after")
    def _credentials(self) -> ServerConfig:
        """One source per secret; basic auth needs a user and a password."""
        if self.bearer_token and self.bearer_token_file:
            fail("at most one of bearer_token & bearer_token_file must be configured", "bearer_token_file")
        basic = self.basic_auth
        if basic is not None and (not basic.username or bool(basic.password) == bool(basic.password_file)):
            fail("basic_auth needs a username and one of password & password_file", "basic_auth")
        if self.max_request_body_size <= 0:
            fail("max_request_body_size must be greater than 0", "max_request_body_size")
        return self


class PharosConfig(_Model):
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    rule_files: list[str] = Field(default_factory=list)  # Prometheus rule files (globs, pharos.rules)
    alerting: AlertingConfig | None = None  # where rules send alerts (pharos.rules.notifier)
    scrape_configs: list[ScrapeConfig] = Field(default_factory=list)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    alertmanager: dict[str, Any] | None = None  # an alertmanager.yml body (pharos.alertmanager.config)
    remote_write: list[RemoteWriteConfig] = Field(default_factory=list)
    pushgateway: PushgatewayConfig = Field(default_factory=PushgatewayConfig)
    agent: dict[str, Any] = Field(default_factory=dict)  # the node agent's options (pharos.agent.runner)
    monitors: MonitorList = Field(default_factory=list)  # Datadog-style monitors (pharos.monitors)
    server: ServerConfig = Field(default_factory=ServerConfig)  # auth, TLS, body cap (pharos.server.security)

    @field_validator("agent")
    @classmethod
    def _agent_keys(cls, section: dict[str, Any]) -> dict[str, Any]:
        """Every key of `agent:` must be an option of the agent."""
        from pharos.agent.runner import AgentOptions

        known = set(AgentOptions.__dataclass_fields__) - {"config"}
        for key in section:
            if key not in known:
                fail(f"unknown agent option {key!r}", key)
        return section

    @model_validator(mode="after")
    def _scrape_defaults(self) -> PharosConfig:
        """Fill per-job interval/timeout from global; job names must be unique (Prometheus)."""
        seen: set[str] = set()
        g = self.global_
        for i, sc in enumerate(self.scrape_configs):
            if not sc.scrape_interval:
                sc.scrape_interval = g.scrape_interval
            if sc.scrape_timeout and sc.scrape_timeout > sc.scrape_interval:
                fail(f"scrape timeout greater than scrape interval for scrape config with job name "
                     f"{_go_quote(sc.job_name)}", "scrape_configs", i, "scrape_timeout")
            if not sc.scrape_timeout:
                sc.scrape_timeout = min(g.scrape_timeout, sc.scrape_interval)
            if sc.job_name in seen:
                fail(f"found multiple scrape configs with job name {_go_quote(sc.job_name)}",
                     "scrape_configs", i, "job_name")
            seen.add(sc.job_name)
        return self

    def scrape_config(self, job_name: str) -> ScrapeConfig | None:
        """The scrape config of `job_name`, if any."""
        return next((sc for sc in self.scrape_configs if sc.job_name == job_name), None)


class AlertmanagerEndpointConfig(_Model):
    """One `alerting.alertmanagers` entry (Prometheus's AlertmanagerConfig)."""

    static_configs: list[StaticConfig] = Field(default_factory=list)
    path_prefix: str = ""
    scheme: Literal["http", "https"] = "http"
    api_version: Literal["v2"] = "v2"
    timeout: Duration = 10.0
    basic_auth: BasicAuth | None = None
    authorization: dict[str, str] | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    tls_config: TLSConfig | None = None
    relabel_configs: list[RelabelConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _validate(self) -> AlertmanagerEndpointConfig:
        """Prometheus's HTTP client config checks (bearer tokens normalised into `authorization`)."""
        _check_http_client(self)
        return self


class AlertingConfig(_Model):
    """Prometheus's `alerting:` section: Alertmanagers and alert relabelling."""

    alertmanagers: list[AlertmanagerEndpointConfig] = Field(default_factory=list)
    alert_relabel_configs: list[RelabelConfig] = Field(default_factory=list)


PharosConfig.model_rebuild()
