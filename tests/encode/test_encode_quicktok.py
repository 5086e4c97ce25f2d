"""The quick-start tokenizer (a Unigram vocabulary cut to the pieces a text can use) gives
exactly the full tokenizer's ids."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

from podsearch.encode import _quicktok

TEXTS = [
    "query: the history of the roman republic",
    "query: en sångerska som växte upp på landet",
    "passage: Schwarze Löcher: wie Astronomen sie fotografieren.",
    "query: 日本語のポッドキャスト 🎙️ ok",
    "query: ",
    "query: ÅÄÖ ﬁ ① Ⅻ \u00a0 tab\there",
    "query: zzzzqqqq xyxyxy",  # pieces missing from the vocabulary: the unknown piece
    "x" * 600,  # truncated
]


def full_ids(tok: Tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    enc = tok.encode_batch(texts)
    return np.array([e.ids for e in enc]), np.array([e.attention_mask for e in enc])


def check_same(model_dir: Path, texts: list[str], max_length: int = 64) -> None:
    folder = _quicktok.prepare(model_dir)
    assert folder is not None
    quick = _quicktok.QuickTokenizer(folder, max_length, 1, "<pad>")
    full = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    full.enable_truncation(max_length)
    full.enable_padding(pad_id=1, pad_token="<pad>")
    for batch in [[t] for t in texts] + [texts[i : i + 3] for i in range(0, len(texts), 3)]:
        assert quick.usable(batch)
        ids, mask = quick.encode(batch)
        want_ids, want_mask = full_ids(full, batch)
        np.testing.assert_array_equal(ids, want_ids, err_msg=repr(batch))
        np.testing.assert_array_equal(mask, want_mask)


def tiny_unigram(path: Path, seed: int = 0) -> Path:
    """An XLM-R-shaped Unigram tokenizer (specials at 0-3, <mask> last) with random pieces."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzåäöü日本語の"
    pieces = {"▁" + w for w in ("the", "history", "of", "roman", "query", "passage", ":")}
    while len(pieces) < 400:
        n = rng.randint(1, 5)
        piece = "".join(rng.choice(letters) for _ in range(n))
        pieces.add(("▁" if rng.random() < 0.3 else "") + piece)
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p, -rng.uniform(1, 15)) for p in sorted(pieces)] + [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace()]
    )
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    path.mkdir(parents=True, exist_ok=True)
    tok.save(str(path / "tokenizer.json"))
    return path


def test_same_ids_as_the_full_unigram_tokenizer(tmp_path: Path) -> None:
    model_dir = tiny_unigram(tmp_path / "m")
    rng = random.Random(1)
    words = ["the", "history", "roman", "åäö", "日本語", "xyz", "ab", "qq", "of", "üb"]
    texts = [" ".join(rng.choice(words) + rng.choice(["", "a", "ö"]) for _ in range(6))
             for _ in range(200)]  # fmt: skip
    check_same(model_dir, TEXTS + texts)
    assert (model_dir / _quicktok.DIR / "pieces.txt").is_file()


def test_special_token_text_and_other_tokenizers_take_the_full_path(tmp_path: Path) -> None:
    model_dir = tiny_unigram(tmp_path / "m")
    folder = _quicktok.prepare(model_dir)
    assert folder is not None
    quick = _quicktok.QuickTokenizer(folder, 32, 1, "<pad>")
    assert not quick.usable(["what is <mask> here"]) and quick.usable(["what is mask"])
    wordpiece = tmp_path / "wp"
    wordpiece.mkdir()
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tok.save(str(wordpiece / "tokenizer.json"))
    assert _quicktok.prepare(wordpiece) is None


@pytest.mark.integration
def test_same_ids_as_xlmr_on_real_titles(tmp_path: Path) -> None:
    """me5-small's real tokenizer (250k pieces) on titles from the test catalogs."""
    from podsearch.encode import load_encoder

    enc = load_encoder("me5-small", backend="onnx")
    model_dir = getattr(enc, "model_dir")  # noqa: B009
    data = Path(__file__).resolve().parents[1] / "data" / "catalog"
    texts = []
    for line in (data / "episodes_tiny.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            texts += [f"passage: {v}"[:300] for v in row.values() if isinstance(v, str)]
    assert len(texts) > 20
    rng = random.Random(2)
    words = " ".join(TEXTS + texts).split()
    mixed = [" ".join(rng.choices(words, k=rng.randint(1, 12))) for _ in range(300)]
    check_same(model_dir, TEXTS + texts + mixed, max_length=256)


def test_texts_longer_than_max_length_words_give_the_same_ids(tmp_path: Path) -> None:
    """Only the first max_length words' pieces are looked up (later tokens are truncated
    away): the ids stay those of the full tokenizer."""
    model_dir = tiny_unigram(tmp_path / "m")
    rng = random.Random(4)
    words = ["the", "history", "roman", "åäö", "日本語", "xyz", "ab", "qq", "of", "üb", "zzq"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(10, 120))) for _ in range(40)]
    check_same(model_dir, texts, max_length=16)


@pytest.mark.integration
def test_lean_indexing_never_loads_the_full_tokenizer(tmp_path: Path) -> None:
    """prefer_lean_tokenizer: documents are tokenised by restricted tokenizers (the full
    XLM-R one is never loaded) and get the same vectors; a text holding a special token's
    text takes the full tokenizer."""
    from podsearch.encode import load_encoder
    from podsearch.encode import onnx as onnx_mod

    rng = random.Random(5)
    words = " ".join(TEXTS).split() + ["hälsa", "jul", "mat", "sömn", "Weihnachten", "salud"]
    docs = [" ".join(rng.choices(words, k=rng.randint(3, 300))) for _ in range(40)]
    full = load_encoder("me5-small", backend="onnx")
    want = full.encode_documents(docs)
    onnx_mod.prefer_lean_tokenizer(True)
    try:
        lean = onnx_mod.OnnxEncoder(
            full.model_dir, "me5-small", passage_prefix=full.passage_prefix, max_seq_length=256
        )
        got = lean.encode_documents(docs)
        assert lean._tokenizer is None
        np.testing.assert_allclose(got, want, atol=1e-5)
        lean.encode_documents(["what is <mask> here"])
        assert lean._tokenizer is not None
    finally:
        onnx_mod.prefer_lean_tokenizer(False)
