"""Run the real prometheus 2.42 on a free port for interop tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import cramjam
import httpx
from live_server import free_port

from pharos.metrics.remote.schema import ReadRequest, ReadResponse

PROMETHEUS = "/usr/bin/prometheus"


class Prometheus:
    def __init__(
        self, tmp: Path, config: str, extra_flags: tuple[str, ...] = (), port: int | None = None
    ) -> None:
        assert shutil.which(PROMETHEUS), "prometheus 2.42 is required"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        tmp.mkdir(parents=True, exist_ok=True)
        self.config = tmp / "prometheus.yml"
        self.config.write_text(config.replace("$SELF", f"127.0.0.1:{self.port}"))
        self.log_path = tmp / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={tmp / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                *extra_flags,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.url, timeout=30)
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.client.get("/-/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.1)

    def reload(self, config: str) -> None:
        self.config.write_text(config.replace("$SELF", f"127.0.0.1:{self.port}"))
        assert self.client.post("/-/reload").status_code == 200

    def read(
        self, start: int, end: int, name_regex: str = ".+"
    ) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
        """Every matching series with its samples, via Prometheus's own /api/v1/read."""
        return remote_read(self.url + "/api/v1/read", start, end, name_regex)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()
        self.client.close()


def remote_read(
    url: str, start: int, end: int, name_regex: str = ".+"
) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    req = ReadRequest()
    q = req.queries.add(start_timestamp_ms=start, end_timestamp_ms=end)
    q.matchers.add(type=2, name="__name__", value=name_regex)
    r = httpx.post(
        url,
        content=bytes(cramjam.snappy.compress_raw(req.SerializeToString())),
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Read-Version": "0.1.0",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    resp = ReadResponse.FromString(bytes(cramjam.snappy.decompress_raw(r.content)))
    out = {}
    for ts in resp.results[0].timeseries:
        labels = tuple(sorted((lb.name, lb.value) for lb in ts.labels))
        out[labels] = [(s.timestamp, s.value) for s in ts.samples]
    return out
