"""The Python API over a tiny hand-checked catalog, with the fake encoder."""

from __future__ import annotations

import csv
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from podsearch import Filters, Podsearch
from podsearch.encode.fake import FakeEncoder
from podsearch.errors import IndexStateError, NotFoundError, QueryError
from tests.conftest import EPISODES, SHOWS, write_catalog


def top(ps: Podsearch, q: str, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.episode_id for h in ps.search(q, **kw).hits]


def test_ingest_report_and_idempotent_reimport(tmp_path: Path, tiny_catalog: Path) -> None:
    ps = Podsearch(tmp_path / "ix", encoder=FakeEncoder())
    r = ps.ingest(tiny_catalog)
    assert (r.read, r.imported, r.updated, r.unchanged, r.skipped_count) == (8, 8, 0, 0, 0)
    again = ps.ingest(tiny_catalog)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 8)
    ep = ps.episode("e1")
    assert ep.show_title == "Healthy Living" and ep.language == "en"
    assert "&amp;" not in ep.description and "<p>" not in ep.description
    assert ep.text.startswith("Staying healthy over Christmas. A doctor explains")
    assert ep.pub_date == datetime(2017, 12, 20, 8, tzinfo=UTC)


def test_search_modes_find_the_hand_checked_episode(engine: Podsearch) -> None:
    for mode in ("dense", "keyword", "hybrid"):
        assert top(engine, "sourdough bread baker", mode=mode)[0] == "e4", mode
    res = engine.search("cookbook author interview", k=2)
    assert res.hits[0].episode_id == "e5" and res.hits[0].show_title == "Kitchen Stories"
    assert res.hits[0].rank == 1 and "pasta" in res.hits[0].snippet
    assert res.hits[0].dense_rank is not None and res.hits[0].keyword_rank is not None
    assert set(res.timings_ms) >= {"encode_ms", "dense_ms", "keyword_ms"}


def test_filters_and_pagination(engine: Podsearch) -> None:
    german = Filters(languages=("de",))
    for mode in ("dense", "keyword", "hybrid"):  # keyword: only the German text with the word
        want = ["e6"] if mode == "keyword" else ["e6", "e7", "e8"]
        assert sorted(top(engine, "schlaf sleep", k=10, filters=german, mode=mode)) == want, mode
    assert top(engine, "schlaf sleep", k=10, filters=german)[0] == "e6"
    assert set(top(engine, "sleep", k=10, filters=Filters(show_ids=("2",)), mode="dense")) == {
        "e4", "e5"}  # fmt: skip
    only_2017 = Filters(date_from=datetime(2017, 1, 1, tzinfo=UTC),
                        date_to=datetime(2017, 12, 31, tzinfo=UTC))  # fmt: skip
    assert set(top(engine, "health", k=10, filters=only_2017, mode="dense")) == {
        "e1", "e2", "e4", "e6"}  # fmt: skip
    cats = set(top(engine, "health", k=10, filters=Filters(categories=("science & medicine",)),
                   mode="dense"))  # fmt: skip
    assert cats == {"e6", "e7", "e8"}
    full = top(engine, "health sleep running", k=6, mode="dense")
    assert top(engine, "health sleep running", k=3, offset=3, mode="dense") == full[3:6]


def test_bad_queries_are_clear_errors(engine: Podsearch) -> None:
    for q in ["", "   ", "\x00\x01", "a" * 10_000]:
        with pytest.raises(QueryError):
            engine.search(q)
    with pytest.raises(QueryError, match="k must be"):
        engine.search("x", k=0)
    with pytest.raises(QueryError, match="mode"):
        engine.search("x", mode="magic")
    for q in ["健康 饮食", "здоровье", "صحة", "🎄🎅", "x\x07y", "DROP TABLE episodes;--"]:
        engine.search(q)
    with pytest.raises(NotFoundError):
        engine.episode("nope")


def test_changed_episode_is_updated_and_reindexed(tmp_path: Path, engine: Podsearch) -> None:
    eps = [e if e[0] != "e8" else ("e8", "3", "Vulkane in Island", "Lava und Asche.", e[4])
           for e in EPISODES]  # fmt: skip
    cat2 = write_catalog(tmp_path / "cat2", SHOWS, eps)
    r = engine.ingest(cat2)
    assert (r.updated, r.unchanged) == (1, 7)
    rep = engine.build_index()
    assert rep.encoded == 1 and rep.total_indexed == 8
    assert top(engine, "Vulkane Lava", mode="keyword") == ["e8"]
    assert top(engine, "Vulkane Lava", mode="dense")[0] == "e8"
    assert engine.build_index().encoded == 0


def test_delete_removes_from_store_and_both_indexes(engine: Podsearch) -> None:
    assert engine.delete(["e4", "unknown"]) == 1
    assert "e4" not in top(engine, "sourdough bread baker", mode="keyword")
    assert "e4" not in top(engine, "sourdough bread baker", mode="dense", k=10)
    with pytest.raises(NotFoundError):
        engine.episode("e4")
    assert engine.stats()["episodes"] == 7


