"""Encoders backed by a sentence-transformers model on PyTorch (CPU)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from podsearch.encode._arrays import check_texts, normalize_rows
from podsearch.encode._quiet import quiet_transformers
from podsearch.encode._threads import configure_torch_threads

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class SentenceTransformerEncoder:
    """Wraps a loaded SentenceTransformer as a podsearch Encoder.

    ``query_prefix`` / ``passage_prefix`` are prepended to every text (E5 models need
    ``"query: "`` and ``"passage: "``); output rows are float32 and L2-normalised.
    """

    def __init__(
        self,
        model: SentenceTransformer,
        name: str,
        *,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 32,
    ) -> None:
        dim = model.get_embedding_dimension()
        if not dim:
            raise ValueError(f"model {name!r} does not report its embedding dimension")
        self._model = model
        self._name = name
        self._dim = int(dim)
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.backend = "torch"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def model(self) -> SentenceTransformer:
        """The underlying sentence-transformers model."""
        return self._model

    @property
    def max_seq_length(self) -> int | None:
        return self._model.max_seq_length

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
        configure_torch_threads()
        with quiet_transformers():
            out = self._model.encode(
                items,
                batch_size=batch_size or self.batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return normalize_rows(np.asarray(out, dtype=np.float32))

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder(name={self._name!r}, dim={self._dim})"


def load_sentence_transformer(
    path_or_name: str,
    *,
    max_seq_length: int | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> SentenceTransformer:
    """Load a SentenceTransformer on CPU with podsearch's threading and logging policy."""
    from sentence_transformers import SentenceTransformer

    configure_torch_threads()
    with quiet_transformers():
        model = SentenceTransformer(path_or_name, device="cpu", model_kwargs=model_kwargs)
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model
