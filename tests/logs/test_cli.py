"""`pharos logs 'LOGQL'` against a real server on 127.0.0.1 (logcli-like output, paging, follow)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import orjson
from loghelp import NS, now_ns

from pharos.logs.client import ClientError, LogsQuery, rfc3339_nano, run

PHAROS = str(Path(sys.executable).with_name("pharos"))


def _pharos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PHAROS, "logs", *args], capture_output=True, text=True, timeout=60)


def _seed(server, n: int = 5, tenant: str | None = None) -> int:
    t0 = now_ns()
    values = [[str(t0 + i * NS), f"line {i}"] for i in range(n)]
    assert server.push([{"stream": {"app": "a", "env": "x"}, "values": values}], tenant).status_code == 204
    return t0


def test_outputs_and_range(server):
    t0 = _seed(server)
    rng = ["--from", str(t0 // NS), "--to", str(t0 // NS + 10), "--server", server.url]
    r = _pharos('{app="a"}', *rng, "--output", "raw")
    assert (r.returncode, r.stdout) == (0, "".join(f"line {i}\n" for i in range(4, -1, -1)))
    r = _pharos('{app="a"} |= "line 3"', *rng)
    assert r.stdout == f'{rfc3339_nano(t0 + 3 * NS)} {{app="a", env="x"}} line 3\n'
    r = _pharos('{app="a"}', *rng, "-o", "jsonl", "--limit", "2", "--forward")
    docs = [orjson.loads(x) for x in r.stdout.splitlines()]
    assert docs == [{"labels": {"app": "a", "env": "x"}, "line": f"line {i}", "timestamp": rfc3339_nano(t0 + i * NS)}
                    for i in range(2)]
    r = _pharos('sum(count_over_time({app="a"}[1m]))', "--from", str(t0 // NS + 4), "--to", str(t0 // NS + 4),
                "--server", server.url)
    assert orjson.loads(r.stdout)[0]["values"][0][1] == "5"


def test_tenant_and_errors(server):
    t0 = _seed(server, tenant="team1")
    rng = ["--from", str(t0 // NS), "--to", str(t0 // NS + 10), "--server", server.url, "-o", "raw"]
    assert _pharos('{app="a"}', *rng).stdout == ""
    assert len(_pharos('{app="a"}', *rng, "--org-id", "team1").stdout.splitlines()) == 5
    for args, msg in [(['{app="a"'], "parse error"), (['{app="a"}', "-o", "xml"], "invalid --output"),
                      (['{app="a"}', "--since", "soon"], "invalid --since"),
                      (['{app="a"}', "--from", "yesterday"], "invalid time"),
                      (['{app="a"}', "--limit", "-1"], "--limit must not be negative")]:
        r = _pharos(*args, "--server", server.url)
        assert r.returncode == 1 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    r = _pharos('{app="a"}', "--server", "http://127.0.0.1:1")
    assert r.returncode == 1 and "cannot reach" in r.stderr


def test_paging_past_the_batch_size(server):
    t0 = now_ns() - 3000 * NS
    values = [[str(t0 + (i // 2) * NS), f"l{i}"] for i in range(2500)]  # pairs share a timestamp
    assert server.push([{"stream": {"app": "p"}, "values": values}]).status_code == 204
    for forward in (False, True):
        out = io.StringIO()
        run(LogsQuery('{app="p"}', server.url, start=str(t0), end=str(t0 + 1300 * NS), limit=2300,
                      forward=forward, output="raw"), out)
        lines = out.getvalue().splitlines()
        assert len(lines) == 2300 and len(set(lines)) == 2300
        expect = {f"l{i}" for i in (range(2300) if forward else range(200, 2500))}
        assert set(lines) == expect


def test_bad_range_is_an_error():
    try:
        run(LogsQuery('{a="b"}', start="2024-01-02T00:00:00Z", end="2024-01-01T00:00:00Z"))
    except ClientError as exc:
        assert "--from must not be after --to" in str(exc)
    else:
        raise AssertionError("no error")


def test_follow_prints_new_lines(server):
    proc = subprocess.Popen([PHAROS, "logs", '{app="f"}', "--follow", "-o", "raw", "--since", "1m",
                             "--server", server.url], stdout=subprocess.PIPE, text=True)
    try:
        for i in range(3):  # lines pushed before the tail connects are still within --since
            ts = time.time_ns()
            assert server.push([{"stream": {"app": "f"}, "values": [[str(ts), f"f{i}"]]}]).status_code == 204
            time.sleep(0.05)
        assert proc.stdout is not None
        assert [proc.stdout.readline().strip() for _ in range(3)] == ["f0", "f1", "f2"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
