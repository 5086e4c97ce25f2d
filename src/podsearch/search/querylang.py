"""Query classes for fusion: is this query cross-lingual?

Hybrid search adds a keyword score to the dense one. That helps when the query and its target
share words, and hurts when they cannot: a query typed in one language for an episode in
another. Keyword candidates in the query's language then crowd the right episode out of the
top results (measured in bench/results/quality_bench.md: on cross-lingual queries fusion with a
fixed keyword weight ranked targets lower than dense search alone). So hybrid search asks two
cheap questions per query:

* which language is the query in? py3langid, restricted to the languages of the catalog (plus
  English), since short queries are easily mistaken for a related language;
* which language are its nearest episodes in? the dense candidates already carry it.

A query whose nearest episode (after hubness correction) is in another language than its own
is *cross-lingual*: fusion leans on the dense retriever for it. (Of the rules measured, "most of
the 10 nearest" caught 10 of 77 cross-lingual curated queries, since most catalogs are mostly
one language; "the nearest" caught 47 with no false alarm; "any of the 10" caught 70 but also
20 of 95 same-language ones.) A detection below ``min_confidence`` says nothing,
and the query keeps the default weights.
"""

from __future__ import annotations

import copy
import functools
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

CROSS_LINGUAL = "cross-lingual"
SAME_LANGUAGE = "same-language"
TITLE = "title"
QUERY_CLASSES = (SAME_LANGUAGE, CROSS_LINGUAL, TITLE)
RULES = ("majority", "top1", "any")
_NON_WORD = re.compile(r"[^\w]+")


class QueryClassifier:
    """Detects a query's language among ``languages`` and classifies the query against the
    languages of its nearest episodes."""

    def __init__(
        self,
        languages: Iterable[str],
        *,
        min_confidence: float = 0.5,
        neighbours: int = 10,
        rule: str = "top1",
    ) -> None:
        """``rule``: a query is cross-lingual when ``majority``: most of its ``neighbours``
        nearest episodes are in one other language; ``top1``: the nearest one is in another
        language; ``any``: any of the ``neighbours`` nearest is."""
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; use one of {RULES}")
        self.rule = rule
        self.languages = tuple(sorted({x for x in languages if x} | {"en"}))
        self.min_confidence = min_confidence
        self.neighbours = neighbours
        self._identifier: Any = None
        self._lock = threading.Lock()
        self._cache = functools.lru_cache(maxsize=4096)(self._detect)

    def _ident(self) -> Any:
        if self._identifier is None:
            with self._lock:
                if self._identifier is None:
                    from podsearch.catalog.clean import _language_identifier

                    # A shallow copy of the catalog's identifier: set_languages rebinds its
                    # arrays, so the copy is restricted and the shared one is not, and the
                    # model (0.3 s to unpickle) is read once per process.
                    ident = copy.copy(_language_identifier())
                    known = set(ident.nb_classes)
                    ident.set_languages([x for x in self.languages if x in known] or ["en"])
                    self._identifier = ident
        return self._identifier

    def _detect(self, query: str) -> tuple[str, float]:
        ident = self._ident()
        with self._lock:  # py3langid promises no thread safety; classify is cheap
            lang, p = ident.classify(query)
        return str(lang), float(p)

    def language(self, query: str) -> tuple[str, float]:
        """(ISO 639-1 code, probability) of the query among the catalog's languages."""
        return self._cache(query)

    def classify(self, query: str, nearest: Sequence[tuple[str, str]]) -> str:
        """``cross-lingual`` when the query's language is known with confidence and its
        ``nearest`` (episode id, language) pairs are in another language, by ``rule``."""
        lang, p = self.language(query)
        if p < self.min_confidence:
            return SAME_LANGUAGE
        langs = [x for _, x in nearest[: self.neighbours] if x]
        if not langs:
            return SAME_LANGUAGE
        if self.rule == "top1":
            other = langs[0] != lang
        elif self.rule == "any":
            other = any(x != lang for x in langs)
        else:
            top, count = Counter(langs).most_common(1)[0]
            other = top != lang and count * 2 > len(langs)
        return CROSS_LINGUAL if other else SAME_LANGUAGE


def is_title_query(query: str, titles: Sequence[str], *, min_overlap: float = 0.9) -> bool:
    """Whether the query is (nearly) one of these episode titles: the same words, in any order,
    with at least ``min_overlap`` of the title's and of the query's words shared."""
    q = set(_words(query))
    if not q:
        return False
    for title in titles:
        t = set(_words(title))
        if t and len(q & t) >= min_overlap * max(len(q), len(t)):
            return True
    return False


def _words(text: str) -> list[str]:
    return [w for w in _NON_WORD.sub(" ", text.lower()).split() if w]
