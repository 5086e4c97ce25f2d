"""read_catalog: format detection, dispatch and the errors for sources it cannot read."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from catalog_helpers import DATA, assert_balanced

from podsearch.catalog import (
    CANONICAL_FIELDS,
    DEFAULT_MAPPING,
    FORMATS,
    detect_format,
    read_catalog,
)
from podsearch.errors import CatalogError


def test_exports() -> None:
    assert FORMATS == ("listennotes", "feed", "jsonl", "parquet", "table")
    assert CANONICAL_FIELDS[:2] == ("episode_id", "title")
    assert "series_uuid" in DEFAULT_MAPPING["show_id"]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("listennotes_tiny", "listennotes"),
        ("feed_tiny.rss", "feed"),
        ("feed_tiny.atom", "feed"),
        ("episodes_tiny.jsonl", "jsonl"),
    ],
)
def test_detect_format_of_fixtures(name: str, fmt: str) -> None:
    assert detect_format(DATA / name) == fmt


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("x.xml", "feed"),
        ("x.RSS", "feed"),
        ("x.ndjson", "jsonl"),
        ("x.parquet", "parquet"),
        ("x.csv", "table"),
        ("x.tsv", "table"),
    ],
)
def test_detect_format_by_suffix(tmp_path: Path, name: str, fmt: str) -> None:
    (tmp_path / name).write_text("", "utf-8")
    assert detect_format(tmp_path / name) == fmt


def test_detect_format_url_and_feed_folder(tmp_path: Path) -> None:
    assert detect_format("https://example.org/feed") == "feed"
    assert detect_format("http://example.org/feed.xml") == "feed"
    shutil.copy(DATA / "feed_tiny.rss", tmp_path / "one.rss")
    assert detect_format(tmp_path) == "feed"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.csv", "no such file or folder; expected a Listen Notes folder"),
        (lambda p: p, "folder holds no catalog"),
        (lambda p: _touch(p / "x.docx"), "unknown catalog type '.docx'"),
        (lambda p: _touch(p / "README"), "unknown catalog type '(no suffix)'"),
    ],
)
def test_unreadable_sources_say_what_was_expected(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CatalogError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_catalog(make(tmp_path))


def _touch(p: Path) -> Path:
    p.write_text("", "utf-8")
    return p


def test_explicit_format_and_aliases(tmp_path: Path) -> None:
    feed = tmp_path / "feed.txt"
    shutil.copy(DATA / "feed_tiny.rss", feed)
    assert len(read_catalog(feed, fmt="rss").episodes) == 4
    table = tmp_path / "eps.txt"
    table.write_text("id\ttitle\n1\tTabbed\n", "utf-8")
    assert read_catalog(table, fmt="tsv").episodes[0].title == "Tabbed"
    with pytest.raises(CatalogError, match="unknown format 'yaml'; expected one of listennotes"):
        read_catalog(table, fmt="yaml")
    with pytest.raises(CatalogError, match="no such file"):
        read_catalog(tmp_path / "nope.csv", fmt="table")


def test_mapping_is_for_tables_only() -> None:
    with pytest.raises(CatalogError, match="mapping applies to jsonl, parquet and table"):
        read_catalog(DATA / "listennotes_tiny", mapping={"title": "name"})


def test_language_argument(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="unknown language 'elvish'"):
        read_catalog(DATA / "listennotes_tiny", language="elvish")
    # The source's own languages win over the argument.
    data = read_catalog(DATA / "listennotes_tiny", language="fr")
    assert {e.language for e in data.episodes} == {"en", "de", "es"}


def test_several_catalogs_share_an_index_through_prefixes() -> None:
    a = read_catalog(DATA / "listennotes_tiny", id_prefix="a:")
    b = read_catalog(DATA / "listennotes_tiny", id_prefix="b:")
    ids = [e.episode_id for e in a.episodes + b.episodes]
    assert len(ids) == len(set(ids)) == 16


@pytest.mark.parametrize(
    "name", ["listennotes_tiny", "feed_tiny.rss", "feed_tiny.atom", "episodes_tiny.jsonl"]
)
def test_every_fixture_is_balanced(name: str) -> None:
    data = read_catalog(DATA / name)
    assert_balanced(data)
    assert data.source == str(DATA / name)
    for e in data.episodes:
        assert e.title and e.episode_id and e.show_id
        assert e.show_id in {s.show_id for s in data.shows}
        assert e.pub_date is None or e.pub_date.utcoffset() is not None
