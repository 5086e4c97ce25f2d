"""A deterministic, weight-free encoder for tests: texts that share words get close vectors."""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from functools import lru_cache

import numpy as np

from podsearch.encode.base import BaseEncoder

DEFAULT_DIM = 64
_BUCKETS = 1 << 15  # hashed feature space; collisions are rare enough for tests
_SEED = 20171201
_TRIGRAM_WEIGHT = 0.25  # words dominate; trigrams only add a little fuzziness (plurals, typos)
_WORD = re.compile(r"\w+")


class FakeEncoder(BaseEncoder):
    """Hashed bag of lower-cased words (plus character trigrams), randomly projected to ``dim``.

    Deterministic across processes and platforms (crc32 hashing, fixed-seed projection), needs no
    weights and encodes thousands of texts a second. Queries and documents share one space with no
    prefixes, so a text encoded both ways gives identical vectors.
    """

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 2:
            raise ValueError(f"FakeEncoder dim must be an int >= 2, got {dim!r}")
        super().__init__("fake" if dim == DEFAULT_DIM else f"fake:{dim}", dim)
        self._proj = _projection(dim)

    def _embed(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            idx, weights = _features(text)
            out[i] = weights @ self._proj[idx]
        return out

    def __repr__(self) -> str:
        return f"FakeEncoder(dim={self._dim})"


def _features(text: str) -> tuple[np.ndarray, np.ndarray]:
    counts: defaultdict[int, float] = defaultdict(float)
    words = _WORD.findall(text.lower())
    for w in words:
        counts[_bucket("w", w)] += 1.0
        padded = f"<{w}>"
        for j in range(len(padded) - 2):
            counts[_bucket("t", padded[j : j + 3])] += _TRIGRAM_WEIGHT
    if not counts:  # empty or punctuation-only text still gets a unit vector
        counts[_bucket("e", "")] = 1.0
    idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    # Sub-linear term frequency, so one repeated word cannot drown the rest.
    weights = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
    return idx, np.sqrt(weights)


def _bucket(kind: str, feature: str) -> int:
    return zlib.crc32(f"{kind}:{feature}".encode()) % _BUCKETS


@lru_cache(maxsize=8)
def _projection(dim: int) -> np.ndarray:
    rng = np.random.default_rng(_SEED)
    return rng.standard_normal((_BUCKETS, dim), dtype=np.float32)
