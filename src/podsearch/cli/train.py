"""podsearch train."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import typer

from podsearch.cli.common import IndexOpt, console, err_console
from podsearch.cli.settings import open_index
from podsearch.errors import QueryError
from podsearch.train.finetune import TrainSettings

BaseOpt = typer.Option("me5-small", "--base", help="Model to fine-tune: me5-small, minilm, a path.")
BatchOpt = typer.Option(64, "--batch-size", min=2, help="Pairs per batch (in-batch negatives).")
SeqOpt = typer.Option(128, "--max-seq-length", min=16, max=512, help="Tokens per text in training.")
MaxPairsOpt = typer.Option(None, "--max-pairs", min=2, help="Train on a seeded sample of pairs.")
CachedOpt = typer.Option(
    False, "--cached", help="CachedMNRL (GradCache): big batches, less memory."
)
SplitOpt = typer.Option("0.8,0.01,0.19", "--split", help="train,eval,test fractions by episode.")
WiseOpt = typer.Option(
    1.0, "--wise-alpha", min=0.0, max=1.0,
    help="WiSE-FT: keep alpha*tuned + (1-alpha)*base weights (0.5 helped on real data).",
)  # fmt: skip

FreezeOpt = typer.Option(
    True, "--freeze-embeddings/--train-embeddings",
    help="Leave the word-embedding matrix as the base had it (keeps other languages).",
)  # fmt: skip
HardNegOpt = typer.Option(
    1, "--hard-negatives", min=0, max=8,
    help="Hard negatives per pair, mined with the base model; pairs without one inside the "
    "margin are dropped (0: in-batch negatives only). On the 19k catalog 1 turned a loss on "
    "real queries into a gain (bench/results/adapt_bench.md).",
)  # fmt: skip
MarginOpt = typer.Option(
    0.05, "--negative-margin", min=0.0, max=1.0,
    help="A mined negative scores at most (1 - margin) x its positive (avoids false negatives).",
)  # fmt: skip
FilterOpt = typer.Option(
    30, "--filter-k", min=1,
    help="Round-trip filter of the train split: base model ranks the episode in its top k.",
)  # fmt: skip
KeepTunedOpt = typer.Option(
    False, "--keep-tuned",
    help="Keep the fine-tuned model even when it loses the held-out check against its base.",
)  # fmt: skip


def parse_split(value: str) -> tuple[float, float, float]:
    try:
        a, b, c = (float(x) for x in value.split(","))
    except ValueError as e:
        raise QueryError(f"--split wants three comma-separated fractions, got {value!r}") from e
    return a, b, c


def train_progress(enabled: bool) -> Callable[[int, int, float], None]:
    import time

    t0 = time.perf_counter()

    def show(step: int, total: int, loss: float) -> None:
        if not enabled or not total:
            return
        el = time.perf_counter() - t0
        left = el / step * (total - step) if step else 0.0
        err_console.print(
            f"step {step}/{total}  loss {loss:.3f}  {el:.0f}s elapsed, ~{left:.0f}s left",
            highlight=False,
        )

    return show


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train_cmd(
        pairs: Path = typer.Option(
            ..., "--pairs", "-p", help="Pairs JSONL from podsearch querygen."
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Model directory to write."),
        index: Path = IndexOpt,
        base: str = BaseOpt,
        batch_size: int = BatchOpt,
        epochs: float = typer.Option(1.0, "--epochs", min=0.01),
        lr: float = typer.Option(2e-5, "--lr"),
        max_seq_length: int = SeqOpt,
        max_pairs: int | None = MaxPairsOpt,
        cached: bool = CachedOpt,
        split: str = SplitOpt,
        wise_alpha: float = WiseOpt,
        freeze_embeddings: bool = FreezeOpt,
        hard_negatives: int = HardNegOpt,
        negative_margin: float = MarginOpt,
        filter_k: int = FilterOpt,
        no_filter: bool = typer.Option(False, "--no-filter", help="No round-trip filter."),
        seed: int = typer.Option(0, "--seed"),
        overwrite: bool = typer.Option(False, "--overwrite"),
        as_json: bool = typer.Option(False, "--json"),
        quiet: bool = typer.Option(False, "--quiet", "-q"),
    ) -> None:
        """Fine-tune a sentence-transformer on query/episode pairs (splits by episode, MNRL)."""
        from podsearch.querygen import read_pairs
        from podsearch.train.pipeline import train_model

        settings = TrainSettings(
            base=base, batch_size=batch_size, epochs=epochs, learning_rate=lr,
            max_seq_length=max_seq_length, cached=cached, max_pairs=max_pairs, seed=seed,
            wise_alpha=wise_alpha, freeze_embeddings=freeze_embeddings,
            hard_negatives=hard_negatives, negative_margin=negative_margin,
        )  # fmt: skip
        loaded = read_pairs(pairs)
        with open_index(index) as ps:
            card = train_model(
                ps, loaded, out, settings, fractions=parse_split(split), overwrite=overwrite,
                roundtrip_k=None if no_filter else filter_k,
                progress=train_progress(not quiet and not as_json),
                log=(lambda m: None) if quiet or as_json else err_console.print,
            )  # fmt: skip
        if as_json:
            typer.echo(json.dumps(card))
            return
        b, a = card["inbatch_before"], card["inbatch_after"]
        console.print(
            f"trained {out} on {card['training_pairs']} pairs in {card['train_seconds']} s "
            f"({card['seconds_per_1000_pairs']} s per 1,000 pairs)"
            + (
                f"; in-batch MRR@5 {b['mrr@5_batch64']:.3f} -> {a['mrr@5_batch64']:.3f}"
                if b and a
                else ""
            )
            + f"\nuse it: podsearch index --model {out} --index NEW_DIR"
        )
