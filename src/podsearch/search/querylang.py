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

A query whose nearest episodes are mostly in another language than its own is *cross-lingual*:
fusion leans on the dense retriever for it. A detection below ``min_confidence`` says nothing,
and the query keeps the default weights.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

CROSS_LINGUAL = "cross-lingual"
SAME_LANGUAGE = "same-language"
QUERY_CLASSES = (SAME_LANGUAGE, CROSS_LINGUAL)


class QueryClassifier:
    """Detects a query's language among ``languages`` and classifies the query against the
    languages of its nearest episodes."""

    def __init__(
        self,
        languages: Iterable[str],
        *,
        min_confidence: float = 0.5,
        neighbours: int = 10,
    ) -> None:
        self.languages = tuple(sorted({x for x in languages if x} | {"en"}))
        self.min_confidence = min_confidence
        self.neighbours = neighbours
        self._identifier: Any = None
        self._lock = threading.Lock()
        self._cache = functools.lru_cache(maxsize=4096)(self._detect)

    @classmethod
    def for_languages(cls, languages: Iterable[str], **kwargs: Any) -> QueryClassifier:
        return cls(languages, **kwargs)

    def _ident(self) -> Any:
        if self._identifier is None:
            with self._lock:
                if self._identifier is None:
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier

                    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                    known = set(ident.nb_classes)
                    ident.set_languages([x for x in self.languages if x in known] or ["en"])
                    self._identifier = ident
        return self._identifier

    def _detect(self, query: str) -> tuple[str, float]:
        ident = self._ident()
        with self._lock:  # set_languages state is shared; classify itself is cheap
            lang, p = ident.classify(query)
        return str(lang), float(p)

    def language(self, query: str) -> tuple[str, float]:
        """(ISO 639-1 code, probability) of the query among the catalog's languages."""
        return self._cache(query)

    def classify(self, query: str, nearest: Sequence[tuple[str, str]]) -> str:
        """``cross-lingual`` when the query's language is known with confidence and differs
        from the language most of its ``nearest`` (episode id, language) pairs are in."""
        lang, p = self.language(query)
        if p < self.min_confidence:
            return SAME_LANGUAGE
        langs = [x for _, x in nearest[: self.neighbours] if x]
        if not langs:
            return SAME_LANGUAGE
        top, count = Counter(langs).most_common(1)[0]
        if top != lang and count * 2 > len(langs):
            return CROSS_LINGUAL
        return SAME_LANGUAGE
