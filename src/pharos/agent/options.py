"""The agent's options: the CLI contract plus the ``agent:`` section of pharos.yml (imports little,
so ``pharos agent`` can check them before the agent process starts)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

DEFAULT_LOGS = "/var/log/containers/*.log"
DEFAULT_PUSH_URL = "http://127.0.0.1:9494/loki/api/v1/push"


@dataclass
class AgentOptions:
    """The CLI contract (config, listen, logs, push_url, positions) plus the ``agent:`` config section."""

    config: Path | None = None
    listen: str | None = "127.0.0.1:9495"  # None: no HTTP listener (embedded in ``pharos up``)
    web_config_file: Path | None = None  # the listener's TLS and basic auth (pharos.agent.webconfig)
    logs: list[str] = field(default_factory=lambda: [DEFAULT_LOGS])
    push_url: str = DEFAULT_PUSH_URL
    positions: Path = Path("pharos-data/agent/positions.db")
    tenant: str | None = None
    node_name: str = ""
    static_labels: dict[str, str] = field(default_factory=dict)
    pod_labels: list[str] | None = None
    exclude_namespaces: list[str] = field(default_factory=list)
    exclude_pods: list[str] = field(default_factory=list)
    kubernetes: bool | None = None  # None: when running inside a cluster
    kube_api_url: str | None = None
    kube_token_file: Path | None = None
    kube_ca_file: Path | None = None
    multiline: bool = True
    multiline_rules: list[dict[str, str]] = field(default_factory=list)
    multiline_default: str | None = None
    flush_timeout: float = 1.0
    max_line_size: int = 256 * 1024
    batch_bytes: int = 1 << 20
    batch_wait: float = 1.0
    max_memory: int = 8 << 20  # compressed batches queued in memory before reading waits
    max_buffer: int = 512 << 20
    min_backoff: float = 0.1
    max_backoff: float = 10.0
    dead_letter: Path | None = None
    poll_interval: float = 0.1
    scan_interval: float = 0.5
    logs_enabled: bool = True
    metrics_enabled: bool = True
    proc_root: Path = Path("/proc")
    cgroup_root: Path = Path("/sys/fs/cgroup")

    @classmethod
    def from_config(cls, path: Path | None, **overrides: Any) -> AgentOptions:
        """Options from the ``agent:`` section of ``path`` with CLI ``overrides`` (None values ignored)."""
        values: dict[str, Any] = {}
        if path is not None:
            doc = yaml.safe_load(Path(path).read_text()) or {}
            section = doc.get("agent") or {}
            known = {f.name for f in fields(cls)}
            unknown = set(section) - known
            if unknown:
                raise ValueError(f"{path}: agent: unknown keys {sorted(unknown)}")
            values.update(section)
        values.update({k: v for k, v in overrides.items() if v is not None and v != []})
        for key in (
            "positions",
            "dead_letter",
            "proc_root",
            "cgroup_root",
            "kube_token_file",
            "kube_ca_file",
            "web_config_file",
        ):
            if isinstance(values.get(key), str):
                values[key] = Path(values[key])
        return cls(config=path, **values)
