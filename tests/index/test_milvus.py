"""Milvus specifics the congruence suite does not cover: locations, the filter compiler (no
user text reaches an expression unescaped), one-line errors, and the engine on Milvus Lite."""

from __future__ import annotations

import builtins
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from podsearch.errors import MissingDependencyError, QueryError, ServerError
from podsearch.models import DocPayload, Filters

lite = pytest.importorskip("milvus_lite", reason="pip install 'podsearch[milvus]'")


def test_locations_parse_and_keep_no_password(tmp_path: Path) -> None:
    from podsearch.index.backends import open_location
    from podsearch.index.milvus import split_url

    assert split_url("milvus://u:s3cret@h:1234?index=a_b") == (
        "http://h:1234",
        "u:s3cret",
        "a_b",
        False,
    )
    assert split_url("http://h")[0] == "http://h:19530"
    uri, _, name, is_lite = split_url(f"milvus-lite://{tmp_path}/x.db")
    assert (uri, name, is_lite) == (str(tmp_path / "x.db"), "podsearch", True)
    loc = open_location(f"milvus-lite://{tmp_path}/x.db?index=eps")
    assert loc.kind == "milvus-lite" and loc.local_dir == tmp_path / "x.db.eps.catalog"
    server = open_location("milvus://u:s3cret@h:1?index=eps", catalog_dir=tmp_path)
    assert server.kind == "milvus" and "s3cret" not in server.display
    with pytest.raises(QueryError, match="index name"):
        open_location("milvus://h?index=Bad-Name", catalog_dir=tmp_path)
    with pytest.raises(QueryError, match=r"\.db file"):
        open_location(f"milvus-lite://{tmp_path}/x.sqlite")
    with pytest.raises(QueryError, match="absolute path"):
        open_location("milvus-lite://relative/x.db")
    # Through a Path-typed CLI option (one slash of :// lost) the path stays absolute.
    assert open_location(Path(f"milvus-lite://{tmp_path}/y.db")).local_dir == Path(
        f"{tmp_path}/y.db.podsearch.catalog"
    )


def test_filter_values_are_placeholders_or_escaped_literals() -> None:
    from podsearch.index.milvus import NO_DATE, compile_filter, render_filter

    evil = 'x" or pub_ts > 0 or show_id == "'
    f = Filters(
        languages=("en",), show_ids=(evil,), categories=("News",),
        date_to=datetime(2020, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    expr, params = compile_filter(f)
    assert evil not in expr and "News" not in expr and "{shows}" in expr
    assert params["shows"] == [evil] and params["cats"] == ["news"]
    assert params["no_date"] == NO_DATE  # a date bound drops episodes without a date
    rendered = render_filter(expr, params)
    assert 'show_id in ["x\\" or pub_ts > 0 or show_id == \\""]' in rendered
    with pytest.raises(QueryError, match="control"):
        render_filter(*compile_filter(Filters(show_ids=("a\x00b",))))
    assert compile_filter(None) == ("", {}) and compile_filter(Filters()) == ("", {})


def test_a_hostile_filter_value_matches_nothing_on_milvus_lite(tmp_path: Path) -> None:
    import numpy as np

    from podsearch.index.milvus import MilvusConnection, MilvusVectorIndex

    conn = MilvusConnection(f"milvus-lite://{tmp_path}/m.db")
    vi = MilvusVectorIndex(conn, 4, exact_max=0)
    vi.upsert(["a", "b"], np.eye(4, dtype=np.float32)[:2], [DocPayload("en", 's"1'), DocPayload()])
    q = np.eye(4, dtype=np.float32)[:1]
    assert [i for i, _ in vi.search(q, 5, Filters(show_ids=('s"1',)))[0]] == ["a"]
    for evil in ('" or show_id != "', "' or 1==1 or '", "\\"):
        assert vi.search(q, 5, Filters(show_ids=(evil,))) == [[]]
    conn.close()


def test_unreachable_server_is_one_fast_line(tmp_path: Path) -> None:
    from podsearch.index.backends import open_location

    t0 = time.monotonic()
    loc: Any = open_location("milvus://u:s3cret@127.0.0.1:1", catalog_dir=tmp_path)
    with pytest.raises(ServerError, match="cannot reach Milvus") as e:
        loc.check()
    assert time.monotonic() - t0 < 10
    assert "s3cret" not in str(e.value) and "\n" not in str(e.value)


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from podsearch.index.milvus import MilvusConnection

    real = builtins.__import__

    def no_pymilvus(name: str, *a: Any, **kw: Any) -> Any:
        if name.split(".")[0] == "pymilvus":
            raise ImportError(name)
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_pymilvus)
    with pytest.raises(MissingDependencyError, match=r"podsearch\[milvus\]"):
        MilvusConnection(f"milvus-lite://{tmp_path}/m.db")


MILVUS_URI = os.environ.get("PODSEARCH_TEST_MILVUS_URI", "")
SERVER = pytest.param(
    "milvus",
    marks=[
        pytest.mark.server,
        pytest.mark.skipif(not MILVUS_URI, reason="PODSEARCH_TEST_MILVUS_URI unset"),
    ],
)


@pytest.mark.parametrize("kind", ["milvus-lite", SERVER])
def test_engine_on_milvus_matches_embedded(kind: str, tmp_path: Path, tiny_catalog: Path) -> None:
    """On the 2.3.5 server the keyword side is the embedded tantivy index (no BM25 there)."""
    from podsearch import Podsearch
    from podsearch.encode.fake import FakeEncoder

    name = f"t{uuid.uuid4().hex[:12]}"
    url = f"milvus-lite://{tmp_path}/lite.db"
    if kind == "milvus":
        url = f"{MILVUS_URI.replace('http://', 'milvus://', 1)}?index={name}"
    with (
        Podsearch(tmp_path / "embedded", encoder=FakeEncoder(dim=64)) as emb,
        Podsearch(url, encoder=FakeEncoder(dim=64), catalog_dir=tmp_path / "cat") as mil,
    ):
        for ps in (emb, mil):
            ps.ingest(tiny_catalog)
            assert ps.build_index().total_indexed == 8
        assert mil.stats()["backend"] == kind
        for q in ("sourdough bread baker", "sleep", "Korallenriffe Klimawandel", "marathon"):
            for f in (None, Filters(languages=("de",)), Filters(categories=("food",))):
                e = emb.search(q, k=5, mode="dense", filters=f)
                m = mil.search(q, k=5, mode="dense", filters=f)
                assert [h.episode_id for h in m.hits] == [h.episode_id for h in e.hits], q
        for mode in ("keyword", "hybrid"):
            assert mil.search("sourdough bread baker", mode=mode).hits[0].episode_id == "e4"
        assert mil.delete(["e4"]) == 1
        assert "e4" not in {h.episode_id for h in mil.search("sourdough", mode="hybrid").hits}
        assert mil.build_index(rebuild=True).total_indexed == 7
    if kind == "milvus":
        from pymilvus import MilvusClient

        client = MilvusClient(MILVUS_URI)
        for suffix in ("vectors", "keywords"):
            client.drop_collection(f"{name}_{suffix}")
