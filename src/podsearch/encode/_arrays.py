"""Input checks and output normalisation shared by every encoder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a list, rejecting a bare string (a classic one-character-per-row bug)."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not a single str; wrap it in a list")
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__}, expected str")
    return items


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """L2-normalise each row in float32; all-zero rows stay zero."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x
