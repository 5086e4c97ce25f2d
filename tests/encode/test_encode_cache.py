"""The model cache: conversions land atomically or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from podsearch.encode._cache import MARKER, build_atomically, cache_root, model_cache_dir


def _writer(calls: list[Path], content: str = "ok"):  # type: ignore[no-untyped-def]
    def build(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / "model.bin").write_text(content)

    return build


def test_cache_root_follows_the_environment(isolated_cache: Path) -> None:
    assert cache_root() == isolated_cache
    assert model_cache_dir("me5-small") == isolated_cache / "models" / "me5-small"


def test_default_cache_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PODSEARCH_CACHE", raising=False)
    assert cache_root() == Path.home() / ".cache" / "podsearch"


def test_builds_once_then_reuses(tmp_path: Path) -> None:
    target, calls = tmp_path / "models" / "m", []
    assert build_atomically(target, _writer(calls), {"v": 1}) == target
    assert build_atomically(target, _writer(calls), {"v": 1}) == target
    assert len(calls) == 1
    assert (target / "model.bin").read_text() == "ok" and (target / MARKER).is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == ["m"]


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "models" / "m"

    def broken(tmp: Path) -> None:
        (tmp / "half.bin").write_text("half")
        raise KeyboardInterrupt  # like a user pressing Ctrl-C mid-conversion

    with pytest.raises(KeyboardInterrupt):
        build_atomically(target, broken, {"v": 1})
    assert list(target.parent.iterdir()) == []


def test_a_changed_record_rebuilds_and_replaces(tmp_path: Path) -> None:
    target, calls = tmp_path / "m", []
    build_atomically(target, _writer(calls, "old"), {"v": 1})
    build_atomically(target, _writer(calls, "new"), {"v": 2})
    assert len(calls) == 2
    assert (target / "model.bin").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_a_directory_without_marker_is_not_trusted(tmp_path: Path) -> None:
    target, calls = tmp_path / "m", []
    target.mkdir()
    (target / "model.bin").write_text("copied by hand, maybe half")
    build_atomically(target, _writer(calls), {"v": 1})
    assert calls and (target / "model.bin").read_text() == "ok"


def test_leftovers_of_dead_builds_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".m.tmp-999999999-abc"  # no such pid
    alive = tmp_path / f".m.tmp-{os.getpid()}-abc"  # a build in progress elsewhere
    other = tmp_path / ".m2.tmp-999999999-abc"  # another model's
    for p in (dead, alive, other):
        p.mkdir()
    build_atomically(tmp_path / "m", _writer([]), {"v": 1})
    assert not dead.exists() and alive.exists() and other.exists()


def test_cache_entries_are_readable_by_others(tmp_path: Path) -> None:
    target = build_atomically(tmp_path / "m", _writer([]), {"v": 1})
    assert target.stat().st_mode & 0o755 == 0o755
    assert (target / "model.bin").stat().st_mode & 0o644 == 0o644
