"""Markdown rendering of the search benchmark's result dict."""

from __future__ import annotations

from typing import Any

KNOWN_ITEM_K = 30


def caveats(settings: dict[str, Any]) -> list[str]:
    """What a reader must know to read the numbers, with the settings actually used."""
    f = settings["fusion"]
    fx = settings["faiss"]
    hub = settings.get("hub_scores_from_model")
    if f["method"] == "convex":
        hybrid = (
            f"podsearch hybrid = convex fusion (z-scored cosine + {f['keyword_weight']} x "
            f"BM25 / best BM25) over the top {f['depth']} of each retriever"
        )
    else:
        hybrid = (
            f"podsearch hybrid = weighted RRF (k={f['k']}, dense {f['dense_weight']}, keyword "
            f"{f['keyword_weight']}) over the top {f['depth']} of each retriever"
        )
    dehub = (
        f"podsearch dense and hybrid modes re-rank the top {f['depth']} dense candidates with "
        f"a hubness correction (cos - {f['hubness_beta']} x hub(d), CSLS; hub scores from "
        f"{hub}), so the dense mode's top 10 is deliberately not the cosine top 10: ANN recall "
        "is measured on the FAISS index alone at k = 10, and the dense mode's overlap with the "
        "exact cosine top 10 is reported beside it."
        if f.get("hubness_beta") and hub
        else "podsearch dense mode returns the cosine top 10 of the FAISS index."
    )
    return [
        "Query encoding runs once per distinct query: podsearch caches query vectors, so the "
        "cold pass measures encoding and every later pass measures retrieval only.",
        "Every comparison row is a paired measurement: podsearch and LanceDB run the same query "
        "back to back (order alternating per query), one warm-up pass then the measured passes, "
        "so both see the same background load.",
        "Both engines get the same query vectors (encoded once by podsearch's encoder, read "
        "back from its cache) and the same document vectors (read back from podsearch's FAISS "
        "index).",
        dehub,
        hybrid + "; LanceDB hybrid = RRFReranker (k=60) over its own vector and FTS results.",
        "podsearch keyword search indexes the title (boost 2) plus a language-neutral field "
        "plus a stemmed field in each episode's own language; LanceDB FTS indexes the `text` "
        "column with its default English stemmer and stop words for every document.",
        f"FAISS HNSW M={fx['m']}, efConstruction={fx['ef_construction']}, efSearch="
        f"{fx['ef_search']}; a filter keeping at most {fx['exact_fraction']:.0%} of the index "
        "is searched exactly, a wider one walks the graph with an IDSelectorBitmap (efSearch "
        "raised to efSearch / fraction).",
        "Latencies are single-query calls on a 2-core machine shared with other jobs (see the "
        "load line); p95/p99 are sensitive to that background load.",
    ]


def _fmt(s: dict[str, Any] | None, sep: str = " | ") -> str:
    if not s or not s.get("n"):
        return sep.join("–" * 3)
    return sep.join(f"{s[p]:.2f}" for p in ("p50", "p95", "p99"))


def _ratio(a: dict | None, b: dict | None, key: str) -> str:
    if not a or not b or not a.get("n") or not b.get("n") or not b[key]:
        return "–"
    return f"{a[key] / b[key]:.2f}×"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.4f}"


def _pair(r: dict[str, Any]) -> str:
    a, b = r.get("podsearch_recall_at_10"), r.get("podsearch_dense_mode_overlap_at_10")
    return "–" if a is None else f"{a:.4f} / {_num(b)}"


def _header(res: dict[str, Any]) -> list[str]:
    m = res["machine"]
    q = res["queries"]
    vers = ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v)
    st = res["index_stats"]
    L = [
        "# Search benchmark: podsearch vs LanceDB on the real episodes\n",
        f"- Date: {res['date']}",
        f"- Command: `{res['command']}`",
        f"- Machine: {m['cpu_model']}, {m['cpu_count_usable']} usable CPUs, {m['ram_gib']} GiB "
        f"RAM, {m['os']}, Python {m['python']}",
        f"- Versions: {vers}",
        f"- Index: {st['indexed']} episodes, {st['shows']} shows, model {st['model']} "
        f"(dim {st['dim']}); top languages: "
        + ", ".join(f"{k or '?'} {v}" for k, v in list(st["languages"].items())[:8]),
        f"- Queries: {q['total']} ({q['trec']} TREC Podcasts topics + {q['hand_written']} "
        f"hand-written, multilingual); k = {res['config']['k']}; one query per call; "
        f"{res['config']['repeats']} measured passes after one warm-up pass",
    ]
    load = res.get("load", {})
    if load:
        parts = [f"{k.replace('_', ' ')} {v['loadavg_1m']}" for k, v in load.items()]
        others = {o["cmd"] for v in load.values() for o in v["other_busy_processes"]}
        L.append(
            "- Shared machine: 1-min load average "
            + ", ".join(parts)
            + (f"; other busy processes seen: {sorted(others)}" if others else "")
        )
    if res["indexing"].get("reused"):
        ix = res["indexing"]
        L.append(f"- Index reused: built {ix['built_at']} by `{ix.get('command', '?')}`; the "
                 "indexing numbers are from that build")  # fmt: skip
    return L + [""]


