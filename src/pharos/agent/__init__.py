"""The node agent: tails container logs, ships them to a Loki push endpoint, serves node metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pharos.agent.runner import Agent, AgentOptions, run_agent

__all__ = ["Agent", "AgentOptions", "run_agent"]


def __getattr__(name: str) -> Any:
    """The names of ``__all__``, imported on first use: ``pharos agent`` imports this package to
    exec the agent process and needs none of the agent's modules itself."""
    if name in __all__:
        from pharos.agent import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
