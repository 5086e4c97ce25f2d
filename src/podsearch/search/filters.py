"""Raw filter values (CLI flags, HTTP parameters) -> the library's ``Filters``, in one place."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time

from podsearch.errors import QueryError
from podsearch.models import Filters

DateLike = str | date | datetime | None


def make_filters(
    languages: Iterable[str] | None = None,
    show_ids: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    date_from: DateLike = None,
    date_to: DateLike = None,
) -> Filters:
    """The ``Filters`` for these values, as every edge reads them.

    Values are stripped and empty ones dropped; languages are lower-cased. A day (a ``date`` or
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
        languages=tuple(v.lower() for v in _values(languages)),
        show_ids=_values(show_ids),
        categories=_values(categories),
        date_from=start,
        date_to=end,
    )


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
