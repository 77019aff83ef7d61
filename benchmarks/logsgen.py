"""Generated container logs for benchmarks/logs.py: zap-style JSON app logs, nginx access lines
and Java stack traces, spread over 60 streams with the repetition real logs have: a request writes
2-4 JSON lines sharing its request id, trace id (sampled), user and route; a third of the access
lines are kubelet probes and Prometheus scrapes; client IPs and user agents come from pools.
Everything else (ids, sizes, latencies, microsecond timestamps) is random. Deterministic per seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

NEEDLE = "needle-7f3a9c"
NS = 1_000_000_000

SERVICES = ["checkout", "payments", "catalog", "search", "users", "orders", "shipping", "inventory", "auth",
            "reviews", "cart", "pricing", "notify", "gateway", "billing", "ledger", "promo", "media", "geo",
            "ranking", "fraud", "email", "sms", "export", "import", "audit", "session", "tax", "wishlist", "feed"]
ROUTES = ["/api/v1/orders/{id}", "/api/v1/users/{id}", "/api/v1/cart", "/api/v1/products/{id}", "/healthz",
          "/api/v1/search?q={word}", "/api/v2/payments/{id}/capture", "/metrics", "/api/v1/orders", "/login",
          "/static/js/app.{hex}.js", "/static/css/main.{hex}.css", "/api/v1/reviews?product={id}&page={small}"]
WORDS = ["shoes", "laptop", "coffee", "chair", "lamp", "phone", "desk", "book", "camera", "bag", "watch", "tv"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "curl/8.4.0", "kube-probe/1.28", "Go-http-client/1.1", "python-requests/2.31.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
]
MESSAGES = {
    "debug": ["cache lookup", "db query", "retrying connection", "loaded config"],
    "info": ["request completed", "order created", "payment authorized", "user logged in", "item added to cart",
             "shipment scheduled", "token refreshed"],
    "warn": ["slow request", "retrying upstream call", "cache miss ratio high", "deprecated endpoint used"],
    "error": ["upstream timeout", "database connection reset", "payment declined", "validation failed"],
}
ERRORS = ["context deadline exceeded", "dial tcp 10.0.3.7:5432: connect: connection refused",
          "rpc error: code = Unavailable desc = transport is closing", "pq: duplicate key value violates unique "
          'constraint \\"orders_pkey\\"', "EOF"]
LEVELS = (["info"] * 80) + (["debug"] * 10) + (["warn"] * 7) + (["error"] * 3)
JAVA_FRAMES = [
    "at org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
    "at org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089)",
    "at org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:166)",
    "at org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1791)",
    "at java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1136)",
    "at com.example.billing.InvoiceService.render(InvoiceService.java:{n})",
    "at com.example.billing.api.InvoiceController.get(InvoiceController.java:{n})",
    "at com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
    "at java.base/java.lang.Thread.run(Thread.java:840)",
]
JAVA_EXC = ["java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"name\" is null",
            "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed "
            "out after 30000ms", "java.lang.IllegalStateException: invoice already finalized",
            "java.util.concurrent.TimeoutException: Did not observe any item or terminal signal within 5000ms"]


@dataclass(frozen=True)
class Stream:
    """One generated stream: its labels, kind (json, nginx, java) and share of the lines."""

    labels: dict[str, str]
    kind: str
    weight: float


def streams() -> list[Stream]:
    """60 streams: 30 JSON services, 20 nginx pods, 10 Java pods."""
    out = [Stream({"job": "bench", "namespace": "shop", "app": s, "format": "json", "pod": f"{s}-7d9f8-{i:02d}"},
                  "json", 1.0) for i, s in enumerate(SERVICES)]
    out += [Stream({"job": "bench", "namespace": "edge", "app": "nginx", "format": "nginx",
                    "pod": f"ingress-nginx-5c6b-{i:02d}"}, "nginx", 1.1) for i in range(20)]
    out += [Stream({"job": "bench", "namespace": "billing", "app": "invoices", "format": "java",
                    "pod": f"invoices-6f5d-{i:02d}"}, "java", 0.5) for i in range(10)]
    return out


class Generator:
    """Lines of one stream in time order; `needle_every` lines on average carry NEEDLE."""

    def __init__(self, stream: Stream, seed: int, needle_every: int) -> None:
        self.stream = stream
        self.rng = random.Random(seed)
        self.ips = [f"{self.rng.randint(1, 223)}.{self.rng.randint(0, 255)}.{self.rng.randint(0, 255)}."
                    f"{self.rng.randint(1, 254)}" for _ in range(3000)]
        self.needle_every = needle_every
        self._request: list[str] = []
        self._left = 0

    def _route(self) -> str:
        r = self.rng
        return r.choice(ROUTES).format(id=r.randint(1, 200000), word=r.choice(WORDS), hex=f"{r.getrandbits(32):08x}",
                                       small=r.randint(1, 9))

    def line(self, ts_ns: int) -> str:
        """One line at `ts_ns`."""
        kind = self.stream.kind
        text = self._json(ts_ns) if kind == "json" else self._nginx(ts_ns) if kind == "nginx" else self._java(ts_ns)
        if self.rng.randrange(self.needle_every) == 0:  # JSON lines stay valid JSON
            text = text.replace('"msg":"', f'"msg":"{NEEDLE} ', 1) if kind == "json" else f"{text} {NEEDLE}"
        return text

    def _new_request(self) -> None:
        r = self.rng
        self._left = r.randint(2, 4)
        self._request = [f'"method":"{r.choice(("GET", "GET", "GET", "POST", "PUT", "DELETE"))}"',
                         f'"path":"{self._route()}"', f'"request_id":"{r.getrandbits(64):016x}"',
                         f'"user_id":{r.randint(1, 50000)}']
        if r.random() < 0.3:
            self._request.append(f'"trace_id":"{r.getrandbits(128):032x}"')

    def _json(self, ts_ns: int) -> str:
        r = self.rng
        if self._left <= 0:
            self._new_request()
        self._left -= 1
        level = r.choice(LEVELS)
        app = self.stream.labels["app"]
        fields = [f'"level":"{level}"', f'"ts":{ts_ns / NS:.6f}', f'"logger":"{app}.http"',
                  f'"caller":"http/server.go:{r.choice((88, 142, 217))}"', f'"msg":"{r.choice(MESSAGES[level])}"',
                  *self._request]
        if self._left == 0:
            fields += [f'"status":{r.choice((200, 200, 200, 200, 201, 204, 304, 400, 404, 500))}',
                       f'"duration_ms":{r.lognormvariate(2.5, 1.0):.1f}']
        if level == "error":
            fields.append(f'"error":"{r.choice(ERRORS)}"')
        return "{" + ",".join(fields) + "}"

    def _nginx(self, ts_ns: int) -> str:
        r = self.rng
        from time import gmtime, strftime

        stamp = strftime("%d/%b/%Y:%H:%M:%S +0000", gmtime(ts_ns // NS))
        probe = r.random()
        if probe < 0.2:
            return f'10.244.{r.randint(0, 3)}.1 - - [{stamp}] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.28" 0.000 0.000'
        if probe < 0.33:
            return (f'10.244.7.{r.randint(10, 12)} - - [{stamp}] "GET /metrics HTTP/1.1" 200 {r.randint(14000, 14100)} '
                    f'"-" "Prometheus/2.48.1" {r.lognormvariate(-5.0, 0.3):.3f} {r.lognormvariate(-5.2, 0.3):.3f}')
        method = r.choice(("GET", "GET", "GET", "GET", "POST", "HEAD"))
        status = r.choice((200, 200, 200, 200, 200, 301, 304, 404, 499, 502))
        return (f'{r.choice(self.ips)} - - [{stamp}] "{method} {self._route()} HTTP/1.1" {status} '
                f'{r.randint(0, 60000) if status != 304 else 0} "-" "{r.choice(AGENTS)}" '
                f'{r.lognormvariate(-3.0, 1.0):.3f} {r.lognormvariate(-3.2, 1.0):.3f}')

    def _java(self, ts_ns: int) -> str:
        r = self.rng
        from time import gmtime, strftime

        stamp = strftime("%Y-%m-%d %H:%M:%S", gmtime(ts_ns // NS)) + f".{ts_ns // 1_000_000 % 1000:03d}"
        thread = f"http-nio-8080-exec-{r.randint(1, 200)}"
        if r.random() < 0.85:
            return (f"{stamp}  INFO 1 --- [{thread}] c.e.billing.InvoiceService : rendered invoice "
                    f"INV-{r.randint(100000, 999999)} in {r.randint(3, 900)} ms")
        frames = "\n\t".join(f.format(n=r.randint(40, 400)) for f in r.sample(JAVA_FRAMES, r.randint(5, 9)))
        return (f"{stamp} ERROR 1 --- [{thread}] o.a.c.c.C.[.[.[/].[dispatcherServlet] : Servlet.service() for "
                f"servlet [dispatcherServlet] threw exception\n{r.choice(JAVA_EXC)}\n\t{frames}")


def lines_for(stream: Stream, seed: int, start_ns: int, span_ns: int, n: int, needle_every: int
              ) -> Iterator[tuple[int, str]]:
    """`n` (ts, line) pairs spread evenly over [start, start + span)."""
    gen = Generator(stream, seed, needle_every)
    step = max(span_ns // max(n, 1), 1)
    jitter = gen.rng
    for i in range(n):
        ts = start_ns + i * step + jitter.randrange(step)
        yield ts, gen.line(ts)
