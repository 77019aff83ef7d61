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
        if dups:
            echo(f"  FAILED:\nlint error {len(dups)} duplicate rule(s) found.")
            for name, labels in dups:
                echo(f"Metric: {name}\nLabel(s):")
                for k, v in sorted(labels.items()):
                    echo(f"\t{k}: {v}")
            echo("Might cause inconsistency while recording expressions")
        n = sum(len(g.rules) for g in groups)
        echo(f"  SUCCESS: {n} rules found\n")
    return 1 if failed else 0
