"""Helpers shared by the benchmark scripts: machine facts, latency summaries, disk sizes, RSS,
and the benchmark query set (TREC Podcasts topics + hand-written multilingual queries)."""

from __future__ import annotations

import os
import platform
import resource
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()

# Natural-language queries written for this benchmark, topped up to the TREC topics to reach
# 200. They mix languages on purpose: the index holds English, Swedish, German, Spanish, ...
EXTRA_QUERIES: tuple[str, ...] = (
    # English
    "how to start investing with little money",
    "interview with a startup founder about raising venture capital",
    "tips for better sleep and dealing with insomnia",
    "history of the roman empire explained",
    "true crime story about an unsolved murder",
    "christmas holiday special episode",
    "learning a new language as an adult",
    "mental health and anxiety at work",
    "bitcoin and cryptocurrency bubble",
    "nfl football game recap and predictions",
    "a sermon about forgiveness and grace",
    "how to train for your first marathon",
    "climate change and renewable energy policy",
    "stand-up comedians talking about their careers",
    "parenting advice for toddlers",
    "the science of black holes and the universe",
    "artificial intelligence and the future of jobs",
    "meditation for beginners",
    "world war two veterans remember",
    "best movies of the year review",
    "healthy recipes and meal prep ideas",
    "real estate investing for beginners",
    "the opioid epidemic in america",
    "star wars the last jedi discussion",
    "marketing tips for small business owners",
    "jazz musicians and the history of jazz",
    "weight loss and the ketogenic diet",
    "a podcast episode about dogs and pet care",
    "net neutrality repeal",
    "video game industry news",
    # Spanish
    "entrevista con un emprendedor sobre su empresa",
    "historia de la música latina",
    "consejos para aprender inglés rápido",
    "noticias de fútbol y la liga española",
    "cómo superar la ansiedad y el estrés",
    "recetas de cocina fáciles para la cena",
    "reflexiones sobre la fe y la biblia",
    "política en américa latina",
    "el cambio climático y el medio ambiente",
    "finanzas personales y ahorro",
    "cuentos para niños antes de dormir",
    "la independencia de cataluña",
    # German
    "Interview mit einem Unternehmer über Gründung",
    "Geschichte des Zweiten Weltkriegs",
    "Tipps für gesunde Ernährung",
    "Nachrichten aus der deutschen Politik",
    "Fußball Bundesliga Analyse",
    "Wie funktioniert künstliche Intelligenz",
    "Hörspiel für Kinder",
    "Philosophie und der Sinn des Lebens",
    "Klimawandel und Energiewende",
    "Weihnachten und Traditionen",
    "Reisen durch Asien",
    "Psychologie und Beziehungen",
    # Swedish
    "sommarprat om kärlek och förlust",
    "minnen från barndomen på landet",
    "en berättelse om att fly från kriget",
    "musik och livet som artist",
    "att leva med sjukdom och cancer",
    "en idrottares karriär och motgångar",
    "om att vara förälder",
    "politik och demokrati i Sverige",
    "naturen och friluftsliv i fjällen",
    "invandring och att komma till ett nytt land",
    "humor och skratt i vardagen",
    "en författare berättar om sina böcker",
    "ensamhet och vänskap",
    "klimatet och framtiden för våra barn",
    # French
    "interview avec un entrepreneur français",
    "histoire de la révolution française",
    "conseils pour apprendre à cuisiner",
    "actualité politique en France",
    "la philosophie au quotidien",
    "musique classique et opéra",
    "santé mentale et bien-être",
    "le cinéma français des années soixante",
    "économie et marchés financiers",
    "voyage en Afrique de l'Ouest",
    # Italian, Portuguese, Dutch, Polish, Russian, Turkish
    "storia dell'arte italiana del rinascimento",
    "ricette della cucina tradizionale",
    "entrevista sobre futebol brasileiro",
    "dicas de saúde e exercício físico",
    "geschiedenis van Nederland",
    "nieuws over technologie en wetenschap",
    "historia Polski i wojna",
    "wywiad z muzykiem",
    "история России и революция",
    "новости технологий",
    "futbol ve spor haberleri",
    "ekonomi ve para politikası",
    # Mixed / code-switching
    "podcast sobre tecnología y startups en Silicon Valley",
    "Sommar i P1 med en känd skådespelare",
)


