"""An unreachable Kubernetes API server is shown with the scrape pool's targets (the
`discoveryErrors` field of /api/v1/targets, which the UI's targets page shows) while pharos
keeps serving."""

from __future__ import annotations

from pathlib import Path

from pharos_testproc import PharosProcess, free_port, wait_for


def test_unreachable_api_server_is_a_targets_error(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = tmp_path / "pharos.yml"
    config.write_text(
        "scrape_configs:\n"
        "  - job_name: k8s-pods\n"
        f"    kubernetes_sd_configs: [{{role: pod, api_server: '{api}'}}]\n"
    )
    proc = PharosProcess(tmp_path, "server", ["--config", str(config)])
    try:
        proc.wait_ready()

        def errors() -> list[str]:
            data = proc.client.get("/api/v1/targets").json()["data"]
            return list(data.get("discoveryErrors", {}).get("k8s-pods", []))

        wait_for(lambda: errors(), timeout=30, what="a discovery error on the targets API")
        assert api in errors()[0]
        assert proc.client.get("/-/healthy").status_code == 200
        assert api in proc.log()  # and a log line says so
    finally:
        assert proc.stop() == 0
