"""An exact NumPy VectorIndex: the reference the congruence suite compares every backend with.

Filter semantics written out plainly (what every backend must do): a filter field that is set
keeps a document when any of its values matches; fields combine with AND; categories match
case-insensitively; a date bound drops documents without a date.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from podsearch.errors import IndexStateError
from podsearch.models import DocPayload, Filters


def keeps(p: DocPayload, f: Filters | None) -> bool:
    if f is None or f.empty:
        return True
    if f.languages and p.language not in f.languages:
        return False
    if f.show_ids and p.show_id not in f.show_ids:
        return False
    if f.categories and not {c.lower() for c in p.categories} & {c.lower() for c in f.categories}:
        return False
    if f.date_from is not None or f.date_to is not None:
        if p.pub_date is None:
            return False
        ts = int(p.pub_date.timestamp())
        if f.date_from is not None and ts < int(f.date_from.timestamp()):
            return False
        if f.date_to is not None and ts > int(f.date_to.timestamp()):
            return False
    return True


class NumpyVectorIndex:
    """Brute force over a dict: slow, obviously right."""

    def __init__(self, dim: int) -> None:
        self._dim = dim
        self._vecs: dict[str, np.ndarray] = {}
        self._payloads: dict[str, DocPayload] = {}

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return len(self._vecs)

    def upsert(
        self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[DocPayload]
    ) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self._dim:
            raise IndexStateError(f"vectors have shape {vectors.shape}, not (n, {self._dim})")
        for i, v, p in zip(ids, np.asarray(vectors, dtype=np.float32), payloads, strict=True):
            self._vecs[i], self._payloads[i] = v.copy(), p

    def delete(self, ids: Sequence[str]) -> int:
        n = 0
        for i in ids:
            if self._vecs.pop(i, None) is not None:
                del self._payloads[i]
                n += 1
        return n

    def search(
        self, vectors: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[list[tuple[str, float]]]:
        keep = [i for i in self._vecs if keeps(self._payloads[i], filters)]
        out: list[list[tuple[str, float]]] = []
        for q in np.atleast_2d(vectors):
            scored = sorted(((i, float(self._vecs[i] @ q)) for i in keep), key=lambda h: -h[1])
            out.append(scored[:k])
        return out

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        return {i: self._vecs[i].copy() for i in ids if i in self._vecs}

    def ids(self) -> list[str]:
        return list(self._vecs)

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[list[str], np.ndarray]]:
        ids = list(self._vecs)
        for s in range(0, len(ids), batch):
            part = ids[s : s + batch]
            yield part, np.stack([self._vecs[i] for i in part])

    def reset(self, dim: int) -> None:
        self._dim = dim
        self._vecs.clear()
        self._payloads.clear()

    def commit(self) -> None:
        pass

    def close(self) -> None:
        pass
