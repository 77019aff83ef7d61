"""The `pharos` command line (typer + rich).

    pharos up                         all-in-one: ./pharos-data, scrapes itself, prints the URL
    pharos server --config pharos.yml the server role
    pharos agent --logs GLOB          the node agent (DaemonSet): logs to a Loki push URL, node metrics
    pharos import openmetrics FILE    backfill (like promtool tsdb create-blocks-from openmetrics)
    pharos check config FILE          validate a pharos.yml / prometheus.yml
    pharos promqltest FILE...         run Prometheus's PromQL test scripts (N passed, N failed)
    pharos query EXPR                 PromQL against a server (instant, or --start/--end/--step)
    pharos version

Bad input ends with a one-line error on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from pharos import LOG_FORMAT, __version__

app = typer.Typer(
    name="pharos",
    help="Prometheus, Loki and Alertmanager compatible monitoring in one process, one port.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(help="Import data into a data directory.", no_args_is_help=True)
check_app = typer.Typer(help="Validate files.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(check_app, name="check")

out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="pharos.yml", dir_okay=False)]
DataDirOpt = Annotated[Path, typer.Option("--data-dir", help="Storage directory.", file_okay=False)]
ListenOpt = Annotated[str, typer.Option("--listen", help="HTTP listener HOST:PORT.")]
PromConfigOpt = Annotated[
    Path | None,
    typer.Option("--prometheus-config", help="A prometheus.yml to take as it is.", dir_okay=False),
]
AmConfigOpt = Annotated[
    Path | None, typer.Option("--alertmanager-config", help="An alertmanager.yml.", dir_okay=False)
]
LogLevelOpt = Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")]
LogsOpt = Annotated[list[str] | None, typer.Option("--logs", help="Files to tail (glob), repeatable.")]


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `pharos: message` on stderr; the caller raises the returned Exit."""
    err.print(f"[red]pharos:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _log_level(level: str) -> int:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise fail(f"--log-level {level!r}: expected debug, info, warning or error")
    return numeric


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=_log_level(level), format=LOG_FORMAT, stream=sys.stderr)


def _run_server(
    mode: str,
    config: Path | None,
    data_dir: Path,
    listen: str,
    prometheus_config: Path | None,
    alertmanager_config: Path | None,
    log_level: str,
    agent_logs: list[str] | None = None,
) -> None:
    from pharos.server.main import ServerError, run

    _setup_logging(log_level)
    try:
        run(
            mode=mode,
            config=config,
            data_dir=data_dir,
            listen=listen,
            prometheus_config=prometheus_config,
            alertmanager_config=alertmanager_config,
            agent_logs=agent_logs,
            announce=_announce if mode == "up" else None,
        )
    except ServerError as exc:
        raise fail(str(exc)) from None


def _announce(url: str, data_dir: Path, config_name: str) -> None:
    out.print(f"[bold green]pharos {__version__}[/bold green] serving [bold]{url}[/bold]", highlight=False)
    out.print(f"  data: {data_dir}   config: {config_name}   stop: Ctrl-C", highlight=False)


@app.command()
def up(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = Path("pharos-data"),
    listen: ListenOpt = "127.0.0.1:9494",
    prometheus_config: PromConfigOpt = None,
    alertmanager_config: AmConfigOpt = None,
    logs: LogsOpt = None,
    log_level: LogLevelOpt = "warning",
) -> None:
    """All-in-one on this machine: data in ./pharos-data, scrapes itself and this machine's
    metrics without a config, collects the `--logs` files."""
    _run_server("up", config, data_dir, listen, prometheus_config, alertmanager_config, log_level, logs)


@app.command()
def server(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = Path("pharos-data"),
    listen: ListenOpt = "127.0.0.1:9494",
    prometheus_config: PromConfigOpt = None,
    alertmanager_config: AmConfigOpt = None,
    log_level: LogLevelOpt = "info",
) -> None:
    """The server role: scraping, TSDB and the HTTP APIs on one port."""
    _run_server("server", config, data_dir, listen, prometheus_config, alertmanager_config, log_level)


@app.command()
def agent(
    config: ConfigOpt = None,
    listen: Annotated[str, typer.Option("--listen", help="Metrics listener HOST:PORT.")] = "127.0.0.1:9495",
    logs: LogsOpt = None,
    push_url: Annotated[str | None, typer.Option("--push-url", help="A Loki push endpoint.")] = None,
    positions: Annotated[
        Path | None, typer.Option("--positions", help="Where read positions are kept.", dir_okay=False)
    ] = None,
    web_config_file: Annotated[
        Path | None,
        typer.Option("--web.config.file", help="TLS and basic auth of the listener (exporter-toolkit format).",
                     dir_okay=False),
    ] = None,
    log_level: LogLevelOpt = "info",
) -> None:
    """The node agent: tails container logs, ships them to a Loki push endpoint, serves node metrics."""
    from pharos.agent.main import exec_agent

    paths = {"config": config and str(config), "positions": positions and str(positions)}
    paths["web_config_file"] = web_config_file and str(web_config_file)
    exec_agent(paths | {"listen": listen, "logs": logs, "push_url": push_url}, _log_level(log_level))


