"""The README's examples run as written, so they cannot rot.

Every ```python block runs, in order and each in a fresh namespace, in a scratch folder laid out
as the README assumes (``../shared/data/listennotes-2017-12-sample`` beside the working
directory). That catalog is a stand-in: the bundled demo catalog (Listen Notes layout) with ids
shifted by 5000, so that the ids the README names (5148, 5031) exist. The default model is the
fake encoder and the spoken-query block gets a fake transcriber: this checks the API the README
shows, not the models. Every ``podsearch`` command line in the ```bash blocks must name a command
and options that exist.
"""

from __future__ import annotations

import csv
import math
import re
import shlex
import struct
import wave
from pathlib import Path

import pytest
import typer

import podsearch
from podsearch.voice import FakeTranscriber

README = Path(__file__).resolve().parent.parent / "README.md"
GUIDE = README.parent / "docs" / "GUIDE.md"
DEMO = Path(podsearch.__file__).resolve().parent / "data" / "demo"
ID_SHIFT = 5000


def blocks(lang: str, doc: Path = README) -> list[tuple[int, str]]:
    """(line number, code) of each fenced block in ``lang``."""
    out, lines = [], doc.read_text(encoding="utf-8").splitlines()
    start = None
    for n, line in enumerate(lines, start=1):
        if start is None and line.strip() == f"```{lang}":
            start = n
        elif start is not None and line.strip() == "```":
            out.append((start, "\n".join(lines[start:n - 1])))  # fmt: skip
            start = None
    return out


def write_stand_in_catalog(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "podcasts.csv").write_bytes((DEMO / "podcasts.csv").read_bytes())
    with (DEMO / "episodes.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["id"] = str(int(row["id"]) + ID_SHIFT)
    with (folder / "episodes.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_tone(path: Path, seconds: float = 1.0, rate: int = 16_000) -> None:
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def test_the_readme_has_python_and_bash_examples() -> None:
    assert len(blocks("python")) >= 3 and len(blocks("bash")) >= 3


def test_python_examples_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "podsearch"
    work.mkdir()
    write_stand_in_catalog(tmp_path / "shared" / "data" / "listennotes-2017-12-sample")
    write_tone(work / "query.wav")
    monkeypatch.chdir(work)
    monkeypatch.setattr("podsearch.encode.DEFAULT_MODEL", "fake")
    fake_stt = FakeTranscriber("cómo comer sano en navidad", "es")
    monkeypatch.setattr("podsearch.voice.search.default_transcriber", lambda: fake_stt)
    for line, code in blocks("python"):
        try:
            exec(compile(code, f"README.md:{line}", "exec"), {"__name__": "readme"})  # noqa: S102
        except Exception as exc:
            pytest.fail(f"the README's python block at line {line} fails: {exc!r}")
    assert fake_stt.calls, "the spoken-query example reached the transcriber"


def _commands() -> dict[str, set[str]]:
    from podsearch.cli import app

    group = typer.main.get_command(app)
    commands = getattr(group, "commands", {})  # a click Group (typer may vendor click)
    return {
        name: {opt for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}
        for name, cmd in commands.items()
    }


@pytest.mark.parametrize(("doc", "at_least"), [(README, 15), (GUIDE, 4)], ids=["README", "GUIDE"])
def test_command_lines_name_real_commands_and_options(doc: Path, at_least: int) -> None:
    commands = _commands()
    checked = 0
    for line, code in blocks("bash", doc):
        text = re.sub(r"\\\n", " ", code)  # join continued lines
        for cmd_line in re.split(r"\n|&&|;", text):
            cmd_line = cmd_line.split(" #", 1)[0].strip()
            if not cmd_line.startswith("podsearch "):
                continue
            words = shlex.split(cmd_line)
            where = f"{doc.name}:{line}"
            assert words[1] in commands, f"{where}: unknown command {words[1]!r}"
            flags = {w.split("=", 1)[0] for w in words[2:] if w.startswith("-")}
            unknown = flags - commands[words[1]]
            assert not unknown, f"{where}: podsearch {words[1]} has no {unknown}"
            checked += 1
    assert checked >= at_least
