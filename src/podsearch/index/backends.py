"""The one place that knows the concrete index engines: an index location -> its backends.

An index location is either a directory (embedded: FAISS + tantivy next to the SQLite catalog,
the default, unchanged for existing users) or a URL whose scheme names a registered server
backend (``postgresql://user:pass@host:5432/db``). Nothing above ``index/`` imports a concrete
engine: the engine asks the opened location for a VectorIndex and a KeywordIndex.

Milvus: ``milvus://host:19530`` / ``http://host:19530`` (a server) or
``milvus-lite:///path/file.db`` (Milvus Lite, no server); see ``index/milvus.py``. A new
backend registers an opener with ``register_backend(scheme, opener)``; ``open_location`` then
accepts its URLs.

Where the catalog lives (the ``CatalogStore`` Protocol, ``index/base.py``): for a directory,
in it (``catalog.sqlite``). For ``postgresql://``, in the same database as the vectors and
keywords (``index/pg_catalog.py``): nothing is kept on local disk, so several API replicas can
share one database, and an index chunk's catalog, vector and keyword writes are one
transaction (``IndexLocation.transaction``). For Milvus, SQLite in a local directory
(``catalog_dir``, by default one per URL under ``$PODSEARCH_HOME`` or
``~/.local/share/podsearch``): one API node per catalog.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from podsearch.errors import QueryError
from podsearch.index.base import CatalogStore, KeywordIndex, VectorIndex


class IndexLocation(Protocol):
    """An opened index location: makes the backends, says where local state lives."""

    kind: str  # "embedded", "postgresql", ...
    display: str  # for messages and stats: never holds a password
    local_dir: Path  # the SQLite catalog and hub probes (unused, never made, for PostgreSQL)
    local_files: bool  # whether anything lives in local_dir (False: nothing on local disk)

    def has_catalog(self) -> bool:
        """Whether a catalog exists here (a server location connects: ServerError if it
        cannot). Creates nothing."""
        ...

    def open_catalog(self) -> CatalogStore:
        """The catalog store, created (or migrated) if needed."""
        ...

    def write_lock(self) -> AbstractContextManager[None]:
        """One writer at a time per index, across processes (and hosts, for a server)."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Catalog, vector and keyword writes in the block commit together where the backend
        can (PostgreSQL); elsewhere each write commits on its own (a no-op block)."""
        ...

    def open_vectors(self, dim: int, *, fresh: bool = False) -> VectorIndex:
        """The vector index for ``dim``-d vectors. ``fresh``: do not read what is stored
        (it may hold another dimension), start empty (``reset(dim)``)."""
        ...

    def open_keywords(self) -> KeywordIndex: ...

    def close(self) -> None: ...


Opener = Callable[[str, "Path | str | None"], IndexLocation]  # catalog: a dir or a URL
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


_INDEX_NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}")


def index_name(url: str, query: list[tuple[str, str]]) -> str:
    """The server location's ``index`` parameter (the last one; default ``podsearch``): the
    prefix of its tables or collections, so 1-40 lower-case letters, digits or _."""
    names = [v for k, v in query if k == "index"]
    name = names[-1] if names else "podsearch"
    if not _INDEX_NAME.fullmatch(name):
        raise QueryError(
            f"index name {name!r} in {redact(url)}: use 1-40 lower-case letters, digits or _"
        )
    return name


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
    catalog: Path | str | None = None
    if catalog_dir:
        catalog = str(catalog_dir) if url_scheme(catalog_dir) else Path(catalog_dir)
    return opener(str(location), catalog)


class LocalCatalog:
    """A SQLite catalog in ``local_dir`` with a file lock for writers (embedded, Milvus)."""

    local_dir: Path
    local_files = True

    def has_catalog(self) -> bool:
        return (self.local_dir / "catalog.sqlite").is_file()

    def open_catalog(self) -> CatalogStore:
        from podsearch.store import SqliteCatalogStore

        self.local_dir.mkdir(parents=True, exist_ok=True)
        return SqliteCatalogStore(self.local_dir / "catalog.sqlite")

    def write_lock(self) -> AbstractContextManager[None]:
        self.local_dir.mkdir(parents=True, exist_ok=True)
        return _file_lock(self.local_dir / ".write.lock")

    def transaction(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (blocking); a no-op where fcntl is missing."""
    try:
        import fcntl
    except ImportError:  # Windows: writers in one process only
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class EmbeddedLocation(LocalCatalog):
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

    def discard_keywords(self) -> None:
        """Remove a damaged keyword index (the engine rebuilds it from the catalog)."""
        from podsearch.index.tantivy_index import discard

        discard(self.local_dir / "keyword")

    def close(self) -> None:
        pass


def _open_postgres(url: str, catalog_dir: Path | str | None) -> IndexLocation:
    from podsearch.index.postgres import PostgresLocation

    # The catalog is in the database itself; local_dir is unused (never made).
    local = catalog_dir if isinstance(catalog_dir, Path) else default_catalog_dir(url)
    return PostgresLocation(url, local)


def _open_milvus(url: str, catalog_dir: Path | str | None) -> IndexLocation:
    from podsearch.index.milvus import open_milvus

    return open_milvus(url, catalog_dir)


def _register_builtins() -> None:
    for scheme in ("postgresql", "postgres"):
        _OPENERS.setdefault(scheme, _open_postgres)
    for scheme in ("milvus", "milvus-lite", "http", "https"):
        _OPENERS.setdefault(scheme, _open_milvus)
