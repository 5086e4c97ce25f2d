"""The one place that knows the concrete index engines: an index location -> its backends.

An index location is either a directory (embedded: FAISS + tantivy next to the SQLite catalog,
the default, unchanged for existing users) or a URL whose scheme names a registered server
backend (``postgresql://user:pass@host:5432/db``). Nothing above ``index/`` imports a concrete
engine: the engine asks the opened location for a VectorIndex and a KeywordIndex.

Milvus: ``milvus://host:19530`` / ``http://host:19530`` (a server) or
``milvus-lite:///path/file.db`` (Milvus Lite, no server); see ``index/milvus.py``. A new
backend registers an opener with ``register_backend(scheme, opener)``; ``open_location`` then
accepts its URLs.

Where the catalog lives: for a directory, in it (``catalog.sqlite``). For a URL, this round
keeps the SQLite catalog in a local directory (``catalog_dir``, by default one per URL under
``$PODSEARCH_HOME`` or ``~/.local/share/podsearch``); the catalog store behind a Protocol, in
the same database, is the next step of issue 10.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from podsearch.errors import QueryError
from podsearch.index.base import KeywordIndex, VectorIndex


class IndexLocation(Protocol):
    """An opened index location: makes the backends, says where local state lives."""

    kind: str  # "embedded", "postgresql", ...
    display: str  # for messages and stats: never holds a password
    local_dir: Path  # the SQLite catalog, hub probes

    def open_vectors(self, dim: int, *, fresh: bool = False) -> VectorIndex:
        """The vector index for ``dim``-d vectors. ``fresh``: do not read what is stored
        (it may hold another dimension), start empty (``reset(dim)``)."""
        ...

    def open_keywords(self) -> KeywordIndex: ...

    def close(self) -> None: ...


Opener = Callable[[str, Path | None], IndexLocation]
_OPENERS: dict[str, Opener] = {}
_FILE_SCHEMES = {"milvus-lite"}  # scheme:///absolute/path: no host


def register_backend(scheme: str, opener: Opener) -> None:
    """Make ``open_location`` accept ``scheme://...`` URLs: ``opener(url, catalog_dir)``."""
    _OPENERS[scheme.lower()] = opener


def url_scheme(location: str | Path) -> str | None:
    """The URL scheme of a location, or None for a directory (``C:\\x`` is a directory)."""
    scheme = urlsplit(str(location)).scheme.lower()
    return scheme if len(scheme) > 1 and "://" in str(location) else None


def _unpath(location: str | Path) -> str | Path:
    """A URL that went through ``Path`` (a CLI option typed Path) lost one slash of ``://``:
    give it back when the scheme is a registered backend's."""
    if isinstance(location, Path):
        m = re.match(r"([A-Za-z][A-Za-z0-9+.-]+):/(?!/)", str(location))
        if m and m.group(1).lower() in _OPENERS:
            # A file scheme's path is absolute (milvus-lite:///abs/x.db): keep its slash.
            keep = 1 if m.group(1).lower() in _FILE_SCHEMES else 0
            return f"{m.group(1)}://{str(location)[m.end() - keep :]}"
    return location


def redact(url: str) -> str:
    """The URL without its password (for messages, logs and stats)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{netloc[1]}").geturl()


def default_catalog_dir(url: str) -> Path:
    """A local directory per server location for the embedded catalog (one API node)."""
    home = os.environ.get("PODSEARCH_HOME") or Path.home() / ".local" / "share" / "podsearch"
    key = hashlib.sha256(redact(url).encode()).hexdigest()[:16]
    return Path(home) / "catalogs" / key


def open_location(
    location: str | Path,
    *,
    catalog_dir: str | Path | None = None,
    vector_index: str | None = None,
) -> IndexLocation:
    """Open an index location: a directory (embedded) or a registered backend's URL.
    ``vector_index``: the embedded vector index kind for a new index (see faiss_index.py);
    server backends choose their own index and ignore it."""
    _register_builtins()
    location = _unpath(location)
    scheme = url_scheme(location)
    if scheme is None:
        return EmbeddedLocation(Path(location), vector_index=vector_index)
    opener = _OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}://" for s in sorted(_OPENERS))
        raise QueryError(
            f"unknown index location scheme {scheme!r} in {redact(str(location))}: use a "
            f"directory or one of {known}"
        )
    return opener(str(location), Path(catalog_dir) if catalog_dir else None)


class EmbeddedLocation:
    """FAISS vectors and a tantivy keyword index in one directory, next to the catalog."""

    kind = "embedded"

    def __init__(self, path: Path, *, vector_index: str | None = None) -> None:
        self.local_dir = path
        self.display = str(path)
        self.vector_index = vector_index

    def open_vectors(self, dim: int, *, fresh: bool = False) -> VectorIndex:
        from podsearch.index.faiss_index import DEFAULT_VECTOR_INDEX, FaissVectorIndex

        kind = self.vector_index or DEFAULT_VECTOR_INDEX
        idx = FaissVectorIndex(self.local_dir / "vectors", dim, kind=kind, load=not fresh)
        if fresh:
            idx.reset(dim)
        return idx

    def open_keywords(self) -> KeywordIndex:
        from podsearch.index.tantivy_index import TantivyKeywordIndex

        return TantivyKeywordIndex(self.local_dir / "keyword")

    def close(self) -> None:
        pass


def _open_postgres(url: str, catalog_dir: Path | None) -> IndexLocation:
    from podsearch.index.postgres import PostgresLocation

    return PostgresLocation(url, catalog_dir or default_catalog_dir(url))


def _open_milvus(url: str, catalog_dir: Path | None) -> IndexLocation:
    from podsearch.index.milvus import open_milvus

    return open_milvus(url, catalog_dir)


def _register_builtins() -> None:
    for scheme in ("postgresql", "postgres"):
        _OPENERS.setdefault(scheme, _open_postgres)
    for scheme in ("milvus", "milvus-lite", "http", "https"):
        _OPENERS.setdefault(scheme, _open_milvus)
