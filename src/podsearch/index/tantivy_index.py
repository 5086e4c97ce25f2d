"""Embedded BM25 keyword index on tantivy, with language-aware analysis and metadata filters.

Every document is indexed twice: in a language-neutral field (lower-cased, ASCII-folded) that
every query searches, and in a stemmed, stop-worded field of its own language when tantivy has
a stemmer for it. A query is analysed with every field's analyser, so "running" finds an English
document that says "runs" and "Gesundheit" finds a German one that says "gesunde", while text in
a language without a stemmer still matches word for word. Chinese, Japanese and Korean have no
word spaces: runs of those scripts are cut into overlapping character bigrams before indexing
and before querying.

How a query is scored (bench/results/quality_bench.md measures each choice against a plain
BM25): each query word is looked up in every field, analysed by that field's analyser, and the
word's score is the *best* field's score plus ``tie_breaker`` times the others (a disjunction-
max, as Lucene/Elasticsearch multi-field search does). Summing the fields instead, as one
Boolean query over ~20 fields would, counts a word two or three times for the documents that
happen to hold it in several fields (title + language-neutral + stemmed), which has nothing to
do with relevance. Stop words of the query's language (English when it cannot be told) are
left out of the query, in every field: the language-neutral and title fields keep every word
at index time (for languages with no stop-word list), and "how to" in a query should not
match every English episode. Removing them at query time needs no re-indexing.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import tantivy

from podsearch.errors import DamagedIndexError, StorageError
from podsearch.index.base import KeywordDoc
from podsearch.models import Filters

# ISO 639-1 code -> tantivy stemmer name (the Snowball stemmers tantivy ships).
STEMMERS: dict[str, str] = {
    "ar": "arabic",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "hu": "hungarian",
    "it": "italian",
    "no": "norwegian",
    "nb": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "es": "spanish",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}
# Stop-word lists tantivy ships (a subset of the stemmer languages).
_STOPWORD_LANGS = {
    "danish", "dutch", "english", "finnish", "french", "german", "hungarian", "italian",
    "norwegian", "portuguese", "russian", "spanish", "swedish",
}  # fmt: skip

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_NON_WORD = re.compile(r"[^\w\s]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
# A title match counts as much as one in the text (which also holds the title): boosting it
# 1.5x or 2x lowered MRR@30 on the curated queries (0.496 -> 0.441 / 0.358, tune split) for
# little gain on exact-title queries (0.973 -> 0.985), bench/results/quality_bench.md.
_TITLE_BOOST = 1.0
_TIE_BREAKER = 0.1


def fuzzy_distance(word: str) -> int:
    """Edits a fuzzy keyword match allows: none under 4 letters (too many short words lie one
    edit apart), 1 up to 7, 2 beyond."""
    n = len(word)
    return 0 if n < 4 else 1 if n <= 7 else 2


def _cjk_bigrams(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        run = m.group(0)
        if len(run) == 1:
            return f" {run} "
        return " " + " ".join(run[i : i + 2] for i in range(len(run) - 1)) + " "

    return _CJK.sub(repl, text)


def prepare_text(text: str) -> str:
    """Normalise text the same way at index and query time."""
    return _cjk_bigrams(_CONTROL.sub(" ", text))


def prepare_query(query: str) -> str:
    """Turn user text into plain words: no tantivy syntax, no boolean operators."""
    return " ".join(_NON_WORD.sub(" ", prepare_text(query)).lower().split())


@functools.cache
def _stopword_filter(lang_name: str) -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stopword(lang_name))
        .build()
    )


# tantivy's English list is Lucene's 33 words; queries also carry question words and pronouns
# ("how", "what", "about", "my"), which match nearly every English episode. This is the
# common NLTK/Snowball English list. Other languages use tantivy's (Snowball) lists.
_ENGLISH_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing don down during each few for
    from further had has have having he her here hers herself him himself his how i if in into
    is it its itself just me more most my myself no nor not now of off on once only or other
    our ours ourselves out over own same she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up very was
    we were what when where which while who whom why will with would you your yours yourself
    yourselves""".split()  # noqa: SIM905 - a word list reads better as text
)


def _is_stopword(word: str, lang_name: str) -> bool:
    if lang_name == "english" and word in _ENGLISH_STOPWORDS:
        return True
    return not _stopword_filter(lang_name).analyze(word)


def _stem_field(lang_name: str) -> str:
    return f"t_{lang_name}"


