"""The demo catalog that ships with podsearch (original text, CC0)."""

from __future__ import annotations

from pathlib import Path

DEMO_CATALOG = Path(__file__).resolve().parent.parent / "data" / "demo"
DEMO_QUERY_FILE = DEMO_CATALOG / "queries.jsonl"

# Shown by `podsearch demo`: paraphrased, multilingual and cross-lingual.
DEMO_QUERIES = (
    "eat better during xmas holidays",
    "interview with cookbook author",
    "cómo dormir mejor",  # Spanish query, sleep episodes in several languages
    "Klimawandel und Korallenriffe",  # German query for the climate/coral episodes
)
