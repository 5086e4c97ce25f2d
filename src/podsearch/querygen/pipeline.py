"""The query generation run: sample episodes, generate, clean, round-trip filter, write JSONL.

Resumable: pairs go to ``OUT.partial`` and the keys of finished episodes to ``OUT.done`` after
each batch (pairs first). A restart drops partial pairs of unfinished episodes and carries on,
so no pair is generated twice or lost. The finished file is renamed into place at the end;
``OUT.meta.json`` records the settings and what each step kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from podsearch.errors import CatalogError, PodsearchError, QueryError
from podsearch.models import Episode
from podsearch.querygen.base import Pair, QueryGenerator, episode_text
from podsearch.querygen.clean import clean_queries
from podsearch.querygen.roundtrip import RoundTripFilter
from podsearch.querygen.sampling import MIN_DESCRIPTION_WORDS, has_description

ProgressFn = Callable[[str, int, int], None]  # (phase, done, total)

__all__ = ["MIN_DESCRIPTION_WORDS", "QuerygenReport", "generate_pairs", "read_pairs"]


@dataclass
class QuerygenReport:
    """What one run generated, dropped and kept (counts across resumed runs)."""

    out: str
    generator: str
    episodes_in_catalog: int
    sampled: int
    no_text: int = 0
    raw: int = 0
    cleaned: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    roundtrip_dropped: int = 0
    title_pairs: int = 0
    title_dropped: int = 0
    human_pairs: int = 0
    pairs: int = 0
    generate_seconds: float = 0.0
    episodes_generated: int = 0
    resumed: bool = False
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def episodes_per_second(self) -> float:
        return self.episodes_generated / self.generate_seconds if self.generate_seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["episodes_per_second"] = round(self.episodes_per_second, 3)
        return d


def sample_order(episode_ids: Sequence[str], seed: int) -> list[str]:
    """A seeded order of episodes that does not depend on the catalog's order."""

    def key(e: str) -> str:
        return hashlib.sha1(f"{seed}\x1f{e}".encode()).hexdigest()

    return sorted(episode_ids, key=key)