def _analyzer(stemmer: str | None) -> tantivy.TextAnalyzer:
    b = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
    )
    if stemmer:
        if stemmer in _STOPWORD_LANGS:
            b = b.filter(tantivy.Filter.stopword(stemmer))
        b = b.filter(tantivy.Filter.stemmer(stemmer))
    return b.filter(tantivy.Filter.ascii_fold()).build()


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("doc_id", stored=True, tokenizer_name="raw")
    sb.add_text_field("lang", tokenizer_name="raw")
    sb.add_text_field("show", tokenizer_name="raw")
    sb.add_text_field("cat", tokenizer_name="raw")
    sb.add_integer_field("ts", indexed=True, fast=True)
    sb.add_text_field("title", tokenizer_name="ps_std")
    sb.add_text_field("t_std", tokenizer_name="ps_std")
    for name in sorted(set(STEMMERS.values())):
        sb.add_text_field(_stem_field(name), tokenizer_name=f"ps_{name}")
    return sb.build()


def _query_stopword_language(text: str) -> str:
    """The stop-word list for a query's neutral-field words: its language's when py3langid is
    sure and tantivy has a list, else English (most queries, and most catalogs)."""
    from podsearch.catalog.clean import detect_language_scored

    lang, confidence = detect_language_scored(text)
    name = STEMMERS.get(lang, "")
    if confidence >= 0.9 and name in _STOPWORD_LANGS:
        return name
    return "english"


_META = "meta.json"


def _check_intact(path: Path) -> None:
    """DamagedIndexError when ``path`` holds segment files but no meta.json: tantivy would
    silently start an empty index there (every keyword search then finds nothing)."""
    if (path / _META).exists():
        return
    if any(not n.startswith(".") for n in os.listdir(path)):
        raise DamagedIndexError(
            f"the keyword index at {path} is damaged (its {_META} is missing): rebuild it "
            "with podsearch index (the vectors are kept)"
        )


def discard(path: Path) -> None:
    """Remove a damaged keyword index directory's contents (``build_index`` rebuilds it)."""
    if path.is_dir():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)


def _snapshot(src: Path, dst: Path) -> None:
    """Make ``dst`` a readable view of the read-only index at ``src``: links to its segment
    files, copies of its small JSON files (tantivy needs a lock file it can create)."""
    for n in os.listdir(dst):
        (dst / n).unlink()
    for n in os.listdir(src):
        if n.startswith(".tantivy"):
            continue
        if n.endswith(".json"):
            shutil.copyfile(src / n, dst / n)
        else:
            os.symlink((src / n).resolve(), dst / n)