def test_reopen_and_model_mismatch(tmp_path: Path, engine: Podsearch) -> None:
    engine.close()
    again = Podsearch(tmp_path / "index", encoder=FakeEncoder(dim=64))
    assert top(again, "sourdough bread baker")[0] == "e4"
    other = Podsearch(tmp_path / "index", encoder=FakeEncoder(dim=32))
    with pytest.raises(IndexStateError, match="built with model"):
        other.search("bread", mode="dense")
    assert other.build_index().rebuilt  # a new model re-encodes everything
    assert top(other, "sourdough bread baker", mode="dense")[0] == "e4"


def test_interrupted_build_resumes(tmp_path: Path, tiny_catalog: Path) -> None:
    class Flaky(FakeEncoder):
        calls = 0

        def encode_documents(self, texts, **kw):  # type: ignore[no-untyped-def]
            Flaky.calls += 1
            if Flaky.calls == 2:
                raise KeyboardInterrupt
            return super().encode_documents(texts, **kw)

    ps = Podsearch(tmp_path / "ix", encoder=Flaky(), commit_every=3)
    ps.ingest(tiny_catalog)
    with pytest.raises(KeyboardInterrupt):
        ps.build_index(batch_size=1)
    assert ps.stats()["indexed"] == 3
    assert ps.build_index().encoded == 5
    assert ps.stats()["indexed"] == 8


def test_orphans_and_duplicates_are_reported_not_lost(tmp_path: Path) -> None:
    eps = [*EPISODES[:3], ("e1", "1", "Dup", "dup", ""), ("e9", "77", "Orphan", "x", "")]
    cat = write_catalog(tmp_path / "c", SHOWS, eps)
    ps = Podsearch(tmp_path / "ix", encoder=FakeEncoder())
    r = ps.ingest(cat)
    assert r.read == 5 and r.imported == 3 and r.skipped_count == 2 and r.balanced
    reasons = " ".join(s.reason for s in r.skipped)
    assert "duplicate" in reasons and "orphan" in reasons


