"""In-cluster defaults: what ``pharos server`` scrapes inside a cluster when the config has no
scrape configs — the conventions operators already use:

* ``kubernetes-pods``: pods annotated ``prometheus.io/scrape: "true"``, honouring
  ``prometheus.io/port``, ``/path`` and ``/scheme``;
* ``node``: the pharos agents (pods labelled ``app.kubernetes.io/name: pharos-agent``) on 9495;
* ``pharos``: the server itself; ``kube-state-metrics``: its cluster-state metrics.
"""

from __future__ import annotations

from typing import Any

from pharos.config.model import ScrapeConfig

STATE_PATH = "/kube/metrics"
AGENT_LABEL = "app.kubernetes.io/name"
AGENT_NAME = "pharos-agent"
AGENT_PORT = 9495

_POD_LABELS: list[dict[str, Any]] = [
    {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
    {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
    {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "node"},
]


def annotated_pods_job() -> dict[str, Any]:
    """Prometheus's well-known ``kubernetes-pods`` job."""
    ann = "__meta_kubernetes_pod_annotation_prometheus_io_"
    return {
        "job_name": "kubernetes-pods",
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {"source_labels": [ann + "scrape"], "action": "keep", "regex": "true"},
            {"source_labels": ["__meta_kubernetes_pod_phase"], "action": "drop", "regex": "Pending|Succeeded|Failed"},
            {"source_labels": [ann + "scheme"], "regex": "(https?)", "target_label": "__scheme__"},
            {"source_labels": [ann + "path"], "regex": "(.+)", "target_label": "__metrics_path__"},
            {"source_labels": ["__address__", ann + "port"], "regex": r"([^:]+)(?::\d+)?;(\d+)",
             "replacement": "$1:$2", "target_label": "__address__"},
            *_POD_LABELS,
        ],
    }


def agents_job() -> dict[str, Any]:
    """The pharos agents' node and container metrics (job ``node``, as ``pharos up`` names it)."""
    label = "__meta_kubernetes_pod_label_" + AGENT_LABEL.replace(".", "_").replace("/", "_")
    return {
        "job_name": "node",
        "kubernetes_sd_configs": [{"role": "pod"}],
        "relabel_configs": [
            {"source_labels": [label], "action": "keep", "regex": AGENT_NAME},
            {"source_labels": ["__meta_kubernetes_pod_ip"], "regex": "(.+)",
             "replacement": f"$1:{AGENT_PORT}", "target_label": "__address__"},
            {"source_labels": ["__meta_kubernetes_pod_node_name"], "target_label": "instance"},
            *_POD_LABELS,
        ],
    }


def in_cluster_scrape_configs(self_target: str, self_client: dict[str, Any] | None = None) -> list[ScrapeConfig]:
    """The default jobs; ``self_target`` is the server's own HOST:PORT, ``self_client`` the HTTP
    client keys (scheme, auth, TLS) of the two jobs scraping it."""
    own = self_client or {}
    jobs = [
        annotated_pods_job(),
        agents_job(),
        {"job_name": "pharos", "static_configs": [{"targets": [self_target]}], **own},
        {"job_name": "kube-state-metrics", "honor_labels": True, "metrics_path": STATE_PATH,
         "static_configs": [{"targets": [self_target]}], **own},
    ]
    return [ScrapeConfig.model_validate(job) for job in jobs]
