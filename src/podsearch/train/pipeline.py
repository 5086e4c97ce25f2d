"""The adaptation pipeline: pairs -> splits -> fine-tuning -> tuned index -> evaluation.

Each step writes its own output and is skipped when that output exists, so ``podsearch adapt``
picks up where an interrupted run stopped.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podsearch.errors import IndexStateError, QueryError
from podsearch.querygen.base import Pair
from podsearch.train.finetune import TrainReport, TrainSettings, check_model_dir, finetune
from podsearch.train.splits import DEFAULT_FRACTIONS, Splits, split_pairs

if TYPE_CHECKING:
    from podsearch.engine import Podsearch
    from podsearch.evaluate.compare import ComparisonReport

Log = Callable[[str], None]
CARD_JSON = "podsearch-card.json"


def train_model(
    ps: Podsearch,
    pairs: Sequence[Pair],
    out: str | Path,
    settings: TrainSettings,
    *,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    overwrite: bool = False,
    progress: Callable[[int, int, float], None] | None = None,
    log: Log = lambda _m: None,
    roundtrip_k: int | None = 30,
    heldout: Sequence[tuple[str, str, str]] = (),
    pool_size: int = 2000,
    keep_tuned: bool = False,
    heldout_groups: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Any]:
    """Split ``pairs`` by episode, round-trip filter the train split (only it: the held-out
    splits are not chosen by the base model), measure in-batch MRR@5 of the base model,
    fine-tune, measure again, run the held-out check that decides which model to keep, and
    write the model with its splits and a model card. Returns the card.

    ``roundtrip_k``: keep a training pair only if the index's own (base) model ranks its
    episode in the top k of the whole catalog (None: no filter). ``heldout``: extra
    (qid, query, episode id) queries for the held-out check (curated ones), beside the eval
    split's generated queries; their MRR@30 must not drop, nor that of ``heldout_groups`` (qids,
    e.g. ``cross_lingual_qids``). ``card["kept"]`` says which model won (see evaluate.heldout).
    """
    from podsearch.encode.st import SentenceTransformerEncoder
    from podsearch.evaluate.heldout import decide, reciprocal_ranks
    from podsearch.evaluate.inbatch import inbatch_mrr
    from podsearch.train.finetune import load_base

    out = Path(out)
    episodes = {e.episode_id: e for e in ps.store.iter_episodes()}
    splits = split_pairs(pairs, episodes, fractions=fractions, seed=settings.seed)
    log(f"splits by episode: {splits.report['episodes']} episodes, {splits.report['pairs']} pairs")
    if not splits.train:
        raise QueryError("The train split is empty: generate more pairs")
    filtered = _roundtrip_train(ps, splits, roundtrip_k, episodes) if roundtrip_k else None
    if filtered:
        log(f"round-trip filter (train split only, top {roundtrip_k}): {filtered}")
        if not splits.train:
            raise QueryError("The round-trip filter kept no training pair: raise --filter-k")
    model, qp, pp = load_base(settings)
    enc = SentenceTransformerEncoder(model, settings.base, query_prefix=qp, passage_prefix=pp)
    eval_pairs = splits.eval if len({p.episode_id for p in splits.eval}) >= 2 else splits.test
    test_gen = [p for p in splits.test if p.generator != "title"]
    test_gen = test_gen if len({p.episode_id for p in test_gen}) >= 2 else []
    before = inbatch_mrr(enc, eval_pairs, episodes) if len(eval_pairs) >= 2 else None
    before_test = inbatch_mrr(enc, test_gen, episodes) if test_gen else None
    check_q, pool = heldout_check_set(splits.eval, heldout, episodes, pool_size, settings.seed)
    base_rr = reciprocal_ranks(enc, check_q, episodes, pool)
    if before:
        log(
            f"base in-batch MRR@5: {before['mrr@5_batch64']:.3f} (batches of 64), "
            f"{before['mrr@5_all']:.3f} (vs all {before['queries']} eval episodes)"
        )
    miner = _miner(ps, episodes) if settings.hard_negatives > 0 else None
    report = finetune(
        splits.train,
        episodes,
        out,
        settings,
        model=model,
        prefixes=(qp, pp),
        overwrite=overwrite,
        progress=progress,
        miner=miner,
    )
    after = inbatch_mrr(enc, eval_pairs, episodes) if before else None  # model trained in place
    after_test = inbatch_mrr(enc, test_gen, episodes) if test_gen else None
    tuned_rr = reciprocal_ranks(enc, check_q, episodes, pool)
    # The human-written queries are their own group: the eval split's generated queries come
    # from the training distribution and outnumber them (401 to 136 on the 19k run, where the
    # tuned model won the mean while losing the curated queries, as it did over the catalog).
    groups = {"curated": [q[0] for q in heldout], **(heldout_groups or {})}
    verdict = decide(base_rr, tuned_rr, keep_tuned=keep_tuned, groups=groups)
    verdict["pool"] = len(pool)
    verdict["curated_queries"] = sum(1 for q in heldout if q[2] in episodes)
    verdict["per_query"] = {"base": base_rr, "tuned": tuned_rr}
    log(
        f"held-out check ({verdict['queries']} queries, pool of {len(pool)} episodes): "
        f"MRR@30 base {verdict['base_mrr@30']:.3f}, fine-tuned {verdict['tuned_mrr@30']:.3f} "
        f"-> keeping the {verdict['kept']} model"
        + (f" (lower on {', '.join(verdict['blocked_by'])})" if verdict["blocked_by"] else "")
        + (" (forced by --keep-tuned)" if verdict["forced"] else "")
    )
    splits.write(out / "splits")
    card = _card(report, splits, before, after, eval_pairs is splits.test)
    card["inbatch_test_generated_before"] = before_test
    card["inbatch_test_generated_after"] = after_test
    card["roundtrip_train"] = filtered
    card["heldout_check"] = verdict
    card["kept"] = verdict["kept"]
    (out / CARD_JSON).write_text(json.dumps(card, indent=2), "utf-8")
    _append_readme(out, card)
    return card


def curated_queries(
    path: str | Path, corpus: str | None, prefix: str
) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, dict[str, int]]]:
    """The lines of a curated query file (of one corpus, or all), their texts and qrels with
    episode ids prefixed as the index has them (``prefix``, or ``corpus=prefix,...``)."""
    from podsearch.evaluate.metrics import known_item_qrels, load_queries, query_id

    rows = [q for q in load_queries(path) if corpus is None or q.get("corpus") == corpus]
    bad = [q for q in rows if query_id(q) is None or "query" not in q or "episode_id" not in q]
    if bad:
        raise QueryError(f"{path}: lines need qid (or id), query, episode_id: {bad[0]}")
    choices = dict(c.split("=", 1) for c in prefix.split(",") if "=" in c)

    def pre(q: dict[str, Any], e: str) -> str:
        return (choices.get(str(q.get("corpus")), "") if choices else prefix) + str(e)

    texts, qrels = known_item_qrels(rows, id_of=pre)
    return rows, texts, qrels


def check_queries(
    curated: Sequence[tuple[str, str | Path, str | None, str]],
) -> list[tuple[str, str, str]]:
    """Curated (qid, query, episode id) for the held-out check: the ``tune`` half of files
    that mark a ``split`` (the ``heldout`` half stays unseen for the report), all lines of
    files that do not."""
    from podsearch.evaluate.metrics import query_id

    out: list[tuple[str, str, str]] = []
    for name, path, corpus, prefix in curated:
        rows, texts, qrels = curated_queries(path, corpus, prefix)
        marked = any("split" in q for q in rows)
        for q in rows:
            qid = str(query_id(q))
            if marked and q.get("split") != "tune":
                continue
            out += [(f"{name}:{qid}", texts[qid], e) for e in qrels[qid]][:1]
    return out


def heldout_check_set(
    eval_pairs: Sequence[Pair],
    heldout: Sequence[tuple[str, str, str]],
    episodes: Mapping[str, Any],
    pool_size: int,
    seed: int,
) -> tuple[list[tuple[str, str, str]], list[str]]:
    """The held-out check's (qid, query, episode id) queries and the pool both models search:
    the eval split's generated queries (its titles only when it has none) and the ``heldout``
    ones whose episode is in the catalog; the pool holds their targets, their shows' siblings
    and random others (``heldout_pool``)."""
    from podsearch.evaluate.heldout import heldout_pool

    check = [p for p in eval_pairs if p.generator != "title"] or list(eval_pairs)
    qs = [(f"eval-{i}", p.query, p.episode_id) for i, p in enumerate(check)]
    qs += [q for q in heldout if q[2] in episodes]
    shows = {e: ep.show_id for e, ep in episodes.items()}
    return qs, heldout_pool([q[2] for q in qs], list(episodes), pool_size, seed, shows=shows)


def cross_lingual_qids(
    curated: Sequence[tuple[str, str | Path, str | None, str]],
) -> set[str]:
    """The qids (as ``check_queries`` names them) of curated queries whose language differs
    from their episode's (``query_language`` / ``episode_language``), for ``heldout_groups``."""
    from podsearch.evaluate.metrics import query_id

    out: set[str] = set()
    for name, path, corpus, prefix in curated:
        rows, _texts, _qrels = curated_queries(path, corpus, prefix)
        for q in rows:
            ql, el = q.get("query_language"), q.get("episode_language")
            if ql and el and ql != el:
                out.add(f"{name}:{query_id(q)}")
    return out


