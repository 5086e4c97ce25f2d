"""Faults an unlucky operator meets: a read-only index directory, a damaged keyword index or
catalog, a full disk, wrong paths. Each ends as one clear error (an exit code and one line,
no traceback; a PodsearchError in Python) and leaves the index usable.

Before these fixes (issue 11's hostile-input run): a read-only directory could not even be
searched (sqlite3.OperationalError), a keyword index without meta.json answered 0 hits
silently and ``stats``/``index`` did not notice, a damaged catalog and a full disk gave
tracebacks, ``--index FILE`` a traceback, and a lone surrogate stopped a query batch.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from podsearch.cli import main
from podsearch.encode.fake import FakeEncoder
from podsearch.engine import Podsearch
from podsearch.errors import DamagedIndexError, StorageError


def run(capsys, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error_line(err: str) -> str:
    """The error line of a failed command; fails the test on a traceback."""
    assert "Traceback" not in err
    lines = [x for x in err.splitlines() if x.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def index(tmp_path: Path, tiny_catalog: Path, capsys) -> Path:  # type: ignore[no-untyped-def]
    ix = tmp_path / "ix"
    assert run(capsys, "ingest", "--catalog", str(tiny_catalog), "--index", str(ix))[0] == 0
    assert run(capsys, "index", "--index", str(ix), "--model", "fake", "-q")[0] == 0
    return ix


def keyword_hits(capsys, ix: Path, query: str = "sourdough bread") -> list[str]:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "search", query, "--index", str(ix), "--mode", "keyword",
                         "--json")  # fmt: skip
    assert code == 0, err
    return [h["episode_id"] for h in json.loads(out)["hits"]]


# -- a read-only index directory --------------------------------------------------------


def _can_mount() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


def _umount(path: Path) -> None:
    """Unmount; closed indexes may keep files mapped until collected, else detach lazily."""
    gc.collect()
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.fixture
def read_only(index: Path, tmp_path: Path) -> Iterator[Path]:
    """``index`` seen through a read-only path: a read-only bind mount as root (root ignores
    file modes), else the files and directories made read-only."""
    if _can_mount():
        ro = tmp_path / "ro"
        ro.mkdir()
        r = subprocess.run(["mount", "--bind", str(index), str(ro)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot bind-mount: {r.stderr.decode().strip()}")
        r = subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True)
        try:
            if r.returncode != 0:
                pytest.skip(f"cannot remount read-only: {r.stderr.decode().strip()}")
            yield ro
        finally:
            _umount(ro)
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root without mount: file modes do not make a directory read-only")
    paths = [index, *index.rglob("*")]
    for p in paths:
        p.chmod(p.stat().st_mode & ~0o222)
    try:
        yield index
    finally:
        for p in paths:
            p.chmod(p.stat().st_mode | 0o200)


def test_read_only_index_is_searchable_from_the_cli(read_only: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OSError):
        (read_only / "probe").write_text("x")  # the fixture really is read-only
    assert keyword_hits(capsys, read_only)[0] == "e4"
    code, out, err = run(capsys, "search", "sourdough bread", "--index", str(read_only),
                         "--model", "fake", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["hits"]
    code, out, _ = run(capsys, "stats", "--index", str(read_only))
    assert code == 0 and json.loads(out)["episodes"] == 8


@pytest.mark.parametrize(
    "args",
    [("ingest", "--catalog", "CATALOG"), ("index", "--model", "fake", "-q"), ("delete", "e1")],
    ids=["ingest", "index", "delete"],
)
def test_read_only_index_refuses_writes_with_one_error(
    read_only: Path, tiny_catalog: Path, capsys, args: tuple[str, ...]
) -> None:  # type: ignore[no-untyped-def]
    argv = [str(tiny_catalog) if a == "CATALOG" else a for a in args]
    code, _, err = run(capsys, *argv, "--index", str(read_only))
    assert code == StorageError.exit_code
    assert "read-only" in one_error_line(err)
    assert keyword_hits(capsys, read_only)[0] == "e4"  # still usable


def test_read_only_index_from_python(read_only: Path) -> None:
    with Podsearch(read_only, encoder=FakeEncoder(dim=64), create=False) as ps:
        assert ps.search("sourdough bread", mode="keyword").hits[0].episode_id == "e4"
        assert ps.search("sourdough bread", mode="dense").hits
        assert ps.episode("e4").title == "Baking sourdough bread"
        with pytest.raises(StorageError, match="read-only"):
            ps.delete(["e4"])
        assert ps.episode("e4").title == "Baking sourdough bread"


def test_read_only_index_from_the_http_api(read_only: Path) -> None:
    from fastapi.testclient import TestClient

    from podsearch.api.app import create_app

    ps = Podsearch(read_only, encoder=FakeEncoder(dim=64), create=False)
    with ps, TestClient(create_app(ps), raise_server_exceptions=False) as client:
        r = client.get("/api/search", params={"q": "sourdough bread", "mode": "keyword"})
        assert r.status_code == 200 and r.json()["hits"][0]["episode_id"] == "e4"
        assert client.get("/api/health").json()["status"] == "ok"
        assert client.get("/api/episodes/e4").status_code == 200


# -- a damaged keyword index --------------------------------------------------------------


def _remove_meta(ix: Path) -> None:
    (ix / "keyword" / "meta.json").unlink()


def _garble_meta(ix: Path) -> None:
    (ix / "keyword" / "meta.json").write_text('{"segments": [', "utf-8")


def _remove_dir(ix: Path) -> None:
    shutil.rmtree(ix / "keyword")


@pytest.mark.parametrize(
    "damage", [_remove_meta, _garble_meta, _remove_dir], ids=["no-meta", "garbled", "gone"]
)
def test_damaged_keyword_index_is_reported_and_rebuilt(index: Path, capsys, damage) -> None:  # type: ignore[no-untyped-def]
    before = keyword_hits(capsys, index)
    damage(index)
    code, _, err = run(capsys, "search", "sourdough bread", "--index", str(index),
                       "--mode", "keyword", "--json")  # fmt: skip
    assert code == DamagedIndexError.exit_code  # not 0 hits, silently
    assert "podsearch index" in one_error_line(err)
    code, out, err = run(capsys, "stats", "--index", str(index))
    assert code == DamagedIndexError.exit_code
    assert json.loads(out)["problems"] and "keyword index" in one_error_line(err)
    code, out, err = run(capsys, "index", "--index", str(index), "--model", "fake", "--json")
    assert code == 0, err
    assert json.loads(out)["encoded"] == 0  # repaired from the catalog, nothing re-encoded
    assert keyword_hits(capsys, index) == before
    code, out, _ = run(capsys, "stats", "--index", str(index))
    assert code == 0 and json.loads(out)["problems"] == []


def test_damaged_keyword_index_from_python(engine: Podsearch) -> None:
    engine.close()
    _remove_meta(engine.index_dir)
    with Podsearch(engine.index_dir, encoder=FakeEncoder(dim=64)) as ps:
        with pytest.raises(DamagedIndexError):
            ps.search("sourdough bread", mode="keyword")
        assert ps.problems()
        ps.build_index()
        assert ps.problems() == []
        assert ps.search("sourdough bread", mode="keyword").hits[0].episode_id == "e4"


def test_damaged_keyword_index_over_http_is_an_error_not_zero_hits(engine: Podsearch) -> None:
    from fastapi.testclient import TestClient

    from podsearch.api.app import create_app

    engine.close()
    _remove_meta(engine.index_dir)
    ps = Podsearch(engine.index_dir, encoder=FakeEncoder(dim=64), create=False)
    with ps, TestClient(create_app(ps), raise_server_exceptions=False) as client:
        r = client.get("/api/search", params={"q": "sourdough bread", "mode": "keyword"})
        assert r.status_code == DamagedIndexError.http_status
        assert r.json()["error"] == "DamagedIndexError"
        assert str(engine.index_dir) not in r.text  # no server path on the public page


# -- a damaged catalog ----------------------------------------------------------------------


def _truncate(db: Path) -> None:
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 3)


def _garbage(db: Path) -> None:
    db.write_bytes(os.urandom(20_000))


@pytest.mark.parametrize("damage", [_truncate, _garbage], ids=["truncated", "garbage"])
@pytest.mark.parametrize(
    "args",
    [
        ("search", "sourdough", "--model", "fake"),
        ("stats",),
        ("index", "--model", "fake", "-q"),
        ("ingest", "--catalog", "CATALOG"),
        ("delete", "e1"),
    ],
    ids=["search", "stats", "index", "ingest", "delete"],
)
def test_damaged_catalog_is_the_index_state_error(
    index: Path, tiny_catalog: Path, capsys, damage, args: tuple[str, ...]
) -> None:  # type: ignore[no-untyped-def]
    damage(index / "catalog.sqlite")
    argv = [str(tiny_catalog) if a == "CATALOG" else a for a in args]
    code, _, err = run(capsys, *argv, "--index", str(index))
    assert code == DamagedIndexError.exit_code
    assert "damaged" in one_error_line(err)


def test_damaged_catalog_from_python(engine: Podsearch) -> None:
    engine.close()
    _garbage(engine.index_dir / "catalog.sqlite")
    with pytest.raises(DamagedIndexError, match="catalog"):
        Podsearch(engine.index_dir, encoder=FakeEncoder(dim=64))


# -- wrong paths and hostile batch lines ------------------------------------------------------


def test_index_pointing_at_a_file(tmp_path: Path, tiny_catalog: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "a-file"
    f.write_text("not an index")
    for argv in (("ingest", "--catalog", str(tiny_catalog)), ("search", "x"), ("stats",)):
        code, _, err = run(capsys, *argv, "--index", str(f))
        assert code == DamagedIndexError.exit_code
        assert "is a file, not an index directory" in one_error_line(err)
    assert f.read_text() == "not an index"


def test_queries_file_missing(index: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "search", "--queries", str(tmp_path / "nope.jsonl"),
                       "--index", str(index))  # fmt: skip
    assert code == 2 and "cannot read the queries file" in one_error_line(err)


def test_batch_line_with_a_lone_surrogate_is_reported_and_the_batch_goes_on(
    index: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    qfile = tmp_path / "q.jsonl"
    qfile.write_text(
        '{"id": "a", "query": "sourdough bread"}\n'
        '{"id": "b", "query": "bread \\ud800 x"}\n'
        '{"id": "\\udc00", "query": "sourdough bread"}\n'
        '{"id": "c", "query": "Korallenriffe Klimawandel"}\n'
    )
    code, out, err = run(capsys, "search", "--queries", str(qfile), "--index", str(index),
                         "--k", "1", "--mode", "keyword", "--json")  # fmt: skip
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["id"] for x in lines] == ["a", "b", "\udc00", "c"]
    assert "surrogate" in lines[1]["error"] and lines[1]["hits"] == []
    assert lines[2]["hits"][0]["episode_id"] == "e4"
    assert lines[3]["hits"][0]["episode_id"] == "e7"


# -- a full disk ------------------------------------------------------------------------------


def _big_jsonl(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            row = {"episode_id": f"b{i}", "show_id": "big", "title": f"Filler episode {i}",
                   "description": f"filler{i} " * 150, "language": "en"}  # fmt: skip
            f.write(json.dumps(row) + "\n")
    return path


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (root only; skipped elsewhere: the monkeypatched tests below run)."""
    if not _can_mount():
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                       capture_output=True)  # fmt: skip
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        _umount(mnt)