class TantivyKeywordIndex:
    """KeywordIndex on an on-disk tantivy directory. Commits are atomic (tantivy's meta.json).

    A directory podsearch cannot write to is searched through a temporary view of it
    (``read_only``; writes raise StorageError)."""

    def __init__(
        self,
        path: Path,
        *,
        heap_bytes: int = 48_000_000,
        title_boost: float = _TITLE_BOOST,
        tie_breaker: float | None = _TIE_BREAKER,
        drop_stopwords: bool = True,
    ) -> None:
        """``tie_breaker=None`` sums the fields' scores (one Boolean query over all fields, the
        scoring before the disjunction-max; kept for the benchmark's ablation)."""
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        _check_intact(self.path)
        self._schema = _schema()
        self.read_only = not os.access(self.path, os.W_OK)
        self._view: tempfile.TemporaryDirectory[str] | None = None
        where = self.path
        if self.read_only:
            # tantivy may still be writing its lock or meta files there while we clean up
            self._view = tempfile.TemporaryDirectory(
                prefix="podsearch-ro-keyword-", ignore_cleanup_errors=True
            )
            where = Path(self._view.name)
            _snapshot(self.path, where)
        try:
            self._index = tantivy.Index(self._schema, path=str(where), reuse=True)
        except ValueError as e:  # tantivy reports corruption and I/O errors as ValueError
            if self._view is not None:
                self._view.cleanup()
            raise _tantivy_error(e, self.path) from e
        self._index.register_tokenizer("ps_std", _analyzer(None))
        for name in sorted(set(STEMMERS.values())):
            self._index.register_tokenizer(f"ps_{name}", _analyzer(name))
        # The writer's indexing arena (flushed to a segment when full): 48 MB rather than 128
        # keeps `podsearch index` of the 19k catalog near 1 GiB of RSS (the model and ONNX
        # Runtime's activations hold most of it; bench/results/index_memory_19k.md).
        self._heap = heap_bytes
        self._writer: tantivy.IndexWriter | None = None
        self._lock = threading.Lock()
        self._default_fields = ["title", "t_std"] + [
            _stem_field(n) for n in sorted(set(STEMMERS.values()))
        ]
        self._analyzers = {"title": _analyzer(None), "t_std": _analyzer(None)} | {
            _stem_field(n): _analyzer(n) for n in sorted(set(STEMMERS.values()))
        }
        self.title_boost, self.tie_breaker = title_boost, tie_breaker
        self.drop_stopwords = drop_stopwords
        self._index.reload()

    def _w(self) -> tantivy.IndexWriter:
        if self.read_only:
            raise StorageError(
                f"the keyword index at {self.path} is read-only: searching works, but "
                "index and delete need write access"
            )
        if self._writer is None:
            try:
                self._writer = self._index.writer(heap_size=self._heap, num_threads=1)
            except ValueError as e:
                raise _tantivy_error(e, self.path) from e
        return self._writer

    def __len__(self) -> int:
        return int(self._index.searcher().num_docs)

    def upsert(self, docs: Sequence[KeywordDoc]) -> None:
        with self._lock:
            w = self._w()
            for d in docs:
                w.delete_documents_by_term("doc_id", d.doc_id)
                p = d.payload
                text = prepare_text(d.text)
                fields: dict[str, object] = {
                    "doc_id": d.doc_id,
                    "lang": p.language or "",
                    "show": p.show_id,
                    "title": prepare_text(d.title),
                    "t_std": text,
                }
                stemmer = STEMMERS.get(p.language)
                if stemmer:
                    fields[_stem_field(stemmer)] = text
                if p.categories:
                    fields["cat"] = [c.lower() for c in p.categories]
                if p.pub_date is not None:
                    fields["ts"] = int(p.pub_date.timestamp())
                w.add_document(tantivy.Document(**fields))

    def delete(self, ids: Sequence[str]) -> int:
        with self._lock:
            w = self._w()
            searcher = self._index.searcher()
            n = 0
            for i in dict.fromkeys(ids):  # an id repeated in one call counts once
                q = tantivy.Query.term_query(self._schema, "doc_id", i)
                n += 1 if searcher.search(q, limit=1).hits else 0
                w.delete_documents_by_term("doc_id", i)
            return n

    def reset(self) -> None:
        with self._lock:
            w = self._w()
            w.delete_all_documents()

    def commit(self) -> None:
        with self._lock:
            if self._writer is not None:
                writer, self._writer = self._writer, None
                try:
                    writer.commit()
                    writer.wait_merging_threads()
                except ValueError as e:  # the last commit stays the index (atomic meta.json)
                    writer.rollback()
                    raise _tantivy_error(e, self.path) from e
            self._index.reload()

    def refresh(self) -> bool:
        """See what other processes committed (searches use the reloaded searcher)."""
        if self._view is not None:
            _snapshot(self.path, Path(self._view.name))
        self._index.reload()
        return True

    def _filter_queries(self, filters: Filters) -> list[tantivy.Query]:
        qs: list[tantivy.Query] = []
        s = self._schema
        if filters.languages:
            qs.append(tantivy.Query.term_set_query(s, "lang", list(filters.languages)))
        if filters.show_ids:
            qs.append(tantivy.Query.term_set_query(s, "show", list(filters.show_ids)))
        if filters.categories:
            qs.append(
                tantivy.Query.term_set_query(s, "cat", [c.lower() for c in filters.categories])
            )
        if filters.date_from or filters.date_to:
            qs.append(
                tantivy.Query.range_query(
                    s,
                    "ts",
                    tantivy.FieldType.Integer,
                    int(filters.date_from.timestamp()) if filters.date_from else None,
                    int(filters.date_to.timestamp()) if filters.date_to else None,
                )
            )
        return qs

    def search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        text = prepare_query(query)
        if not text:
            return []
        q = self._text_query(text)
        if q is None:
            return []
        if filters is not None and not filters.empty:
            parts = [(tantivy.Occur.Must, q)] + [
                (tantivy.Occur.Must, fq) for fq in self._filter_queries(filters)
            ]
            q = tantivy.Query.boolean_query(parts)
        searcher = self._index.searcher()
        res = searcher.search(q, limit=k, count=False)
        out: list[tuple[str, float]] = []
        for score, addr in res.hits:
            out.append((searcher.doc(addr)["doc_id"][0], float(score)))
        return out

    def present_words(self, words: Sequence[str]) -> set[str]:
        """Words that some live document holds in some field, by each field's analysis of
        them (what ``search(word, 1)`` matches): the terms' document frequencies rule out
        absent words without a search; a word with some is confirmed by one search of just
        those terms (a deleted document's terms keep a frequency until its segment merges)."""
        searcher = self._index.searcher()
        s = self._schema
        out: set[str] = set()
        for word in dict.fromkeys(words):
            terms = [
                tantivy.Query.term_query(s, field, token)
                for w in prepare_query(word).split()
                for field, analyzer in self._analyzers.items()
                for token in dict.fromkeys(analyzer.analyze(w))
                if searcher.doc_freq(field, token) > 0
            ]
            if not terms:
                continue
            q = tantivy.Query.boolean_query([(tantivy.Occur.Should, t) for t in terms])
            if searcher.search(q, limit=1, count=False).hits:
                out.add(word)
        return out

    def search_fuzzy(
        self, query: str, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """Like ``search``, forgiving typos: each word of 4-7 letters may be one edit away
        (insert, delete, substitute, swap two letters), a longer one two, in the
        language-neutral field; shorter words must match exactly. For retrying a query that
        found nothing: fuzzy terms score alike, so hits rank by how many words they match."""
        text = prepare_query(query)
        stop_lang = _query_stopword_language(text) if self.drop_stopwords and text else None
        all_words = list(dict.fromkeys(text.split()))
        kept = [w for w in all_words if stop_lang is None or not _is_stopword(w, stop_lang)]
        s = self._schema
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for word in kept or all_words:
            for token in dict.fromkeys(self._analyzers["t_std"].analyze(word)):
                d = fuzzy_distance(token)
                q = (
                    tantivy.Query.fuzzy_term_query(s, "t_std", token, distance=d)
                    if d
                    else tantivy.Query.term_query(s, "t_std", token)
                )
                clauses.append((tantivy.Occur.Should, q))
        if not clauses:
            return []
        q = tantivy.Query.boolean_query(clauses)
        if filters is not None and not filters.empty:
            q = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, q)]
                + [(tantivy.Occur.Must, fq) for fq in self._filter_queries(filters)]
            )
        searcher = self._index.searcher()
        res = searcher.search(q, limit=k, count=False)
        return [(searcher.doc(addr)["doc_id"][0], float(score)) for score, addr in res.hits]

    def _text_query(self, text: str) -> tantivy.Query | None:
        """One clause per query word: the disjunction-max of its per-field term queries."""
        if self.tie_breaker is None:
            q, _errors = self._index.parse_query_lenient(
                text, self._default_fields, field_boosts={"title": self.title_boost}
            )
            return q
        stop_lang = _query_stopword_language(text) if self.drop_stopwords else None
        s = self._schema
        all_words = list(dict.fromkeys(text.split()))
        kept = [w for w in all_words if stop_lang is None or not _is_stopword(w, stop_lang)]
        words: list[tantivy.Query] = []
        for word in kept or all_words:  # a query of stop words only ("the who") keeps them
            per_field: list[tantivy.Query] = []
            for field, analyzer in self._analyzers.items():
                tokens = dict.fromkeys(analyzer.analyze(word))
                terms = [tantivy.Query.term_query(s, field, t) for t in tokens]
                if not terms:
                    continue
                fq = (
                    terms[0]
                    if len(terms) == 1
                    else tantivy.Query.boolean_query([(tantivy.Occur.Should, t) for t in terms])
                )
                if field == "title" and self.title_boost != 1.0:
                    fq = tantivy.Query.boost_query(fq, self.title_boost)
                per_field.append(fq)
            if per_field:
                words.append(tantivy.Query.disjunction_max_query(per_field, self.tie_breaker))
        if not words:
            return None
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, w) for w in words])

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.rollback()
                self._writer = None
            if self._view is not None:
                self._view.cleanup()
                self._view = None


def _tantivy_error(e: ValueError, path: Path) -> Exception:
    """A podsearch error for tantivy's I/O and corruption errors (it raises ValueError)."""
    msg = str(e)
    if "No space left" in msg or "Disk quota" in msg or "StorageFull" in msg:
        return StorageError(
            f"cannot write the keyword index {path}: no space left on the device (free some "
            "space and re-run podsearch index; the last commit is kept)"
        )
    if "Read-only" in msg or "Permission denied" in msg or "ReadOnlyFilesystem" in msg:
        return StorageError(f"cannot write the keyword index {path}: it is read-only")
    if "corrupt" in msg.lower() or "deserializ" in msg:
        return DamagedIndexError(
            f"the keyword index at {path} is damaged ({msg[:200]}): rebuild it with "
            "podsearch index (the vectors are kept)"
        )
    return e