def _roundtrip_train(
    ps: Podsearch, splits: Splits, k: int, episodes: dict[str, Any]
) -> dict[str, int]:
    """Drop training pairs whose episode the index's model does not rank in its top k."""
    from podsearch.querygen.pipeline import index_roundtrip_filter

    rt = index_roundtrip_filter(ps, list(episodes), k)
    before = Counter("title" if p.generator == "title" else "generated" for p in splits.train)
    ranks = rt.ranks([p.query for p in splits.train], [p.episode_id for p in splits.train])
    splits.train = [
        Pair(p.query, p.episode_id, p.generator, p.strip_title, r)
        for p, r in zip(splits.train, ranks, strict=True)
        if rt.keep(r)
    ]
    after = Counter("title" if p.generator == "title" else "generated" for p in splits.train)
    return {
        "k": k,
        **{f"{g}_in": before[g] for g in ("generated", "title")},
        **{f"{g}_kept": after[g] for g in ("generated", "title")},
    }


def _miner(ps: Podsearch, episodes: dict[str, Any]) -> Any:
    """Hard-negative mining over the whole catalog with the index's stored base vectors."""
    import numpy as np

    from podsearch.train.negatives import PrecomputedMiner

    ids = list(episodes)
    vecs = ps.vector_index().get_vectors(ids)
    return PrecomputedMiner(
        ps.encoder(), [episodes[i].text for i in ids], np.stack([vecs[i] for i in ids])
    )


