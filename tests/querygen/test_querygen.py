"""Query generation: cleaning, title pairs, round-trip filtering, resume, bad input."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from podsearch.encode.fake import FakeEncoder
from podsearch.errors import CatalogError, QueryError
from podsearch.models import Episode
from podsearch.querygen import RoundTripFilter, clean_queries, generate_pairs, read_pairs
from podsearch.querygen.base import episode_text


class ScriptedGenerator:
    """Returns the episode's description words as queries; can fail on a chosen call."""

    name = "scripted"

    def __init__(self, fail_on_call: int | None = None, empty: bool = False) -> None:
        self.calls = 0
        self.seen: list[str] = []
        self.fail_on_call = fail_on_call
        self.empty = empty

    def generate(self, episodes: Sequence[Episode], n: int, *, seed: int) -> list[list[str]]:
        self.calls += 1
        if self.fail_on_call == self.calls:
            raise KeyboardInterrupt
        self.seen += [e.episode_id for e in episodes]
        if self.empty:
            return [[] for _ in episodes]
        out = []
        for e in episodes:
            words = e.description.lower().rstrip(".").split()
            out.append([" ".join(words[i : i + 4]) for i in range(n)])
        return out


def ep(i: int, desc: str = "") -> Episode:
    return Episode(
        episode_id=f"e{i:02d}",
        show_id="s",
        title=f"Episode {i} about topic {i}",
        description=desc or f"alpha{i} beta{i} gamma{i} delta{i} epsilon{i} zeta{i} eta{i}",
        show_title="Show",
    )


def test_clean_queries_drops_noise_and_counts_reasons() -> None:
    kept, why = clean_queries(
        [
            "1. how does a low carb diet change metabolism",
            '"how does a low carb diet change metabolism"',  # duplicate once normalised
            "why do",  # unfinished
            "The Keto Diet Explained",  # copies the title
            "sermon sermon sermon sermon",  # repetitive
            "keto",  # too short
            " ".join(["word"] * 2 + [f"w{i}" for i in range(20)]),  # too long
        ],
        "The Keto Diet Explained",
    )
    assert kept == ["how does a low carb diet change metabolism"]
    assert why == {
        "duplicate": 1,
        "unfinished": 1,
        "copies the title": 1,
        "repetitive": 1,
        "too short": 1,
        "too long": 1,
    }


def test_generate_pairs_writes_generated_title_and_human_pairs(tmp_path: Path) -> None:
    eps = [ep(i) for i in range(6)] + [ep(6, desc="too short")]
    human = tmp_path / "human.jsonl"
    human.write_text(json.dumps({"query": "my own words", "episode_id": "e01"}) + "\n")
    out = tmp_path / "pairs.jsonl"
    rep = generate_pairs(
        eps, out, generator=ScriptedGenerator(), per_episode=2, sample=4, human=human, seed=3
    )
    pairs = read_pairs(out)
    gen = [p for p in pairs if p.generator == "scripted"]
    assert rep.sampled == 4 and rep.no_text == 1 and rep.episodes_generated == 4
    assert len({p.episode_id for p in gen}) == 4 and len(gen) == 8
    titles = [p for p in pairs if p.generator == "title"]
    # No title pair for the episode whose description is too short to learn from.
    assert len(titles) == 6 and all(p.strip_title for p in titles)
    assert "e06" not in {p.episode_id for p in titles}
    assert [p.query for p in pairs if p.generator == "human"] == ["my own words"]
    assert rep.pairs == len(pairs) == 8 + 6 + 1
    meta = json.loads(out.with_name("pairs.jsonl.meta.json").read_text())
    assert meta["pairs"] == rep.pairs and meta["settings"]["seed"] == 3
    assert not out.with_name("pairs.jsonl.partial").exists()
    # The title pair's text is the episode text without the title.
    assert "Episode 1 about" not in episode_text(eps[1], strip_title=True)


def test_sampling_is_seeded_and_independent_of_catalog_order(tmp_path: Path) -> None:
    eps = [ep(i) for i in range(10)]
    g1, g2, g3 = ScriptedGenerator(), ScriptedGenerator(), ScriptedGenerator()
    generate_pairs(eps, tmp_path / "a.jsonl", generator=g1, sample=3, titles=False, seed=1)
    generate_pairs(eps[::-1], tmp_path / "b.jsonl", generator=g2, sample=3, titles=False, seed=1)
    generate_pairs(eps, tmp_path / "c.jsonl", generator=g3, sample=3, titles=False, seed=2)
    assert sorted(g1.seen) == sorted(g2.seen)
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    assert sorted(g1.seen) != sorted(g3.seen)


