"""Dense, keyword and hybrid search over the index Protocols."""

from __future__ import annotations

import functools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from podsearch.encode.base import Encoder
from podsearch.errors import QueryError
from podsearch.index.base import KeywordIndex, VectorIndex
from podsearch.models import SEARCH_MODES, Episode, Filters, Hit, SearchResult
from podsearch.search.confidence import is_weak, query_words
from podsearch.search.facets import count_facets
from podsearch.search.fusion import RRF_K, convex_fusion, reciprocal_rank_fusion
from podsearch.search.querylang import CROSS_LINGUAL, QueryClassifier, is_title_query
from podsearch.search.snippet import highlight_spans, make_snippet
from podsearch.search.spelling import did_you_mean

MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_OFFSET = 1000
MAX_DEPTH = 20_000  # the deepest a query searches to replace hits deleted since the index was read
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # a lone one: a str cannot be encoded as UTF-8
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060\ufeff]")


def clean_query(query: object) -> str:
    """Validate and normalise a user query, or raise QueryError saying what is wrong."""
    if not isinstance(query, str):
        raise QueryError(f"the query must be text, got {type(query).__name__}")
    if _SURROGATE.search(query):
        raise QueryError(
            "the query holds an unpaired UTF-16 surrogate (not valid Unicode text, e.g. "
            "bytes that are not UTF-8): send the query as UTF-8 text"
        )
    q = " ".join(_CONTROL.sub(" ", query).split())
    if not q:
        raise QueryError("the query is empty: type a few words describing what to find")
    if len(q) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(q)} characters long; the limit is {MAX_QUERY_CHARS}: "
            "shorten it to the words that matter"
        )
    return q


def check_page(k: int, offset: int, mode: str) -> None:
    if not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be between 1 and {MAX_K}, got {k!r}")
    if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise QueryError(f"offset must be between 0 and {MAX_OFFSET}, got {offset!r}")
    if mode not in SEARCH_MODES:
        raise QueryError(f"unknown mode {mode!r}; use one of: {', '.join(SEARCH_MODES)}")


FUSION_METHODS = ("rrf", "convex")


@dataclass(frozen=True, slots=True)
class FusionSettings:
    """How hybrid search fuses the dense and keyword candidates.

    ``rrf``: weighted reciprocal rank fusion, sum of w / (k + rank).
    ``convex``: z-scored true cosine of every candidate + ``keyword_weight`` * BM25 / best BM25
    (see ``fusion.convex_fusion``).
    ``hubness_beta``: dense scores become ``cos - beta * hub(d)`` (CSLS, see
    ``search/hubness.py``) in dense and hybrid modes; 0 turns it off.
    ``cross_lingual_keyword_weight``: the keyword weight for queries classified cross-lingual
    (the query's language differs from that of its nearest episode, see
    ``search/querylang.py``); ``title_keyword_weight``: for queries that are (nearly) the title
    of a top keyword hit. None gives them ``keyword_weight`` like any query.

    Defaults chosen on bench/quality_bench.py (the tune split of eval/queries/curated.jsonl and
    200 exact-title queries; reported on the held-out split): RRF lowers MRR@30 far below dense
    alone, convex with 0.25 and CSLS with 0.5 raise it most; a keyword weight of 0 for
    cross-lingual queries and 2 for exact titles makes neither class worse than its better
    retriever.
    """

    method: str = "convex"
    k: int = RRF_K
    dense_weight: float = 1.0
    keyword_weight: float = 0.25
    hubness_beta: float = 0.5
    cross_lingual_keyword_weight: float | None = 0.0
    title_keyword_weight: float | None = 2.0
    depth: int = 100  # candidates taken from each retriever before fusing / re-scoring

    def __post_init__(self) -> None:
        if self.method not in FUSION_METHODS:
            raise QueryError(f"unknown fusion method {self.method!r}; use one of {FUSION_METHODS}")


