"""Encoders backed by a sentence-transformers model on PyTorch (CPU)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from podsearch.encode._quiet import quiet_transformers
from podsearch.encode._threads import configure_torch_threads
from podsearch.encode.base import BaseEncoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class SentenceTransformerEncoder(BaseEncoder):
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
        super().__init__(
            name,
            int(dim),
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
            batch_size=batch_size,
        )
        self._model = model
        self.backend = "torch"

    @property
    def model(self) -> SentenceTransformer:
        """The underlying sentence-transformers model."""
        return self._model

    @property
    def max_seq_length(self) -> int | None:
        return self._model.max_seq_length

    def _embed(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        configure_torch_threads()
        with quiet_transformers():
            out = self._model.encode(
                texts,
                batch_size=batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.asarray(out, dtype=np.float32)


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
