"""The Encoder seam: anything that turns text into L2-normalised float32 vectors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


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
