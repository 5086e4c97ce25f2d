"""Property-based tests (hypothesis) on every catalog reader, on query cleaning and on filter
parsing: whatever the input, the only exception is the documented one (CatalogError for a
file that cannot be read at all, QueryError for a bad query or filter), and the row
accounting holds: imported + updated + unchanged + skipped = read, through the store.
"""

from __future__ import annotations

import csv
import io
import json
import string
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from podsearch.catalog import read_catalog
from podsearch.catalog.base import CatalogData
from podsearch.errors import CatalogError, QueryError
from podsearch.search.filters import make_filters
from podsearch.search.searcher import MAX_QUERY_CHARS, clean_query
from podsearch.store import CatalogStore

# Examples per property: enough to hit the odd cases, few enough for a 2-core machine.
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

FIELDS = ["episode_id", "title", "description", "show_id", "show_title", "language",
          "categories", "pub_date", "audio_url", "duration", "id", "name", "guid"]  # fmt: skip
text = st.text(max_size=40)  # any code points, surrogates included
# JSON-able values of any shape, including the nested ones readers stumble on
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(text, kids, max_size=4),
    max_leaves=12,
)
# values the readers look at in particular: dates, durations, URLs
special = st.sampled_from([
    "2020-01-01", "0000-00-00", "9999-12-31T23:59:59Z", "-1", "1e308", "NaN", "01:02:03",
    "javascript:alert(1)", "file:///etc/passwd", "https://a.example/x.mp3", "", " ", "[]",
    "['a', 'b']", "{\"#\": \"x\"}", "&amp;lt;b&amp;gt;", "<script>x</script>", "\x00", "\ud800",
])  # fmt: skip


def check_accounting(data: CatalogData) -> None:
    """The reader's own count, then the store's classification of every row."""
    assert data.read == len(data.episodes) + len(data.skipped)
    with tempfile.TemporaryDirectory() as d:
        store = CatalogStore(Path(d) / "catalog.sqlite")
        try:
            for _ in range(2):  # the second ingest: everything unchanged
                rep = store.ingest(data)
                assert rep.imported + rep.updated + rep.unchanged + rep.skipped_count == rep.read
                assert rep.read == data.read
        finally:
            store.close()


def read_or_refuse(path: Path, fmt: str) -> None:
    try:
        data = read_catalog(path, fmt=fmt)
    except CatalogError:
        return  # the whole file refused with a reason: allowed
    check_accounting(data)


def _write_bytes(data: bytes, suffix: str) -> Path:
    f = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)  # noqa: SIM115 - closed here
    with f:
        f.write(data)
    return Path(f.name)


# -- CSV ------------------------------------------------------------------------------------


