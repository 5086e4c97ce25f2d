"""podsearch adapt: ingest -> index -> querygen -> train -> tuned index -> eval, in one go."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from podsearch.cli.common import console, err_console, progress_bar
from podsearch.cli.eval import parse_queries
from podsearch.cli.train import (
    BaseOpt,
    BatchOpt,
    CachedOpt,
    FilterOpt,
    FreezeOpt,
    HardNegOpt,
    KeepTunedOpt,
    MarginOpt,
    SeqOpt,
    SplitOpt,
    WiseOpt,
    parse_split,
    train_progress,
)
from podsearch.engine import Podsearch
from podsearch.train.finetune import TrainSettings


def register(app: typer.Typer) -> None:
    @app.command("adapt")
    def adapt_cmd(
        catalog: str = typer.Option(
            ..., "--catalog", "-c", help="Catalog path (any ingest format)."
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Work folder (resumable)."),
        base: str = BaseOpt,
        generator: str = typer.Option("smollm2-ct2", "--generator", "-g"),
        sample: int = typer.Option(
            100,
            "--sample",
            min=1,
            help="Episodes to generate queries for (drawn per corpus, hubs skipped).",
        ),  # fmt: skip
        per_episode: int = typer.Option(3, "--per-episode", min=1),
        filter_k: int = FilterOpt,
        batch_size: int = BatchOpt,
        max_seq_length: int = SeqOpt,
        max_pairs: int | None = typer.Option(2000, "--max-pairs", min=2),
        cached: bool = CachedOpt,
        split: str = SplitOpt,
        wise_alpha: float = WiseOpt,
        freeze_embeddings: bool = FreezeOpt,
        hard_negatives: int = HardNegOpt,
        negative_margin: float = MarginOpt,
        lr: float = typer.Option(2e-5, "--lr"),
        keep_tuned: bool = KeepTunedOpt,
        queries: list[str] = typer.Option([], "--queries", "-q", help="FILE[:CORPUS[:ID_PREFIX]]"),
        seed: int = typer.Option(0, "--seed"),
        quiet: bool = typer.Option(False, "--quiet"),
    ) -> None:
        """The whole adaptation pipeline on one catalog; re-run to resume after an interrupt."""
        from podsearch.querygen import load_generator, read_pairs
        from podsearch.querygen.pipeline import generate_for_index
        from podsearch.train.pipeline import (
            CARD_JSON,
            check_queries,
            cross_lingual_qids,
            evaluate_adaptation,
            train_model,
            tuned_index,
        )

        times: dict[str, float] = {}
        say = (lambda m: None) if quiet else err_console.print
        curated = parse_queries(queries)
        out.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        with Podsearch(out / "index", model=base) as ps:
            if ps.store.count() == 0:
                say("1/5 ingest + index with the base model")
                ps.ingest(catalog)
            with progress_bar("encoding (base)", enabled=not quiet) as bar:
                ps.build_index(progress=bar)
            times["ingest + base index"] = time.perf_counter() - t
            pairs_path = out / "pairs.jsonl"
            t = time.perf_counter()
            if not pairs_path.exists():
                say(f"2/5 generating queries for {sample} episodes ({generator}) + title pairs")
                with progress_bar("generating queries", enabled=not quiet) as bar:
                    # No round-trip filter here: the pairs are split by episode first and
                    # only the train split is filtered (train_model), so the held-out
                    # queries are not chosen by the base model.
                    generate_for_index(
                        ps, pairs_path, generator=load_generator(generator),
                        per_episode=per_episode, sample=sample, filter_k=None, seed=seed,
                        stratify=True, progress=lambda _ph, d, n: bar(d, n),
                    )  # fmt: skip
            times["query generation"] = time.perf_counter() - t
            model_dir = out / "model"
            t = time.perf_counter()
            if not (model_dir / CARD_JSON).exists():
                say("3/5 fine-tuning")
                settings = TrainSettings(
                    base=base, batch_size=batch_size, max_seq_length=max_seq_length,
                    cached=cached, max_pairs=max_pairs, seed=seed, wise_alpha=wise_alpha,
                    freeze_embeddings=freeze_embeddings, hard_negatives=hard_negatives,
                    negative_margin=negative_margin, learning_rate=lr,
                )  # fmt: skip
                train_model(
                    ps, read_pairs(pairs_path), model_dir, settings, fractions=parse_split(split),
                    overwrite=True, progress=train_progress(not quiet), log=say,
                    roundtrip_k=filter_k, heldout=check_queries(curated), keep_tuned=keep_tuned,
                    heldout_groups={"cross-lingual": cross_lingual_qids(curated)},
                )  # fmt: skip
            times["fine-tuning"] = time.perf_counter() - t
            card = json.loads((model_dir / CARD_JSON).read_text("utf-8"))
            check = card.get("heldout_check") or {}
            if card.get("kept", "tuned") == "base" and not keep_tuned:
                (out / "adapt-times.json").write_text(json.dumps(times, indent=2), "utf-8")
                console.print(
                    f"kept the base model {base}: the fine-tuned one did not beat it on "
                    f"{check.get('queries', 0)} held-out queries (MRR@30 "
                    f"{check.get('base_mrr@30', 0):.3f} base vs "
                    f"{check.get('tuned_mrr@30', 0):.3f} fine-tuned). The index at "
                    f"{out / 'index'} keeps the base model; the fine-tuned model stays at "
                    f"{model_dir} for inspection (--keep-tuned builds and evaluates it anyway)."
                )
                return
            if check:
                say(
                    f"keeping the fine-tuned model (held-out MRR@30 "
                    f"{check.get('base_mrr@30', 0):.3f} base vs "
                    f"{check.get('tuned_mrr@30', 0):.3f} fine-tuned"
                    + (", forced by --keep-tuned)" if check.get("forced") else ")")
                )
            t = time.perf_counter()
            say("4/5 encoding the catalog with the fine-tuned model")
            with progress_bar("encoding (fine-tuned)", enabled=not quiet) as bar:
                tuned = tuned_index(ps, out / "index-tuned", model_dir, progress=bar)
            times["tuned index"] = time.perf_counter() - t
            t = time.perf_counter()
            say("5/5 evaluation")
            try:
                rep = evaluate_adaptation(
                    ps, tuned, model_dir / "splits", out / "report", curated=curated, card=card,
                    log=say,
                )  # fmt: skip
            finally:
                tuned.close()
            times["evaluation"] = time.perf_counter() - t
        (out / "adapt-times.json").write_text(json.dumps(times, indent=2), "utf-8")
        console.print(rep.to_markdown())
        console.print(
            "step times: "
            + ", ".join(f"{k} {v:.0f}s" for k, v in times.items())
            + f"\nmodel: {model_dir}  (podsearch index --model {model_dir} --index DIR)"
            + f"\nreport: {out / 'report' / 'report.html'}"
        )
