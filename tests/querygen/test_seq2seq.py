"""The seq2seq doc2query path, on a tiny randomly initialised T5 built here (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from podsearch.errors import ModelError
from podsearch.models import Episode
from podsearch.querygen import load_generator
from podsearch.querygen.seq2seq import Seq2SeqGenerator

WORDS = ["how", "to", "sleep", "better", "cook", "pasta", "run", "a", "marathon", "reef",
         "coral", "ocean", "doctor", "health"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_t5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny-t5")
    vocab = {t: i for i, t in enumerate(["<pad>", "</s>", "<unk>", *WORDS])}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    torch.manual_seed(0)
    cfg = T5Config(
        vocab_size=len(vocab), d_model=16, d_ff=32, d_kv=8, num_layers=1, num_heads=2,
        decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
    )  # fmt: skip
    T5ForConditionalGeneration(cfg).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def episodes() -> list[Episode]:
    return [
        Episode("a", "s", "Sleep", "how to sleep better", "Health"),
        Episode("b", "s", "Pasta", "cook pasta", "Food"),
    ]


def test_seq2seq_generates_n_queries_per_episode_deterministically(tiny_t5: Path) -> None:
    gen = load_generator(str(tiny_t5))
    assert isinstance(gen, Seq2SeqGenerator) and gen.name == f"seq2seq:{tiny_t5}"
    assert (gen.max_input_tokens, gen.max_length, gen.top_p) == (256, 64, 0.95)
    first = gen.generate(episodes(), 3, seed=7)
    assert [len(qs) for qs in first] == [3, 3]
    assert all(isinstance(q, str) for qs in first for q in qs)
    vocab = set(WORDS)
    assert all(set(q.split()) <= vocab for qs in first for q in qs)
    assert gen.generate(episodes(), 3, seed=7) == first


def test_missing_seq2seq_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_generator(str(tmp_path / "nope"))
    with pytest.raises(ModelError, match="Cannot load seq2seq"):
        Seq2SeqGenerator(str(tmp_path)).generate(episodes(), 1, seed=0)


def test_none_generator() -> None:
    assert load_generator("none") is None
