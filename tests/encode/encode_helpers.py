"""Helpers shared by the encoder tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# (query, relevant document, irrelevant document), checked by hand.
RELEVANCE = [
    (
        "how to stay healthy over christmas",
        "A doctor explains portion sizes at holiday dinners and how to stay active in December.",
        "The history of the Roman republic, episode 12: the crossing of the Rubicon.",
    ),
    (
        "sourdough bread baking",
        "A baker shares the secrets of a good sourdough starter and a crusty loaf.",
        "Astronomers explain how they photographed a black hole.",
    ),
]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two equally shaped matrices."""
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def assert_unit_rows(x: np.ndarray, dim: int, n: int) -> None:
    """x is an (n, dim) float32 matrix of unit vectors."""
    assert x.shape == (n, dim)
    assert x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def assert_ranks_relevant_first(encoder: object) -> None:
    """Each query scores its relevant document above the irrelevant one."""
    for query, relevant, irrelevant in RELEVANCE:
        q = encoder.encode_queries([query])  # type: ignore[attr-defined]
        d = encoder.encode_documents([relevant, irrelevant])  # type: ignore[attr-defined]
        scores = (d @ q[0]).tolist()
        assert scores[0] > scores[1], (query, scores)


TINY_WORDS = [
    "how",
    "to",
    "stay",
    "healthy",
    "over",
    "christmas",
    "doctor",
    "holiday",
    "dinner",
    "sourdough",
    "bread",
    "baker",
    "black",
    "hole",
    "astronomy",
    "roman",
    "history",
    "query",
    "passage",
    ":",
    ".",
    ",",
    "!",
    "?",
]


def make_tiny_model(path: Path, *, seed: int = 0) -> Path:
    """Write a tiny random BERT sentence-transformers model (no downloads, ~1 s)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(seed)
    hf = path.parent / f".{path.name}-hf"
    hf.mkdir(parents=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(TINY_WORDS)]
    BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}).save_pretrained(str(hf))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(str(hf))
    transformer = Transformer(str(hf), model_kwargs={"add_pooling_layer": False})
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu")
    model.save(str(path))
    return path
