"""Which episodes get generated queries: every corpus, no near-empty hubs, no bare titles.

A corpus is the episode id's prefix (``ln:``, ``taddy:``, ...). ``stratified_sample`` first
gives each corpus a floor (10% of the sample, or all it has), then shares the rest in
proportion to what each corpus has left, so that a small corpus (a few hundred Spotify
episodes) is not drowned by a large one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from podsearch.models import Episode

MIN_DESCRIPTION_WORDS = 5  # fewer: nothing for a generator to read (bare titles, hubs)
HUB_QUANTILE = 0.99  # episodes above this quantile of hub scores are near every query


def corpus_of(episode_id: str) -> str:
    """``ln:123`` -> ``ln``; an id without a prefix is its own corpus ``""``."""
    head, sep, _ = episode_id.partition(":")
    return head if sep else ""


def has_description(ep: Episode, min_words: int = MIN_DESCRIPTION_WORDS) -> bool:
    """Whether the description has enough words to generate (or learn) from."""
    return len((ep.description or "").split()) >= min_words


def hub_threshold(scores: Mapping[str, float], quantile: float = HUB_QUANTILE) -> float | None:
    """The hub score above which an episode counts as a hub (None without scores)."""
    if not scores:
        return None
    return float(np.quantile(np.fromiter(scores.values(), dtype=np.float64), quantile))


def eligible(
    episodes: Sequence[Episode],
    hub_scores: Mapping[str, float] | None = None,
    *,
    quantile: float = HUB_QUANTILE,
    min_words: int = MIN_DESCRIPTION_WORDS,
) -> tuple[list[Episode], dict[str, int]]:
    """Episodes worth generating for, and how many were skipped for which reason."""
    thr = hub_threshold(hub_scores or {}, quantile)
    kept: list[Episode] = []
    skipped = {"short description": 0, "hub": 0}
    for ep in episodes:
        if not has_description(ep, min_words):
            skipped["short description"] += 1
        elif thr is not None and (hub_scores or {}).get(ep.episode_id, -math.inf) > thr:
            skipped["hub"] += 1
        else:
            kept.append(ep)
    return kept, skipped


def allocate(sizes: Mapping[str, int], n: int, floor_share: float = 0.1) -> dict[str, int]:
    """How many of ``n`` to draw from each group: ``floor_share * n`` (or all of it when
    smaller), plus a share of the rest in proportion to what the group has left; never more
    than it has; sums to ``min(n, total)``."""
    total = sum(sizes.values())
    if n >= total:
        return dict(sizes)
    floor = int(floor_share * n)
    alloc = {g: min(s, floor) for g, s in sizes.items()}
    # Hand out the rest in proportion to what each group has left, largest remainders first.
    while (left := n - sum(alloc.values())) > 0:
        room = {g: sizes[g] - alloc[g] for g in sizes if sizes[g] > alloc[g]}
        spare = sum(room.values())
        shares = {g: left * r / spare for g, r in room.items()}
        add = {g: min(room[g], math.floor(v)) for g, v in shares.items()}
        if not any(add.values()):
            for g in sorted(room, key=lambda g: (-(shares[g] % 1), g))[:left]:
                add[g] = 1
        for g, a in add.items():
            alloc[g] += a
    return alloc


def stratified_sample(
    episodes: Sequence[Episode], n: int, *, seed: int = 0, floor_share: float = 0.1
) -> list[Episode]:
    """``n`` episodes drawn per corpus (see ``allocate``), in a seeded order."""
    from podsearch.querygen.pipeline import sample_order

    groups: dict[str, list[Episode]] = {}
    for ep in episodes:
        groups.setdefault(corpus_of(ep.episode_id), []).append(ep)
    alloc = allocate({g: len(v) for g, v in groups.items()}, n, floor_share)
    chosen: list[Episode] = []
    for g, eps in sorted(groups.items()):
        by_id = {e.episode_id: e for e in eps}
        chosen += [by_id[i] for i in sample_order(list(by_id), seed)[: alloc[g]]]
    return chosen
