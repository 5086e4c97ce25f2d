"""doc2query with any Hugging Face seq2seq model (T5, BART), as in the walkthrough.

Defaults are the walkthrough's: input truncated to 256 tokens, ``do_sample=True``,
``top_p=0.95``, ``max_length=64``, 3 queries per episode (e.g. ``doc2query/all-t5-base-v1``
for users who can reach the hub).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from podsearch.errors import ModelError
from podsearch.models import Episode


class Seq2SeqGenerator:
    """Sampled queries from an encoder-decoder model given the episode text."""

    def __init__(
        self,
        model: str,
        *,
        max_input_tokens: int = 256,
        max_length: int = 64,
        top_p: float = 0.95,
        batch_size: int = 16,
    ) -> None:
        self.model_name = model
        self.max_input_tokens = max_input_tokens
        self.max_length = max_length
        self.top_p = top_p
        self.batch_size = batch_size
        self._model: Any = None
        self._tok: Any = None

    @property
    def name(self) -> str:
        return f"seq2seq:{self.model_name}"

    def _load(self) -> None:
        if self._model is not None:
            return
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        from podsearch.encode._threads import configure_torch_threads

        configure_torch_threads()
        try:
            self._tok = AutoTokenizer.from_pretrained(self.model_name)
            self._model = AutoModelForSeq2SeqLM.from_pretrained(self.model_name).eval()
        except (OSError, ValueError) as e:
            raise ModelError(
                f"Cannot load seq2seq query generator {self.model_name!r}: {e}. Give a local "
                "T5/BART directory or a hub name that is in the Hugging Face cache."
            ) from e

    def generate(self, episodes: Sequence[Episode], n: int, *, seed: int) -> list[list[str]]:
        import torch

        self._load()
        out: list[list[str]] = []
        for start in range(0, len(episodes), self.batch_size):
            batch = episodes[start : start + self.batch_size]
            torch.manual_seed(seed + start)
            enc = self._tok(
                [e.text for e in batch],
                max_length=self.max_input_tokens,
                truncation=True,
                padding=True,
                return_tensors="pt",
            )
            with torch.inference_mode():
                gen = self._model.generate(
                    **enc,
                    max_length=self.max_length,
                    do_sample=True,
                    top_p=self.top_p,
                    num_return_sequences=n,
                )
            texts = self._tok.batch_decode(gen, skip_special_tokens=True)
            out += [texts[i * n : (i + 1) * n] for i in range(len(batch))]
        return out
