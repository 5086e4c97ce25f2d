"""The settings of this command-line run: ``--config`` (given before the command) + env + flags."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from podsearch.config import Settings, load_settings

if TYPE_CHECKING:
    from podsearch.engine import Podsearch

_config: Path | None = None


def use_config(path: Path | None) -> None:
    """Remember ``--config PATH`` for the command that runs next."""
    global _config
    _config = path


def settings(**flags: Any) -> Settings:
    """Settings for this run; flags that are None (not given) fall back to env, file, default."""
    s = load_settings(_config, **flags)
    s.export_environment()
    return s


def open_index(
    index: Path | None,
    *,
    model: str | None = None,
    backend: str | None = None,
    create: bool = False,
) -> Podsearch:
    """The index named by the flag, $PODSEARCH_INDEX or the config file. Only ``ingest`` passes
    ``create=True``: elsewhere a wrong path is an IndexNotFoundError, and nothing is created."""
    return open_with(settings(index=index, model=model, backend=backend), create=create)


def open_with(s: Settings, *, create: bool = False) -> Podsearch:
    """Open ``s.index`` with the model, backend and fusion weights of ``s``."""
    from podsearch.encode import BACKENDS
    from podsearch.engine import Podsearch
    from podsearch.errors import ModelError

    if s.backend not in BACKENDS:  # checked before the index is opened
        raise ModelError(
            f"Unknown encoder backend {s.backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    return Podsearch(
        s.index,
        model=s.model,
        backend=s.backend,
        fusion=s.fusion(),
        create=create,
        catalog_dir=s.catalog,
        vector_index=s.vector_index,
    )
