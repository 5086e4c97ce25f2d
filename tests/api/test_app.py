"""The HTTP API over a real tiny index (fake encoder): answers, filters, paging, errors."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from podsearch.api import create_app

MODES = ("hybrid", "dense", "keyword")


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    # raise_server_exceptions=False: a 500 must show up as a response the test can assert on.
    with TestClient(create_app(engine), raise_server_exceptions=False) as c:
        yield c


def search(client: TestClient, **params: Any) -> dict[str, Any]:
    r = client.get("/api/search", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def ids(body: dict[str, Any]) -> list[str]:
    return [h["episode_id"] for h in body["hits"]]


def assert_client_error(r: Any, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) >= {"error", "detail"}
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in r.text
    return body


# ---- answers -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("baking sourdough bread", "e4"),
        ("marathon training running plans", "e3"),
        ("Korallenriffe Klimawandel", "e7"),
    ],
)
def test_search_finds_the_matching_episode_first(
    client: TestClient, mode: str, query: str, expected: str
) -> None:
    body = search(client, q=query, mode=mode)
    assert body["mode"] == mode
    assert body["query"] == query
    assert ids(body)[0] == expected
    top = body["hits"][0]
    assert top["rank"] == 1
    assert isinstance(top["score"], float)
    assert {"title", "show_title", "language", "pub_date", "snippet", "categories"} <= set(top)


def test_hit_fields_are_the_episode_metadata(client: TestClient) -> None:
    top = search(client, q="baking sourdough bread")["hits"][0]
    assert top["title"] == "Baking sourdough bread"
    assert top["show_title"] == "Kitchen Stories"
    assert top["language"] == "en"
    assert top["pub_date"].startswith("2017-12-01")
    assert "sourdough" in top["snippet"].lower()
    assert "Food" in top["categories"]


def test_post_search_matches_get(client: TestClient) -> None:
    got = search(client, q="sleep", mode="dense", k=5)
    r = client.post("/api/search", json={"q": "sleep", "mode": "dense", "k": 5})
    assert r.status_code == 200, r.text
    assert ids(r.json()) == ids(got)
    assert "took_ms" in r.json()


def test_default_mode_is_hybrid_and_k_is_10(client: TestClient) -> None:
    body = search(client, q="food")
    assert body["mode"] == "hybrid"
    assert body["k"] == 10
    assert body["offset"] == 0
    assert len(body["hits"]) <= 10


# ---- filters -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_language_filter_restricts_results(client: TestClient, mode: str) -> None:
    q = "Schlaf sleep Gesundheit health"
    everything = search(client, q=q, mode=mode)
    assert {h["language"] for h in everything["hits"]} == {"en", "de"}
    german = search(client, q=q, mode=mode, lang="de")
    assert german["hits"], "the German sleep episode matches"
    assert {h["language"] for h in german["hits"]} == {"de"}
    assert ids(german)[0] == "e6"


def test_repeated_language_parameter_means_any_of(client: TestClient) -> None:
    body = search(client, q="sleep Schlaf", mode="dense", lang=["de", "en"], k=20)
    assert len(body["hits"]) == 8


def test_language_code_is_case_insensitive(client: TestClient) -> None:
    assert ids(search(client, q="sleep", mode="dense", lang="DE")) == ids(
        search(client, q="sleep", mode="dense", lang="de")
    )


def test_category_filter(client: TestClient) -> None:
    body = search(client, q="food health science", mode="dense", category="Food")
    assert set(ids(body)) == {"e4", "e5"}


def test_show_filter(client: TestClient) -> None:
    show_id = search(client, q="sourdough")["hits"][0]["show_id"]
    body = search(client, q="health sleep", mode="dense", show=show_id)
    assert set(ids(body)) == {"e4", "e5"}


def test_date_filters_are_inclusive_whole_days(client: TestClient) -> None:
    body = search(client, q="episode", mode="dense", date_from="2017-12-01", date_to="2017-12-20")
    # e4 is published 2017-12-01 08:00 and e1 2017-12-20 08:00: both ends count.
    assert set(ids(body)) == {"e1", "e4"}
    later = search(client, q="episode", mode="dense", date_from="2019-01-01")
    assert set(ids(later)) == {"e7", "e8"}


def test_post_accepts_single_values_and_lists(client: TestClient) -> None:
    r = client.post("/api/search", json={"q": "sleep", "mode": "dense", "lang": "de"})
    assert r.status_code == 200, r.text
    assert {h["language"] for h in r.json()["hits"]} == {"de"}
    r = client.post("/api/search", json={"q": "sleep", "mode": "dense", "lang": ["de"]})
    assert {h["language"] for h in r.json()["hits"]} == {"de"}


# ---- paging ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ("hybrid", "dense"))
def test_pages_partition_the_ranking(client: TestClient, mode: str) -> None:
    whole = search(client, q="health food sleep", mode=mode, k=6)
    first = search(client, q="health food sleep", mode=mode, k=3)
    second = search(client, q="health food sleep", mode=mode, k=3, offset=3)
    assert len(whole["hits"]) == 6
    assert ids(first) + ids(second) == ids(whole)
    assert [h["rank"] for h in second["hits"]] == [4, 5, 6]
    assert second["offset"] == 3


def test_offset_past_the_end_is_an_empty_page(client: TestClient) -> None:
    body = search(client, q="health", mode="dense", offset=50)
    assert body["hits"] == []


# ---- episodes, health, facets ------------------------------------------------------------


def test_episode_endpoint(client: TestClient) -> None:
    r = client.get("/api/episodes/e4")
    assert r.status_code == 200, r.text
    ep = r.json()
    assert ep["episode_id"] == "e4"
    assert ep["title"] == "Baking sourdough bread"
    assert ep["show_title"] == "Kitchen Stories"
    assert ep["audio_url"] == "https://example.org/e4.mp3"
    assert ep["duration_s"] == 600
    assert "<p>" not in client.get("/api/episodes/e1").json()["description"]


def test_unknown_episode_is_a_json_404(client: TestClient) -> None:
    body = assert_client_error(client.get("/api/episodes/nope"), 404)
    assert body["error"] == "NotFoundError"
    assert "nope" in body["detail"]


def test_health(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body.pop("generation") >= 1  # rises with every committed write
    assert body == {
        "status": "ok",
        "episodes": 8,
        "shows": 3,
        "indexed": 8,
        "model": "fake",
    }


def test_facets(client: TestClient) -> None:
    r = client.get("/api/facets")
    assert r.status_code == 200
    body = r.json()
    assert body["languages"] == [{"value": "en", "count": 5}, {"value": "de", "count": 3}]
    cats = {c["value"]: c["count"] for c in body["categories"]}
    assert cats["Science & Medicine"] == 3
    assert cats["Food"] == 2
    counts = [c["count"] for c in body["categories"]]
    assert counts == sorted(counts, reverse=True)


# ---- validation: 4xx JSON, never a 500 ---------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "\x00\x01\x1f"}, "q"),
        ({"q": "x" * 10_000}, "q"),
        ({"q": "a " * 501}, "q"),
        ({"q": "sleep", "k": 0}, "k"),
        ({"q": "sleep", "k": 1000}, "k"),
        ({"q": "sleep", "k": "ten"}, "k"),
        ({"q": "sleep", "offset": -1}, "offset"),
        ({"q": "sleep", "offset": 1001}, "offset"),
        ({"q": "sleep", "mode": "semantic"}, "mode"),
        ({"q": "sleep", "date_from": "2017-13-01"}, "date_from"),
        ({"q": "sleep", "date_to": "yesterday"}, "date_to"),
        ({"q": "sleep", "date_from": "2018-01-01", "date_to": "2017-01-01"}, "request"),
        ({}, "q"),
    ],
)
def test_bad_search_parameters_are_422(client: TestClient, params: dict, field: str) -> None:
    body = assert_client_error(client.get("/api/search", params=params))
    assert body["error"] == "ValidationError"
    assert field in [e["field"] for e in body["errors"]]
    assert len(body["detail"]) < 500, "the detail never echoes a huge input"


def test_error_details_read_well(client: TestClient) -> None:
    empty = assert_client_error(client.get("/api/search", params={"q": ""}))
    assert "empty" in empty["detail"].lower()
    long = assert_client_error(client.get("/api/search", params={"q": "x" * 10_000}))
    assert "10000" in long["detail"] and "1000" in long["detail"]
    k = assert_client_error(client.get("/api/search", params={"q": "a", "k": 1000}))
    assert k["detail"].startswith("k:")
    mode = assert_client_error(client.get("/api/search", params={"q": "a", "mode": "x"}))
    assert "hybrid" in mode["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"q": ""},
        {"q": "x" * 10_000},
        {"q": "sleep", "k": 0},
        {"q": "sleep", "k": 1000},
        {"q": "sleep", "mode": "bm25"},
        {"q": "sleep", "date_from": "not a date"},
        {"query": "sleep"},
        {"q": 42},
        {"q": "sleep", "lang": [1, 2]},
        ["sleep"],
        "sleep",
    ],
)
def test_bad_post_bodies_are_422(client: TestClient, body: Any) -> None:
    assert_client_error(client.post("/api/search", json=body))


def test_invalid_json_is_422(client: TestClient) -> None:
    r = client.post(
        "/api/search", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_client_error(r)


@pytest.mark.parametrize(
    "query",
    [
        "sleep\x00and\x07recovery",
        "\u200b\u200bsleep\u202e",
        "Schlaf und Gesundheit",
        "睡眠と健康",
        "сон и здоровье",
        "النوم والصحة",
        "नींद और स्वास्थ्य",
        "🎧🍞 sourdough",
        "a",
        "((( AND OR NOT \"unbalanced' [*]: title:x ~2 ^3",
        "x" * 1000,
        "ẞ ǅ ﬁ Ⅻ ℌ",
    ],
)
@pytest.mark.parametrize("mode", MODES)
def test_odd_queries_never_crash(client: TestClient, query: str, mode: str) -> None:
    r = client.get("/api/search", params={"q": query, "mode": mode})
    assert r.status_code == 200, r.text
    assert isinstance(r.json()["hits"], list)


@pytest.mark.parametrize(
    "raw_query",
    [
        "q=%ED%A0%80",  # a UTF-8-encoded lone surrogate
        "q=%FF%FE%00",  # not UTF-8 at all
        "q=%E2%80%8B",  # only a zero-width space: empty once cleaned
        "q=sleep&lang=%00",
        "q=sleep&k=1e3",
        "q=sleep&offset=9999999999999999999999",
    ],
)
def test_malformed_query_strings_are_never_500(client: TestClient, raw_query: str) -> None:
    r = client.get(f"/api/search?{raw_query}")
    assert r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/json")


def test_control_characters_are_removed_from_the_query(client: TestClient) -> None:
    body = search(client, q="baking\x00sourdough\x1fbread", mode="keyword")
    assert "\x00" not in body["query"]
    assert ids(body)[0] == "e4"


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    body = assert_client_error(client.get("/api/nothing-here"), 404)
    assert body["error"] == "NotFound"
    body = assert_client_error(client.delete("/api/search"), 405)
    assert body["error"] == "MethodNotAllowed"


def test_concurrent_searches(client: TestClient) -> None:
    queries = ["sleep", "sourdough", "marathon", "Schlaf", "coral reef", "pasta"] * 5

    def one(q: str) -> int:
        return client.get("/api/search", params={"q": q, "k": 3}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(one, queries)) == {200}


# ---- page and schema ---------------------------------------------------------------------


def test_page_and_static_assets_are_served(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    assert "<input" in html and 'id="q"' in html
    for asset, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        assert f"/static/{asset}" in html
        a = client.get(f"/static/{asset}")
        assert a.status_code == 200
        assert kind in a.headers["content-type"]


def test_page_loads_nothing_from_elsewhere(client: TestClient) -> None:
    for path in ("/", "/static/app.js", "/static/style.css"):
        text = client.get(path).text
        assert "http://" not in text and "https://" not in text.replace("https?:", ""), (
            f"{path} references an external resource"
        )
        assert "@import" not in text


def test_openapi_schema_documents_the_endpoints(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    paths = schema["paths"]
    for path in ("/api/search", "/api/episodes/{episode_id}", "/api/health", "/api/facets"):
        assert path in paths, sorted(paths)
    assert set(paths["/api/search"]) == {"get", "post"}
    params = {p["name"]: p for p in paths["/api/search"]["get"]["parameters"]}
    assert {"q", "k", "offset", "mode", "lang", "show", "category", "date_from", "date_to"} <= set(
        params
    )
    assert params["q"].get("description")
    assert paths["/api/search"]["get"].get("description")


def test_create_app_from_dir_opens_and_closes_the_index(engine: Any) -> None:
    from podsearch.api import create_app_from_dir

    index_dir = engine.index_dir
    engine.close()
    app = create_app_from_dir(index_dir)
    with TestClient(app, raise_server_exceptions=False) as c:
        health = c.get("/api/health").json()
        assert health["status"] == "ok"
        assert health["episodes"] == 8
        assert health["model"] == "fake"
        # Keyword search needs no encoder, so this runs whatever models are installed.
        r = c.get("/api/search", params={"q": "sourdough", "mode": "keyword"})
        assert r.status_code == 200, r.text
        assert ids(r.json())[0] == "e4"
    with pytest.raises(Exception):  # noqa: B017 - any error: the store is closed
        app.state.engine.stats()