def _side_by_side_md(res: dict[str, Any]) -> list[str]:
    L = ["## podsearch vs LanceDB: same queries, same query vectors, k = 10 (ms)\n"]
    L.append(
        "| comparison | podsearch retrieval p50 / p95 / p99 | podsearch wall p50 / p95 / p99 "
        "| LanceDB p50 / p95 / p99 | LanceDB ÷ podsearch wall, p50 | p95 "
        "| recall@10 podsearch: FAISS index / dense mode | recall@10 LanceDB |"
    )
    L.append("|---|---|---|---|---|---|---|---|")
    for r in res["comparison"]:
        L.append(
            f"| {r['what']} | {_fmt(r['podsearch_retrieval'], ' / ')} "
            f"| {_fmt(r['podsearch_wall'], ' / ')} | {_fmt(r['lancedb'], ' / ')} "
            f"| {_ratio(r['lancedb'], r['podsearch_wall'], 'p50')} "
            f"| {_ratio(r['lancedb'], r['podsearch_wall'], 'p95')} "
            f"| {_pair(r)} | {_num(r['lancedb_recall_at_10'])} |"
        )
    L.append(
        "\npodsearch *retrieval* = the index calls alone (`timings_ms`: dense_ms, the FAISS search "
        "of the top 100 candidates in the dense and hybrid modes since they re-rank, else of the "
        "top 10; keyword_ms; their sum for hybrid); podsearch *wall* = the whole "
        "`Podsearch.search` call with the query vector already cached (query cleaning, "
        "retrieval, hubness re-ranking, fusion, SQLite hydration and snippets of the 10 hits). "
        "LanceDB = the whole query call returning id + title as Arrow. The ratio divides LanceDB "
        "by podsearch wall (> 1: podsearch is faster). Recall@10 is against exact cosine search "
        "over the same vectors with the same filter; for podsearch, first the FAISS index alone "
        "at k = 10 (ANN recall), then the dense mode's final top 10 (after re-ranking).\n"
    )
    return L


def _indexing_md(ix: dict[str, Any]) -> list[str]:
    b, ing, d = ix["build"], ix["ingest"], ix["disk"]
    L = ["## Indexing (podsearch, fresh build)\n", "| metric | value |", "|---|---|"]
    for name, c in ix["corpora"].items():
        L.append(
            f"| ingest {name} | {c['read']} read, {c['imported']} imported, {c['skipped']} "
            f"skipped, {c['seconds']:.2f} s ({c['episodes_per_s']} episodes/s) |"
        )
    L += [
        f"| ingest, all corpora | {ing['episodes']} episodes in {ing['seconds']:.1f} s "
        f"({ing['episodes_per_s']} episodes/s); peak RSS {ing.get('peak_rss_mib')} MiB |",
        f"| model | {b['model']} (dim {b['dim']}), loaded in {b['model_load_seconds']:.1f} s |",
        f"| encoding | {b['encoded']} episodes in {b['encode_seconds']:.1f} s "
        f"(**{b['encode_episodes_per_s']} episodes/s**) |",
        f"| index build, vector + keyword | {b['index_build_seconds']:.2f} s (FAISS HNSW add + "
        f"save {b['vector_index_seconds']:.2f} s, tantivy add + commit "
        f"{b['keyword_index_seconds']:.2f} s) |",
        f"| build_index total | {b['build_index_seconds']:.1f} s; peak RSS "
        f"{b.get('peak_rss_mib')} MiB; CPU cores used on average {b.get('cores_used')} "
        f"(load average before: {ix.get('load_before_build', {}).get('loadavg_1m')}) |",
        f"| disk | {d['total_mib']} MiB: catalog.sqlite {d['catalog_sqlite_mib']}, vectors/ "
        f"{d['vectors_mib']}, keyword/ {d['keyword_mib']} |",
        "",
    ]
    return L


