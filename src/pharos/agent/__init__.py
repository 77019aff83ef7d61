"""The node agent: tails container logs, ships them to a Loki push endpoint, serves node metrics."""

from pharos.agent.runner import Agent, AgentOptions, run_agent

__all__ = ["Agent", "AgentOptions", "run_agent"]
