"""The command line, run in-process through its real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podsearch.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def index(tmp_path: Path, tiny_catalog: Path, capsys) -> Path:  # type: ignore[no-untyped-def]
    ix = tmp_path / "ix"
    code, out, _ = run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", str(ix))
    assert code == 0 and "imported" in out
    code, out, _ = run(capsys, "index", "--index", str(ix), "--model", "fake", "-q")
    assert code == 0 and "8 in the index" in out
    return ix


def test_search_json(index: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "search", "sourdough bread", "--index", str(index),
                       "--k", "3", "--mode", "hybrid", "--json")  # fmt: skip
    assert code == 0
    res = json.loads(out)
    assert res["hits"][0]["episode_id"] == "e4"
    assert {"episode_id", "score", "title"} <= set(res["hits"][0])
    code, out, _ = run(capsys, "search", "schlaf", "--index", str(index), "--lang", "de",
                       "--json")  # fmt: skip
    assert {h["language"] for h in json.loads(out)["hits"]} == {"de"}


def test_search_table_output(index: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "search", "sourdough bread", "--index", str(index), "--k", "2")
    assert code == 0 and "Baking sourdough bread" in out and "Kitchen Stories" in out


def test_batch_mode(index: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(
        '{"id": "a", "query": "sourdough bread"}\n'
        '{"id": "b", "query": ""}\n'
        "not json\n"
        '{"id": "c", "query": "Korallenriffe Klimawandel"}\n'
    )
    code, out, _ = run(capsys, "search", "--queries", str(qfile), "--index", str(index),
                       "--k", "2", "--mode", "keyword", "--json")  # fmt: skip
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [x["id"] for x in lines] == ["a", "b", "3", "c"]
    assert lines[0]["hits"][0]["episode_id"] == "e4" and "error" in lines[1]
    assert "error" in lines[2] and lines[3]["hits"][0]["episode_id"] == "e7"


@pytest.mark.filterwarnings("error::ResourceWarning")  # an unclosed queries file fails
def test_batch_mode_null_queries_and_missing_ids(index: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(
        '{"id": "a", "query": null}\n'
        '{"query": "sourdough bread"}\n'
        '{"id": null, "query": "Korallenriffe Klimawandel"}\n'
        '{"id": 0, "query": "sourdough bread"}\n'
        '{"id": "n", "query": 7}\n'
    )
    code, out, _ = run(capsys, "search", "--queries", str(qfile), "--index", str(index),
                       "--k", "2", "--mode", "keyword", "--json")  # fmt: skip
    lines = [json.loads(x) for x in out.splitlines()]
    assert code == 0 and [x["id"] for x in lines] == ["a", "2", "3", "0", "n"]
    assert lines[0]["hits"] == [] and "line 1" in lines[0]["error"]
    assert '"query" must be a string' in lines[0]["error"] and "query" not in lines[0]
    assert [x["hits"][0]["episode_id"] for x in lines[1:4]] == ["e4", "e7", "e4"]
    assert "line 5" in lines[4]["error"] and lines[4]["hits"] == []


def test_errors_are_one_line_with_exit_codes(index: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "search", "", "--index", str(index))
    assert code == 2 and "error: the query is empty" in err and "Traceback" not in err
    code, _, err = run(capsys, "search", "x" * 10_000, "--index", str(index))
    assert code == 2 and "limit is 1000" in err
    code, _, err = run(capsys, "ingest", "--catalog", "/no/such/path", "--index", str(index))
    assert code == 2 and "error:" in err
    code, _, err = run(capsys, "search", "bread", "--index", str(index), "--from", "yesterday")
    assert code == 2 and "YYYY-MM-DD" in err


def test_library_errors_reach_the_cli_as_one_line(  # type: ignore[no-untyped-def]
    index: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    code, _, err = run(capsys, "search", "--queries", str(tmp_path / "nope.jsonl"),
                       "--index", str(index))  # fmt: skip
    assert code == 2 and err.startswith("error: cannot read the queries file")
    assert "nope.jsonl" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    # The encoder's input checks are ModelErrors too: exit 5 and one line, no traceback.
    from podsearch import encode

    real = encode.load_encoder
    monkeypatch.setattr(encode, "load_encoder", lambda name, **kw: real(name, max_seq_length=0))
    code, _, err = run(capsys, "search", "bread", "--index", str(index), "--model", "fake")
    assert code == 5 and err.startswith("error: max_seq_length and batch_size must be >= 1")
    assert len(err.strip().splitlines()) == 1


def test_delete_and_stats(index: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "delete", "e4", "zzz", "--index", str(index))
    assert code == 0 and "deleted 1 of 2" in out
    code, out, _ = run(capsys, "stats", "--index", str(index))
    stats = json.loads(out)
    assert stats["episodes"] == 7 and stats["languages"] == {"en": 4, "de": 3}