class QueryVectorCache:
    """A small thread-safe LRU cache of query vectors (encoding dominates query latency)."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._d: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get_many(
        self, queries: Sequence[str], encode: Callable[[list[str]], np.ndarray]
    ) -> np.ndarray:
        """Vectors for ``queries`` in order, encoding (in one batch) only the unseen ones."""
        with self._lock:
            found = {q: self._d[q] for q in queries if q in self._d}
            for q in found:
                self._d.move_to_end(q)
        missing = [q for q in dict.fromkeys(queries) if q not in found]
        self.hits += len(queries) - len(missing)
        self.misses += len(missing)
        if missing:
            new = dict(zip(missing, encode(missing), strict=True))
            with self._lock:
                self._d.update(new)
                while len(self._d) > self.size:
                    self._d.popitem(last=False)
            found.update(new)
        return np.stack([found[q] for q in queries])


class WordPresenceCache:
    """A thread-safe LRU cache of whether a word occurs in the catalog, keyed by
    (index generation, word): a write bumps the generation, so no stale answer is reused."""

    def __init__(self, size: int = 8192) -> None:
        self.size = size
        self._d: OrderedDict[tuple[int, str], bool] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def clear(self) -> None:
        with self._lock:
            self._d.clear()

    def present(
        self,
        generation: int,
        words: Sequence[str],
        lookup: Callable[[Sequence[str]], set[str]],
    ) -> set[str]:
        """The words among ``words`` that occur, asking ``lookup`` (in one call) only about
        the words not cached for ``generation``."""
        with self._lock:
            known: dict[str, bool] = {}
            for w in words:
                v = self._d.get((generation, w))
                if v is not None:
                    known[w] = v
                    self._d.move_to_end((generation, w))
        missing = [w for w in dict.fromkeys(words) if w not in known]
        self.hits += len(words) - len(missing)
        self.misses += len(missing)
        if missing:
            found = lookup(missing)
            with self._lock:
                for w in missing:
                    known[w] = w in found
                    self._d[(generation, w)] = known[w]
                while len(self._d) > self.size:
                    self._d.popitem(last=False)
        return {w for w, v in known.items() if v}


class Searcher:
    """Runs a query through the retrievers, fuses, pages and hydrates hits."""

    def __init__(
        self,
        *,
        encoder: Callable[[], Encoder],
        vectors: Callable[[], VectorIndex],
        keywords: Callable[[], KeywordIndex],
        lookup: Callable[[Sequence[str]], dict[str, Episode]],
        hub_scores: Callable[[Sequence[str]], dict[str, float]] | None = None,
        show_images: Callable[[Sequence[str]], dict[str, str]] | None = None,
        fusion: FusionSettings | None = None,
        cache_size: int = 2048,
        languages: Callable[[], Sequence[str]] | None = None,
        generation: Callable[[], int] | None = None,
    ) -> None:
        """``languages`` lists the catalog's languages, for telling cross-lingual queries;
        ``show_images`` gives the artwork URL of shows (for the hits' ``image_url``);
        ``generation`` is the index generation the keyword index reflects: with it, which
        words occur in the catalog is cached per generation (``word_share``)."""
        self._show_images = show_images
        self._encoder = encoder
        self._vectors = vectors
        self._keywords = keywords
        self._lookup = lookup
        self._hub_scores = hub_scores
        self.fusion = fusion or FusionSettings()
        self.cache = QueryVectorCache(cache_size)
        self._languages = languages
        self._classifier: QueryClassifier | None = None
        self._classifier_lock = threading.Lock()
        self._generation = generation
        self.word_cache = WordPresenceCache(cache_size * 4)

    def classifier(self) -> QueryClassifier:
        """The query classifier for the catalog's languages (made on first use; call
        ``reset_classifier`` after the catalog's languages change)."""
        with self._classifier_lock:
            if self._classifier is None:
                langs = list(self._languages()) if self._languages is not None else []
                self._classifier = QueryClassifier(langs)
            return self._classifier

    def reset_classifier(self) -> None:
        with self._classifier_lock:
            self._classifier = None

    def refresh_classifier(self) -> None:
        """Drop the classifier only if the catalog's languages changed (making one loads the
        language identifier: ~0.3 s)."""
        with self._classifier_lock:
            clf = self._classifier
            if clf is None or self._languages is None:
                return
            langs = {x for x in self._languages() if x} | {"en"}
            if set(clf.languages) != langs:
                self._classifier = None

    def keyword_weight_for(
        self,
        query: str,
        dense: Sequence[tuple[str, float]],
        keyword: Sequence[tuple[str, float]] = (),
        episodes: Mapping[str, Episode] | None = None,
    ) -> float:
        """The keyword weight hybrid fusion gives this query, by its class (see
        ``search/querylang.py``): a query that is (nearly) the title of one of the top keyword
        hits gets ``title_keyword_weight``; a cross-lingual one ``cross_lingual_keyword_weight``;
        any other ``keyword_weight``. ``episodes``: the candidates already looked up (else
        they are fetched)."""
        f = self.fusion
        clf = self.classifier() if f.cross_lingual_keyword_weight is not None else None
        near = [i for i, _ in dense[: clf.neighbours]] if clf is not None else []
        top_kw = [i for i, _ in keyword[:3]] if f.title_keyword_weight is not None else []
        if not near and not top_kw:
            return f.keyword_weight
        eps = episodes if episodes is not None else self._lookup(list(dict.fromkeys(near + top_kw)))
        if f.title_keyword_weight is not None and is_title_query(
            query, [eps[i].title for i in top_kw if i in eps]
        ):
            return f.title_keyword_weight
        if clf is not None and f.cross_lingual_keyword_weight is not None:
            pairs = [(i, eps[i].language) for i in near if i in eps]
            if clf.classify(query, pairs) == CROSS_LINGUAL:
                return f.cross_lingual_keyword_weight
        return f.keyword_weight

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        enc = self._encoder()
        return self.cache.get_many(list(queries), lambda qs: enc.encode_queries(qs))

    def search_batch(
        self,
        queries: Sequence[str],
        *,
        k: int = 10,
        offset: int = 0,
        mode: str = "hybrid",
        filters: Filters | None = None,
        facets: bool = False,
    ) -> list[SearchResult]:
        """``facets``: count filter values over each query's matching set (search/facets.py);
        it makes keyword and dense searches go ``fusion.depth`` deep."""
        check_page(k, offset, mode)
        cleaned = [clean_query(q) for q in queries]
        if not cleaned:
            return []
        need = offset + k
        rescore = mode == "hybrid" or (mode == "dense" and self._dehub_on)
        # one candidate past the page tells whether another page exists
        depth = max(need + 1, self.fusion.depth) if rescore or facets else need + 1
        return self._search(cleaned, k, offset, mode, filters, depth, facets)

    def _search(
        self,
        cleaned: list[str],
        k: int,
        offset: int,
        mode: str,
        filters: Filters | None,
        depth: int,
        facets: bool = False,
    ) -> list[SearchResult]:
        need = offset + k
        timings: dict[str, float] = {}
        dense: list[list[tuple[str, float]]] = [[] for _ in cleaned]
        qv = np.zeros((0, 0), dtype=np.float32)
        keyword: list[list[tuple[str, float]]] = [[] for _ in cleaned]
        fuzzy = [False] * len(cleaned)
        if mode in ("dense", "hybrid"):
            self._encoder()  # load lazily *before* timing: timings are per-query work only
            vectors = self._vectors()
            t0 = time.perf_counter()
            qv = self.encode_queries(cleaned)
            t1 = time.perf_counter()
            dense = vectors.search(qv, depth, filters)
            t2 = time.perf_counter()
            timings["encode_ms"] = (t1 - t0) * 1000 / len(cleaned)
            timings["dense_ms"] = (t2 - t1) * 1000 / len(cleaned)
        if mode in ("keyword", "hybrid"):
            kw = self._keywords()
            t0 = time.perf_counter()
            keyword = [kw.search(q, depth, filters) for q in cleaned]
            fuzzy_search = getattr(kw, "search_fuzzy", None)  # optional in KeywordIndex
            if mode == "keyword" and fuzzy_search is not None:
                for qi, q in enumerate(cleaned):
                    if not keyword[qi]:  # nothing matched as typed: forgive typos
                        keyword[qi] = fuzzy_search(q, depth, filters)
                        fuzzy[qi] = bool(keyword[qi])
            timings["keyword_ms"] = (time.perf_counter() - t0) * 1000 / len(cleaned)
        results = []
        for qi, (q, d_run, k_run) in enumerate(zip(cleaned, dense, keyword, strict=True)):
            t0 = time.perf_counter()
            # Episodes deleted from the store after the index was read (another process's
            # delete, before this handle reloads) must not take result slots: drop them
            # before fusing, and search deeper when a cut-off run lost some.
            eps = self._lookup(list(dict.fromkeys(i for i, _ in [*d_run, *k_run])))
            cut = len(d_run) >= depth or len(k_run) >= depth
            live_d = [x for x in d_run if x[0] in eps]
            live_k = [x for x in k_run if x[0] in eps]
            lost = len(live_d) < len(d_run) or len(live_k) < len(k_run)
            short = len({i for i, _ in [*live_d, *live_k]}) < need
            if lost and cut and short and depth < MAX_DEPTH:
                deeper = self._search(
                    [q], k, offset, mode, filters, min(depth * 4, MAX_DEPTH), facets
                )
                results.append(deeper[0])
                continue
            d_run, k_run = live_d, live_k
            weak = is_weak(mode, d_run, fuzzy[qi], functools.partial(self.word_share, q))
            cos: dict[str, float] = {}
            if mode == "hybrid" and self.fusion.method == "convex":
                cos = self._dehub(self._cosines(qv[qi], d_run, k_run))
                d_run = sorted(((d, cos[d]) for d, _ in d_run), key=lambda x: -x[1])
            elif mode in ("dense", "hybrid") and self._dehub_on:
                adj = self._dehub(dict(d_run))
                d_run = sorted(adj.items(), key=lambda x: -x[1])
            if mode == "dense":
                ranked = [(i, s, [r, None]) for r, (i, s) in enumerate(d_run, start=1)]
            elif mode == "keyword":
                ranked = [(i, s, [None, r]) for r, (i, s) in enumerate(k_run, start=1)]
            elif self.fusion.method == "rrf":
                f = self.fusion
                ranked = reciprocal_rank_fusion(
                    [d_run, k_run], weights=[f.dense_weight, f.keyword_weight], k=f.k
                )
            else:
                w = self.keyword_weight_for(q, d_run, k_run, eps)
                ranked = convex_fusion(d_run, k_run, cos, keyword_weight=w)
            page = ranked[offset:need]
            suggestion = None
            if fuzzy[qi]:
                shown = [eps[i] for i, _, _ in page if i in eps]
                suggestion = did_you_mean(q, [f"{e.title} {e.description}" for e in shown])
            # Typo-forgiving hits are highlighted by the words as the hits spell them.
            marked = f"{q} {suggestion}" if suggestion else q
            images = self._images([eps[i].show_id for i, _, _ in page if i in eps])
            hits = [
                make_hit(eps[i], marked, score, n, ranks, images.get(eps[i].show_id, ""))
                for n, (i, score, ranks) in enumerate(page, start=offset + 1)
                if i in eps
            ]
            counts, total, exact = None, None, False
            if facets:
                t1 = time.perf_counter()
                # Not cut: the pool is every match. Cut: the first max(depth, need) of it.
                pool = ranked if not cut else ranked[: max(self.fusion.depth, need)]
                counts = count_facets(eps[i] for i, _, _ in pool if i in eps)
                total, exact = len(pool), not cut
                timings["facets_ms"] = (time.perf_counter() - t1) * 1000
            t = dict(timings)
            t["fuse_hydrate_ms"] = (time.perf_counter() - t0) * 1000
            results.append(
                SearchResult(
                    q,
                    mode,
                    k,
                    offset,
                    tuple(hits),
                    t,
                    has_more=len(ranked) > need,
                    weak=weak,
                    fuzzy=fuzzy[qi],
                    did_you_mean=suggestion,
                    facets=counts,
                    total=total,
                    total_exact=exact,
                )  # fmt: skip
            )
        return results

    def _images(self, show_ids: Sequence[str]) -> dict[str, str]:
        if self._show_images is None or not show_ids:
            return {}
        return self._show_images(show_ids)

    def word_share(self, query: str) -> float:
        """The share of the query's words (3+ letters) that occur in some indexed episode:
        one ``present_words`` call for the words not cached for this generation."""
        words = query_words(query)
        if not words:
            return 0.0
        kw = self._keywords()
        if self._generation is None:
            return len(kw.present_words(words)) / len(words)
        found = self.word_cache.present(self._generation(), words, kw.present_words)
        return len(found) / len(words)

    @property
    def _dehub_on(self) -> bool:
        return self._hub_scores is not None and self.fusion.hubness_beta > 0

    def _dehub(self, cos: dict[str, float]) -> dict[str, float]:
        """cos - beta * hub(d); a document without a score gets the candidates' mean."""
        if not self._dehub_on or not cos or self._hub_scores is None:
            return cos
        hub = self._hub_scores(list(cos))
        fill = sum(hub.values()) / len(hub) if hub else 0.0
        beta = self.fusion.hubness_beta
        return {d: c - beta * hub.get(d, fill) for d, c in cos.items()}

    def _cosines(
        self,
        qv: np.ndarray,
        dense: list[tuple[str, float]],
        keyword: list[tuple[str, float]],
    ) -> dict[str, float]:
        """True cosine of every candidate: dense ones carry it, keyword-only ones are fetched."""
        cos = dict(dense)
        missing = [d for d, _ in keyword if d not in cos]
        if missing:
            vecs = self._vectors().get_vectors(missing)
            for d in missing:
                v = vecs.get(d)
                cos[d] = float(v @ qv) if v is not None else -1.0
        return cos


def make_hit(
    ep: Episode,
    query: str,
    score: float,
    rank: int,
    ranks: Sequence[int | None] = (None, None),
    image_url: str = "",
) -> Hit:
    """A result row: the episode, a query-biased snippet with the words to highlight, and
    its dense / keyword ranks."""
    snippet = make_snippet(query, ep.description or ep.show_description, language=ep.language)
    return Hit(
        episode_id=ep.episode_id,
        score=float(score),
        title=ep.title,
        show_title=ep.show_title,
        show_id=ep.show_id,
        language=ep.language,
        pub_date=ep.pub_date,
        snippet=snippet,
        categories=ep.categories,
        audio_url=ep.audio_url,
        rank=rank,
        dense_rank=ranks[0],
        keyword_rank=ranks[1],
        highlights=highlight_spans(query, snippet, ep.language),
        image_url=image_url,
        duration_s=ep.duration_s,
    )
