"""Tailer on real files: discovery, rotation (rename and copytruncate), deletion, long lines, symlinks."""

from __future__ import annotations

import os
from pathlib import Path

from pharos.agent.tail import Tailer


def lines_of(chunks) -> list[bytes]:
    return [line for c in chunks for line in c.lines]


def poll(t: Tailer, now: float) -> list[bytes]:
    return lines_of(t.poll(now))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_new_files_and_partial_lines(tmp_path: Path) -> None:
    t = Tailer([str(tmp_path / "*.log")], scan_interval=0.5)
    assert poll(t, 0.0) == []
    (tmp_path / "a.log").write_bytes(b"one\ntwo\nthr")
    assert poll(t, 0.1) == []  # not scanned yet
    assert poll(t, 0.6) == [b"one", b"two"]
    with open(tmp_path / "a.log", "ab") as f:
        f.write(b"ee\n")
    chunks = t.poll(0.7)
    assert lines_of(chunks) == [b"three"] and chunks[0].start == 8
    assert t.active[str(tmp_path / "a.log")].safe_offset() == 14
    t.close()


def test_rename_rotation_drains_old_file_then_releases_it(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n2\n")
    t = Tailer([str(tmp_path / "*.log")], rotate_grace=1.0)
    assert poll(t, 0.0) == [b"1", b"2"]
    fds = open_fds()
    with open(path, "ab") as f:
        f.write(b"3\n")  # written before the rename, not read yet
    os.rename(path, tmp_path / "app.log.1")
    with open(tmp_path / "app.log.1", "ab") as f:
        f.write(b"4\n")  # a late write through the old descriptor
    path.write_bytes(b"5\n")
    assert poll(t, 1.0) == [b"3", b"4", b"5"]
    assert len(t.draining) == 1
    assert open_fds() == fds + 1
    poll(t, 2.5)
    assert t.draining == [] and [f.ino for f in t.take_released()] == [os.stat(tmp_path / "app.log.1").st_ino]
    assert open_fds() == fds
    t.close()


def test_copytruncate(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"a\nb\n")
    t = Tailer([str(path)])
    assert poll(t, 0.0) == [b"a", b"b"]
    with open(path, "r+b") as f:
        f.truncate(0)
    with open(path, "ab") as f:
        f.write(b"c\n")
    tf = t.active[str(path)]
    assert poll(t, 0.1) == [b"c"]  # the first bytes changed: read again from the start
    assert tf.truncated
    with open(path, "r+b") as f:
        f.truncate(0)
    assert poll(t, 0.2) == []  # size 0 < offset 2: noticed at the end of the file
    assert tf.offset == 0
    with open(path, "ab") as f:
        f.write(b"d\n")
    assert poll(t, 0.3) == [b"d"]
    t.close()


def test_deleted_file_is_closed(tmp_path: Path) -> None:
    fds = open_fds()
    t = Tailer([str(tmp_path / "*.log")], rotate_grace=0.0)
    for i in range(20):
        (tmp_path / f"f{i}.log").write_bytes(b"x\n")
    poll(t, 0.0)
    assert open_fds() == fds + 20
    for i in range(20):
        (tmp_path / f"f{i}.log").unlink()
    poll(t, 1.0)
    poll(t, 2.0)
    assert open_fds() == fds and not t.active and not t.draining
    t.close()


def test_max_line_size(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(b"short\n" + b"z" * 5000 + b"\nafter\n")
    t = Tailer([str(path)], max_line_size=1000, read_size=700)
    got = []
    for i in range(20):
        got += poll(t, i)
    assert got == [b"short", b"z" * 1000, b"after"]
    t.close()


def test_symlinks_are_followed_and_resume_offsets(tmp_path: Path) -> None:
    pods = tmp_path / "pods" / "ns_pod_uid" / "c"
    pods.mkdir(parents=True)
    (pods / "0.log").write_bytes(b"x\ny\n")
    links = tmp_path / "containers"
    links.mkdir()
    (links / "pod_ns_c-" "0123456789abcdef.log").symlink_to(pods / "0.log")
    seen = []
    t = Tailer([str(links / "*.log")], resume=lambda p, d, i: seen.append(p) or 2)
    assert poll(t, 0.0) == [b"y"]
    assert seen == [str(links / "pod_ns_c-0123456789abcdef.log")]
    t.close()
