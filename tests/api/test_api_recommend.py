"""GET /api/episodes/{id}/similar and POST /api/recommend over the tiny fake-encoder index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from test_app import assert_client_error

from podsearch.api import create_app


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with TestClient(create_app(engine), raise_server_exceptions=False) as c:
        yield c


def ids(body: dict[str, Any]) -> list[str]:
    return [h["episode_id"] for h in body["hits"]]


def test_similar(client: TestClient) -> None:
    r = client.get("/api/episodes/e7/similar", params={"k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(ids(body)) == {"e6", "e8"}
    assert body["source"] == {"episode_id": "e7", "title": "Korallenriffe in Gefahr",
                              "show_title": "Wissen Heute"}  # fmt: skip
    r = client.get("/api/episodes/e1/similar",
                   params={"exclude_show": "true", "lang": "de", "per_show": 2})  # fmt: skip
    assert r.status_code == 200 and len(ids(r.json())) == 2
    assert set(ids(r.json())) <= {"e6", "e7", "e8"}
    # The episode route still answers next to /similar.
    assert client.get("/api/episodes/e7").json()["episode_id"] == "e7"


def test_similar_errors(client: TestClient) -> None:
    body = assert_client_error(client.get("/api/episodes/nope/similar"), 404)
    assert body["error"] == "NotFoundError" and "nope" in body["detail"]
    assert_client_error(client.get("/api/episodes/e1/similar", params={"k": 0}))
    assert_client_error(client.get("/api/episodes/e1/similar", params={"per_show": 0}))
    assert_client_error(
        client.get("/api/episodes/e1/similar",
                   params={"date_from": "2020-01-01", "date_to": "2019-01-01"})
    )  # fmt: skip


def test_recommend(client: TestClient) -> None:
    r = client.post("/api/recommend", json={"history": ["e2", "e3", "e7", "e8", "ghost"], "k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(ids(body)) == {"e1", "e6"}
    assert body["unknown_ids"] == ["ghost"]
    assert body["strategy"] == "multi-interest" and len(body["interests"]) == 2
    r = client.post(
        "/api/recommend",
        json={
            "history": [{"episode_id": "e2", "weight": 2, "timestamp": "2017-12-01T00:00:00Z"},
                        {"episode_id": "e1", "skipped": True}],
            "strategy": "mean", "k": 10, "lang": ["en"],
        },
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert set(ids(r.json())) == {"e3", "e4", "e5"}


@pytest.mark.parametrize(
    ("body", "status", "match"),
    [
        ({"history": []}, 422, "empty"),
        ({"history": ["ghost", "phantom"]}, 404, "ghost"),
        ({"history": ["e1"], "strategy": "popular"}, 422, "strategy"),
        ({"history": ["e1"], "k": 101}, 422, "k"),
        ({"history": [{"episode_id": "e1", "weight": -1}]}, 422, "weight"),
        ({"history": [""]}, 422, "history"),
        ({"history": "e1"}, 422, "history"),
        ({}, 422, "history"),
        ({"history": ["e1"], "half_life_days": 0}, 422, "half_life_days"),
    ],
)
def test_recommend_errors(client: TestClient, body: Any, status: int, match: str) -> None:
    out = assert_client_error(client.post("/api/recommend", json=body), status)
    assert match in out["detail"]


def test_recommend_not_json(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    r = client.post("/api/recommend", content=b"{oops", headers=headers)
    assert_client_error(r)


def test_recommend_and_similar_take_the_same_filters_as_search(client: TestClient) -> None:
    r = client.post("/api/recommend", json={"history": ["e1"], "k": 10, "show": "2"})
    assert r.status_code == 200, r.text
    assert set(ids(r.json())) == {"e4", "e5"}  # show 2's episodes, e1 itself is heard
    r = client.get("/api/episodes/e1/similar", params={"k": 10, "show": ["3"]})
    assert r.status_code == 200, r.text
    assert set(ids(r.json())) == {"e6", "e7", "e8"}
