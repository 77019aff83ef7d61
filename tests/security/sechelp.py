"""Helpers of the security tests: a real `pharos server` on loopback with a given `pharos.yml`
(plain or TLS, with credentials), a throwaway CA made with the openssl CLI, Loki pushes and
WebSocket tails, and one concrete request for every route the app mounts."""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from pharos_testproc import PharosProcess
from websockets.sync.client import ClientConnection, connect

USER, PASSWORD, TOKEN = "alice", "s3cret-pass", "tok-0123456789"
BASIC = httpx.BasicAuth(USER, PASSWORD)
BEARER = {"Authorization": f"Bearer {TOKEN}"}
ALWAYS_FIRING = (  # a rule file whose alert InternalAlways fires at the first evaluation
    "groups:\n  - name: internal\n    interval: 1s\n    rules:\n"
    "      - alert: InternalAlways\n        expr: vector(1)\n        labels: {severity: page}\n"
)


class SecureServer(PharosProcess):
    """`pharos server` (or `command`, with `args`) with `config` written to pharos.yml; `scheme`
    https when it has TLS."""

    def __init__(
        self,
        workdir: Path,
        config: str,
        *,
        ca: Path | None = None,
        cert: tuple[Path, Path] | None = None,
        port: int | None = None,
        command: str = "server",
        args: tuple[str, ...] = (),
        **client: Any,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "pharos.yml").write_text(config)
        super().__init__(workdir, command, ["--config", str(workdir / "pharos.yml"), *args], port=port)
        if ca is not None:
            self.url = f"https://127.0.0.1:{self.port}"
        self.client.close()
        self.client = httpx.Client(
            base_url=self.url,
            timeout=30,
            trust_env=False,
            verify=client_context(ca, cert) if ca else True,
            **client,
        )

    def ws_url(self, path: str) -> str:
        """The ws:// (or wss://) URL of `path`."""
        return self.url.replace("http", "ws", 1) + path


