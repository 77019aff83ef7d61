"""Multiline joining on real stack traces: Python, Java, Node.js and Go programs are run here and
their stderr is written as CRI lines; two verbatim Go panics add the runtime-error and goroutine forms."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pharos.agent.formats import CriParser
from pharos.agent.multiline import Joiner, MultilineRule

GO_PANIC = """panic: runtime error: index out of range [5] with length 3

goroutine 1 [running]:
main.lookup(...)
\t/home/dev/app/main.go:8
main.main()
\t/home/dev/app/main.go:13 +0x1d
exit status 2"""

GO_PANIC_GOROUTINE = """panic: worker 3 failed: connection reset

goroutine 7 [running]:
main.worker(0x3, 0xc000012345)
\t/src/app/worker.go:21 +0x10b
created by main.main in goroutine 1
\t/src/app/main.go:17 +0x2d"""


def run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    return proc.stderr.rstrip("\n")


def join(*blocks: str, rule: MultilineRule | None = None) -> list[str]:
    """Write ``blocks`` as CRI stderr lines, parse and join them, flush everything."""
    lines = [f"2024-05-01T10:00:00.{i:09d}Z stderr F {text}".encode()
             for i, text in enumerate(line for b in blocks for line in b.split("\n"))]
    entries: list = []
    CriParser().feed(lines, 0, entries, 0)
    joiner = Joiner(rule, flush_timeout=1.0)
    out: list = []
    joiner.feed(entries, out, now=0.0)
    joiner.flush_expired(out, now=0.5)
    assert joiner.held  # still inside the timeout
    joiner.flush_expired(out, now=2.0)
    return [e[2].decode() for e in out]


def test_python_chained_traceback(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "def parse(s):\n    return int(s) / 0\n\n"
        "try:\n    parse('7')\nexcept ZeroDivisionError:\n    raise ValueError('bad')\n"
    )
    trace = run([sys.executable, "app.py"], tmp_path)
    assert trace.startswith("Traceback") and "During handling" in trace
    assert join("INFO starting", trace, "INFO next request") == ["INFO starting", trace, "INFO next request"]


def test_python_logging_exception(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "import logging, sys\nlogging.basicConfig(format='%(levelname)s %(message)s')\n"
        "try:\n    {}['missing']\nexcept KeyError:\n    logging.exception('lookup failed')\nsys.exit(1)\n"
    )
    trace = run([sys.executable, "app.py"], tmp_path)
    assert trace.startswith("ERROR lookup failed\nTraceback")
    # the log line before the traceback is its own record, the traceback another
    head, _, rest = trace.partition("\n")
    assert join(trace, "INFO after") == [head, rest, "INFO after"]


@pytest.mark.skipif(shutil.which("javac") is None, reason="needs a JDK")
def test_java_exception_with_cause(tmp_path: Path) -> None:
    (tmp_path / "Main.java").write_text("""
public class Main {
    static void inner() { throw new IllegalStateException("inner failure"); }
    static void outer() {
        try { inner(); } catch (IllegalStateException e) { throw new RuntimeException("outer failure", e); }
    }
    public static void main(String[] args) { System.err.println("INFO boot"); outer(); }
}
""")
    subprocess.run(["javac", "Main.java"], cwd=tmp_path, check=True, timeout=60)
    trace = run(["java", "Main"], tmp_path)
    boot, _, exc = trace.partition("\n")
    assert boot == "INFO boot" and "\tat Main" in exc and "Caused by:" in exc and "... 2 more" in exc
    assert join(trace, "INFO after") == ["INFO boot", exc, "INFO after"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_nodejs_error_stack(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text(
        "function load(){ throw new TypeError('cannot read config'); }\n"
        "try { load(); } catch (e) { console.error(e.stack); }\n"
        "console.error('after');\n"
        "setTimeout(() => { null.x; });\n"
    )
    trace = run(["node", "app.js"], tmp_path)
    records = join(trace)
    stack = trace.split("\nafter\n")[0]
    assert records[0] == stack and stack.count("\n    at ") >= 3
    assert records[1] == "after"
    # the uncaught error at the end: "TypeError: ..." joined with its frames
    uncaught = [r for r in records if r.startswith("TypeError: Cannot read properties of null")]
    assert len(uncaught) == 1 and "\n    at " in uncaught[0]


def test_real_go_panic_in_a_goroutine(tmp_path: Path) -> None:
    (tmp_path / "main.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\t"os"\n\t"time"\n)\n\n'
        'func handle(m map[string]int) int { return m["x"] / len(os.Args[1:]) }\n\n'
        'func main() {\n\tfmt.Fprintln(os.Stderr, "level=info msg=start")\n'
        '\tgo func() { handle(map[string]int{"x": 1}) }()\n\ttime.Sleep(time.Second)\n}\n'
    )
    env = {**os.environ, "HOME": str(tmp_path), "GOCACHE": str(tmp_path / "gocache"), "GOFLAGS": "-mod=mod"}
    subprocess.run(["go", "build", "-o", "app", "main.go"], cwd=tmp_path, check=True, timeout=120, env=env)
    trace = run(["./app"], tmp_path)
    start, _, panic = trace.partition("\n")
    assert start == "level=info msg=start"
    assert panic.startswith("panic: runtime error: integer divide by zero") and "goroutine " in panic
    assert "main.handle(" in panic and "main.go:" in panic
    assert join(trace, "level=info msg=restarted") == [start, panic, "level=info msg=restarted"]


def test_go_panics() -> None:
    assert join("level=info msg=start", GO_PANIC, "level=info msg=restarted") == [
        "level=info msg=start", GO_PANIC, "level=info msg=restarted"]
    assert join(GO_PANIC_GOROUTINE, "next") == [GO_PANIC_GOROUTINE, "next"]


def test_user_rule() -> None:
    rule = MultilineRule("ts", r"\d{4}-\d\d-\d\d ")
    got = join("2024-05-01 start", "  detail", "more detail", "2024-05-01 next", rule=rule)
    assert got == ["2024-05-01 start\n  detail\nmore detail", "2024-05-01 next"]


def test_single_lines_pass_through_and_caps() -> None:
    assert join("a", "b", "c") == ["a", "b", "c"]
    lines = ["Exception: x"] + ["\tat f()"] * 50
    joiner = Joiner(None, max_lines=10)
    out: list = []
    joiner.feed([(0, "stderr", line.encode(), 0) for line in lines], out, 0.0)
    joiner.flush_all(out)
    assert all(e[2].count(b"\n") < 10 for e in out) and sum(e[2].count(b"\n") + 1 for e in out) == 51


def test_streams_are_joined_separately() -> None:
    joiner = Joiner()
    out: list = []
    joiner.feed([(0, "stderr", b"Error: x", 0), (1, "stdout", b"GET /", 10),
                 (2, "stderr", b"    at f (a.js:1:1)", 20), (3, "stdout", b"GET /b", 30)], out, 0.0)
    joiner.flush_all(out)
    assert sorted(e[2] for e in out) == [b"Error: x\n    at f (a.js:1:1)", b"GET /", b"GET /b"]
    assert joiner.pending_start() is None