def test_interrupted_run_resumes_without_duplicates_or_losses(tmp_path: Path) -> None:
    eps = [ep(i) for i in range(10)]
    ref = tmp_path / "ref.jsonl"
    ref_rep = generate_pairs(eps, ref, generator=ScriptedGenerator(), batch_size=2, seed=0)
    out = tmp_path / "pairs.jsonl"
    with pytest.raises(KeyboardInterrupt):
        generate_pairs(eps, out, generator=ScriptedGenerator(fail_on_call=3), batch_size=2)
    assert not out.exists()  # no finished file until the run completes
    assert out.with_name("pairs.jsonl.partial").exists()
    again = ScriptedGenerator()
    rep = generate_pairs(eps, out, generator=again, batch_size=2, seed=0)
    assert rep.resumed and len(again.seen) == 6  # only the 3 unfinished batches
    # The counters span both runs, as if nothing had happened.
    assert (rep.raw, rep.cleaned, rep.episodes_generated, rep.pairs) == (
        ref_rep.raw, ref_rep.cleaned, ref_rep.episodes_generated, ref_rep.pairs,
    )  # fmt: skip
    assert sorted(out.read_text().splitlines()) == sorted(ref.read_text().splitlines())


def test_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    eps = [ep(i) for i in range(6)]
    out = tmp_path / "pairs.jsonl"
    with pytest.raises(KeyboardInterrupt):
        generate_pairs(eps, out, generator=ScriptedGenerator(fail_on_call=2), batch_size=2)
    with pytest.raises(QueryError, match="other settings"):
        generate_pairs(eps, out, generator=ScriptedGenerator(), batch_size=2, per_episode=1)


def test_generator_that_returns_nothing_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "pairs.jsonl"
    with pytest.raises(QueryError, match="No usable pairs"):
        generate_pairs(
            [ep(i) for i in range(3)], out, generator=ScriptedGenerator(empty=True), titles=False
        )
    assert list(tmp_path.iterdir()) == []


def test_a_new_run_that_writes_nothing_keeps_the_previous_output(tmp_path: Path) -> None:
    eps = [ep(i) for i in range(3)]
    out = tmp_path / "pairs.jsonl"
    generate_pairs(eps, out, generator=ScriptedGenerator())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(before) == {"pairs.jsonl", "pairs.jsonl.meta.json"}
    with pytest.raises(QueryError, match="No usable pairs.*pairs.jsonl from the previous run"):
        generate_pairs(eps, out, generator=ScriptedGenerator(empty=True), titles=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # An interrupted new run keeps it too, until the resumed run finishes.
    with pytest.raises(KeyboardInterrupt):
        generate_pairs(eps, out, generator=ScriptedGenerator(fail_on_call=2), batch_size=1,
                       per_episode=1)  # fmt: skip
    assert out.read_bytes() == before["pairs.jsonl"]
    rep = generate_pairs(eps, out, generator=ScriptedGenerator(), batch_size=1, per_episode=1)
    assert rep.resumed and len(read_pairs(out)) == rep.pairs == 3 + 3
    assert json.loads((tmp_path / "pairs.jsonl.meta.json").read_text())["pairs"] == 6


def test_empty_catalog_and_nothing_to_do(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="empty"):
        generate_pairs([], tmp_path / "p.jsonl", generator=ScriptedGenerator())
    with pytest.raises(QueryError, match="Nothing to generate"):
        generate_pairs([ep(1)], tmp_path / "p.jsonl", generator=None, titles=False)


def test_roundtrip_filter_keeps_pairs_whose_episode_ranks_in_top_k(tmp_path: Path) -> None:
    enc = FakeEncoder(dim=256)
    eps = [ep(i) for i in range(8)]
    ids = [e.episode_id for e in eps]
    rt = RoundTripFilter(enc, ids, enc.encode_documents([e.text for e in eps]), k=1)
    # A query made of e03's own words ranks e03 first; a query of e05's words does not.
    ranks = rt.ranks(["alpha3 beta3 gamma3", "alpha5 beta5 gamma5"], ["e03", "e03"])
    assert ranks[0] == 1 and ranks[1] > 1
    rep = generate_pairs(
        eps, tmp_path / "p.jsonl", generator=ScriptedGenerator(), roundtrip=rt, titles=False
    )
    pairs = read_pairs(tmp_path / "p.jsonl")
    assert pairs and all(p.rank == 1 for p in pairs)
    assert rep.roundtrip_dropped == rep.cleaned - len(pairs)


def test_roundtrip_filter_checks_its_inputs() -> None:
    with pytest.raises(ValueError):
        RoundTripFilter(FakeEncoder(), ["a", "b"], np.zeros((1, 64), dtype=np.float32))


def test_read_pairs_reports_bad_lines(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"query": "x", "episode_id": "1"}\n{"nope": 1}\n')
    with pytest.raises(QueryError, match="bad.jsonl:2"):
        read_pairs(p)
    with pytest.raises(QueryError, match="podsearch querygen"):
        read_pairs(tmp_path / "missing.jsonl")
