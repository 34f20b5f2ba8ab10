#!/usr/bin/env python3
"""Generate the sample call recordings in ``samples/`` from their source texts.

Each ``samples/src/*.yaml`` describes one call: the output file name (PBX style,
``YYYY-MM-DD_HH-MM-SS_<manager>_<phone>_<in|out>.<ext>``, or as Asterisk/FreePBX names
recordings, ``<in|out>-<phone>-<extension>-YYYYMMDD-HHMMSS-<uniqueid>.<wav|mp3>``), the
language, one voice per side, the audio format (``rate``, ``format``, ``encoding`` such as
``u-law``, ``bitrate``, ``channels: 1`` for a mono PBX, ``telephone: true`` for the
300-3400 Hz band), the deal outcome and the turns (``{role: manager|client, text:
...}``). Every turn is spoken by a text-to-speech engine, then sox lays the turns out on two channels (manager on the LEFT, client on the RIGHT, the other side
silent while one speaks, short pauses between turns), adds a faint line-noise floor,
band-limits the telephone-quality ones and writes the requested format and rate.
``samples/manifest.csv`` (the PBX/CRM export the tool reads with ``--manifest``) is
written from the same files.

The output is deterministic for a given espeak-ng/sox version (sox runs with ``-R``).

Usage::

    python tools/make_samples.py                 # all samples
    python tools/make_samples.py --only en_good_inbound
    python tools/make_samples.py --out /tmp/samples

Voices: a string is an espeak-ng voice (``en-us+m3``); a mapping picks the engine::

    {engine: espeak-ng, voice: en-gb+f3, speed: 155}      # words per minute
    {engine: festival, voice: msu_ru_nsh_clunits, pitch: 500, tempo: 1.1}

``pitch`` (cents) and ``tempo`` (factor) are sox effects applied after synthesis, so two
sides can share one engine voice and still sound different. Festival is used where
espeak-ng is not intelligible enough to Whisper base: its Russian voice (measured WER
0.4-1.0 per phrase against 0.0-0.2 for festival's ``msu_ru_nsh_clunits``) and English at
8 kHz, where espeak-ng's hiss-heavy consonants are lost in the telephone band.

Needs ``espeak-ng``, ``sox`` (with mp3 and ogg support) and, for the festival voices,
``festival`` with ``festvox-ru``, ``festvox-us-slt-hts`` and ``festvox-kdlpc16k`` (Debian
package names).
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "samples" / "src"
OUT = ROOT / "samples"

#: PBX-style name: date, time, manager, client phone, direction.
NAME_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})_(?P<time>\d{2}-\d{2}-\d{2})_(?P<manager>[a-z]+)_"
    r"(?P<phone>\d{7,15})_(?P<direction>in|out)\.(?P<ext>wav|mp3|ogg|flac)$"
)
#: Asterisk/FreePBX MixMonitor name: ``in-<client>-<extension>-YYYYMMDD-HHMMSS-<uniqueid>``
#: (outbound: ``out-<client>-<extension>-...``), as real PBX recordings arrive.
ASTERISK_RE = re.compile(
    r"^(?P<direction>in|out)-(?P<phone>\d{7,15})-(?P<manager>\d{2,6})-(?P<date>\d{8})-"
    r"(?P<time>\d{6})-(?P<call_id>\d+\.\d+)\.(?P<ext>wav|mp3)$"
)

#: espeak-ng renders at this rate; sox resamples to the file's rate at the end.
TTS_RATE = 22050
LEAD_SILENCE = 0.5  # seconds before the first turn (a PBX starts recording on answer)
TAIL_SILENCE = 0.6
PAUSE = 0.45  # default pause between turns
NOISE_VOL = 0.002  # white-noise peak amplitude: a line-noise floor around -58 dBFS RMS
SPEED = {"manager": 165, "client": 155}  # espeak-ng words per minute
ENGINES = ("espeak-ng", "festival")


@dataclass(frozen=True)
class Turn:
    role: str
    text: str


@dataclass(frozen=True)
class Voice:
    """How one side speaks: engine, engine voice, and sox pitch/tempo applied after."""

    engine: str
    voice: str
    speed: int | None = None  # espeak-ng words per minute
    pitch: int = 0  # cents
    tempo: float = 1.0

    @classmethod
    def parse(cls, spec: Any, role: str, where: Path) -> Voice:
        if isinstance(spec, str):
            return cls("espeak-ng", spec, SPEED[role])
        if not isinstance(spec, dict) or spec.get("engine") not in ENGINES or not spec.get("voice"):
            fail(f"{where}: voices.{role} must be an espeak-ng voice name or "
                 f"{{engine: {'|'.join(ENGINES)}, voice: ...}}")
        return cls(
            engine=spec["engine"],
            voice=str(spec["voice"]),
            speed=int(spec.get("speed", SPEED[role])) if spec["engine"] == "espeak-ng" else None,
            pitch=int(spec.get("pitch", 0)),
            tempo=float(spec.get("tempo", 1.0)),
        )


@dataclass(frozen=True)
class CallSource:
    """One ``samples/src/*.yaml`` file, validated."""

    path: Path
    file: str
    language: str
    outcome: str
    voices: dict[str, Voice]
    audio: dict[str, Any]
    turns: tuple[Turn, ...]
    pause: float = PAUSE
    script: str = "real_estate_inbound"  # which scripts_library/ file the call follows

    @property
    def name_fields(self) -> dict[str, str]:
        m = NAME_RE.match(self.file)
        if m is not None:
            fields = m.groupdict()
            fields["call_id"] = Path(self.file).stem
            return fields
        m = ASTERISK_RE.match(self.file)
        assert m is not None  # checked in load()
        fields = m.groupdict()
        d, t = fields["date"], fields["time"]
        fields["date"] = f"{d[:4]}-{d[4:6]}-{d[6:]}"
        fields["time"] = f"{t[:2]}-{t[2:4]}-{t[4:]}"
        return fields


def fail(message: str) -> None:
    print(f"Error: {message}", file=sys.stderr)
    raise SystemExit(1)


def load(path: Path) -> CallSource:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        fail(f"{path}: expected a YAML mapping")
    for key in ("file", "language", "outcome", "voices", "turns"):
        if key not in data:
            fail(f"{path}: missing key '{key}'")
    if not (NAME_RE.match(str(data["file"])) or ASTERISK_RE.match(str(data["file"]))):
        fail(
            f"{path}: file '{data['file']}' is not a PBX-style name "
            "YYYY-MM-DD_HH-MM-SS_<manager>_<phone>_<in|out>.<wav|mp3|ogg|flac> or "
            "<in|out>-<phone>-<extension>-YYYYMMDD-HHMMSS-<uniqueid>.<wav|mp3> (Asterisk)"
        )
    voices = {}
    for role in ("manager", "client"):
        if role not in (data["voices"] or {}):
            fail(f"{path}: voices.{role} is missing (an espeak-ng voice such as en-us+m3)")
        voices[role] = Voice.parse(data["voices"][role], role, path)
    turns = []
    for i, t in enumerate(data["turns"]):
        if not isinstance(t, dict) or t.get("role") not in ("manager", "client") or not t.get("text"):
            fail(f"{path}: turns[{i}] must be {{role: manager|client, text: ...}}")
        turns.append(Turn(t["role"], str(t["text"]).strip()))
    if data["outcome"] not in ("won", "lost"):
        fail(f"{path}: outcome must be won or lost")
    return CallSource(
        path=path,
        file=str(data["file"]),
        language=str(data["language"]),
        outcome=str(data["outcome"]),
        voices=voices,
        audio=dict(data.get("audio") or {}),
        turns=tuple(turns),
        pause=float(data.get("pause", PAUSE)),
        script=str(data.get("script", "real_estate_inbound")),
    )


def run(*args: str) -> str:
    try:
        done = subprocess.run(args, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as e:
        fail(f"{' '.join(args[:3])} ... failed: {e.stderr.strip()}")
    return done.stdout


def seconds(path: Path) -> float:
    return float(run("soxi", "-D", str(path)).strip())


def silence(path: Path, duration: float) -> Path:
    run("sox", "-R", "-n", "-r", str(TTS_RATE), "-c", "1", "-b", "16", str(path),
        "trim", "0", f"{duration:.3f}")
    return path


def speak(voice: Voice, text: str, stem: Path) -> Path:
    """Synthesise ``text``; return a mono 16-bit file at TTS_RATE (sox concatenation needs one format)."""
    raw = stem.with_suffix(".raw.wav")
    if voice.engine == "espeak-ng":
        run("espeak-ng", "-v", voice.voice, "-s", str(voice.speed), "-w", str(raw), text)
    else:
        text_file = stem.with_suffix(".txt")
        text_file.write_text(text, encoding="utf-8")
        run("text2wave", "-eval", f"(voice_{voice.voice})", str(text_file), "-o", str(raw))
    out = stem.with_suffix(".wav")
    effects: list[str] = []
    if voice.pitch:
        effects += ["pitch", str(voice.pitch)]
    if voice.tempo != 1.0:
        effects += ["tempo", "-s", str(voice.tempo)]
    run("sox", "-R", str(raw), "-r", str(TTS_RATE), "-c", "1", "-b", "16", str(out), *effects)
    return out


def render(src: CallSource, out_dir: Path) -> Path:
    """Speak every turn and assemble the stereo file; return its path."""
    with tempfile.TemporaryDirectory(prefix="qa-sample-") as tmp_name:
        tmp = Path(tmp_name)
        left: list[Path] = [silence(tmp / "lead.wav", LEAD_SILENCE)]
        right: list[Path] = [left[0]]
        pause = silence(tmp / "pause.wav", src.pause)
        for i, turn in enumerate(src.turns):
            fixed = speak(src.voices[turn.role], turn.text, tmp / f"turn{i:02d}")
            quiet = silence(tmp / f"quiet{i:02d}.wav", seconds(fixed))
            if turn.role == "manager":
                left += [fixed, pause]
                right += [quiet, pause]
            else:
                left += [quiet, pause]
                right += [fixed, pause]
        tail = silence(tmp / "tail.wav", TAIL_SILENCE)
        left.append(tail)
        right.append(tail)
        run("sox", "-R", *map(str, left), str(tmp / "left.wav"))
        run("sox", "-R", *map(str, right), str(tmp / "right.wav"))
        run("sox", "-R", "-M", str(tmp / "left.wav"), str(tmp / "right.wav"), str(tmp / "stereo.wav"))
        duration = seconds(tmp / "stereo.wav")
        # independent noise per channel, so an idle side is quiet but not digital zero
        run("sox", "-R", "-n", "-r", str(TTS_RATE), "-c", "2", "-b", "16", str(tmp / "noise.wav"),
            "synth", f"{duration:.3f}", "whitenoise", "vol", str(NOISE_VOL))
        run("sox", "-R", "-m", "-v", "1", str(tmp / "stereo.wav"), "-v", "1", str(tmp / "noise.wav"),
            str(tmp / "mixed.wav"), "gain", "-n", "-3")

        audio = src.audio
        out = out_dir / src.file
        effects: list[str] = []
        if audio.get("telephone"):
            effects += ["sinc", "300-3400"]  # the telephone band
        channels = int(audio.get("channels", 2))  # 1: both sides mixed down, as mono PBXs record
        fmt: list[str] = ["-r", str(int(audio.get("rate", 16000))), "-c", str(channels)]
        kind = audio.get("format", Path(src.file).suffix[1:])
        if kind == "wav":
            encoding = audio.get("encoding", "signed-integer")
            fmt += ["-e", encoding]
            if encoding == "signed-integer":
                fmt += ["-b", "16"]
        elif kind == "mp3":
            fmt += ["-C", str(audio.get("bitrate", 48))]
        elif kind == "ogg":
            fmt += ["-C", str(audio.get("quality", 2))]
        run("sox", "-R", str(tmp / "mixed.wav"), *fmt, str(out), *effects)
        return out


def write_manifest(sources: list[CallSource], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "call_id", "manager", "started_at", "direction", "outcome",
                         "client_phone", "script"])
        for src in sorted(sources, key=lambda s: s.file):
            n = src.name_fields
            started = f"{n['date']}T{n['time'].replace('-', ':')}"
            writer.writerow([src.file, n["call_id"], n["manager"], started,
                             n["direction"], src.outcome, n["phone"], src.script])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="source stem to render (repeatable)")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: samples/)")
    args = parser.parse_args(argv)
    sources = [load(p) for p in sorted(SRC.glob("*.yaml"))]
    wanted = [s for s in sources if not args.only or s.path.stem in args.only]
    needed = {"sox", "soxi"} | {
        "text2wave" if v.engine == "festival" else "espeak-ng" for s in wanted for v in s.voices.values()
    }
    for tool in sorted(needed):
        if shutil.which(tool) is None:
            fail(f"'{tool}' is not on PATH; install it (apt-get install espeak-ng sox "
                 "libsox-fmt-all festival festvox-ru festvox-us-slt-hts festvox-kdlpc16k)")
    args.out.mkdir(parents=True, exist_ok=True)
    for src in wanted:
        out = render(src, args.out)
        info = run("soxi", "-r", str(out)).strip(), run("soxi", "-c", str(out)).strip()
        print(f"{out.name}: {seconds(out):.1f} s, {info[0]} Hz, {info[1]} ch, "
              f"{out.stat().st_size / 1024:.0f} KiB")
    write_manifest(sources, args.out / "manifest.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