def _resize(mnt: Path, kib: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={kib}k", str(mnt)], check=True)


def _integrity(ix: Path) -> str:
    with sqlite3.connect(ix / "catalog.sqlite") as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def test_disk_full_during_ingest_and_index(
    index: Path, small_disk: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    ix = small_disk / "ix"
    shutil.copytree(index, ix)
    before = keyword_hits(capsys, ix)
    # ingest: more than 2 MiB of rows
    code, _, err = run(capsys, "ingest", "--catalog", str(_big_jsonl(tmp_path / "big.jsonl",
                       3000)), "--index", str(ix))  # fmt: skip
    assert code == StorageError.exit_code
    line = one_error_line(err)
    assert "full" in line and "cannot rollback" not in line
    code, out, _ = run(capsys, "stats", "--index", str(ix))
    assert code == 0 and json.loads(out)["episodes"] == 8  # nothing half-imported, nothing lost
    assert keyword_hits(capsys, ix) == before
    assert _integrity(ix) == "ok"
    # index: rows that fit, then too little room to index them
    _resize(small_disk, 16 * 1024)
    code, _, err = run(capsys, "ingest", "--catalog", str(_big_jsonl(tmp_path / "mid.jsonl",
                       1500)), "--index", str(ix))  # fmt: skip
    assert code == 0, err
    _resize(small_disk, shutil.disk_usage(small_disk).used // 1024 + 300)
    code, _, err = run(capsys, "index", "--index", str(ix), "--model", "fake", "-q")
    assert code == StorageError.exit_code
    assert "full" in one_error_line(err)
    assert keyword_hits(capsys, ix) == before  # the last commit still serves
    code, out, _ = run(capsys, "stats", "--index", str(ix))
    assert json.loads(out)["indexed"] == 8 and json.loads(out)["episodes"] == 1508
    assert _integrity(ix) == "ok"
    # room again: the interrupted build completes
    _resize(small_disk, 64 * 1024)
    code, _, err = run(capsys, "index", "--index", str(ix), "--model", "fake", "-q")
    assert code == 0, err
    code, out, _ = run(capsys, "stats", "--index", str(ix))
    assert json.loads(out)["indexed"] == 1508 and json.loads(out)["problems"] == []
    assert keyword_hits(capsys, ix, "filler1499") == ["b1499"]


def test_disk_full_while_saving_vectors_is_one_error(
    engine: Podsearch, tiny_catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a tmpfs: the vector save raises ENOSPC (as numpy and FAISS do on a full disk)."""
    from podsearch.index import faiss_index

    def full(*_a: object, **_k: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "hnsw.faiss")

    engine.delete(["e4"])
    engine.ingest(tiny_catalog)  # e4 is back, to be indexed
    monkeypatch.setattr(faiss_index.faiss, "write_index", full)  # the vectors' file
    with pytest.raises(StorageError, match="No space left on device"):
        engine.build_index()
    monkeypatch.undo()
    assert not list((engine.index_dir / "vectors").glob(".*.tmp"))  # no half generation left
    assert engine.search("sleep", mode="keyword").hits  # still usable
    engine.build_index()
    assert engine.search("sourdough bread", mode="keyword").hits[0].episode_id == "e4"


def test_disk_full_in_the_keyword_commit_is_one_error(
    engine: Podsearch, tiny_catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tantivy reports a full disk as ValueError with the OS message inside."""
    from podsearch.index.tantivy_index import TantivyKeywordIndex

    def full(self: TantivyKeywordIndex) -> None:
        raise ValueError("An IO error occurred: 'No space left on device (os error 28)'")

    monkeypatch.setattr(TantivyKeywordIndex, "commit", full)
    with pytest.raises(StorageError, match="No space left"):
        engine.delete(["e4"])
    monkeypatch.undo()
    assert engine.search("sleep", mode="keyword").hits
    engine.build_index()  # the delete is finished by the next build
    assert "e4" not in [h.episode_id for h in engine.search("sourdough", mode="keyword").hits]
