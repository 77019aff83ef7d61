"""Dashboard storage: one JSON file per dashboard in `<data-dir>/dashboards/`, plus the built-in
dashboards shipped in the package (read-only; saving one stores an override in the data dir,
deleting the override restores the built-in)."""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

BUILTIN_DIR = Path(__file__).parent / "builtin"
UID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class DashboardError(Exception):
    """A refused request; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Stored:
    dashboard: dict[str, Any]
    builtin: bool
    overridden: bool
    version: int
    updated: float


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def new_uid() -> str:
    return secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")[:12]


class DashboardStore:
    """CRUD over the dashboards directory; writes are atomic (temp file + rename)."""

    def __init__(self, data_dir: Path, builtin_dir: Path = BUILTIN_DIR) -> None:
        self.dir = Path(data_dir) / "dashboards"
        self.builtin_dir = builtin_dir
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------------
    def _builtins(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if self.builtin_dir.is_dir():
            for path in sorted(self.builtin_dir.glob("*.json")):
                data = _load(path)
                if data and isinstance(data.get("uid"), str):
                    out[data["uid"]] = data
        return out

    def _path(self, uid: str) -> Path:
        if not UID_RE.match(uid):
            raise DashboardError(400, f"invalid dashboard uid {uid!r}: use letters, digits, '-' and '_'")
        return self.dir / f"{uid}.json"

    def get(self, uid: str) -> Stored:
        path = self._path(uid)
        builtins = self._builtins()
        data = _load(path) if path.is_file() else None
        if data is not None:
            return Stored(
                data, uid in builtins, uid in builtins, int(data.get("version") or 1), path.stat().st_mtime
            )
        if uid in builtins:
            return Stored(builtins[uid], True, False, int(builtins[uid].get("version") or 1), 0.0)
        raise DashboardError(404, f"dashboard {uid!r} not found")

    def list(self) -> list[dict[str, Any]]:
        items: dict[str, dict[str, Any]] = {}
        builtins = self._builtins()
        for uid, data in builtins.items():
            items[uid] = self._summary(data, builtin=True, updated=0.0)
        if self.dir.is_dir():
            for path in self.dir.glob("*.json"):
                data = _load(path)
                if data is None or not isinstance(data.get("uid"), str):
                    continue
                items[data["uid"]] = self._summary(
                    data, builtin=data["uid"] in builtins, updated=path.stat().st_mtime
                )
        return sorted(items.values(), key=lambda d: (not d["builtin"], str(d["title"]).lower()))

    @staticmethod
    def _summary(data: dict[str, Any], *, builtin: bool, updated: float) -> dict[str, Any]:
        tags = data.get("tags")
        return {
            "uid": data["uid"],
            "title": str(data.get("title") or data["uid"]),
            "tags": [str(t) for t in tags] if isinstance(tags, list) else [],
            "builtin": builtin,
            "version": int(data.get("version") or 1),
            "updated": updated,
        }

    # -- writing ---------------------------------------------------------------------------------
    def save(self, dashboard: dict[str, Any], *, overwrite: bool, uid: str | None = None) -> Stored:
        """Create or update; without `overwrite`, a stale `version` or an existing uid on create
        is a conflict (409)."""
        if not isinstance(dashboard, dict):
            raise DashboardError(400, "dashboard must be a JSON object")
        title = dashboard.get("title")
        if not isinstance(title, str) or not title.strip():
            raise DashboardError(400, "dashboard title is required")
        panels = dashboard.get("panels", [])
        if not isinstance(panels, list):
            raise DashboardError(400, "dashboard panels must be a list")
        dashboard = dict(dashboard)
        dashboard.pop("id", None)
        uid = uid or dashboard.get("uid") or new_uid()
        if not isinstance(uid, str):
            raise DashboardError(400, "dashboard uid must be a string")
        dashboard["uid"] = uid
        path = self._path(uid)
        with self._lock:
            current: Stored | None
            try:
                current = self.get(uid)
            except DashboardError as exc:
                if exc.status != 404:
                    raise
                current = None
            if current is not None and not overwrite:
                sent = dashboard.get("version")
                if sent is None:
                    raise DashboardError(409, f"a dashboard with uid {uid!r} already exists")
                if int(sent) != current.version:
                    raise DashboardError(
                        409, f"dashboard {uid!r} was changed by someone else (version {current.version})"
                    )
            dashboard["version"] = (current.version if current else 0) + 1
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(orjson.dumps(dashboard, option=orjson.OPT_INDENT_2))
            os.replace(tmp, path)
        return Stored(dashboard, current.builtin if current else False, bool(current and current.builtin),
                      dashboard["version"], time.time())

    def delete(self, uid: str) -> None:
        path = self._path(uid)
        with self._lock:
            if path.is_file():
                path.unlink()
                return
        if uid in self._builtins():
            raise DashboardError(400, f"dashboard {uid!r} is built in and cannot be deleted")
        raise DashboardError(404, f"dashboard {uid!r} not found")
