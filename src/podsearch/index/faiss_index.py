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

Compressed indexes (``kind``, the ``vector_index`` setting; recorded in the index, so a reopen
uses what the index was built with): ``hnsw-sq8`` (HNSW over int8 scalar-quantised vectors),
``ivf-pq`` (an inverted file over product-quantised codes, 96 bytes a vector) and ``scann``
(Google ScaNN's anisotropic quantisation, optional ``scann`` package). They hold only the
compressed codes in memory; the float32 originals stay on disk (``vectors.npy``, read through
pread for a few rows, else a memory map released after each read), and the ``refine`` x k best
candidates of the compressed search are re-scored exactly with them (exact cosines). Filters
go into the walk (FAISS selectors; ScaNN: over-fetch then filter); filters that keep few vectors
(``exact_max``, 20,000 by default for these kinds) skip the walk: a full scan of the kept
vectors' codes, then the same exact re-scoring (ScaNN, and an index too small to be trained:
exact search over the on-disk originals). A compressed index is trained on the vectors
present at the first commit that holds at least 1,000; ScaNN is not updatable in place here,
so vectors added after its build are searched exactly until a commit rebuilds it. Measured
side by side with float32 HNSW, FAISS flat and LanceDB in bench/results/scale_bench.md.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from podsearch.errors import IndexStateError
from podsearch.index.base import upsert_batch
from podsearch.models import DocPayload, Filters

_NO_DATE = np.iinfo(np.int64).min
# 2: an "hnsw" generation keeps its float32 vectors only in hnsw.faiss (1 also wrote them to
# vectors.npy, and held them twice in memory); both are read.
_FORMAT = 2
_FORMATS = (1, 2)
# Below this many searchable vectors, search is exact (bench/exact_threshold.py measures the
# cost of exact search against HNSW by index size on this project's 2-core reference machine).
EXACT_MAX = 100_000
# The embedded vector index kinds (the ``vector_index`` setting); "hnsw" is float32 HNSW.
VECTOR_INDEXES = ("hnsw", "hnsw-sq8", "ivf-pq", "scann")
DEFAULT_VECTOR_INDEX = "hnsw"
# Compressed kinds: candidates re-scored exactly per result asked, and the default search effort
# (efSearch for hnsw-sq8, nprobe for ivf-pq, leaves searched for scann).
_REFINE = {"hnsw-sq8": 3, "ivf-pq": 10, "scann": 10}
_EFFORT = {"hnsw": 512, "hnsw-sq8": 128, "ivf-pq": 48, "scann": 48}
# Below this many kept vectors the compressed kinds scan the kept codes instead of walking
# (faiss scores each kept code alone then, ~0.4 us each: 30k kept took 11.5 ms, a filtered walk
# 15 ms; 2.5k kept 1.2 ms; bench/results/scale_bench.md). ScaNN has no scan: it searches exactly
# over the on-disk originals (a page fault each).
SCAN_MAX = {"hnsw-sq8": 20_000, "ivf-pq": 20_000, "scann": 20_000}
# ivf-pq: sub-quantisers of 8 bits each (384-d: 4 dims per byte). 48 bytes (8 dims each) ranked
# the tight clusters of real mE5 vectors poorly: recall@10 0.95 needed 100 re-scored candidates
# per result (8-10 ms); 96 bytes reached 0.955 with 10 (bench/results/scale_bench_1m.md).
_PQ_BYTES = 96


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


_ANN_MIN = 1000  # fewer vectors than this: compressed kinds search exactly (nothing to train)
_PREAD_MAX = 1024  # compressed kinds: on-disk rows read with pread up to this many at once
_TRAIN_PER_LIST = 64  # ivf-pq / scann: training vectors per list (k-means)


