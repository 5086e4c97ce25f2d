"""Cleaning of generated queries: what a small model writes is noisy."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

_LEAD = re.compile(
    r"^\s*(?:[-*\u2022]+|\d+[.):]|q(?:uery)?\s*\d*\s*[:.)-]|search(?: query)?:)\s*", re.I
)
_WORD = re.compile(r"\w+", re.UNICODE)
# Queries that end like this were cut off or never said anything ("why do", "how to").
_DANGLING = {
    "a",
    "an",
    "the",
    "of",
    "to",
    "and",
    "or",
    "for",
    "with",
    "in",
    "on",
    "at",
    "by",
    "from",
    "do",
    "does",
    "is",
    "are",
    "about",
    "how",
    "why",
    "what",
    "my",
    "your",
    "their",
    "his",
    "her",
}

MIN_WORDS = 2
MAX_WORDS = 14


def normalise(q: str) -> str:
    """Strip list markers, quotes and stray whitespace; keep the user's words."""
    q = unicodedata.normalize("NFKC", q).replace("\n", " ")
    q = _LEAD.sub("", q).strip().strip("\"'`“”‘’").strip()
    q = re.sub(r"\s+", " ", q)
    return q.rstrip(" .,;:-")


def _words(s: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(s)]


def rejection(q: str, title: str, seen: set[str]) -> str | None:
    """Why ``q`` should be dropped (a short reason), or None to keep it."""
    words = _words(q)
    if len(words) < MIN_WORDS:
        return "too short"
    if len(words) > MAX_WORDS:
        return "too long"
    if words[-1] in _DANGLING:
        return "unfinished"
    if any(n > 2 for n in Counter(words).values()) or re.search(r"(.{4,})\1", q.lower()):
        return "repetitive"
    key = " ".join(words)
    if key in seen:
        return "duplicate"
    t = _words(title)
    if t and (key == " ".join(t) or (len(set(words) - set(t)) == 0 and len(words) >= 0.6 * len(t))):
        return "copies the title"
    return None


def clean_queries(raw: Iterable[str], title: str) -> tuple[list[str], Counter[str]]:
    """Normalised, deduplicated queries that pass the checks, and a count of rejections."""
    kept: list[str] = []
    seen: set[str] = set()
    dropped: Counter[str] = Counter()
    for r in raw:
        q = normalise(r)
        why = rejection(q, title, seen)
        if why:
            dropped[why] += 1
            continue
        seen.add(" ".join(_words(q)))
        kept.append(q)
    return kept, dropped
