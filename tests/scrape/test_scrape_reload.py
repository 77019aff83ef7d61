"""apply_config on reload: unchanged loops keep running, changed ones restart, removed targets get
staleness markers after a delay, a stopped manager (shutdown) writes none; loops run on their own."""

from __future__ import annotations

import asyncio
import time

from scrape_helpers import config, is_stale, job, loops, only_loop, points, series

from pharos.metrics.scrape.manager import ScrapeManager
from pharos.metrics.tsdb.db import TSDB

BODY = "a 1\nb 2\n"
T0 = 1_700_000_000_000


async def pause(manager: ScrapeManager) -> None:
    for lp in loops(manager):
        await lp.stop()


async def test_reload_keeps_unchanged_and_stales_removed(tsdb: TSDB, make_target) -> None:
    t1 = await make_target(BODY)
    t2 = await make_target("c 3\n")
    m = ScrapeManager(tsdb, end_of_run_stale_delay=0)
    await m.apply_config(config(job("app", t1.address, t2.address)))
    await pause(m)
    by_addr = {dict(lp.target.labels)["instance"]: lp for lp in loops(m)}
    for lp in by_addr.values():
        await lp.scrape_once(T0)

    await m.apply_config(config(job("app", t1.address)))
    await asyncio.sleep(0.05)  # the zero-delay staleness task runs
    await pause(m)
    assert only_loop(m) is by_addr[t1.address]
    c = points(tsdb, "c")
    assert c[0] == (T0, 3.0) and is_stale(c[1][1])
    assert is_stale(points(tsdb, "up", instance=t2.address)[-1][1])
    assert points(tsdb, "a") == [(T0, 1.0)]
    await m.stop()


async def test_changed_settings_restart_loop_without_stale_markers(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    m = ScrapeManager(tsdb, end_of_run_stale_delay=0)
    await m.apply_config(config(job("app", t.address)))
    await pause(m)
    old = only_loop(m)
    await old.scrape_once(T0)

    await m.apply_config(config(job("app", t.address, sample_limit=100)))
    await asyncio.sleep(0.05)
    await pause(m)
    new = only_loop(m)
    assert new is not old
    assert new.cache is old.cache  # limits do not change series: the cache carries over
    assert points(tsdb, "a") == [(T0, 1.0)]
    t.body = "a 1\n"
    await new.scrape_once(T0 + 1000)
    assert is_stale(points(tsdb, "b")[-1][1])
    await m.stop()


async def test_removed_job_is_stale_after_the_delay_but_shutdown_writes_none(tsdb: TSDB, make_target) -> None:
    t1 = await make_target(BODY)
    t2 = await make_target("c 3\n")
    m = ScrapeManager(tsdb, end_of_run_stale_delay=3600)
    await m.apply_config(config(job("one", t1.address), job("two", t2.address)))
    await pause(m)
    for lp in loops(m):
        await lp.scrape_once(T0)
    await m.apply_config(config(job("one", t1.address)))
    assert [ts for ts, _ in points(tsdb, "c")] == [T0]  # pending: waits for the delay
    await m.stop()  # shutdown, as Prometheus: pending markers dropped, none written
    for name in ("a", "b", "c", "up", "scrape_duration_seconds"):
        for pts in series(tsdb, name).values():
            assert pts[-1][0] == T0 and not is_stale(pts[-1][1]), name
    assert m.targets().active == []


async def test_unchanged_config_is_a_no_op(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    m = ScrapeManager(tsdb)
    cfg = config(job("app", t.address))
    await m.apply_config(cfg)
    before = only_loop(m)
    await m.apply_config(config(job("app", t.address)))
    assert only_loop(m) is before
    await m.stop()


async def test_loops_scrape_on_their_own(tsdb: TSDB, make_target) -> None:
    targets = [await make_target(f"x{{i=\"{i}\"}} {i}\n") for i in range(5)]
    m = ScrapeManager(tsdb)
    await m.apply_config(config(job("app", *(t.address for t in targets), scrape_interval=0.2,
                                    scrape_timeout=0.2)))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if all(len(t.requests) >= 2 for t in targets):
            break
        await asyncio.sleep(0.05)
    assert all(len(t.requests) >= 2 for t in targets)
    assert {dict(lbl)["i"] for lbl in series(tsdb, "x")} == {str(i) for i in range(5)}
    assert all(s.health == "up" for s in m.targets().active)
    await m.stop()


async def test_file_sd_targets_follow_the_file(tsdb: TSDB, make_target, tmp_path) -> None:
    import json

    t1 = await make_target(BODY)
    t2 = await make_target("c 3\n")
    sd = tmp_path / "targets.json"
    sd.write_text(json.dumps([{"targets": [t1.address], "labels": {"env": "a"}}]))
    m = ScrapeManager(tsdb, end_of_run_stale_delay=0)
    await m.apply_config(config({"job_name": "fs", "file_sd_configs": [{"files": [str(sd)]}]}))
    (active,) = m.targets().active
    assert active.labels == {"env": "a", "instance": t1.address, "job": "fs"}
    assert active.discovered_labels["__meta_filepath"] == str(sd)

    sd.write_text(json.dumps([{"targets": [t1.address, t2.address], "labels": {"env": "a"}}]))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(m.targets().active) < 2:
        await asyncio.sleep(0.1)
    assert sorted(s.labels["instance"] for s in m.targets().active) == sorted([t1.address, t2.address])
    await m.stop()


async def test_reload_with_new_static_targets_keeps_existing_loop(tsdb: TSDB, make_target) -> None:
    t1 = await make_target(BODY)
    t2 = await make_target("c 3\n")
    m = ScrapeManager(tsdb, end_of_run_stale_delay=0)
    await m.apply_config(config(job("app", t1.address)))
    first = only_loop(m)
    await m.apply_config(config(job("app", t1.address, t2.address)))
    assert first in loops(m) and len(loops(m)) == 2
    await m.stop()
