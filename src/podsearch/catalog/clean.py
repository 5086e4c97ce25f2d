"""Field cleaning shared by every catalog reader.

Text: HTML to plain text (selectolax), entities unescaped, zero-width and control characters
removed, whitespace collapsed, very long texts capped. Languages: normalised to ISO 639-1 or
detected with py3langid. Dates: parsed to timezone-aware UTC datetimes. Durations: seconds.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import html
import json
import logging
import math
import re
import threading
import unicodedata
import warnings
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MAX_TEXT_CHARS = 20_000
"""Cleaned descriptions longer than this are cut (at a word boundary) and a warning is added."""

MIN_DETECT_LETTERS = 20
"""Language detection needs at least this many letters of title + description."""

MIN_DETECT_CONFIDENCE = 0.3
"""Below this py3langid confidence a detection is not used (about 80% right at 0.3 on short
podcast titles + descriptions, 90% at 0.5, 99% at 0.9)."""
_DETECT_SAMPLE_CHARS = 300  # py3langid walks every byte in Python: the start is enough

# --------------------------------------------------------------------------------------------
# Text

# Elements whose content is never prose: scripts, styles, players and embedded objects.
_DROP_TAGS = [
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "audio",
    "video",
    "canvas",
    "head",
    "title",
    "select",
    "button",
]
# A space goes before these so that "<p>a</p><p>b</p>" becomes "a b", not "ab".
_BLOCK_TAG = re.compile(
    r"<(?=/?(?:p|div|br|hr|li|ul|ol|dl|dt|dd|h[1-6]|tr|td|th|table|thead|tbody|blockquote|"
    r"section|article|header|footer|aside|nav|figure|figcaption|pre|address|main|img)\b)",
    re.IGNORECASE,
)
_HTML_TAG = re.compile(
    r"<(?:[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>]*)?/?>|/[a-zA-Z][a-zA-Z0-9:-]*\s*>|!--|!\[CDATA\[)"
)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# Zero-width and bidi-control characters, BOM, soft hyphen, and C0/C1 controls. ZWNJ/ZWJ
# (U+200C/D) stay: Persian, Indic scripts and emoji sequences need them.
_INVISIBLE = re.compile(
    "[\u00ad\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
)
_WHITESPACE = re.compile(r"\s+")
# Script junk that survives as *text* in real descriptions (scripts cut off mid-way by a
# length limit, or pasted in as text): player fallbacks, ad loaders, CDATA markers.
_CONDITIONAL_COMMENT = re.compile(r"<!--\[if [^\]]*\]>.{0,2000}?<!\[endif\]-->", re.I | re.DOTALL)
_SCRIPT_JUNK = [
    re.compile(r"document\.createElement\(\s*['\"]\w+['\"]\s*\);?"),
    re.compile(r"\(function\s*\(\)\s*\{.{0,5000}?\}\s*\)\s*\(\s*\)\s*;?", re.DOTALL),
    re.compile(r"//\s*<!\[CDATA\[|//\s*\]\]>|<!\[CDATA\[|\]\]>"),
]
_KNOWN_TAG = re.compile(
    r"</?(?:p|br|a|b|i|u|em|strong|span|div|ul|ol|li|h[1-6]|img|blockquote|table|tr|td|"
    r"iframe|script|style|figure|font|hr|pre|code|sup|sub|small|center)\b[^<>]*>",
    re.IGNORECASE,
)
# An HTML tag cut off by a length limit at the very end: '... <a href="http://exa'.
_TRAILING_TAG = re.compile(r"<[a-zA-Z/!][^<>]*$")
_TRAILING_TAG_WITH_ATTRIBUTES = re.compile(r"<[a-zA-Z][\w:-]*\s+[\w:-]+=[^<>]*$")
# The mark some exports leave where they cut a description: "... end of text <..."
_CUT_MARKER = re.compile(r"\s*<(?:\.\.\.|…)\s*$")


def _strip_html(s: str) -> str:
    from selectolax.lexbor import LexborHTMLParser

    # An explicit <body> keeps a leading <noscript>/<style> out of the <head> insertion mode.
    tree = LexborHTMLParser("<body>" + _BLOCK_TAG.sub(" <", s))
    tree.strip_tags(_DROP_TAGS, recursive=True)
    node = tree.body or tree.root
    return node.text(separator="") if node is not None else ""


def _unwrap_json(s: str) -> str:
    """The text inside an XML-to-JSON wrapper such as ``{"#": "text", "@xmlns:content": ..}``."""
    try:
        obj = json.loads(s)
    except ValueError:
        return s
    if not isinstance(obj, dict):
        return s
    parts: list[str] = []

    def collect(o: object) -> None:
        if isinstance(o, str):
            parts.append(o)
        elif isinstance(o, dict):
            for k, v in o.items():
                if not str(k).startswith("@"):  # XML attributes such as namespace URLs
                    collect(v)
        elif isinstance(o, list):
            for v in o:
                collect(v)

    collect(obj)
    return "\n".join(parts)


def _unescape(m: re.Match[str]) -> str:
    return html.unescape(m.group(0))


def html_to_text(value: object) -> str:
    """Plain text from an HTML (or plain-text) field.

    Drops script/style/noscript (and other non-prose elements) with their content, unescapes
    entities (also double-escaped HTML such as ``&lt;p&gt;``), removes zero-width and control
    characters and collapses whitespace. ``None`` gives ``""``.
    """
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):  # JSON arrays and objects: their texts
        value = ", ".join(flatten_texts(value))
    s = value if isinstance(value, str) else str(value)
    if not s:
        return ""
    if s[:2] == '{"':
        s = _unwrap_json(s)
    s = _CONDITIONAL_COMMENT.sub(" ", s)
    # Up to three rounds: each may reveal escaped HTML ("&lt;p&gt;Hi&lt;/p&gt;", "&amp;#8211;").
    for round_ in range(3):
        if _HTML_TAG.search(s):
            if round_ and not _KNOWN_TAG.search(s):
                break  # "&lt;Name&gt;" was meant as text, not as escaped HTML
            s = _strip_html(_TRAILING_TAG.sub("", s))
        elif "&" in s and _ENTITY.search(s):
            s = _ENTITY.sub(_unescape, s)
        else:
            break
    s = _CUT_MARKER.sub("", _TRAILING_TAG_WITH_ATTRIBUTES.sub("", s))
    for junk in _SCRIPT_JUNK:
        s = junk.sub(" ", s)
    return normalize_whitespace(s)


def flatten_texts(value: object) -> list[str]:
    """The scalar texts inside nested lists and dicts, in order (dict keys starting with "@",
    XML attributes in XML-to-JSON output, are left out); None and empty strings are dropped.
    Iterative, so a deeply nested value cannot exhaust the stack."""
    out: list[str] = []
    stack: list[object] = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list | tuple):
            stack.extend(reversed(v))
        elif isinstance(v, dict):
            stack.extend(reversed([x for k, x in v.items() if not str(k).startswith("@")]))
        elif v is not None and v != "":
            out.append(str(v))
    return out


SAFE_URL_SCHEMES = ("http", "https")
_URL_SCHEME = re.compile(r"([^:/?#]*):")
_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_url(value: object) -> str:
    """``value`` when it is an http(s) URL or a relative reference (a local feed's
    ``ep2.mp3``), else ``""``: a ``javascript:``, ``data:`` or ``file:`` URL is never stored
    or handed out as a link. Control characters inside (which browsers strip, turning
    ``"\\x01javascript:"`` into a script) make it unsafe too."""
    if not isinstance(value, str):
        return ""
    s = value.strip()
    if not s or _URL_CONTROL.search(s):
        return ""
    m = _URL_SCHEME.match(s)
    if m is None:
        return s  # relative: resolved against the page that shows it
    try:
        netloc = urlsplit(s).netloc
    except ValueError:  # a malformed IPv6 host
        return ""
    return s if m.group(1).lower() in SAFE_URL_SCHEMES and netloc else ""


def normalize_whitespace(s: str) -> str:
    """NFC, no zero-width/control characters, runs of whitespace collapsed to one space."""
    s = unicodedata.normalize("NFC", s)
    s = _INVISIBLE.sub(lambda m: " " if m.group(0) in "\x0b\x0c\x1c\x1d\x1e\x1f\x85" else "", s)
    return _WHITESPACE.sub(" ", s).strip()


def clean_text(value: object) -> str:
    """A short field (title, name): like :func:`html_to_text`."""
    return html_to_text(value)


def cap_text(s: str, limit: int = MAX_TEXT_CHARS) -> tuple[str, bool]:
    """``s`` cut to at most ``limit`` characters at a word boundary; and whether it was cut."""
    if len(s) <= limit:
        return s, False
    cut = s[:limit]
    space = cut.rfind(" ", limit - 200)
    if space > 0:
        cut = cut[:space]
    return cut.rstrip() + " …", True


# --------------------------------------------------------------------------------------------
# Languages

_ISO_639_1_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks "
    "ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl "
    "nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl "
    "sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve "
    "vi vo wa wo xh yi yo za zh zu"
)
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())
_DEPRECATED_CODES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro", "sh": "sr"}
# ISO 639-2/3 codes (and a few that detectors emit) for languages with a 639-1 code.
_THREE_LETTER = {
    "afr": "af", "amh": "am", "ara": "ar", "arz": "ar", "ary": "ar", "aze": "az", "bel": "be",
    "ben": "bn", "bos": "bs", "bul": "bg", "cat": "ca", "ces": "cs", "cze": "cs", "cmn": "zh",
    "cym": "cy", "wel": "cy", "dan": "da", "deu": "de", "ger": "de", "ell": "el", "gre": "el",
    "eng": "en", "epo": "eo", "est": "et", "eus": "eu", "baq": "eu", "fas": "fa", "per": "fa",
    "fil": "tl", "fin": "fi", "fra": "fr", "fre": "fr", "gle": "ga", "glg": "gl", "guj": "gu",
    "hau": "ha", "heb": "he", "hin": "hi", "hrv": "hr", "hun": "hu", "hye": "hy", "arm": "hy",
    "ind": "id", "isl": "is", "ice": "is", "ita": "it", "jpn": "ja", "jav": "jv", "kat": "ka",
    "geo": "ka", "kaz": "kk", "khm": "km", "kan": "kn", "kor": "ko", "kur": "ku", "lat": "la",
    "lav": "lv", "lit": "lt", "ltz": "lb", "mal": "ml", "mar": "mr", "mkd": "mk", "mac": "mk",
    "mlt": "mt", "mon": "mn", "msa": "ms", "may": "ms", "mya": "my", "bur": "my", "nep": "ne",
    "nld": "nl", "dut": "nl", "nob": "nb", "nno": "nn", "nor": "no", "pan": "pa", "pol": "pl",
    "por": "pt", "pus": "ps", "ron": "ro", "rum": "ro", "rus": "ru", "sin": "si", "slk": "sk",
    "slo": "sk", "slv": "sl", "som": "so", "spa": "es", "sqi": "sq", "alb": "sq", "srp": "sr",
    "swa": "sw", "swe": "sv", "tam": "ta", "tel": "te", "tgl": "tl", "tha": "th", "tur": "tr",
    "ukr": "uk", "urd": "ur", "uzb": "uz", "uzs": "uz", "vie": "vi", "yid": "yi", "yor": "yo",
    "yue": "zh", "wuu": "zh", "zho": "zh", "chi": "zh", "zul": "zu", "xho": "xh",
}  # fmt: skip
# Language names (English and native) as catalogs write them: "English", "Deutsch", ...
_LANGUAGE_NAMES = {
    "afrikaans": "af", "albanian": "sq", "arabic": "ar", "armenian": "hy", "basque": "eu",
    "belarusian": "be", "bengali": "bn", "bosnian": "bs", "bulgarian": "bg", "catalan": "ca",
    "català": "ca", "chinese": "zh", "mandarin": "zh", "cantonese": "zh", "中文": "zh",
    "普通话": "zh", "croatian": "hr", "hrvatski": "hr", "czech": "cs", "čeština": "cs",
    "danish": "da", "dansk": "da", "dutch": "nl", "flemish": "nl", "nederlands": "nl",
    "english": "en", "esperanto": "eo", "estonian": "et", "eesti": "et", "filipino": "tl",
    "tagalog": "tl", "finnish": "fi", "suomi": "fi", "french": "fr", "français": "fr",
    "francais": "fr", "galician": "gl", "georgian": "ka", "german": "de", "deutsch": "de",
    "greek": "el", "ελληνικά": "el", "hebrew": "he", "עברית": "he", "hindi": "hi", "हिन्दी": "hi",
    "hungarian": "hu", "magyar": "hu", "icelandic": "is", "íslenska": "is", "indonesian": "id",
    "bahasa indonesia": "id", "irish": "ga", "italian": "it", "italiano": "it", "japanese": "ja",
    "日本語": "ja", "korean": "ko", "한국어": "ko", "latvian": "lv", "lithuanian": "lt",
    "luxembourgish": "lb", "macedonian": "mk", "malay": "ms", "bahasa melayu": "ms",
    "maltese": "mt", "norwegian": "no", "norsk": "no", "bokmål": "nb", "nynorsk": "nn",
    "persian": "fa", "farsi": "fa", "polish": "pl", "polski": "pl", "portuguese": "pt",
    "português": "pt", "portugues": "pt", "romanian": "ro", "română": "ro", "russian": "ru",
    "русский": "ru", "serbian": "sr", "slovak": "sk", "slovenčina": "sk", "slovenian": "sl",
    "slovene": "sl", "spanish": "es", "español": "es", "espanol": "es", "castellano": "es",
    "swahili": "sw", "swedish": "sv", "svenska": "sv", "tamil": "ta", "telugu": "te",
    "thai": "th", "turkish": "tr", "türkçe": "tr", "turkce": "tr", "ukrainian": "uk",
    "українська": "uk", "urdu": "ur", "vietnamese": "vi", "tiếng việt": "vi", "welsh": "cy",
    "cymraeg": "cy", "yiddish": "yi", "zulu": "zu",
}  # fmt: skip
_LANG_SPLIT = re.compile(r"[,;/|]")


def normalize_language(value: object) -> str:
    """An ISO 639-1 code ("en") from whatever a catalog holds, or "" when unknown.

    Accepts codes with regions ("en-US", "pt_BR"), three-letter codes ("eng"), names
    ("English", "Deutsch"), list-like strings ("['en']") and lists (the first usable entry).
    """
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        for v in value:
            code = normalize_language(v)
            if code:
                return code
        return ""
    s = str(value).strip()
    if not s:
        return ""
    if s[0] in "[(":
        parsed = _literal_list(s)
        if parsed is not None:
            return normalize_language(parsed)
        s = s.strip("[]()'\" ")
    for part in _LANG_SPLIT.split(s):
        code = _language_token(part)
        if code:
            return code
    return ""


def _literal_list(s: str) -> list[object] | None:
    try:
        parsed = ast.literal_eval(s)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(parsed, list | tuple):
        return list(parsed)
    return None


def _language_token(token: str) -> str:
    t = token.strip().strip("'\"").lower()
    if not t:
        return ""
    name = re.sub(r"\s*\(.*\)\s*$", "", t)  # "portuguese (brazil)"
    if name in _LANGUAGE_NAMES:
        return _LANGUAGE_NAMES[name]
    primary = re.split(r"[-_\s]", t, maxsplit=1)[0]
    if primary in _DEPRECATED_CODES:
        return _DEPRECATED_CODES[primary]
    if len(primary) == 2 and primary in ISO_639_1:
        return primary
    if len(primary) == 3 and primary in _THREE_LETTER:
        return _THREE_LETTER[primary]
    return _LANGUAGE_NAMES.get(primary, "")


_identifier: Any = None
_identifier_lock = threading.Lock()


def _language_identifier() -> Any:
    global _identifier
    if _identifier is None:
        with _identifier_lock:
            if _identifier is None:
                _identifier = _load_identifier()
    return _identifier


def _load_identifier(*, cached: bool = True) -> Any:
    """py3langid's identifier with normalised probabilities.

    Its model ships LZMA-compressed (4.6 MB -> 68 MB): decompressing costs ~0.4 s of CPU, a
    fifth of a command-line search. With ``cached``, the arrays are unpacked once into the
    model cache as .npy files and read from there (the DFA table memory-mapped); the same
    arrays, so the same answers (tests/catalog/test_catalog_clean.py)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    if cached:
        try:
            parts = _langid_arrays(MODEL_DIR / MODEL_FILE)
        except (OSError, ValueError) as e:  # an unwritable cache: decompress each time
            logging.getLogger(__name__).debug("py3langid cache unusable: %s", e)
        else:
            ptc, pc, classes, nextmove, row, out = parts
            return LanguageIdentifier(ptc, pc, classes, nextmove, out, True, tk_row=row)
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