def generate_pairs(
    episodes: Sequence[Episode],
    out: str | Path,
    *,
    generator: QueryGenerator | None,
    per_episode: int = 3,
    sample: int | None = None,
    titles: bool = True,
    human: str | Path | None = None,
    roundtrip: RoundTripFilter | None = None,
    seed: int = 0,
    batch_size: int = 32,
    generate_for: set[str] | None = None,
    progress: ProgressFn | None = None,
) -> QuerygenReport:
    """Write (query, episode) pairs for ``episodes`` to ``out`` (JSONL) and return a report.

    ``generator`` writes ``per_episode`` queries for each of ``sample`` sampled episodes (all
    when None); ``titles`` adds each episode's title as a query for its text without the title;
    ``human`` adds ``{query, episode_id}`` lines from a file; ``roundtrip`` drops generated and
    title pairs whose episode the base encoder does not rank in its top k. Episodes whose
    description has fewer than ``MIN_DESCRIPTION_WORDS`` words get neither generated queries
    nor title pairs (their text without the title is little more than the show's name).
    """
    out = Path(out)
    if not episodes:
        raise CatalogError("The catalog is empty: ingest episodes before generating queries")
    if generator is None and not titles and human is None:
        raise QueryError("Nothing to generate: give a generator, titles, or a human query file")
    if per_episode < 1 or batch_size < 1:
        raise QueryError("per_episode and batch_size must be >= 1")
    by_id = {e.episode_id: e for e in episodes}
    order = sample_order(list(by_id), seed)
    gen_ids = [
        i for i in order if _has_text(by_id[i]) and (generate_for is None or i in generate_for)
    ]
    settings = {
        "generator": generator.name if generator else None,
        "per_episode": per_episode,
        "sample": sample,
        "titles": titles,
        "human": str(human) if human else None,
        "roundtrip_k": roundtrip.k if roundtrip else None,
        "roundtrip_model": roundtrip.encoder.name if roundtrip else None,
        "seed": seed,
        "generate_for": len(generate_for) if generate_for is not None else None,
    }
    report = QuerygenReport(
        out=str(out),
        generator=generator.name if generator else "",
        episodes_in_catalog=len(by_id),
        sampled=min(sample, len(gen_ids)) if sample is not None else len(gen_ids),
        no_text=sum(1 for i in order if not _has_text(by_id[i])),
        settings=settings,
    )
    partial, done_path, meta_path = _paths(out)
    done, previous = _resume(out, settings, report)
    dropped: Counter[str] = Counter(report.dropped)

    with partial.open("a", encoding="utf-8") as pf, done_path.open("a", encoding="utf-8") as df:

        def flush(pairs: list[Pair], keys: list[str]) -> None:
            for p in pairs:
                pf.write(json.dumps(p.to_dict(), ensure_ascii=False) + "\n")
            pf.flush()
            os.fsync(pf.fileno())
            df.write("".join(k + "\n" for k in keys))
            df.flush()
            os.fsync(df.fileno())
            done.update(keys)
            report.dropped = dict(dropped)
            state = {"settings": settings, "state": "running", "report": report.to_dict(),
                     "previous": previous}  # fmt: skip
            meta_path.write_text(json.dumps(state), "utf-8")

        if generator is not None:
            todo = [i for i in gen_ids[: report.sampled] if f"gen\t{i}" not in done]
            n_done = report.sampled - len(todo)
            for start in range(0, len(todo), batch_size):
                ids = todo[start : start + batch_size]
                eps = [by_id[i] for i in ids]
                t0 = time.perf_counter()
                raw = generator.generate(eps, per_episode, seed=seed + _stable_int(ids[0]))
                report.generate_seconds += time.perf_counter() - t0
                if len(raw) != len(eps):
                    raise PodsearchError(
                        f"query generator {generator.name} returned {len(raw)} lists for "
                        f"{len(eps)} episodes"
                    )
                report.episodes_generated += len(eps)
                cand: list[Pair] = []
                for ep, qs in zip(eps, raw, strict=True):
                    report.raw += len(qs)
                    kept, why = clean_queries(qs, ep.title)
                    dropped.update(why)
                    report.cleaned += len(kept)
                    cand += [Pair(q, ep.episode_id, generator.name) for q in kept]
                pairs = _filter(cand, roundtrip, report, "roundtrip_dropped")
                report.pairs += len(pairs)
                flush(pairs, [f"gen\t{i}" for i in ids])
                n_done += len(ids)
                if progress:
                    progress("generate", n_done, report.sampled)
        if titles:
            todo = [i for i in order if f"title\t{i}" not in done]
            n_done = len(order) - len(todo)
            for start in range(0, len(todo), 512):
                ids = todo[start : start + 512]
                cand = [
                    Pair(by_id[i].title, i, "title", strip_title=True)
                    for i in ids
                    if _has_text(by_id[i]) and episode_text(by_id[i], strip_title=True).strip()
                ]
                pairs = _filter(cand, roundtrip, report, "title_dropped")
                report.title_pairs += len(pairs)
                report.pairs += len(pairs)
                flush(pairs, [f"title\t{i}" for i in ids])
                n_done += len(ids)
                if progress:
                    progress("titles", n_done, len(order))
        if human is not None and "human\t*" not in done:
            pairs = _human_pairs(Path(human), by_id)
            report.human_pairs = len(pairs)
            report.pairs += len(pairs)
            flush(pairs, ["human\t*"])

    report.dropped = dict(dropped)
    if report.pairs == 0:
        for p in (partial, done_path, meta_path):
            p.unlink(missing_ok=True)
        old_kept = out.exists()
        if old_kept and previous is not None:
            meta_path.write_text(json.dumps(previous, indent=2), encoding="utf-8")
        raise QueryError(
            f"No usable pairs: the generator wrote {report.raw} raw queries for "
            f"{report.episodes_generated} episodes and cleaning/filtering kept none "
            f"(dropped: {dict(dropped) or 'nothing generated'}); nothing was written"
            + (f" ({out} from the previous run is kept)" if old_kept else "")
        )
    os.replace(partial, out)
    done_path.unlink(missing_ok=True)
    meta_path.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    return report


def read_pairs(path: str | Path) -> list[Pair]:
    """Pairs from a JSONL file written by generate_pairs (or by hand: query, episode_id)."""
    path = Path(path)
    if not path.is_file():
        raise QueryError(f"No pairs file at {path}: run podsearch querygen first")
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            pairs.append(Pair.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError) as e:
            raise QueryError(f"{path}:{n}: not a pair with query and episode_id ({e})") from e
    return pairs


def _paths(out: Path) -> tuple[Path, Path, Path]:
    return (
        out.with_name(out.name + ".partial"),
        out.with_name(out.name + ".done"),
        out.with_name(out.name + ".meta.json"),
    )


