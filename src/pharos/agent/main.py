"""The agent's own process: ``pharos agent`` checks its command line, then execs into this module.

The agent runs for the node's lifetime, so it keeps nothing it does not use: typer, its
pydantic coercion and rich (about 20 MB resident) stay in the command that parsed the flags.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from pharos import LOG_FORMAT

MODULE = "pharos.agent.main"


def exec_agent(values: dict[str, Any], log_level: int) -> NoReturn:
    """Replace this process (same pid, signals and descriptors) with the agent process."""
    spec = json.dumps({"values": values, "log_level": log_level})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", MODULE, spec])


def main(argv: list[str]) -> int:
    """Run the agent of a spec written by :func:`exec_agent`; 1 with a one-line error if it cannot."""
    from pharos.agent.options import AgentOptions
    from pharos.agent.runner import run_agent

    spec = json.loads(argv[0])
    logging.basicConfig(level=spec["log_level"], format=LOG_FORMAT, stream=sys.stderr)
    values = spec["values"]
    config = Path(values.pop("config")) if values.get("config") else None
    try:
        options = AgentOptions.from_config(config, **values)
        asyncio.run(run_agent(options))
    except (OSError, ValueError, TypeError) as exc:
        print(f"pharos: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