def test_id_conflict_between_catalogs_is_skipped_with_advice(tmp_path: Path) -> None:
    a = write_catalog(tmp_path / "a")
    other_shows = [("9" + s[0], *s[1:]) for s in SHOWS]
    b = write_catalog(tmp_path / "b", other_shows, [(e[0], "9" + e[1], *e[2:]) for e in EPISODES])
    ps = Podsearch(tmp_path / "ix", encoder=FakeEncoder())
    ps.ingest(a)
    r = ps.ingest(b)
    assert r.skipped_count == 8 and "--id-prefix" in r.skipped[0].reason
    r2 = ps.ingest(b, id_prefix="b:")
    assert r2.imported == 8
    with open(b / "episodes.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 8


def test_hub_scores_are_stored_refreshed_and_change_dense_ranking(engine: Podsearch) -> None:
    hub = engine.store.hub_scores([f"e{i}" for i in range(1, 9)])
    assert len(hub) == 8 and all(-1.0 <= v <= 1.0 for v in hub.values())
    assert (engine.index_dir / "hub-probes.npy").exists()
    plain = top(engine, "sourdough bread baker", mode="dense", k=8)
    # Make the best match a "hub": a huge hub score must push it down the dense ranking.
    engine.store.set_hub_scores([(plain[0], 10.0)])
    assert top(engine, "sourdough bread baker", mode="dense", k=8)[-1] == plain[0]
    engine.delete([plain[0]])
    assert plain[0] not in engine.store.hub_scores([plain[0]])


def test_hubness_can_be_switched_off(tmp_path: Path, tiny_catalog: Path) -> None:
    from podsearch.search.searcher import FusionSettings

    ps = Podsearch(tmp_path / "ix", encoder=FakeEncoder(), fusion=FusionSettings(hubness_beta=0))
    ps.ingest(tiny_catalog)
    ps.build_index()
    before = top(ps, "sourdough bread baker", mode="dense", k=8)
    ps.store.set_hub_scores([(before[0], 10.0)])
    assert top(ps, "sourdough bread baker", mode="dense", k=8) == before


def test_warm_up_loads_everything_before_the_first_query(engine: Podsearch) -> None:
    engine.searcher.cache = type(engine.searcher.cache)(16)
    engine.warm_up()
    assert engine.searcher.cache.misses == 1
    engine.search("bread", mode="dense")
    assert engine.searcher.cache.misses == 2


def test_a_relative_model_path_serves_the_index_built_with_it(
    tmp_path: Path, tiny_catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --model ./dir` on an index built with ./dir: the index records the absolute
    path, so the handle must compare resolved names, not the raw argument."""
    model_dir = tmp_path / "models" / "mine"
    model_dir.mkdir(parents=True)
    (model_dir / "modules.json").write_text("[]")

    class LocalModel(FakeEncoder):  # what load_encoder returns for a local directory
        name = str(model_dir.resolve())  # type: ignore[assignment]

    loaded: list[str] = []

    def load_encoder(name: str, **kw: object) -> FakeEncoder:
        loaded.append(name)
        return LocalModel(64)

    monkeypatch.setattr("podsearch.encode.load_encoder", load_encoder)
    monkeypatch.chdir(tmp_path)
    with Podsearch(tmp_path / "ix", model="./models/mine") as ps:
        ps.ingest(tiny_catalog)
        ps.build_index()
        assert ps.indexed_model == str(model_dir.resolve())
    for arg in ("./models/mine", "models/mine", str(model_dir)):
        with Podsearch(tmp_path / "ix", model=arg) as ps:
            ps.warm_up()
            assert ps.model_name == str(model_dir.resolve())
            assert top(ps, "sourdough bread baker", mode="dense")[0] == "e4"
            assert not ps.build_index().rebuilt  # the same model: nothing re-encoded
    with (
        Podsearch(tmp_path / "ix", model="fake") as ps,  # still refuses another model
        pytest.raises(IndexStateError, match="built with model"),
    ):
        ps.warm_up()


def test_fake_model_names_compare_by_what_they_load(tmp_path: Path, tiny_catalog: Path) -> None:
    with Podsearch(tmp_path / "ix", model="fake") as ps:
        ps.ingest(tiny_catalog)
        ps.build_index()
    with Podsearch(tmp_path / "ix", model="fake:64") as ps:  # the same 64-dim encoder
        ps.warm_up()  # compares names before the encoder is loaded
        assert top(ps, "sourdough bread baker", mode="dense")[0] == "e4"


def test_searches_are_answered_while_a_build_encodes(tmp_path: Path, tiny_catalog: Path) -> None:
    class Slow(FakeEncoder):
        """Blocks in encode_documents until released, like a long real build."""

        def __init__(self) -> None:
            super().__init__(64)
            self.encoding = threading.Event()
            self.release = threading.Event()
            self.release.set()

        def encode_documents(self, texts, **kw):  # type: ignore[no-untyped-def]
            self.encoding.set()
            assert self.release.wait(60)
            return super().encode_documents(texts, **kw)

    enc = Slow()
    ps = Podsearch(tmp_path / "ix", encoder=enc)
    ps.ingest(tiny_catalog)
    ps.build_index()
    eps = [e if e[0] != "e8" else ("e8", "3", "Vulkane in Island", "Lava und Asche.", e[4])
           for e in EPISODES]  # fmt: skip
    ps.ingest(write_catalog(tmp_path / "cat2", SHOWS, eps))
    enc.release.clear()
    enc.encoding.clear()
    build = threading.Thread(target=ps.build_index, daemon=True)
    build.start()
    try:
        assert enc.encoding.wait(30)
        answers: dict[str, list[str]] = {}

        def search() -> None:
            for mode in ("dense", "keyword", "hybrid"):
                answers[mode] = top(ps, "sourdough bread baker", mode=mode)
            answers["stats"] = [str(ps.stats()["indexed"])]

        searcher = threading.Thread(target=search, daemon=True)
        searcher.start()
        searcher.join(10)
        assert not searcher.is_alive(), "the search waited for the build to finish"
        assert {m: a[0] for m, a in answers.items()} == {
            "dense": "e4", "keyword": "e4", "hybrid": "e4", "stats": "7"}  # fmt: skip
    finally:
        enc.release.set()
        build.join(30)
    assert not build.is_alive()
    assert top(ps, "Vulkane Lava", mode="keyword") == ["e8"]
    ps.close()


def test_category_counts_match_the_case_insensitive_filter(tmp_path: Path) -> None:
    shows = [*SHOWS, ("4", "Body Talk", "On bodies.", "English", "health | Fitness & Nutrition")]
    eps = [*EPISODES, ("e9", "4", "Stretching", "Why stretching helps.", "2018-02-02 08:00:00+00")]
    ps = Podsearch(tmp_path / "ix", encoder=FakeEncoder())
    ps.ingest(write_catalog(tmp_path / "c", shows, eps))
    ps.build_index()
    cats = ps.stats()["categories"]
    # Shown once, in the form most episodes use; counted like the filter matches.
    assert cats["Health"] == 4 and "health" not in cats
    assert cats["Fitness & Nutrition"] == 4 and len(cats) == 5, cats
    health = set(top(ps, "sleep", k=10, mode="dense", filters=Filters(categories=("Health",))))
    assert health == {"e1", "e2", "e3", "e9"}
    with pytest.raises(QueryError, match="no facet 'shows'"):
        ps.store.facet_counts("shows")
    ps.close()