_LANGID_ARRAYS = ("ptc", "pc", "nextmove", "nextmove_row", "out_feat")


def _langid_arrays(model: Path) -> tuple[Any, ...]:
    """(ptc, pc, classes, nextmove, nextmove_row, out_feat) as py3langid's loader returns
    them, from the unpacked copy in the model cache (made on first use)."""
    import importlib.metadata

    import numpy as np

    from podsearch.encode._cache import build_atomically, model_cache_dir

    stat = model.stat()
    record: dict[str, object] = {
        "source": "py3langid",
        "version": importlib.metadata.version("py3langid"),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }

    def unpack(tmp: Path) -> None:
        from py3langid.modelio import load_model

        ptc, pc, classes, nextmove, row, out = load_model(model)
        np.save(tmp / "ptc.npy", np.asarray(ptc))
        np.save(tmp / "pc.npy", np.asarray(pc))
        np.save(tmp / "nextmove.npy", np.frombuffer(nextmove, dtype=f"u{nextmove.itemsize}"))
        np.save(tmp / "nextmove_row.npy", np.frombuffer(row, dtype=f"u{row.itemsize}"))
        np.save(tmp / "out_feat.npy", np.asarray(out, dtype=np.int64))
        (tmp / "classes.json").write_text(json.dumps(list(classes)), encoding="utf-8")

    target = build_atomically(model_cache_dir("py3langid"), unpack, record)
    arrays = {name: np.load(target / f"{name}.npy", mmap_mode="r") for name in _LANGID_ARRAYS}
    classes = json.loads((target / "classes.json").read_text(encoding="utf-8"))
    return (
        np.asarray(arrays["ptc"]),
        np.array(arrays["pc"]),
        [str(c) for c in classes],
        memoryview(arrays["nextmove"]),  # indexed per byte of text: ints, like array('I')
        arrays["nextmove_row"].tolist(),
        arrays["out_feat"].tolist(),
    )


