"""Round-trip consistency filtering (as in PAQ / Promptagator): keep a generated pair only if a
base encoder, searching the whole catalog with the query, ranks the pair's episode in its top k."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from podsearch.encode.base import Encoder


class RoundTripFilter:
    """Exact ranks of target episodes among all catalog documents under ``encoder``.

    ``doc_ids`` / ``doc_vectors``: every catalog episode and its L2-normalised vector (from the
    index when it was built with the same model, else encoded once by the caller).
    """

    def __init__(
        self, encoder: Encoder, doc_ids: Sequence[str], doc_vectors: np.ndarray, k: int = 30
    ) -> None:
        if len(doc_ids) != len(doc_vectors):
            raise ValueError("doc_ids and doc_vectors differ in length")
        self.encoder = encoder
        self.k = k
        self._pos = {d: i for i, d in enumerate(doc_ids)}
        self._docs = np.ascontiguousarray(doc_vectors, dtype=np.float32)

    def ranks(self, queries: Sequence[str], episode_ids: Sequence[str]) -> list[int]:
        """1-based rank of each query's episode among all documents (ties count against it)."""
        if not queries:
            return []
        q = self.encoder.encode_queries(list(queries))
        out: list[int] = []
        for start in range(0, len(q), 256):
            block = q[start : start + 256] @ self._docs.T
            for row, eid in zip(block, episode_ids[start : start + 256], strict=True):
                target = row[self._pos[eid]]
                out.append(int(np.count_nonzero(row >= target)))
        return out

    def keep(self, rank: int) -> bool:
        return rank <= self.k
