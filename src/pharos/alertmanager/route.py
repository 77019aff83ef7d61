"""The routing tree: which routes (and so receivers) an alert's labels go to.

Matching follows Alertmanager: a route matches when all its matchers do; its children are tried
in order and the first match stops the search unless that child has `continue: true`; a route
none of whose children match is itself the match.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from pharos.alertmanager.config import RouteConfig
from pharos.alertmanager.matchers import matchers_string, matches_all


@dataclass(eq=False)
class Route:
    """A node of the routing tree with its Alertmanager key (`{}/{team="a"}`)."""

    conf: RouteConfig
    key: str
    index: int = 0
    parent: Route | None = None
    children: list[Route] = field(default_factory=list)

    @classmethod
    def build(cls, conf: RouteConfig, parent: Route | None = None, index: int = 0) -> Route:
        """Build the tree from a validated route config."""
        own = matchers_string(conf.matchers)
        key = f"{parent.key}/{own}" if parent is not None else own
        node = cls(conf, key, index, parent)
        node.children = [cls.build(c, node, i) for i, c in enumerate(conf.routes)]
        return node

    @property
    def receiver(self) -> str:
        """The receiver this route notifies."""
        return self.conf.receiver

    @property
    def id(self) -> str:
        """The key made unique among siblings with equal matchers (Alertmanager's Route.ID)."""
        return f"{self.key}/{self.index}" if self.parent is not None else self.key

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with these labels goes to, in tree order."""
        if not matches_all(self.conf.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.children:
            hits = child.match(labels)
            found += hits
            if hits and not child.conf.continue_:
                break
        return found or [self]

    def walk(self) -> Iterator[Route]:
        """This route and all its descendants, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels an alert is grouped by on this route."""
        if self.conf.group_by_all:
            return dict(labels)
        return {n: labels[n] for n in self.conf.group_by if n in labels}
