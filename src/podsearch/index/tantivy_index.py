"""Embedded BM25 keyword index on tantivy, with language-aware analysis and metadata filters.

Every document is indexed twice: in a language-neutral field (lower-cased, ASCII-folded) that
every query searches, and in a stemmed, stop-worded field of its own language when tantivy has
a stemmer for it. A query is analysed with every field's analyser, so "running" finds an English
document that says "runs" and "Gesundheit" finds a German one that says "gesunde", while text in
a language without a stemmer still matches word for word. Chinese, Japanese and Korean have no
word spaces: runs of those scripts are cut into overlapping character bigrams before indexing
and before querying.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path

import tantivy

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
_TITLE_BOOST = 2.0


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


class TantivyKeywordIndex:
    """KeywordIndex on an on-disk tantivy directory. Commits are atomic (tantivy's meta.json)."""

    def __init__(self, path: Path, *, heap_bytes: int = 128_000_000) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._schema = _schema()
        self._index = tantivy.Index(self._schema, path=str(self.path), reuse=True)
        self._index.register_tokenizer("ps_std", _analyzer(None))
        for name in sorted(set(STEMMERS.values())):
            self._index.register_tokenizer(f"ps_{name}", _analyzer(name))
        self._heap = heap_bytes
        self._writer: tantivy.IndexWriter | None = None
        self._lock = threading.Lock()
        self._default_fields = ["title", "t_std"] + [
            _stem_field(n) for n in sorted(set(STEMMERS.values()))
        ]
        self._index.reload()

    def _w(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self._index.writer(heap_size=self._heap, num_threads=1)
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
            for i in ids:
                q = tantivy.Query.term_query(self._schema, "doc_id", i)
                n += 1 if searcher.search(q, limit=1).hits else 0
                w.delete_documents_by_term("doc_id", i)
            return n

    def commit(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.commit()
                self._writer.wait_merging_threads()
                self._writer = None
            self._index.reload()

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
        q, _errors = self._index.parse_query_lenient(
            text, self._default_fields, field_boosts={"title": _TITLE_BOOST}
        )
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

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.rollback()
                self._writer = None
