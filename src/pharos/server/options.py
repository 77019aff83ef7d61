"""What `pharos up` / `pharos server` were asked to do, and how the config is assembled from it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from pharos.config.loader import ConfigError, LoadedConfig, load_config, parse_config
from pharos.config.model import StorageConfig
from pharos.metrics.tsdb.db import TSDBOptions
from pharos.server.security import check_server_config

DEFAULT_LISTEN = "127.0.0.1:9494"
DEFAULT_DATA_DIR = Path("pharos-data")
SELF_SCRAPE_INTERVAL = "15s"
AGENT_METRICS_PATH = "/agent/metrics"  # where `pharos up` serves its embedded agent's node metrics


@dataclass
class ServerOptions:
    """Command-line options of the server commands."""

    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = 9494
    config_file: Path | None = None
    prometheus_config: Path | None = None
    alertmanager_config: Path | None = None
    self_scrape: bool = False  # `pharos up` with no config scrapes itself
    agent_logs: list[str] = field(default_factory=list)  # `pharos up --logs GLOB`: files the local agent tails
    mode: str = "server"
    tls: bool = False  # the config's server.tls_server_config: the listener speaks https
    extra_flags: dict[str, str] = field(default_factory=dict)

    @property
    def listen(self) -> str:
        """HOST:PORT as given (IPv6 hosts in brackets)."""
        return f"{_bracket(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        """The URL a local client reaches the server at."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{_bracket(_local_host(self.host))}:{self.port}"

    def flags(self) -> dict[str, str]:
        """The flags as /api/v1/status/flags reports them."""
        return {
            "command": self.mode,
            "config": str(self.config_file or ""),
            "data-dir": str(self.data_dir),
            "listen": self.listen,
            "prometheus-config": str(self.prometheus_config or ""),
            "alertmanager-config": str(self.alertmanager_config or ""),
            **self.extra_flags,
        }


def parse_listen(text: str) -> tuple[str, int]:
    """Split HOST:PORT (`[::1]:9494`, `:9494` = all interfaces); ValueError with a clear reason."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9494")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"--listen {text!r}: IPv6 addresses go in brackets, e.g. [::1]:9494") from None
    return host or "0.0.0.0", int(port_text)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _local_host(host: str) -> str:
    """The address to reach a listener on `host` from this machine."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def self_scrape_yaml(opts: ServerOptions) -> str:
    """The config `pharos up` runs with when given none: scrape itself and its embedded agent's
    node metrics every 15s."""
    target = f"{_bracket(_local_host(opts.host))}:{opts.port}"
    return (
        "global:\n"
        f"  scrape_interval: {SELF_SCRAPE_INTERVAL}\n"
        "scrape_configs:\n"
        "  - job_name: pharos\n"
        f"    scrape_interval: {SELF_SCRAPE_INTERVAL}\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
        "  - job_name: node\n"
        f"    scrape_interval: {SELF_SCRAPE_INTERVAL}\n"
        f"    metrics_path: {AGENT_METRICS_PATH}\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )


def load(opts: ServerOptions) -> LoadedConfig:
    """`_load_files`, then the alertmanager config (`--alertmanager-config` or the `alertmanager:`
    section) is validated too, so a broken one fails the start or the reload (file:line), and so
    are the `server:` section's secret and certificate files."""
    from pharos.alertmanager.config import resolve

    loaded = _load_files(opts)
    loaded.warnings += resolve(loaded, opts.alertmanager_config).warnings
    try:
        check_server_config(loaded.config.server)
    except ValueError as exc:
        raise ConfigError([f"{loaded.path or '<built-in config>'}: {exc}"]) from None
    return loaded


def _load_files(opts: ServerOptions) -> LoadedConfig:
    """Read the configured files into one config; raises ConfigError (file:line messages).

    `--config` gives pharos.yml; `--prometheus-config` a prometheus.yml whose `global` and
    `scrape_configs` replace those of pharos.yml. With neither, `pharos up` scrapes itself and
    `pharos server` scrapes nothing.
    """
    if opts.config_file is None and opts.prometheus_config is None:
        text = self_scrape_yaml(opts) if opts.self_scrape else ""
        return parse_config(text, filename="<built-in config>")
    loaded = load_config(opts.config_file) if opts.config_file else None
    prom = load_config(opts.prometheus_config) if opts.prometheus_config else None
    if loaded is None:
        assert prom is not None
        return prom
    if prom is not None:
        loaded.config.global_ = prom.config.global_
        loaded.config.scrape_configs = prom.config.scrape_configs
        loaded.warnings += prom.warnings
        loaded.text += f"\n# --- {opts.prometheus_config} ---\n{prom.text}"
    return loaded


def tsdb_options(storage: StorageConfig) -> TSDBOptions:
    """TSDB options from the config's `storage:` section (seconds -> milliseconds)."""
    return TSDBOptions(
        block_duration_ms=int(storage.block_duration * 1000),
        retention_time_ms=int(storage.retention_time * 1000),
        retention_size_bytes=int(storage.retention_size),
        out_of_order_window_ms=int(storage.out_of_order_time_window * 1000),
        wal_fsync_interval_s=float(storage.wal_fsync_interval),
    )


__all__ = ["ConfigError", "ServerOptions", "load", "parse_listen", "tsdb_options"]
