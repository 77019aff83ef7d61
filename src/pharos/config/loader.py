"""Load `pharos.yml` (or a real `prometheus.yml`) into a PharosConfig with file:line:key messages.

    loaded = load_config("pharos.yml")      # raises ConfigError (.messages) on any error
    loaded.config, loaded.warnings          # warnings name fields pharos does not support
    ok, messages = check_config("pharos.yml")   # for `pharos check config`

Errors and warnings read `pharos.yml:12: scrape_configs[0].scrape_interval: <message>`.
"""

from __future__ import annotations

import difflib
import glob
import os
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pharos.config.model import AlertmanagerEndpointConfig, PharosConfig, ScrapeConfig, ServerConfig

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SCALAR_TAGS = {
    "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_constructor = yaml.constructor.SafeConstructor()

Path_ = tuple[str | int, ...]


class ConfigError(Exception):
    """A configuration that cannot be loaded; `messages` lists every problem as file:line: key: text."""

    def __init__(self, messages: list[str], warnings: list[str] | None = None) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages
        self.warnings = warnings or []


@dataclass
class LoadedConfig:
    """A validated config, the warnings raised while loading it, and its source."""

    config: PharosConfig
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None
    text: str = ""


@dataclass
class _Doc:
    """Raw YAML data with the line of every key path."""

    filename: str
    data: Any
    lines: dict[Path_, int]

    def line_of(self, path: Path_) -> int:
        """Line of the longest prefix of `path` that exists in the document (1 when none)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1

    def message(self, path: Path_, text: str) -> str:
        """Format `file:line: key: text`."""
        key = format_path(path)
        return f"{self.filename}:{self.line_of(path)}: {key + ': ' if key else ''}{text}"


def format_path(path: Path_) -> str:
    """Render a key path as `scrape_configs[0].scrape_interval`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------

def load_config(path: str | os.PathLike[str]) -> LoadedConfig:
    """Read and validate a pharos.yml or prometheus.yml; raises ConfigError naming file, line and key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read config file: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{p}: config file is not valid UTF-8: {exc}"]) from exc
    loaded = parse_config(text, filename=str(path), base_dir=p.resolve().parent)
    loaded.path = p
    return loaded


def parse_config(text: str, filename: str = "pharos.yml", base_dir: Path | None = None) -> LoadedConfig:
    """Validate config text; relative file paths in it resolve against `base_dir` (default: cwd)."""
    doc = _compose(text, filename)
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.message((), "the top level of a config file must be a mapping")])
    _hoist_prometheus_storage(doc)
    warnings = list(_prune(doc, PharosConfig, doc.data, ()))
    try:
        config = PharosConfig.model_validate(doc.data, context={"strict_formats": True})
    except ValidationError as exc:
        raise ConfigError([_error_message(doc, err) for err in exc.errors()], warnings) from None
    _resolve_paths(config, base_dir or Path.cwd())
    return LoadedConfig(config=config, warnings=warnings, text=text)


def check_config(path: str | os.PathLike[str]) -> tuple[bool, list[str]]:
    """Validate a config file for `pharos check config`: (ok, messages to print)."""
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        return False, [f"warning: {w}" for w in exc.warnings] + [f"error: {m}" for m in exc.messages]
    messages = [f"warning: {w}" for w in loaded.warnings]
    sd_problems = list(_check_sd_files(loaded.config))
    messages += sd_problems
    if any(m.startswith("error: ") for m in sd_problems):
        return False, messages
    n = len(loaded.config.scrape_configs)
    messages.append(f"{path}: OK ({n} scrape config{'s' if n != 1 else ''})")
    return True, messages


# ---------------------------------------------------------------------------------------------
# YAML composition with line numbers
# ---------------------------------------------------------------------------------------------

def _compose(text: str, filename: str) -> _Doc:
    """Parse YAML into plain data plus a path -> line map; syntax errors become ConfigError."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError([f"{filename}:{line}: invalid YAML: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"{filename}:1: invalid YAML: {exc}"]) from None
    finally:
        loader.dispose()
    doc = _Doc(filename, None, {})
    if node is not None:
        doc.lines[()] = node.start_mark.line + 1
        doc.data = _convert(node, (), doc)
    return doc


