"""Reading listening histories: JSONL, CSV, JSON lists, plain ids; clear errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from podsearch.errors import QueryError
from podsearch.recommend import HistoryItem, parse_history, read_history


def test_plain_ids_and_json_list() -> None:
    assert parse_history("e1\n\ne2\n") == [HistoryItem("e1"), HistoryItem("e2")]
    assert parse_history('["e1", {"episode_id": "e2", "weight": 2}]') == [
        HistoryItem("e1"), HistoryItem("e2", weight=2.0),
    ]  # fmt: skip
    assert parse_history("  ") == []


def test_jsonl_with_all_fields() -> None:
    text = (
        '{"episode_id": "e1", "weight": 0.5, "timestamp": "2017-12-01T10:00:00Z"}\n'
        '{"id": "e2", "skipped": true, "timestamp": 1512122400}\n'
        '"e3"\n'
    )
    items = parse_history(text)
    assert items[0] == HistoryItem("e1", 0.5, datetime(2017, 12, 1, 10, tzinfo=UTC))
    assert items[1].skipped and items[1].timestamp == datetime(2017, 12, 1, 10, tzinfo=UTC)
    assert items[2] == HistoryItem("e3")


def test_csv(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("episode_id,weight,timestamp,skipped\ne1,2,2017-12-01,\ne2,,,yes\n")
    items = read_history(p)
    assert items[0] == HistoryItem("e1", 2.0, datetime(2017, 12, 1, tzinfo=UTC))
    assert items[1] == HistoryItem("e2", skipped=True)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"episode_id": "e1", "weight": "heavy"}', "weight"),
        ('{"episode_id": "e1", "weight": -1}', "weight"),
        ('{"episode_id": "e1", "timestamp": "yesterday"}', "timestamp"),
        ('{"episode_id": "e1", "skipped": "maybe"}', "skipped"),
        ('{"weight": 1}', "episode_id"),
        ("{not json", "JSON"),
        ("[1, 2", "JSON"),
        ("[3]", "expected an episode id"),
    ],
)
def test_bad_histories(text: str, match: str) -> None:
    with pytest.raises(QueryError, match=match):
        parse_history(text)


def test_bad_csv_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "h.csv"
    p.write_text("id,weight\ne1,1\n")
    with pytest.raises(QueryError, match="episode_id"):
        read_history(p)
    with pytest.raises(QueryError, match="cannot read"):
        read_history(tmp_path / "missing.jsonl")
