"""Listener profiles from history vectors: recency weights, a mean profile, interests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from podsearch.recommend.history import HistoryItem

DAY_S = 86_400.0
# Interests whose centroids are closer than this are one interest (cosine; tuned on me5-small,
# where episodes of one show sit at ~0.9 and unrelated topics at ~0.75).
MERGE_ABOVE = 0.9


@dataclass(frozen=True, slots=True)
class Interest:
    """One cluster of a listening history: its query vector and share of the history."""

    vector: np.ndarray
    weight: float  # sum of the members' recency weights
    members: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"weight": round(self.weight, 6), "size": len(self.members),
                "episode_ids": list(self.members)}  # fmt: skip


def recency_weights(
    items: Sequence[HistoryItem], half_life_days: float | None, now: datetime | None = None
) -> np.ndarray:
    """``weight * 0.5 ** (age / half_life)``; age counts from ``now`` or else the newest
    timestamp in the history; items without a timestamp count as newest."""
    w = np.array([max(it.weight, 0.0) for it in items], dtype=np.float64)
    stamps = [it.timestamp for it in items]
    if not half_life_days or all(t is None for t in stamps):
        return w
    ref = now or max(t for t in stamps if t is not None)
    ages = np.array([max((ref - t).total_seconds(), 0.0) / DAY_S if t else 0.0 for t in stamps])
    return w * np.power(0.5, ages / half_life_days)


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 1e-9 else None


def mean_profile(
    liked: np.ndarray,
    liked_w: np.ndarray,
    skipped: np.ndarray,
    skipped_w: np.ndarray,
    skip_penalty: float = 0.5,
) -> np.ndarray:
    """Unit vector of the weighted listened mean minus ``skip_penalty`` x the skipped mean."""
    pos = _weighted_mean(liked, liked_w)
    prof = pos
    if len(skipped) and skip_penalty > 0 and skipped_w.sum() > 0:
        prof = pos - skip_penalty * _weighted_mean(skipped, skipped_w)
    out = _unit(prof)
    if out is None:  # the skips cancel the listens exactly: fall back to the listens
        out = _unit(pos)
    return out if out is not None else liked[0].astype(np.float32)


def _weighted_mean(vecs: np.ndarray, w: np.ndarray) -> np.ndarray:
    total = float(w.sum())
    if total <= 0:
        return vecs.mean(axis=0)
    return (vecs * w[:, None]).sum(axis=0) / total


def cluster_history(
    vecs: np.ndarray,
    *,
    max_interests: int = 5,
    min_silhouette: float = 0.1,
    merge_above: float = MERGE_ABOVE,
) -> np.ndarray:
    """Cluster labels for history vectors (unit rows): average-linkage agglomerative on
    cosine distance, k chosen by silhouette in 2..max_interests among the splits whose
    centroids all have cosine < ``merge_above`` (silhouette is scale-free and would split
    one tight topic); one cluster when no k qualifies. Deterministic."""
    n = len(vecs)
    if n <= 1 or max_interests <= 1:
        return np.zeros(n, dtype=np.int64)
    if n <= 3:
        return _small_history_labels(vecs, merge_above)
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    best_labels, best_score = np.zeros(n, dtype=np.int64), min_silhouette
    for k in range(2, min(max_interests, n - 1) + 1):
        labels = AgglomerativeClustering(
            n_clusters=k, metric="cosine", linkage="average"
        ).fit_predict(vecs)
        if len(set(labels.tolist())) < 2 or _too_close(vecs, labels, merge_above):
            continue
        score = float(silhouette_score(vecs, labels, metric="cosine"))
        if score > best_score + 1e-9:
            best_labels, best_score = labels.astype(np.int64), score
    return best_labels


def _too_close(vecs: np.ndarray, labels: np.ndarray, merge_above: float) -> bool:
    cents = np.stack([vecs[labels == c].mean(axis=0) for c in np.unique(labels)])
    cents /= np.linalg.norm(cents, axis=1, keepdims=True)
    sims = cents @ cents.T
    return bool((sims[~np.eye(len(cents), dtype=bool)] >= merge_above).any())


def _small_history_labels(vecs: np.ndarray, merge_above: float) -> np.ndarray:
    # Too few points for a silhouette: episodes are one interest when close in absolute terms.
    sims = vecs @ vecs.T
    labels = np.arange(len(vecs), dtype=np.int64)
    for i in range(len(vecs)):
        for j in range(i + 1, len(vecs)):
            if sims[i, j] >= merge_above:
                labels[labels == labels[j]] = labels[i]
    _, relabelled = np.unique(labels, return_inverse=True)
    return relabelled.astype(np.int64)


def interests(
    ids: Sequence[str],
    vecs: np.ndarray,
    w: np.ndarray,
    skipped: np.ndarray,
    skipped_w: np.ndarray,
    *,
    max_interests: int = 5,
    skip_penalty: float = 0.5,
) -> list[Interest]:
    """The history's interests, largest first; each skipped episode pushes away only the
    interest it is nearest to."""
    labels = cluster_history(vecs, max_interests=max_interests)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    cents = np.stack([_centroid(vecs[g], w[g]) for g in groups])
    owner = np.argmax(skipped @ cents.T, axis=1) if len(skipped) else np.zeros(0, dtype=int)
    out = []
    for c, g in enumerate(groups):
        mine = owner == c
        vec = mean_profile(vecs[g], w[g], skipped[mine], skipped_w[mine], skip_penalty)
        out.append(Interest(vec, float(w[g].sum()), tuple(ids[int(i)] for i in g)))
    out.sort(key=lambda it: (-it.weight, -len(it.members), it.members))
    return out


def _centroid(vecs: np.ndarray, w: np.ndarray) -> np.ndarray:
    c = _unit(_weighted_mean(vecs, w))
    return c if c is not None else vecs[0]


def weighted_round_robin(weights: Sequence[float], n: int) -> list[int]:
    """``n`` picks of list indices in proportion to ``weights``, evenly spread
    (smooth weighted round robin, as in nginx); deterministic."""
    w = np.asarray([max(x, 0.0) for x in weights], dtype=np.float64)
    if not len(w):
        return []
    if w.sum() <= 0:
        w = np.ones_like(w)
    cur = np.zeros_like(w)
    total = float(w.sum())
    out = []
    for _ in range(n):
        cur += w
        i = int(np.argmax(cur))
        cur[i] -= total
        out.append(i)
    return out
