"""Shared helpers for the catalog reader tests (a plain module: conftest is not importable)."""

from __future__ import annotations

from pathlib import Path

import pytest

from podsearch.catalog.base import CatalogData

DATA = Path(__file__).resolve().parents[1] / "data" / "catalog"
REAL_DATA = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()


def assert_balanced(data: CatalogData) -> None:
    """The invariant every reader keeps: read == imported + skipped."""
    assert data.read == len(data.episodes) + len(data.skipped), (
        data.read,
        len(data.episodes),
        len(data.skipped),
    )


def reasons(data: CatalogData) -> list[str]:
    """Skip reasons without their details ("duplicate id: 7 (...)" -> "duplicate id")."""
    return [s.reason.split(":")[0] for s in data.skipped]


def real_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test with a clear message when it is absent."""
    path = REAL_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path} (../shared/data is not checked out here)")
    return path
