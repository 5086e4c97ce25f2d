"""Index seams: one Protocol per backend kind. Backends speak episode ids (str), never rowids.

Embedded backends (FAISS, tantivy) and server backends (pgvector, Milvus, ...) implement the
same Protocols, so nothing above ``index/`` knows which one it talks to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from podsearch.models import DocPayload, Filters


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

    def ids(self) -> list[str]: ...

    def commit(self) -> None:
        """Persist durably and atomically: a crash during commit leaves the previous state."""
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

    def commit(self) -> None: ...

    def close(self) -> None: ...
