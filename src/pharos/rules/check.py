"""`pharos check rules FILE...`: promtool check rules' verdicts and report."""

from __future__ import annotations

from collections.abc import Callable

from pharos.rules.rulefile import RuleFileError, duplicate_rules, load_rule_file


def check_rule_files(files: list[str], echo: Callable[[str], None], echo_err: Callable[[str], None]) -> int:
    """Check each file as promtool does; 0 when all load, 1 otherwise."""
    failed = False
    for path in files:
        echo(f"Checking {path}")
        try:
            groups = load_rule_file(path)
        except RuleFileError as exc:
            echo_err("  FAILED:")
            for message in exc.messages:
                echo_err(message)
            echo_err("")
            failed = True
            continue
        dups = duplicate_rules(groups)
        if dups:  # a lint finding: reported as FAILED, but the exit status stays 0
            echo_err(f"  FAILED:\nlint error {len(dups)} duplicate rule(s) found.")
            for name, labels in dups:
                echo_err(f"Metric: {name}\nLabel(s):")
                for k, v in sorted(labels.items()):
                    echo_err(f"\t{k}: {v}")
            echo_err("Might cause inconsistency while recording expressions")
            echo("")
            continue
        n = sum(len(g.rules) for g in groups)
        echo(f"  SUCCESS: {n} rules found\n")
    return 1 if failed else 0
