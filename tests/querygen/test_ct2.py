"""The CTranslate2 query generator, on a tiny random Llama built here (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from podsearch.errors import ModelError
from podsearch.models import Episode
from podsearch.querygen import load_generator
from podsearch.querygen.ct2 import CT2Generator, ensure_ct2, length_groups

WORDS = ["title", "description", "show", "how", "to", "sleep", "better", "cook", "pasta", "run",
         "a", "marathon", "reef", "coral", "ocean", "doctor", "health", "system", "user",
         "assistant", "podcast", "query", "search", "episode"]  # fmt: skip
SPECIAL = ["<unk>", "<|im_start|>", "<|im_end|>"]
# SmolLM2's chat template, as saved with the packaged checkpoint.
TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-llama")
    vocab = {t: i for i, t in enumerate([*SPECIAL, *WORDS])}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = Whitespace()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
        unk_token="<unk>", pad_token="<|im_end|>",
    )  # fmt: skip
    fast.add_special_tokens({"additional_special_tokens": SPECIAL[1:]})
    fast.chat_template = TEMPLATE
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        rope_theta=100_000.0, bos_token_id=1, eos_token_id=2, pad_token_id=2,
        tie_word_embeddings=True,
    )  # fmt: skip
    LlamaForCausalLM(cfg).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(autouse=True)
def own_cache(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "integration" not in request.keywords:  # the real model's conversion is worth keeping
        monkeypatch.setenv("PODSEARCH_CACHE", str(tmp_path / "cache"))


def episodes() -> list[Episode]:
    return [
        Episode("a", "s", "Sleep", "how to sleep better doctor health", "Health"),
        Episode("b", "s", "Pasta", "cook pasta", "Food"),
        Episode("c", "s", "Reef", "coral reef ocean " * 20, "Ocean podcast"),
    ]


def test_generates_n_clean_strings_per_episode_reproducibly(tiny_llama: Path) -> None:
    gen = load_generator(f"ct2:{tiny_llama}", batch_size=2)
    assert isinstance(gen, CT2Generator) and gen.name == f"ct2:{tiny_llama}"
    first = gen.generate(episodes(), 3, seed=7)
    assert [len(qs) for qs in first] == [3, 3, 3]
    vocab = set(WORDS)
    for qs in first:
        for q in qs:
            assert isinstance(q, str) and "\n" not in q and "<|im_end|>" not in q
            assert set(q.split()) <= vocab
    assert gen.generate(episodes(), 3, seed=7) == first  # same object, same seed
    assert CT2Generator(tiny_llama, batch_size=2).generate(episodes(), 3, seed=7) == first
    fp32 = CT2Generator(tiny_llama, batch_size=2, quantization="float32")
    assert [len(qs) for qs in fp32.generate(episodes(), 2, seed=7)] == [2, 2, 2]
    assert gen.generate(episodes(), 3, seed=8) != first


def test_static_prompt_and_batching_do_not_change_greedy_output(tiny_llama: Path) -> None:
    """The static few-shot prefix and the batching are speed-ups only: with near-greedy
    sampling, every combination writes what the unbatched full prompt writes."""
    outs = [
        CT2Generator(
            tiny_llama, static_prompt=static, batch_size=bs, max_trim=0.0, temperature=1e-4
        ).generate(episodes(), 1, seed=0)
        for static in (False, True)
        for bs in (1, 3)
    ]
    assert all(o == outs[0] for o in outs[1:])


def test_prompt_is_the_chat_template_tokenised_in_one_piece(tiny_llama: Path) -> None:
    gen = CT2Generator(tiny_llama, examples=1, max_input_tokens=5)
    gen._load()
    ep = episodes()[2]
    p = gen.prompt(ep)
    assert len(p.desc) == 5
    ids = gen._encode(gen._static_text) + p.ids()
    whole = gen._tok.apply_chat_template(
        [*gen._msgs, {"role": "user", "content": "Title: Reef\nDescription: coral reef ocean "
                      "coral reef\nShow: Ocean podcast"}],
        tokenize=False, add_generation_prompt=True,
    )  # fmt: skip
    assert ids == gen._encode(whole)
    assert p.ids(trim=2) == p.head + p.desc[:3] + p.tail


def test_ct2_matches_transformers_greedy(tiny_llama: Path) -> None:
    """The converter reads this transformers version's config (rope theta, GQA, tied head)."""
    import ctranslate2
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = ensure_ct2(tiny_llama, quantization="float32")
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    ids = tok("<|im_start|> user how to cook pasta <|im_end|>", add_special_tokens=False).input_ids
    model = AutoModelForCausalLM.from_pretrained(tiny_llama).eval()
    with torch.inference_mode():
        ref = model.generate(
            torch.tensor([ids]), max_new_tokens=8, do_sample=False, eos_token_id=None,
            min_new_tokens=8, pad_token_id=2,
        )[0, len(ids) :].tolist()  # fmt: skip
    gen = ctranslate2.Generator(str(out), device="cpu", compute_type="float32")
    res = gen.generate_batch(
        [tok.convert_ids_to_tokens(ids)], max_length=8, min_length=8, include_prompt_in_result=False
    )
    assert res[0].sequences_ids[0] == ref


