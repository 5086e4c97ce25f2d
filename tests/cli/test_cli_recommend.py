"""podsearch similar / recommend through the real entry point (fake-model index)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import run


@pytest.fixture
def index(tmp_path: Path, tiny_catalog: Path, capsys) -> Path:  # type: ignore[no-untyped-def]
    ix = tmp_path / "ix"
    assert run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", str(ix))[0] == 0
    assert run(capsys, "index", "--index", str(ix), "--model", "fake", "-q")[0] == 0
    return ix


def test_similar_json_and_table(index: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "similar", "e7", "--index", str(index), "--k", "2", "--json")
    assert code == 0
    body = json.loads(out)
    assert {h["episode_id"] for h in body["hits"]} == {"e6", "e8"}
    assert body["source"]["title"] == "Korallenriffe in Gefahr"
    code, out, _ = run(capsys, "similar", "e7", "--index", str(index), "--exclude-show",
                       "--per-show", "1", "--lang", "en")  # fmt: skip
    assert code == 0 and "more like" in out and "Korallenriffe" in out


def test_similar_unknown_id(index: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "similar", "nope", "--index", str(index))
    assert code == 3 and "nope" in err


def test_recommend_history_formats(index: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    files = {
        "h.txt": "e2\ne3\ne7\ne8\nghost\n",
        "h.jsonl": '{"episode_id": "e2"}\n{"episode_id": "e3"}\n{"episode_id": "e7"}\n'
        '{"episode_id": "e8"}\n{"episode_id": "ghost"}\n',
        "h.csv": "episode_id,weight,timestamp,skipped\ne2,1,,\ne3,1,,\ne7,1,,\ne8,1,,\nghost,1,,\n",
    }
    for name, text in files.items():
        p = tmp_path / name
        p.write_text(text)
        code, out, _ = run(capsys, "recommend", "--history", str(p), "--index", str(index),
                           "--k", "2", "--json")  # fmt: skip
        assert code == 0, name
        body = json.loads(out)
        assert {h["episode_id"] for h in body["hits"]} == {"e1", "e6"}, name
        assert body["unknown_ids"] == ["ghost"]
    code, out, _ = run(capsys, "recommend", "--history", str(tmp_path / "h.txt"), "--index",
                       str(index), "--strategy", "mean")  # fmt: skip
    assert code == 0 and "ignored 1 unknown" in out


def test_recommend_errors(index: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    code, _, err = run(capsys, "recommend", "--history", str(empty), "--index", str(index))
    assert code == 2 and "empty" in err
    ghosts = tmp_path / "ghosts.txt"
    ghosts.write_text("ghost\nphantom\n")
    code, _, err = run(capsys, "recommend", "--history", str(ghosts), "--index", str(index))
    assert code == 3 and "ghost" in err
    code, _, err = run(capsys, "recommend", "--history", str(ghosts), "--index", str(index),
                       "--strategy", "nope")  # fmt: skip
    assert code == 2 and "strategy" in err
    code, _, err = run(capsys, "recommend", "--history", str(tmp_path / "missing.txt"),
                       "--index", str(index))  # fmt: skip
    assert code == 2 and "cannot read" in err
