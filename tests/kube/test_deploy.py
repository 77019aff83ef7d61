"""deploy/kustomize renders with Debian's kubectl (`kubectl kustomize`), and every rendered object
validates against Kubernetes' OpenAPI schemas (kubernetes-validate ships them: no network), in
strict mode (unknown fields rejected). Also checks the promises of the manifests: least RBAC,
read-only host paths, tolerations, resources, dropped capabilities, the ConfigMap from pharos.yml."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from pharos.config.loader import load_config

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy" / "kustomize"
OVERLAYS = ["single-node", "production"]
K8S_VERSION = "1.32.0"
KUBECTL = shutil.which("kubectl")


def render(overlay: str) -> list[dict[str, Any]]:
    assert KUBECTL, "kubectl not found: `make peers` installs Debian's kubernetes-client"
    out = subprocess.run([KUBECTL, "kustomize", str(KUSTOMIZE / "overlays" / overlay)],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module", params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_every_object_validates(objects: list[dict[str, Any]]) -> None:
    kinds = sorted(o["kind"] for o in objects)
    assert kinds == sorted(["Namespace", "ServiceAccount", "ServiceAccount", "ClusterRole", "ClusterRole",
                            "ClusterRoleBinding", "ClusterRoleBinding", "ConfigMap", "Service",
                            "StatefulSet", "DaemonSet"])
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_the_validator_rejects_a_broken_object() -> None:
    bad = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "x"},
           "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "a", "imagee": "typo"}]}}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_least_rbac(objects: list[dict[str, Any]]) -> None:
    for role in by_kind(objects, "ClusterRole"):
        for rule in role["rules"]:
            assert rule["verbs"] == ["get", "list", "watch"], role["metadata"]["name"]
            assert "*" not in rule["resources"] and "secrets" not in rule["resources"]
    agent = next(r for r in by_kind(objects, "ClusterRole") if r["metadata"]["name"] == "pharos-agent")
    assert agent["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]


def test_agent_daemonset(objects: list[dict[str, Any]]) -> None:
    pod = by_kind(objects, "DaemonSet")[0]["spec"]["template"]["spec"]
    assert {"operator": "Exists"} in pod["tolerations"]
    container = pod["containers"][0]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]
    host = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    for path in ("/var/log", "/var/log/pods", "/var/lib/docker/containers", "/proc", "/sys"):
        name = next(n for n, p in host.items() if p == path)
        assert mounts[name].get("readOnly") is True, path


def test_server_statefulset(objects: list[dict[str, Any]]) -> None:
    sts = by_kind(objects, "StatefulSet")[0]
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert all(o["metadata"].get("namespace") == "pharos" for o in objects
               if o["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"))


def test_configmap_is_a_valid_pharos_yml(objects: list[dict[str, Any]], tmp_path: Path) -> None:
    cm = by_kind(objects, "ConfigMap")[0]
    path = tmp_path / "pharos.yml"
    path.write_text(cm["data"]["pharos.yml"])
    loaded = load_config(path)
    assert loaded.warnings == []
    mounted = {v["configMap"]["name"] for o in objects if o["kind"] in ("StatefulSet", "DaemonSet")
               for v in o["spec"]["template"]["spec"]["volumes"] if "configMap" in v}
    assert mounted == {cm["metadata"]["name"]}


def test_overlays_differ_as_documented() -> None:
    sizes = {}
    for overlay in OVERLAYS:
        sts = by_kind(render(overlay), "StatefulSet")[0]
        sizes[overlay] = sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    assert sizes == {"single-node": "5Gi", "production": "200Gi"}
