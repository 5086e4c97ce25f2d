"""IVF-PQ code variants for the ``ivf-pq`` kind: recall@10 and latency after exact re-scoring.

The first ``N`` vectors of bench/scale_bench.py's synthetic mE5-like data (run it first),
200 of its queries, exact top 10 from FAISS flat as the truth. Per variant: an IVF with
2 sqrt(N) lists trained on 64 vectors per list, then for each nprobe and refine, candidates
(10 x refine) re-scored exactly in memory, one query at a time on one thread. Variants:
pq48 / pq64 / pq96 (8-bit sub-quantisers of 8 / 6 / 4 dims), pq96nr (96 bytes without
residuals), opq48 (an OPQ rotation before pq48), pq96x4fs (4-bit fast-scan codes).

    .venv/bin/python bench/ivfpq_variants.py 250000 pq48,opq48,pq96x4fs
    .venv/bin/python bench/ivfpq_variants.py 250000 pq96,pq64 --refine 3,5,10,20 --nprobe 32,64

Results: bench/results/ivfpq_variants.txt (printed lines, with the machine's load).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import faiss
import numpy as np

DATA = Path(__file__).resolve().parents[1] / "var" / "scale" / "n1000000" / "data"
D = 384


def make(kind: str, nlist: int) -> faiss.Index:
    ip = faiss.METRIC_INNER_PRODUCT
    if kind in ("pq48", "pq64", "pq96", "pq96nr"):
        m = int(kind[2:4])
        index = faiss.IndexIVFPQ(faiss.IndexFlatIP(D), D, nlist, m, 8, ip)
        index.by_residual = kind != "pq96nr"
        return index
    factories = {"opq48": f"OPQ48,IVF{nlist},PQ48", "pq96x4fs": f"IVF{nlist},PQ96x4fs"}
    return faiss.index_factory(D, factories[kind], ip)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int)
    ap.add_argument("kinds")
    ap.add_argument("--nprobe", default="16,32,64")
    ap.add_argument("--refine", default="5,10,30")
    args = ap.parse_args()
    x = np.ascontiguousarray(np.load(DATA / "vectors.npy", mmap_mode="r")[: args.n])
    q = np.load(DATA / "queries.npy")[:200]
    faiss.omp_set_num_threads(2)
    flat = faiss.IndexFlatIP(D)
    flat.add(x)
    _, truth = flat.search(q, 10)
    del flat
    nlist = int(2 * np.sqrt(args.n))
    rng = np.random.default_rng(0)
    train = x[np.sort(rng.choice(args.n, min(args.n, 64 * nlist), replace=False))]
    for kind in args.kinds.split(","):
        index = make(kind, nlist)
        t0 = time.time()
        index.train(train)
        index.add(x)
        build = time.time() - t0
        ivf = faiss.extract_index_ivf(index)
        faiss.omp_set_num_threads(1)
        for nprobe in [int(v) for v in args.nprobe.split(",")]:
            ivf.nprobe = nprobe
            for refine in [int(v) for v in args.refine.split(",")]:
                recall, times = [], []
                for i in range(len(q)):
                    t = time.perf_counter()
                    _, labels = index.search(q[i : i + 1], 10 * refine)
                    cand = labels[0][labels[0] >= 0]
                    top = cand[np.argsort(-(x[cand] @ q[i]))[:10]]
                    times.append(time.perf_counter() - t)
                    recall.append(len(set(top) & set(truth[i])) / 10)
                print(
                    f"{kind} build {build:.0f}s nprobe {nprobe} refine {refine}: recall "
                    f"{np.mean(recall):.3f} p50 {np.median(times) * 1e3:.2f} ms "
                    f"(load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
        faiss.omp_set_num_threads(2)


if __name__ == "__main__":
    main()