def _card(
    r: TrainReport,
    s: Splits,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    on_test: bool,
) -> dict[str, Any]:
    gens: dict[str, int] = {}
    for p in s.train:
        gens[p.generator] = gens.get(p.generator, 0) + 1
    return {
        "base_model": r.settings["base"],
        "settings": r.settings,
        "loss": "MultipleNegativesRankingLoss"
        + (" (cached)" if r.settings.get("cached") else "")
        + f", scale {r.settings['scale']}, cosine, no-duplicate batches",
        "training_pairs": r.pairs,
        "train_split_pairs_by_generator": gens,
        "splits": s.report,
        "steps": r.steps,
        "train_seconds": round(r.seconds, 1),
        "seconds_per_1000_pairs": round(r.seconds_per_1000_pairs, 1),
        "loss_first_last": [r.losses[0], r.losses[-1]] if r.losses else [],
        "losses": r.losses,
        "prefixes": {"query": r.query_prefix, "document": r.passage_prefix},
        "frozen_parameters": r.frozen_parameters,
        "hard_negatives": r.hard_negatives,
        "inbatch_split": "test" if on_test else "eval",
        "inbatch_before": before,
        "inbatch_after": after,
    }


def _append_readme(out: Path, card: dict[str, Any]) -> None:
    lines = [
        "",
        "## podsearch fine-tuning",
        "",
        f"- base model: `{card['base_model']}`",
        f"- loss: {card['loss']}",
        f"- training pairs used: {card['training_pairs']} "
        f"(train split: {card['train_split_pairs_by_generator']})",
        f"- splits by episode: {card['splits']['episodes']}",
        f"- settings: {card['settings']}",
        f"- steps: {card['steps']}, {card['train_seconds']} s "
        f"({card['seconds_per_1000_pairs']} s per 1,000 pairs)",
    ]
    b, a = card["inbatch_before"], card["inbatch_after"]
    if b and a:
        lines.append(
            f"- in-batch MRR@5 on the {card['inbatch_split']} split: batches of 64 "
            f"{b['mrr@5_batch64']:.3f} -> {a['mrr@5_batch64']:.3f}; against all "
            f"{a['queries']} episodes {b['mrr@5_all']:.3f} -> {a['mrr@5_all']:.3f}"
        )
    lines.append(f"- use it: `podsearch index --model {out} --index DIR`")
    readme = out / "README.md"
    text = readme.read_text("utf-8") if readme.exists() else f"# {out.name}\n"
    readme.write_text(text + "\n".join(lines) + "\n", "utf-8")


def tuned_index(base: Podsearch, target: str | Path, model_dir: str | Path, **kw: Any) -> Podsearch:
    """An index of the same catalog encoded with ``model_dir`` (the catalog store and keyword
    index are copied from ``base``; only the vectors are rebuilt)."""
    from podsearch.engine import Podsearch

    check_model_dir(model_dir)
    target = Path(target)
    if not (target / "catalog.sqlite").exists():
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        import sqlite3

        src = sqlite3.connect(base.index_dir / "catalog.sqlite")
        dst = sqlite3.connect(tmp / "catalog.sqlite")
        with dst:
            src.backup(dst)  # consistent even with a write-ahead log beside the file
        src.close()
        dst.close()
        if (base.index_dir / "keyword").is_dir():
            shutil.copytree(base.index_dir / "keyword", tmp / "keyword")
        tmp.rename(target)
    ps = Podsearch(target, model=str(Path(model_dir).resolve()))
    ps.build_index(**kw)
    return ps


