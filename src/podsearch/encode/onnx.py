"""The fast CPU path: a sentence-transformers model exported to ONNX (fp32, or quantised to
int8).

Two backends: ``onnx`` keeps fp32 weights (same vectors as PyTorch to ~1e-6 cosine, without
PyTorch's per-call overhead or import time); ``onnx-int8`` quantises them (faster still, but on
the curated queries int8 query vectors cost 1.2 points of R@30, bench/results/quality_bench.md).

Export recipe (measured fastest on a 2-core AVX2 CPU, see bench/results/encode_throughput.md):
torch.onnx.export (TorchScript exporter) -> ONNX Runtime transformer fusion (Attention,
SkipLayerNorm, BiasGelu, EmbedLayerNorm) -> dynamic int8 quantisation with per-channel
weights (per-tensor weights cost ~1 point of cosine for no speed gain). The export runs once
and is cached atomically in $PODSEARCH_CACHE/models/<name>-onnx-int8/.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from podsearch.encode._cache import _remove_stale_temps, build_atomically, model_cache_dir
from podsearch.encode._quiet import quiet_transformers
from podsearch.encode._threads import available_cpus
from podsearch.encode.base import BaseEncoder
from podsearch.errors import MissingDependencyError, ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

BACKEND = "onnx-int8"
FP32_BACKEND = "onnx"
FORMAT_VERSION = 2
MODEL_FILE = "model_int8.onnx"
FP32_MODEL_FILE = "model.onnx"
CONFIG_FILE = "podsearch-onnx.json"
_POOLING = ("mean", "cls")
# Padded tokens per ONNX Runtime batch (12 texts of 256 tokens, 24 of 128): the activations,
# and with them the arena ONNX Runtime keeps, grow with batch x length^2 (attention).
MAX_BATCH_TOKENS = 3072
_LENGTH_GROUP = 128  # texts tokenised at once to count tokens (512 long ones hold ~55 MiB)
# Agreement the exported model must reach with PyTorch before it is cached.
_MIN_COSINE = 0.97
_MIN_COSINE_FP32 = 0.999
_CHECK_TEXTS = (
    "How to stay healthy over the holidays: sleep, food and exercise.",
    "Cómo mantenerse sano en Navidad.",
    "A weekly show about the history of the Roman empire, episode 12: the fall of the republic.",
)


def require_onnxruntime(purpose: str = "The onnx-int8 encoder backend") -> None:
    """Raise MissingDependencyError unless ONNX Runtime (and, for export, onnx) is importable."""
    for package, module in (("onnxruntime", "onnxruntime"), ("onnx", "onnx")):
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(package, "onnx", purpose)


class OnnxEncoder(BaseEncoder):
    """Runs an exported (fp32 or int8) model with ONNX Runtime; same contract as every
    Encoder."""

    def __init__(
        self,
        model_dir: Path,
        name: str,
        *,
        query_prefix: str = "",
        passage_prefix: str = "",
        max_seq_length: int = 256,
        batch_size: int = 32,
        threads: int | None = None,
        max_batch_tokens: int = MAX_BATCH_TOKENS,
    ) -> None:
        require_onnxruntime()
        import onnxruntime as ort

        cfg = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
        super().__init__(
            name,
            int(cfg["dim"]),
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
            batch_size=batch_size,
        )
        self._pooling = str(cfg["pooling"])
        self._lower = bool(cfg.get("do_lower_case", False))
        self.max_seq_length = min(max_seq_length, int(cfg["max_positions"]))
        self.max_batch_tokens = max(1, max_batch_tokens)
        model_file = str(cfg.get("model_file", MODEL_FILE))
        self.backend = BACKEND if model_file == MODEL_FILE else FP32_BACKEND
        self.model_dir = model_dir
        self._pad = (int(cfg["pad_id"]), str(cfg["pad_token"]))
        self._tokenizer: Tokenizer | None = None  # loaded on first use: see _tokenize
        self._quick: Any = None
        self._token_lock = threading.Lock()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or available_cpus()
        opts.inter_op_num_threads = 1
        if not _spin():
            # Idle intra-op threads sleep instead of spin-waiting for the next operator. On a
            # busy machine (a shared CPU; a server answering queries) spinning burns the cores
            # others need: through the server a search cost 26.6 instead of 13.2 ms of CPU and
            # one client got 17 instead of 46 searches/s (bench/results/load_bench.md).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = open_session(model_dir / model_file, opts)
        self._inputs = [i.name for i in self._session.get_inputs()]

    def _embed(self, texts: list[str], batch_size: int, show_progress: bool) -> np.ndarray:
        items = [t.lower() for t in texts] if self._lower else texts
        out = np.zeros((len(items), self._dim), dtype=np.float32)
        tokens = self._token_ids(items)  # each text tokenised once (truncated, unpadded)
        batches: Iterable[np.ndarray] = self._plan([len(t) for t in tokens], max(1, batch_size))
        if show_progress:
            from tqdm.auto import tqdm

            batches = tqdm(list(batches), desc="Encoding", unit="batch")
        for idx in batches:
            out[idx] = self._run_ids([tokens[i] for i in idx])
        return out

    def _token_ids(self, items: list[str]) -> list[np.ndarray]:
        """Each text's token ids, truncated to ``max_seq_length``, unpadded (int32: 2,048 texts
        of 256 tokens hold 2 MiB)."""
        out: list[np.ndarray] = []
        for s in range(0, len(items), _LENGTH_GROUP):
            ids, mask = self._tokenize(items[s : s + _LENGTH_GROUP])
            out += [row[: int(m.sum())].astype(np.int32) for row, m in zip(ids, mask, strict=True)]
        return out

    def _plan(self, lengths_: list[int], batch_size: int) -> list[np.ndarray]:
        """Batches of indexes, longest (in tokens) first, so that each batch pads to nearly its
        own length; a batch of long texts holds fewer of them, at most ``max_batch_tokens``
        padded tokens, which bounds ONNX Runtime's activation memory (attention grows with
        batch x length^2) without costing speed (bench/results/index_memory.md)."""
        lengths = np.asarray(lengths_, dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")
        plan, start = [], 0
        while start < len(order):
            longest = int(lengths[order[start]])
            size = max(1, min(batch_size, self.max_batch_tokens // max(1, longest)))
            plan.append(order[start : start + size])
            start += size
        return plan

    def _tokenize(self, batch: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(input ids, attention mask). The tokenizers library directly: the same ids as
        transformers, without importing torch. Until the full tokenizer is loaded (0.6 s of
        CPU for XLM-R's), a process that asked for a quick start (``prefer_quick_start``)
        tokenizes a few texts with a tokenizer of just the pieces they can use (the same ids,
        see _quicktok.py)."""
        with self._token_lock:
            few = _QUICK_START and len(batch) <= _QUICK_MAX_TEXTS
            if self._tokenizer is None and (_LEAN or few):
                if self._quick is None:
                    from podsearch.encode import _quicktok

                    folder = _quicktok.prepare(self.model_dir)
                    self._quick = False
                    if folder is not None:
                        self._quick = _quicktok.QuickTokenizer(
                            folder, self.max_seq_length, *self._pad
                        )
                if self._quick and self._quick.usable(batch):
                    quick: Any = self._quick
                    return quick.encode(batch)
            tok = self._full_tokenizer()
        encodings = tok.encode_batch(batch)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask

    def _full_tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            tok.enable_truncation(self.max_seq_length)
            tok.enable_padding(pad_id=self._pad[0], pad_token=self._pad[1])
            self._tokenizer = tok
        return self._tokenizer

    def _run_ids(self, tokens: list[np.ndarray]) -> np.ndarray:
        """Embeddings of already tokenised texts, padded (right, with the pad id) to the
        longest, as the tokenizer pads."""
        width = max(len(t) for t in tokens)
        ids = np.full((len(tokens), width), self._pad[0], dtype=np.int64)
        mask = np.zeros((len(tokens), width), dtype=np.int64)
        for i, t in enumerate(tokens):
            ids[i, : len(t)] = t
            mask[i, : len(t)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, {k: feed[k] for k in self._inputs})[0]
        if self._pooling == "cls":
            return np.asarray(hidden[:, 0], dtype=np.float32)
        m = mask.astype(np.float32)[..., None]
        return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)

    def __repr__(self) -> str:
        return f"OnnxEncoder(name={self._name!r}, dim={self._dim}, dir={str(self.model_dir)!r})"


