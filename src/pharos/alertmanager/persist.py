"""Small JSON state files written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("pharos.alertmanager")


def write_json(path: Path, data: Any) -> None:
    """Replace `path` with the JSON of `data`; a crash leaves the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(orjson.dumps(data))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path | None, default: Any) -> Any:
    """The JSON in `path`, or `default` when absent or unreadable (logged)."""
    if path is None or not path.exists():
        return default
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        log.error("cannot read %s, starting empty: %s", path, exc)
        with contextlib.suppress(OSError):
            path.rename(path.with_name(path.name + ".corrupt"))
        return default