def test_conversion_is_cached_and_redone_when_the_model_changes(
    tiny_llama: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import ctranslate2

    model = tmp_path / "model"
    shutil.copytree(tiny_llama, model)
    first = ensure_ct2(model)
    assert (first / "model.bin").is_file()
    calls: list[str] = []
    real = ctranslate2.converters.TransformersConverter

    def counting(path: str, *a: object, **kw: object) -> object:
        calls.append(path)
        return real(path, *a, **kw)

    monkeypatch.setattr(ctranslate2.converters, "TransformersConverter", counting)
    assert ensure_ct2(model) == first and calls == []
    cfg = model / "config.json"
    cfg.write_text(cfg.read_text().replace("\n", "\n "))  # same model, new bytes: re-convert
    assert ensure_ct2(model) == first and len(calls) == 1
    assert ensure_ct2(model, quantization="float32") != first


def test_length_groups_batch_similar_lengths() -> None:
    # lengths 10, 12, 30, 31, 33; 2 tokens of slack each, 1 more fed token by token
    groups = length_groups([30, 10, 33, 12, 31], [2] * 5, batch_size=2, tail=1)
    assert groups == [[1, 3], [0, 4], [2]]
    assert length_groups([5, 5, 5], [0, 0, 0], batch_size=8) == [[0, 1, 2]]


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no config.json"):
        ensure_ct2(tmp_path)
    with pytest.raises(ModelError, match="examples must be"):
        CT2Generator(examples=9)
    with pytest.raises(ModelError, match="quantization must be"):
        CT2Generator(quantization="int4")
    with pytest.raises(ModelError, match="does not exist"):
        load_generator(f"ct2:{tmp_path / 'nope'}")


@pytest.mark.integration
def test_packaged_model_prompt_and_queries() -> None:
    """The real SmolLM2 tokenizer: the prompt in pieces is the template tokenised whole."""
    gen = load_generator("smollm2-ct2")
    assert isinstance(gen, CT2Generator) and gen.name == "smollm2-135m-ct2"
    gen._load()
    ep = Episode("x", "s", "Chasing the Aurora", "We travel to Norway in winter. " * 40, "Wander")
    p = gen.prompt(ep)
    assert len(p.desc) == gen.max_input_tokens
    desc = gen._tok.decode(p.desc).strip()
    whole = gen._tok.apply_chat_template(
        [*gen._msgs, {"role": "user", "content": f"Title: {ep.title}\nDescription: {desc}\n"
                      f"Show: {ep.show_title}"}],
        tokenize=False, add_generation_prompt=True,
    )  # fmt: skip
    assert gen._encode(gen._static_text) + p.ids() == gen._encode(whole)
    out = gen.generate([ep, episodes()[0]], 3, seed=1)
    assert [len(q) for q in out] == [3, 3] and all("\n" not in q for qs in out for q in qs)