def _convert(node: yaml.Node, path: Path_, doc: _Doc) -> Any:
    """Turn a node into Python data, recording the line of each key and item."""
    if isinstance(node, yaml.MappingNode):
        return _convert_mapping(node, path, doc)
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, child in enumerate(node.value):
            doc.lines.setdefault((*path, i), child.start_mark.line + 1)
            items.append(_convert(child, (*path, i), doc))
        return items
    if node.tag in _SCALAR_TAGS:
        return _constructor.construct_object(node)
    return node.value


def _convert_mapping(node: yaml.MappingNode, path: Path_, doc: _Doc) -> dict[str, Any]:
    """Convert a mapping; duplicate keys are an error (as with Prometheus's strict YAML)."""
    out: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    merged: list[yaml.MappingNode] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            merged += _merge_sources(value_node)
            continue
        key = str(_convert(key_node, path, doc))
        line = key_node.start_mark.line + 1
        if key in key_lines:
            raise ConfigError([f"{doc.filename}:{line}: {format_path((*path, key))}: mapping key "
                               f"{key!r} already defined at line {key_lines[key]}"])
        key_lines[key] = line
        doc.lines[(*path, key)] = line
        out[key] = _convert(value_node, (*path, key), doc)
    for source in merged:
        for key, value in _convert_mapping(source, path, doc).items():
            out.setdefault(key, value)
    return out


def _merge_sources(node: yaml.Node) -> list[yaml.MappingNode]:
    """The mappings a `<<:` merge key pulls in."""
    if isinstance(node, yaml.MappingNode):
        return [node]
    if isinstance(node, yaml.SequenceNode):
        return [n for n in node.value if isinstance(n, yaml.MappingNode)]
    return []


# ---------------------------------------------------------------------------------------------
# Unsupported fields -> warnings
# ---------------------------------------------------------------------------------------------

def _prune(doc: _Doc, model: type[BaseModel], data: Any, path: Path_) -> Iterator[str]:
    """Remove (and warn about) keys the model does not know; nulls mean "unset", as in Prometheus."""
    if not isinstance(data, dict):
        return
    fields = _fields(model)
    for key in list(data):
        if key not in fields:
            del data[key]
            yield doc.message((*path, key), _unsupported(key, fields))
            continue
        annotation, required = fields[key]
        if data[key] is None and not required:
            del data[key]
            continue
        yield from _prune_value(doc, annotation, data[key], (*path, key))


def _prune_value(doc: _Doc, annotation: Any, value: Any, path: Path_) -> Iterator[str]:
    """Descend into nested models, lists of models and dicts of models."""
    kind, model = _model_in(annotation)
    if model is None:
        return
    if kind == "model":
        yield from _prune(doc, model, value, path)
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            yield from _prune(doc, model, item, (*path, i))
    elif kind == "dict" and isinstance(value, dict):
        for key, item in value.items():
            yield from _prune(doc, model, item, (*path, key))


def _fields(model: type[BaseModel]) -> dict[str, tuple[Any, bool]]:
    """Accepted keys of a model (name and alias) -> (annotation, required)."""
    out: dict[str, tuple[Any, bool]] = {}
    for name, info in model.model_fields.items():
        out[info.alias or name] = (info.annotation, info.is_required())
        out.setdefault(name, (info.annotation, info.is_required()))
    return out


