"""Offline evaluation of recommendations with the signals a catalog offers: shows and
categories.

(i) Neighbour agreement: for sampled episodes, how many of the 10 nearest share the show or a
category (also with the episode's own show excluded), against random episodes.
(ii) Leave-one-out on synthetic listeners: histories drawn from one show, from two shows of
unrelated categories, from three shows of one category (held out: another episode of one of
them), or one episode each of six shows of a category ("category-explore": the held-out
episode's show is new to the listener, so no content signal can single out the episode and
category precision is the measure that means something); each system recommends 10.
Hit rate@10 and MRR@10 come from ir-measures (``Success@10``, ``RR@10``); catalog coverage,
intra-list diversity and category precision are computed here.
Seeded and deterministic.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from podsearch.errors import IndexStateError
from podsearch.models import Episode, Filters

if TYPE_CHECKING:
    from podsearch.engine import Podsearch

KINDS: tuple[str, ...] = ("one-show", "two-shows", "one-category", "category-explore")
SYSTEMS: tuple[str, ...] = ("multi-interest", "mean", "popularity", "random")


@dataclass(frozen=True, slots=True)
class RecommendReport:
    """Neighbour agreement and leave-one-out metrics per history kind and system."""

    k: int
    seed: int
    catalog_size: int
    neighbours: dict[str, dict[str, float]]  # system -> metric
    histories: dict[str, dict[str, dict[str, float]]]  # kind -> system -> metric
    n_histories: dict[str, int]  # kind -> count
    timings_ms: dict[str, float] = field(default_factory=dict)
    id_prefix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "seed": self.seed,
            "id_prefix": self.id_prefix,
            "catalog_size": self.catalog_size,
            "neighbours": self.neighbours,
            "histories": self.histories,
            "n_histories": self.n_histories,
            "timings_ms": self.timings_ms,
        }

    def to_markdown(self) -> str:
        k = self.k
        scope = f"episodes with ids starting {self.id_prefix!r}" if self.id_prefix else "episodes"
        out = [
            f"**Neighbour agreement** ({self.catalog_size} {scope}; share of the {k} nearest)",
            "",
            _table(self.neighbours),
            "",
        ]
        for kind, systems in self.histories.items():
            out += [
                f"**Leave-one-out, {kind} histories** ({self.n_histories.get(kind, 0)} "
                f"listeners, top {k})",
                "",
                _table(systems),
                "",
            ]
        return "\n".join(out).rstrip() + "\n"


def _table(rows: dict[str, dict[str, float]]) -> str:
    cols = list(dict.fromkeys(c for r in rows.values() for c in r))
    lines = ["| system | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, vals in rows.items():
        cells = [f"{vals[c]:.3f}" if c in vals else "" for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class _Listener:
    kind: str
    history: tuple[str, ...]
    held_out: str
    shows: tuple[str, ...]


def evaluate_recommendations(
    engine: Podsearch,
    *,
    n_histories: int = 300,
    n_neighbours: int = 500,
    k: int = 10,
    id_prefix: str = "",
    seed: int = 0,
) -> RecommendReport:
    """Evaluate ``similar`` and ``recommend`` on ``engine``'s indexed episodes (those whose
    id starts with ``id_prefix``; recommendations are restricted to their shows).
    ``n_histories`` synthetic listeners are split evenly over the history kinds."""
    catalog = _catalog(engine, id_prefix)
    if len(catalog) < 20:
        raise IndexStateError(
            f"only {len(catalog)} indexed episodes match {id_prefix!r}: evaluating "
            "recommendations needs at least 20"
        )
    ids = sorted(catalog)
    vecs = engine.vector_index().get_vectors(ids)
    shows: dict[str, list[str]] = defaultdict(list)
    for i in ids:
        shows[catalog[i].show_id].append(i)
    flt = Filters(show_ids=tuple(sorted(shows))) if id_prefix else None
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    neighbours = _neighbour_agreement(engine, catalog, ids, n_neighbours, k, flt, rng)
    t_nb = time.perf_counter() - t0
    listeners = _listeners(catalog, shows, n_histories, rng)
    listens = Counter(i for lis in listeners for i in lis.history)
    popular = sorted(ids, key=lambda i: (-listens[i], -len(shows[catalog[i].show_id]), i))
    histories: dict[str, dict[str, dict[str, float]]] = {}
    n_kind: dict[str, int] = {}
    call_ms: list[float] = []
    for kind in KINDS:
        group = [lis for lis in listeners if lis.kind == kind]
        n_kind[kind] = len(group)
        if not group:
            continue
        lists: dict[str, dict[str, list[str]]] = {s: {} for s in SYSTEMS}
        for n, lis in enumerate(group):
            qid = f"{kind}-{n}"
            heard = set(lis.history)
            for strategy in ("multi-interest", "mean"):
                t = time.perf_counter()
                recs = engine.recommend(list(lis.history), k=k, strategy=strategy, filters=flt)
                call_ms.append((time.perf_counter() - t) * 1000)
                lists[strategy][qid] = [h.episode_id for h in recs.hits]
            lists["popularity"][qid] = [i for i in popular[: k + len(heard)] if i not in heard][:k]
            pool = rng.choice(len(ids), size=min(len(ids), k + len(heard)), replace=False)
            lists["random"][qid] = [ids[j] for j in pool if ids[j] not in heard][:k]
        histories[kind] = {
            s: _list_metrics(lists[s], group, kind, catalog, vecs, len(ids), k) for s in SYSTEMS
        }
    timings = {
        "recommend_p50_ms": float(np.median(call_ms)) if call_ms else 0.0,
        "neighbours_total_s": t_nb,
        "total_s": time.perf_counter() - t0,
    }
    return RecommendReport(k, seed, len(ids), neighbours, histories, n_kind, timings, id_prefix)


def _catalog(engine: Podsearch, id_prefix: str) -> dict[str, Episode]:
    indexed = set(engine.vector_index().ids())
    return {
        ep.episode_id: ep
        for ep in engine.store.iter_episodes()
        if ep.episode_id.startswith(id_prefix) and ep.episode_id in indexed and ep.show_id
    }


def _neighbour_agreement(
    engine: Podsearch,
    catalog: dict[str, Episode],
    ids: list[str],
    n: int,
    k: int,
    flt: Filters | None,
    rng: np.random.Generator,
) -> dict[str, dict[str, float]]:
    with_cats = [i for i in ids if catalog[i].categories]
    sample = [with_cats[j] for j in rng.choice(len(with_cats), min(n, len(with_cats)), False)]
    acc: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for i in sample:
        src = catalog[i]
        near = [h.episode_id for h in engine.similar(i, k=k, filters=flt).hits]
        other = [
            h.episode_id for h in engine.similar(i, k=k, exclude_same_show=True, filters=flt).hits
        ]
        rand = [ids[j] for j in rng.choice(len(ids), k + 1, False) if ids[j] != i][:k]
        for name, got in (("nearest", near), ("nearest, other shows", other), ("random", rand)):
            acc[name].append((_share_show(src, got, catalog), _share_cat(src, got, catalog)))
    return {
        name: {
            "same show": float(np.mean([a for a, _ in v])),
            "shared category": float(np.mean([b for _, b in v])),
        }
        for name, v in acc.items()
    }


def _share_show(src: Episode, got: Sequence[str], catalog: dict[str, Episode]) -> float:
    return sum(catalog[g].show_id == src.show_id for g in got) / max(len(got), 1)


def _share_cat(src: Episode, got: Sequence[str], catalog: dict[str, Episode]) -> float:
    cats = {c.lower() for c in src.categories}
    return sum(bool(cats & {c.lower() for c in catalog[g].categories}) for g in got) / max(
        len(got), 1
    )


def _listeners(
    catalog: dict[str, Episode],
    shows: dict[str, list[str]],
    n: int,
    rng: np.random.Generator,
) -> list[_Listener]:
    """Synthetic listeners, n/4 of each kind (fewer where the catalog cannot supply them)."""
    per = max(n // len(KINDS), 1)
    cats = {s: frozenset(c.lower() for c in catalog[eps[0]].categories) for s, eps in shows.items()}
    big = sorted(s for s, eps in shows.items() if len(eps) >= 5)
    mid = sorted(s for s, eps in shows.items() if len(eps) >= 4 and cats[s])
    by_cat: dict[str, list[str]] = defaultdict(list)
    for s in sorted(shows):
        for c in cats[s]:
            by_cat[c].append(s)
    rich_cats = sorted(c for c, ss in by_cat.items() if len(ss) >= 6)
    out: list[_Listener] = []

    def pick(xs: Sequence[str], m: int) -> list[str]:
        return [xs[j] for j in rng.choice(len(xs), m, replace=False)]

    for _ in range(per if big else 0):
        s = big[rng.integers(len(big))]
        eps = pick(shows[s], 5)
        out.append(_Listener("one-show", tuple(eps[:4]), eps[4], (s,)))
    for _ in range(per if len(mid) >= 2 else 0):
        a = mid[rng.integers(len(mid))]
        unrelated = [s for s in mid if not (cats[s] & cats[a])]
        if not unrelated:
            continue
        b = unrelated[rng.integers(len(unrelated))]
        ea, eb = pick(shows[a], 4), pick(shows[b], 4)
        held = ea[3] if rng.random() < 0.5 else eb[3]
        hist = [e for e in ea[:3] + eb[:3]] + [x for x in (ea[3], eb[3]) if x != held]
        out.append(_Listener("two-shows", tuple(hist), held, (a, b)))
    deep = {c: [s for s in ss if len(shows[s]) >= 3] for c, ss in by_cat.items()}
    deep_cats = sorted(c for c, ss in deep.items() if len(ss) >= 3)
    for _ in range(per if deep_cats else 0):
        c = deep_cats[rng.integers(len(deep_cats))]
        chosen = pick(deep[c], 3)
        per_show = [pick(shows[s], 3) for s in chosen]
        j = int(rng.integers(3))
        hist = [e for n, three in enumerate(per_show) for e in three[: 3 if n != j else 2]]
        out.append(_Listener("one-category", tuple(hist), per_show[j][2], tuple(chosen)))
    for _ in range(per if rich_cats else 0):
        c = rich_cats[rng.integers(len(rich_cats))]
        chosen = pick(by_cat[c], 6)
        eps = [pick(shows[s], 1)[0] for s in chosen]
        out.append(_Listener("category-explore", tuple(eps[:5]), eps[5], tuple(chosen)))
    return out


def _list_metrics(
    lists: dict[str, list[str]],
    group: list[_Listener],
    kind: str,
    catalog: dict[str, Episode],
    vecs: dict[str, np.ndarray],
    catalog_size: int,
    k: int,
) -> dict[str, float]:
    from podsearch.evaluate.metrics import evaluate_runs

    qrels = {f"{kind}-{n}": {lis.held_out: 1} for n, lis in enumerate(group)}
    run = {qid: {doc: float(k - r) for r, doc in enumerate(docs)} for qid, docs in lists.items()}
    measures = (f"Success@{k}", f"RR@{k}")
    scores = evaluate_runs(qrels, {"s": run}, measures).systems["s"]
    show_hit, cat_prec, ild, both = [], [], [], []
    for n, lis in enumerate(group):
        docs = lists.get(f"{kind}-{n}", [])
        held = catalog[lis.held_out]
        show_hit.append(float(any(catalog[d].show_id == held.show_id for d in docs)))
        cat_prec.append(_share_cat(held, docs, catalog))
        ild.append(_intra_list_diversity([vecs[d] for d in docs if d in vecs]))
        if kind == "two-shows":
            served = [
                any(_share_cat(catalog[shows_first(lis, s, catalog)], [d], catalog) for d in docs)
                for s in lis.shows
            ]
            both.append(float(all(served)))
    out = {
        f"hit@{k}": scores[f"Success@{k}"],
        f"MRR@{k}": scores[f"RR@{k}"],
        f"show hit@{k}": float(np.mean(show_hit)),
        f"category precision@{k}": float(np.mean(cat_prec)),
        "coverage": len({d for docs in lists.values() for d in docs}) / catalog_size,
        f"diversity (ILD@{k})": float(np.mean(ild)),
    }
    if both:
        out["both interests served"] = float(np.mean(both))
    return out


def shows_first(lis: _Listener, show_id: str, catalog: dict[str, Episode]) -> str:
    """The first history episode of ``show_id`` (stands for that show's categories)."""
    return next(e for e in (*lis.history, lis.held_out) if catalog[e].show_id == show_id)


def _intra_list_diversity(vs: list[np.ndarray]) -> float:
    """Mean pairwise cosine distance within one list."""
    if len(vs) < 2:
        return 0.0
    m = np.stack(vs)
    sims = m @ m.T
    n = len(vs)
    return float((n * n - sims.sum()) / (n * (n - 1)))
