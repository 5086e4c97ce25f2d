"""Embedded vector index: FAISS HNSW (inner product on unit vectors = cosine) with filters.

Why this design:
- HNSW answers unfiltered queries in well under a millisecond at recall ~0.95+.
- Filters are applied *inside* the graph walk with an ``IDSelectorBitmap`` (no post-filtering,
  so no empty pages), with ``efSearch`` raised as the filter gets more selective.
- Whenever the vectors a query may return (all live ones, or those a filter keeps) number at
  most ``exact_max`` (or ``exact_fraction`` of a large index), we search them exactly: one
  BLAS matrix product, under a millisecond for 19k x 384 and linear in the count (the default
  threshold is measured in bench/results/exact_threshold.md). Graph search loses the targets
  that sit far from the query's region: cross-lingual queries above all (the walk stays in
  the query language's part of the graph: 8 of 104 exact top-30 targets lost at efSearch
  128 on unseen queries, bench/results/quality_bench.md), and filtered queries (a language
  filter kept 10% of a real index and HNSW found only 0.62 of the exact top 10), while exact
  search loses none.
- Updates and deletes mark the old slot dead (the graph skips it through the same selector);
  ``commit`` compacts once dead slots pass ``compact_fraction``.
- Each commit writes a new generation directory and then atomically swaps the ``CURRENT``
  pointer file, so a crash mid-write leaves the previous generation intact and loadable.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import faiss
import numpy as np

from podsearch.errors import IndexStateError
from podsearch.index.base import upsert_batch
from podsearch.models import DocPayload, Filters

_NO_DATE = np.iinfo(np.int64).min
_FORMAT = 1
# Below this many searchable vectors, search is exact (bench/exact_threshold.py measures the
# cost of exact search against HNSW by index size on this project's 2-core reference machine).
EXACT_MAX = 100_000


class _Vocab:
    """String <-> small int codes for payload columns."""

    def __init__(self, items: Sequence[str] = ()) -> None:
        self.items: list[str] = list(items)
        self.codes: dict[str, int] = {s: i for i, s in enumerate(self.items)}

    def code(self, s: str) -> int:
        c = self.codes.get(s)
        if c is None:
            c = self.codes[s] = len(self.items)
            self.items.append(s)
        return c


class FaissVectorIndex:
    """VectorIndex on FAISS HNSW with payload filters and an exact fallback."""

    def __init__(
        self,
        path: Path,
        dim: int,
        *,
        m: int = 32,
        ef_construction: int = 200,
        ef_search: int = 512,
        exact_fraction: float = 0.05,
        exact_max: int = EXACT_MAX,
        compact_fraction: float = 0.3,
        load: bool = True,
    ) -> None:
        """``load=False`` starts empty without reading ``path`` (it may hold another dim)."""
        self.path = Path(path)
        self._dim = int(dim)
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search
        self.exact_fraction, self.exact_max = exact_fraction, exact_max
        self.compact_fraction = compact_fraction
        self._lock = threading.RLock()
        self._loaded_gen: str | None = None  # the generation directory this state came from
        self._reset()
        if load:
            self._load()

    # -- state ----------------------------------------------------------------------------
    def _reset(self) -> None:
        self._hnsw = self._new_hnsw()
        self._vecs = np.zeros((0, self._dim), dtype=np.float32)
        self._n = 0  # used slots
        self._ids: list[str] = []
        self._slot: dict[str, int] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._lang = np.zeros(0, dtype=np.int32)
        self._show = np.zeros(0, dtype=np.int32)
        self._date = np.zeros(0, dtype=np.int64)
        self._cats: list[tuple[int, ...]] = []
        self._langs, self._shows, self._catv = _Vocab(), _Vocab(), _Vocab()
        self._cat_index: dict[int, np.ndarray] | None = None
        self._dirty = False

    def _new_hnsw(self) -> faiss.IndexHNSWFlat:
        idx = faiss.IndexHNSWFlat(self._dim, self.m, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = self.ef_construction
        idx.hnsw.efSearch = self.ef_search
        return idx

    def _grow(self, extra: int) -> None:
        need = self._n + extra
        cap = len(self._alive)
        if need <= cap:
            return
        new_cap = max(need, int(cap * 1.5) + 1024)

        def grow(a: np.ndarray, fill: object = 0) -> np.ndarray:
            shape = (new_cap, *a.shape[1:])
            b = np.full(shape, fill, dtype=a.dtype)
            b[: self._n] = a[: self._n]
            return b

        self._vecs = grow(self._vecs)
        self._alive = grow(self._alive, False)
        self._lang = grow(self._lang)
        self._show = grow(self._show)
        self._date = grow(self._date, _NO_DATE)

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return len(self._slot)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._slot)

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[list[str], np.ndarray]]:
        batch = max(1, int(batch))
        with self._lock:  # a snapshot of the ids; slots are looked up again per batch
            ids = list(self._slot)
        for start in range(0, len(ids), batch):
            with self._lock:  # a commit may have compacted (moved slots) in between
                part = [i for i in ids[start : start + batch] if i in self._slot]
                vecs = self._vecs[[self._slot[i] for i in part]].copy()
            if part:
                yield part, vecs

    def reset(self, dim: int) -> None:
        """Empty the index for ``dim``-d vectors; the old generations are deleted now, so a
        crash after this leaves an empty index (the store marks everything for re-encoding)."""
        with self._lock:
            self._dim = int(dim)
            self._reset()
            shutil.rmtree(self.path, ignore_errors=True)

    # -- writes ---------------------------------------------------------------------------
    def upsert(
        self, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[DocPayload]
    ) -> None:
        vectors, order = upsert_batch(ids, vectors, payloads, self._dim)
        if not order:
            return
        with self._lock:
            self._grow(len(order))
            start = self._n
            for j, i in enumerate(order):
                doc_id, p, slot = ids[i], payloads[i], start + j
                old = self._slot.get(doc_id)
                if old is not None:
                    self._alive[old] = False
                self._slot[doc_id] = slot
                self._ids.append(doc_id)
                self._alive[slot] = True
                self._lang[slot] = self._langs.code(p.language)
                self._show[slot] = self._shows.code(p.show_id)
                self._date[slot] = int(p.pub_date.timestamp()) if p.pub_date else _NO_DATE
                self._cats.append(tuple(self._catv.code(c.lower()) for c in p.categories))
            block = vectors[order]
            self._vecs[start : start + len(order)] = block
            self._n += len(order)
            self._hnsw.add(block)
            self._cat_index = None
            self._dirty = True

    def delete(self, ids: Sequence[str]) -> int:
        n = 0
        with self._lock:
            for doc_id in ids:
                slot = self._slot.pop(doc_id, None)
                if slot is not None:
                    self._alive[slot] = False
                    n += 1
            if n:
                self._dirty = True
        return n

    def get_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            return {i: self._vecs[self._slot[i]].copy() for i in ids if i in self._slot}

    # -- search ---------------------------------------------------------------------------
    def _mask(self, filters: Filters | None) -> np.ndarray:
        n = self._n
        mask = self._alive[:n].copy()
        if filters is None or filters.empty:
            return mask
        if filters.languages:
            codes = [self._langs.codes[x] for x in filters.languages if x in self._langs.codes]
            mask &= np.isin(self._lang[:n], codes)
        if filters.show_ids:
            codes = [self._shows.codes[x] for x in filters.show_ids if x in self._shows.codes]
            mask &= np.isin(self._show[:n], codes)
        if filters.categories:
            cat_mask = np.zeros(n, dtype=bool)
            index = self._category_index()
            for c in filters.categories:
                code = self._catv.codes.get(c.lower())
                if code is not None:
                    cat_mask[index[code]] = True
            mask &= cat_mask
        if filters.date_from is not None or filters.date_to is not None:
            d = self._date[:n]
            has = d != _NO_DATE
            if filters.date_from is not None:
                has &= d >= int(filters.date_from.timestamp())
            if filters.date_to is not None:
                has &= d <= int(filters.date_to.timestamp())
            mask &= has
        return mask

    def _category_index(self) -> dict[int, np.ndarray]:
        if self._cat_index is None:
            lists: dict[int, list[int]] = {}
            for slot, cats in enumerate(self._cats):
                for c in cats:
                    lists.setdefault(c, []).append(slot)
            self._cat_index = {c: np.asarray(v, dtype=np.int64) for c, v in lists.items()}
        return self._cat_index

    def search(
        self, vectors: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[list[tuple[str, float]]]:
        q = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        with self._lock:
            n = self._n
            if n == 0 or k <= 0:
                return [[] for _ in range(len(q))]
            mask = self._mask(filters)
            allowed = int(mask.sum())
            if allowed == 0:
                return [[] for _ in range(len(q))]
            k_eff = min(k, allowed)
            if allowed <= max(self.exact_max, self.exact_fraction * n):
                return self._exact(q, mask, k_eff)
            if allowed == n:
                # faiss's own stubs (1.15) lack SearchParametersHNSW; the SWIG module has it.
                params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k_eff))  # type: ignore[attr-defined]
            else:
                bits = np.packbits(mask, bitorder="little")
                sel = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
                frac = allowed / n
                ef = int(min(4096, max(self.ef_search, k_eff) / max(frac, 1e-3)))
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)  # type: ignore[attr-defined]
            scores, labels = self._hnsw.search(q, k_eff, params=params)
            return [
                [
                    (self._ids[int(lab)], float(s))
                    for s, lab in zip(srow, lrow, strict=True)
                    if lab >= 0
                ]
                for srow, lrow in zip(scores, labels, strict=True)
            ]

    def _exact(self, q: np.ndarray, mask: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Brute force over the allowed slots. A filter that keeps most of the index is cheaper
        to apply after one product over every slot than by gathering the kept vectors."""
        n = len(mask)
        allowed = int(mask.sum())
        if allowed * 2 >= n:
            slots = np.arange(n)
            sims = _similarities(self._vecs[:n], q)
            sims[:, ~mask] = -np.inf
        else:
            slots = np.flatnonzero(mask)
            sims = _similarities(self._vecs[slots], q)
        out: list[list[tuple[str, float]]] = []
        for row in sims:
            top = np.argpartition(-row, k - 1)[:k] if k < len(row) else np.arange(len(row))
            top = top[np.argsort(-row[top], kind="stable")]
            out.append([(self._ids[int(slots[t])], float(row[t])) for t in top if row[t] > -np.inf])
        return out

    # -- persistence ----------------------------------------------------------------------
    def _compact(self) -> None:
        live = np.flatnonzero(self._alive[: self._n])
        ids = [self._ids[s] for s in live]
        vecs = self._vecs[live].copy()
        payloads = [
            (int(self._lang[s]), int(self._show[s]), int(self._date[s]), self._cats[s])
            for s in live
        ]
        langs, shows, catv = self._langs, self._shows, self._catv
        self._reset()
        self._langs, self._shows, self._catv = langs, shows, catv
        self._grow(len(ids))
        self._vecs[: len(ids)] = vecs
        for j, (doc_id, (lang, show, date, cats)) in enumerate(zip(ids, payloads, strict=True)):
            self._slot[doc_id] = j
            self._ids.append(doc_id)
            self._lang[j], self._show[j], self._date[j] = lang, show, date
            self._cats.append(cats)
        self._alive[: len(ids)] = True
        self._n = len(ids)
        if len(ids):
            self._hnsw.add(vecs)

    def commit(self) -> None:
        with self._lock:
            if not self._dirty and (self.path / "CURRENT").exists():
                return
            dead = self._n - len(self._slot)
            if dead and dead > self.compact_fraction * max(self._n, 1):
                self._compact()
            self.path.mkdir(parents=True, exist_ok=True)
            gen = self._next_generation()
            tmp = self.path / f".{gen}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            try:
                n = self._n
                faiss.write_index(self._hnsw, str(tmp / "hnsw.faiss"))
                np.save(tmp / "vectors.npy", self._vecs[:n])
                np.savez(
                    tmp / "columns.npz",
                    alive=self._alive[:n],
                    lang=self._lang[:n],
                    show=self._show[:n],
                    date=self._date[:n],
                )
                state = {
                    "format": _FORMAT,
                    "dim": self._dim,
                    "count": n,
                    "ids": self._ids,
                    "cats": [list(c) for c in self._cats],
                    "langs": self._langs.items,
                    "shows": self._shows.items,
                    "categories": self._catv.items,
                    "params": {"m": self.m, "ef_construction": self.ef_construction},
                }
                (tmp / "state.json").write_text(json.dumps(state, ensure_ascii=False))
                for f in tmp.iterdir():
                    _fsync(f)
            except BaseException:  # disk full: leave no half-written generation behind
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            os.replace(tmp, self.path / gen)
            _atomic_write(self.path / "CURRENT", gen)
            self._loaded_gen = gen
            for old in self.path.glob("gen-*"):
                if old.name != gen:
                    shutil.rmtree(old, ignore_errors=True)
            self._dirty = False

    def _next_generation(self) -> str:
        nums = [int(p.name[4:]) for p in self.path.glob("gen-*") if p.name[4:].isdigit()]
        return f"gen-{max(nums, default=0) + 1:06d}"

    def _load(self) -> None:
        cur = self.path / "CURRENT"
        if not cur.exists():
            return
        gen_name = cur.read_text().strip()
        gen_dir = self.path / gen_name
        try:
            state = json.loads((gen_dir / "state.json").read_text())
            if state.get("format") != _FORMAT:
                raise IndexStateError(f"vector index format {state.get('format')} unknown")
            if int(state["dim"]) != self._dim:
                raise IndexStateError(
                    f"the vector index holds {state['dim']}-d vectors but the model makes "
                    f"{self._dim}-d ones; rebuild with: podsearch index --rebuild"
                )
            hnsw = faiss.read_index(str(gen_dir / "hnsw.faiss"))
            vecs = np.load(gen_dir / "vectors.npy")
            cols = np.load(gen_dir / "columns.npz")
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise IndexStateError(
                f"vector index at {gen_dir} cannot be read ({e}); rebuild with: "
                "podsearch index --rebuild"
            ) from e
        if not isinstance(hnsw, faiss.IndexHNSWFlat):
            raise IndexStateError(
                f"vector index at {gen_dir} holds a {type(hnsw).__name__}, not an HNSW index; "
                "rebuild with: podsearch index --rebuild"
            )
        n = int(state["count"])
        self._hnsw = hnsw
        self._hnsw.hnsw.efSearch = self.ef_search
        self._n = 0
        self._grow(n)
        self._n = n
        self._vecs[:n] = vecs
        self._alive[:n] = cols["alive"]
        self._lang[:n] = cols["lang"]
        self._show[:n] = cols["show"]
        self._date[:n] = cols["date"]
        self._ids = list(state["ids"])
        self._cats = [tuple(c) for c in state["cats"]]
        self._langs = _Vocab(state["langs"])
        self._shows = _Vocab(state["shows"])
        self._catv = _Vocab(state["categories"])
        self._slot = {self._ids[s]: int(s) for s in np.flatnonzero(self._alive[:n])}
        self._dirty = False
        self._loaded_gen = gen_name

    _STATE = (
        "_hnsw", "_vecs", "_n", "_ids", "_slot", "_alive", "_lang", "_show", "_date", "_cats",
        "_langs", "_shows", "_catv", "_cat_index", "_dirty", "_loaded_gen",
    )  # fmt: skip

    def refresh(self) -> bool:
        """Load the committed generation when another process (or handle) wrote a newer one;
        returns whether it did. Loads into a new object first, so searches keep running on
        the old state until one swap; unsaved changes of this handle are dropped."""
        cur = self.path / "CURRENT"
        try:
            gen = cur.read_text().strip()
        except FileNotFoundError:
            gen = None
        if gen == self._loaded_gen:
            return False
        for _attempt in range(3):  # a writer may delete the generation we are reading
            try:
                fresh = FaissVectorIndex(
                    self.path, self._dim, m=self.m, ef_construction=self.ef_construction,
                    ef_search=self.ef_search, exact_fraction=self.exact_fraction,
                    exact_max=self.exact_max, compact_fraction=self.compact_fraction,
                )  # fmt: skip
                break
            except IndexStateError:
                if _attempt == 2:
                    raise
        with self._lock:
            for name in self._STATE:
                setattr(self, name, getattr(fresh, name))
        return True

    def close(self) -> None:
        pass


_FEW_QUERIES = 8


def _similarities(vecs: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(len(q), len(vecs)) inner products. A few queries go through einsum, one thread each:
    a multi-threaded BLAS product of one query against 19k x 384 took 1-8 ms on a busy 2-core
    machine against 0.8 ms single-threaded, and a server answers queries side by side anyway.
    Batches use BLAS (``vecs @ q.T``; ``q @ vecs.T`` takes a slower path)."""
    if len(q) <= _FEW_QUERIES:
        return np.stack([np.einsum("ij,j->i", vecs, row) for row in q])
    return (vecs @ q.T).T


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
