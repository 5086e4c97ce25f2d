"""The Encoder seam, and the base class that every podsearch encoder builds on.

``Encoder`` is the Protocol the rest of the library depends on. ``BaseEncoder`` writes the
``encode_queries`` / ``encode_documents`` contract once (input checks, empty input, prefixes,
float32, L2 normalisation) over one abstract batch method, as simonw/llm's ``EmbeddingModel``
does; a new encoder only implements ``_embed``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from podsearch.encode._arrays import check_texts, normalize_rows


@runtime_checkable
class Encoder(Protocol):
    """Turns queries and documents into unit vectors in one space (cosine = dot product)."""

    @property
    def name(self) -> str:
        """A stable identifier (alias or path) recorded in the index to detect model changes."""
        ...

    @property
    def dim(self) -> int: ...

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """Return a (len(texts), dim) float32 array of L2-normalised query vectors."""
        ...

    def encode_documents(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Return a (len(texts), dim) float32 array of L2-normalised document vectors."""
        ...


class BaseEncoder(ABC):
    """An Encoder whose subclasses only turn a batch of (prefixed) texts into raw vectors.

    ``query_prefix`` / ``passage_prefix`` are prepended to every query / document (E5 models
    need ``"query: "`` and ``"passage: "``); ``batch_size`` is the default batch size.
    """

    def __init__(
        self,
        name: str,
        dim: int,
        *,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 32,
    ) -> None:
        self._name = name
        self._dim = int(dim)
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def encode_queries(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """Return a (len(texts), dim) float32 array of L2-normalised query vectors."""
        return self._encode(texts, self.query_prefix, batch_size, show_progress=False)

    def encode_documents(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Return a (len(texts), dim) float32 array of L2-normalised document vectors."""
        return self._encode(texts, self.passage_prefix, batch_size, show_progress=show_progress)

    def _encode(
        self, texts: Sequence[str], prefix: str, batch_size: int | None, *, show_progress: bool
    ) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self._dim), dtype=np.float32)
        if prefix:
            items = [prefix + t for t in items]
        out = self._embed(items, batch_size or self.batch_size, show_progress)
        return normalize_rows(np.asarray(out, dtype=np.float32))

    @abstractmethod
    def _embed(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        """A (len(texts), dim) array of vectors for non-empty, already prefixed ``texts``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, dim={self._dim})"
