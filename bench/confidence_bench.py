"""SearchResult.weak on real vs nonsense queries, and keyword typo retries (19k index).

PYTHONPATH=src python bench/confidence_bench.py [INDEX]; results in bench/results/confidence.md.
"""

import json
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
