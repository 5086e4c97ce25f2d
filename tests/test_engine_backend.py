"""An index remembers the encoder backend that built it; searching with another one warns once."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from podsearch import Podsearch


@pytest.fixture
def built(tmp_path: Path, tiny_catalog: Path) -> Path:
    with Podsearch(tmp_path / "ix", model="fake", backend="torch") as ps:
        ps.ingest(tiny_catalog)
        ps.build_index()
        assert ps.store.get_meta("backend") == "torch"
    return tmp_path / "ix"


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_another_backend_warns_once(built: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), Podsearch(built, backend="onnx-int8") as ps:
        ps.search("sourdough bread", mode="dense")
        ps.search("sleep", mode="hybrid")
        ps.search("sleep", mode="keyword")
    (msg,) = _warnings(caplog)
    assert "encoded with the torch encoder backend and this search uses onnx-int8" in msg
    assert "same vector space" in msg and "--backend torch" in msg


def test_the_same_backend_is_silent(built: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), Podsearch(built, backend="torch") as ps:
        assert ps.search("sourdough bread", mode="dense").hits
    assert _warnings(caplog) == []


def test_a_mixed_index_records_both_and_a_rebuild_resets(built: Path, tiny_catalog: Path) -> None:
    with Podsearch(built, model="fake", backend="onnx-int8") as ps:
        ps.build_index()  # nothing changed: nothing encoded with onnx-int8
        assert ps.store.get_meta("backend") == "torch"
        ps.store.mark_all_unindexed()
        ps.build_index()
        assert ps.store.get_meta("backend") == "onnx-int8,torch"
        ps.build_index(rebuild=True)
        assert ps.store.get_meta("backend") == "onnx-int8"


def test_an_index_from_before_the_record_is_silent(  # type: ignore[no-untyped-def]
    built: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Podsearch(built) as ps:
        ps.store.set_meta("backend", "")
    with caplog.at_level(logging.WARNING), Podsearch(built, backend="onnx-int8") as ps:
        ps.search("sourdough bread", mode="dense")
    assert _warnings(caplog) == []
