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
    for r, (run, w) in enumerate(zip(runs, weights, strict=True)):
        for rank, (doc_id, _score) in enumerate(run, start=1):
            if doc_id not in ranks:
                ranks[doc_id] = [None] * len(runs)
                scores[doc_id] = 0.0
            if ranks[doc_id][r] is None:
                ranks[doc_id][r] = rank
                scores[doc_id] += w / (k + rank)
    order = sorted(scores, key=lambda d: -scores[d])  # sorted() is stable: first-seen wins ties
    return [(d, scores[d], ranks[d]) for d in order]


def convex_fusion(
    dense: Sequence[tuple[str, float]],
    keyword: Sequence[tuple[str, float]],
    cosine: dict[str, float],
    *,
    keyword_weight: float,
) -> list[tuple[str, float, list[int | None]]]:
    """Fuse by score: z(cosine) + w * bm25 / max(bm25).

    ``cosine`` holds the true query cosine of *every* candidate (keyword-only ones included),
    so a document BM25 found is judged on its meaning too, not given a default. Cosines are
    standardised over the candidates (their scale varies by model); BM25 is divided by the
    query's best score, so ``w`` reads as "how many standard deviations of meaning a perfect
    keyword match is worth".
    """
    cand = list(dict.fromkeys([d for d, _ in dense] + [d for d, _ in keyword]))
    if not cand:
        return []
    d_rank = {d: r for r, (d, _) in enumerate(dense, start=1)}
    k_rank = {d: r for r, (d, _) in enumerate(keyword, start=1)}
    k_score = dict(keyword)
    cos = [cosine[d] for d in cand]
    mean = sum(cos) / len(cos)
    std = (sum((c - mean) ** 2 for c in cos) / len(cos)) ** 0.5 or 1.0
    best_kw = max(k_score.values(), default=0.0) or 1.0
    fused = [
        (d, (c - mean) / std + keyword_weight * k_score.get(d, 0.0) / best_kw)
        for d, c in zip(cand, cos, strict=True)
    ]
    fused.sort(key=lambda x: -x[1])
    return [(d, s, [d_rank.get(d), k_rank.get(d)]) for d, s in fused]
