""" "More like this" and listener recommendations over the VectorIndex Protocol.

Both answer with the search layer's ``SearchResult`` / ``Hit`` types, so every edge (CLI, HTTP,
web page) renders them like search results. Scores are cosines: to the episode for
``similar``, to the listener profile (``mean``) or to the hit's own interest
(``multi-interest``, where rank follows the interleaving, not the score).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import numpy as np

from podsearch.errors import IndexStateError, NotFoundError, QueryError
from podsearch.index.base import VectorIndex
from podsearch.models import Episode, Filters, Hit, SearchResult
from podsearch.recommend.history import HistoryItem, as_history
from podsearch.recommend.profile import (
    Interest,
    interests,
    mean_profile,
    recency_weights,
    weighted_round_robin,
)
from podsearch.search.searcher import check_page, make_hit

STRATEGIES: tuple[str, ...] = ("multi-interest", "mean")
MAX_INTERESTS = 20
_MIN_DEPTH = 50


@dataclass(frozen=True, slots=True)
class Recommendations:
    """A page of recommended episodes plus how the history was read."""

    result: SearchResult
    strategy: str
    unknown_ids: tuple[str, ...] = ()  # history ids the index does not know (ignored)
    interests: tuple[Interest, ...] = ()
    interest_of: dict[str, int] = field(default_factory=dict)  # hit id -> interest index

    @property
    def hits(self) -> tuple[Hit, ...]:
        return self.result.hits

    def to_dict(self) -> dict[str, Any]:
        body = self.result.to_dict()
        hits = cast(list[dict[str, Any]], body["hits"])
        for h in hits:
            h["interest"] = self.interest_of.get(h["episode_id"])
        body["strategy"] = self.strategy
        body["unknown_ids"] = list(self.unknown_ids)
        body["interests"] = [it.to_dict() for it in self.interests]
        return body


class Recommender:
    """Nearest-neighbour recommendations from stored episode vectors (no model needed)."""

    def __init__(
        self,
        *,
        vectors: Callable[[], VectorIndex],
        lookup: Callable[[Sequence[str]], dict[str, Episode]],
    ) -> None:
        self._vectors = vectors
        self._lookup = lookup

    # -- more like this -------------------------------------------------------------------
    def similar(
        self,
        episode_id: str,
        *,
        k: int = 10,
        offset: int = 0,
        exclude_same_show: bool = False,
        per_show: int | None = None,
        filters: Filters | None = None,
    ) -> SearchResult:
        """The episodes nearest to ``episode_id``'s vector, itself excluded."""
        check_page(k, offset, "dense")
        _check_per_show(per_show)
        vi = self._vectors()
        t0 = time.perf_counter()
        src = self._lookup([episode_id]).get(episode_id)
        vec = vi.get_vectors([episode_id]).get(episode_id)
        if src is None:
            raise NotFoundError(f"no episode with id {episode_id!r} in the index")
        if vec is None:
            raise IndexStateError(
                f"episode {episode_id!r} has no vector yet: run podsearch index to encode it"
            )
        picked = self._select(
            vi,
            vec,
            offset + k,
            exclude_ids={episode_id},
            exclude_shows={src.show_id} if exclude_same_show else set(),
            per_show=per_show,
            filters=filters,
        )
        hits = _hits(picked[offset:], offset, src.title)
        timings = {"similar_ms": (time.perf_counter() - t0) * 1000}
        return SearchResult(episode_id, "similar", k, offset, tuple(hits), timings)

    # -- listener profile -----------------------------------------------------------------
    def recommend(
        self,
        history: Iterable[HistoryItem | str | Mapping[str, Any]],
        *,
        k: int = 10,
        offset: int = 0,
        strategy: str = "multi-interest",
        half_life_days: float | None = 30.0,
        now: datetime | None = None,
        skip_penalty: float = 0.5,
        max_interests: int = 5,
        per_show: int | None = None,
        filters: Filters | None = None,
    ) -> Recommendations:
        """Unheard episodes for a listener (see ``Podsearch.recommend``)."""
        check_page(k, offset, "dense")
        _check_per_show(per_show)
        if strategy not in STRATEGIES:
            raise QueryError(f"unknown strategy {strategy!r}; use one of: {', '.join(STRATEGIES)}")
        if half_life_days is not None and not half_life_days > 0:
            raise QueryError(f"half_life_days must be > 0 (or None), got {half_life_days!r}")
        if not 1 <= max_interests <= MAX_INTERESTS:
            raise QueryError(f"max_interests must be between 1 and {MAX_INTERESTS}")
        if not 0 <= skip_penalty <= 1:
            raise QueryError(f"skip_penalty must be between 0 and 1, got {skip_penalty!r}")
        items = as_history(history)
        if not items:
            raise QueryError(
                "the listening history is empty: give at least one listened episode id"
            )
        vi = self._vectors()
        t0 = time.perf_counter()
        ids = list(dict.fromkeys(it.episode_id for it in items))
        found = vi.get_vectors(ids)
        unknown = tuple(i for i in ids if i not in found)
        known = [it for it in items if it.episode_id in found]
        liked = [it for it in known if not it.skipped]
        if not liked:
            shown = ", ".join(repr(i) for i in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            what = "none of the listened episodes" if known else "none of the history's episodes"
            raise NotFoundError(
                f"{what} are in the index (unknown: {shown or 'none'}); check the ids "
                "with podsearch search or GET /api/episodes/{id}"
            )
        skipped = [it for it in known if it.skipped]
        ref = now or _newest(items)
        w_l = recency_weights(liked, half_life_days, ref)
        w_s = recency_weights(skipped, half_life_days, ref)
        v_l = np.stack([found[it.episode_id] for it in liked])
        v_s = (
            np.stack([found[it.episode_id] for it in skipped])
            if skipped
            else np.zeros((0, vi.dim), dtype=np.float32)
        )
        heard = set(ids)  # listened, skipped and unknown ids are never recommended
        need = offset + k
        if strategy == "mean":
            prof = mean_profile(v_l, w_l, v_s, w_s, skip_penalty)
            groups = [Interest(prof, float(w_l.sum()), tuple(it.episode_id for it in liked))]
        else:
            groups = interests(
                [it.episode_id for it in liked], v_l, w_l, v_s, w_s,
                max_interests=max_interests, skip_penalty=skip_penalty,
            )  # fmt: skip
        lists = [
            self._select(vi, g.vector, need, exclude_ids=heard, exclude_shows=set(),
                         per_show=per_show, filters=filters)
            for g in groups
        ]  # fmt: skip
        picked, origin = _interleave(lists, [g.weight for g in groups], need, per_show)
        hits = _hits(picked[offset:], offset, "")
        interest_of = {ep.episode_id: origin[ep.episode_id] for ep, _ in picked[offset:]}
        result = SearchResult(
            f"history of {len(items)} episodes",
            "recommend",
            k,
            offset,
            tuple(hits),
            {"recommend_ms": (time.perf_counter() - t0) * 1000},
        )
        return Recommendations(result, strategy, unknown, tuple(groups), interest_of)

    # -- shared ---------------------------------------------------------------------------
    def _select(
        self,
        vi: VectorIndex,
        vec: np.ndarray,
        need: int,
        *,
        exclude_ids: set[str],
        exclude_shows: set[str],
        per_show: int | None,
        filters: Filters | None,
    ) -> list[tuple[Episode, float]]:
        """The best ``need`` episodes by cosine that pass the exclusions and the per-show cap;
        the search deepens (x4) until it has them or has seen the whole index."""
        total = len(vi)
        depth = min(max(_MIN_DEPTH, 2 * need + len(exclude_ids)), total)
        q = np.asarray(vec, dtype=np.float32)[None, :]
        while True:
            run = vi.search(q, depth, filters)[0]
            eps = self._lookup([i for i, _ in run if i not in exclude_ids])
            picked: list[tuple[Episode, float]] = []
            per: Counter[str] = Counter()
            for doc_id, score in run:
                ep = eps.get(doc_id)
                if ep is None or doc_id in exclude_ids or ep.show_id in exclude_shows:
                    continue
                if per_show is not None and per[ep.show_id] >= per_show:
                    continue
                per[ep.show_id] += 1
                picked.append((ep, score))
                if len(picked) >= need:
                    return picked
            if depth >= total or len(run) < depth:
                return picked
            depth = min(depth * 4, total)


def _interleave(
    lists: list[list[tuple[Episode, float]]],
    weights: list[float],
    need: int,
    per_show: int | None,
) -> tuple[list[tuple[Episode, float]], dict[str, int]]:
    """Merge ranked lists by ``weighted_round_robin``, skipping duplicates and capped shows.

    Each turn takes the next usable episode of the list whose turn it is; a list that has none
    left drops out, and the remaining lists share the remaining turns by their weights.
    """
    pos = [0] * len(lists)
    live = list(range(len(lists)))
    out: list[tuple[Episode, float]] = []
    origin: dict[str, int] = {}
    per: Counter[str] = Counter()
    while len(out) < need and live:
        # Every turn yields an episode or retires a list, so this plan covers the rest.
        for turn in weighted_round_robin([weights[i] for i in live], need - len(out)):
            i = live[turn]
            picked = _next_usable(lists[i], pos, i, origin, per, per_show)
            if picked is None:
                live.remove(i)
                break  # re-plan over the lists that are left
            origin[picked[0].episode_id] = i
            per[picked[0].show_id] += 1
            out.append(picked)
    return out, origin


def _next_usable(
    ranked: list[tuple[Episode, float]],
    pos: list[int],
    i: int,
    taken: dict[str, int],
    per: Counter[str],
    per_show: int | None,
) -> tuple[Episode, float] | None:
    while pos[i] < len(ranked):
        ep, score = ranked[pos[i]]
        pos[i] += 1
        if ep.episode_id in taken or (per_show is not None and per[ep.show_id] >= per_show):
            continue
        return ep, score
    return None


def _hits(picked: list[tuple[Episode, float]], offset: int, about: str) -> list[Hit]:
    return [make_hit(ep, about, score, n) for n, (ep, score) in enumerate(picked, start=offset + 1)]


def _check_per_show(per_show: int | None) -> None:
    if per_show is not None and (not isinstance(per_show, int) or per_show < 1):
        raise QueryError(f"per_show must be a whole number >= 1 (or unset), got {per_show!r}")


def _newest(items: Sequence[HistoryItem]) -> datetime | None:
    stamps = [it.timestamp for it in items if it.timestamp is not None]
    return max(stamps) if stamps else None
