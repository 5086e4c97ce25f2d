"""Catalog readers: every supported source becomes one :class:`CatalogData`.

>>> data = read_catalog("catalog/")                      # doctest: +SKIP
>>> len(data.episodes) + len(data.skipped) == data.read  # doctest: +SKIP
True

Formats (:data:`FORMATS`), detected from the path when ``fmt`` is None:

* ``listennotes`` - a folder holding ``podcasts.csv`` + ``episodes.csv``;
* ``feed`` - an RSS/Atom file (``.xml``, ``.rss``, ``.atom``), an http(s) URL, or a folder
  of such files (every feed in it);
* ``jsonl`` - ``.jsonl`` / ``.ndjson``, one episode object per line;
* ``parquet`` - ``.parquet``;
* ``table`` - ``.csv`` / ``.tsv``, one episode per row.

The tabular formats take a column ``mapping`` (see :mod:`podsearch.catalog.tabular` and
:data:`DEFAULT_MAPPING`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from podsearch.catalog.base import CatalogData
from podsearch.catalog.clean import normalize_language
from podsearch.catalog.listennotes import is_listennotes_dir, read_listennotes
from podsearch.catalog.rss import FEED_SUFFIXES, feed_files, is_url, read_feed, read_feed_dir
from podsearch.catalog.tabular import (
    CANONICAL_FIELDS,
    DEFAULT_MAPPING,
    MAPPING_FIELDS,
    read_jsonl,
    read_parquet,
    read_table,
)
from podsearch.errors import CatalogError

__all__ = [
    "CANONICAL_FIELDS",
    "DEFAULT_MAPPING",
    "FORMATS",
    "MAPPING_FIELDS",
    "CatalogData",
    "detect_format",
    "read_catalog",
]

FORMATS: tuple[str, ...] = ("listennotes", "feed", "jsonl", "parquet", "table")
_ALIASES = {
    "rss": "feed",
    "atom": "feed",
    "xml": "feed",
    "ndjson": "jsonl",
    "csv": "table",
    "tsv": "table",
    "listen-notes": "listennotes",
}
_SUFFIX_FORMATS = {
    **dict.fromkeys(FEED_SUFFIXES, "feed"),
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".csv": "table",
    ".tsv": "table",
}
_EXPECTED = (
    "expected a Listen Notes folder (podcasts.csv + episodes.csv), a feed (.xml/.rss/.atom "
    "file or http(s) URL), a folder of feed files, a .jsonl/.ndjson, .parquet, or .csv/.tsv file"
)


def detect_format(source: str | Path) -> str:
    """The format :func:`read_catalog` would use for ``source``; CatalogError if none fits."""
    if is_url(source):
        return "feed"
    path = Path(source)
    if path.is_dir():
        if is_listennotes_dir(path):
            return "listennotes"
        if feed_files(path):
            return "feed"
        raise CatalogError(f"{path}: folder holds no catalog; {_EXPECTED}")
    if not path.exists():
        raise CatalogError(f"{path}: no such file or folder; {_EXPECTED}")
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CatalogError(
            f"{path}: unknown catalog type {path.suffix or '(no suffix)'!r}; {_EXPECTED} "
            f"(or pass fmt= one of {', '.join(FORMATS)})"
        )
    return fmt


def read_catalog(
    source: str | Path,
    *,
    fmt: str | None = None,
    mapping: Mapping[str, str] | None = None,
    id_prefix: str = "",
    language: str | None = None,
) -> CatalogData:
    """Read a catalog into cleaned shows and episodes, plus what was skipped and why.

    ``fmt``: one of :data:`FORMATS` (aliases: rss, atom, csv, tsv, ndjson); None detects it.
    ``mapping``: canonical field -> column for the tabular formats (``{"title": "name"}``,
    ``"=text"`` for a literal); see :mod:`podsearch.catalog.tabular`.
    ``id_prefix``: prepended to every episode and show id, so that several catalogs can share
    one index. ``language``: ISO 639-1 code (or name) for episodes whose source gives none;
    used before language detection.

    Row-level problems never raise: they are skipped (``skipped``) or noted (``warnings``).
    Raises CatalogError when the source cannot be read at all.
    """
    if language is not None and language.strip() and not normalize_language(language):
        raise CatalogError(f"unknown language {language!r}; expected an ISO 639-1 code like 'en'")
    if fmt is not None:
        key = fmt.strip().lower()
        key = _ALIASES.get(key, key)
        if key not in FORMATS:
            raise CatalogError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        if not is_url(source) and not Path(source).exists():
            raise CatalogError(f"{source}: no such file or folder; {_EXPECTED}")
    else:
        key = detect_format(source)
    if mapping and key in ("listennotes", "feed"):
        raise CatalogError(f"mapping applies to jsonl, parquet and table sources, not to {key}")
    lang = language or None
    if key == "listennotes":
        return read_listennotes(source, id_prefix=id_prefix, language=lang)
    if key == "feed":
        if not is_url(source) and Path(source).is_dir():
            return read_feed_dir(source, id_prefix=id_prefix, language=lang)
        return read_feed(source, id_prefix=id_prefix, language=lang)
    if is_url(source):
        raise CatalogError(f"{source}: only feeds can be read from a URL, not {key}")
    readers = {"jsonl": read_jsonl, "parquet": read_parquet, "table": read_table}
    return readers[key](source, mapping=mapping, id_prefix=id_prefix, language=lang)
