"""Flat tables (CSV/TSV, JSON Lines, Parquet) through the column mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from catalog_helpers import DATA, assert_balanced, reasons

from podsearch.catalog import CANONICAL_FIELDS, DEFAULT_MAPPING, read_catalog
from podsearch.catalog.tabular import plan_columns
from podsearch.errors import CatalogError


def test_jsonl_with_default_mapping_hand_checked() -> None:
    data = read_catalog(DATA / "episodes_tiny.jsonl")
    assert_balanced(data)
    assert data.read == 7
    assert [e.episode_id for e in data.episodes] == ["e1", "e2", "http://audio.example/e5.mp3"]
    assert reasons(data) == ["malformed row", "malformed row", "missing title", "duplicate id"]
    assert [s.where for s in data.skipped] == [
        "episodes_tiny.jsonl:4",
        "episodes_tiny.jsonl:5",
        "episodes_tiny.jsonl:6",
        "episodes_tiny.jsonl:7",
    ]
    e1, e2, e5 = data.episodes
    assert e1.title == "Pilot episode"
    assert e1.description == "The first one."
    assert (e1.show_id, e1.show_title) == ("s1", "Jay Show")
    assert e1.language == "en"  # en-GB
    assert e1.categories == ("Comedy", "Arts")
    assert e1.pub_date == datetime(2020, 1, 1, tzinfo=UTC)
    assert e1.audio_url == "http://audio.example/e1.mp3"
    assert e1.duration_s == 61
    assert e2.pub_date == datetime(2020, 1, 2, tzinfo=UTC)  # epoch seconds
    assert e2.duration_s == 120  # "00:02:00"
    assert e5.show_title == "Other Show"
    assert any("no id; using its audio URL" in w for w in data.warnings)


def test_jsonl_custom_mapping_literals_and_nested_paths(tmp_path: Path) -> None:
    rows = [
        {"key": "k1", "headline": "Nested one", "meta": {"lang": "de", "when": "2021-03-04"}},
        {"key": "k2", "headline": "Nested two", "meta": {"lang": "de"}, "summary": "ignored"},
    ]
    p = tmp_path / "x.ndjson"
    p.write_text("\n".join(json.dumps(r) for r in rows), "utf-8")
    data = read_catalog(
        p,
        mapping={
            "episode_id": "key",
            "title": "headline",
            "language": "meta.lang",
            "pub_date": "meta.when",
            "show_title": "=Literal Show",
            "description": "",  # do not read "summary"
        },
        id_prefix="j:",
    )
    assert_balanced(data)
    assert [e.episode_id for e in data.episodes] == ["j:k1", "j:k2"]
    assert {e.show_id for e in data.episodes} == {"j:literal-show"}
    assert data.shows[0].title == "Literal Show"
    assert [e.language for e in data.episodes] == ["de", "de"]
    assert data.episodes[0].pub_date == datetime(2021, 3, 4, tzinfo=UTC)
    assert [e.description for e in data.episodes] == ["", ""]


def test_parquet_with_mapping_and_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "guid": ["p1", "p2", "p3", None],
            "episode_title": ["Parquet one", "Parquet two", None, "No id"],
            "body": ["<p>Body <b>one</b></p>", "Body two", "x", "y"],
            "series": ["s", "s", "s", "s"],
            "published": pa.array(
                [datetime(2022, 5, 1, 12, tzinfo=UTC), None, None, None],
                type=pa.timestamp("ms", tz="UTC"),
            ),
            "ms": pa.array([90_000, 1_500, None, 0], type=pa.int64()),
        }
    )
    p = tmp_path / "eps.parquet"
    pq.write_table(table, p)
    data = read_catalog(
        p,
        mapping={
            "title": "episode_title",
            "description": "body",
            "show_id": "series",
            "pub_date": "published",
            "duration_ms": "ms",
            "language": "=en",
        },
    )
    assert_balanced(data)
    assert data.read == 4
    assert [e.episode_id for e in data.episodes] == ["p1", "p2"]
    assert reasons(data) == ["missing title", "missing id"]
    assert data.skipped[0].where == "eps.parquet row 3"
    one, two = data.episodes
    assert one.description == "Body one"
    assert one.pub_date == datetime(2022, 5, 1, 12, tzinfo=UTC)
    assert (one.duration_s, two.duration_s) == (90, 2)
    assert one.language == "en"


def test_parquet_epoch_milliseconds_and_default_columns(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([7, 8], type=pa.int64()),
            "uuid": ["u7", "u8"],
            "name": ["Seven", "Eight"],
            "series_uuid": ["s", "s"],
            "date_published": pa.array([1_577_836_800_000, 1_577_923_200_000]),
            "duration": pa.array([3600, 1800], type=pa.int32()),
        }
    )
    p = tmp_path / "taddy_like.parquet"
    pq.write_table(table, p)
    data = read_catalog(p)
    assert [e.episode_id for e in data.episodes] == ["u7", "u8"]  # uuid before id
    assert data.episodes[0].pub_date == datetime(2020, 1, 1, tzinfo=UTC)
    assert [e.duration_s for e in data.episodes] == [3600, 1800]  # whole numbers: seconds


def test_tsv_spotify_like_language_lists_and_minutes(tmp_path: Path) -> None:
    header = "\t".join(
        ["show_uri", "show_name", "language", "episode_uri", "episode_name"]
        + ["episode_description", "duration"]
    )
    rows = [
        "spotify:show:1\tStrategy Talk\t['en']\tspotify:episode:a\tArt direction\tA talk.\t33.5042",
        "spotify:show:1\tStrategy Talk\t['en-US']\tspotify:episode:b\tBriefs\tAnother.\t12.25",
        "spotify:show:2\tOther\t['en-AU']\tspotify:episode:c\tThird\tMore.\t41.6401",
    ]
    p = tmp_path / "metadata.tsv"
    p.write_text("\n".join([header, *rows]) + "\n", "utf-8")
    data = read_catalog(p)
    assert_balanced(data)
    assert [e.episode_id for e in data.episodes] == [
        "spotify:episode:a",
        "spotify:episode:b",
        "spotify:episode:c",
    ]
    assert [e.language for e in data.episodes] == ["en", "en", "en"]
    assert [e.duration_s for e in data.episodes] == [2010, 735, 2498]
    assert any("read as minutes" in w for w in data.warnings)
    assert [s.title for s in data.shows] == ["Strategy Talk", "Other"]
    # Explicitly seconds: no inference.
    data = read_catalog(p, mapping={"duration_s": "duration"})
    assert [e.duration_s for e in data.episodes] == [34, 12, 42]


def test_csv_single_show_with_literal_show_title(tmp_path: Path) -> None:
    p = tmp_path / "episodes.csv"
    p.write_text(
        "sr_episode_id,source_title,date,mp3_url,length_seconds,short_summary\n"
        "1,Georg Eliasson 1960,1960-06-13,http://sr.example/1.mp3,1386,"
        "Det äldsta programmet i Sommars arkiv! Radioprofilen spelar plattor.\n"
        "2,Jörgen Cederberg 1960,1960-08-14,http://sr.example/2.mp3,1567,"
        "En av de stora radioprofilerna pratar om väder och om att ta farväl.\n",
        "utf-8",
    )
    mapping = {
        "episode_id": "sr_episode_id",
        "title": "source_title",
        "show_title": "=Sommar & Vinter i P1",
    }
    data = read_catalog(p, mapping=mapping)
    assert_balanced(data)
    assert [e.show_id for e in data.episodes] == ["sommar-vinter-i-p1"] * 2
    assert data.shows[0].title == "Sommar & Vinter i P1"
    assert [e.language for e in data.episodes] == ["sv", "sv"]  # detected
    assert data.shows[0].language == "sv"  # the show takes its episodes' majority
    assert data.episodes[0].duration_s == 1386
    assert data.episodes[0].pub_date == datetime(1960, 6, 13, tzinfo=UTC)


def test_missing_columns_name_what_was_found_and_expected(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("foo,bar\n1,2\n", "utf-8")
    with pytest.raises(CatalogError) as e:
        read_catalog(p)
    msg = str(e.value)
    assert "found columns: foo, bar" in msg
    assert "title (one of: title, episode_title, episode_name, name)" in msg
    assert "episode_id (one of:" in msg
    assert "mapping=" in msg


def test_bad_mappings(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("id,title\n1,A\n", "utf-8")
    with pytest.raises(CatalogError, match="unknown mapping field"):
        read_catalog(p, mapping={"headline": "title"})
    with pytest.raises(CatalogError, match="names no column; found columns: id, title"):
        read_catalog(p, mapping={"title": "name"})
    with pytest.raises(CatalogError, match="cannot be a literal"):
        read_catalog(p, mapping={"episode_id": "=1"})


def test_csv_rows_with_wrong_field_count_and_bad_bytes(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes(b"id;title;description\n1;Good;Fine\n2;Too;many;fields\n3;Caf\xe9;x\n;No id;x\n")
    data = read_catalog(p)  # ";" sniffed from the header
    assert_balanced(data)
    assert [e.episode_id for e in data.episodes] == ["1", "3"]
    assert data.episodes[1].title == "Caf\ufffd"
    assert reasons(data) == ["malformed row", "missing id"]
    assert any("t.csv line 4: invalid UTF-8" in w for w in data.warnings)


def test_plan_columns_defaults_cover_the_known_corpora() -> None:
    taddy = ["id", "uuid", "name", "description", "series_uuid", "date_published", "audio_url"]
    plan = plan_columns([*taddy, "duration", "guid"], None, "taddy")
    assert plan.columns["episode_id"] == "uuid"
    assert plan.columns["title"] == "name"
    assert plan.columns["show_id"] == "series_uuid"
    assert plan.columns["pub_date"] == "date_published"
    assert plan.infer_duration_unit
    spotify = ["show_uri", "show_name", "show_description", "episode_uri", "episode_name"]
    plan = plan_columns([*spotify, "episode_description", "language"], None, "spotify")
    assert plan.columns["episode_id"] == "episode_uri"
    assert plan.columns["description"] == "episode_description"
    assert plan.columns["show_description"] == "show_description"
    assert set(DEFAULT_MAPPING) >= set(CANONICAL_FIELDS)


@pytest.mark.parametrize(
    ("raw", "titles", "skipped"),
    [
        (b"id,title\r1,Old Mac\r2,Line ends\r", ["Old Mac", "Line ends"], []),
        (b'id,title\r\n1,CRLF\r\n2,"multi\r\nline"\r\n', ["CRLF", "multi line"], []),
        (
            b'id,title\n1,"abc"def\n2,ok\n3,5" inch\n',
            ["ok", '5" inch'],
            [("t.csv:2", "malformed row: ',' expected after '\"'")],
        ),
        (
            b'id,title\n1,ok\n2,"unclosed\n3,swallowed\n4,swallowed\n',
            ["ok"],
            [("t.csv:3", "malformed row: unexpected end of data (lines 3-5: an unclosed quote?)")],
        ),
    ],
)
def test_csv_line_ends_and_quotes(
    tmp_path: Path, raw: bytes, titles: list[str], skipped: list[tuple[str, str]]
) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes(raw)
    data = read_catalog(p)
    assert_balanced(data)
    assert [e.title for e in data.episodes] == titles
    assert [(s.where, s.reason) for s in data.skipped] == skipped


def test_unreadable_header_is_a_catalog_error(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes(b'"id,title\n1,x\n')
    with pytest.raises(CatalogError, match="cannot read the header row"):
        read_catalog(p)


def test_not_parquet_is_a_catalog_error(tmp_path: Path) -> None:
    p = tmp_path / "fake.parquet"
    p.write_text("id,title\n1,x\n", "utf-8")
    with pytest.raises(CatalogError, match="not a readable Parquet file"):
        read_catalog(p)


def test_jsonl_without_objects_is_a_catalog_error(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_text("[1]\n2\n", "utf-8")
    with pytest.raises(CatalogError, match="no JSON objects"):
        read_catalog(p)
    p.write_text("", "utf-8")
    with pytest.raises(CatalogError, match="empty"):
        read_catalog(p)
