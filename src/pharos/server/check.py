"""`pharos check config`: everything a server would load from a pharos.yml — the config itself,
the file_sd files, the `alertmanager:` section and the rule files it names."""

from __future__ import annotations

import os
from pathlib import Path

from pharos.alertmanager.config import resolve
from pharos.config.loader import ConfigError, check_config, load_config
from pharos.rules.manager import resolve_rule_files
from pharos.rules.rulefile import RuleFileError, load_rule_file


def check_server_config(path: str | os.PathLike[str]) -> tuple[bool, list[str]]:
    """(ok, messages to print); errors and warnings name file, line and key."""
    ok, messages = check_config(path)
    if not ok:
        return False, messages
    summary = messages.pop()  # "<file>: OK (N scrape configs)" comes last
    loaded = load_config(path)
    try:
        messages += [f"warning: {w}" for w in resolve(loaded, None).warnings]
    except ConfigError as exc:
        return False, messages + [f"error: {m}" for m in exc.messages]
    rule_files = resolve_rule_files(loaded.config.rule_files, Path(path).resolve().parent)
    errors = [f"error: {m}" for f in rule_files for m in _rule_file_errors(f)]
    if errors:
        return False, messages + errors
    n = len(rule_files)
    return True, [*messages, f"{summary[:-1]}, {n} rule file{'s' if n != 1 else ''})"]


def _rule_file_errors(path: str) -> list[str]:
    try:
        load_rule_file(path)
    except RuleFileError as exc:
        return list(exc.messages)
    return []
