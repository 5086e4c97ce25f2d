"""What every catalog reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from podsearch.models import Episode, Show, SkippedRow


@dataclass(slots=True)
class CatalogData:
    """Episodes read from one catalog, plus every row that could not be used and why.

    Invariant: ``len(episodes) + len(skipped) == read``.
    """

    source: str
    shows: list[Show] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    read: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
