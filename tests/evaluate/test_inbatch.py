"""In-batch MRR@5 under both protocols, on hand-checked vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from podsearch.errors import QueryError
from podsearch.evaluate.inbatch import inbatch_mrr, one_pair_per_episode
from podsearch.models import Episode
from podsearch.querygen.base import Pair


class TableEncoder:
    """Queries and documents looked up in fixed tables (unit vectors)."""

    name = "table"
    dim = 3

    def __init__(self, q: dict[str, list[float]], d: dict[str, list[float]]) -> None:
        self.q, self.d = q, d

    @staticmethod
    def _rows(table: dict[str, list[float]], texts: Sequence[str]) -> np.ndarray:
        m = np.array([table[t] for t in texts], dtype=np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        return self._rows(self.q, texts)

    def encode_documents(
        self, texts: Sequence[str], *, batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        return self._rows(self.d, texts)


def test_two_protocols_differ_as_hand_computed() -> None:
    # Docs A, B, C. qA finds A first; qB prefers A over B (rank 2 among all, and in its batch
    # {A, B}); qC prefers B then A then C (rank 3 among all; rank 1 alone in its batch {C}).
    eps = {k: Episode(k, "s", k, "") for k in "ABC"}
    docs = {eps[k].text: v for k, v in {"A": [1, 0, 0], "B": [0, 1, 0], "C": [0, 0, 1]}.items()}
    queries = {"qA": [1, 0, 0], "qB": [1, 0.9, 0], "qC": [0.5, 0.6, 0.1]}
    pairs = [Pair("qA", "A", "g"), Pair("qB", "B", "g"), Pair("qC", "C", "g")]
    enc = TableEncoder(queries, docs)
    # seed 0 shuffles the episodes; compute the expected batch result from the actual order.
    order = [p.episode_id for p in one_pair_per_episode(pairs, 0)]
    r = inbatch_mrr(enc, pairs, eps, batch_size=2, seed=0)
    assert r["mrr@5_all"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    rank_in_batch = {}
    for start in (0, 2):
        batch = order[start : start + 2]
        for e in batch:
            sims = {o: float(np.dot(queries["q" + e], docs[eps[o].text])) for o in batch}
            rank_in_batch[e] = 1 + sum(s > sims[e] for s in sims.values())
    assert r["mrr@5_batch2"] == pytest.approx(sum(1 / v for v in rank_in_batch.values()) / 3)
    assert r["queries"] == 3 and r["batches"] == 2 and r["last_batch_size"] == 1


def test_one_query_per_episode_prefers_generated() -> None:
    pairs = [Pair("t", "A", "title", True), Pair("g", "A", "gen"), Pair("t2", "B", "title", True)]
    chosen = {p.episode_id: p.query for p in one_pair_per_episode(pairs)}
    assert chosen == {"A": "g", "B": "t2"}
    with pytest.raises(QueryError):
        inbatch_mrr(TableEncoder({}, {}), pairs[:1], {"A": Episode("A", "s", "A")})
