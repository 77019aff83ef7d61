"""`remote_write:` entries of pharos.yml in Prometheus's format (url, write_relabel_configs,
queue_config, basic_auth / authorization / bearer_token, headers)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pharos.config.model import BasicAuth, Duration, RelabelConfig


class QueueConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
    capacity: int = Field(default=2500, gt=0)
    max_shards: int = Field(default=4, gt=0)  # pharos runs a fixed number of shards (min of the two)
    min_shards: int = Field(default=1, gt=0)
    max_samples_per_send: int = Field(default=2000, gt=0)
    batch_send_deadline: Duration = 5.0
    min_backoff: Duration = 0.03
    max_backoff: Duration = 5.0
    retry_on_http_429: bool = True
    max_pending_samples: int = Field(default=10_000_000, gt=0)  # pharos: memory bound per queue


class RemoteWriteConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")
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

    def queue_name(self) -> str:
        """Prometheus's remote_name: the configured name or a hash of the config."""
        if self.name:
            return self.name
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:6]

    def auth_headers(self) -> dict[str, str]:
        """Authorization from basic_auth, authorization or bearer_token(_file); files read now."""
        if self.basic_auth is not None:
            password = self.basic_auth.password or ""
            if self.basic_auth.password_file:
                password = Path(self.basic_auth.password_file).read_text().strip()
            token = base64.b64encode(f"{self.basic_auth.username}:{password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        auth = dict(self.authorization or {})
        if self.bearer_token or self.bearer_token_file:
            auth = {
                "type": "Bearer",
                "credentials": self.bearer_token or "",
                "credentials_file": self.bearer_token_file or "",
            }
        credentials = auth.get("credentials") or ""
        if auth.get("credentials_file"):
            credentials = Path(auth["credentials_file"]).read_text().strip()
        if credentials:
            return {"Authorization": f"{auth.get('type') or 'Bearer'} {credentials}"}
        return {}


def remote_write_configs(runtime: Any) -> list[RemoteWriteConfig]:
    """The `remote_write` list in force: from the config model once it has the field, else from
    the config text (the loader drops sections its model lacks)."""
    config = runtime.loaded.config
    raw = getattr(config, "remote_write", None)
    if raw is None:
        doc = yaml.safe_load(getattr(runtime.loaded, "text", "") or "") or {}
        raw = doc.get("remote_write") if isinstance(doc, dict) else None
    out = []
    for entry in raw or []:
        if isinstance(entry, RemoteWriteConfig):
            out.append(entry)
            continue
        data = entry.model_dump() if isinstance(entry, BaseModel) else entry
        try:
            out.append(RemoteWriteConfig.model_validate(data))
        except ValidationError as exc:
            raise ValueError(f"remote_write: {exc}") from exc
    return out


def external_labels(runtime: Any) -> dict[str, str]:
    return dict(runtime.loaded.config.global_.external_labels)
