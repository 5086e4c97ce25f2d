"""podsearch: natural-language, multilingual search for podcast catalogs."""

from podsearch.engine import IndexReport, Podsearch
from podsearch.errors import PodsearchError
from podsearch.models import Episode, Filters, Hit, IngestReport, SearchResult, Show

__all__ = [
    "Episode",
    "Filters",
    "Hit",
    "IndexReport",
    "IngestReport",
    "Podsearch",
    "PodsearchError",
    "SearchResult",
    "Show",
]
__version__ = "0.1.0"
