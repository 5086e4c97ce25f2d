"""The readers on the real corpora in ../shared/data (skipped when it is absent)."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from catalog_helpers import assert_balanced, real_data, reasons

from podsearch.catalog import read_catalog
from podsearch.catalog.clean import html_to_text
from podsearch.errors import CatalogError

pytestmark = pytest.mark.realdata

# Where podsearch deliberately differs from podcastparser's expectations (the .json files).
EXTRA_EPISODES = {
    "no_enclosure": "an item without audio is kept: its text is still searchable",
    "no_title_multi_enclosure": "an item without title is titled after its audio file",
    "max_episodes": "max_episodes is a podcastparser option (max_episodes.param.json)",
}


def _feeds() -> list[Path]:
    folder = real_data("rss-feeds")
    feeds = sorted(folder.glob("*.rss"))
    assert len(feeds) == 70
    return feeds


def test_every_rss_feed_imports_or_is_rejected_with_a_reason() -> None:
    outcomes: dict[str, str] = {}
    for path in _feeds():
        try:
            data = read_catalog(path)
        except CatalogError as e:  # rejected as a whole: the message is the reason
            assert str(e)
            outcomes[path.stem] = f"rejected: {e}"
            continue
        assert_balanced(data)
        for s in data.skipped:
            assert s.reason and s.where.startswith(path.name)
        _check_against_expectations(path, data)
        outcomes[path.stem] = f"{len(data.episodes)} imported, {len(data.skipped)} skipped"
    assert len(outcomes) == 70


def _check_against_expectations(path: Path, data) -> None:  # type: ignore[no-untyped-def]
    expected = json.loads(path.with_suffix(".json").read_text("utf-8"))
    want = expected["episodes"]
    if path.stem in EXTRA_EPISODES:
        assert len(data.episodes) > len(want), path.stem
    else:
        assert len(data.episodes) == len(want), path.stem
    if data.shows and expected.get("title"):
        assert data.shows[0].title == expected["title"], path.stem
    for exp in want:
        matches = [e for e in data.episodes if e.title == exp["title"]]
        assert matches, (path.stem, exp["title"])
        ep = matches[0]
        assert (ep.duration_s or 0) == exp["total_time"], path.stem
        if exp["published"]:
            assert ep.pub_date == datetime.fromtimestamp(exp["published"], tz=UTC), path.stem
        if exp.get("description"):
            # We prefer content:encoded (the full show notes) over a plain description.
            html = exp.get("description_html")
            assert ep.description in (exp["description"], html_to_text(html)), path.stem
        audio = [x["url"] for x in exp["enclosures"] if not x["mime_type"].startswith("image/")]
        if audio and audio[0].startswith("http"):
            assert ep.audio_url == audio[0], path.stem


def test_the_rss_folder_as_one_catalog() -> None:
    folder = real_data("rss-feeds")
    data = read_catalog(folder)
    assert_balanced(data)
    assert sum(read_catalog(p).read for p in _feeds()) == data.read
    # The three atom_* feeds are one feed (same feed id and entry id): two duplicates.
    assert Counter(reasons(data)) == {"duplicate id": 2, "missing id": 1}
    assert len(data.episodes) == 53
    assert len({e.episode_id for e in data.episodes}) == 53


def test_listennotes_sample() -> None:
    data = read_catalog(real_data("listennotes-2017-12-sample"))
    assert_balanced(data)
    assert (data.read, len(data.episodes), len(data.skipped)) == (5633, 5633, 0)
    assert len(data.shows) == 813  # of 1,000 shows in podcasts.csv; the rest have no episodes
    languages = Counter(e.language for e in data.episodes)
    twelve = {"en", "de", "es", "fr", "nl", "it", "ru", "pt", "zh", "tr", "sv", "pl"}
    assert set(languages) <= twelve
    assert languages["en"] > 5000
    assert all(e.pub_date and e.pub_date.strftime("%Y-%m") == "2017-12" for e in data.episodes)
    junk = ("<script", "document.", "function(")
    assert not any(j in e.description for e in data.episodes for j in junk)
    assert sum(e.duration_s is not None for e in data.episodes) > 5500


def test_taddy_parquet() -> None:
    data = read_catalog(real_data("taddy-episodes-sample", "podcastepisode.parquet"))
    assert_balanced(data)
    assert data.read == 10544
    assert Counter(reasons(data)) == {"missing title": 114}
    assert len(data.episodes) == 10430
    assert len(data.shows) == 1997
    with_language = sum(bool(e.language) for e in data.episodes)
    assert with_language > 0.85 * len(data.episodes)  # detected: the file has no language
    assert len({e.language for e in data.episodes}) > 15
    dates = [e.pub_date for e in data.episodes if e.pub_date]
    assert len(dates) == 10428
    assert min(dates).year == 1979 and max(dates).year == 2023
    assert not any(e.description.startswith('{"') for e in data.episodes)


def test_spotify_tsv() -> None:
    data = read_catalog(real_data("spotify-podcasts-metadata-sample", "metadata.tsv"))
    assert_balanced(data)
    assert (data.read, len(data.episodes), len(data.shows)) == (750, 750, 15)
    assert {e.language for e in data.episodes} == {"en"}
    minutes = statistics.median(e.duration_s or 0 for e in data.episodes) / 60
    assert 10 < minutes < 90  # read as minutes, not seconds
    assert all(e.show_title and e.show_description for e in data.episodes)


def test_sommar_csv_with_a_literal_show() -> None:
    mapping = {
        "episode_id": "sr_episode_id",
        "title": "source_title",
        "show_title": "=Sommar & Vinter i P1",
    }
    data = read_catalog(real_data("sommar-i-p1", "episodes.csv"), mapping=mapping)
    assert_balanced(data)
    assert (data.read, len(data.episodes), len(data.skipped)) == (1978, 1978, 0)
    (show,) = data.shows
    assert (show.title, show.language) == ("Sommar & Vinter i P1", "sv")
    assert Counter(e.language for e in data.episodes)["sv"] > 0.95 * 1978
    assert all(e.audio_url.endswith(".mp3") and e.duration_s for e in data.episodes)