@import_app.command("openmetrics")
def import_openmetrics(
    file: Annotated[Path, typer.Argument(help="OpenMetrics text with timestamps, ending in '# EOF'.")],
    data_dir: DataDirOpt = Path("pharos-data"),
) -> None:
    """Backfill samples from an OpenMetrics file (a running server picks them up)."""
    from pharos.metrics.tsdb.backfill import BackfillError, backfill_openmetrics

    if not file.is_file():
        raise fail(f"{file}: no such file")
    _setup_logging("warning")
    try:
        with _progress() as progress:
            task = progress.add_task("importing", total=file.stat().st_size or 1)
            result = backfill_openmetrics(
                file,
                data_dir,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except (BackfillError, OSError) as exc:
        raise fail(str(exc)) from None
    where = "into blocks" if result.ingested_now else "for the running server (picked up within a minute)"
    out.print(f"imported {result.samples} samples of {result.series} series {where}", highlight=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


@check_app.command("rules")
def check_rules(files: Annotated[list[Path], typer.Argument(help="Prometheus rule files")]) -> None:
    """Validate rule files as `promtool check rules` does (exit 1 if one does not load)."""
    from pharos.rules.check import check_rule_files

    code = check_rule_files([str(f) for f in files], print, lambda m: print(m, file=sys.stderr))
    raise typer.Exit(code)


_test_app = typer.Typer(help="Run unit tests.", no_args_is_help=True)
app.add_typer(_test_app, name="test")


@_test_app.command("rules")
def test_rules(files: Annotated[list[Path], typer.Argument(help="promtool rule unit-test files")]) -> None:
    """Run promtool-format rule unit tests (exit 1 if one fails)."""
    from pharos.rules.ruletest import run_rule_tests

    logging.getLogger("pharos.rules").setLevel(logging.ERROR)
    code = run_rule_tests([str(f) for f in files], print, lambda m: print(m, file=sys.stderr))
    raise typer.Exit(code)


@check_app.command("config")
def check_config(file: Annotated[Path, typer.Argument(help="pharos.yml or prometheus.yml")]) -> None:
    """Validate a config file: exit 0 when it loads, 1 with one line per problem otherwise."""
    from pharos.server.check import check_server_config as check

    ok, messages = check(file)
    for message in messages:
        (out if ok else err).print(message, highlight=False, markup=False, soft_wrap=True)
    if not ok:
        raise typer.Exit(1)


@app.command()
def query(
    expr: Annotated[str, typer.Argument(help="PromQL expression")],
    server_url: Annotated[str, typer.Option("--server", help="pharos to ask.")] = "http://127.0.0.1:9494",
    at: Annotated[str | None, typer.Option("--time", help="Instant: Unix s, RFC 3339, now[-DUR].")] = None,
    start: Annotated[str | None, typer.Option("--start", help="Range start (default end-1h).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Range end (default now).")] = None,
    step: Annotated[str | None, typer.Option("--step", help="Range step, e.g. 15s.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Run a PromQL query against a server (instant, or a range with --start/--end/--step)."""
    from pharos.metrics.promql.client import QueryClientError, QueryRequest, fetch, render_json, render_table

    if fmt not in ("table", "json"):
        raise fail(f"--format must be table or json, not {fmt!r}")
    if at is not None and any(v is not None for v in (start, end, step)):
        raise fail("--time is for instant queries; do not combine it with --start/--end/--step")
    try:
        data = fetch(QueryRequest(expr, server_url, at, start, end, step))
    except QueryClientError as exc:
        raise fail(str(exc)) from None
    if fmt == "json":
        print(render_json(data))
    else:
        render_table(data, out)


@app.command()
def promqltest(
    files: Annotated[list[Path], typer.Argument(help="promqltest .test files", exists=True, dir_okay=False)],
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="List every failed eval.")] = False,
) -> None:
    """Run Prometheus's PromQL test scripts against pharos' engine; exit 1 if an eval failed."""
    from pharos.metrics.promql.promqltest import main as run_promqltest

    code = run_promqltest([*(["-v"] if verbose else []), *map(str, files)])
    raise typer.Exit(code)


@app.command("logs")
def logs_query(
    query: Annotated[str, typer.Argument(help="A LogQL query, e.g. '{app=\"api\"} |= \"error\"'.")],
    server: Annotated[str, typer.Option("--server", help="pharos (or Loki) to ask.")] = "http://127.0.0.1:9494",
    since: Annotated[str, typer.Option("--since", help="How far back when --from is not given.")] = "1h",
    start: Annotated[str | None, typer.Option("--from", help="Start: RFC3339 or unix seconds.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End: RFC3339 or unix seconds.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most lines to print.")] = 30,
    forward: Annotated[bool, typer.Option("--forward", help="Oldest lines first.")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines (tail).")] = False,
    output: Annotated[str, typer.Option("--output", "-o", help="default, raw or jsonl.")] = "default",
    org_id: Annotated[str | None, typer.Option("--org-id", help="Tenant (X-Scope-OrgID).")] = None,
    step: Annotated[str | None, typer.Option("--step", help="Step of a metric query.")] = None,
) -> None:
    """Query logs with LogQL, like logcli (`--follow` tails)."""
    from pharos.logs.client import ClientError, LogsQuery, run
    from pharos.logs.client import follow as tail

    q = LogsQuery(query, server, since, start, end, limit, forward, output, org_id, step)
    try:
        tail(q) if follow else run(q)
    except ClientError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


@app.command()
def version() -> None:
    """Print the pharos version."""
    out.print(f"pharos {__version__}", highlight=False)


if __name__ == "__main__":
    app()
