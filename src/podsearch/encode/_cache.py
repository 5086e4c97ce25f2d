"""The on-disk model cache: $PODSEARCH_CACHE/models/<name>/, built atomically."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

# Written last into a finished build; a directory without it is never trusted.
MARKER = "podsearch-build.json"


def cache_root() -> Path:
    """$PODSEARCH_CACHE, else ~/.cache/podsearch."""
    env = os.environ.get("PODSEARCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "podsearch"


def model_cache_dir(name: str) -> Path:
    return cache_root() / "models" / name


def read_marker(target: Path) -> dict[str, object] | None:
    """The build record of a finished cache entry, or None if absent/unreadable."""
    try:
        data = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def build_atomically(
    target: Path, build: Callable[[Path], None], record: dict[str, object]
) -> Path:
    """Return ``target``, first running ``build(tmp)`` and renaming tmp into place if needed.

    ``record`` is stored as the build marker; an entry whose marker differs (another format
    version or source) is rebuilt. Interrupted builds leave only a ``.<name>.tmp-<pid>-*``
    sibling, which the next build removes once its process is gone.
    """
    if read_marker(target) == record:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    try:
        build(tmp)
        (tmp / MARKER).write_text(json.dumps(record, sort_keys=True), encoding="utf-8")
        _make_readable(tmp)
        if read_marker(target) == record:  # a concurrent process finished first
            shutil.rmtree(tmp, ignore_errors=True)
            return target
        if target.exists():
            # An outdated or foreign entry: move it aside first (rename is atomic, rmtree is not).
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / "x")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _make_readable(root: Path) -> None:
    # mkdtemp and some writers create owner-only entries; a cache is shared like ~/.cache.
    root.chmod(0o755)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)


def _remove_stale_temps(target: Path) -> None:
    for p in target.parent.glob(f".{target.name}.*-*"):
        kind, _, rest = p.name[len(target.name) + 2 :].partition("-")
        if kind == "old" or (kind == "tmp" and not _pid_alive(rest.split("-", 1)[0])):
            with contextlib.suppress(OSError):
                shutil.rmtree(p)


def _pid_alive(pid: str) -> bool:
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True
