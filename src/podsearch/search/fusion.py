"""Rank fusion for hybrid search."""

from __future__ import annotations

from collections.abc import Sequence

# Cormack, Clarke & Buettcher (2009): k = 60 damps the top ranks so that no single retriever's
# first place decides alone; it is the value most engines (Elasticsearch, Weaviate, ...) ship.
RRF_K = 60


def reciprocal_rank_fusion(
    runs: Sequence[Sequence[tuple[str, float]]],
    *,
    weights: Sequence[float] | None = None,
    k: int = RRF_K,
) -> list[tuple[str, float, list[int | None]]]:
    """Fuse ranked lists: score(d) = sum_i w_i / (k + rank_i(d)), ranks 1-based.

    Returns (doc_id, fused score, [rank in each run or None]) best first; ties keep the order
    of the first run in which the document appears.
    """
    weights = list(weights) if weights is not None else [1.0] * len(runs)
    if len(weights) != len(runs):
        raise ValueError("one weight per run")
    scores: dict[str, float] = {}
    ranks: dict[str, list[int | None]] = {}
    for r, (run, w) in enumerate(zip(runs, weights)):
        for rank, (doc_id, _score) in enumerate(run, start=1):
            if doc_id not in ranks:
                ranks[doc_id] = [None] * len(runs)
                scores[doc_id] = 0.0
            if ranks[doc_id][r] is None:
                ranks[doc_id][r] = rank
                scores[doc_id] += w / (k + rank)
    order = sorted(scores, key=lambda d: -scores[d])  # sorted() is stable: first-seen wins ties
    return [(d, scores[d], ranks[d]) for d in order]
