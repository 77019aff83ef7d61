"""The monitors of a server: definitions from pharos.yml and the API, evaluation on a clock,
per-group states with their history, notifications and the alerts they become.

    mgr = MonitorManager(sources, sink)        # sink(list[MonitorAlert]) posts to Alertmanager
    mgr.set_config_monitors(loaded.config.monitors)
    mgr.create(MonitorConfig(...))             # API monitors (persisted by a MonitorStore)
    mgr.tick(now_ms)                           # evaluates every monitor that is due

`tick` takes the time from the caller, so tests drive the manager on a fake clock. Queries run
outside the lock; states change under it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pharos.monitors.alerts import AlertBook, MonitorAlert, wanted_alert
from pharos.monitors.evaluate import Observations, evaluate
from pharos.monitors.model import MonitorConfig, find_cycle
from pharos.monitors.sources import SourceError, Sources
from pharos.monitors.state import (
    GroupKey,
    GroupState,
    Notification,
    State,
    Transition,
    levels_for,
    next_state,
    threshold_of,
    worst,
)

log = logging.getLogger("pharos.monitors")
HISTORY_LIMIT = 1000
Sink = Callable[[list[MonitorAlert]], None]


class MonitorError(Exception):
    """A request the manager refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def now_ms() -> int:
    """Wall-clock time in ms."""
    return int(time.time() * 1000)


@dataclass
class MonitorRuntime:
    """One active monitor: its definition and everything it remembers."""

    config: MonitorConfig
    source: str  # "config" or "api"
    created_ms: int
    groups: dict[GroupKey, GroupState] = field(default_factory=dict)
    history: collections.deque[Transition] = field(default_factory=lambda: collections.deque(maxlen=HISTORY_LIMIT))
    notifications: collections.deque[Notification] = field(
        default_factory=lambda: collections.deque(maxlen=HISTORY_LIMIT))
    book: AlertBook = field(default_factory=AlertBook)
    next_eval_ms: int = 0
    last_eval_ms: int = 0
    muted: bool = False
    mute_end_ms: int | None = None
    error: str = ""

    def overall(self) -> State | None:
        """The worst state of the evaluated groups (None before the first evaluation)."""
        if not self.last_eval_ms:
            return None
        return worst([g.state for g in self.groups.values() if g.evaluated or g.state != State.OK])


