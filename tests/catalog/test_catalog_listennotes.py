"""The Listen Notes reader: the join, and every way a row can be bad."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from catalog_helpers import DATA, assert_balanced, reasons

from podsearch.catalog import read_catalog
from podsearch.catalog.clean import MAX_TEXT_CHARS
from podsearch.catalog.listennotes import EPISODE_COLUMNS, PODCAST_COLUMNS, read_listennotes
from podsearch.errors import CatalogError

TINY = DATA / "listennotes_tiny"

SHOW_ROW = ["1", "Show One", "", "About show one.", "English", "Comedy", "", "", ""]


def write(
    folder: Path,
    episodes: list[list[str]],
    shows: list[list[str]] | None = None,
    *,
    episode_header: list[str] | None = None,
    podcast_header: list[str] | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, header, rows in (
        ("podcasts.csv", podcast_header or list(PODCAST_COLUMNS), shows or [SHOW_ROW]),
        ("episodes.csv", episode_header or list(EPISODE_COLUMNS), episodes),
    ):
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        w.writerows(rows)
        (folder / name).write_text(buf.getvalue(), encoding="utf-8")
    return folder


def ep(eid: str, title: str = "A title", show: str = "1", **kw: str) -> list[str]:
    return [
        eid,
        show,
        title,
        kw.get("audio", f"http://a.example/{eid}.mp3"),
        kw.get("length", "60"),
        kw.get("description", "Some words."),
        kw.get("date", "2017-12-01 00:00:00+00"),
    ]


def test_tiny_fixture_join_hand_checked() -> None:
    data = read_catalog(TINY)
    assert_balanced(data)
    assert (data.read, len(data.episodes), data.skipped) == (8, 8, [])
    assert [s.show_id for s in data.shows] == ["1", "2", "3"]
    assert data.warnings == []

    by_id = {e.episode_id: e for e in data.episodes}
    assert sorted(by_id) == ["101", "102", "103", "201", "202", "301", "302", "303"]

    e = by_id["101"]
    assert e.show_id == "1"
    assert e.title == "Sourdough basics"
    assert e.description == "How to start a sourdough starter."  # <script> content gone
    assert e.show_title == "Cooking Hour"
    assert e.show_description == "A show about cooking & baking."
    assert e.language == "en"
    assert e.categories == ("Arts", "Food")
    assert e.pub_date == datetime(2017, 12, 1, 10, 0, tzinfo=UTC)
    assert e.audio_url == "http://audio.example/101.mp3"
    assert e.duration_s == 1800
    assert e.source == "listennotes_tiny"
    assert e.text == (
        "Sourdough basics. How to start a sourdough starter. Cooking Hour. "
        "A show about cooking & baking."
    )

    assert by_id["102"].pub_date == datetime(2017, 12, 1, 17, 30, tzinfo=UTC)  # -0500
    assert by_id["103"].duration_s is None and by_id["103"].description == ""
    assert by_id["202"].description == "Europa und die Zukunft"  # escaped HTML
    assert by_id["202"].language == "de"
    assert by_id["302"].pub_date == datetime(2017, 12, 5, 18, 53, 20, tzinfo=UTC)  # epoch
    assert by_id["303"].pub_date == datetime(2017, 12, 7, tzinfo=UTC)

    shows = {s.show_id: s for s in data.shows}
    assert shows["1"].author == "Ann Chef"
    assert shows["1"].image == "http://img.example/1.jpg"
    assert shows["2"].language == "de"
    assert shows["3"].language == "es"
    assert shows["3"].categories == ("Science", "Natural Sciences")  # empty part dropped


def test_id_prefix_applies_to_episodes_and_shows() -> None:
    data = read_catalog(TINY, id_prefix="ln:")
    assert all(e.episode_id.startswith("ln:") for e in data.episodes)
    assert all(e.show_id.startswith("ln:") for e in data.episodes)
    assert [s.show_id for s in data.shows] == ["ln:1", "ln:2", "ln:3"]
    assert {e.show_id for e in data.episodes} == {s.show_id for s in data.shows}


def test_each_skip_reason(tmp_path: Path) -> None:
    rows = [
        ep("1"),
        ep("", title="No id and no audio", audio=""),
        ep("3", title=""),
        ep("4", title="<p> </p>"),  # nothing left after cleaning
        ep("1", title="Second occurrence"),
        ep("6", show="99"),
        ep("7", show=""),
    ]
    data = read_catalog(write(tmp_path / "c", rows))
    assert_balanced(data)
    assert [e.episode_id for e in data.episodes] == ["1"]
    assert reasons(data) == [
        "missing id",
        "missing title",
        "missing title",
        "duplicate id",
        "orphan episode",
        "orphan episode",
    ]
    dup = data.skipped[3]
    assert dup.where == "episodes.csv:6"
    assert dup.record_id == "1"
    assert "first at episodes.csv:2" in dup.reason
    assert data.skipped[4].reason == "orphan episode: show 99 not in podcasts.csv"


def test_missing_id_is_derived_from_audio(tmp_path: Path) -> None:
    data = read_catalog(write(tmp_path / "c", [ep("", audio="http://a.example/x.mp3")]))
    assert [e.episode_id for e in data.episodes] == ["http://a.example/x.mp3"]
    assert any("no id; using its audio URL" in w for w in data.warnings)


def test_malformed_rows_are_skipped_with_the_line(tmp_path: Path) -> None:
    folder = write(tmp_path / "c", [])
    header = ",".join(EPISODE_COLUMNS)
    (folder / "episodes.csv").write_text(
        f"{header}\n"
        "1,1,Good,http://a/1.mp3,60,Fine.,2017-12-01\n"
        "2,1,Too few fields\n"
        "3,1,Too,many,fields,here,x,y,z\n"
        "\n"
        '4,1,"Multi\nline title",http://a/4.mp3,60,"Two\nlines",2017-12-01\n'
        "5,1,Last,http://a/5.mp3,60,Fine.,2017-12-01\n",
        encoding="utf-8",
    )
    data = read_catalog(folder)
    assert_balanced(data)
    assert [e.episode_id for e in data.episodes] == ["1", "4", "5"]
    assert [(s.where, s.reason) for s in data.skipped] == [
        ("episodes.csv:3", "malformed row: 3 fields, expected 7"),
        ("episodes.csv:4", "malformed row: 9 fields, expected 7"),
    ]
    assert data.episodes[1].title == "Multi line title"


def test_show_problems_are_reported(tmp_path: Path) -> None:
    shows = [
        SHOW_ROW,
        ["1", "Duplicate show", "", "", "English", "", "", "", ""],
        ["", "No id", "", "", "English", "", "", "", ""],
        ["2", "Broken row"],
        ["3", "Unknown language", "", "", "Klingon", "", "", "", ""],
    ]
    rows = [ep("a"), ep("b", show="2"), ep("c", show="3", title="Tea time with the crew")]
    data = read_catalog(write(tmp_path / "c", rows, shows))
    assert_balanced(data)
    assert [e.episode_id for e in data.episodes] == ["a", "c"]
    assert data.skipped[0].reason.startswith("orphan episode: show 2 was not read")
    assert any("duplicate show id '1'" in w for w in data.warnings)
    assert any("show not read: missing id" in w for w in data.warnings)
    assert any("unknown language 'Klingon'" in w for w in data.warnings)
    assert data.episodes[0].show_title == "Show One"  # the first one is kept


def test_invalid_utf8_is_replaced_and_reported(tmp_path: Path) -> None:
    folder = write(tmp_path / "c", [])
    header = ",".join(EPISODE_COLUMNS).encode()
    (folder / "episodes.csv").write_bytes(
        header + b"\n"
        b"1,1,Caf\xe9 culture,http://a/1.mp3,60,Latin-1 bytes \xe9\xe8,2017-12-01\n"
        b"2,1,Fine,http://a/2.mp3,60,\xc3\xa9 is UTF-8,2017-12-01\n"
    )
    data = read_catalog(folder)
    assert_balanced(data)
    assert [e.title for e in data.episodes] == ["Caf\ufffd culture", "Fine"]
    assert data.episodes[1].description == "é is UTF-8"
    assert any("episodes.csv line 2: invalid UTF-8" in w for w in data.warnings)


def test_utf8_bom_and_utf16(tmp_path: Path) -> None:
    folder = write(tmp_path / "c", [ep("1", title="Ünïcode")])
    text = (folder / "episodes.csv").read_text(encoding="utf-8")
    (folder / "episodes.csv").write_bytes("\ufeff".encode() + text.encode("utf-8"))
    assert read_catalog(folder).episodes[0].title == "Ünïcode"
    (folder / "episodes.csv").write_text(text, encoding="utf-16")
    data = read_catalog(folder)
    assert [e.title for e in data.episodes] == ["Ünïcode"]


def test_missing_required_column_names_found_and_expected(tmp_path: Path) -> None:
    header = ["id", "title", "audio"]
    folder = write(tmp_path / "c", [["1", "T", "x"]], episode_header=header)
    with pytest.raises(CatalogError) as e:
        read_catalog(folder)
    msg = str(e.value)
    assert "missing required column(s) podcast_id" in msg
    assert "found: id, title, audio" in msg
    assert "expected: id,podcast_id,title" in msg


def test_missing_optional_column_is_a_warning(tmp_path: Path) -> None:
    header = ["id", "podcast_id", "title"]
    data = read_catalog(write(tmp_path / "c", [["1", "1", "T"]], episode_header=header))
    assert len(data.episodes) == 1
    assert any("no column(s) audio, audio_length" in w for w in data.warnings)


def test_missing_file(tmp_path: Path) -> None:
    folder = write(tmp_path / "c", [ep("1")])
    (folder / "podcasts.csv").unlink()
    with pytest.raises(CatalogError, match=r"missing podcasts.csv"):
        read_listennotes(folder)


def test_empty_file(tmp_path: Path) -> None:
    folder = write(tmp_path / "c", [ep("1")])
    (folder / "episodes.csv").write_text("", encoding="utf-8")
    with pytest.raises(CatalogError, match="empty"):
        read_listennotes(folder)


def test_one_megabyte_description_is_kept_but_capped(tmp_path: Path) -> None:
    big = "<p>" + "podcast words here " * 55_000 + "</p>"
    assert len(big) > 1_000_000
    data = read_catalog(write(tmp_path / "c", [ep("1", description=big), ep("2")]))
    assert_balanced(data)
    assert len(data.episodes) == 2
    desc = data.episodes[0].description
    assert MAX_TEXT_CHARS - 200 < len(desc) <= MAX_TEXT_CHARS + 2
    assert desc.startswith("podcast words here")
    assert "episodes.csv:2: description of 1,044,999 chars capped at 20,000" in data.warnings


def test_unparseable_date_keeps_the_episode_with_a_warning(tmp_path: Path) -> None:
    rows = [ep("1", date="yesterday-ish"), ep("2", date=""), ep("3", length="about an hour")]
    data = read_catalog(write(tmp_path / "c", rows))
    assert_balanced(data)
    assert [e.pub_date for e in data.episodes] == [None, None, datetime(2017, 12, 1, tzinfo=UTC)]
    assert data.episodes[2].duration_s is None
    assert [w for w in data.warnings if "unparseable" in w] == [
        "episodes.csv:2: unparseable pub_date 'yesterday-ish'; episode kept without a date",
        "episodes.csv:4: unparseable duration 'about an hour'; episode kept without a duration",
    ]


def test_shows_without_episodes_are_left_out_with_a_warning(tmp_path: Path) -> None:
    shows = [SHOW_ROW, ["2", "Silent show", "", "", "English", "", "", "", ""]]
    data = read_catalog(write(tmp_path / "c", [ep("1")], shows))
    assert [s.show_id for s in data.shows] == ["1"]
    assert "1 show(s) have no imported episodes and were left out" in data.warnings
