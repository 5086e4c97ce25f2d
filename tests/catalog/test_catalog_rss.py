"""RSS and Atom feeds through feedparser: ids, audio, durations, dates, bad feeds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from catalog_helpers import DATA, assert_balanced, reasons

from podsearch.catalog import read_catalog, rss
from podsearch.errors import CatalogError


def feed(items: str, channel: str = "<title>Test Cast</title>") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        f"<channel>{channel}{items}</channel></rss>"
    )


def item(guid: str = "", title: str = "Episode", extra: str = "") -> str:
    g = f"<guid>{guid}</guid>" if guid else ""
    return f"<item><title>{title}</title>{g}{extra}</item>"


def test_tiny_rss_feed_hand_checked() -> None:
    data = read_catalog(DATA / "feed_tiny.rss")
    assert_balanced(data)
    assert (data.read, len(data.episodes)) == (6, 4)
    (show,) = data.shows
    assert show.show_id == "http://garden.example/"  # the channel link (no id/self link)
    assert show.title == "Garden Talk"
    assert show.description == "Weekly conversations about gardening."
    assert show.language == "en"  # en-us
    assert show.categories == ("Leisure", "Home & Garden", "Education")
    assert show.author == "Gina Green"

    first, compost, seeds, mystery = data.episodes
    assert first.episode_id == "garden-1"
    assert first.title == "Tomatoes & peppers"
    assert first.description == "Growing tomatoes and peppers."  # content:encoded, no script
    assert first.audio_url == "http://audio.example/garden-1.mp3"  # the audio, not the image
    assert first.duration_s == 3723
    assert first.pub_date == datetime(2011, 4, 27, 7, tzinfo=UTC)
    assert first.language == "en"
    assert first.categories == show.categories
    assert first.source == "feed_tiny.rss"

    assert compost.episode_id == "http://audio.example/garden-2.mp3"  # no guid: audio URL
    assert compost.pub_date == datetime(2011, 5, 4, 7, tzinfo=UTC)
    assert compost.duration_s == 1800

    assert seeds.episode_id == "http://garden.example/seeds"  # no guid, no audio: link
    assert seeds.pub_date is None
    assert seeds.duration_s == 1530
    assert seeds.audio_url == ""

    assert mystery.title == "mystery-episode"  # no title: its audio file's name

    assert [(s.where, s.reason.split(":")[0]) for s in data.skipped] == [
        ("feed_tiny.rss item 5", "missing id"),
        ("feed_tiny.rss item 6", "duplicate id"),
    ]
    assert (
        "feed_tiny.rss item 3: unparseable pub_date 'not a date at all'; "
        "episode kept without a date"
    ) in data.warnings


def test_atom_feed() -> None:
    data = read_catalog(DATA / "feed_tiny.atom")
    assert_balanced(data)
    (show,) = data.shows
    (e,) = data.episodes
    assert show.show_id == "urn:uuid:atom-cast"
    assert e.episode_id == "urn:uuid:entry-1"
    assert e.audio_url == "http://audio.example/atom-1.mp3"
    assert e.description == "The very first episode."
    assert e.pub_date == datetime(2003, 12, 13, 18, 30, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("3600", 3600), ("01:00:00", 3600), ("20:00", 1200), ("1:02:03", 3723), ("90.5", 90)],
)
def test_itunes_duration_forms(tmp_path: Path, value: str, seconds: int) -> None:
    p = tmp_path / "f.rss"
    p.write_text(feed(item("a", extra=f"<itunes:duration>{value}</itunes:duration>")), "utf-8")
    assert read_catalog(p).episodes[0].duration_s == seconds


def test_bad_duration_is_a_warning(tmp_path: Path) -> None:
    p = tmp_path / "f.rss"
    p.write_text(feed(item("a", extra="<itunes:duration>forever</itunes:duration>")), "utf-8")
    data = read_catalog(p)
    assert data.episodes[0].duration_s is None
    assert any("unparseable duration 'forever'" in w for w in data.warnings)


def test_hash_id_when_nothing_else(tmp_path: Path) -> None:
    p = tmp_path / "f.rss"
    p.write_text(feed(item(title="Only a title", extra="<pubDate>2020-01-01</pubDate>")), "utf-8")
    first = read_catalog(p).episodes[0].episode_id
    assert first.startswith("sha1:")
    assert read_catalog(p).episodes[0].episode_id == first  # stable across runs


def test_media_content_audio_and_relative_url(tmp_path: Path) -> None:
    media = (
        '<media:content xmlns:media="http://search.yahoo.com/mrss/" '
        'url="http://a.example/m.mp3" type="audio/mpeg"/>'
    )
    rel = '<enclosure url="ep2.mp3" type="audio/mpeg"/>'
    p = tmp_path / "f.rss"
    p.write_text(feed(item("a", extra=media) + item("b", extra=rel)), "utf-8")
    data = read_catalog(p)
    assert [e.audio_url for e in data.episodes] == ["http://a.example/m.mp3", "ep2.mp3"]
    assert any("relative audio URL 'ep2.mp3' kept as is" in w for w in data.warnings)


def test_relative_url_resolved_against_the_feed_url(monkeypatch: pytest.MonkeyPatch) -> None:
    body = feed(item("a", extra='<enclosure url="audio/ep.mp3" type="audio/mpeg"/>'))
    fetched: list[str] = []

    def fake_fetch(url: str) -> tuple[bytes, str]:
        fetched.append(url)
        return body.encode(), "https://host.example/podcast/feed.xml"

    monkeypatch.setattr(rss, "_fetch", fake_fetch)
    data = read_catalog("https://host.example/feed")
    assert fetched == ["https://host.example/feed"]
    (show,) = data.shows
    assert show.show_id == "https://host.example/feed"  # no id/self link: the feed URL
    assert data.episodes[0].audio_url == "https://host.example/podcast/audio/ep.mp3"
    assert data.episodes[0].source == "https://host.example/feed"


def test_fetch_failure_is_a_catalog_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(url: str) -> tuple[bytes, str]:
        raise CatalogError(f"cannot fetch feed {url}: connection refused")

    monkeypatch.setattr(rss, "_fetch", broken)
    with pytest.raises(CatalogError, match="cannot fetch feed"):
        read_catalog("http://unreachable.example/feed.xml")


@pytest.mark.parametrize(
    "content",
    [
        "<html><head><title>Not a feed</title></head><body><p>Hello</p></body></html>",
        '{"json": "is not a feed"}',
        "",
        "\x00\x01\x02 binary junk",
    ],
)
def test_not_a_feed_alone_is_a_catalog_error(tmp_path: Path, content: str) -> None:
    p = tmp_path / "page.xml"
    p.write_text(content, "utf-8")
    with pytest.raises(CatalogError, match="not an RSS or Atom feed"):
        read_catalog(p)


def test_directory_of_feeds_reports_a_bad_one_and_reads_the_rest(tmp_path: Path) -> None:
    (tmp_path / "a.rss").write_text(feed(item("1") + item("2"), "<title>A</title>"), "utf-8")
    (tmp_path / "b.xml").write_text("<html><body>oops</body></html>", "utf-8")
    (tmp_path / "c.atom").write_text((DATA / "feed_tiny.atom").read_text("utf-8"), "utf-8")
    (tmp_path / "notes.txt").write_text("ignored", "utf-8")
    data = read_catalog(tmp_path)
    assert_balanced(data)
    assert data.read == 4
    assert len(data.episodes) == 3
    assert [(s.where, s.reason.split(" (")[0]) for s in data.skipped] == [
        ("b.xml", "not a feed: b.xml is not an RSS or Atom feed")
    ]
    assert any(w.startswith("b.xml: not imported") for w in data.warnings)
    assert any("ignored 1 file(s) that are not feeds (.txt)" in w for w in data.warnings)
    assert [s.title for s in data.shows] == ["A", "Atom Cast"]


def test_same_guid_in_two_feeds_is_namespaced_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "a.rss").write_text(feed(item("1", "A one"), "<title>A</title>"), "utf-8")
    (tmp_path / "b.rss").write_text(feed(item("1", "B one"), "<title>B</title>"), "utf-8")
    data = read_catalog(tmp_path)
    assert_balanced(data)
    assert [e.episode_id for e in data.episodes] == ["1", "b.rss#1"]
    assert any("also used by another feed" in w for w in data.warnings)


def test_same_feed_twice_in_a_directory_is_a_duplicate(tmp_path: Path) -> None:
    for name in ("a.atom", "b.atom"):
        (tmp_path / name).write_text((DATA / "feed_tiny.atom").read_text("utf-8"), "utf-8")
    data = read_catalog(tmp_path)
    assert_balanced(data)
    assert len(data.episodes) == 1
    assert reasons(data) == ["duplicate id"]


def test_feed_without_title_or_items(tmp_path: Path) -> None:
    p = tmp_path / "bare.rss"
    p.write_text(feed("", channel="<language>de</language>"), "utf-8")
    data = read_catalog(p)
    assert_balanced(data)
    assert (data.read, data.episodes, data.shows) == (0, [], [])
    assert "bare.rss: feed has no title; using 'bare'" in data.warnings
    assert "bare.rss: feed has no episodes" in data.warnings


def test_malformed_xml_is_read_leniently(tmp_path: Path) -> None:
    # An undeclared namespace prefix: strict XML parsing fails, feedparser recovers.
    p = tmp_path / "loose.rss"
    p.write_text(
        "<rss><channel><title>Loose</title><item><title>Ep</title><guid>g</guid>"
        "<podcast:season>2</podcast:season></item></channel></rss>",
        "utf-8",
    )
    data = read_catalog(p)
    assert [e.title for e in data.episodes] == ["Ep"]
    assert any("malformed XML" in w and "read leniently" in w for w in data.warnings)


def test_id_prefix_and_language_fallback(tmp_path: Path) -> None:
    p = tmp_path / "f.rss"
    p.write_text(feed(item("x", "Ep")), "utf-8")
    data = read_catalog(p, id_prefix="rss:", language="sv")
    assert data.episodes[0].episode_id == "rss:x"
    assert data.shows[0].show_id == "rss:f.rss"
    assert data.episodes[0].language == "sv"  # no language in the feed, too short to detect