@FAST
@given(
    header=st.lists(st.sampled_from(FIELDS) | text, min_size=1, max_size=6),
    rows=st.lists(st.lists(text | special, max_size=8), max_size=12),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
)
def test_csv_reader(header: list[str], rows: list[list[str]], delimiter: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    w.writerow(header)
    w.writerows(rows)
    path = _write_bytes(buf.getvalue().encode("utf-8", "surrogatepass"), ".csv")
    try:
        read_or_refuse(path, "table")
    finally:
        path.unlink()


@FAST
@given(st.binary(max_size=400))
def test_csv_reader_on_bytes(data: bytes) -> None:
    path = _write_bytes(b"episode_id,title\n" + data, ".csv")
    try:
        read_or_refuse(path, "table")
    finally:
        path.unlink()


# -- JSON Lines -------------------------------------------------------------------------------


@FAST
@given(
    st.lists(
        st.dictionaries(st.sampled_from(FIELDS), json_values | special, max_size=8)
        | json_values
        | text,
        min_size=1,
        max_size=10,
    )
)
def test_jsonl_reader(lines: list[Any]) -> None:
    out = []
    for x in lines:
        out.append(x if isinstance(x, str) else json.dumps(x))
    data = "\n".join(s.replace("\n", " ") for s in out).encode("utf-8", "surrogatepass")
    path = _write_bytes(data, ".jsonl")
    try:
        read_or_refuse(path, "jsonl")
    finally:
        path.unlink()


@SLOW
@given(depth=st.integers(1, 60_000), good_rows=st.integers(1, 3))
def test_jsonl_reader_deep_rows(depth: int, good_rows: int) -> None:
    deep = '{"episode_id": "d", "title": "t", "x": ' + "[" * depth + "]" * depth + "}"
    good = [json.dumps({"episode_id": f"g{i}", "title": f"Good {i}"}) for i in range(good_rows)]
    path = _write_bytes("\n".join([deep, *good]).encode(), ".jsonl")
    try:
        data = read_catalog(path, fmt="jsonl")
        assert {f"g{i}" for i in range(good_rows)} <= {e.episode_id for e in data.episodes}
        check_accounting(data)
    finally:
        path.unlink()


# -- Parquet ----------------------------------------------------------------------------------

# Far beyond datetime's years 1-9999 in every unit, yet small enough that Parquet's coercion of
# timestamp[s] to [ms] on write does not overflow int64 (that would fail the test, not the reader).
_TS_RANGE = st.integers(-(2**53), 2**53)


@SLOW
@given(
    ids=st.lists(text | st.none(), min_size=1, max_size=8),
    titles=st.lists(text | special | st.none(), min_size=8, max_size=8),
    seconds=st.lists(_TS_RANGE | st.none(), min_size=8, max_size=8),
    durations=st.lists(st.floats(allow_nan=True) | st.none(), min_size=8, max_size=8),
    unit=st.sampled_from(["s", "ms", "us"]),
)
def test_parquet_reader(
    ids: list[str | None],
    titles: list[str | None],
    seconds: list[int | None],
    durations: list[float | None],
    unit: str,
) -> None:
    n = len(ids)

    def clean(values: list[Any]) -> list[Any]:  # Parquet strings must be valid UTF-8
        return [v.encode("utf-8", "replace").decode() if isinstance(v, str) else v
                for v in values[:n]]  # fmt: skip

    table = pa.table({
        "episode_id": pa.array(clean(ids), pa.string()),
        "title": pa.array(clean(titles), pa.string()),
        "pub_date": pa.array(seconds[:n], pa.timestamp(unit)),
        "duration": pa.array(durations[:n], pa.float64()),
    })  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.parquet"
        pq.write_table(table, path)
        read_or_refuse(path, "parquet")


# -- RSS / Atom -------------------------------------------------------------------------------


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


item_parts = st.fixed_dictionaries(
    {},
    optional={
        "guid": text | special,
        "title": text | special,
        "description": text | special,
        "pubDate": text | special,
        "enclosure": text | special,
        "itunes:duration": text | special,
    },
)


@FAST
@given(
    channel_title=text,
    items=st.lists(item_parts, max_size=6),
    raw=st.booleans(),
)
def test_rss_reader(channel_title: str, items: list[dict[str, str]], raw: bool) -> None:
    def esc(s: str) -> str:
        return s if raw else _xml_escape(s)  # raw: the text is dropped into the XML as is

    body = []
    for it in items:
        parts = []
        for k, v in it.items():
            if k == "enclosure":
                parts.append(f'<enclosure url="{_xml_escape(v)}" type="audio/mpeg"/>')
            else:
                parts.append(f"<{k}>{esc(v)}</{k}>")
        body.append("<item>" + "".join(parts) + "</item>")
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel>'
        f"<title>{esc(channel_title)}</title>{''.join(body)}</channel></rss>"
    )
    path = _write_bytes(doc.encode("utf-8", "surrogatepass"), ".rss")
    try:
        read_or_refuse(path, "feed")
    finally:
        path.unlink()


@FAST
@given(st.binary(max_size=600))
def test_rss_reader_on_bytes(data: bytes) -> None:
    path = _write_bytes(b'<?xml version="1.0"?><rss version="2.0"><channel>' + data, ".rss")
    try:
        read_or_refuse(path, "feed")
    finally:
        path.unlink()