_LETTER = re.compile(r"[^\W\d_]")
_CJK = re.compile("[\u2e80-\u9fff\uac00-\ud7af]")


def _letter_count(s: str) -> int:
    # CJK characters carry about a word each.
    return len(_LETTER.findall(s)) + 2 * len(_CJK.findall(s))


def detect_language(text: str, *, min_confidence: float = MIN_DETECT_CONFIDENCE) -> str:
    """ISO 639-1 code detected with py3langid, or "" when the text is too short or unclear."""
    lang, confidence = detect_language_scored(text)
    return lang if confidence >= min_confidence else ""


def detect_language_scored(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, confidence 0..1) from py3langid; ("", 0.0) for too little text.

    Only the first few hundred characters are looked at (as accurate, and much faster).
    Languages without an ISO 639-1 code count as unknown.
    """
    sample = text[:_DETECT_SAMPLE_CHARS]
    if _letter_count(sample) < MIN_DETECT_LETTERS:
        return "", 0.0
    return _classify(sample)


@functools.lru_cache(maxsize=4096)
def _classify(sample: str) -> tuple[str, float]:
    lang, confidence = _language_identifier().classify(sample)
    lang = str(lang)
    code = lang if lang in ISO_639_1 else _THREE_LETTER.get(lang, "")
    return (code, float(confidence)) if code else ("", 0.0)


# --------------------------------------------------------------------------------------------
# Dates

_TZINFOS = {
    name: timedelta(hours=h)
    for name, h in {
        "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 1, "CET": 1, "CEST": 2, "MET": 1,
        "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "IST": 5.5, "JST": 9, "KST": 9, "HKT": 8,
        "AEST": 10, "AEDT": 11, "ACST": 9.5, "AWST": 8, "NZST": 12, "NZDT": 13, "EST": -5,
        "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
        "AKST": -9, "AKDT": -8, "HST": -10,
    }.items()
}  # fmt: skip
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_LATEST_YEAR_SLACK = 10


class DateError(ValueError):
    """A date value that is present but cannot be understood."""


def parse_date(value: object) -> datetime | None:
    """A timezone-aware UTC datetime, ``None`` when the value is empty.

    Understands datetimes, dates, epoch seconds or milliseconds (numbers or digit strings),
    RFC 822 ("Wed, 27 Apr 2011 07:00:00 GMT"), ISO 8601 and most other written forms (via
    dateutil). Naive values are taken as UTC. Raises :class:`DateError` for a value that is
    present but not a date, or outside 1800 .. now + 10 years.
    """
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, bool):
        raise DateError(f"not a date: {value!r}")
    elif isinstance(value, int | float):
        dt = _from_epoch(float(value))
    else:
        s = str(value).strip()
        if not s:
            return None
        dt = _parse_date_string(s)
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    if not 1800 <= dt.year <= datetime.now(UTC).year + _LATEST_YEAR_SLACK:
        raise DateError(f"date out of range: {value!r}")
    return dt


def _from_epoch(x: float) -> datetime:
    if math.isnan(x) or math.isinf(x):
        raise DateError(f"not a date: {x!r}")
    if abs(x) >= 1e14:  # microseconds
        x /= 1e6
    elif abs(x) >= 1e11:  # milliseconds
        x /= 1e3
    try:
        return datetime.fromtimestamp(x, tz=UTC)
    except (OverflowError, OSError, ValueError) as e:
        raise DateError(f"epoch value out of range: {x!r}") from e


def _parse_date_string(s: str) -> datetime:
    if _NUMBER.match(s):
        if len(s) == 8 and s[:2] in ("19", "20"):  # 20171201
            try:
                return datetime.strptime(s, "%Y%m%d")
            except ValueError:
                pass
        return _from_epoch(float(s))
    if s[:4].isdigit() and len(s) >= 10:
        try:
            return datetime.fromisoformat(s)
        except ValueError:
            pass
    try:
        return parsedate_to_datetime(s)
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    from dateutil import parser as dateparser

    try:
        with warnings.catch_warnings():
            # Unknown zone names fall back to UTC (naive) instead of warning.
            warnings.simplefilter("ignore")
            return dateparser.parse(s, default=datetime(2000, 1, 1), tzinfos=_tzinfo)
    except (ValueError, OverflowError, TypeError) as e:
        raise DateError(f"not a date: {s[:80]!r}") from e


def _tzinfo(name: str, offset: int | None) -> Any:
    from dateutil import tz

    if name and name.upper() in _TZINFOS:
        delta = _TZINFOS[name.upper()]
        return tz.tzoffset(name, int(delta.total_seconds()))
    if offset is not None:
        return tz.tzoffset(name, offset)
    return None


# --------------------------------------------------------------------------------------------
# Durations

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,3}):(\d{1,2}(?:[.,]\d+)?)$")
_ISO_DURATION = re.compile(
    r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_UNITS = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)\b", re.IGNORECASE
)


class DurationError(ValueError):
    """A duration value that is present but cannot be understood."""


def parse_duration(value: object, unit_seconds: float = 1.0) -> int | None:
    """Whole seconds, ``None`` when empty or zero.

    Numbers (and digit strings) are in ``unit_seconds`` (1 = seconds, 60 = minutes,
    0.001 = milliseconds); strings may also be "HH:MM:SS", "MM:SS", "1h 2m 3s", "45 min" or
    ISO 8601 ("PT1H2M"). Raises :class:`DurationError` for other values and negatives.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value) * unit_seconds
    elif isinstance(value, timedelta):
        seconds = value.total_seconds()
    else:
        s = str(value).strip()
        if not s:
            return None
        seconds = _parse_duration_string(s, unit_seconds)
    if math.isnan(seconds):
        return None
    if math.isinf(seconds) or seconds < 0 or seconds > 10 * 365 * 86400:
        raise DurationError(f"not a duration: {value!r}")
    result = round(seconds)
    return result or None


