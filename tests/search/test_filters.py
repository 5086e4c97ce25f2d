"""make_filters: the one reading of filter values shared by the CLI and the HTTP API."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from podsearch.errors import QueryError
from podsearch.models import Filters
from podsearch.search.filters import make_filters


def test_nothing_gives_empty_filters() -> None:
    assert make_filters() == Filters()
    assert make_filters([], None, [" "], "", None).empty


def test_values_are_stripped_and_languages_lower_cased() -> None:
    f = make_filters([" EN ", "", "es"], ["s1 ", " "], ["Health", " comedy"])
    assert f == Filters(languages=("en", "es"), show_ids=("s1",), categories=("Health", "comedy"))


@pytest.mark.parametrize("day", ["2017-12-01", date(2017, 12, 1)])
def test_a_day_covers_the_whole_utc_day(day: str | date) -> None:
    f = make_filters(date_from=day, date_to=day)
    assert f.date_from == datetime(2017, 12, 1, tzinfo=UTC)
    assert f.date_to == datetime.combine(date(2017, 12, 1), time.max, tzinfo=UTC)


def test_date_times_keep_their_zone_and_naive_ones_are_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    f = make_filters(date_from="2017-12-01T10:30", date_to=datetime(2017, 12, 2, tzinfo=plus2))
    assert f.date_from == datetime(2017, 12, 1, 10, 30, tzinfo=UTC)
    assert f.date_to == datetime(2017, 12, 2, tzinfo=plus2)


def test_an_unreadable_date_names_the_format() -> None:
    with pytest.raises(QueryError, match="YYYY-MM-DD"):
        make_filters(date_from="yesterday")


def test_a_start_after_the_end_is_refused() -> None:
    with pytest.raises(QueryError, match="2018-01-01 is after the end date 2017-01-01"):
        make_filters(date_from="2018-01-01", date_to="2017-01-01")
    one_day = make_filters(date_from="2017-01-01", date_to="2017-01-01")  # same day: fine
    assert one_day.date_from is not None and one_day.date_to is not None
