"""Stage 2 of the adaptation benchmark: split by episode, filter the train split, fine-tune.

Reads the generated queries of ``adapt_generate.py`` (``--partial``: the episodes finished so
far by a run still going), adds title pairs for a seeded sample of other episodes with a real
description (``--title-ratio`` x the generated episodes), splits everything by episode, round-trip
filters the train split only, fine-tunes (frozen word embeddings unless ``--train-embeddings``;
``--hard-negatives N`` mined over the whole catalog with a margin), and runs the held-out check
(eval split + the ``tune`` half of the curated queries). Then measures WiSE-FT alphas on the
same held-out check (``--alphas``). Writes MODEL/podsearch-card.json and MODEL/alphas.json.

    nice -n 19 ionice -c3 .venv/bin/python bench/adapt_train.py --index var/index \
        --pairs var/adapt/generated.jsonl --out var/adapt/model > var/adapt/train.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

from podsearch.querygen.base import Pair
from podsearch.querygen.pipeline import read_pairs, sample_order
from podsearch.querygen.sampling import has_description

CURATED = "eval/queries/curated.jsonl"
PREFIXES = "listennotes=ln:,taddy=taddy:,spotify=spotify:,sommar=sommar:"


def finished_pairs(path: Path, partial: bool) -> list[Pair]:
    """The finished file, or with ``partial`` the pairs of episodes a running job finished."""
    if not partial or path.exists():
        return read_pairs(path)
    done = {
        k.split("\t", 1)[1]
        for k in path.with_name(path.name + ".done").read_text("utf-8").splitlines()
        if k.startswith("gen\t")
    }
    pairs = []
    for line in path.with_name(path.name + ".partial").read_text("utf-8").splitlines():
        try:
            p = Pair.from_dict(json.loads(line))
        except ValueError:
            continue  # a line cut by the running writer
        if p.episode_id in done:
            pairs.append(p)
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--index", default="var/index")
    ap.add_argument("--pairs", default="var/adapt/generated.jsonl")
    ap.add_argument("--partial", action="store_true")
    ap.add_argument("--out", default="var/adapt/model")
    ap.add_argument("--title-ratio", type=float, default=1.0)
    ap.add_argument("--split", default="0.75,0.05,0.2")
    ap.add_argument("--filter-k", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--train-embeddings", action="store_true")
    ap.add_argument("--max-pairs", type=int, help="train on a seeded sample of this many pairs")
    ap.add_argument("--hard-negatives", type=int, default=0)
    ap.add_argument("--negative-margin", type=float, default=0.05)
    ap.add_argument("--alphas", default="0.25,0.5,0.75")
    ap.add_argument("--pool", type=int, default=2000, help="held-out check: other episodes")
    ap.add_argument("--alphas-only", action="store_true", help="only the WiSE-FT curve of OUT")
    ap.add_argument(
        "--recheck", action="store_true",
        help="only the held-out check of OUT again, on today's pool (with show siblings)",
    )  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from podsearch import Podsearch
    from podsearch.train.finetune import TrainSettings
    from podsearch.train.pipeline import check_queries, cross_lingual_qids, train_model

    t0 = time.time()
    settings = TrainSettings(
        batch_size=args.batch_size, max_seq_length=args.max_seq_length, learning_rate=args.lr,
        epochs=args.epochs, seed=args.seed, freeze_embeddings=not args.train_embeddings,
        hard_negatives=args.hard_negatives, negative_margin=args.negative_margin,
        max_pairs=args.max_pairs,
    )  # fmt: skip
    alphas = [float(a) for a in args.alphas.split(",") if a]
    if args.recheck:
        ps = Podsearch(args.index, create=False)
        verdict = recheck(ps, args.out, settings, args.seed, args.pool)
        (Path(args.out) / "recheck.json").write_text(json.dumps(verdict, indent=2), "utf-8")
        return
    if args.alphas_only:
        ps = Podsearch(args.index, create=False)
        curve = wise_curve(ps, args.out, settings, alphas, args.seed, args.pool)
        (Path(args.out) / "alphas.json").write_text(json.dumps(curve, indent=2), "utf-8")
        return
    generated = finished_pairs(Path(args.pairs), args.partial)
    gen_eps = {p.episode_id for p in generated}
    ps = Podsearch(args.index, create=False)
    episodes = {e.episode_id: e for e in ps.store.iter_episodes()}
    others = [
        i for i in sample_order(list(episodes), args.seed + 1)
        if i not in gen_eps and has_description(episodes[i])
    ]  # fmt: skip
    n_titles = int(args.title_ratio * len(gen_eps))
    titles = [Pair(episodes[i].title, i, "title", strip_title=True) for i in others[:n_titles]]
    pairs = generated + titles
    print(f"{len(generated)} generated pairs for {len(gen_eps)} episodes, {len(titles)} title "
          f"pairs", flush=True)  # fmt: skip
    curated = [("curated queries (curated)", CURATED, None, PREFIXES)]

    def progress(step: int, total: int, loss: float) -> None:
        if step % 5 == 0 or step == total:
            print(f"{time.strftime('%H:%M:%S')} step {step}/{total} loss {loss:.3f}", flush=True)

    fractions = tuple(float(x) for x in args.split.split(","))
    card = train_model(
        ps, pairs, args.out, settings, fractions=fractions, overwrite=True,  # type: ignore[arg-type]
        progress=progress, log=lambda m: print(m, flush=True), roundtrip_k=args.filter_k,
        heldout=check_queries(curated), pool_size=args.pool,
        heldout_groups={"cross-lingual": cross_lingual_qids(curated)},
    )  # fmt: skip
    card_path = Path(args.out) / "podsearch-card.json"
    ru = resource.getrusage(resource.RUSAGE_SELF)
    card["bench"] = {"generated_pairs": len(generated), "generated_episodes": len(gen_eps),
                     "title_pairs": len(titles), "partial": args.partial,
                     "wall_seconds": round(time.time() - t0, 1),
                     "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 1)}  # fmt: skip
    card_path.write_text(json.dumps(card, indent=2), "utf-8")
    print(json.dumps({k: v for k, v in card.items() if k not in ("losses", "heldout_check")}))
    print(json.dumps({k: v for k, v in card["heldout_check"].items() if k != "per_query"}))
    if alphas:
        curve = wise_curve(ps, args.out, settings, alphas, args.seed, args.pool)
        (Path(args.out) / "alphas.json").write_text(json.dumps(curve, indent=2), "utf-8")


def card_check_set(
    ps: Any, model_dir: str, pool_size: int, seed: int
) -> tuple[dict[str, Any], list[tuple[str, str, str]], list[str]]:
    """The catalog's episodes, and a trained model's held-out check queries (its eval split and
    the curated `tune` half) with the pool, made as train_model makes them."""
    from podsearch.querygen.pipeline import read_pairs
    from podsearch.train.pipeline import check_queries, heldout_check_set

    episodes = {e.episode_id: e for e in ps.store.iter_episodes()}
    ev = read_pairs(Path(model_dir) / "splits" / "eval.jsonl")
    curated = check_queries([("curated queries (curated)", CURATED, None, PREFIXES)])
    qs, pool = heldout_check_set(ev, curated, episodes, pool_size, seed)
    return episodes, qs, pool


def recheck(ps: Any, model_dir: str, settings: Any, seed: int, pool_size: int) -> dict[str, Any]:
    """The held-out check of a trained model again (same queries as its card), on the pool
    heldout_pool makes now: both models encode it."""
    from sentence_transformers import SentenceTransformer

    from podsearch.encode.st import SentenceTransformerEncoder
    from podsearch.evaluate.heldout import decide, reciprocal_ranks
    from podsearch.train.finetune import load_base
    from podsearch.train.pipeline import cross_lingual_qids

    card = json.loads((Path(model_dir) / "podsearch-card.json").read_text("utf-8"))
    episodes, qs, pool = card_check_set(ps, model_dir, pool_size, seed)
    curated = [("curated queries (curated)", CURATED, None, PREFIXES)]
    print(f"recheck: {len(qs)} queries, pool of {len(pool)} episodes", flush=True)
    base, qp, pp = load_base(settings)
    base_rr = reciprocal_ranks(
        SentenceTransformerEncoder(base, "base", query_prefix=qp, passage_prefix=pp),
        qs, episodes, pool,
    )  # fmt: skip
    del base
    tuned = SentenceTransformer(model_dir, device="cpu")
    tuned.max_seq_length = settings.max_seq_length
    tuned_rr = reciprocal_ranks(
        SentenceTransformerEncoder(tuned, "tuned", query_prefix=qp, passage_prefix=pp),
        qs, episodes, pool,
    )  # fmt: skip
    groups = {
        "curated": [q[0] for q in qs if not q[0].startswith("eval-")],
        "cross-lingual": cross_lingual_qids(curated),
    }
    verdict = decide(base_rr, tuned_rr, groups=groups)
    cur = [q[0] for q in qs if not q[0].startswith("eval-")]
    verdict["curated_tune_mrr@30"] = {
        name: round(sum(rr[q] for q in cur) / max(len(cur), 1), 4)
        for name, rr in (("base", base_rr), ("tuned", tuned_rr))
    }
    verdict["pool"] = len(pool)
    verdict["card_pool"] = card["heldout_check"]["pool"]
    print(json.dumps({k: v for k, v in verdict.items() if k != "paired"}), flush=True)
    return verdict


def wise_curve(
    ps: Any, model_dir: str, settings: Any, alphas: list[float], seed: int, pool_size: int
) -> dict[str, Any]:
    """The held-out check of the card (same queries, same pool) for WiSE-FT mixes: alpha 0 and
    1 are the card's own base and tuned results, the others are encoded here."""
    from sentence_transformers import SentenceTransformer

    from podsearch.encode.st import SentenceTransformerEncoder
    from podsearch.evaluate.heldout import decide, reciprocal_ranks
    from podsearch.train.finetune import interpolate_weights, load_base

    card = json.loads((Path(model_dir) / "podsearch-card.json").read_text("utf-8"))
    stored = card["heldout_check"]["per_query"]
    episodes, qs, pool = card_check_set(ps, model_dir, pool_size, seed)
    if {q[0] for q in qs} != set(stored["base"]):
        raise SystemExit("the card's held-out queries differ from these: same --split/--seed?")
    if len(pool) != card["heldout_check"]["pool"]:
        raise SystemExit("the card's pool differs from this one (made before siblings?): --recheck")
    base_rr = stored["base"]
    base, qp, _pp = load_base(settings)
    base_state = {k: v.detach().clone() for k, v in base.state_dict().items()}
    del base
    tuned = SentenceTransformer(model_dir, device="cpu")
    tuned.max_seq_length = settings.max_seq_length
    tuned_state = {k: v.detach().clone() for k, v in tuned.state_dict().items()}
    cur = [q[0] for q in qs if not q[0].startswith("eval-")]
    out: dict[str, Any] = {"queries": len(qs), "pool": len(pool), "alphas": {},
                           "base_curated_tune_mrr@30": round(
                               sum(base_rr[q] for q in cur) / max(len(cur), 1), 4)}  # fmt: skip
    for a in sorted({*alphas, 1.0}):
        if a == 1.0:
            rr = stored["tuned"]
        else:
            tuned.load_state_dict(interpolate_weights(base_state, tuned_state, a))
            enc = SentenceTransformerEncoder(tuned, "mix", query_prefix=qp, passage_prefix=_pp)
            rr = reciprocal_ranks(enc, qs, episodes, pool)
        v = decide(base_rr, rr)
        row = {k: v[k] for k in ("base_mrr@30", "tuned_mrr@30", "paired")}
        row["curated_tune_mrr@30"] = round(sum(rr[q] for q in cur) / max(len(cur), 1), 4)
        out["alphas"][str(a)] = row
        print(f"alpha {a}: {row}", flush=True)
    return out


if __name__ == "__main__":
    main()
