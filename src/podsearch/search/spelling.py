"""'Did you mean': the query spelt as the episodes that a fuzzy keyword search found spell it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from podsearch.index.tantivy_index import fuzzy_distance

_WORD = re.compile(r"\w+")


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of two letters is one edit, as tantivy's fuzzy
    terms count it); anything over ``limit`` is returned as ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def did_you_mean(query: str, texts: Iterable[str]) -> str | None:
    """``query`` with each word that none of ``texts`` holds replaced by the commonest word of
    ``texts`` within the fuzzy distance of it; None when nothing changes."""
    vocab = Counter(w for t in texts for w in _WORD.findall(t.lower()))
    changed = False

    def fix(m: re.Match[str]) -> str:
        nonlocal changed
        word = m.group(0)
        low = word.lower()
        limit = fuzzy_distance(low)
        if not limit or low in vocab:
            return word
        near = [(n, w) for w, n in vocab.items() if edit_distance(low, w, limit) <= limit]
        if not near:
            return word
        changed = True
        return max(near)[1]

    fixed = _WORD.sub(fix, query)
    return fixed if changed else None
