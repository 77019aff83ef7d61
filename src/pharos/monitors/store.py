"""Persistence of monitors in the data directory (`<data-dir>/monitors/`).

`monitors.json` holds the API-created definitions and the mutes (written on every change);
`state.json` the per-group states, state history and active alerts (written by maintenance and
on stop). Files are replaced atomically (write to a temporary file, then rename).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from pharos.monitors.model import MonitorConfig

log = logging.getLogger("pharos.monitors")


def _write(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def _read(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        log.error("cannot read %s: %s", path, exc)
        return None


class MonitorStore:
    """Reads and writes the monitors' files."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.defs_path = directory / "monitors.json"
        self.state_path = directory / "state.json"

    def save_definitions(self, defs: list[MonitorConfig], mutes: dict[str, int | None]) -> None:
        """Write the API monitors and the mutes."""
        _write(self.defs_path, {"monitors": [m.model_dump(mode="json") for m in defs], "mutes": mutes})

    def load_definitions(self) -> tuple[list[MonitorConfig], dict[str, int | None]]:
        """The saved API monitors (invalid ones are logged and skipped) and mutes."""
        doc = _read(self.defs_path) or {}
        defs: list[MonitorConfig] = []
        for raw in doc.get("monitors", []):
            try:
                defs.append(MonitorConfig.model_validate(raw))
            except ValidationError as exc:
                log.error("skipping a stored monitor that no longer validates: %s", exc)
        mutes = {str(k): (None if v is None else int(v)) for k, v in (doc.get("mutes") or {}).items()}
        return defs, mutes

    def save_state(self, snapshot: dict[str, Any]) -> None:
        """Write the monitors' states."""
        _write(self.state_path, snapshot)

    def load_state(self) -> dict[str, Any]:
        """The saved states ({} when none)."""
        return _read(self.state_path) or {}