_QUICK_START = False
_QUICK_MAX_TEXTS = 8
_LEAN = False


def prefer_quick_start(on: bool = True) -> None:
    """For a process that encodes a query or two and exits (a command-line search): encode
    small batches without loading the full tokenizer (same ids; see ``_quicktok``). A server
    leaves it off: each query would pay a few milliseconds to build its small tokenizer."""
    global _QUICK_START
    _QUICK_START = on


def prefer_lean_tokenizer(on: bool = True) -> None:
    """For a process that encodes many documents and no queries (``podsearch index``, a
    distributed encoding worker): tokenize every batch with a tokenizer of just the pieces the
    batch can use (the same ids; ``_quicktok``) and never load the full XLM-R tokenizer, which
    holds 280 MiB of RSS for its 250k-piece trie (the restricted one needs ~50 MiB and ~1.3 ms
    more CPU per text, 2-3% of encoding one). A batch holding a special token's text
    (``<mask>`` ...) still loads the full tokenizer. A server leaves it off (a query would pay
    a few milliseconds)."""
    global _LEAN
    _LEAN = on


OPTIMIZED_PREFIX = "optimized-"


def optimized_dir(model_path: Path) -> Path:
    """Where ``open_session`` keeps the optimised graph of ``model_path`` (one per ONNX Runtime
    version: another version may optimise differently)."""
    import onnxruntime as ort

    return model_path.parent / f"{OPTIMIZED_PREFIX}{model_path.stem}-ort{ort.__version__}"