def _model_in(annotation: Any) -> tuple[str, type[BaseModel] | None]:
    """Find a pydantic model inside an annotation: ('model'|'list'|'dict', cls) or ('', None)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "model", annotation
    if origin is typing.Annotated:
        return _model_in(args[0])
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _model_in(arg)
            if found[1] is not None:
                return found
    if origin is list and args:
        inner = _model_in(args[0])
        return ("list", inner[1]) if inner[0] == "model" else ("", None)
    if origin is dict and len(args) == 2:
        inner = _model_in(args[1])
        return ("dict", inner[1]) if inner[0] == "model" else ("", None)
    return "", None


def _unsupported(key: str, fields: dict[str, Any]) -> str:
    """Warning text for an unsupported key, with a spelling hint when one is close."""
    hint = difflib.get_close_matches(key, [f for f in fields if not f.endswith("_")], n=1, cutoff=0.8)
    suffix = f' (did you mean "{hint[0]}"?)' if hint else ""
    return f"not supported by pharos, ignored{suffix}"


def _hoist_prometheus_storage(doc: _Doc) -> None:
    """Map Prometheus's `storage.tsdb.out_of_order_time_window` onto pharos' `storage` section."""
    storage = doc.data.get("storage")
    tsdb = storage.get("tsdb") if isinstance(storage, dict) else None
    if not isinstance(tsdb, dict) or "out_of_order_time_window" not in tsdb:
        return
    if "out_of_order_time_window" not in storage:
        storage["out_of_order_time_window"] = tsdb.pop("out_of_order_time_window")
        line = doc.lines.get(("storage", "tsdb", "out_of_order_time_window"))
        if line is not None:
            doc.lines[("storage", "out_of_order_time_window")] = line
    if not tsdb:
        del storage["tsdb"]


# ---------------------------------------------------------------------------------------------
# pydantic errors -> file:line: key: message
# ---------------------------------------------------------------------------------------------

def _error_message(doc: _Doc, err: Any) -> str:
    """Translate one pydantic error to a located message."""
    path = _data_path(doc.data, err["loc"])
    ctx = err.get("ctx") or {}
    if err["type"] == "pharos":
        path = (*path, *ctx.get("path", ()))
        text = ctx.get("msg", err["msg"])
    elif err["type"] == "missing":
        text = "required field is missing"
    elif err.get("input", "") is None:
        text = "empty or null section"
    else:
        text = err["msg"]
        if not isinstance(err.get("input"), dict | list):
            text += f" (got {err.get('input')!r})"
    return doc.message(path, text)


def _data_path(data: Any, loc: tuple[Any, ...]) -> Path_:
    """Keep the parts of a pydantic location that address the data (drop union/validator tags)."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)):
            node = node[part]
            out.append(part)
        elif isinstance(node, dict) and i == len(loc) - 1 and isinstance(part, str):
            out.append(part)  # a missing key
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# After validation
# ---------------------------------------------------------------------------------------------

def _resolve_paths(config: PharosConfig, base: Path) -> None:
    """Make file paths in the config absolute, relative to the config file's directory."""
    def fix(p: str | None) -> str | None:
        return p if not p else str(base / p) if not os.path.isabs(p) else p

    for sc in config.scrape_configs:
        for sd in sc.file_sd_configs:
            sd.files = [fix(f) or f for f in sd.files]
        _resolve_client_paths(sc, fix)
    for am in config.alerting.alertmanagers if config.alerting else []:
        _resolve_client_paths(am, fix)
    _resolve_server_paths(config.server, fix)


def _resolve_client_paths(
    c: ScrapeConfig | AlertmanagerEndpointConfig, fix: Callable[[str | None], str | None]
) -> None:
    """The secret and certificate files of an HTTP client config, as `_resolve_paths`."""
    c.bearer_token_file = fix(c.bearer_token_file)
    if c.authorization and c.authorization.get("credentials_file"):
        c.authorization["credentials_file"] = fix(c.authorization["credentials_file"]) or ""
    if c.basic_auth is not None:
        c.basic_auth.password_file = fix(c.basic_auth.password_file)
    if c.tls_config is not None:
        tls = c.tls_config
        tls.ca_file, tls.cert_file, tls.key_file = fix(tls.ca_file), fix(tls.cert_file), fix(tls.key_file)


def _resolve_server_paths(server: ServerConfig, fix: Callable[[str | None], str | None]) -> None:
    """The `server:` section's secret and certificate files, as `_resolve_paths`."""
    server.bearer_token_file = fix(server.bearer_token_file)
    if server.basic_auth is not None:
        server.basic_auth.password_file = fix(server.basic_auth.password_file)
    if (tls := server.tls_server_config) is not None:
        tls.cert_file, tls.key_file = fix(tls.cert_file) or "", fix(tls.key_file) or ""
        tls.client_ca_file = fix(tls.client_ca_file)


def _check_sd_files(config: PharosConfig) -> Iterator[str]:
    """promtool-style checks of file_sd files: missing ones warn, invalid ones are errors."""
    for sc in config.scrape_configs:
        yield from _check_job_sd_files(sc)


def _check_job_sd_files(sc: ScrapeConfig) -> Iterator[str]:
    from pharos.metrics.scrape.discovery import FileSDError, read_file_sd

    for sd in sc.file_sd_configs:
        for pattern in sd.files:
            matches = sorted(glob.glob(pattern))
            if not matches:
                yield f'warning: file "{pattern}" for file_sd in scrape job "{sc.job_name}" does not exist'
            for path in matches:
                try:
                    read_file_sd(path)
                except FileSDError as exc:
                    yield f'error: {path}: file_sd of scrape job "{sc.job_name}": {exc}'
