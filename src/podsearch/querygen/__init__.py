"""Synthetic (query, episode) pairs from the catalog itself, behind one QueryGenerator Protocol.

``load_generator(spec)``: ``smollm2`` (default: the packaged SmolLM2-135M-Instruct, offline,
run by transformers), ``smollm2-ct2`` (the same model run by CTranslate2: int8, batched),
``none`` (titles / human queries only), or a seq2seq doc2query model name or path
(``doc2query/all-t5-base-v1``, or ``seq2seq:PATH``); ``causal:PATH`` for another chat model,
``ct2:PATH`` for another chat model through CTranslate2.
"""

from __future__ import annotations

from pathlib import Path

from podsearch.errors import ModelError
from podsearch.querygen.base import Pair, QueryGenerator, episode_text
from podsearch.querygen.clean import clean_queries
from podsearch.querygen.pipeline import QuerygenReport, generate_pairs, read_pairs
from podsearch.querygen.roundtrip import RoundTripFilter

__all__ = [
    "DEFAULT_GENERATOR",
    "Pair",
    "QueryGenerator",
    "QuerygenReport",
    "RoundTripFilter",
    "clean_queries",
    "episode_text",
    "generate_pairs",
    "load_generator",
    "read_pairs",
]

DEFAULT_GENERATOR = "smollm2"


def load_generator(spec: str | None, *, batch_size: int = 8) -> QueryGenerator | None:
    """A generator from a short spec (see the module doc); ``none`` returns None."""
    spec = (spec or DEFAULT_GENERATOR).strip()
    if spec.lower() == "none":
        return None
    if spec == "smollm2":
        from podsearch.querygen.smollm import SmolLMGenerator

        return SmolLMGenerator(batch_size=batch_size)
    if spec == "smollm2-ct2":
        from podsearch.querygen.ct2 import CT2Generator

        return CT2Generator(batch_size=batch_size)
    if spec.startswith("ct2:"):
        from podsearch.querygen.ct2 import CT2Generator

        path = Path(spec.removeprefix("ct2:")).expanduser()
        if not path.is_dir():
            raise ModelError(f"Query generator path {str(path)!r} does not exist")
        return CT2Generator(path, batch_size=batch_size)
    if spec.startswith("causal:"):
        from podsearch.querygen.smollm import SmolLMGenerator

        return SmolLMGenerator(spec.removeprefix("causal:"), batch_size=batch_size)
    name = spec.removeprefix("seq2seq:")
    if not name:
        raise ModelError(f"Bad generator spec {spec!r}")
    from podsearch.querygen.seq2seq import Seq2SeqGenerator

    if name.startswith((".", "/", "~")) and not Path(name).expanduser().is_dir():
        raise ModelError(f"Query generator path {name!r} does not exist")
    local = Path(name).expanduser()
    return Seq2SeqGenerator(str(local) if local.is_dir() else name)
