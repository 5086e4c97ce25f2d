"""Hostile catalog rows and requests: one bad row is skipped with its reason and the rest is
ingested; unsafe links are never stored or handed out; the OpenAPI schema says what the
server enforces.

Before these fixes (issue 11's hostile-input run): a 50,000-deep JSON array in one JSONL row
and one out-of-range Parquet timestamp aborted the whole ingest; a JSON list was stored as
its Python repr (``['a', 'list']``); ``javascript:`` and ``file:`` audio URLs were stored and
served; the schema allowed an empty ``q``, an empty history and a numeric ``date_to``, and a
405 on ``/api/search`` listed only GET.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from podsearch.api.app import create_app
from podsearch.catalog import read_catalog
from podsearch.engine import Podsearch


def _jsonl(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", "utf-8")
    return path


def _row(eid: str, **extra: Any) -> str:
    return json.dumps({"episode_id": eid, "title": f"Episode {eid}", "show_id": "s", **extra})


# -- one bad row, the rest ingested --------------------------------------------------------


def test_deeply_nested_jsonl_row_is_skipped(tmp_path: Path) -> None:
    deep = '{"episode_id": "deep", "title": "t", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    data = read_catalog(_jsonl(tmp_path / "c.jsonl", [_row("a"), deep, _row("b")]))
    assert [e.episode_id for e in data.episodes] == ["a", "b"]
    (skip,) = data.skipped
    assert skip.where.endswith(":2") and "nested too deeply" in skip.reason
    assert data.read == 3


def test_deeply_nested_value_in_a_readable_row_is_flattened(tmp_path: Path) -> None:
    """500 levels parse fine; flattening them must not recurse either."""
    nested = "[" * 500 + '"deep words"' + "]" * 500
    row = '{"episode_id": "n", "title": "t", "description": ' + nested + "}"
    (ep,) = read_catalog(_jsonl(tmp_path / "c.jsonl", [row])).episodes
    assert ep.description == "deep words"


def test_out_of_range_parquet_timestamp_skips_that_row(tmp_path: Path) -> None:
    seconds = [1_500_000_000, 300 * 10**12, 1_600_000_000]  # the middle one: year ~9.5 million
    table = pa.table({
        "episode_id": ["p1", "p2", "p3"],
        "title": ["One", "Two", "Three"],
        "pub_date": pa.array(seconds, pa.timestamp("s")),
    })  # fmt: skip
    pq.write_table(table, tmp_path / "c.parquet")
    data = read_catalog(tmp_path / "c.parquet")
    assert [e.episode_id for e in data.episodes] == ["p1", "p3"]
    (skip,) = data.skipped
    assert skip.where.endswith("row 2") and "pub_date" in skip.reason
    assert data.read == 3


def test_the_accounting_holds_through_the_store(tmp_path: Path) -> None:
    deep = '{"episode_id": "deep", "title": "t", "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    path = _jsonl(tmp_path / "c.jsonl", [_row("a"), deep, "not json", _row("b")])
    from podsearch.encode.fake import FakeEncoder

    with Podsearch(tmp_path / "ix", encoder=FakeEncoder(dim=16)) as ps:
        rep = ps.ingest(path)
        assert (rep.imported, rep.skipped_count, rep.read) == (2, 2, 4)
        assert rep.imported + rep.updated + rep.unchanged + rep.skipped_count == rep.read


# -- JSON lists and objects are text, not Python repr ---------------------------------------


def test_json_list_values_are_joined_not_repr(tmp_path: Path) -> None:
    rows = [
        _row("a", title=["a", "list"], description=["first part", "second part"]),
        _row("b", title={"#": "wrapped title", "@lang": "en"}),
        _row("c", title=[None, "", "only"]),
    ]
    eps = {e.episode_id: e for e in read_catalog(_jsonl(tmp_path / "c.jsonl", rows)).episodes}
    assert eps["a"].title == "a, list"
    assert eps["a"].description == "first part, second part"
    assert eps["b"].title == "wrapped title"
    assert eps["c"].title == "only"
    assert not any("[" in e.title or "{" in e.title for e in eps.values())


def test_list_or_object_id_is_rejected(tmp_path: Path) -> None:
    rows = [json.dumps({"episode_id": ["x"], "title": "t"}), _row("ok")]
    data = read_catalog(_jsonl(tmp_path / "c.jsonl", rows))
    assert [e.episode_id for e in data.episodes] == ["ok"]
    assert "malformed id" in data.skipped[0].reason


# -- links: only http(s) (or relative) ------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "\x01javascript:alert(1)",
        "file:///etc/passwd",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "http:no-host",
    ],
)
def test_unsafe_audio_urls_are_dropped_at_ingest(tmp_path: Path, url: str) -> None:
    data = read_catalog(_jsonl(tmp_path / "c.jsonl", [_row("a", audio_url=url)]))
    (ep,) = data.episodes
    assert ep.audio_url == ""
    assert any("only http and https" in w for w in data.warnings)


def test_safe_urls_are_kept() -> None:
    from podsearch.catalog.clean import safe_url

    for url in ("https://a.example/x.mp3", "http://a.example/x?y=1#z", "ep2.mp3", "//cdn/x"):
        assert safe_url(url) == url


def test_unsafe_show_image_and_website_are_dropped(tmp_path: Path) -> None:
    feed = tmp_path / "f.rss"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        "<link>javascript:alert(1)</link><image><url>file:///etc/passwd</url></image>"
        "<item><guid>1</guid><title>One</title>"
        '<enclosure url="javascript:alert(2)" type="audio/mpeg"/></item></channel></rss>',
        "utf-8",
    )
    data = read_catalog(feed)
    (show,) = data.shows
    assert show.website == "" and show.image == ""
    assert data.episodes[0].audio_url == ""


@pytest.fixture
def client(engine: Podsearch) -> Iterator[TestClient]:
    with TestClient(create_app(engine), raise_server_exceptions=False) as c:
        yield c


def test_api_never_hands_out_a_stored_unsafe_url(engine: Podsearch, client: TestClient) -> None:
    """An index built before ingest dropped them may still hold one: reads filter it."""
    with sqlite3.connect(engine.index_dir / "catalog.sqlite") as db:
        db.execute("UPDATE episodes SET audio_url='javascript:alert(1)' WHERE episode_id='e4'")
    assert client.get("/api/episodes/e4").json()["audio_url"] == ""
    hits = client.get("/api/search", params={"q": "sourdough bread", "mode": "keyword"}).json()
    assert hits["hits"][0]["episode_id"] == "e4" and hits["hits"][0]["audio_url"] == ""
    assert "javascript" not in client.get("/api/episodes/e4/similar").text


# -- the schema says what the server enforces -----------------------------------------------


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    return dict(client.get("/openapi.json").json())


def _param(spec: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    (p,) = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name]
    return dict(p["schema"])


@pytest.mark.parametrize("q", ["", "   ", "\x01\x02", "\u200b", "\t\n"])
def test_empty_query_rejected_by_schema_and_server(
    spec: dict[str, Any], client: TestClient, q: str
) -> None:
    import re

    schema = _param(spec, "/api/search", "q")
    assert schema["minLength"] == 1 and schema["maxLength"] == 1000
    assert not (len(q) >= 1 and re.search(schema["pattern"], q))  # the schema rejects it
    r = client.get("/api/search", params={"q": q})
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    assert client.post("/api/search", json={"q": q}).status_code == 422


def test_visible_query_accepted_by_schema_and_server(
    spec: dict[str, Any], client: TestClient
) -> None:
    import re

    schema = _param(spec, "/api/search", "q")
    for q in ("x", " sourdough ", "Schlaf", "睡眠"):
        assert re.search(schema["pattern"], q)
        assert client.get("/api/search", params={"q": q}).status_code == 200


def test_date_order_is_documented_and_enforced(spec: dict[str, Any], client: TestClient) -> None:
    for path in ("/api/search", "/api/episodes/{episode_id}/similar"):
        assert "date_from" in _param(spec, path, "date_to")["description"]
    r = client.get("/api/search", params={"q": "x", "date_from": "2020-01-02",
                                          "date_to": "2020-01-01"})  # fmt: skip
    assert r.status_code == 422


@pytest.mark.parametrize("value", ["0", "86400", "1577836800", "2020-01-01T00:00:00", "20200101"])
def test_dates_are_iso_days_only(client: TestClient, value: str) -> None:
    """The schema says ``format: date``; a number was read as seconds since 1970."""
    r = client.get("/api/episodes/e1/similar", params={"date_to": value})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.json()["detail"]
    assert client.get("/api/search", params={"q": "x", "date_from": value}).status_code == 422
    assert (
        client.get("/api/episodes/e1/similar", params={"date_to": "2020-01-01"}).status_code == 200
    )


def test_empty_history_is_in_the_schema(spec: dict[str, Any], client: TestClient) -> None:
    history = spec["components"]["schemas"]["RecommendRequest"]["properties"]["history"]
    assert history["minItems"] == 1
    r = client.post("/api/recommend", json={"history": []})
    assert r.status_code == 422 and "empty" in r.json()["detail"]


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    r = client.delete("/api/search")
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "POST"}
    assert r.json()["error"] == "MethodNotAllowed"
    r = client.get("/api/recommend")
    assert r.status_code == 405 and "POST" in r.headers["allow"]
