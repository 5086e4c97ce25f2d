"""SearchResult.weak on real vs nonsense queries, and keyword typo retries (19k index).

PYTHONPATH=src python bench/confidence_bench.py [INDEX]; results in bench/results/confidence.md.
"""

import json
import statistics
import sys
import time

from podsearch.engine import Podsearch

ps = Podsearch(sys.argv[1] if len(sys.argv) > 1 else "var/bench/index", create=False)
with open("eval/queries/curated.jsonl", encoding="utf-8") as f:
    real = [json.loads(line)["query"] for line in f]
nonsense = ["asdfgh qwerty zxcvb", "xkcd blorp fnord", "qqq zzz", "lorem ipsum dolor sit amet",
 "zxq vbn mlk", "aaaaaa bbbbbb", "jkl; hjkl uiop", "flibbertigibbet wobble sprocket",
 "12345 67890", "ghjkl poiuy", "wxyz abcd efgh", "brzl qwop", "grmbl frmbl", "pfft zork",
 "nnnn mmmm", "vlarg snib", "ooo eee ooo", "kjhgf dsa", "zyxw vuts", "plumbus grumbo",
 "hfjdks lalala", "qwertyuiop", "mxyzptlk", "bloop bleep blap", "asdf"]  # fmt: skip
ps.warm_up()
for mode in ("hybrid", "dense", "keyword"):
    t = time.perf_counter()
    rw = [ps.search(q, mode=mode).weak for q in real]
    nw = [ps.search(q, mode=mode).weak for q in nonsense]
    dt = (time.perf_counter() - t) / (len(real) + len(nonsense)) * 1000
    print(
        mode, f"real weak {sum(rw)}/{len(rw)} nonsense weak {sum(nw)}/{len(nw)}  {dt:.1f} ms/query"
    )
    print(
        "  nonsense not weak:",
        [q for q, w in zip(nonsense, nw, strict=False) if not w],
        " real weak:",
        [q for q, w in zip(real, rw, strict=False) if w][:5],
    )
for q in ("chrismas", "chrismas docter advice", "meditaton"):
    r = ps.search(q, mode="keyword")
    print(
        q,
        len(r.hits),
        r.fuzzy,
        r.did_you_mean,
        r.weak,
        r.has_more,
        [h.title[:40] for h in r.hits[:2]],
    )
r = ps.search("asdfgh qwerty zxcvb")
print("asdf hybrid weak", r.weak, r.has_more)

# Latency with the query vectors cached (encoding excluded, as in backend_bench.py's hybrid):
# what the weak check's word lookups cost. The word-presence cache (where this version has one)
# is emptied before each timed pass, so each query's words are looked up (not re-used).
for mode in ("hybrid", "keyword"):
    for q in real + nonsense:
        ps.search(q, mode=mode)
    times = {}
    for _rep in range(3):
        wc = getattr(ps.searcher, "word_cache", None)
        if wc is not None:
            wc.clear()
        for q in real + nonsense:
            t = time.perf_counter()
            ps.search(q, mode=mode)
            times.setdefault(q, []).append((time.perf_counter() - t) * 1000)
    best = sorted(min(v) for v in times.values())
    print(
        f"{mode} vectors cached: p50 {statistics.median(best):.2f} ms, "
        f"p95 {best[int(0.95 * len(best))]:.2f} ms (best of 3 per query, {len(best)} queries)"
    )
words = [w for q in real + nonsense for w in dict.fromkeys(q.lower().split())]
kw = ps.keyword_index()
t = time.perf_counter()
for _ in range(3):
    old = {w for w in words if kw.search(w, 1)}
per_search = (time.perf_counter() - t) / 3 / len(words) * 1000
print(f"one search(word, 1) per word: {per_search:.3f} ms/word ({len(words)} words)")
if hasattr(kw, "present_words"):
    t = time.perf_counter()
    for _ in range(3):
        new = kw.present_words(words)
    per_word = (time.perf_counter() - t) / 3 / len(words) * 1000
    print(f"present_words: {per_word:.3f} ms/word; same answer: {new == old}")
