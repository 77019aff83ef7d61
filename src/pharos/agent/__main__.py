"""``python -m pharos.agent``: the agent with the CLI contract's flags (until ``pharos agent`` is wired)."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from pharos.agent.runner import AgentOptions, run_agent


def main(argv: list[str] | None = None) -> None:
    """Parse the flags and run the agent until SIGTERM."""
    ap = argparse.ArgumentParser(prog="pharos agent")
    ap.add_argument("--config", type=Path)
    ap.add_argument("--listen")
    ap.add_argument("--logs", action="append", default=[])
    ap.add_argument("--push-url")
    ap.add_argument("--positions", type=Path)
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = AgentOptions.from_config(
        args.config, listen=args.listen, logs=args.logs, push_url=args.push_url, positions=args.positions
    )
    asyncio.run(run_agent(options))


if __name__ == "__main__":
    main()
