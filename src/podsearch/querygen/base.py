"""The QueryGenerator seam: episodes in, candidate search queries out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from podsearch.models import Episode


@runtime_checkable
class QueryGenerator(Protocol):
    """Writes ``n`` candidate queries for each episode (fewer, or none, is allowed)."""

    @property
    def name(self) -> str:
        """Recorded in every pair (``generator`` field) and in the model card."""
        ...

    def generate(self, episodes: Sequence[Episode], n: int, *, seed: int) -> list[list[str]]:
        """One list of raw query strings per episode, in order. Same seed, same output."""
        ...


@dataclass(frozen=True, slots=True)
class Pair:
    """One (query, episode) training or evaluation pair, as written to JSONL."""

    query: str
    episode_id: str
    generator: str
    strip_title: bool = False  # title-as-query pairs: the episode text is used without its title
    rank: int | None = None  # rank of the episode for the query under the filter encoder

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "query": self.query,
            "episode_id": self.episode_id,
            "generator": self.generator,
        }
        if self.strip_title:
            d["strip_title"] = True
        if self.rank is not None:
            d["rank"] = self.rank
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pair:
        return cls(
            query=str(d["query"]),
            episode_id=str(d["episode_id"]),
            generator=str(d.get("generator", "")),
            strip_title=bool(d.get("strip_title", False)),
            rank=int(d["rank"]) if d.get("rank") is not None else None,
        )


def episode_text(ep: Episode, *, strip_title: bool = False) -> str:
    """The indexed text of an episode; without its title for title-as-query pairs."""
    if not strip_title:
        return ep.text
    from dataclasses import replace

    return replace(ep, title="").text