def open_session(model_path: Path, opts: Any, *, reuse_optimized: bool = True) -> Any:
    """An ONNX Runtime session for ``model_path``, started fast from the second time on.

    The first session optimises the graph (ORT_ENABLE_EXTENDED: the hardware-independent
    fusions; the model has no convolutions for the layout level to change) and saves it with
    its weights in a separate file next to the model; later sessions load that with
    optimisation off. ONNX Runtime memory-maps the external weight file instead of parsing
    and copying a 470 MB protobuf, so a session starts in ~0.1 s instead of ~0.7 s, and gives
    bit-identical outputs (tests/encode/test_encode_onnx.py). Where the cache is read-only the
    session is optimised in memory each time, as before."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    level = ort.GraphOptimizationLevel
    target = optimized_dir(model_path)
    saved = target / FP32_MODEL_FILE
    if reuse_optimized and saved.is_file():
        opts.graph_optimization_level = level.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(saved), opts, providers=providers)
        except Exception as e:  # unreadable or foreign: optimise from the source again
            log.warning("replacing the unreadable optimised model %s: %s", saved, e)
            shutil.rmtree(target, ignore_errors=True)
    opts.graph_optimization_level = level.ORT_ENABLE_EXTENDED
    tmp: Path | None = None
    if reuse_optimized:
        try:
            _remove_stale_temps(target)  # left by killed processes
            prefix = f".{target.name}.tmp-{os.getpid()}-"
            tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=model_path.parent))
        except OSError:  # a read-only cache: optimise in memory only
            tmp = None
    if tmp is not None:
        opts.optimized_model_filepath = str(tmp / FP32_MODEL_FILE)
        opts.add_session_config_entry(
            "session.optimized_model_external_initializers_file_name", _OPTIMIZED_WEIGHTS
        )
        opts.add_session_config_entry(
            "session.optimized_model_external_initializers_min_size_in_bytes", "1024"
        )
    try:
        session = ort.InferenceSession(str(model_path), opts, providers=providers)
        if tmp is not None:
            tmp.chmod(0o755)
            for f in tmp.iterdir():
                f.chmod(0o644)
            with contextlib.suppress(OSError):  # another process may have saved it first
                os.replace(tmp, target)
            for old in model_path.parent.glob(f"{OPTIMIZED_PREFIX}{model_path.stem}-ort*"):
                if old != target:  # saved by another ONNX Runtime version
                    shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return session


_OPTIMIZED_WEIGHTS = "weights.bin"


def _spin() -> bool:
    """$PODSEARCH_ONNX_SPIN=1: let ONNX Runtime's threads spin-wait (its own default; a little
    lower latency for one query at a time on otherwise idle cores)."""
    return os.environ.get("PODSEARCH_ONNX_SPIN", "").strip() in ("1", "true", "yes")


def ensure_onnx_int8(
    load_source: Callable[[], SentenceTransformer], cache_name: str, record: dict[str, Any]
) -> Path:
    """The cached int8 export under models/<cache_name>-onnx-int8/, exported first if needed.

    ``load_source`` loads the PyTorch model and is only called when an export is needed.
    ``record`` identifies the source model; a cache entry made from another source is rebuilt.
    """
    return ensure_onnx(load_source, cache_name, record, int8=True)


def ensure_onnx(
    load_source: Callable[[], SentenceTransformer],
    cache_name: str,
    record: dict[str, Any],
    *,
    int8: bool,
) -> Path:
    """The cached export (int8 or fp32) under models/<cache_name>-<backend>/."""
    require_onnxruntime()
    backend = BACKEND if int8 else FP32_BACKEND
    full = {"onnx_format": FORMAT_VERSION, "backend": backend, **record}
    return build_atomically(
        model_cache_dir(f"{cache_name}-{backend}"),
        lambda tmp: export_onnx(load_source(), tmp, int8=int8),
        full,
    )


def read_prompts(model_dir: Path) -> dict[str, str]:
    """The source model's own prompts (e.g. {"query": "query: "}), as recorded at export."""
    cfg = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    prompts = cfg.get("prompts") or {}
    return {str(k): str(v) for k, v in prompts.items()}


