"""Recommendations from the search vector space: "more like this" and listener profiles."""

from podsearch.recommend.history import HistoryItem, parse_history, read_history
from podsearch.recommend.profile import Interest
from podsearch.recommend.recommender import STRATEGIES, Recommendations, Recommender

__all__ = [
    "STRATEGIES",
    "HistoryItem",
    "Interest",
    "Recommendations",
    "Recommender",
    "parse_history",
    "read_history",
]