def client_context(ca: Path, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """A client TLS context trusting only `ca`, presenting `cert` (certificate, key) if given."""
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


def make_ca(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, both signed
    by the CA (openssl CLI); keys by name: ca.pem, server.pem/.key, client.pem/.key."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca = folder / "ca.key", folder / "ca.pem"
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        ca_key,
        "-out",
        ca,
        "-days",
        "1",
        "-subj",
        "/CN=pharos-test-ca",
    )
    paths = {"ca.pem": ca}
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        key, csr, cert, extfile = (folder / f"{name}.{s}" for s in ("key", "csr", "pem", "ext"))
        extfile.write_text(ext + "\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        _openssl(
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "1",
            "-extfile",
            extfile,
        )
        paths |= {f"{name}.pem": cert, f"{name}.key": key}
    return paths


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def push_line(
    client: httpx.Client, tenant: str | None, labels: dict[str, str], line: str, **kw: Any
) -> httpx.Response:
    """Push one line now to /loki/api/v1/push as `tenant` (no header when None)."""
    headers = ({"X-Scope-OrgID": tenant} if tenant else {}) | kw.pop("headers", {})
    body = {"streams": [{"stream": labels, "values": [[str(time.time_ns()), line]]}]}
    return client.post("/loki/api/v1/push", json=body, headers=headers, **kw)


def open_tail(
    server: SecureServer, query: str, headers: dict[str, str], ssl_context: Any = None
) -> ClientConnection:
    """A WebSocket tail of `query` (raises on a refused handshake)."""
    url = server.ws_url("/loki/api/v1/tail?" + httpx.QueryParams({"query": query}).__str__())
    return connect(url, additional_headers=headers, proxy=None, ssl=ssl_context, open_timeout=20)


@dataclass
class Call:
    """One request against a route: method, concrete path and what to send."""

    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def send(self, client: httpx.Client, **extra: Any) -> httpx.Response:
        """Send it with `extra` (auth, headers) merged in."""
        headers = self.kwargs.get("headers", {}) | extra.pop("headers", {})
        return client.request(self.method, self.path, **(self.kwargs | extra | {"headers": headers}))


PUSH = {"streams": [{"stream": {"app": "sec"}, "values": [["1", "x"]]}]}
RULES = 'name: g1\nrules:\n  - record: sec:lines:rate1m\n    expr: sum(rate({app="sec"}[1m]))\n'
DASHBOARD = {"dashboard": {"uid": "sec-dash", "title": "sec", "panels": []}}
SILENCE = {
    "matchers": [{"name": "a", "value": "b", "isRegex": False}],
    "startsAt": "2020-01-01T00:00:00Z",
    "endsAt": "2100-01-01T00:00:00Z",
    "createdBy": "t",
    "comment": "c",
}
MONITOR = {
    "name": "sec-mon",
    "type": "metric",
    "query": "up",
    "comparison": "below",
    "thresholds": {"critical": 1},
}
UI = [
    "/explore",
    "/logs",
    "/dashboards",
    "/d",
    "/alerts",
    "/silences",
    "/rules",
    "/monitors",
    "/targets",
    "/service-discovery",
    "/status",
    "/tsdb-status",
]


def calls(asset: str) -> list[Call]:
    """A request for every HTTP route of `pharos server` (WebSocket tail apart); `asset` is a file
    under /assets/ of the built UI."""
    q, qr = {"query": "up"}, {"query": "up", "start": "1", "end": "2", "step": "1"}
    return [
        *(Call(m, "/-/reload") for m in ("GET", "POST", "PUT")),
        Call("GET", "/metrics"),
        Call("GET", "/api/v1/series", {"params": {"match[]": "up"}}),
        Call("POST", "/api/v1/series", {"data": {"match[]": "up"}}),
        Call("DELETE", "/api/v1/series"),
        Call("GET", "/api/v1/labels"),
        Call("POST", "/api/v1/labels"),
        *(
            Call("GET", f"/api/v1/{p}")
            for p in (
                "metadata",
                "targets",
                "targets/metadata",
                "status/config",
                "status/flags",
                "status/buildinfo",
                "status/runtimeinfo",
                "status/tsdb",
                "label/job/values",
                "metrics",
                "rules",
                "alerts",
            )
        ),
        Call("GET", "/api/v1/export", {"params": {"match[]": "up"}}),
        Call("POST", "/api/v1/export", {"data": {"match[]": "up"}}),
        Call("POST", "/loki/api/v1/push", {"json": PUSH}),
        *(
            Call(m, f"/loki/api/v1/{p}", {"params": {"query": '{app="sec"}'}})
            for m in ("GET", "POST")
            for p in (
                "query_range",
                "query",
                "label",
                "labels",
                "label/app/values",
                "series",
                "index/stats",
                "index/volume",
            )
        ),
        *(
            Call(m, "/loki/api/v1/delete", {"params": {"query": '{app="sec"}', "start": "1"}})
            for m in ("POST", "PUT", "GET", "DELETE")
        ),
        Call("GET", "/loki/api/v1/status/buildinfo"),
        Call("PUT", "/metrics/job/sec", {"content": b"sec_metric 1\n"}),
        Call("POST", "/metrics/job/sec", {"content": b"sec_metric 2\n"}),
        Call("DELETE", "/metrics/job/sec"),
        Call("PUT", "/api/v1/admin/wipe"),
        Call("POST", "/api/v1/write", {"content": b""}),
        Call("POST", "/api/v1/read", {"content": b""}),
        Call("POST", "/api/v1/otlp/v1/metrics", {"content": b""}),
        Call("GET", "/federate", {"params": {"match[]": "up"}}),
        Call("POST", "/federate", {"data": {"match[]": "up"}}),
        *crud_calls("/api/pharos/v1/dashboards", "sec-dash", DASHBOARD),
        *(Call(m, p) for m in ("GET", "HEAD") for p in ["/", *UI, *(f"{u}/x" for u in UI)]),
        Call("GET", "/graph"),
        *(
            Call(m, p)
            for m in ("GET", "HEAD")
            for p in (f"/assets/{asset}", "/favicon.svg", "/openapi.json", "/docs", "/docs/oauth2-redirect")
        ),
        Call("POST", "/api/v2/alerts", {"json": [{"labels": {"alertname": "sec"}}]}),
        Call("GET", "/api/v2/alerts"),
        Call("GET", "/api/v2/alerts/groups"),
        Call("POST", "/api/v2/silences", {"json": SILENCE}),
        Call("GET", "/api/v2/silences"),
        Call("GET", "/api/v2/silence/none"),
        Call("DELETE", "/api/v2/silence/none"),
        Call("GET", "/api/v2/status"),
        Call("GET", "/api/v2/receivers"),
        Call("POST", "/api/v1/rules"),
        Call("POST", "/api/v1/alerts"),
        *(c for base in ("/loki/api/v1/rules", "/api/prom/rules") for c in ruler_calls(base)),
        Call("GET", "/prometheus/api/v1/rules"),
        Call("GET", "/prometheus/api/v1/alerts"),
        *(Call("POST", f"/api/pharos/v1/monitors/sec-mon/{action}") for action in ("mute", "unmute")),
        Call("GET", "/api/pharos/v1/monitors/sec-mon/history"),
        *crud_calls("/api/pharos/v1/monitors", "sec-mon", MONITOR),
        *(
            Call(m, f"/api/v1/{p}", {"params" if m == "GET" else "data": q})
            for m in ("GET", "POST")
            for p in ("query", "format_query", "parse_query")
        ),
        Call("GET", "/api/v1/query_range", {"params": qr}),
        Call("POST", "/api/v1/query_range", {"data": qr}),
        Call("GET", "/kube/metrics"),
    ]


def ruler_calls(base: str) -> list[Call]:
    """Every method and depth of Loki's ruler API under `base`."""
    post = {"content": RULES.encode(), "headers": {"Content-Type": "application/yaml"}}
    return [
        Call("POST", f"{base}/ns1", post),
        Call("POST", base, post),
        Call("GET", base),
        Call("GET", f"{base}/ns1"),
        Call("GET", f"{base}/ns1/g1"),
        Call("DELETE", f"{base}/ns1/g1"),
        Call("DELETE", f"{base}/ns1"),
        Call("DELETE", base),
    ]


def crud_calls(collection: str, item: str, body: dict[str, Any]) -> list[Call]:
    """Create, list, read, replace and delete one item of a JSON collection."""
    return [
        Call("POST", collection, {"json": body}),
        Call("GET", collection),
        Call("GET", f"{collection}/{item}"),
        Call("PUT", f"{collection}/{item}", {"json": body}),
        Call("DELETE", f"{collection}/{item}"),
    ]


class Receiver:
    """An HTTP server on 127.0.0.1 (a thread) recording the JSON body of every POST: a webhook."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"] or 0))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alertnames(self) -> set[str]:
        """The alert names of every notification received."""
        return {a["labels"]["alertname"] for body in self.bodies for a in body.get("alerts", [])}

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
