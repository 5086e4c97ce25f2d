"""Hard negatives for fine-tuning, mined by sentence-transformers' ``mine_hard_negatives``.

For each training pair the base model ranks a corpus; a negative is one of its top
``negative_range`` documents that is not the positive and scores at most
``(1 - negative_margin)`` times the positive's score (the margin keeps out near-duplicates and
other false negatives: re-uploads, segments of one programme). Pairs without such a negative
are dropped by the miner.

``PrecomputedMiner`` lets the miner search the whole catalog without re-encoding it: document
vectors come from the index (the base model's, already stored), queries and unknown documents
are encoded by a podsearch encoder (the fast ONNX one by default).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from podsearch.encode.base import Encoder
from podsearch.errors import QueryError

log = logging.getLogger(__name__)


class PrecomputedMiner:
    """Just enough of a SentenceTransformer for ``mine_hard_negatives``: stored document
    vectors by text, a podsearch encoder for everything else (it adds its own prefixes, so
    the prompts the miner passes are ignored)."""

    def __init__(self, encoder: Encoder, texts: Sequence[str], vectors: np.ndarray) -> None:
        import torch

        if len(texts) != len(vectors):
            raise ValueError("texts and vectors differ in length")
        self.encoder = encoder
        self.corpus = list(dict.fromkeys(texts))
        self._vec = {t: vectors[i] for i, t in enumerate(texts)}
        self.device = torch.device("cpu")
        self.encoded_documents = 0

    def encode_document(self, texts: Sequence[str], **_kw: Any) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._vec]
        if missing:
            self.encoded_documents += len(missing)
            for t, v in zip(missing, self.encoder.encode_documents(missing), strict=True):
                self._vec[t] = v
        return np.stack([self._vec[t] for t in texts]).astype(np.float32)

    def encode_query(self, texts: Sequence[str], **_kw: Any) -> np.ndarray:
        return np.asarray(self.encoder.encode_queries(list(texts)), dtype=np.float32)

    def similarity(self, a: Any, b: Any) -> Any:
        import torch

        return torch.as_tensor(a) @ torch.as_tensor(b).T

    def similarity_pairwise(self, a: Any, b: Any) -> Any:
        import torch

        return (torch.as_tensor(a) * torch.as_tensor(b)).sum(-1)

    def get_embedding_dimension(self) -> int:
        return int(next(iter(self._vec.values())).shape[0])


def mine(
    columns: Mapping[str, list[str]],
    miner: Any,
    settings: Any,
    *,
    prefixes: tuple[str, str] = ("", ""),
) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """(anchor, positive) columns -> (anchor, positive, negative_1..n) columns and a summary.

    ``miner``: a SentenceTransformer (mines among the training positives, with the prefixes
    as prompts) or a ``PrecomputedMiner`` (mines among its whole corpus).
    """
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    n = settings.hard_negatives
    data = Dataset.from_dict({"anchor": columns["anchor"], "positive": columns["positive"]})
    corpus = getattr(miner, "corpus", None)
    qp, pp = prefixes
    out = mine_hard_negatives(
        data,
        miner,
        anchor_column_name="anchor",
        positive_column_name="positive",
        corpus=corpus,
        range_max=max(settings.negative_range, n + 1),
        relative_margin=settings.negative_margin,
        num_negatives=n,
        sampling_strategy="top",
        output_format="n-tuple" if n > 1 else "triplet",
        batch_size=64,
        query_prompt=None if corpus is not None else qp or None,
        corpus_prompt=None if corpus is not None else pp or None,
        verbose=False,
    )
    if len(out) == 0:
        raise QueryError(
            "Hard-negative mining found no negative within the margin for any pair: "
            "lower --negative-margin or train without hard negatives"
        )
    cols = {c: list(out[c]) for c in out.column_names}
    summary = {
        "pairs_in": len(data),
        "pairs_with_negatives": len(out),
        "negatives_per_pair": n,
        "relative_margin": settings.negative_margin,
        "range": settings.negative_range,
        "corpus": len(corpus) if corpus is not None else "training positives",
    }
    log.info("hard negatives: %s", summary)
    return cols, summary
