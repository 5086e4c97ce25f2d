"""Shared fixtures: a tiny hand-checked catalog and a fake-encoder index built from it."""

from __future__ import annotations

import csv
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never reach a model hub: packaged weights only.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()

SHOWS = [
    # id, title, description, language, categories
    ("1", "Healthy Living", "Doctors talk about nutrition and health.", "English",
     "Health | Fitness & Nutrition"),
    ("2", "Kitchen Stories", "Cooks and cookbook authors on food.", "English", "Arts | Food"),
    ("3", "Wissen Heute", "Ein deutscher Wissenschaftspodcast.", "German",
     "Science & Medicine"),
]  # fmt: skip
EPISODES = [
    # id, show, title, description, pub_date
    ("e1", "1", "Staying healthy over Christmas",
     "<p>A doctor explains portion sizes at holiday dinners &amp; staying active.</p>",
     "2017-12-20 08:00:00+00"),
    ("e2", "1", "Sleep and recovery", "Why sleep matters for athletes and everyone else.",
     "2017-11-02 08:00:00+00"),
    ("e3", "1", "Marathon training basics", "Running plans for your first marathon race.",
     "2016-05-01 08:00:00+00"),
    ("e4", "2", "Baking sourdough bread", "A baker shares sourdough starter secrets.",
     "2017-12-01 08:00:00+00"),
    ("e5", "2", "Interview with a cookbook author", "She wrote three cookbooks about pasta.",
     "2018-01-15 08:00:00+00"),
    ("e6", "3", "Schlaf und Gesundheit", "Warum Schlaf für die Gesundheit wichtig ist.",
     "2017-10-10 08:00:00+00"),
    ("e7", "3", "Korallenriffe in Gefahr", "Der Klimawandel bedroht die Korallenriffe.",
     "2019-03-03 08:00:00+00"),
    ("e8", "3", "Schwarze Löcher", "Wie Astronomen schwarze Löcher fotografieren.",
     "2020-06-06 08:00:00+00"),
]  # fmt: skip


# Exports of the tests' throwaway models (built in temporary folders): never kept.
_TEST_MODEL = re.compile(r"^(tiny-.*|model-[0-9a-f]{8})(-onnx.*)?$")


@pytest.fixture(scope="session", autouse=True)
def _session_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """$PODSEARCH_CACHE for the session: a temporary folder, so that the ONNX exports of the
    tiny models tests build do not pile up in the user's cache (one per temporary path). The
    user's cached models are linked in (not unpacked or exported again); what the session adds
    for packaged models (a first run on a fresh machine) is moved to the user's cache after,
    as a normal run would have kept it."""
    from podsearch.encode._cache import cache_root

    real = cache_root()
    cache = tmp_path_factory.mktemp("podsearch-cache")
    (cache / "models").mkdir()
    for top in real.glob("*") if real.is_dir() else []:
        if top.name != "models":
            (cache / top.name).symlink_to(top)
    for entry in (real / "models").glob("*") if (real / "models").is_dir() else []:
        if not _TEST_MODEL.match(entry.name):
            (cache / "models" / entry.name).symlink_to(entry)
    before = os.environ.get("PODSEARCH_CACHE")
    os.environ["PODSEARCH_CACHE"] = str(cache)
    try:
        yield cache
    finally:
        if before is None:
            os.environ.pop("PODSEARCH_CACHE", None)
        else:
            os.environ["PODSEARCH_CACHE"] = before
        for sub in (cache, cache / "models"):
            for entry in list(sub.iterdir()):
                if entry.is_symlink() or entry.name.startswith(".") or entry == cache / "models":
                    continue
                if _TEST_MODEL.match(entry.name) and sub.name == "models":
                    continue
                dest = real / entry.relative_to(cache)
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(str(entry), str(dest))


def write_catalog(folder: Path, shows=SHOWS, episodes=EPISODES) -> Path:  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "podcasts.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "title", "image", "description", "language", "categories",
                    "website", "author", "itunes_id"])  # fmt: skip
        for sid, title, desc, lang, cats in shows:
            w.writerow([sid, title, "", desc, lang, cats, "", "", ""])
    with open(folder / "episodes.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "podcast_id", "title", "audio", "audio_length", "description",
                    "pub_date"])  # fmt: skip
        for eid, sid, title, desc, date in episodes:
            w.writerow([eid, sid, title, f"https://example.org/{eid}.mp3", "600", desc, date])
    return folder


@pytest.fixture
def tiny_catalog(tmp_path: Path) -> Path:
    return write_catalog(tmp_path / "catalog")


@pytest.fixture
def engine(tmp_path: Path, tiny_catalog: Path):  # type: ignore[no-untyped-def]
    from podsearch.encode.fake import FakeEncoder
    from podsearch.engine import Podsearch

    ps = Podsearch(tmp_path / "index", encoder=FakeEncoder(dim=64))
    ps.ingest(tiny_catalog)
    ps.build_index()
    yield ps
    ps.close()


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data not found at {p} (see ../shared/data/README.md)")
    return p
