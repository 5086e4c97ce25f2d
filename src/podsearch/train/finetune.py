"""Fine-tune a sentence-transformer on (query, episode) pairs with in-batch negatives.

MultipleNegativesRankingLoss (scale 20, cosine) with batches that never hold the same query or
episode text twice, 1 epoch, 10% linear warm-up, lr 2e-5, weight decay 0.01 (the walkthrough's
settings). ``cached=True`` uses CachedMultipleNegativesRankingLoss (GradCache): the same loss
for a large batch with the memory of a small one.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from podsearch.errors import ModelError, QueryError
from podsearch.models import Episode
from podsearch.querygen.base import Pair, episode_text

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, float], None]  # (step, total_steps, loss)


@dataclass(frozen=True)
class TrainSettings:
    base: str = "me5-small"
    batch_size: int = 64
    epochs: float = 1.0
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    scale: float = 20.0
    max_seq_length: int = 256
    cached: bool = False
    mini_batch_size: int = 16
    max_pairs: int | None = None
    seed: int = 0
    # WiSE-FT: keep alpha * tuned + (1 - alpha) * base weights (1.0 = plain fine-tuning).
    wise_alpha: float = 1.0
    # Leave the word-embedding matrix as it is (me5-small: 250k rows, ~80% of the weights):
    # keeps the vocabulary of languages the training pairs do not cover, cuts optimizer memory.
    freeze_embeddings: bool = True
    # Hard negatives per pair mined with the base model (0: in-batch negatives only), and
    # the relative margin a negative must keep below its positive's score (false negatives).
    hard_negatives: int = 0
    negative_margin: float = 0.05
    negative_range: int = 50  # negatives come from the base model's top this many

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainReport:
    model_dir: str
    settings: dict[str, Any]
    pairs: int
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    query_prefix: str = ""
    passage_prefix: str = ""
    frozen_parameters: int = 0  # weights left as the base had them (frozen embeddings)
    hard_negatives: dict[str, Any] = field(default_factory=dict)  # what mining found

    @property
    def seconds_per_1000_pairs(self) -> float:
        return 1000 * self.seconds / self.pairs if self.pairs else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["seconds_per_1000_pairs"] = round(self.seconds_per_1000_pairs, 1)
        return d


def load_base(settings: TrainSettings) -> tuple[Any, str, str]:
    """The base SentenceTransformer and its query / passage prefixes."""
    from podsearch.encode import load_model

    model, qp, pp = load_model(settings.base, max_seq_length=settings.max_seq_length)
    return model, qp, pp


def finetune(
    pairs: Sequence[Pair],
    episodes: Mapping[str, Episode],
    out_dir: str | Path,
    settings: TrainSettings = TrainSettings(),
    *,
    model: Any = None,
    prefixes: tuple[str, str] | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    miner: Any = None,
) -> TrainReport:
    """Train and save a model directory at ``out_dir`` (written to a temp dir, then renamed,
    so an interrupted or failed run leaves no partial model).

    ``miner``: what encodes texts for hard-negative mining (anything with sentence-transformers'
    ``encode_query`` / ``encode_document``, e.g. ``negatives.PrecomputedMiner`` over the index's
    stored vectors); None mines with the base model itself over the training positives.
    """
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import (
        CachedMultipleNegativesRankingLoss,
        MultipleNegativesRankingLoss,
    )
    from transformers import PrinterCallback, TrainerCallback

    from podsearch.encode._threads import configure_torch_threads

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise QueryError(f"{out} exists and is not empty: choose another --out or --overwrite")
    if not 0.0 <= settings.wise_alpha <= 1.0:
        raise QueryError(f"wise_alpha must be in [0, 1], got {settings.wise_alpha}")
    if settings.batch_size < 2:
        raise QueryError("batch size must be >= 2: in-batch negatives need other pairs")
    rows = _rows(pairs, episodes, settings)
    if len(rows) < settings.batch_size:
        raise QueryError(
            f"{len(rows)} usable pairs is fewer than one batch of {settings.batch_size}: "
            "generate more pairs or lower --batch-size"
        )
    configure_torch_threads()
    if model is None:
        model, qp, pp = load_base(settings)
    else:
        qp, pp = prefixes or ("", "")
    columns: dict[str, list[str]] = {
        "anchor": [q for q, _ in rows],
        "positive": [d for _, d in rows],
    }
    mined: dict[str, Any] = {}
    if settings.hard_negatives > 0:
        from podsearch.train.negatives import mine

        try:
            with_negatives, mined = mine(columns, miner or model, settings, prefixes=(qp, pp))
            found = len(with_negatives["anchor"])
        except QueryError as e:  # no pair has a negative inside the margin
            with_negatives, found, mined = columns, 0, {"error": str(e)}
        if found >= settings.batch_size:
            columns = with_negatives  # the pairs without a negative are dropped by the miner
        else:  # a small catalog: train with in-batch negatives only, and say so
            mined["fallback"] = (
                f"{found} pairs have a hard negative, fewer than one batch of "
                f"{settings.batch_size}: trained with in-batch negatives only"
            )
            log.warning("hard negatives: %s", mined["fallback"])
    data = Dataset.from_dict(
        {k: [(qp if k == "anchor" else pp) + t for t in v] for k, v in columns.items()}
    )
    frozen = freeze_embeddings(model) if settings.freeze_embeddings else 0
    loss: MultipleNegativesRankingLoss | CachedMultipleNegativesRankingLoss
    if settings.cached:
        loss = CachedMultipleNegativesRankingLoss(
            model, scale=settings.scale, mini_batch_size=settings.mini_batch_size
        )
    else:
        loss = MultipleNegativesRankingLoss(model, scale=settings.scale)

    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_scratch(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    losses: list[float] = []
    state: dict[str, float] = {"t0": time.perf_counter()}

    class Track(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))
                if progress:
                    progress(int(state.global_step), int(state.max_steps), float(logs["loss"]))

    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp / "checkpoints"),
        num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        **_warmup(settings.warmup_ratio),
        weight_decay=settings.weight_decay,
        lr_scheduler_type="linear",
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=settings.seed,
        data_seed=settings.seed,
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=data, loss=loss, callbacks=[Track()]
    )
    trainer.remove_callback(PrinterCallback)  # our progress callback reports instead
    try:
        base_weights = (
            {k: v.detach().clone() for k, v in model.state_dict().items()}
            if settings.wise_alpha < 1.0
            else None
        )
        trainer.train()
        if base_weights is not None:
            model.load_state_dict(
                interpolate_weights(base_weights, model.state_dict(), settings.wise_alpha)
            )
        seconds = time.perf_counter() - state["t0"]
        if qp or pp:
            model.prompts = {"query": qp, "document": pp}
            model.default_prompt_name = None
        shutil.rmtree(tmp / "checkpoints", ignore_errors=True)
        model.save(str(tmp))
        report = TrainReport(
            model_dir=str(out.resolve()),
            settings=settings.to_dict(),
            pairs=len(columns["anchor"]),
            steps=int(trainer.state.global_step),
            seconds=seconds,
            losses=losses,
            query_prefix=qp,
            passage_prefix=pp,
            frozen_parameters=frozen,
            hard_negatives=mined,
        )
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _remove_stale_scratch(out: Path) -> None:
    """Delete scratch directories that killed runs for ``out`` left behind (``.NAME.tmp-PID-*``
    whose process is gone); a run still going keeps its own."""
    for tmp in out.parent.glob(f".{out.name}.tmp-*"):
        pid = tmp.name.removeprefix(f".{out.name}.tmp-").split("-", 1)[0]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def input_embeddings(model: Any) -> Any:
    """The word-embedding module of a sentence-transformers model's transformer."""
    for module in model.modules():
        get = getattr(module, "get_input_embeddings", None)
        if callable(get) and hasattr(module, "config"):
            return get()
    raise ModelError("This model has no word-embedding matrix to freeze")


