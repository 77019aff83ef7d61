"""pharos.yml as pydantic models. Sections keep the peers' formats (Prometheus `global`,
`scrape_configs`), so a prometheus.yml loads unchanged.

INTERFACE CONTRACT: field names are Prometheus's; durations are parsed to seconds (float),
sizes to bytes (int). The config helper owns loading (line numbers in errors, warnings for
unsupported fields); scraping reads these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RelabelConfig(_Model):
    source_labels: list[str] = Field(default_factory=list)
    separator: str = ";"
    regex: str = "(.*)"
    modulus: int = 0
    target_label: str = ""
    replacement: str = "$1"
    action: Literal[
        "replace", "keep", "drop", "keepequal", "dropequal", "hashmod",
        "labelmap", "labeldrop", "labelkeep", "lowercase", "uppercase",
    ] = "replace"


class StaticConfig(_Model):
    targets: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class FileSDConfig(_Model):
    files: list[str]
    refresh_interval: float = 300.0


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


class GlobalConfig(_Model):
    scrape_interval: float = 60.0
    scrape_timeout: float = 10.0
    evaluation_interval: float = 60.0
    external_labels: dict[str, str] = Field(default_factory=dict)
    body_size_limit: int = 0
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0


class ScrapeConfig(_Model):
    job_name: str
    scrape_interval: float | None = None  # None: from global
    scrape_timeout: float | None = None  # None: from global (capped at the interval)
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
    relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    metric_relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    sample_limit: int | None = None
    label_limit: int | None = None
    label_name_length_limit: int | None = None
    label_value_length_limit: int | None = None
    body_size_limit: int | None = None


class StorageConfig(_Model):
    """pharos' own `storage:` section (Prometheus sets these by flags)."""

    retention_time: float = 15 * 24 * 3600.0
    retention_size: int = 0
    block_duration: float = 2 * 3600.0
    out_of_order_time_window: float = 600.0
    wal_fsync_interval: float = 1.0


class PharosConfig(_Model):
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    scrape_configs: list[ScrapeConfig] = Field(default_factory=list)
    storage: StorageConfig = Field(default_factory=StorageConfig)