def _resume(
    out: Path, settings: dict[str, Any], report: QuerygenReport
) -> tuple[set[str], dict[str, Any] | None]:
    """Keys of finished episodes, and the meta of the finished ``out`` this run will replace;
    drops partial pairs of unfinished ones."""
    partial, done_path, meta_path = _paths(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not partial.exists() or not done_path.exists():
        for p in (partial, done_path):
            p.unlink(missing_ok=True)
        # A finished file stays until the new run replaces it: if the new run writes nothing,
        # the old file and its meta are still there.
        previous = _read_meta(meta_path) if out.exists() else None
        partial.touch()
        done_path.touch()
        state = {"settings": settings, "state": "running", "previous": previous}
        meta_path.write_text(json.dumps(state), "utf-8")
        return set(), previous
    meta = _read_meta(meta_path) or {}
    if meta.get("settings") != settings:
        raise QueryError(
            f"{partial} is an interrupted run with other settings "
            f"({meta.get('settings')}); delete {partial} and {done_path} to start over"
        )
    done = {k for k in done_path.read_text("utf-8").splitlines() if k}
    kept: list[str] = []
    for line in partial.read_text("utf-8").splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue  # a line cut by the interrupt
        gen = d.get("generator")
        phase = "title" if gen == "title" else "human" if gen == "human" else "gen"
        key = "*" if phase == "human" else d.get("episode_id")
        if f"{phase}\t{key}" in done:
            kept.append(line)
    partial.write_text("".join(line + "\n" for line in kept), "utf-8")
    report.resumed = True
    report.pairs = len(kept)
    prev = meta.get("report") or {}
    for name in ("raw", "cleaned", "roundtrip_dropped", "title_pairs", "title_dropped",
                 "human_pairs", "generate_seconds", "episodes_generated"):  # fmt: skip
        setattr(report, name, prev.get(name, getattr(report, name)))
    report.dropped = dict(prev.get("dropped", {}))
    return done, meta.get("previous")


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _filter(
    cand: list[Pair], rt: RoundTripFilter | None, report: QuerygenReport, counter: str
) -> list[Pair]:
    if rt is None or not cand:
        return cand
    ranks = rt.ranks([p.query for p in cand], [p.episode_id for p in cand])
    kept = [
        Pair(p.query, p.episode_id, p.generator, p.strip_title, r)
        for p, r in zip(cand, ranks, strict=True)
        if rt.keep(r)
    ]
    setattr(report, counter, getattr(report, counter) + len(cand) - len(kept))
    return kept


def _human_pairs(path: Path, by_id: dict[str, Episode]) -> list[Pair]:
    pairs = read_pairs(path)
    unknown = sorted({p.episode_id for p in pairs if p.episode_id not in by_id})
    if unknown:
        raise QueryError(
            f"{path}: {len(unknown)} episode ids are not in the catalog (first: {unknown[:5]})"
        )
    return [Pair(p.query, p.episode_id, "human") for p in pairs if p.query.strip()]


def _has_text(ep: Episode) -> bool:
    return has_description(ep)


def _stable_int(s: str) -> int:
    return int(hashlib.sha1(s.encode()).hexdigest()[:8], 16)


def generate_for_index(
    ps: Any,
    out: str | Path,
    *,
    generator: QueryGenerator | None,
    per_episode: int = 3,
    sample: int | None = None,
    titles: bool = True,
    human: str | Path | None = None,
    filter_k: int | None = 30,
    id_prefix: str | None = None,
    languages: Sequence[str] = (),
    seed: int = 0,
    batch_size: int = 32,
    progress: ProgressFn | None = None,
    stratify: bool = False,
) -> QuerygenReport:
    """generate_pairs over the episodes of a built index (a ``Podsearch``).

    ``stratify``: draw the ``sample`` per corpus (id prefix) and skip the most hub-like
    episodes (see querygen.sampling) instead of one seeded draw over the whole catalog.

    The round-trip filter searches with the index's own model over its stored vectors, so it
    costs one query encoding per candidate. ``id_prefix`` / ``languages`` restrict which
    episodes get generated queries (all get title pairs and stay in the round-trip pool).
    """
    episodes = list(ps.store.iter_episodes())
    if not episodes:
        raise CatalogError(f"The index at {ps.index_dir} has no episodes: run podsearch ingest")
    chosen = [
        e
        for e in episodes
        if (not id_prefix or e.episode_id.startswith(id_prefix))
        and (not languages or e.language in languages)
    ]
    if not chosen:
        raise CatalogError(
            f"No episode matches id prefix {id_prefix!r} and languages {list(languages)}"
        )
    if stratify:
        from podsearch.querygen.sampling import eligible, stratified_sample

        hubs = ps.store.hub_scores([e.episode_id for e in chosen])
        ok, _skipped = eligible(chosen, hubs)
        chosen = stratified_sample(ok, sample or len(ok), seed=seed) if ok else chosen
        sample = None
    ids = [e.episode_id for e in episodes]
    rt = index_roundtrip_filter(ps, ids, filter_k) if filter_k else None
    return generate_pairs(
        episodes,
        out,
        generator=generator,
        per_episode=per_episode,
        sample=sample,
        titles=titles,
        human=human,
        roundtrip=rt,
        seed=seed,
        batch_size=batch_size,
        generate_for=None if len(chosen) == len(episodes) else {e.episode_id for e in chosen},
        progress=progress,
    )


def index_roundtrip_filter(ps: Any, ids: Sequence[str], k: int) -> RoundTripFilter:
    """A round-trip filter that searches ``ids`` of a built index with its own model over its
    stored vectors (one query encoding per candidate, no document encoding)."""
    from podsearch.errors import IndexStateError

    if ps.indexed_model is None or ps.store.count_indexed() < ps.store.count():
        raise IndexStateError(
            f"Round-trip filtering searches the index, which is not built or not up to date "
            f"at {ps.index_dir}: run podsearch index first (or pass --no-filter)"
        )
    import numpy as np

    vecs = ps.vector_index().get_vectors(list(ids))
    mat = np.stack([vecs[i] for i in ids])
    return RoundTripFilter(ps.encoder(), list(ids), mat, k=k)
