"""`remote_write:` entries of pharos.yml in Prometheus's format (url, write_relabel_configs,
queue_config, basic_auth / authorization / bearer_token, headers)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from pharos.config.model import RemoteWriteConfig


def queue_name(cfg: RemoteWriteConfig) -> str:
    """Prometheus's remote_name: the configured name or a hash of the config."""
    if cfg.name:
        return cfg.name
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:6]


def auth_headers(cfg: RemoteWriteConfig) -> dict[str, str]:
    """Authorization from basic_auth, authorization or bearer_token(_file); files read now."""
    if cfg.basic_auth is not None:
        password = cfg.basic_auth.password or ""
        if cfg.basic_auth.password_file:
            password = Path(cfg.basic_auth.password_file).read_text().strip()
        token = base64.b64encode(f"{cfg.basic_auth.username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    auth = dict(cfg.authorization or {})
    if cfg.bearer_token or cfg.bearer_token_file:
        auth = {
            "type": "Bearer",
            "credentials": cfg.bearer_token or "",
            "credentials_file": cfg.bearer_token_file or "",
        }
    credentials = auth.get("credentials") or ""
    if auth.get("credentials_file"):
        credentials = Path(auth["credentials_file"]).read_text().strip()
    if credentials:
        return {"Authorization": f"{auth.get('type') or 'Bearer'} {credentials}"}
    return {}


def remote_write_configs(runtime: Any) -> list[RemoteWriteConfig]:
    """The `remote_write` list of the config in force."""
    return list(runtime.loaded.config.remote_write)


def external_labels(runtime: Any) -> dict[str, str]:
    return dict(runtime.loaded.config.global_.external_labels)
