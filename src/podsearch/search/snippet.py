"""Query-biased snippets and the words in them to highlight.

A snippet is the description's passage that shares most words with the query. The words to
highlight are whole words of the snippet whose stem, by the Snowball stemmer of the *episode's*
language (the analyser the keyword index uses for that language's stemmed field), equals the
stem of a query word; in a language without a stemmer, whole words equal after lower-casing
and ASCII folding (the keyword index's language-neutral field). Stop words (of the episode's
language, and English ones) are never highlighted. So "health" does not light up "healthy"
(English Snowball: ``health`` vs ``healthi``), while "holidays" lights up "holiday" and
"eating" lights up "eat"; "xmas" lights up nothing in a text that says "Christmas".
"""

from __future__ import annotations

import functools
import re

from podsearch.index.tantivy_index import (
    _STOPWORD_LANGS,
    STEMMERS,
    _analyzer,
    _is_stopword,
    prepare_query,
)

_SENT = re.compile(r"(?<=[.!?。！？])\s+")
_WORD = re.compile(r"\w+")
MAX_QUERY_TERMS = 30


@functools.cache
def _stemmer_for(language: str) -> tuple[str, object]:
    """(stemmer name or "", the analyser) for an ISO 639-1 code."""
    name = STEMMERS.get(language, "")
    return name, _analyzer(name or None)


@functools.lru_cache(maxsize=65536)
def _key(word: str, language: str) -> str:
    """The form two words must share to match: the first token of the language's analyser
    (lower-cased, stemmed, ASCII-folded), or "" for a stop word."""
    name, analyzer = _stemmer_for(language)
    w = word.lower()
    if _is_stopword(w, "english") or (name in _STOPWORD_LANGS and _is_stopword(w, name)):
        return ""
    tokens = analyzer.analyze(w)  # type: ignore[attr-defined]
    return tokens[0] if tokens else ""


@functools.lru_cache(maxsize=4096)
def query_keys(query: str, language: str) -> frozenset[str]:
    """The keys of the query's words in ``language`` (stop words left out)."""
    words = list(dict.fromkeys(prepare_query(query).split()))[:MAX_QUERY_TERMS]
    return frozenset(k for k in (_key(w, language) for w in words) if k)


def highlight_spans(query: str, text: str, language: str) -> tuple[tuple[int, int], ...]:
    """(start, end) character offsets in ``text`` of the whole words to highlight."""
    keys = query_keys(query, language)
    if not keys:
        return ()
    return tuple(
        (m.start(), m.end()) for m in _WORD.finditer(text) if _key(m.group(0), language) in keys
    )


def make_snippet(query: str, text: str, max_chars: int = 240, language: str = "") -> str:
    """Pick the window of consecutive sentences that shares most stems with the query."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    sentences = [s for s in _SENT.split(text) if s]
    q = query_keys(query, language)
    best, best_score = 0, -1.0
    for i, s in enumerate(sentences):
        keys = {_key(w, language) for w in _WORD.findall(s)}
        score = len(q & keys) - i * 0.01  # earlier sentences win ties
        if score > best_score:
            best, best_score = i, score
    out = ""
    for s in sentences[best:]:
        if out and len(out) + 1 + len(s) > max_chars:
            break
        out = f"{out} {s}".strip()
    if len(out) > max_chars:
        cut = out[:max_chars].rsplit(" ", 1)[0]
        out = cut + "…"
    prefix = "… " if best > 0 else ""
    return prefix + out