# -- query cleaning ---------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=1200) | st.binary(max_size=50) | st.integers() | st.none())
def test_clean_query(query: Any) -> None:
    try:
        q = clean_query(query)
    except QueryError:
        return
    assert isinstance(query, str)
    assert q and q == q.strip() and len(q) <= MAX_QUERY_CHARS
    assert "  " not in q
    assert all(ch >= " " and not ("\ud800" <= ch <= "\udfff") for ch in q)
    q.encode("utf-8")  # printable, storable, sendable
    assert clean_query(q) == q  # idempotent


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_keyword_query_preparation(query: str) -> None:
    from podsearch.index.tantivy_index import prepare_query

    words = prepare_query(query)
    assert all(ch.isalnum() or ch == "_" or ch == " " for ch in words)  # no engine syntax


@pytest.fixture(scope="module")
def keyword_index(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from podsearch.index.base import KeywordDoc
    from podsearch.index.tantivy_index import TantivyKeywordIndex
    from podsearch.models import DocPayload, Episode

    kw = TantivyKeywordIndex(tmp_path_factory.mktemp("kw"))
    eps = [
        Episode(episode_id=f"e{i}", show_id="s", title=t, description=t, language=lang)
        for i, (t, lang) in enumerate([("Sourdough bread", "en"), ("Schlaf und Gesundheit", "de"),
                                       ("睡眠と健康", "ja"), ("AND OR NOT title:x", "en")])
    ]  # fmt: skip
    kw.upsert([KeywordDoc(e.episode_id, e.title, e.text, DocPayload.of(e)) for e in eps])
    kw.commit()
    yield kw
    kw.close()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    query=st.text(max_size=200) | st.sampled_from(["title:x", '"unclosed', "a AND (b", "*", "~2"])
)
def test_keyword_search_never_raises(keyword_index: Any, query: str) -> None:
    try:
        q = clean_query(query)
    except QueryError:
        return
    hits = keyword_index.search(q, 5)
    assert all(isinstance(i, str) for i, _ in hits)
    keyword_index.search_fuzzy(q, 5)


# -- filter parsing ---------------------------------------------------------------------------

dates = (
    text
    | special
    | st.dates().map(lambda d: d.isoformat())
    | st.dates()
    | st.datetimes()
    | st.none()
)


@settings(max_examples=300, deadline=None)
@given(
    langs=st.lists(text | special, max_size=4) | st.none(),
    shows=st.lists(text, max_size=4) | st.none(),
    cats=st.lists(text, max_size=4) | st.none(),
    date_from=dates,
    date_to=dates,
)
def test_filter_parsing(
    langs: list[str] | None,
    shows: list[str] | None,
    cats: list[str] | None,
    date_from: str | date | datetime | None,
    date_to: str | date | datetime | None,
) -> None:
    try:
        f = make_filters(langs, shows, cats, date_from, date_to)
    except QueryError:
        return
    assert all(v and v == v.strip() for v in (*f.languages, *f.show_ids, *f.categories))
    if f.date_from and f.date_to:
        assert f.date_from <= f.date_to
    for d in (f.date_from, f.date_to):
        assert d is None or d.tzinfo is not None


@settings(max_examples=150, deadline=None)
@given(
    date_from=st.text(alphabet=string.digits + "-T:Z+. ", max_size=25) | st.integers(),
    date_to=st.text(alphabet=string.digits + "-T:Z+. ", max_size=25) | st.integers(),
)
def test_api_filter_params(date_from: Any, date_to: Any) -> None:
    """The HTTP edge: a 422 (pydantic ValidationError) or valid filters, nothing else."""
    from pydantic import ValidationError

    from podsearch.api.schemas import FilterParams

    try:
        p = FilterParams(date_from=date_from, date_to=date_to)
    except ValidationError:
        return
    assume(p.date_from is not None or p.date_to is not None)
    for d in (p.date_from, p.date_to):
        assert d is None or isinstance(d, date)
    p.filters()
