"""Reading text files that may be large, badly encoded or malformed, one record at a time."""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from podsearch.errors import CatalogError

_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)
_BARE_CR = re.compile(r"\r(?!\n)")
_BARE_CR_SPLIT = re.compile(r"(?<=\r)(?!\n)(?!$)")
_MAX_ENCODING_WARNINGS = 20


def allow_large_fields() -> None:
    """Let the csv module read fields of any size (1 MB descriptions exist)."""
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)


def decode_lines(fh: BinaryIO, name: str, warn: Callable[[str], None]) -> Iterator[str]:
    """Text lines from a binary file: UTF-8 (BOM optional) or UTF-16 with a BOM.

    Bytes that are not valid UTF-8 are replaced with U+FFFD and reported (line by line for
    the first few lines, then as a count), never raised. NUL characters are dropped.
    """
    head = fh.peek(4)[:4] if hasattr(fh, "peek") else b""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = io.TextIOWrapper(fh, encoding="utf-16", errors="replace", newline="")
        try:
            yield from text
        finally:
            text.detach()
        return
    bad = 0
    for lineno, raw in enumerate(fh, 1):
        if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line = raw.decode("utf-8", errors="replace")
            bad += 1
            if bad <= _MAX_ENCODING_WARNINGS:
                warn(
                    f"{name} line {lineno}: invalid UTF-8 (byte {raw[e.start : e.start + 1]!r} "
                    "at column {col}); undecodable bytes replaced with U+FFFD".format(
                        col=e.start + 1
                    )
                )
        if "\x00" in line:
            line = line.replace("\x00", "")
        if "\r" in line and _BARE_CR.search(line):  # old Mac line ends: CR alone
            yield from _BARE_CR_SPLIT.split(line)
        else:
            yield line
    if bad > _MAX_ENCODING_WARNINGS:
        warn(
            f"{name}: {bad - _MAX_ENCODING_WARNINGS} more line(s) with invalid UTF-8 "
            "(bytes replaced with U+FFFD); is the file in another encoding? Convert it to UTF-8"
        )


@dataclass(slots=True)
class CsvRow:
    """A data row (``fields``) or a row that could not be parsed (``error``)."""

    line: int  # 1-based physical line where the row starts
    fields: list[str]
    error: str = ""


class CsvFile:
    """A CSV/TSV file read row by row: a header, then rows with their line numbers.

    Use as a context manager; ``header`` is read on entry. Rows whose field count differs from
    the header's come back with ``error`` set (so the caller can skip them with the reason).
    """

    def __init__(
        self,
        path: Path,
        warn: Callable[[str], None],
        *,
        delimiter: str | None = None,
    ) -> None:
        self.path = path
        self.name = path.name
        self._warn = warn
        self._delimiter = delimiter
        self._fh: BinaryIO | None = None
        self.header: list[str] = []

    def __enter__(self) -> CsvFile:
        allow_large_fields()
        try:
            self._fh = open(self.path, "rb")  # noqa: SIM115 - closed in __exit__
        except OSError as e:
            raise CatalogError(f"cannot read {self.path}: {e.strerror or e}") from e
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start(self) -> None:
        assert self._fh is not None
        self._lines = _CountingLines(decode_lines(self._fh, self.name, self._warn))
        first = self._lines.peek()
        delimiter = self._delimiter or sniff_delimiter(first or "")
        # strict: a stray quote or an unclosed one is an error for that row, not a silent merge
        self._reader = csv.reader(self._lines, delimiter=delimiter, strict=True)
        header = self._next_nonblank()
        if header is None:
            raise CatalogError(f"{self.path}: the file is empty; expected a header row")
        if isinstance(header, CsvRow):
            raise CatalogError(f"{self.path}: cannot read the header row: {header.error}")
        self.header = [h.strip().lstrip("\ufeff") for h in header]

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _next_nonblank(self) -> list[str] | CsvRow | None:
        while True:
            start = self._lines.count + 1
            try:
                row = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as e:
                end = self._lines.count
                where = f" (lines {start}-{end}: an unclosed quote?)" if end > start else ""
                return CsvRow(start, [], f"malformed row: {e}{where}")
            if row and any(f.strip() for f in row):
                return row

    def rows(self) -> Iterator[CsvRow]:
        n = len(self.header)
        while True:
            row = self._next_nonblank()
            if row is None:
                return
            if isinstance(row, CsvRow):
                yield row
                continue
            end = self._lines.count
            start = end - row_line_span(row) + 1
            if len(row) != n:
                span = (
                    f" (spans lines {start}-{end}: unbalanced quote?)" if end - start > 50 else ""
                )
                yield CsvRow(start, row, f"malformed row: {len(row)} fields, expected {n}{span}")
            else:
                yield CsvRow(start, row)


def row_line_span(row: list[str]) -> int:
    return 1 + sum(f.count("\n") for f in row)


class _CountingLines:
    """An iterator over lines that counts how many were handed out (for line numbers)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._peeked: list[str] = []
        self.count = 0

    def peek(self) -> str | None:
        if not self._peeked:
            try:
                self._peeked.append(next(self._lines))
            except StopIteration:
                return None
        return self._peeked[0]

    def __iter__(self) -> _CountingLines:
        return self

    def __next__(self) -> str:
        line = self._peeked.pop() if self._peeked else next(self._lines)
        self.count += 1
        return line


def sniff_delimiter(header_line: str) -> str:
    """Tab, comma or semicolon: whichever the header line holds most of (comma on a tie)."""
    counts = {d: header_line.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","
