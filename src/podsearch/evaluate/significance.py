"""Paired significance of a difference between two systems on the same queries.

A paired randomisation (permutation) test: under the null hypothesis the two systems are
exchangeable on each query, so each query's difference keeps or flips its sign at random; the
p-value is the share of sign assignments whose mean difference is at least as far from zero as
the observed one (two-sided). A paired bootstrap gives a 95% interval of the mean difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def paired_test(
    a: Sequence[float], b: Sequence[float], *, rounds: int = 10000, seed: int = 0
) -> dict[str, Any]:
    """``b`` minus ``a`` per query: mean, 95% bootstrap interval, randomisation p-value,
    and how many queries each side wins."""
    x = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if len(a) != len(b):
        raise ValueError("paired samples differ in length")
    n = len(x)
    if n == 0:
        return {"n": 0, "diff": 0.0, "ci95": [0.0, 0.0], "p": 1.0, "wins": 0, "losses": 0}
    rng = np.random.default_rng(seed)
    observed = abs(x.mean())
    signs = rng.choice(np.array([-1.0, 1.0]), size=(rounds, n))
    null = np.abs((signs * x).mean(axis=1))
    # +1 on both sides: the observed assignment is one of the possible ones (never p = 0).
    p = (np.count_nonzero(null >= observed - 1e-12) + 1) / (rounds + 1)
    boot = x[rng.integers(0, n, size=(rounds, n))].mean(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {
        "n": n,
        "diff": float(x.mean()),
        "ci95": [float(lo), float(hi)],
        "p": float(p),
        "wins": int(np.count_nonzero(x > 0)),
        "losses": int(np.count_nonzero(x < 0)),
    }


def compare_per_query(
    per_query: Mapping[str, Mapping[str, Mapping[str, float]]],
    a: str,
    b: str,
    measures: Sequence[str],
    *,
    rounds: int = 10000,
) -> dict[str, dict[str, Any]]:
    """``paired_test`` of system ``b`` against ``a`` for each measure, over the queries both
    were scored on (``per_query``: ``{system: {qid: {measure: value}}}``, as EvalReport)."""
    qids = sorted(set(per_query[a]) & set(per_query[b]))
    return {
        m: paired_test(
            [per_query[a][q][m] for q in qids], [per_query[b][q][m] for q in qids], rounds=rounds
        )
        for m in measures
    }