def _parse_duration_string(s: str, unit_seconds: float) -> float:
    t = s.replace(",", ".") if s.count(",") == 1 and "." not in s else s.replace(",", "")
    if _NUMBER.match(t):
        return float(t) * unit_seconds
    m = _CLOCK.match(s)
    if m:
        h, mi, sec = m.groups()
        return int(h or 0) * 3600 + int(mi) * 60 + float(sec.replace(",", "."))
    m = _ISO_DURATION.match(s)
    if m and any(m.groups()):
        d, h, mi, sec = (float(x) if x else 0.0 for x in m.groups())
        return d * 86400 + h * 3600 + mi * 60 + sec
    parts = _UNITS.findall(s)
    if parts and not _UNITS.sub("", s).strip(" ,.and"):
        total = 0.0
        for num, unit in parts:
            n = float(num.replace(",", "."))
            u = unit[0].lower()
            total += n * (3600 if u == "h" else 60 if u == "m" else 1)
        return total
    raise DurationError(f"not a duration: {s[:80]!r}")


# --------------------------------------------------------------------------------------------
# Categories and ids


def split_categories(value: object, separators: str = "|") -> tuple[str, ...]:
    """Stripped, de-duplicated (case-insensitively, first spelling kept) category names.

    Strings are split on any of ``separators``; list-like strings ("['a', 'b']") and lists
    are taken item by item.
    """
    items: Iterable[object]
    if value is None:
        return ()
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return ()
        parsed = _literal_list(s) if s[0] in "[(" else None
        if parsed is None and s[0] == "[":
            try:
                j = json.loads(s)
                parsed = j if isinstance(j, list) else None
            except ValueError:
                parsed = None
        if parsed is not None:
            items = parsed
        else:
            items = re.split("[" + re.escape(separators) + "]", s) if separators else [s]
    elif isinstance(value, Iterable):
        items = value
    else:
        items = [value]
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        if item is None:
            continue
        name = clean_text(item)
        key = name.casefold()
        if name and key not in seen:
            seen.add(key)
            out.append(name)
    return tuple(out)


def stable_id(*parts: object) -> str:
    """A short id that is the same for the same parts on every run (sha1 of the parts)."""
    h = hashlib.sha1()
    for p in parts:
        h.update(str(p if p is not None else "").encode("utf-8", "surrogatepass"))
        h.update(b"\x1f")
    return h.hexdigest()[:20]


def slugify(s: str) -> str:
    """Lower-case ASCII-ish slug ("Sommar & Vinter i P1" -> "sommar-vinter-i-p1")."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    slug = re.sub(r"[^\w]+", "-", s.lower()).strip("-")
    return slug or stable_id(s)