def export_onnx_int8(source: SentenceTransformer, out_dir: Path) -> None:
    """Write an int8 ONNX model, tokenizer and podsearch-onnx.json into ``out_dir``."""
    export_onnx(source, out_dir, int8=True)


def export_onnx(source: SentenceTransformer, out_dir: Path, *, int8: bool) -> None:
    """Write an ONNX model (int8 or fp32), tokenizer and podsearch-onnx.json into ``out_dir``."""
    require_onnxruntime("Exporting a model to ONNX")
    with quiet_transformers():
        _export(source, out_dir, int8=int8)
    _verify(source, out_dir, _MIN_COSINE if int8 else _MIN_COSINE_FP32)


def _export(source: SentenceTransformer, out_dir: Path, *, int8: bool = True) -> None:
    transformer, pooling = _check_architecture(source)
    hf_model = transformer.auto_model
    config = hf_model.config
    fp32 = out_dir / "model_fp32.onnx"
    fused = out_dir / "model_fused.onnx"
    t0 = time.perf_counter()
    _torch_export(hf_model, fp32)
    _fuse(fp32, fused, config)
    fp32.unlink()
    if int8:
        _quantize(fused, out_dir / MODEL_FILE)
        fused.unlink()
    else:
        os.replace(fused, out_dir / FP32_MODEL_FILE)
    tokenizer = transformer.tokenizer
    tokenizer.save_pretrained(str(out_dir))
    if not (out_dir / "tokenizer.json").is_file() or tokenizer.pad_token_id is None:
        raise ModelError(
            f"The {BACKEND} backend needs a fast tokenizer (tokenizer.json) with a padding "
            "token; this model has none. Use backend='torch' for it."
        )
    max_positions = int(getattr(config, "max_position_embeddings", 512) or 512)
    if getattr(config, "model_type", "") in ("xlm-roberta", "roberta", "camembert"):
        max_positions -= 2  # positions start after the padding index
    (out_dir / CONFIG_FILE).write_text(
        json.dumps(
            {
                "dim": int(source.get_embedding_dimension() or config.hidden_size),
                "pooling": pooling,
                "do_lower_case": bool(getattr(transformer, "do_lower_case", False)),
                "max_positions": max_positions,
                "pad_id": int(tokenizer.pad_token_id),
                "pad_token": str(tokenizer.pad_token),
                "prompts": dict(getattr(source, "prompts", None) or {}),
                "model_file": MODEL_FILE if int8 else FP32_MODEL_FILE,
                "export_seconds": round(time.perf_counter() - t0, 1),
            },
            indent=2,
        ),
        encoding="utf-8",
    )


