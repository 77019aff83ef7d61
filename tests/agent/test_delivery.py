"""Delivery against a fake Loki: acknowledgement-driven positions, retries, dead letters, the disk buffer."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import orjson
from fakeloki import FakeLoki
from helpers import append_lines, options, started, wait_for

from pharos.agent.checkpoint import Checkpoint


def expected(prefix: str, n: int) -> list[str]:
    return [f"{prefix}-{i}" for i in range(n)]


async def test_ships_protobuf_snappy_with_labels(tmp_path: Path, loki: FakeLoki) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    name = "web-7d4b9_shop_nginx-" + "ab" * 32 + ".log"
    append_lines(logs / name, "l", 0, 500)
    (logs / name).open("a").write(
        cri_stderr := "2024-05-01T10:00:00.000000001Z stderr F oops\n")
    agent = await started(options(tmp_path, loki.url, node_name="node-1"))
    await wait_for(lambda: len(loki.entries) == 501, what="501 lines")
    await agent.stop()
    assert loki.content_types == {"application/x-protobuf"}
    assert loki.lines() [:500] == expected("l", 500)
    labels = {lab for lab, _, _ in loki.entries}
    base = f'container="nginx", filename="{logs / name}", namespace="shop", node="node-1", pod="web-7d4b9"'
    assert labels == {"{" + base + ', stream="stdout"}', "{" + base + ', stream="stderr"}'}
    assert loki.entries[-1][1] == 1714557600000000001 and cri_stderr


async def test_retries_5xx_and_429_then_delivers_once(tmp_path: Path, loki: FakeLoki) -> None:
    (tmp_path / "logs").mkdir()
    append_lines(tmp_path / "logs" / "a.log", "a", 0, 1000)
    loki.fail_with = 503
    agent = await started(options(tmp_path, loki.url))
    await wait_for(lambda: loki.rejected >= 3, what="retries")
    loki.fail_with = 429
    await wait_for(lambda: loki.rejected >= 5, what="more retries")
    # nothing acknowledged: no position advanced
    assert agent.checkpoint is not None and agent.checkpoint.positions() == {}
    loki.fail_with = None
    await wait_for(lambda: len(loki.entries) >= 1000, what="delivery")
    append_lines(tmp_path / "logs" / "a.log", "a", 1000, 10)
    await wait_for(lambda: len(loki.entries) >= 1010, what="more lines")
    await agent.stop()
    assert loki.lines() == expected("a", 1010)
    pos = Checkpoint(tmp_path / "state" / "pos.db").positions()
    assert list(pos.values()) == [(tmp_path / "logs" / "a.log").stat().st_size]


async def test_4xx_goes_to_dead_letter_without_retry(tmp_path: Path, loki: FakeLoki) -> None:
    (tmp_path / "logs").mkdir()
    append_lines(tmp_path / "logs" / "a.log", "bad", 0, 20)
    loki.fail_with = 400
    agent = await started(options(tmp_path, loki.url, multiline=False))
    dead = tmp_path / "state" / "dead-letter.jsonl"
    await wait_for(lambda: dead.exists() and dead.stat().st_size > 0, what="dead letter")
    requests = loki.requests
    loki.fail_with = None
    append_lines(tmp_path / "logs" / "a.log", "good", 0, 5)
    await wait_for(lambda: len(loki.entries) == 5, what="later lines")
    await agent.stop()
    assert loki.requests == requests + 1  # the rejected batch was not retried
    assert loki.lines() == expected("good", 5)
    record = orjson.loads(dead.read_bytes().splitlines()[0])
    assert record["status"] == 400
    assert [e[1] for s in record["streams"] for e in s["entries"]] == expected("bad", 20)


async def test_outage_spools_to_disk_and_clean_restart_neither_loses_nor_repeats(
    tmp_path: Path, loki: FakeLoki
) -> None:
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "a.log"
    append_lines(log, "x", 0, 300)
    agent = await started(options(tmp_path, loki.url))
    await wait_for(lambda: len(loki.entries) == 300, what="first lines")
    await loki.stop()
    append_lines(log, "x", 300, 2000)
    await wait_for(lambda: agent.checkpoint.spool_count > 0 and agent.pipeline.stats.lines_read >= 2300,
                   what="spooled batches")
    await agent.stop()  # endpoint down: everything read goes to the spool
    append_lines(log, "x", 2300, 200)
    await loki.start()
    agent = await started(options(tmp_path, loki.url))
    await wait_for(lambda: len(loki.entries) >= 2500, what="replay")
    await agent.stop()
    agent = await started(options(tmp_path, loki.url))
    append_lines(log, "x", 2500, 100)
    await wait_for(lambda: len(loki.entries) >= 2600, what="after second restart")
    await agent.stop()
    assert loki.lines() == expected("x", 2600)


async def test_full_disk_buffer_drops_oldest_and_counts(tmp_path: Path, loki: FakeLoki) -> None:
    (tmp_path / "logs").mkdir()
    await loki.stop()
    agent = await started(options(tmp_path, loki.url, max_buffer=20_000, batch_bytes=4096))
    for i in range(20):
        append_lines(tmp_path / "logs" / "a.log", "d", i * 500, 500)
        await wait_for(lambda i=i: agent.pipeline.stats.lines_read >= (i + 1) * 500, what="read")
    await wait_for(lambda: agent.shipper.stats.lines_dropped > 0, what="drops")
    assert agent.checkpoint.spool_bytes <= 20_000 + 4096 * 2
    await loki.start()
    await wait_for(lambda: agent.shipper.idle(), what="drain")
    dropped = agent.shipper.stats.lines_dropped
    text = agent.metrics_text()
    await agent.stop()
    got = loki.lines()
    assert len(got) + dropped == 10_000 and len(set(got)) == len(got)
    assert got == sorted(got, key=lambda s: int(s.split("-")[1]))  # the oldest were dropped, order kept
    assert got[-1] == "d-9999"
    assert f"pharos_agent_lines_dropped_total {dropped}" in text


async def test_backpressure_bounds_memory(tmp_path: Path, loki: FakeLoki) -> None:
    """A slow endpoint: the readers wait instead of queueing without bound."""
    (tmp_path / "logs").mkdir()
    append_lines(tmp_path / "logs" / "a.log", "m", 0, 100_000)
    gate = {"open": False}
    orig = loki._push

    async def slow(request):
        await wait_for(lambda: gate["open"], timeout=60)
        return await orig(request)

    loki._push = slow  # type: ignore[method-assign]
    await loki.stop()
    await loki.start()
    agent = await started(options(tmp_path, loki.url, max_memory=30_000, batch_bytes=8192))
    await wait_for(lambda: agent.shipper.memory_bytes >= 30_000, what="memory full")
    read = agent.pipeline.stats.lines_read
    # readers stop at the step that filled memory (a step reads at most 4 MB per file)
    assert read < 100_000 and agent.shipper.memory_bytes < 30_000 + (4 << 20)
    await asyncio.sleep(0.3)
    assert agent.pipeline.stats.lines_read == read
    gate["open"] = True
    await wait_for(lambda: len(loki.entries) == 100_000, what="all lines")
    await agent.stop()
    assert Counter(loki.lines()) == Counter(expected("m", 100_000))
