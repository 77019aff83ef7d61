"""Stream labels for a tailed file: kubelet file names, pod metadata, exclusion rules."""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field

from pharos.agent.kube import PodCache, PodMeta
from pharos.agent.ship import format_labels

EXCLUDE_ANNOTATION = "pharos.io/exclude"
MULTILINE_ANNOTATION = "pharos.io/multiline"
_HEX_ID = re.compile(r"[0-9a-f]{12,}$")
_ROTATION_NAME = re.compile(r"\d+\.log$")
_POD_DIR = re.compile(r"([^_]+)_([^_]+)_[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_BAD_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")
DEFAULT_POD_LABEL_EXCLUDE = ("pod-template-hash", "controller-revision-hash", "pod-template-generation")


@dataclass(frozen=True)
class FileIdentity:
    """What a kubelet log path tells about its container."""

    namespace: str
    pod: str
    container: str
    container_id: str = ""


def parse_kubelet_path(path: str) -> FileIdentity | None:
    """``/var/log/containers/<pod>_<namespace>_<container>-<id>.log`` or
    ``/var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log``; None otherwise."""
    base = os.path.basename(path)
    if base.endswith(".log") and base.count("_") >= 2:
        pod, namespace, rest = base[:-4].split("_", 2)
        container, _, cid = rest.rpartition("-")
        if container and _HEX_ID.match(cid):
            return FileIdentity(namespace, pod, container, cid)
    parts = path.split("/")
    if len(parts) >= 3 and _ROTATION_NAME.match(parts[-1]):
        m = _POD_DIR.match(parts[-3])
        if m:
            return FileIdentity(m.group(1), m.group(2), parts[-2])
    return None


def sanitize_label_name(name: str) -> str:
    """A Prometheus/Loki label name: ``app.kubernetes.io/name`` -> ``app_kubernetes_io_name``."""
    out = _BAD_LABEL_CHARS.sub("_", name)
    return "_" + out if out[:1].isdigit() else out


@dataclass
class LabelPolicy:
    """How labels are built and which files are excluded."""

    node: str = ""
    static: dict[str, str] = field(default_factory=dict)
    pod_labels: list[str] | None = None  # None: every pod label except DEFAULT_POD_LABEL_EXCLUDE
    exclude_namespaces: list[str] = field(default_factory=list)
    exclude_pods: list[str] = field(default_factory=list)  # globs on "<namespace>/<pod>" or "<pod>"
    cache: PodCache | None = None

    @property
    def version(self) -> int:
        """Changes whenever the pod cache does."""
        return self.cache.version if self.cache else 0

    def pod_of(self, ident: FileIdentity | None) -> PodMeta | None:
        """Pod metadata for a file, if the API told us."""
        if ident is None or self.cache is None:
            return None
        return self.cache.get(ident.namespace, ident.pod)

    def excluded(self, ident: FileIdentity | None, pod: PodMeta | None) -> bool:
        """Excluded by namespace/pod glob or by the ``pharos.io/exclude`` annotation."""
        if ident is not None:
            if any(fnmatch.fnmatchcase(ident.namespace, g) for g in self.exclude_namespaces):
                return True
            full = f"{ident.namespace}/{ident.pod}"
            if any(fnmatch.fnmatchcase(full, g) or fnmatch.fnmatchcase(ident.pod, g) for g in self.exclude_pods):
                return True
        return pod is not None and pod.annotations.get(EXCLUDE_ANNOTATION, "").lower() == "true"

    def multiline_rule(self, path: str) -> str | None:
        """The multiline rule a pod chose by annotation."""
        pod = self.pod_of(parse_kubelet_path(path))
        return pod.annotations.get(MULTILINE_ANNOTATION) if pod else None

    def labels(self, path: str, stream: str) -> str | None:
        """The label string of ``path``'s ``stream``, or None when the file is excluded."""
        ident = parse_kubelet_path(path)
        pod = self.pod_of(ident)
        if self.excluded(ident, pod):
            return None
        out: dict[str, str] = {}
        if pod is not None:
            for key, value in pod.labels.items():
                if self.pod_labels is None:
                    if key in DEFAULT_POD_LABEL_EXCLUDE:
                        continue
                elif key not in self.pod_labels:
                    continue
                out[sanitize_label_name(key)] = value
        out.update(self.static)
        if ident is not None:
            out.update(namespace=ident.namespace, pod=ident.pod, container=ident.container)
        if self.node:
            out["node"] = self.node
        if stream:
            out["stream"] = stream
        out["filename"] = path
        return format_labels(out)
