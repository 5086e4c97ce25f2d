"""What the search benchmark reads back from a built index: the stored vectors and episode
fields, filters of a chosen selectivity, and exact (brute-force) top-k to measure recall."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from podsearch import Filters, Podsearch

K = 10
NO_TS = np.iinfo(np.int64).min  # pub_ts of an episode without a date


@dataclass
class CorpusArrays:
    """Every indexed episode, in id order, as arrays both engines are fed from."""

    ids: list[str]
    vecs: np.ndarray  # (n, dim) float32: the vectors stored in podsearch's FAISS index
    language: np.ndarray  # object array of ISO codes ("" when unknown)
    show_id: np.ndarray
    pub_ts: np.ndarray  # int64 seconds since the epoch, NO_TS when unknown
    title: list[str]
    text: list[str]  # Episode.text: what podsearch embeds and keyword-indexes


def corpus_arrays(ps: Podsearch) -> CorpusArrays:
    vi = ps.vector_index()
    ids = sorted(vi.ids())
    got = vi.get_vectors(ids)
    vecs = np.stack([got[i] for i in ids]).astype(np.float32)
    eps: dict[str, Any] = {}
    for s in range(0, len(ids), 500):
        eps.update(ps.store.get_many(ids[s : s + 500]))
    missing = [i for i in ids if i not in eps]
    if missing:
        raise RuntimeError(f"{len(missing)} indexed ids are not in the store, e.g. {missing[:3]}")
    e = [eps[i] for i in ids]
    return CorpusArrays(
        ids=ids,
        vecs=vecs,
        language=np.array([x.language or "" for x in e], dtype=object),
        show_id=np.array([x.show_id for x in e], dtype=object),
        pub_ts=np.array(
            [int(x.pub_date.timestamp()) if x.pub_date else NO_TS for x in e], dtype=np.int64
        ),
        title=[x.title for x in e],
        text=[x.text for x in e],
    )


@dataclass
class BenchFilter:
    """One filter expressed for both engines, with the rows it keeps."""

    name: str
    description: str
    filters: Filters  # podsearch
    lance_where: str  # LanceDB SQL predicate
    mask: np.ndarray  # rows of CorpusArrays it keeps

    def to_dict(self, n: int) -> dict[str, Any]:
        kept = int(self.mask.sum())
        return {
            "description": self.description,
            "lance_where": self.lance_where,
            "kept": kept,
            "fraction": round(kept / n, 4),
        }


def choose_filter(ca: CorpusArrays, target: float, name: str) -> BenchFilter:
    """A language filter keeping about ``target`` of the episodes (within a factor 1.6), else
    a publication-date window around the median date holding that fraction."""
    n = len(ca.ids)
    langs, counts = np.unique(ca.language.astype(str), return_counts=True)
    best: tuple[float, str, int] | None = None
    for lang, c in zip(langs, counts, strict=True):
        if not lang:
            continue
        err = float(abs(np.log((c / n) / target)))
        if best is None or err < best[0]:
            best = (err, str(lang), int(c))
    if best is not None and best[0] <= np.log(1.6) and best[2] >= K:
        lang = best[1]
        return BenchFilter(
            name,
            f"language = {lang}",
            Filters(languages=(lang,)),
            f"language = '{lang}'",
            ca.language == lang,
        )
    dated = np.sort(ca.pub_ts[ca.pub_ts != NO_TS])
    want = max(K, int(round(target * n)))
    mid = len(dated) // 2
    lo_i, hi_i = max(0, mid - want // 2), min(len(dated) - 1, mid + want - want // 2 - 1)
    lo, hi = int(dated[lo_i]), int(dated[hi_i])
    d0, d1 = datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC)
    return BenchFilter(
        name,
        f"pub_date in [{d0.isoformat()}, {d1.isoformat()}]",
        Filters(date_from=d0, date_to=d1),
        f"pub_ts >= {lo} AND pub_ts <= {hi}",
        (ca.pub_ts >= lo) & (ca.pub_ts <= hi),
    )


def exact_topk(q: np.ndarray, ca: CorpusArrays, mask: np.ndarray | None, k: int) -> list[list[str]]:
    """Brute-force cosine top-k (all vectors are unit length) over the allowed rows."""
    rows = np.arange(len(ca.ids)) if mask is None else np.flatnonzero(mask)
    sims = q @ ca.vecs[rows].T
    out = []
    for row in sims:
        kk = min(k, len(row))
        top = np.argpartition(-row, kk - 1)[:kk]
        top = top[np.argsort(-row[top], kind="stable")]
        out.append([ca.ids[rows[t]] for t in top])
    return out


def recall_at(results: Sequence[Sequence[str]], truth: Sequence[Sequence[str]], k: int) -> float:
    """Mean fraction of the exact top-k found in the returned top-k."""
    vals = []
    for got, exp in zip(results, truth, strict=True):
        exp_k = set(exp[:k])
        if exp_k:
            vals.append(len(set(list(got)[:k]) & exp_k) / len(exp_k))
    return round(float(np.mean(vals)), 4) if vals else float("nan")
