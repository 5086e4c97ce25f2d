"""One exception hierarchy. Every message says what to do about it."""

from __future__ import annotations


class PodsearchError(Exception):
    """Base class of every error podsearch raises on purpose."""

    exit_code = 1
    http_status = 400


class CatalogError(PodsearchError):
    """The catalog cannot be read at all (missing files, unknown format, no usable columns)."""

    exit_code = 2
    http_status = 422


class QueryError(PodsearchError):
    """A search request is invalid (empty query, too long, bad k, unknown mode or filter)."""

    exit_code = 2
    http_status = 422


class ConfigError(PodsearchError):
    """The config file or a PODSEARCH_* variable cannot be read or holds a bad value."""

    exit_code = 2
    http_status = 500


class InputTooLargeError(QueryError):
    """An upload exceeds a size or duration limit (an audio query longer than allowed)."""

    http_status = 413


class NotFoundError(PodsearchError):
    """An episode, show, index or model that was asked for does not exist."""

    exit_code = 3
    http_status = 404


class IndexNotFoundError(NotFoundError):
    """There is no index at the directory given (only ``ingest`` creates one)."""


class IndexStateError(PodsearchError):
    """The index directory is missing, corrupt, or built with another model."""

    exit_code = 4
    http_status = 409


class ModelError(PodsearchError):
    """A model cannot be loaded (unknown alias, missing path, broken package)."""

    exit_code = 5
    http_status = 500


class MissingDependencyError(PodsearchError):
    """An optional dependency is not installed; the message names the extra to install."""

    exit_code = 6
    http_status = 500

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package: pip install 'podsearch[{extra}]'"
        )
        self.package = package
        self.extra = extra


class ServerError(PodsearchError):
    """A server backend cannot be used: unreachable, wrong credentials, missing extension. The
    message names the server (never a password) and the fix."""

    exit_code = 7
    http_status = 503


class DamagedIndexError(IndexStateError):
    """A part of the index directory is unreadable (a keyword index without its meta.json, a
    catalog that is not a SQLite database); ``podsearch index`` rebuilds what it can."""


class StorageError(PodsearchError):
    """The disk refused a write: full, read-only or failing. What was committed before is
    kept; the message names the cause and the path."""

    exit_code = 8
    http_status = 503
