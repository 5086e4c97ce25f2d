"""Hubness correction for dense retrieval (CSLS, Conneau et al. 2018, "Word translation without
parallel data").

In high-dimensional embedding spaces some documents are near *every* query: episodes with
almost no text (a bare title, no show), boilerplate, or short items of the query's own
language. They crowd the top of dense results. CSLS scores a pair by
``2 cos(q, d) - r_q - r_d``, where ``r_d`` is the mean cosine of ``d`` to its k nearest
queries; ranking for one query only needs ``cos(q, d) - r_d / 2``. We estimate ``r_d`` against
a fixed sample of query-like probes (episode titles encoded as queries), so it is computed once
per document at index time.
"""

from __future__ import annotations

import numpy as np


def hub_scores(docs: np.ndarray, probes: np.ndarray, k: int = 10, chunk: int = 4096) -> np.ndarray:
    """Mean cosine of each document to its ``k`` most similar probes (float32, shape (n,))."""
    if len(docs) == 0:
        return np.zeros(0, dtype=np.float32)
    if len(probes) == 0:
        return np.zeros(len(docs), dtype=np.float32)
    k = min(k, len(probes))
    out = np.empty(len(docs), dtype=np.float32)
    for s in range(0, len(docs), chunk):
        sims = docs[s : s + chunk] @ probes.T
        top = np.partition(sims, len(probes) - k, axis=1)[:, -k:]
        out[s : s + chunk] = top.mean(axis=1)
    return out


def pick_probe_texts(titles: list[str], n: int = 2000, seed: int = 0) -> list[str]:
    """A seeded sample of distinct, non-trivial titles to act as query probes."""
    uniq = sorted({t.strip() for t in titles if len(t.strip()) >= 8})
    if len(uniq) <= n:
        return uniq
    rng = np.random.default_rng(seed)
    return [uniq[i] for i in sorted(rng.choice(len(uniq), size=n, replace=False))]