def _check_architecture(source: SentenceTransformer) -> tuple[Any, str]:
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    mods = list(source)
    ok = (
        len(mods) in (2, 3)
        and isinstance(mods[0], Transformer)
        and isinstance(mods[1], Pooling)
        and (len(mods) == 2 or isinstance(mods[2], Normalize))
    )
    mode = getattr(mods[1], "pooling_mode", None) if ok else None
    if isinstance(mode, (tuple, list)) and len(mode) == 1:
        mode = mode[0]
    if not ok or mode not in _POOLING or not getattr(mods[1], "include_prompt", True):
        kinds = " -> ".join(type(m).__name__ for m in mods)
        raise ModelError(
            f"The {BACKEND} backend supports Transformer -> Pooling ({'/'.join(_POOLING)}) "
            f"[-> Normalize] models; this one is {kinds} (pooling {mode!r}). "
            "Use backend='torch' for it."
        )
    return mods[0], str(mode)


def _torch_export(hf_model: Any, path: Path) -> None:
    import torch

    class _Wrapper(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    model = hf_model.eval()
    # The fusion pass recognises the eager attention graph, not the SDPA one.
    previous = getattr(model.config, "_attn_implementation", None)
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    ids = torch.tensor([[0, 10, 11, 12, 2], [0, 13, 14, 2, 1]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]], dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # Tracer chatter about Python-level shape checks; _verify() checks the numbers.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Wrapper(model),
                (ids, mask),
                str(path),
                input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"],
                dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
                opset_version=17,
                dynamo=False,
            )
    finally:
        if previous and hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(previous)


def _fuse(src: Path, dst: Path, config: Any) -> None:
    from onnxruntime.transformers import optimizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt = optimizer.optimize_model(
            str(src),
            model_type="bert",
            num_heads=int(getattr(config, "num_attention_heads", 0) or 0),
            hidden_size=int(getattr(config, "hidden_size", 0) or 0),
            opt_level=1,
        )
        opt.save_model_to_file(str(dst))


def _quantize(src: Path, dst: Path) -> None:
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # "consider pre-processing" advice: not applicable here
    try:
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # Fused contrib ops have no shape inference; their outputs are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        root.setLevel(level)


def _verify(source: SentenceTransformer, out_dir: Path, min_cosine: float = _MIN_COSINE) -> None:
    ref = source.encode(list(_CHECK_TEXTS), convert_to_numpy=True, normalize_embeddings=True)
    got = OnnxEncoder(out_dir, "check", max_seq_length=128).encode_documents(list(_CHECK_TEXTS))
    cos = (np.asarray(ref, dtype=np.float32) * got).sum(axis=1)
    if float(cos.min()) < min_cosine:
        raise ModelError(
            f"The ONNX export disagrees with PyTorch (cosine {cos.min():.4f} < "
            f"{min_cosine}); use backend='torch' for this model."
        )
