"""The CLI against a PostgreSQL index location: `--index postgresql://...` end to end."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.cli.test_cli import run
from tests.index.test_congruence import _drop_pg, _pg_url, needs_pg


@pytest.mark.server
@needs_pg
def test_ingest_index_search_with_a_postgresql_url(
    tmp_path: Path,
    tiny_catalog: Path,
    capsys,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("PODSEARCH_HOME", str(tmp_path / "home"))  # must stay empty
    name = f"t{uuid.uuid4().hex[:12]}"
    url = _pg_url(name)
    try:
        assert run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", url)[0] == 0
        code, out, _ = run(capsys, "index", "--index", url, "--model", "fake", "-q")
        assert code == 0 and "8 in the index" in out
        code, out, _ = run(capsys, "search", "sourdough bread", "--index", url, "--json")
        assert code == 0 and json.loads(out)["hits"][0]["episode_id"] == "e4"
        code, out, _ = run(capsys, "search", "schlaf", "--index", url, "--lang", "de", "--json")
        assert {h["language"] for h in json.loads(out)["hits"]} == {"de"}
        assert not Path("postgresql:").exists()  # nothing made a directory of the URL
        assert not (tmp_path / "home").exists()  # nor anything else on local disk
    finally:
        _drop_pg(name)


def test_unreachable_server_is_one_line_without_password(tmp_path: Path, capsys, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PODSEARCH_HOME", str(tmp_path / "home"))
    url = "postgresql://someone:s3cret-pw@127.0.0.1:1/db"
    code, out, err = run(capsys, "index", "--index", url, "--model", "fake", "-q")
    assert code == 7 and "cannot reach PostgreSQL at 127.0.0.1:1" in err
    assert "s3cret-pw" not in out + err and "Traceback" not in err
