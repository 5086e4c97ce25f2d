"""Index seams: one Protocol per backend kind. Backends speak episode ids (str), never rowids.

Embedded backends (FAISS, tantivy) and server backends (pgvector, Milvus, ...) implement the
same Protocols, so nothing above ``index/`` knows which one it talks to; ``index/backends.py``
opens them from an index location (a directory or a URL).

The write contract the engine relies on, and every backend must keep (tests/index/
test_congruence.py checks it per backend):

- ``upsert`` and ``delete`` are idempotent: repeating one leaves the same state and accounting
  (a re-run after a crash redoes the last chunk).
- After ``commit`` returns, every earlier ``upsert`` / ``delete`` is durable. A backend may make
  writes durable earlier (a server backend commits each call in one transaction); an embedded
  one may keep them in memory until ``commit``.
- Readers never see half of one episode: an id is either absent or present with its vector and
  payload as of one ``upsert`` call. Nothing stronger (no atomic multi-chunk swap) is promised:
  the catalog store's ``indexed_hash`` accounting is what makes an interrupted build resumable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from podsearch.errors import IndexStateError
from podsearch.models import DocPayload, Episode, Filters, IngestReport, Show

if TYPE_CHECKING:
    from podsearch.catalog.base import CatalogData


@dataclass(frozen=True, slots=True)
class KeywordDoc:
    """A document as the keyword index sees it."""

    doc_id: str
    title: str
    text: str  # full episode text (title. description. show title. show description.)
    payload: DocPayload


@runtime_checkable
class VectorIndex(Protocol):
    """Approximate nearest-neighbour search by cosine similarity, with metadata filters."""

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def upsert(
        self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[DocPayload]
    ) -> None:
        """Add or replace vectors (L2-normalised float32, shape (n, dim))."""
        ...

    def delete(self, ids: Sequence[str]) -> int:
        """Remove ids; unknown ids are ignored. Returns how many were removed."""
        ...

    def search(
        self, vectors: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[list[tuple[str, float]]]:
        """For each query vector (shape (q, dim)), up to k (id, cosine) pairs, best first."""
        ...

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of the ids that exist."""
        ...

    def ids(self) -> list[str]:
        """Every stored id. Loads them all: prefer ``iter_vectors`` on large indexes."""
        ...

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[list[str], np.ndarray]]:
        """Every stored (ids, vectors (n, dim)) in batches of at most ``batch``, each id once.
        Streams: a server backend pages through its table, never loading it whole."""
        ...

    def reset(self, dim: int) -> None:
        """Drop every vector and hold ``dim``-d vectors from now on (a model change)."""
        ...

    def commit(self) -> None:
        """Make every earlier upsert and delete durable (see the module's write contract)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class KeywordIndex(Protocol):
    """BM25 full-text search with language-aware analysis and the same metadata filters."""

    def __len__(self) -> int: ...

    def upsert(self, docs: Sequence[KeywordDoc]) -> None: ...

    def delete(self, ids: Sequence[str]) -> int: ...

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """Up to k (id, bm25 score) pairs, best first. Query syntax errors are not raised:
        the query is treated as plain words."""
        ...

    def present_words(self, words: Sequence[str]) -> set[str]:
        """The words among ``words`` that some document holds: those for which
        ``search(word, 1)`` finds a document, asked without ranking anything (the "weak
        result" check asks it for every query word, search/confidence.py)."""
        ...

    def reset(self) -> None:
        """Drop every document."""
        ...

    def commit(self) -> None:
        """Make every earlier upsert and delete durable (see the module's write contract)."""
        ...

    def close(self) -> None: ...


def upsert_batch(
    ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[DocPayload], dim: int
) -> tuple[np.ndarray, list[int]]:
    """Every backend's upsert checks: the vectors as contiguous float32 and the positions to
    write, in batch order, where the last occurrence of a repeated id wins. IndexStateError for
    vectors of another dimension (the model changed), ValueError for lengths that differ."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise IndexStateError(
            f"vectors have shape {vectors.shape}, the index holds {dim}-d vectors; "
            "rebuild the index (podsearch index --rebuild) after changing the model"
        )
    if not (len(ids) == len(vectors) == len(payloads)):
        raise ValueError("ids, vectors and payloads must have the same length")
    last = {doc_id: i for i, doc_id in enumerate(ids)}
    return vectors, sorted(last.values())


@runtime_checkable
class CatalogStore(Protocol):
    """The catalog and the index state: shows, episodes, row accounting, which episodes the
    indexes hold (``content_hash`` vs ``indexed_hash``), tombstones, metadata (model, dim,
    the index generation) and hub scores.

    Implementations: SQLite in the index directory (``podsearch.store``, embedded and Milvus
    locations) and PostgreSQL in the same database as the vectors (``index/pg_catalog.py``).
    Every method is safe to call from several threads; each write is atomic on its own, and
    on PostgreSQL it joins the location's open ``transaction()`` when there is one.
    """

    read_only: bool  # opened without write access: reads work, writes raise StorageError

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def generation(self) -> int:
        """The index generation: bumped by every writer after its changes are committed."""
        ...

    def bump_generation(self) -> int:
        """Increment the generation atomically across processes; returns the new value."""
        ...

    def ingest(self, data: CatalogData) -> IngestReport:
        """Upsert shows and episodes in one transaction; classify every row (imported,
        updated, unchanged, skipped: they add up to ``data.read``)."""
        ...

    def get(self, episode_id: str) -> Episode | None: ...

    def get_many(self, episode_ids: Sequence[str]) -> dict[str, Episode]: ...

    def iter_episodes(self, batch: int = 2000) -> Iterator[Episode]:
        """Every episode by id, paged (never the whole table at once)."""
        ...

    def shows(self) -> list[Show]:
        """Every show row (what a migration copies)."""
        ...

    def count(self) -> int: ...

    def count_shows(self) -> int: ...

    def count_indexed(self) -> int: ...

    def top_shows(self, n: int = 20) -> list[tuple[str, str, int]]: ...

    def find_shows(self, value: str) -> list[tuple[str, str]]: ...

    def show_images(self, show_ids: Sequence[str]) -> dict[str, str]:
        """Artwork URL of each of these shows that has one (http(s) only)."""
        ...

    def facet_counts(self, column: str) -> dict[str, int]: ...

    def sample_titles(self, n: int, seed: int = 0) -> list[str]: ...

    def dirty(self) -> list[tuple[Episode, str]]:
        """Episodes whose indexed content is missing or stale, with their current hash."""
        ...

    def count_dirty(self) -> int:
        """How many episodes ``iter_dirty`` would yield now."""
        ...

    def iter_dirty(self, batch: int = 2048) -> Iterator[list[tuple[Episode, str]]]:
        """``dirty()`` in lists of at most ``batch`` in episode-id (byte) order, read one list
        at a time so that a build never holds the whole catalog; episodes marked indexed while
        iterating are not returned again."""
        ...

    def mark_indexed(self, pairs: Iterable[tuple[str, str]]) -> None: ...

    def mark_all_unindexed(self) -> None: ...

    def delete(self, episode_ids: Sequence[str]) -> list[str]:
        """Delete episodes (tombstoned until ``clear_tombstones``); the ids that existed."""
        ...

    def tombstones(self) -> list[str]: ...

    def clear_tombstones(self, episode_ids: Sequence[str]) -> None: ...

    def set_hub_scores(self, pairs: Iterable[tuple[str, float]]) -> None: ...

    def hub_scores(self, episode_ids: Sequence[str]) -> dict[str, float]: ...

    def clear_hub_scores(self) -> None: ...

    def load_hub_probes(self) -> np.ndarray | None:
        """The stored hubness probe vectors, or None."""
        ...

    def save_hub_probes(self, probes: np.ndarray) -> None: ...

    def save_job(self, job: Mapping[str, Any], *, keep: int | None = None) -> None:
        """Insert or replace a background job's record (JSON-safe, keyed by ``job_id``, with a
        ``created`` time), where every process and server on this index reads it; ``keep``:
        then drop all but the ``keep`` most recently created records."""
        ...

    def load_job(self, job_id: str) -> dict[str, Any] | None:
        """The record ``save_job`` stored for ``job_id`` (None: none, or none kept)."""
        ...

    def close(self) -> None: ...
