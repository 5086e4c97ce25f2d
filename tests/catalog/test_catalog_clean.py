"""Field cleaning: HTML to text, languages, dates, durations, categories."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from podsearch.catalog.clean import (
    MAX_TEXT_CHARS,
    DateError,
    DurationError,
    cap_text,
    detect_language,
    html_to_text,
    normalize_language,
    parse_date,
    parse_duration,
    slugify,
    split_categories,
    stable_id,
)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("<p>Hello<br>world</p><p>again</p>", "Hello world again"),
        ("<b>bold</b>ly <i>it</i>alic", "boldly italic"),
        ("<p>Keep</p><script>var x = 1; document.write('x')</script>", "Keep"),
        ("<style>p { color: red }</style><p>Styled</p>", "Styled"),
        ("<noscript>Enable JS!</noscript>Text", "Text"),
        ("A &amp; B &lt;Name&gt; &#8220;quoted&#8221; caf&eacute;", "A & B <Name> “quoted” café"),
        ("&lt;p&gt;Escaped &lt;b&gt;HTML&lt;/b&gt;&lt;/p&gt;", "Escaped HTML"),
        ("Double &amp;#8211; escaped", "Double – escaped"),
        ("zero\u200bwidth\ufeff and\u00adsoft\x00nul\x07bell", "zerowidth andsoftnulbell"),
        ("  lots \n\n of\t\twhite   space  ", "lots of white space"),
        ("non\u00a0breaking", "non breaking"),
        ("R&B, AT&T and Q&A stay", "R&B, AT&T and Q&A stay"),
        ("1 < 2 and 3 > 2 <3", "1 < 2 and 3 > 2 <3"),
        ("", ""),
        (None, ""),
    ],
)
def test_html_to_text(raw: str | None, text: str) -> None:
    assert html_to_text(raw) == text


def test_html_to_text_drops_player_junk_seen_in_listen_notes() -> None:
    # As in real Listen Notes descriptions (WordPress audio player + ad loader).
    raw = (
        "<p>In this episode DJ talks holidays<br />\n"
        "<!--[if lt IE 9]><script>document.createElement('audio');</script><![endif]-->\n"
        '<audio class="wp-audio-shortcode" controls="controls"><source type="audio/mpeg" '
        'src="http://x.example/a.mp3?_=1" /><a href="http://x.example/a.mp3">'
        "http://x.example/a.mp3</a></audio></p>"
        '<script type="text/javascript">(function(){var c=function(){var a=document.'
        'getElementById("crt-1");window.Criteo.DisplayAcceptableAdIfAdblocked({zoneid:1})};'
        "c()})();</script>"
    )
    assert html_to_text(raw) == "In this episode DJ talks holidays"


def test_html_to_text_unwraps_json_wrapped_text_seen_in_taddy() -> None:
    raw = '{"#":" Download this set: www.example.com \\n Subscribe", "@xmlns:content": "http://x"}'
    assert html_to_text(raw) == "Download this set: www.example.com Subscribe"


def test_html_to_text_removes_cut_markers_and_cut_tags() -> None:
    assert html_to_text("<p>Text that was cut</p>\n   <...") == "Text that was cut"
    assert html_to_text('Cut here <a href="http://exa') == "Cut here"
    assert html_to_text("<p>unclosed <script>var a = 1; more") == "unclosed"


def test_cap_text() -> None:
    short, capped = cap_text("a few words")
    assert (short, capped) == ("a few words", False)
    long_text = "word " * 10_000
    cut, capped = cap_text(long_text.strip())
    assert capped
    assert len(cut) <= MAX_TEXT_CHARS + 2
    assert cut.endswith(" …")
    assert not cut[:-2].endswith("wor")  # cut at a word boundary


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("en", "en"),
        ("en-us", "en"),
        ("EN_GB", "en"),
        ("English", "en"),
        ("english (US)", "en"),
        ("Deutsch", "de"),
        ("German", "de"),
        ("Chinese", "zh"),
        ("zh-Hans", "zh"),
        ("pt-BR", "pt"),
        ("eng", "en"),
        ("swe", "sv"),
        ("iw", "he"),
        ("['en']", "en"),
        ("['en-AU']", "en"),
        ('["de", "en"]', "de"),
        (["", "fr"], "fr"),
        ("de, en", "de"),
        ("Klingon", ""),
        ("xx", ""),
        ("", ""),
        (None, ""),
        ("[]", ""),
    ],
)
def test_normalize_language(value: object, code: str) -> None:
    assert normalize_language(value) == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("A weekly conversation about cooking, baking and the science of bread.", "en"),
        ("Wir sprechen jede Woche über Politik, Wirtschaft und die Gesellschaft.", "de"),
        ("Det äldsta programmet i Sommars arkiv! Radioprofilen spelar plattor.", "sv"),
        ("Un viaje por las galaxias y los misterios del universo cada semana.", "es"),
    ],
)
def test_detect_language(text: str, code: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["", "Episode 12", "12345 67890 !!!", "Ep. 3"])
def test_detect_language_needs_enough_text(text: str) -> None:
    assert detect_language(text) == ""


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Wed, 27 Apr 2011 07:00:00 GMT", _utc(2011, 4, 27, 7)),
        ("Mon, 6 Jul 2020 04:00:00 -0000", _utc(2020, 7, 6, 4)),
        ("Fri, 01 Dec 2017 12:30:00 -0500", _utc(2017, 12, 1, 17, 30)),
        ("Tue, 05 Dec 2017 10:00:00 PST", _utc(2017, 12, 5, 18)),
        ("2017-12-01 00:09:47+00", _utc(2017, 12, 1, 0, 9, 47)),
        ("2003-12-13T18:30:02Z", _utc(2003, 12, 13, 18, 30, 2)),
        ("2017-12-01T10:00:00+02:00", _utc(2017, 12, 1, 8)),
        ("1960-06-13", _utc(1960, 6, 13)),
        ("20171201", _utc(2017, 12, 1)),
        ("December 5, 2017", _utc(2017, 12, 5)),
        ("1303887600", _utc(2011, 4, 27, 7)),
        ("1303887600000", _utc(2011, 4, 27, 7)),
        (1303887600, _utc(2011, 4, 27, 7)),
        (1303887600000, _utc(2011, 4, 27, 7)),
        (1303887600.0, _utc(2011, 4, 27, 7)),
        (datetime(2020, 1, 1, 12), _utc(2020, 1, 1, 12)),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_parse_date(value: object, expected: datetime | None) -> None:
    got = parse_date(value)
    assert got == expected
    if got is not None:
        assert got.tzinfo is UTC


@pytest.mark.parametrize(
    "value", ["not a date", "Sun, 31 Dec 2017 24:00:00 +0000", "3017-01-01", True, 10**20]
)
def test_parse_date_rejects(value: object) -> None:
    with pytest.raises(DateError):
        parse_date(value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3600", 3600),
        (2739, 2739),
        ("01:00:00", 3600),
        ("00:20:00", 1200),
        ("20:00", 1200),
        ("1:02:03.4", 3723),
        ("PT1H2M", 3720),
        ("1h 2m 3s", 3723),
        ("45 min", 2700),
        ("33.5", 34),
        ("0", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_duration(value: object, seconds: int | None) -> None:
    assert parse_duration(value) == seconds


def test_parse_duration_units() -> None:
    assert parse_duration(33.504216666666665, 60.0) == 2010
    assert parse_duration("1500", 0.001) == 2


@pytest.mark.parametrize("value", ["abc", "-5", "1:2:3:4", "soon"])
def test_parse_duration_rejects(value: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(value)


def test_split_categories() -> None:
    assert split_categories("Society & Culture | Personal Journals|society & culture| ") == (
        "Society & Culture",
        "Personal Journals",
    )
    assert split_categories("['Comedy', 'Arts']") == ("Comedy", "Arts")
    assert split_categories(["News", " Politics ", None, ""]) == ("News", "Politics")
    assert split_categories("a, b; c", "|;,") == ("a", "b", "c")
    assert split_categories(None) == ()


def test_ids() -> None:
    assert stable_id("a", "b") == stable_id("a", "b")
    assert stable_id("a", "b") != stable_id("ab", "")
    assert slugify("Sommar & Vinter i P1") == "sommar-vinter-i-p1"


def test_cached_language_identifier_answers_as_py3langid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unpacked model in the cache (fast start) classifies exactly as the LZMA one."""
    import copy

    from podsearch.catalog import clean

    monkeypatch.setenv("PODSEARCH_CACHE", str(tmp_path))
    fast = clean._load_identifier(cached=True)
    entry = tmp_path / "models" / "py3langid"
    assert (entry / "nextmove.npy").is_file() and (entry / "podsearch-build.json").is_file()
    fast = clean._load_identifier(cached=True)  # now read from the cache entry
    slow = clean._load_identifier(cached=False)
    texts = [
        "the history of the roman republic",
        "en sångerska som växte upp på landet",
        "entrevista con un músico de jazz",
        "Schwarze Löcher: wie Astronomen sie fotografieren",
        "日本語のポッドキャストです",
        "Как сохранить здоровье зимой",
        "",
        "1234 !!",
        "QUERY IN CAPITALS ABOUT COOKING",
    ]
    for text in texts:
        assert fast.classify(text) == slow.classify(text), text
        assert fast.rank(text)[:5] == slow.rank(text)[:5], text
    few_fast, few_slow = copy.copy(fast), copy.copy(slow)  # as the query classifier does
    few_fast.set_languages(["en", "sv", "es"])
    few_slow.set_languages(["en", "sv", "es"])
    for text in texts:
        assert few_fast.classify(text) == few_slow.classify(text), text