def evaluate_adaptation(
    base: Podsearch,
    tuned: Podsearch,
    splits_dir: str | Path,
    out: str | Path,
    *,
    curated: Sequence[tuple[str, str | Path, str | None, str]] = (),
    card: dict[str, Any] | None = None,
    log: Log = lambda _m: None,
) -> ComparisonReport:
    """Base vs fine-tuned vs BM25 vs hybrid on the synthetic test queries (generated and title
    queries apart) and on curated query files; writes the report to ``out``.

    ``curated``: (set name, JSONL path, corpus to keep or None, id prefix) per file.
    """
    from podsearch.evaluate.compare import ComparisonReport, QuerySet, compare_systems
    from podsearch.evaluate.metrics import query_id
    from podsearch.querygen.pipeline import read_pairs

    for ps in (base, tuned):
        if ps.indexed_model is None:
            raise IndexStateError(f"{ps.index_dir} is not indexed: run podsearch index")
    test = read_pairs(Path(splits_dir) / "test.jsonl")
    sets = []
    # Title queries are no test set: the indexed text contains each title verbatim.
    chosen = [p for p in test if p.generator != "title"]
    sets.append(
        QuerySet(
            "synthetic test queries",
            {f"gen-{i}": p.query for i, p in enumerate(chosen)},
            {f"gen-{i}": {p.episode_id: 1} for i, p in enumerate(chosen)},
        )
    )
    for name, path, corpus, prefix in curated:
        rows, texts, qrels = curated_queries(path, corpus, prefix)
        sets.append(QuerySet(name, texts, qrels))
        kinds = sorted({str(q["kind"]) for q in rows if q.get("kind")})
        subsets = [(kind, "kind", kind) for kind in (kinds if len(kinds) > 1 else [])]
        # The tune half took part in the held-out check that chose the model: the heldout
        # half is the unbiased one (check_queries).
        if any("split" in q for q in rows):
            subsets.append(("heldout half (not used to choose the model)", "split", "heldout"))
        for label, field_name, value in subsets:
            sub = [str(query_id(q)) for q in rows if q.get(field_name) == value]
            sets.append(
                QuerySet(f"{name}, {label}", {k: texts[k] for k in sub}, {k: qrels[k] for k in sub})
            )
    report = ComparisonReport(title="podsearch adaptation report")
    if card:
        split = card.get("inbatch_split", "eval")
        for label, key in (
            (f"{{}} ({split} split, all its queries)", "inbatch_{}"),
            ("{} (test split, generated queries)", "inbatch_test_generated_{}"),
        ):
            for model, when in (("base", "before"), ("fine-tuned", "after")):
                if card.get(key.format(when)):
                    report.inbatch[label.format(model)] = card[key.format(when)]
        report.facts.update(
            {
                "base model": card["base_model"],
                "training pairs": card["training_pairs"],
                "train split pairs by generator": card.get("train_split_pairs_by_generator"),
                "train seconds": card["train_seconds"],
                "seconds per 1,000 pairs": card["seconds_per_1000_pairs"],
                "splits": card["splits"]["episodes"],
            }
        )
    report.facts["episodes in the index"] = base.store.count()
    t0 = time.perf_counter()
    systems = {
        "base (dense)": (base, "dense"),
        "fine-tuned (dense)": (tuned, "dense"),
        "BM25": (base, "keyword"),
        "hybrid (base)": (base, "hybrid"),
        "hybrid (fine-tuned)": (tuned, "hybrid"),
    }
    compare_systems(systems, sets, report)
    report.add_significance(
        [("base (dense)", "fine-tuned (dense)"), ("hybrid (base)", "hybrid (fine-tuned)")]
    )
    report.facts["evaluation seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gen = [p for p in test if p.generator != "title"] or list(test)
    if gen:
        from podsearch.evaluate.compare import projection_plot

        ep_ids = list(dict.fromkeys(p.episode_id for p in test))[:400]
        eps = base.store.get_many(ep_ids)
        docs = [eps[e].text for e in ep_ids]
        cats = [(eps[e].categories or ("(none)",))[0] for e in ep_ids]
        top = {c for c, _ in Counter(cats).most_common(8)}
        labels = [c if c in top else "other" for c in cats]
        shown = gen[:: max(1, len(gen) // 25)][:25]
        for name, ps in (("base", base), ("fine-tuned", tuned)):
            path = projection_plot(
                ps.encoder(), [p.query for p in shown], docs, labels,
                out / f"pca-{name}.png", f"PCA of test episodes and test queries ({name} model)",
            )  # fmt: skip
            report.plots[f"PCA of queries and episodes ({name})"] = str(path)
    report.write(out)
    log(f"report written to {out}/report.md, report.html, report.json")
    return report