def freeze_embeddings(model: Any) -> int:
    """Stop training the word-embedding matrix; returns how many weights it holds.

    The optimizer only sees parameters that need gradients, so its state for these rows (two
    float32 moments per weight with AdamW) is never allocated."""
    emb = input_embeddings(model)
    for p in emb.parameters():
        p.requires_grad_(False)
    return sum(p.numel() for p in emb.parameters())


def interpolate_weights(base: Mapping[str, Any], tuned: Mapping[str, Any], alpha: float) -> dict:
    """WiSE-FT (Wortsman et al. 2022): ``alpha * tuned + (1 - alpha) * base`` for every float
    tensor both share; tensors only the tuned model has (or integer buffers) are kept as tuned.
    On the Listen Notes index alpha 0.5 kept the tuned model's cross-lingual gain without its
    loss at rank 1 (bench/results/adapt-ln-wise)."""
    out = {}
    for k, t in tuned.items():
        b = base.get(k)
        if b is not None and t.is_floating_point() and b.shape == t.shape:
            out[k] = alpha * t + (1 - alpha) * b
        else:
            out[k] = t
    return out


def _rows(
    pairs: Sequence[Pair], episodes: Mapping[str, Episode], settings: TrainSettings
) -> list[tuple[str, str]]:
    missing = sorted({p.episode_id for p in pairs if p.episode_id not in episodes})
    if missing:
        raise QueryError(
            f"{len(missing)} training pairs name episodes missing from the catalog "
            f"(first: {missing[:5]})"
        )
    rows: list[tuple[str, str]] = []
    titles: list[tuple[str, str]] = []
    for p in pairs:
        doc = episode_text(episodes[p.episode_id], strip_title=p.strip_title).strip()
        if p.query.strip() and doc:
            (titles if p.generator == "title" else rows).append((p.query.strip(), doc))
    rng = random.Random(settings.seed)
    cap = settings.max_pairs
    if cap is not None and len(rows) > cap:
        rows = rng.sample(rows, cap)
    # Generated and human pairs first; title pairs (cheap, plentiful) fill up to the cap.
    room = len(titles) if cap is None else max(0, cap - len(rows))
    rows += rng.sample(titles, min(room, len(titles)))
    rng.shuffle(rows)
    return rows


def check_model_dir(path: str | Path) -> Path:
    """A trained model directory, or a ModelError that says what is wrong."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise ModelError(f"No model directory at {p}: train one with podsearch train")
    if not (p / "modules.json").is_file():
        raise ModelError(f"{p} is not a sentence-transformers model (no modules.json)")
    return p


def _warmup(ratio: float) -> dict[str, Any]:
    """transformers 5 takes the warm-up ratio as a float ``warmup_steps``; 4 as warmup_ratio."""
    import transformers

    major = int(transformers.__version__.split(".")[0])
    return {"warmup_steps": ratio} if major >= 5 else {"warmup_ratio": ratio}
