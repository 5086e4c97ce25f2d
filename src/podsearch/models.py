"""Typed, frozen data classes that the pipeline stages hand each other."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

SearchMode = Literal["dense", "keyword", "hybrid"]
SEARCH_MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")


@dataclass(frozen=True, slots=True)
class Show:
    """A podcast (a feed). ``show_id`` is unique within one index."""

    show_id: str
    title: str
    description: str = ""
    language: str = ""  # ISO 639-1 code ("en", "de", ...) or "" when unknown
    categories: tuple[str, ...] = ()
    author: str = ""
    website: str = ""
    image: str = ""


@dataclass(frozen=True, slots=True)
class Episode:
    """One episode, already cleaned (plain text, no HTML), joined with its show's fields."""

    episode_id: str
    show_id: str
    title: str
    description: str = ""
    show_title: str = ""
    show_description: str = ""
    language: str = ""  # ISO 639-1 code, from the source or detected
    categories: tuple[str, ...] = ()
    pub_date: datetime | None = None  # timezone-aware UTC when known
    audio_url: str = ""
    duration_s: int | None = None
    source: str = ""  # which catalog it came from (path stem, feed URL, ...)

    @property
    def text(self) -> str:
        """The text that is embedded and keyword-indexed.

        *episode title. episode description. show title. show description.*
        """
        parts = (self.title, self.description, self.show_title, self.show_description)
        return " ".join(_sentence(p) for p in parts if p and p.strip())

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that is indexed or shown changes."""
        h = hashlib.sha1()
        for v in (
            self.show_id,
            self.title,
            self.description,
            self.show_title,
            self.show_description,
            self.language,
            "|".join(self.categories),
            self.pub_date.isoformat() if self.pub_date else "",
            self.audio_url,
            str(self.duration_s or ""),
        ):
            h.update(v.encode("utf-8", "surrogatepass"))
            h.update(b"\x1f")
        return h.hexdigest()


def _sentence(s: str) -> str:
    s = s.strip()
    return s if s[-1:] in ".!?…。！？" else s + "."


@dataclass(frozen=True, slots=True)
class Filters:
    """Metadata filters; every field that is set must match (AND), values within a field OR."""

    languages: tuple[str, ...] = ()
    show_ids: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # matched case-insensitively against each category
    date_from: datetime | None = None  # inclusive
    date_to: datetime | None = None  # inclusive

    @property
    def empty(self) -> bool:
        return not (
            self.languages or self.show_ids or self.categories or self.date_from or self.date_to
        )


@dataclass(frozen=True, slots=True)
class DocPayload:
    """What an index backend stores beside each vector / document so that it can filter."""

    language: str = ""
    show_id: str = ""
    categories: tuple[str, ...] = ()
    pub_date: datetime | None = None

    @classmethod
    def of(cls, ep: Episode) -> DocPayload:
        return cls(ep.language, ep.show_id, ep.categories, ep.pub_date)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result."""

    episode_id: str
    score: float
    title: str
    show_title: str
    show_id: str
    language: str
    pub_date: datetime | None
    snippet: str
    categories: tuple[str, ...] = ()
    audio_url: str = ""
    rank: int = 0
    # Per-retriever ranks (1-based) for hybrid results, None where a retriever missed it.
    dense_rank: int | None = None
    keyword_rank: int | None = None
    # (start, end) offsets in ``snippet`` of the words matching a query word's stem in the
    # episode's language (search/snippet.py)
    highlights: tuple[tuple[int, int], ...] = ()
    image_url: str = ""  # the show's artwork (http(s) only), or ""
    duration_s: int | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "episode_id": self.episode_id,
            "score": round(float(self.score), 6),
            "rank": self.rank,
            "title": self.title,
            "show_title": self.show_title,
            "show_id": self.show_id,
            "language": self.language,
            "pub_date": self.pub_date.isoformat() if self.pub_date else None,
            "categories": list(self.categories),
            "snippet": self.snippet,
            "audio_url": self.audio_url,
            "dense_rank": self.dense_rank,
            "keyword_rank": self.keyword_rank,
            "highlights": [list(span) for span in self.highlights],
            "image_url": self.image_url,
            "duration_s": self.duration_s,
        }


@dataclass(frozen=True, slots=True)
class QueryFacets:
    """Filter values with their counts over one query's matching set, largest first."""

    languages: tuple[tuple[str, int], ...] = ()
    categories: tuple[tuple[str, int], ...] = ()
    shows: tuple[tuple[str, str, int], ...] = ()  # (show_id, title, count)

    def to_dict(self) -> dict[str, list[dict[str, object]]]:
        """The shape of ``GET /api/facets``."""
        return {
            "languages": [{"value": v, "count": n} for v, n in self.languages],
            "categories": [{"value": v, "count": n} for v, n in self.categories],
            "shows": [{"show_id": i, "title": t, "episodes": n} for i, t, n in self.shows],
        }


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of hits plus what a client needs to show and page through them."""

    query: str
    mode: str
    k: int
    offset: int
    hits: tuple[Hit, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)
    has_more: bool = False  # another page exists after this one
    weak: bool = False  # no close match: see search/confidence.py
    fuzzy: bool = False  # keyword hits found only by allowing typos
    did_you_mean: str | None = None  # the query spelt as the fuzzy hits spell it
    facets: QueryFacets | None = None  # counts over the query's matching set (on request)
    total: int | None = None  # size of the matching set (with facets), see ``total_exact``
    total_exact: bool = False  # True: ``total`` counts every match; False: "total or more"

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "query": self.query,
            "mode": self.mode,
            "k": self.k,
            "offset": self.offset,
            "hits": [h.to_dict() for h in self.hits],
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
            "has_more": self.has_more,
            "weak": self.weak,
            "fuzzy": self.fuzzy,
            "did_you_mean": self.did_you_mean,
        }
        if self.facets is not None:
            d["facets"] = self.facets.to_dict()
            d["total"] = self.total
            d["total_exact"] = self.total_exact
        return d


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A catalog row that was not imported, and why."""

    where: str  # "episodes.csv:17", "feed.xml item 3", ...
    reason: str  # "missing title", "duplicate id 42", "orphan episode (show 9 unknown)", ...
    record_id: str = ""


@dataclass(slots=True)
class IngestReport:
    """Counts for one ingest run. Invariant: imported + updated + unchanged + skipped == read."""

    source: str
    read: int = 0
    imported: int = 0  # new episodes
    updated: int = 0  # existing episodes whose content changed
    unchanged: int = 0  # existing episodes re-imported identically
    skipped: list[SkippedRow] = field(default_factory=list)
    shows: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def balanced(self) -> bool:
        return self.imported + self.updated + self.unchanged + self.skipped_count == self.read

    def skipped_by_reason(self) -> dict[str, int]:
        """Skipped rows counted by reason kind (the text before the first colon)."""
        reasons: dict[str, int] = {}
        for s in self.skipped:
            key = s.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        return dict(sorted(reasons.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "read": self.read,
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped_count,
            "skipped_by_reason": self.skipped_by_reason(),
            "skipped_rows": [
                {"where": s.where, "reason": s.reason, "record_id": s.record_id}
                for s in self.skipped
            ],
            "shows": self.shows,
            "warnings": list(self.warnings),
        }
