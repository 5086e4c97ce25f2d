"""In-batch reranking MRR@5, the walkthrough's headline metric, under its two protocols.

* ``batch``: eval queries in batches of 64 (one query per episode), each query reranks its own
  episode against the other 63 episodes of its batch (the walkthrough's prose);
* ``all``: each query reranks its episode against every other eval episode (the walkthrough's
  code: sentence-transformers' RerankingEvaluator over ~1,000 eval episodes).

Vectors are encoded once; the metric is ir-measures' RR@5.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from podsearch.encode.base import Encoder
from podsearch.errors import QueryError
from podsearch.evaluate.metrics import evaluate_runs
from podsearch.models import Episode
from podsearch.querygen.base import Pair, episode_text


def one_pair_per_episode(pairs: Sequence[Pair], seed: int = 0) -> list[Pair]:
    """One query per episode (a generated one when there is one), in a seeded order."""
    best: dict[str, Pair] = {}
    for p in pairs:
        cur = best.get(p.episode_id)
        if cur is None or (cur.generator == "title" and p.generator != "title"):
            best[p.episode_id] = p
    out = sorted(best.values(), key=lambda p: p.episode_id)
    random.Random(seed).shuffle(out)
    return out


def inbatch_mrr(
    encoder: Encoder,
    pairs: Sequence[Pair],
    episodes: Mapping[str, Episode],
    *,
    batch_size: int = 64,
    k: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """MRR@k under both protocols; ``pairs`` are eval pairs (any number of queries per episode)."""
    chosen = one_pair_per_episode(pairs, seed)
    if len(chosen) < 2:
        raise QueryError("in-batch evaluation needs pairs for at least 2 episodes")
    q = encoder.encode_queries([p.query for p in chosen])
    d = encoder.encode_documents(
        [episode_text(episodes[p.episode_id], strip_title=p.strip_title) for p in chosen]
    )
    qrels = {str(i): {str(i): 1} for i in range(len(chosen))}
    sims = q @ d.T
    run_all = {str(i): {str(j): float(s) for j, s in enumerate(row)} for i, row in enumerate(sims)}
    run_batch: dict[str, dict[str, float]] = {}
    for start in range(0, len(chosen), batch_size):
        idx = range(start, min(start + batch_size, len(chosen)))
        for i in idx:
            run_batch[str(i)] = {str(j): float(sims[i, j]) for j in idx}
    measure = f"RR@{k}"
    rep = evaluate_runs(qrels, {"batch": run_batch, "all": run_all}, (measure,))
    last = len(chosen) % batch_size
    return {
        f"mrr@{k}_batch{batch_size}": rep.systems["batch"][measure],
        f"mrr@{k}_all": rep.systems["all"][measure],
        "queries": len(chosen),
        "batches": -(-len(chosen) // batch_size),
        "last_batch_size": last or batch_size,
    }
