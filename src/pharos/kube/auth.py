"""How to reach the Kubernetes API: an explicit ``api_server`` with Prometheus's HTTP client
settings, a kubeconfig file, or the pod's service account (in-cluster)."""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from pharos.kube.watch import SA_DIR, KubeConfig


class KubeConfigError(ValueError):
    """No usable way to reach the API."""


def own_namespace() -> str:
    """The pod's namespace (service-account file), else ``$POD_NAMESPACE``, else ``default``."""
    try:
        return (SA_DIR / "namespace").read_text().strip() or "default"
    except OSError:
        return os.environ.get("POD_NAMESPACE") or "default"


def from_sd_config(sd: Any) -> KubeConfig:
    """The KubeConfig of a ``kubernetes_sd_configs`` entry."""
    if sd.kubeconfig_file:
        return from_kubeconfig(Path(sd.kubeconfig_file))
    if not sd.api_server:
        config = KubeConfig.in_cluster()
        if config is None:
            raise KubeConfigError(
                "not running in a cluster (KUBERNETES_SERVICE_HOST unset): set api_server or kubeconfig_file"
            )
        return config
    config = KubeConfig(sd.api_server.rstrip("/"))
    _apply_http_client(config, sd)
    return config


def _apply_http_client(config: KubeConfig, sd: Any) -> None:
    """basic_auth / authorization / bearer token / tls_config onto ``config``."""
    if sd.basic_auth is not None:
        config.username = sd.basic_auth.username
        password = sd.basic_auth.password
        if sd.basic_auth.password_file:
            password = Path(sd.basic_auth.password_file).read_text().strip()
        config.password = password or ""
    auth = sd.authorization or {}
    if sd.bearer_token:
        config.token = sd.bearer_token
    elif sd.bearer_token_file:
        config.token_file = Path(sd.bearer_token_file)
    elif auth.get("credentials") or auth.get("credentials_file"):
        config.auth_type = auth.get("type") or "Bearer"
        config.token = auth.get("credentials") or None
        if auth.get("credentials_file"):
            config.token_file = Path(auth["credentials_file"])
    tls = sd.tls_config
    if tls is not None:
        config.ca_file = Path(tls.ca_file) if tls.ca_file else None
        config.cert_file = Path(tls.cert_file) if tls.cert_file else None
        config.key_file = Path(tls.key_file) if tls.key_file else None
        config.insecure = tls.insecure_skip_verify
        config.server_name = tls.server_name


def from_kubeconfig(path: Path, context: str | None = None) -> KubeConfig:
    """The KubeConfig of a kubeconfig file's current (or named) context."""
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise KubeConfigError(f"{path}: {exc}") from exc
    ctx_name = context or doc.get("current-context")
    ctx = _named(doc, "contexts", ctx_name, "context")
    cluster = _named(doc, "clusters", ctx.get("cluster"), "cluster")
    user = _named(doc, "users", ctx.get("user"), "user") if ctx.get("user") else {}
    if not cluster.get("server"):
        raise KubeConfigError(f"{path}: cluster of context {ctx_name!r} has no server")
    config = KubeConfig(str(cluster["server"]).rstrip("/"))
    config.insecure = bool(cluster.get("insecure-skip-tls-verify"))
    config.ca_file = _file_or_data(cluster, "certificate-authority", path.parent)
    config.cert_file = _file_or_data(user, "client-certificate", path.parent)
    config.key_file = _file_or_data(user, "client-key", path.parent)
    config.token = user.get("token")
    if user.get("tokenFile"):
        config.token_file = path.parent / user["tokenFile"]
    if user.get("username"):
        config.username, config.password = user["username"], user.get("password", "")
    return config


def _named(doc: dict[str, Any], section: str, name: Any, field: str) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if entry.get("name") == name:
            return entry.get(field) or {}
    raise KubeConfigError(f"kubeconfig has no {field} named {name!r}")


def _file_or_data(section: dict[str, Any], key: str, base: Path) -> Path | None:
    """``key`` (a path relative to the kubeconfig) or ``key-data`` (base64, written to a temp file)."""
    if section.get(key):
        return base / section[key]
    data = section.get(f"{key}-data")
    if not data:
        return None
    fd, name = tempfile.mkstemp(prefix="pharos-kube-", suffix=".pem")
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64decode(data))
    return Path(name)
