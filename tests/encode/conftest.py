"""Encoder test fixtures. Nothing here may reach the Hugging Face hub."""

from __future__ import annotations

import os

# Must be set before huggingface_hub is first imported (it reads the variable once).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point $PODSEARCH_CACHE at an empty temporary folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("PODSEARCH_CACHE", str(cache))
    return cache
