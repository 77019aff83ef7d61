"""Static and file-based discovery: groups, watched files, invalid content, removal."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pharos.config.loader import parse_config
from pharos.config.model import FileSDConfig, StaticConfig
from pharos.metrics.scrape.discovery import (
    Discoverer,
    FileSD,
    FileSDError,
    TargetGroup,
    read_file_sd,
    static_target_groups,
    watch_file_sd,
)

WAIT = 10.0  # generous: changes are polled every 0.1-1s


def write_json(path: Path, groups: list[dict[str, object]]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups))
    tmp.replace(path)


def test_static_groups() -> None:
    groups = static_target_groups([
        StaticConfig(targets=["a:1", "b:2"], labels={"env": "prod"}),
        StaticConfig(targets=["c:3"]),
    ])
    assert groups == [
        TargetGroup("0", [{"__address__": "a:1"}, {"__address__": "b:2"}], {"env": "prod"}),
        TargetGroup("1", [{"__address__": "c:3"}], {}),
    ]
    assert groups[0].label_sets() == [{"env": "prod", "__address__": "a:1"}, {"env": "prod", "__address__": "b:2"}]


def test_read_json_and_yaml(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", [{"targets": ["h:1"], "labels": {"dc": "x"}}, {"targets": ["h:2"]}])
    (tmp_path / "b.yml").write_text("- targets: ['h:3']\n  labels:\n    port: 9100\n")
    a = read_file_sd(str(tmp_path / "a.json"))
    assert [g.source for g in a] == [f"{tmp_path}/a.json:0", f"{tmp_path}/a.json:1"]
    assert a[0].label_sets() == [{"dc": "x", "__meta_filepath": str(tmp_path / "a.json"), "__address__": "h:1"}]
    (b,) = read_file_sd(str(tmp_path / "b.yml"))
    assert b.labels == {"port": "9100", "__meta_filepath": str(tmp_path / "b.yml")}


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ("{not json", "Expecting property name"),
        ('{"targets": []}', "expected a list"),
        ('[{"targets": "h:1"}]', "must be a list of strings"),
        ('[{"targets": ["h:1"], "labels": {"a-b": "c"}}]', '"a-b" is not a valid label name'),
        ('[{"targets": ["h:1"], "extra": 1}]', "field extra not found"),
        ("[null]", "nil target group item found"),
    ],
)
def test_invalid_files(tmp_path: Path, content: str, error: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(content)
    with pytest.raises(FileSDError, match=error):
        read_file_sd(str(path))


def test_file_sd_refresh_diff(tmp_path: Path) -> None:
    sd = FileSD(FileSDConfig(files=[str(tmp_path / "*.json")]))
    assert sd.refresh(force=True) == []
    write_json(tmp_path / "a.json", [{"targets": ["h:1"]}, {"targets": ["h:2"]}])
    assert [g.source for g in sd.refresh()] == [f"{tmp_path}/a.json:0", f"{tmp_path}/a.json:1"]
    assert sd.refresh() == []
    assert sd.refresh(force=True) == []  # re-read, nothing changed
    write_json(tmp_path / "a.json", [{"targets": ["h:9"]}])
    changed = sd.refresh()
    assert changed == [
        TargetGroup(f"{tmp_path}/a.json:0", [{"__address__": "h:9"}], {"__meta_filepath": str(tmp_path / "a.json")}),
        TargetGroup(f"{tmp_path}/a.json:1"),
    ]
    (tmp_path / "a.json").unlink()
    assert sd.refresh() == [TargetGroup(f"{tmp_path}/a.json:0")]
    assert sd.groups() == []


def test_invalid_file_keeps_previous_targets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sd = FileSD(FileSDConfig(files=[str(tmp_path / "*.json")]))
    write_json(tmp_path / "a.json", [{"targets": ["h:1"]}])
    sd.refresh(force=True)
    (tmp_path / "a.json").write_text("[{broken")
    with caplog.at_level(logging.ERROR):
        assert sd.refresh() == []
    assert [g.targets for g in sd.groups()] == [[{"__address__": "h:1"}]]
    assert str(tmp_path / "a.json") in caplog.text
    write_json(tmp_path / "a.json", [{"targets": ["h:2"]}])
    assert [g.targets for g in sd.refresh()] == [[{"__address__": "h:2"}]]


async def next_update(it: AsyncIterator[list[TargetGroup]]) -> list[TargetGroup]:
    return await asyncio.wait_for(it.__anext__(), WAIT)


async def test_watch_file_sd_picks_up_changes(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", [{"targets": ["h:1"], "labels": {"x": "1"}}])
    sd_config = FileSDConfig(files=[str(tmp_path / "*.json"), str(tmp_path / "*.yaml")])
    it = watch_file_sd([sd_config], poll_interval=0.1)
    try:
        initial = await next_update(it)
        assert [g.label_sets() for g in initial] == [
            [{"x": "1", "__meta_filepath": str(tmp_path / "a.json"), "__address__": "h:1"}]]
        (tmp_path / "b.yaml").write_text("- targets: ['h:2']\n")
        added = await next_update(it)
        assert [g.targets for g in added] == [[{"__address__": "h:2"}]]
        write_json(tmp_path / "a.json", [{"targets": ["h:1", "h:3"], "labels": {"x": "1"}}])
        changed = await next_update(it)
        assert [g.targets for g in changed] == [[{"__address__": "h:1"}, {"__address__": "h:3"}]]
        (tmp_path / "b.yaml").unlink()
        removed = await next_update(it)
        assert removed == [TargetGroup(f"{tmp_path}/b.yaml:0")]
    finally:
        await it.aclose()  # type: ignore[attr-defined]


async def test_discoverer_reports_complete_groups_per_job(tmp_path: Path) -> None:
    (tmp_path / "targets").mkdir()
    config = parse_config(
        "scrape_configs:\n"
        "- job_name: static\n  static_configs: [{targets: ['s:1']}]\n"
        "- job_name: files\n  static_configs: [{targets: ['s:2']}]\n"
        "  file_sd_configs: [{files: ['targets/*.json'], refresh_interval: 1h}]\n",
        base_dir=tmp_path,
    ).config
    updates: asyncio.Queue[tuple[str, list[TargetGroup]]] = asyncio.Queue()

    async def on_update(job: str, groups: list[TargetGroup]) -> None:
        await updates.put((job, groups))

    discoverer = Discoverer(config.scrape_configs, poll_interval=0.1)
    task = asyncio.create_task(discoverer.run(on_update))
    try:
        first = [await asyncio.wait_for(updates.get(), WAIT) for _ in range(2)]
        assert [(job, [g.source for g in groups]) for job, groups in first] == [("static", ["0"]), ("files", ["0"])]
        write_json(tmp_path / "targets" / "a.json", [{"targets": ["f:1"]}])
        job, groups = await asyncio.wait_for(updates.get(), WAIT)
        assert job == "files"
        addresses = [ls["__address__"] for g in groups for ls in g.label_sets()]
        assert addresses == ["s:2", "f:1"]
        (tmp_path / "targets" / "a.json").unlink()
        job, groups = await asyncio.wait_for(updates.get(), WAIT)
        assert (job, [g.source for g in groups]) == ("files", ["0"])
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
