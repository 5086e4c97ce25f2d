"""When a result is a "no close match": the rule behind ``SearchResult.weak``.

Measured on the 19k-episode Listen Notes index (me5-small; 172 curated real queries, 25 nonsense
ones such as ``asdfgh qwerty zxcvb``; bench/results/confidence.md):

- The best hit's raw cosine does not separate them: nonsense scores *higher* (median 0.861 vs
  0.856 for real queries) because it lands on hub episodes. No cosine floor works.
- The dense peak, best cosine minus the mean of the top 50, separates them only loosely
  (best threshold flags 23% of real queries).
- Evidence in words does: the share of the query's words (3+ letters) that occur anywhere in the
  catalog is >= 0.72 for 95% of real queries (none under 0.5), and 0 for 20 of 25 nonsense ones.

Rule: a dense or hybrid result is weak when fewer than half of its words occur in the catalog
*and* its dense peak is under 0.03 (a sharp dense match, e.g. a query in a language the catalog
does not hold, is not called weak); 0 of 172 real and 19 of 25 nonsense queries are weak. A
keyword result is weak when it needed typo tolerance or fewer than half its words occur.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

WORD_SHARE_FLOOR = 0.5
DENSE_PEAK_FLOOR = 0.03
PEAK_DEPTH = 50
_WORD = re.compile(r"\w{3,}")


def query_words(query: str) -> list[str]:
    """The words whose presence in the catalog counts as evidence (3+ letters, once each)."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))


def dense_peak(dense: Sequence[tuple[str, float]]) -> float | None:
    """Best cosine minus the mean of the best ``PEAK_DEPTH``; None without candidates."""
    top = [s for _, s in dense[:PEAK_DEPTH]]
    return top[0] - sum(top) / len(top) if top else None


def is_weak(
    mode: str,
    dense: Sequence[tuple[str, float]],
    fuzzy: bool,
    word_share: Callable[[], float],
) -> bool:
    """Whether a result is a "no close match" (see the module docstring); ``dense`` holds raw
    cosines best first, ``word_share`` gives the share of query words found in the catalog
    (called only when needed: one ``KeywordIndex.present_words`` call for the words not
    cached for the index generation)."""
    if mode == "keyword":
        return fuzzy or word_share() < WORD_SHARE_FLOOR
    peak = dense_peak(dense)
    if peak is not None and peak >= DENSE_PEAK_FLOOR:
        return False
    return word_share() < WORD_SHARE_FLOOR
