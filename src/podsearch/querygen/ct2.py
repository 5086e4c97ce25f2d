"""Fast query generation: the same chat model run by CTranslate2 (int8, batched).

The transformers checkpoint (the packaged SmolLM2-135M one by default, see ``smollm.py``) is
converted once to a CTranslate2 model in the model cache; a changed checkpoint re-converts.
The few-shot prefix is a CTranslate2 *static prompt*: its state is computed once and reused
for every batch. The ``n`` queries of an episode are sampled hypotheses of one prompt, so they
share one prefill. Prompts of a batch are trimmed (description tokens only) to one length so
that each batch is prefilled in one pass rather than token by token.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from podsearch.errors import ModelError
from podsearch.models import Episode
from podsearch.querygen.smollm import EXAMPLES, SYSTEM

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_MARK = "\ue000"  # stands for the description while the chat template is rendered
_WEIGHTS = ("*.safetensors", "*.bin", "*.json", "*.model", "*.jinja")


def _fingerprint(checkpoint: Path) -> str:
    """Changes when any weight, config or tokenizer file of the checkpoint changes."""
    h = hashlib.sha1()
    files = sorted({p for pat in _WEIGHTS for p in checkpoint.glob(pat) if p.is_file()})
    for p in files:
        st = p.stat()
        h.update(f"{p.name}\x1f{st.st_size}\x1f{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def ensure_ct2(checkpoint: str | Path, *, quantization: str = "int8") -> Path:
    """Convert a transformers causal-LM checkpoint to CTranslate2 once; return the cached folder.

    The packaged checkpoint's conversion sits next to it in the model cache
    (``smollm2-135m-instruct-ct2-int8``); any other checkpoint gets a folder named after its path.
    """
    from podsearch.encode._cache import build_atomically, model_cache_dir

    try:
        import ctranslate2
    except ImportError as e:
        raise ModelError(
            "The fast query generator needs ctranslate2: pip install ctranslate2"
        ) from e
    src = Path(checkpoint).expanduser().resolve()
    if not (src / "config.json").is_file():
        raise ModelError(
            f"Cannot convert {str(src)!r} to CTranslate2: not a transformers checkpoint "
            "(no config.json). Give a folder written by save_pretrained."
        )
    record = {
        "source": str(src),
        "fingerprint": _fingerprint(src),
        "quantization": quantization,
        "ctranslate2": ctranslate2.__version__,
        "format": FORMAT_VERSION,
    }
    if src.parent == model_cache_dir("x").parent:  # a checkpoint of ours: convert next to it
        name = f"{src.name}-ct2-{quantization}"
    else:
        name = f"ct2-{quantization}-{hashlib.sha1(str(src).encode()).hexdigest()[:12]}"

    def build(tmp: Path) -> None:
        from podsearch.encode._quiet import quiet_transformers

        log.warning("converting %s to CTranslate2 %s (once)", src, quantization)
        try:
            with quiet_transformers():
                conv = ctranslate2.converters.TransformersConverter(str(src))
                conv.convert(str(tmp), quantization=quantization, force=True)
        except (OSError, ValueError, NotImplementedError) as e:
            raise ModelError(f"Cannot convert {str(src)!r} to CTranslate2: {e}") from e

    return build_atomically(model_cache_dir(name), build, record)


def pick_device() -> str:
    """The GPU when CTranslate2 sees one ("cuda"), else "cpu" (with all the cores we may use)."""
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


@dataclass(frozen=True, slots=True)
class _Prompt:
    head: list[int]  # chat turn up to "Description:"
    desc: list[int]  # description tokens (already capped); the only part ever trimmed
    tail: list[int]  # "Show: ...", end of turn, assistant header

    def __len__(self) -> int:
        return len(self.head) + len(self.desc) + len(self.tail)

    def ids(self, trim: int = 0) -> list[int]:
        return self.head + self.desc[: len(self.desc) - trim] + self.tail


def length_groups(
    lengths: Sequence[int], slack: Sequence[int], batch_size: int, tail: int = 8
) -> list[list[int]]:
    """Prompt indices in batches of similar length.

    Sorted by length, a batch takes the next prompt while it holds fewer than ``batch_size``
    and the prompt is at most ``slack[i] + tail`` tokens longer than the batch's shortest:
    ``slack`` tokens are trimmed, up to ``tail`` more are fed token by token by CTranslate2.
    """
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: (lengths[i], i)):
        g = groups[-1] if groups else None
        if g and len(g) < batch_size and lengths[i] - lengths[g[0]] <= slack[i] + tail:
            g.append(i)
        else:
            groups.append([i])
    return groups


class CT2Generator:
    """Few-shot chat prompting of a small causal LM through CTranslate2.

    ``path``: a transformers causal-LM checkpoint; None uses the packaged SmolLM2-135M.
    ``examples``: how many of the few-shot examples to show; ``max_input_tokens``: the
    description is cut to this many tokens; ``max_trim``: share of them that may be trimmed
    to batch prompts of one length. ``device``: "cpu", "cuda", or None to pick.
    ``quantization``: "int8" (fastest) or "float32" (slower; kept more queries in the
    benchmark, see bench/results/querygen_bench.md).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        examples: int = 3,
        max_input_tokens: int = 160,
        max_new_tokens: int = 20,
        temperature: float = 0.7,
        top_p: float = 0.9,
        batch_size: int = 8,
        max_trim: float = 0.25,
        static_prompt: bool = True,
        device: str | None = None,
        threads: int | None = None,
        quantization: str = "int8",
    ) -> None:
        if not 0 <= examples <= len(EXAMPLES):
            raise ModelError(f"examples must be 0..{len(EXAMPLES)}, not {examples}")
        if quantization not in ("int8", "float32"):
            raise ModelError(f"quantization must be int8 or float32, not {quantization!r}")
        self.quantization = quantization
        self._path = path
        self.examples = examples
        self.max_input_tokens = max_input_tokens
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.batch_size = batch_size
        self.max_trim = max_trim
        self.use_static_prompt = static_prompt
        self.device = device
        self.threads = threads
        self._gen: Any = None
        self._open: Any = None
        self._tok: Any = None
        self._static: list[str] | None = None
        self._static_text = ""
        self._end_ids: list[int] = []
        self._sampled = False

    @property
    def name(self) -> str:
        return "smollm2-135m-ct2" if self._path is None else f"ct2:{self._path}"

    def settings(self) -> dict[str, Any]:
        """What decides the output (recorded by the benchmark)."""
        keys = ("examples", "max_input_tokens", "max_new_tokens", "temperature", "top_p",
                "batch_size", "max_trim", "use_static_prompt", "device",
                "quantization")  # fmt: skip
        return {k: getattr(self, k) for k in keys}

    def _load(self) -> None:
        if self._gen is not None:
            return
        import ctranslate2
        from transformers import AutoTokenizer

        from podsearch.encode._quiet import quiet_transformers
        from podsearch.encode._threads import available_cpus
        from podsearch.querygen.smollm import ensure_checkpoint

        checkpoint = Path(self._path) if self._path is not None else ensure_checkpoint()
        model_dir = ensure_ct2(checkpoint, quantization=self.quantization)
        device = self.device or pick_device()
        gpu = {"int8": "int8_float16", "float32": "float16"}[self.quantization]
        compute = self.quantization if device == "cpu" else gpu
        try:
            with quiet_transformers():
                self._tok = AutoTokenizer.from_pretrained(str(checkpoint))
            self._open = partial(
                ctranslate2.Generator,
                str(model_dir),
                device=device,
                compute_type=compute,
                intra_threads=self.threads or (available_cpus() if device == "cpu" else 0),
            )
            self._gen = self._open()
        except (OSError, ValueError, RuntimeError) as e:
            raise ModelError(f"Cannot load query generator {str(checkpoint)!r}: {e}") from e
        self.device = device
        tok = self._tok
        if not getattr(tok, "chat_template", None):
            raise ModelError(f"{str(checkpoint)!r} has no chat template: give a chat model")
        msgs: list[dict[str, str]] = [{"role": "system", "content": SYSTEM}]
        for doc, query in EXAMPLES[: self.examples]:
            msgs += [{"role": "user", "content": doc}, {"role": "assistant", "content": query}]
        self._msgs = msgs
        static = str(tok.apply_chat_template(msgs, tokenize=False))
        probe = self._render("T", "S")
        if self.use_static_prompt and probe.startswith(static):
            self._static_text = static
            self._static = tok.convert_ids_to_tokens(self._encode(static))
        # Stop at the end of turn or at any token holding a newline (".\n" is one token too).
        texts = tok.batch_decode([[i] for i in range(len(tok))], skip_special_tokens=False)
        self._end_ids = sorted({i for i, t in enumerate(texts) if "\n" in t} | {tok.eos_token_id})

    def _render(self, title: str, show: str) -> str:
        text = f"Title: {title}\nDescription:{_MARK}\nShow: {show}".strip()
        msgs = [*self._msgs, {"role": "user", "content": text}]
        return str(self._tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))

    def _encode(self, text: str) -> list[int]:
        return list(self._tok(text, add_special_tokens=False).input_ids) if text else []

    def prompt(self, ep: Episode) -> _Prompt:
        """The episode's prompt after the static prefix, in three token runs."""
        full = self._render(ep.title.replace(_MARK, ""), ep.show_title.replace(_MARK, ""))
        head, _, tail = full[len(self._static_text) :].partition(_MARK)
        desc = (ep.description or "").replace(_MARK, "").strip()
        desc_ids = self._encode(" " + desc)[: self.max_input_tokens] if desc else []
        return _Prompt(self._encode(head), desc_ids, self._encode(tail))

    def generate(self, episodes: Sequence[Episode], n: int, *, seed: int) -> list[list[str]]:
        import ctranslate2

        self._load()
        # Each CTranslate2 worker thread seeds its sampler once, at its first draw: a fresh
        # generator (new threads, ~0.3 s) per call is what makes the same seed give the same output.
        ctranslate2.set_random_seed(seed)
        if self._sampled:
            del self._gen
            self._gen = self._open()
        self._sampled = True
        tok = self._tok
        prompts = [self.prompt(e) for e in episodes]
        slack = [int(len(p.desc) * self.max_trim) for p in prompts]
        out: list[list[str]] = [[] for _ in episodes]
        groups = length_groups([len(p) for p in prompts], slack, self.batch_size)
        for idx in groups:
            shortest = len(prompts[idx[0]])
            batch = [
                tok.convert_ids_to_tokens(prompts[i].ids(min(slack[i], len(prompts[i]) - shortest)))
                for i in idx
            ]
            results = self._gen.generate_batch(
                batch,
                max_length=self.max_new_tokens,
                sampling_topk=0,  # 0: the whole distribution, cut by top-p
                sampling_topp=self.top_p,
                sampling_temperature=self.temperature,
                num_hypotheses=n,
                include_prompt_in_result=False,
                end_token=self._end_ids,
                return_end_token=True,
                static_prompt=self._static,
            )
            for i, r in zip(idx, results, strict=True):
                texts = tok.batch_decode(r.sequences_ids, skip_special_tokens=True)
                out[i] = [t.split("\n", 1)[0] for t in texts]
        return out