class _FaissAnn:
    """A compressed FAISS index (hnsw-sq8 or ivf-pq) over slots 0..ntotal-1, trained on the
    vectors present when it is built; later vectors are added to it as they come."""

    def __init__(self, kind: str, dim: int, m: int, ef_construction: int) -> None:
        self.kind, self.dim, self.m, self.ef_construction = kind, dim, m, ef_construction
        self.index: faiss.Index | None = None

    @property
    def ntotal(self) -> int:
        return 0 if self.index is None else int(self.index.ntotal)

    @property
    def incremental(self) -> bool:
        return True

    def build(self, rows: Callable[[np.ndarray], np.ndarray], n: int) -> None:
        rng = np.random.default_rng(0)
        if self.kind == "hnsw-sq8":
            hnsw_sq = faiss.IndexHNSWSQ(
                self.dim,
                faiss.ScalarQuantizer.QT_8bit,  # type: ignore[arg-type]  # an enum int
                self.m,
                faiss.METRIC_INNER_PRODUCT,
            )
            hnsw_sq.hnsw.efConstruction = self.ef_construction
            idx: faiss.Index = hnsw_sq
            n_train = min(n, 65_536)
        else:
            nlist = max(1, min(int(2 * math.sqrt(n)), n // 39))
            # Sub-vectors of at least 4 dims (384-d: 96 bytes a vector).
            m = max(
                d
                for d in range(1, _PQ_BYTES + 1)
                if self.dim % d == 0 and self.dim // d >= 4 or d == 1
            )
            idx = faiss.IndexIVFPQ(
                faiss.IndexFlatIP(self.dim), self.dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT
            )
            n_train = min(n, max(_TRAIN_PER_LIST * nlist, 16_384))
        sample = np.sort(rng.choice(n, n_train, replace=False))
        idx.train(rows(sample))
        for start in range(0, n, 65_536):
            idx.add(rows(np.arange(start, min(n, start + 65_536))))
        self.index = idx

    def add(self, block: np.ndarray) -> None:
        assert self.index is not None
        self.index.add(block)

    def search(
        self, q: np.ndarray, k: int, mask: np.ndarray | None, frac: float, effort: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, slots) of the k best by the compressed scores; -1 where fewer."""
        assert self.index is not None
        kw: dict[str, object] = {}
        if mask is not None:
            bits = np.packbits(mask, bitorder="little")
            kw["sel"] = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        # faiss's own stubs (1.15) lack the SearchParameters classes; the SWIG module has them.
        if self.kind == "hnsw-sq8":
            ef = max(effort, k) if mask is None else int(min(4096, max(effort, k) / frac))
            params = faiss.SearchParametersHNSW(efSearch=max(ef, k), **kw)  # type: ignore[attr-defined]
        else:
            nlist = faiss.extract_index_ivf(self.index).nlist
            probe = effort if mask is None else math.ceil(effort / math.sqrt(frac))
            params = faiss.SearchParametersIVF(nprobe=min(nlist, probe), **kw)  # type: ignore[call-arg]
        scores, labels = self.index.search(q, k, params=params)
        return scores, labels

    def scan(self, q: np.ndarray, k: int, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the compressed codes of the slots ``mask`` keeps (a small filtered
        set: no graph walk, no list choice, ~0.3 ms per 50k slots for int8 codes)."""
        assert self.index is not None
        if self.kind == "hnsw-sq8":
            return self._scan_sq8(q, k, np.flatnonzero(mask))
        bits = np.packbits(mask, bitorder="little")
        sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        nlist = faiss.extract_index_ivf(self.index).nlist
        params = faiss.SearchParametersIVF(nprobe=nlist, sel=sel)  # type: ignore[call-arg]
        scores, labels = self.index.search(q, k, params=params)
        return scores, labels

    def _scan_sq8(self, q: np.ndarray, k: int, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores of the kept int8 codes without decoding them one at a time: a code decodes
        to vmin + (code + 0.5) / 255 * vdiff, so its inner product with q is code . (q * vdiff
        / 255) + q . (vmin + vdiff / 510): one uint8 gather and one product per block of kept
        slots (FAISS's selector scan checked every slot of the index: 10 ms for 10k kept of
        1 M, bench/results/scale_bench_1m.md)."""
        assert self.index is not None
        storage: Any = faiss.downcast_index(self.index.storage)  # type: ignore[attr-defined]
        n, size = int(storage.ntotal), int(storage.code_size)
        trained = faiss.vector_to_array(storage.sq.trained)
        vmin, vdiff = trained[: self.dim], trained[self.dim :]
        codes = faiss.rev_swig_ptr(storage.codes.data(), n * size).reshape(n, size)
        w = (q * (vdiff / 255.0)).astype(np.float32)  # (nq, d)
        c = (q @ (vmin + vdiff / 510.0)).astype(np.float32)  # (nq,)
        scores = np.empty((len(q), len(slots)), dtype=np.float32)
        for start in range(0, len(slots), 32_768):  # bounded temporaries
            block = codes[slots[start : start + 32_768]].astype(np.float32)
            scores[:, start : start + len(block)] = w @ block.T + c[:, None]
        out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
        out_l = np.full((len(q), k), -1, dtype=np.int64)
        for i, row in enumerate(scores):
            top = _top_k(row, k)
            out_s[i, : len(top)], out_l[i, : len(top)] = row[top], slots[top]
        return out_s, out_l

    def save(self, directory: Path) -> None:
        if self.index is not None:
            faiss.write_index(self.index, str(directory / "ann.faiss"))

    def load(self, directory: Path) -> None:
        f = directory / "ann.faiss"
        self.index = faiss.read_index(str(f)) if f.exists() else None


class _ScannAnn:
    """Google ScaNN (tree + anisotropic quantisation, no reordering of its own: the caller
    re-scores exactly). Built over slots 0..ntotal-1; rebuilt by a commit that added vectors."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.searcher: Any = None
        self.n = 0
        self.leaves = 0

    @property
    def ntotal(self) -> int:
        return self.n

    @property
    def incremental(self) -> bool:
        return False

    def build(self, rows: Callable[[np.ndarray], np.ndarray], n: int) -> None:
        try:
            import scann
        except ImportError as e:
            raise IndexStateError(
                "vector_index = 'scann' needs the scann package: pip install 'podsearch[scann]'"
            ) from e
        x = rows(np.arange(n))
        self.leaves = max(1, min(int(2 * math.sqrt(n)), n // 39))
        builder = scann.scann_ops_pybind.builder(x, 10, "dot_product")
        builder = builder.tree(
            num_leaves=self.leaves,
            num_leaves_to_search=min(self.leaves, _EFFORT["scann"]),
            training_sample_size=min(n, _TRAIN_PER_LIST * self.leaves),
        ).score_ah(2, anisotropic_quantization_threshold=0.2)
        self.searcher = builder.build()
        self.n = n

    def add(self, block: np.ndarray) -> None:
        raise AssertionError("ScaNN is rebuilt at commit, never added to")

    def search(
        self, q: np.ndarray, k: int, mask: np.ndarray | None, frac: float, effort: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """ScaNN takes no filter: over-fetch by the kept fraction, then drop what the mask
        rejects (the exact path covers the small filtered sets where this would fail)."""
        fetch = min(self.n, k if mask is None else math.ceil(2 * k / frac))
        leaves = min(self.leaves, effort if mask is None else math.ceil(effort / math.sqrt(frac)))
        labels, scores = self.searcher.search_batched(
            q, final_num_neighbors=fetch, leaves_to_search=leaves
        )
        labels = np.asarray(labels, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float32)
        if mask is None:
            return scores, labels
        out_s = np.full((len(q), k), -np.inf, dtype=np.float32)
        out_l = np.full((len(q), k), -1, dtype=np.int64)
        for r in range(len(q)):
            keep = mask[labels[r]]
            ls, ss = labels[r][keep][:k], scores[r][keep][:k]
            out_l[r, : len(ls)], out_s[r, : len(ss)] = ls, ss
        return out_s, out_l

    def save(self, directory: Path) -> None:
        if self.searcher is not None:
            d = directory / "scann"
            d.mkdir()
            self.searcher.serialize(str(d), relative_path=True)
            (d / "podsearch.json").write_text(json.dumps({"n": self.n, "leaves": self.leaves}))

    def load(self, directory: Path) -> None:
        d = directory / "scann"
        if not d.exists():
            return
        import scann

        meta = json.loads((d / "podsearch.json").read_text())
        self.searcher = scann.scann_ops_pybind.load_searcher(str(d))
        self.n, self.leaves = int(meta["n"]), int(meta["leaves"])


def _make_ann(kind: str, dim: int, m: int, ef_construction: int) -> _FaissAnn | _ScannAnn:
    if kind == "scann":
        return _ScannAnn(dim)
    return _FaissAnn(kind, dim, m, ef_construction)


class FaissVectorIndex:
    """VectorIndex on FAISS HNSW (or a compressed kind) with payload filters and an exact
    fallback."""

    def __init__(
        self,
        path: Path,
        dim: int,
        *,
        kind: str = DEFAULT_VECTOR_INDEX,
        m: int = 32,
        ef_construction: int = 200,
        ef_search: int | None = None,
        refine: int | None = None,
        exact_fraction: float | None = None,
        exact_max: int | None = None,
        compact_fraction: float = 0.3,
        load: bool = True,
    ) -> None:
        """``load=False`` starts empty without reading ``path`` (it may hold another dim).
        ``kind`` applies to a new (or reset) index; an existing one keeps the kind it was built
        with. ``ef_search`` is the search effort (efSearch; nprobe for ivf-pq, leaves searched
        for scann), ``refine`` the candidates re-scored exactly per result (compressed kinds);
        None: the kind's default."""
        if kind not in VECTOR_INDEXES:
            raise ValueError(f"unknown vector index {kind!r}; use one of {VECTOR_INDEXES}")
        self.path = Path(path)
        self._dim = int(dim)
        self._configured = (kind, m, ef_search, refine, exact_fraction, exact_max)
        self.m, self.ef_construction = m, ef_construction
        self.compact_fraction = compact_fraction
        self._lock = threading.RLock()
        self._loaded_gen: str | None = None  # the generation directory this state came from
        self._set_kind(kind)
        self._reset()
        if load:
            self._load()

    def _set_kind(self, kind: str) -> None:
        _, m, ef_search, refine, exact_fraction, exact_max = self._configured
        self.kind = kind
        self.quantized = kind != "hnsw"
        if self.quantized and m == 32:
            m = 16  # hnsw-sq8: a 16-link graph (half the memory of 32; the re-scoring helps)
        self.m = m
        self.ef_search = _EFFORT[kind] if ef_search is None else ef_search
        self.refine = _REFINE.get(kind, 1) if refine is None else max(1, refine)
        self.exact_max = SCAN_MAX.get(kind, EXACT_MAX) if exact_max is None else exact_max
        default_fraction = 0.02 if self.quantized else 0.05
        self.exact_fraction = default_fraction if exact_fraction is None else exact_fraction

    # -- state ----------------------------------------------------------------------------
    def _reset(self) -> None:
        self._hnsw = self._new_hnsw() if not self.quantized else None
        self._ann = _make_ann(self.kind, self._dim, self.m, self.ef_construction)
        # Rows [0, _disk_n) are read from the committed vectors.npy (compressed kinds); the
        # rest from _vecs (row slot - _disk_n). "hnsw" keeps no copy of its own: its rows are
        # the HNSW index's flat storage (slot = HNSW label), read through _memory().
        self._disk: np.memmap | None = None
        self._disk_file: Any = None  # the same file, for pread
        self._disk_n = 0
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
        self._postings: dict[str, dict[int, np.ndarray]] = {}  # column -> code -> slots
        self._dirty = False

    def _new_hnsw(self) -> faiss.IndexHNSWFlat:
        idx = faiss.IndexHNSWFlat(self._dim, self.m, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = self.ef_construction
        idx.hnsw.efSearch = self.ef_search
        return idx

    def _grow(self, extra: int) -> None:
        need = self._n + extra
        cap = len(self._alive)
        if need > cap:
            new_cap = max(need, int(cap * 1.5) + 1024)

            def grow(a: np.ndarray, fill: object = 0) -> np.ndarray:
                b = np.full((new_cap, *a.shape[1:]), fill, dtype=a.dtype)
                b[: self._n] = a[: self._n]
                return b

            self._alive = grow(self._alive, False)
            self._lang = grow(self._lang)
            self._show = grow(self._show)
            self._date = grow(self._date, _NO_DATE)
        if self._hnsw is not None:
            return  # the vectors live in the HNSW storage, which grows as they are added
        used = self._n - self._disk_n
        if used + extra > len(self._vecs):
            cap = max(used + extra, int(len(self._vecs) * 1.5) + 1024)
            vecs = np.zeros((cap, self._dim), dtype=np.float32)
            vecs[:used] = self._vecs[:used]
            self._vecs = vecs

    def _memory(self) -> np.ndarray:
        """The in-memory float32 rows: slots [_disk_n, _n) (all of them for "hnsw"). For
        "hnsw" a view of the HNSW index's own storage, so the vectors are held once; valid
        until the next add (callers hold the lock)."""
        if self._hnsw is None:
            return self._vecs
        n = self._hnsw.ntotal
        if n == 0:
            return np.zeros((0, self._dim), dtype=np.float32)
        storage = faiss.downcast_index(self._hnsw.storage)
        return faiss.rev_swig_ptr(storage.get_xb(), n * self._dim).reshape(n, self._dim)  # type: ignore[attr-defined]

    def _rows(self, slots: np.ndarray) -> np.ndarray:
        """The float32 vectors of ``slots``. On-disk rows: a few (re-scoring) are read with
        pread, which maps nothing into this process; many (exact search, a commit) through the
        memory map, whose pages are handed back at once (the kernel maps ~64 KiB around every
        faulted row, so leaving them mapped would grow the RSS towards the whole file)."""
        slots = np.asarray(slots, dtype=np.int64)
        if self._disk is None:
            return self._memory()[slots - self._disk_n]
        out = np.empty((len(slots), self._dim), dtype=np.float32)
        on_disk = slots < self._disk_n
        disk_slots = slots[on_disk]
        if len(disk_slots) <= _PREAD_MAX and self._disk_file is not None:
            out[on_disk] = self._pread(disk_slots)
        else:
            out[on_disk] = self._disk[disk_slots]
            mm = getattr(self._disk, "_mmap", None)
            if mm is not None:
                mm.madvise(mmap.MADV_DONTNEED)  # the page cache keeps them; this process not
        if not on_disk.all():
            out[~on_disk] = self._vecs[slots[~on_disk] - self._disk_n]
        return out

    def _pread(self, slots: np.ndarray) -> np.ndarray:
        assert self._disk_file is not None and self._disk is not None
        row = self._dim * 4
        buf = bytearray(len(slots) * row)
        view = memoryview(buf)
        fd, base = self._disk_file.fileno(), self._disk.offset
        for j, s in enumerate(slots.tolist()):
            os.preadv(fd, [view[j * row : (j + 1) * row]], base + s * row)
        return np.frombuffer(buf, dtype=np.float32).reshape(len(slots), self._dim)

    def _open_disk(self, path: Path, n: int) -> None:
        self._disk = np.load(path, mmap_mode="r")
        self._disk_file = open(path, "rb")  # noqa: SIM115 - lives as long as the map
        self._disk_n = n

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
                vecs = self._rows(np.array([self._slot[i] for i in part], dtype=np.int64))
            if part:
                yield part, vecs

    def reset(self, dim: int) -> None:
        """Empty the index for ``dim``-d vectors; the old generations are deleted now, so a
        crash after this leaves an empty index (the store marks everything for re-encoding).
        The index takes the configured kind again."""
        with self._lock:
            self._dim = int(dim)
            self._set_kind(self._configured[0])
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
            self._n += len(order)
            if self._hnsw is not None:
                self._hnsw.add(block)  # its storage is the only copy
            else:
                t = start - self._disk_n
                self._vecs[t : t + len(order)] = block
                if self._ann.incremental and self._ann.ntotal == start and start > 0:
                    self._ann.add(block)  # a trained compressed index takes them as they come
            self._cat_index = None
            self._postings = {}
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
            found = [i for i in ids if i in self._slot]
            rows = self._rows(np.array([self._slot[i] for i in found], dtype=np.int64))
            return {i: rows[j].copy() for j, i in enumerate(found)}

    # -- search ---------------------------------------------------------------------------
    def _mask(self, filters: Filters | None) -> np.ndarray:
        n = self._n
        mask = self._alive[:n].copy()
        if filters is None or filters.empty:
            return mask
        # Languages and shows through posting lists (work in proportion to what they keep,
        # not to the index: at 1 M vectors a scan of the column took ~4 ms).
        if filters.languages:
            codes = [self._langs.codes[x] for x in filters.languages if x in self._langs.codes]
            mask &= self._slots_mask("lang", codes)
        if filters.show_ids:
            codes = [self._shows.codes[x] for x in filters.show_ids if x in self._shows.codes]
            mask &= self._slots_mask("show", codes)
        if filters.categories:
            codes = [self._catv.codes[c.lower()] for c in filters.categories
                     if c.lower() in self._catv.codes]  # fmt: skip
            mask &= self._slots_mask("cat", codes)
        if filters.date_from is not None or filters.date_to is not None:
            d = self._date[:n]
            has = d != _NO_DATE
            if filters.date_from is not None:
                has &= d >= int(filters.date_from.timestamp())
            if filters.date_to is not None:
                has &= d <= int(filters.date_to.timestamp())
            mask &= has
        return mask

    def _slots_mask(self, column: str, codes: list[int]) -> np.ndarray:
        """The slots whose ``column`` ("lang", "show" or "cat") holds one of ``codes``, as a
        mask."""
        n = self._n
        index = self._category_index() if column == "cat" else self._postings.get(column)
        if index is None:
            values = (self._lang if column == "lang" else self._show)[:n]
            order = np.argsort(values, kind="stable")
            uniq, starts = np.unique(values[order], return_index=True)
            bounds = [*starts.tolist(), n]
            index = {int(c): order[bounds[i] : bounds[i + 1]] for i, c in enumerate(uniq)}
            self._postings[column] = index
        out = np.zeros(n, dtype=bool)
        for c in codes:
            slots = index.get(c)
            if slots is not None:
                out[slots] = True
        return out

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
                if self._hnsw is None and self._ann.incremental and self._ann.ntotal == n:
                    # Compressed kinds: a full scan of the kept codes, then exact re-scoring
                    # (reading every kept original from disk would cost a page fault each).
                    return self._compressed(q, mask, allowed, k_eff, scan=True)
                return self._exact(q, mask, k_eff)
            if self._hnsw is None:
                if n < _ANN_MIN:
                    return self._exact(q, mask, k_eff)
                return self._compressed(q, mask, allowed, k_eff)
            if allowed == n:
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

    def _ensure_ann(self) -> None:
        """Train and fill the compressed index from the stored vectors when it is needed and
        missing (lazily: it is trained on what is there by then)."""
        if self._ann.ntotal == 0 and self._n >= _ANN_MIN:
            self._ann.build(self._rows, self._n)

    def _compressed(
        self, q: np.ndarray, mask: np.ndarray, allowed: int, k: int, *, scan: bool = False
    ) -> list[list[tuple[str, float]]]:
        """Compressed-index candidates (``refine`` x k, filtered in the walk), re-scored
        exactly on the float32 originals; vectors the index does not hold yet (ScaNN between
        rebuilds) are searched exactly and merged."""
        self._ensure_ann()
        covered = self._ann.ntotal
        in_ann = mask[:covered]
        kept = int(in_ann.sum())
        kc = min(kept, k * self.refine)
        cand: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * len(q)
        if kc > 0:
            frac = max(kept / covered, 1e-3)
            if scan:
                assert isinstance(self._ann, _FaissAnn)
                _, labels = self._ann.scan(q, kc, in_ann)
            else:
                sel = None if kept == covered else in_ann
                _, labels = self._ann.search(q, kc, sel, frac, self.ef_search)
            cand = [row[row >= 0].astype(np.int64) for row in labels]
        tail = np.flatnonzero(mask[covered:]) + covered
        out: list[list[tuple[str, float]]] = []
        for qi, c in enumerate(cand):
            slots = np.concatenate([c, tail]) if len(tail) else c
            if not len(slots):
                out.append([])
                continue
            sims = self._rows(slots) @ q[qi]
            top = np.argsort(-sims, kind="stable")[:k]
            out.append([(self._ids[int(slots[t])], float(sims[t])) for t in top])
        return out

    def _exact(self, q: np.ndarray, mask: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """Brute force over the allowed slots. A filter that keeps most of the index is cheaper
        to apply after one product over every slot than by gathering the kept vectors."""
        n = len(mask)
        allowed = int(mask.sum())
        if allowed * 2 >= n and self._disk is None:
            slots = np.arange(n)
            sims = _similarities(self._memory()[:n], q)
            sims[:, ~mask] = -np.inf
        elif self._disk is None and len(q) <= _FEW_QUERIES:
            # Score the kept rows where they lie (no gathered copy: at 30k of 250k kept the
            # copy cost 12 ms, these products 3 ms).
            slots = np.flatnonzero(mask)
            sims = _similarities_at(self._memory(), slots - self._disk_n, q)
        else:
            slots = np.flatnonzero(mask)
            sims = _similarities(self._rows(slots), q)
        out: list[list[tuple[str, float]]] = []
        for row in sims:
            top = _top_k(row, k)
            out.append([(self._ids[int(slots[t])], float(row[t])) for t in top if row[t] > -np.inf])
        return out

    # -- persistence ----------------------------------------------------------------------
    def _compact(self) -> None:
        live = np.flatnonzero(self._alive[: self._n])
        ids = [self._ids[s] for s in live]
        vecs = self._rows(live)
        payloads = [
            (int(self._lang[s]), int(self._show[s]), int(self._date[s]), self._cats[s])
            for s in live
        ]
        langs, shows, catv = self._langs, self._shows, self._catv
        self._reset()
        self._langs, self._shows, self._catv = langs, shows, catv
        self._grow(len(ids))
        if self._hnsw is None:
            self._vecs[: len(ids)] = vecs
        for j, (doc_id, (lang, show, date, cats)) in enumerate(zip(ids, payloads, strict=True)):
            self._slot[doc_id] = j
            self._ids.append(doc_id)
            self._lang[j], self._show[j], self._date[j] = lang, show, date
            self._cats.append(cats)
        self._alive[: len(ids)] = True
        self._n = len(ids)
        if len(ids) and self._hnsw is not None:
            self._hnsw.add(vecs)

    def commit(self) -> None:
        with self._lock:
            if not self._dirty and (self.path / "CURRENT").exists():
                return
            dead = self._n - len(self._slot)
            if dead and dead > self.compact_fraction * max(self._n, 1):
                self._compact()
            n = self._n
            if self.quantized and n >= _ANN_MIN:
                if not self._ann.incremental and self._ann.ntotal < n:
                    self._ann = _make_ann(self.kind, self._dim, self.m, self.ef_construction)
                self._ensure_ann()
            self.path.mkdir(parents=True, exist_ok=True)
            gen = self._next_generation()
            tmp = self.path / f".{gen}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            try:
                if self._hnsw is not None:
                    faiss.write_index(self._hnsw, str(tmp / "hnsw.faiss"))  # with the vectors
                else:
                    self._ann.save(tmp)
                    self._write_rows(tmp / "vectors.npy", n)
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
                    "kind": self.kind,
                }
                (tmp / "state.json").write_text(json.dumps(state, ensure_ascii=False))
                for f in tmp.rglob("*"):
                    if f.is_file():
                        _fsync(f)
            except BaseException:  # disk full: leave no half-written generation behind
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            os.replace(tmp, self.path / gen)
            _atomic_write(self.path / "CURRENT", gen)
            self._loaded_gen = gen
            if self.quantized:  # from now on the originals are read from the new generation
                self._open_disk(self.path / gen / "vectors.npy", n)
                self._vecs = np.zeros((0, self._dim), dtype=np.float32)
            for old in self.path.glob("gen-*"):
                if old.name != gen:
                    shutil.rmtree(old, ignore_errors=True)
            self._dirty = False

    def _write_rows(self, path: Path, n: int) -> None:
        """vectors.npy streamed in chunks (never all float32 vectors in memory at once)."""
        with open(path, "wb") as f:
            header = {"descr": "<f4", "fortran_order": False, "shape": (n, self._dim)}
            np.lib.format.write_array_header_1_0(f, header)
            for start in range(0, n, 65_536):
                f.write(self._rows(np.arange(start, min(n, start + 65_536))).tobytes())

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
            if state.get("format") not in _FORMATS:
                raise IndexStateError(f"vector index format {state.get('format')} unknown")
            if int(state["dim"]) != self._dim:
                raise IndexStateError(
                    f"the vector index holds {state['dim']}-d vectors but the model makes "
                    f"{self._dim}-d ones; rebuild with: podsearch index --rebuild"
                )
            kind = state.get("kind", "hnsw")
            if kind not in VECTOR_INDEXES:
                raise IndexStateError(f"vector index kind {kind!r} unknown")
            if kind != self.kind:  # the index keeps the kind it was built with
                self._configured = (kind, int(state["params"]["m"]), *self._configured[2:])
                self._set_kind(kind)
                self._reset()
            hnsw = None
            if kind == "hnsw":
                hnsw = faiss.read_index(str(gen_dir / "hnsw.faiss"))  # format 1's vectors.npy
                # holds the same rows as its storage: not read
            else:
                self._ann.load(gen_dir)
            cols = np.load(gen_dir / "columns.npz")
        except (OSError, ValueError, KeyError, RuntimeError) as e:
            raise IndexStateError(
                f"vector index at {gen_dir} cannot be read ({e}); rebuild with: "
                "podsearch index --rebuild"
            ) from e
        if kind == "hnsw" and not isinstance(hnsw, faiss.IndexHNSWFlat):
            raise IndexStateError(
                f"vector index at {gen_dir} holds a {type(hnsw).__name__}, not an HNSW index; "
                "rebuild with: podsearch index --rebuild"
            )
        n = int(state["count"])
        self._n = 0
        if isinstance(hnsw, faiss.IndexHNSWFlat):
            hnsw.hnsw.efSearch = self.ef_search
            if hnsw.ntotal != int(state["count"]):
                raise IndexStateError(
                    f"vector index at {gen_dir} holds {hnsw.ntotal} vectors, its state "
                    f"{state['count']}; rebuild with: podsearch index --rebuild"
                )
            self._hnsw = hnsw
            self._grow(n)
        else:
            self._open_disk(gen_dir / "vectors.npy", n)
            self._grow(n)
        self._n = n
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
        "_hnsw", "_ann", "_disk", "_disk_n", "_disk_file", "_vecs", "_n", "_ids", "_slot",
        "_alive", "_lang", "_show", "_date", "_cats", "_langs", "_shows", "_catv", "_cat_index",
        "_postings", "_dirty", "_loaded_gen", "kind", "quantized", "m", "ef_search", "refine",
        "exact_max", "exact_fraction", "_configured",
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
        kind, m, ef_search, refine, exact_fraction, exact_max = self._configured
        for _attempt in range(3):  # a writer may delete the generation we are reading
            try:
                fresh = FaissVectorIndex(
                    self.path, self._dim, kind=kind, m=m, ef_construction=self.ef_construction,
                    ef_search=ef_search, refine=refine, exact_fraction=exact_fraction,
                    exact_max=exact_max, compact_fraction=self.compact_fraction,
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


def _top_k(row: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest values of ``row`` (all of them when fewer), best first
    (ties in position order)."""
    top = np.argpartition(-row, k - 1)[:k] if k < len(row) else np.arange(len(row))
    return top[np.argsort(-row[top], kind="stable")]


def _similarities_at(vecs: np.ndarray, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(len(q), len(rows)) inner products with ``vecs[rows]``, computed in place by FAISS
    (no gathered copy of the rows)."""
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    ids = np.ascontiguousarray(rows, dtype=np.int64)
    out = np.empty((len(q), len(ids)), dtype=np.float32)
    for i, row in enumerate(q):
        faiss.fvec_inner_products_by_idx(  # type: ignore[attr-defined]
            faiss.swig_ptr(out[i]), faiss.swig_ptr(np.ascontiguousarray(row)),
            faiss.swig_ptr(vecs), faiss.swig_ptr(ids), vecs.shape[1], 1, len(ids),
        )  # fmt: skip
    return out


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