def _podsearch_md(res: dict[str, Any]) -> list[str]:
    p = res["podsearch"]
    L = ["## podsearch query latency by stage (ms)\n"]
    L += ["| mode | setting / stage | p50 | p95 | p99 |", "|---|---|---|---|---|"]
    for key, s in p["latency_ms"].items():
        mode, rest = key.split("/", 1)
        L.append(f"| {mode} | {rest} | {_fmt(s)} |")
    bt = p["search_batch_dense_cold"]
    L.append(
        f"\n`search_batch` (dense, cold cache, {bt['queries']} queries in one call): "
        f"{bt['seconds']:.2f} s = {bt['queries_per_s']} queries/s.\n"
    )
    rec = ", ".join(f"{k} {v:.4f}" for k, v in p["recall_at_10"].items())
    L.append(
        "Recall@10 against exact cosine search over the same vectors and filter "
        "(`vector_index` = the FAISS index alone at k = 10; `dense_mode_vs_exact_cosine` = the "
        f"dense search mode's top 10, after its re-ranking): {rec}.\n"
    )
    if p.get("empty"):
        L.append(f"Queries with no hits (of {res['queries']['total']}): {p['empty']}.\n")
    return L


def _lancedb_md(lc: dict[str, Any]) -> list[str]:
    L = ["## LanceDB build, disk and latency\n", "| item | value |", "|---|---|"]
    for k, v in lc["seconds"].items():
        L.append(f"| {k} | {v:.2f} s |")
    for kind, info in lc["vector_indexes"].items():
        L.append(
            f"| vector index {kind} | build {info['build_seconds']:.2f} s, "
            f"{info.get('index_mib')} MiB, peak RSS {info.get('peak_rss_mib')} MiB; "
            f"`{info['params']}` |"
        )
    dk = lc["disk"]
    L.append(f"| disk (live version) | {dk['total_mib']} MiB: data {dk['data_mib']}, indices "
             f"{dk['indices_mib']} ({dk['indexes']}) |")  # fmt: skip
    L += ["", "| query | p50 | p95 | p99 | recall@10 | errors |", "|---|---|---|---|---|---|"]
    for key, s in lc["latency_ms"].items():
        L.append(
            f"| {key} | {_fmt(s)} | {_num(lc['recall_at_10'].get(key))} "
            f"| {lc['errors'].get(key, 0)} |"
        )
    return L + [""]


def to_markdown(res: dict[str, Any]) -> str:
    L = _header(res)
    if res.get("podsearch_settings"):
        ps_set = res["podsearch_settings"]
        code = res.get("code", {})
        L.insert(
            len(L) - 1,
            f"- podsearch code: commit {code.get('commit')}"
            + (" + uncommitted changes in src/" if code.get("src_dirty") else "")
            + f"; fusion {ps_set['fusion']}; FAISS {ps_set['faiss']}",
        )
    L += ["## Filters\n", "| name | filter | kept | fraction |", "|---|---|---|---|"]
    for name, f in res["filters"].items():
        L.append(f"| {name} | {f['description']} | {f['kept']} | {f['fraction']:.2%} |")
    L.append("")
    if res.get("comparison"):
        L += _side_by_side_md(res)
    L += _indexing_md(res["indexing"])
    L += _podsearch_md(res)
    if res.get("lancedb"):
        L += _lancedb_md(res["lancedb"])
    ki = res.get("known_item")
    if ki:
        L += [f"## Known item: title as query ({ki['sample']} {ki['from']})\n", f"_{ki['note']}_\n"]
        L += [f"| system / mode | recall@{KNOWN_ITEM_K} | MRR@{KNOWN_ITEM_K} |", "|---|---|---|"]
        for name, s in ki["results"].items():
            L.append(
                f"| {name} | {s[f'recall@{KNOWN_ITEM_K}']:.4f} | {s[f'mrr@{KNOWN_ITEM_K}']:.4f} |"
            )
        L.append("")
    L += ["## Memory: resident set size (MiB)\n", "| phase | MiB |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in res["rss_mib"].items()]
    L.append("\npeak_* = highest RSS sampled every 50 ms during that phase (one process: the "
             "model and the podsearch index stay loaded while LanceDB runs); peak_process = "
             "getrusage ru_maxrss.")  # fmt: skip
    L += ["", "## Caveats\n"] + [f"- {c}" for c in res.get("caveats", [])]
    return "\n".join(L) + "\n"
