"""Raw filter values (CLI flags, HTTP parameters) -> the library's ``Filters``, in one place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Protocol

from podsearch.catalog.clean import normalize_language
from podsearch.errors import QueryError
from podsearch.models import Filters

SHOWN_CHOICES = 15  # how many known values an error message lists

DateLike = str | date | datetime | None


def make_filters(
    languages: Iterable[str] | None = None,
    show_ids: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    date_from: DateLike = None,
    date_to: DateLike = None,
) -> Filters:
    """The ``Filters`` for these values, as every edge reads them.

    Values are stripped and empty ones dropped; languages are read as ingest reads catalog
    values (``English``, ``EN``, ``en-US``, ``eng`` -> ``en``), and one it cannot read is kept
    lower-cased for ``resolve_filters`` to reject with the catalog's languages. A day (a ``date`` or
    ``"YYYY-MM-DD"``) covers the whole UTC day, so ``date_from`` starts at its first instant and
    ``date_to`` ends at its last; a date-time without a zone is UTC. Raises QueryError for a date
    it cannot read or a start after the end.
    """
    start = _instant(date_from, end=False)
    end = _instant(date_to, end=True)
    if start and end and start > end:
        raise QueryError(
            f"The start date {_shown(date_from)} is after the end date {_shown(date_to)}: "
            "swap them."
        )
    return Filters(
        languages=tuple(
            dict.fromkeys(normalize_language(v) or v.lower() for v in _values(languages))
        ),
        show_ids=_values(show_ids),
        categories=_values(categories),
        date_from=start,
        date_to=end,
    )


class FilterCatalog(Protocol):
    """What ``resolve_filters`` asks of the catalog (``CatalogStore`` has it)."""

    def facet_counts(self, column: str) -> dict[str, int]: ...

    def find_shows(self, value: str) -> list[tuple[str, str]]: ...


def resolve_filters(filters: Filters | None, catalog: FilterCatalog) -> Filters | None:
    """``filters`` checked against the catalog, show titles replaced by their ids.

    Raises QueryError, listing the known values, for a language no episode has; for a show
    value that is neither a show id nor a show title (case-insensitive); and for a title that
    several shows share (it lists their ids: filter by id).
    """
    if filters is None or not (filters.languages or filters.show_ids):
        return filters
    if filters.languages:
        known = catalog.facet_counts("language")
        unknown = [v for v in filters.languages if v not in known]
        if unknown:
            raise QueryError(
                f"no episodes in language {', '.join(map(repr, unknown))}; the catalog's "
                f"languages are: {_choices(known)}. Use a code (en) or a name (English)."
            )
    show_ids: list[str] = []
    for value in filters.show_ids:
        found = catalog.find_shows(value)
        if not found:
            raise QueryError(
                f"no show with id or title {value!r}: list shows with podsearch stats "
                "(top_shows) or GET /api/facets (shows)"
            )
        if len(found) > 1:
            ids = ", ".join(f"{sid!r}" for sid, _ in found[:SHOWN_CHOICES])
            raise QueryError(
                f"{len(found)} shows are titled {value!r}: filter by one of their ids: {ids}"
            )
        show_ids.append(found[0][0])
    return replace(filters, show_ids=tuple(dict.fromkeys(show_ids)))


def _choices(counts: Mapping[str, int] | Sequence[str]) -> str:
    items = list(counts.items()) if isinstance(counts, Mapping) else [(c, None) for c in counts]
    shown = ", ".join(f"{v} ({n})" if n is not None else v for v, n in items[:SHOWN_CHOICES])
    more = len(items) - SHOWN_CHOICES
    return shown + (f" and {more} more" if more > 0 else "") if items else "none yet"


def _values(raw: Iterable[str] | None) -> tuple[str, ...]:
    return tuple(s for s in (v.strip() for v in raw or ()) if s)


def _instant(value: DateLike, *, end: bool) -> datetime | None:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)
        except ValueError as exc:
            raise QueryError(f"cannot read date {text!r}: use YYYY-MM-DD") from exc
    if value is None:
        return None
    if not isinstance(value, datetime):  # a whole day
        return datetime.combine(value, time.max if end else time.min, tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _shown(value: DateLike) -> str:
    return value.strip() if isinstance(value, str) else str(value)