def load_trec_queries(folder: Path) -> list[str]:
    """The ``<query>`` texts of every TREC Podcasts topic file, deduplicated, in file order."""
    out: dict[str, None] = {}
    for xml in sorted(folder.glob("*.xml")):
        for topic in ET.parse(xml).getroot().iter("topic"):
            q = (topic.findtext("query") or "").strip()
            if q:
                out.setdefault(q, None)
    return list(out)


def benchmark_queries(n: int = 200) -> tuple[list[str], dict[str, int]]:
    """TREC topics first, then the hand-written queries, deduplicated, cut to ``n``."""
    trec = load_trec_queries(SHARED_DATA / "trec-podcasts")
    seen = dict.fromkeys(trec)
    for q in EXTRA_QUERIES:
        seen.setdefault(q, None)
    queries = list(seen)[:n]
    n_trec = sum(1 for q in queries if q in set(trec))
    return queries, {"trec": n_trec, "hand_written": len(queries) - n_trec, "total": len(queries)}


# -- numbers -------------------------------------------------------------------------------
def summarize(values: Sequence[float]) -> dict[str, float | int]:
    """p50/p95/p99/mean/max (ms) of a latency sample."""
    a = np.asarray(values, dtype=np.float64)
    if not len(a):
        return {"n": 0}
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "n": int(len(a)),
        "p50": round(float(p50), 3),
        "p95": round(float(p95), 3),
        "p99": round(float(p99), 3),
        "mean": round(float(a.mean()), 3),
        "max": round(float(a.max()), 3),
    }


def dir_size(path: Path) -> int:
    """Bytes used by the files under ``path`` (0 if it does not exist)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with suppress(OSError):  # a file removed while walking
                total += (Path(root) / f).stat().st_size
    return total


def mib(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 2)


# -- memory --------------------------------------------------------------------------------
def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class RssSampler:
    """Samples this process's RSS in a thread while a phase runs, so each phase gets its own
    peak. The thread runs only inside ``phase``: its wake-ups would otherwise take the GIL
    from the thread being timed and add up to a switch interval (5 ms) to a latency."""

    def __init__(self, interval_s: float = 0.05) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval_s

    def current(self) -> int:
        return int(self._proc.memory_info().rss)

    @contextmanager
    def phase(self, record: dict[str, Any], key: str = "peak_rss_mib") -> Iterator[None]:
        """Record the peak RSS seen while the block runs into ``record[key]`` (MiB)."""
        stop = threading.Event()
        peak = [self.current()]

        def run() -> None:
            while not stop.wait(self._interval):
                peak[0] = max(peak[0], self.current())

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=1)
            record[key] = mib(max(peak[0], self.current()))


# -- machine -------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_facts(packages: Sequence[str]) -> dict[str, Any]:
    """CPU, RAM, OS, Python and the versions of ``packages`` (None when not installed)."""
    import psutil

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_model": _cpu_model(),
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_usable": affinity,
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {p: _version(p) for p in packages},
    }


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.s`` -> elapsed seconds; ``sw.cpu`` -> CPU seconds this
    process used meanwhile (all threads), so ``sw.cpu / sw.s`` shows how many cores it got."""

    def __enter__(self) -> Stopwatch:
        self._t0 = time.perf_counter()
        self._c0 = _cpu_seconds()
        self.s = self.cpu = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self._t0
        self.cpu = _cpu_seconds() - self._c0


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def load_snapshot() -> dict[str, Any]:
    """1-minute load average and the busiest other processes: the machine is shared, and a
    benchmark run beside a busy neighbour is slower than the code it measures."""
    import psutil

    me = os.getpid()
    busy = []
    for proc in psutil.process_iter(["pid", "name", "cmdline", "cpu_percent"]):
        if proc.info["pid"] == me:
            continue
        busy.append(proc)
    for proc in busy:  # cpu_percent needs two readings
        with suppress(psutil.Error):
            proc.cpu_percent(None)
    time.sleep(0.5)
    top = []
    for proc in busy:
        with suppress(psutil.Error):
            pct = proc.cpu_percent(None)
            if pct >= 20:
                cmd = " ".join(" ".join(proc.info["cmdline"] or [proc.info["name"] or "?"]).split())
                top.append({"cpu_percent": round(pct), "cmd": cmd[:80]})
    return {
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "other_busy_processes": sorted(top, key=lambda x: -x["cpu_percent"])[:5],
    }
