"""Smoke check for a Milvus endpoint through pymilvus' MilvusClient: create a collection (HNSW,
cosine, a scalar filter field), insert, search (plain and filtered), drop. Works against Milvus
Lite (a file path) and a server (an http:// URI). With --bm25 it also checks the built-in BM25
function (Milvus >= 2.5: milvus-lite 3.x has it, the 2.3.5 standalone server does not).

    python scripts/milvus_smoke.py /tmp/smoke.db --bm25               # Milvus Lite
    bash scripts/servers.sh exec -- python scripts/milvus_smoke.py http://127.0.0.1:19530
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import random
import sys
import time

from pymilvus import DataType, MilvusClient


def versions(client: MilvusClient, uri: str) -> str:
    out = [f"pymilvus {md.version('pymilvus')}"]
    if not uri.startswith(("http://", "https://", "tcp://")):
        out.append(f"milvus-lite {md.version('milvus-lite')}")
    try:
        out.append(f"server {client.get_server_version()}")
    except Exception as e:  # noqa: BLE001 - lite may not answer
        out.append(f"server version unknown ({type(e).__name__})")
    return ", ".join(out)


def dense(client: MilvusClient, name: str) -> None:
    dim, n = 16, 200
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("lang", DataType.VARCHAR, max_length=8)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("vec", index_type="HNSW", metric_type="COSINE", params={"M": 16, "efConstruction": 64})
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    rng = random.Random(0)
    rows = [{"id": i, "lang": "en" if i % 2 else "de", "vec": [rng.gauss(0, 1) for _ in range(dim)]}
            for i in range(n)]
    assert client.insert(name, rows)["insert_count"] == n
    client.load_collection(name)
    hits = client.search(name, data=[rows[7]["vec"]], anns_field="vec", limit=3,
                         search_params={"metric_type": "COSINE", "params": {"ef": 64}})[0]
    assert hits[0]["id"] == 7, hits
    hits = client.search(name, data=[rows[7]["vec"]], anns_field="vec", limit=5, filter='lang == "de"',
                         output_fields=["lang"],
                         search_params={"metric_type": "COSINE", "params": {"ef": 64}})[0]
    assert hits and all(h["entity"]["lang"] == "de" for h in hits), hits
    print(f"dense: ok ({n} rows, top hit {hits[0]['id']} under filter lang == 'de')")


def bm25(client: MilvusClient, name: str) -> None:
    from pymilvus import Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    docs = ["the history of the roman empire", "cooking pasta at home",
            "a podcast about deep sea creatures", "roman cooking recipes from antiquity"]
    client.insert(name, [{"id": i, "text": t} for i, t in enumerate(docs)])
    client.load_collection(name)
    hits = client.search(name, data=["deep sea"], anns_field="sparse", limit=2,
                         search_params={"metric_type": "BM25"})[0]
    assert hits[0]["id"] == 2, hits
    print(f"bm25: ok (query 'deep sea' -> id {hits[0]['id']})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("uri", help="Milvus Lite file (e.g. /tmp/smoke.db) or server URI (http://127.0.0.1:19530)")
    ap.add_argument("--bm25", action="store_true", help="also check the BM25 function (Milvus >= 2.5)")
    args = ap.parse_args()
    t0 = time.time()
    client = MilvusClient(args.uri)
    print(versions(client, args.uri))
    for name, check in [("podsearch_smoke_dense", dense)] + ([("podsearch_smoke_bm25", bm25)] if args.bm25 else []):
        if client.has_collection(name):
            client.drop_collection(name)
        try:
            check(client, name)
        finally:
            client.drop_collection(name)
    client.close()
    print(f"milvus smoke: ok in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
