"""Facet counts for one query: what "Swedish (10)" next to a filter means.

The matching set of a query is the ranked candidate pool the search already looked at:

- keyword mode: the episodes holding at least one query word (BM25 > 0), best first;
- dense and hybrid: every episode "matches" somewhat, so the matching set is the fused ranking
  of the candidates (dense top ``depth`` by cosine plus, in hybrid, keyword top ``depth``).

When no retriever was cut off at its depth, that pool is every match (``total_exact``: a dense
search under a filter that leaves fewer episodes than the depth, or a keyword query with few
matches); otherwise the set is the first ``max(depth, offset + k)`` of the ranking (``depth``
is ``FusionSettings.depth``, 100) and the total reads "N or more".

Why this set: filters are applied inside each retriever, before its cut-off, so the filtered
candidates of a search are a superset of its unfiltered candidates that pass the filter. A
count of c for a value therefore promises at least c results after choosing that value, and the
counts for the next filter are taken over that filtered search: "Swedish (10)" then "Cricket
(5)" never lands on an empty page. The counts come from the episodes the search already fetched
from the catalog store (``get_many``), so they cost no extra store query in hybrid mode and
one deeper retrieval + fetch in keyword and dense modes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from podsearch.models import Episode, QueryFacets

MAX_SHOWS = 20  # shows listed per query, largest first


def count_facets(episodes: Iterable[Episode], max_shows: int = MAX_SHOWS) -> QueryFacets:
    """Languages, categories (case-insensitive, first spelling kept) and shows, largest first
    (ties by name)."""
    langs: Counter[str] = Counter()
    cats: Counter[str] = Counter()
    cat_names: dict[str, str] = {}
    shows: Counter[str] = Counter()
    show_titles: dict[str, str] = {}
    for ep in episodes:
        if ep.language:
            langs[ep.language] += 1
        for c in dict.fromkeys(c.casefold() for c in ep.categories if c):
            cats[c] += 1
        for c in ep.categories:
            cat_names.setdefault(c.casefold(), c)
        shows[ep.show_id] += 1
        show_titles.setdefault(ep.show_id, ep.show_title)

    def order(counter: Counter[str], name: dict[str, str] | None = None) -> list[tuple[str, int]]:
        items = [((name or {}).get(v, v), n) for v, n in counter.items()]
        return sorted(items, key=lambda x: (-x[1], x[0].casefold()))

    top_shows = sorted(shows.items(), key=lambda x: (-x[1], show_titles[x[0]].casefold(), x[0]))
    return QueryFacets(
        languages=tuple(order(langs)),
        categories=tuple(order(cats, cat_names)),
        shows=tuple((sid, show_titles[sid], n) for sid, n in top_shows[:max_shows]),
    )