class MonitorManager:
    """Holds and evaluates the monitors."""

    def __init__(self, sources: Sources, sink: Sink, clock: Callable[[], int] = now_ms) -> None:
        self.sources = sources
        self.sink = sink
        self.clock = clock
        self.lock = threading.RLock()
        self.config_defs: dict[str, MonitorConfig] = {}
        self.api_defs: dict[str, MonitorConfig] = {}
        self.monitors: dict[str, MonitorRuntime] = {}
        self.on_change: Callable[[], None] | None = None  # persist API definitions and mutes

    # -- definitions ---------------------------------------------------------------------------
    def set_config_monitors(self, defs: Iterable[MonitorConfig]) -> None:
        """Take the `monitors:` of a (re)loaded config; an API monitor of the same name is shadowed."""
        with self.lock:
            self.config_defs = {m.name: m for m in defs}
            for name in self.config_defs.keys() & self.api_defs.keys():
                log.warning("monitor %r of the config shadows the API monitor of that name", name)
            self._sync()

    def load_api_monitors(self, defs: Iterable[MonitorConfig], mutes: dict[str, int | None]) -> None:
        """Restore persisted API monitors and mutes."""
        with self.lock:
            self.api_defs = {m.name: m for m in defs}
            self._sync()
            for name, end in mutes.items():
                if name in self.monitors:
                    self.monitors[name].muted, self.monitors[name].mute_end_ms = True, end

    def _wanted(self) -> dict[str, tuple[MonitorConfig, str]]:
        out = {name: (m, "api") for name, m in self.api_defs.items()}
        out.update({name: (m, "config") for name, m in self.config_defs.items()})
        return out

    def _sync(self) -> None:
        """Start, restart (definition changed) and drop runtimes to match the definitions."""
        now = self.clock()
        for name, (cfg, source) in self._wanted().items():
            rt = self.monitors.get(name)
            if rt is not None and rt.config == cfg and rt.source == source:
                continue
            if rt is not None:
                self._emit(rt.book.resolve_all(now))
            self.monitors[name] = MonitorRuntime(cfg, source, now)
            if rt is not None:
                self.monitors[name].history, self.monitors[name].muted = rt.history, rt.muted
                self.monitors[name].mute_end_ms = rt.mute_end_ms
        for name in set(self.monitors) - set(self._wanted()):
            self._emit(self.monitors.pop(name).book.resolve_all(now))

    def create(self, cfg: MonitorConfig) -> None:
        """Add an API monitor (409 when the name is taken)."""
        with self.lock:
            if cfg.name in self.config_defs or cfg.name in self.api_defs:
                raise MonitorError(409, f"monitor {cfg.name!r} already exists")
            self._check_refs(cfg)
            self.api_defs[cfg.name] = cfg
            self._sync()
        self._changed()

    def update(self, name: str, cfg: MonitorConfig) -> None:
        """Replace an API monitor's definition (its states restart)."""
        with self.lock:
            self._writable(name)
            if cfg.name != name:
                raise MonitorError(400, "the name of a monitor cannot change")
            self._check_refs(cfg)
            self.api_defs[name] = cfg
            self._sync()
        self._changed()

    def delete(self, name: str) -> None:
        """Remove an API monitor (its alerts resolve); refused while a composite refers to it."""
        with self.lock:
            self._writable(name)
            users = sorted(n for n, (m, _) in self._wanted().items() if name in m.references())
            if users:
                raise MonitorError(409, f"monitor {name!r} is used by composite monitors: {', '.join(users)}")
            del self.api_defs[name]
            self._sync()
        self._changed()

    def _writable(self, name: str) -> None:
        if name in self.config_defs:
            raise MonitorError(403, f"monitor {name!r} is defined in the config file and read-only here")
        if name not in self.api_defs:
            raise MonitorError(404, f"monitor {name!r} not found")

    def _check_refs(self, cfg: MonitorConfig) -> None:
        defs = {name: m for name, (m, _) in self._wanted().items()}
        defs[cfg.name] = cfg
        missing = sorted(r for r in cfg.references() if r not in defs)
        if missing:
            raise MonitorError(400, f"composite refers to unknown monitors: {', '.join(missing)}")
        cycle = find_cycle(defs)
        if cycle:
            raise MonitorError(400, f"composite monitors refer to each other in a cycle: {' -> '.join(cycle)}")

    def get(self, name: str) -> MonitorRuntime:
        """The runtime of an active monitor (404 otherwise)."""
        rt = self.monitors.get(name)
        if rt is None:
            raise MonitorError(404, f"monitor {name!r} not found")
        return rt

    # -- mute ----------------------------------------------------------------------------------
    def mute(self, name: str, end_ms: int | None = None) -> None:
        """Stop notifying until `end_ms` (None: until unmuted); the monitor's alerts resolve."""
        with self.lock:
            rt = self.get(name)
            rt.muted, rt.mute_end_ms = True, end_ms
            self._emit(rt.book.resolve_all(self.clock()))
        self._changed()

    def unmute(self, name: str) -> None:
        """Notify again; alerts of groups still not OK fire at the next evaluation."""
        with self.lock:
            rt = self.get(name)
            rt.muted, rt.mute_end_ms = False, None
            rt.next_eval_ms = 0
        self._changed()

    def mutes(self) -> dict[str, int | None]:
        """Muted monitors and the end of their mute."""
        with self.lock:
            return {name: rt.mute_end_ms for name, rt in self.monitors.items() if rt.muted}

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # -- evaluation ----------------------------------------------------------------------------
    def tick(self, now: int | None = None) -> int:
        """Evaluate every monitor that is due (composites after what they refer to); returns how
        many were evaluated."""
        t = self.clock() if now is None else now
        with self.lock:
            due = [name for name, rt in self.monitors.items() if rt.next_eval_ms <= t]
            order = self._order()
        for name in sorted(due, key=lambda n: order.get(n, 0)):
            self.evaluate(name, t)
        return len(due)

    def _order(self) -> dict[str, int]:
        """Depth of each monitor in the composite reference graph (leaves 0)."""
        depth: dict[str, int] = {}

        def of(name: str, seen: frozenset[str]) -> int:
            rt = self.monitors.get(name)
            if rt is None or name in seen:
                return 0
            if name not in depth:
                refs = rt.config.references()
                depth[name] = 1 + max((of(r, seen | {name}) for r in refs), default=-1)
            return depth[name]

        for name in self.monitors:
            of(name, frozenset())
        return depth

    def evaluate(self, name: str, now: int) -> None:
        """Evaluate one monitor at `now` and post the alerts that follow."""
        with self.lock:
            rt = self.monitors.get(name)
            if rt is None:
                return
            cfg = rt.config
            rt.next_eval_ms = now + round(cfg.interval * 1000)
            states = {n: s for n, r in self.monitors.items() if (s := r.overall()) is not None}
        try:
            obs = evaluate(cfg, self.sources, now - round(cfg.evaluation_delay * 1000), states)
            error = ""
        except SourceError as exc:
            obs, error = None, str(exc)
        with self.lock:
            if self.monitors.get(name) is not rt:
                return  # redefined or deleted meanwhile
            rt.error = error
            if rt.muted and rt.mute_end_ms is not None and now >= rt.mute_end_ms:
                rt.muted, rt.mute_end_ms = False, None
            if obs is not None:
                self._apply(rt, obs, now)
                rt.last_eval_ms = now
            alerts = self._alerts(rt, now)
        self._emit(alerts)

    def _apply(self, rt: MonitorRuntime, obs: Observations, now: int) -> None:
        m, lv = rt.config, levels_for(rt.config)
        if not m.group_by and () not in rt.groups:
            rt.groups[()] = GroupState({}, rt.created_ms, rt.created_ms, since_ms=rt.created_ms)
        for key, o in obs.items():
            g = rt.groups.get(key)
            if g is None:
                g = rt.groups[key] = GroupState({k: v for k, v in key if v}, now, now, since_ms=now)
            g.last_data_ms = now
            if m.group_by and now - g.first_seen_ms < m.new_group_delay * 1000:
                continue  # a new group is judged only once its delay has passed
            g.evaluated, g.value = True, o.value
            prev = State.OK if g.state == State.NO_DATA else g.state
            self._set(rt, g, next_state(prev, o, lv), now)
        for key in [k for k in rt.groups if k not in obs]:
            self._missing(rt, key, now)

    def _missing(self, rt: MonitorRuntime, key: GroupKey, now: int) -> None:
        """A group without data: NO DATA (or forgotten) once the no-data timeframe has passed."""
        m, g = rt.config, rt.groups[key]
        if now - g.last_data_ms < m.no_data_timeframe * 1000:
            return
        if m.notify_no_data:
            self._set(rt, g, State.NO_DATA, now)
            return
        if g.state != State.OK:
            self._set(rt, g, State.OK, now)
        if key != () or m.group_by:
            del rt.groups[key]

    def _set(self, rt: MonitorRuntime, g: GroupState, new: State, now: int) -> None:
        """Move a group to `new`: a transition and a notification, or a due renotification."""
        m = rt.config
        if new != g.state:
            rt.history.append(Transition(now, dict(g.labels), g.state, new, g.value))
            kind = "recover" if new == State.OK else "trigger"
            g.state, g.since_ms, g.renotify_count, g.last_notified_ms = new, now, 0, now
            self._notify(rt, g, kind, now)
            return
        cap = m.renotify_occurrences
        due = m.renotify_interval > 0 and now - g.last_notified_ms >= m.renotify_interval * 1000
        if new != State.OK and due and (cap == 0 or g.renotify_count < cap):
            g.renotify_count += 1
            g.last_notified_ms = now
            self._notify(rt, g, "renotify", now)

    def _notify(self, rt: MonitorRuntime, g: GroupState, kind: str, now: int) -> None:
        alert = wanted_alert(rt.config, g, threshold_of(g.state, levels_for(rt.config)), now)
        text = alert.annotations.get("escalation") if kind == "renotify" else None
        rt.notifications.append(Notification(now, kind, dict(g.labels), g.state, g.value, g.renotify_count,
                                             text or alert.annotations["message"], {"muted": rt.muted}))

    def _alerts(self, rt: MonitorRuntime, now: int) -> list[MonitorAlert]:
        if rt.muted:
            return rt.book.resolve_all(now)
        lv = levels_for(rt.config)
        wanted = [wanted_alert(rt.config, g, threshold_of(g.state, lv), now)
                  for g in rt.groups.values() if g.state != State.OK]
        return rt.book.update(wanted, now)

    def _emit(self, alerts: list[MonitorAlert]) -> None:
        if alerts:
            try:
                self.sink(alerts)
            except Exception:
                log.exception("posting monitor alerts failed")

    # -- persistence of states -----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """States, history and active alerts of every monitor, JSON-ready."""
        with self.lock:
            return {name: {"definition": rt.config.model_dump(mode="json"),
                           "groups": [g.to_json() for g in rt.groups.values()],
                           "history": [t.to_json() for t in rt.history],
                           "alerts": rt.book.to_json(), "last_eval_ms": rt.last_eval_ms}
                    for name, rt in self.monitors.items()}

    def restore(self, snap: dict[str, Any]) -> None:
        """Take back states saved by `snapshot` for monitors whose definition is unchanged."""
        with self.lock:
            for name, doc in snap.items():
                rt = self.monitors.get(name)
                if rt is None or rt.config.model_dump(mode="json") != doc.get("definition"):
                    continue
                for gdoc in doc.get("groups", []):
                    g = GroupState.from_json(gdoc)
                    rt.groups[tuple(sorted((n, g.labels.get(n, "")) for n in rt.config.group_by))] = g
                rt.history.extend(Transition.from_json(t) for t in doc.get("history", []))
                rt.book.load(doc.get("alerts", []))
                rt.last_eval_ms = int(doc.get("last_eval_ms", 0))
