"""Query-biased snippets: the description's passage that shares most words with the query."""

from __future__ import annotations

import re

_SENT = re.compile(r"(?<=[.!?。！？])\s+")
_WORD = re.compile(r"\w+")


def _stems(text: str) -> set[str]:
    # A 5-character prefix is a crude, language-neutral stem: "holidays" ~ "holiday".
    return {w[:5] for w in _WORD.findall(text.lower()) if len(w) > 2}


def make_snippet(query: str, text: str, max_chars: int = 240) -> str:
    """Pick the window of consecutive sentences that best overlaps the query."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    sentences = [s for s in _SENT.split(text) if s]
    q = _stems(query)
    best, best_score = 0, -1.0
    for i, s in enumerate(sentences):
        score = len(q & _stems(s)) - i * 0.01  # earlier sentences win ties
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
