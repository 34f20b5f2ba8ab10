#!/usr/bin/env python3
"""Generate the small audio fixtures in ``tests/fixtures/audio/``.

Signals are simple on purpose, so tests can state what decoding must give by hand:

==========================  ======================================================
``stereo_16k.wav``          2.0 s, 16 kHz, 16-bit: left 440 Hz sine at 0.5, right digital silence
``mono_8k.wav``             1.5 s, 8 kHz telephony, mono 300 Hz sine at 0.5
``stereo_44k.flac``         1.0 s, 44.1 kHz: left 440 Hz, right 660 Hz, both at 0.5
``stereo_22k.mp3``          2.0 s, 22.05 kHz: left 440 Hz at 0.5, right silence
``stereo.ogg``              2.0 s, 16 kHz Vorbis: as ``stereo_22k.mp3``
``stereo.opus``             2.0 s, 48 kHz Opus in Ogg: as ``stereo_22k.mp3``
``stereo.m4a``              2.0 s, 16 kHz AAC in MP4: as ``stereo_22k.mp3``
``dual_mono.wav``           2.0 s, 16 kHz: one 440 Hz sine copied to both channels
``empty.wav``               0 bytes (a recording the PBX never wrote)
``not_audio.wav``           a text file with an audio name
``corrupt.mp3``             random bytes with an mp3 name
``truncated.wav``           ``stereo_16k.wav`` cut to its header and 0.5 s of data
``video_only.mp4``          0.5 s of MPEG-4 video, no audio stream
``silence.flac``            10 s, 16 kHz mono: line noise at -66 dBFS, no speech
``hold_music.flac``         12 s, 16 kHz mono: a looping four-note tune, like a PBX hold melody
==========================  ======================================================

Usage: ``python tools/make_fixtures.py`` (needs ``sox`` and ``ffmpeg`` on PATH).
The sox steps run with ``-R`` so the files are the same on every run.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "audio"


def run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"Error: {' '.join(args)} failed: {done.stderr.strip()}", file=sys.stderr)
        raise SystemExit(1)


def sox(*args: str) -> None:
    run("sox", "-R", *args)


def ffmpeg(*args: str) -> None:
    run("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args)


def tone_left_silent_right(path: Path, rate: int, seconds: float, tmp: Path) -> None:
    """Left: 440 Hz at amplitude 0.5; right: digital silence."""
    left, right = tmp / "l.wav", tmp / "r.wav"
    sox("-n", "-r", str(rate), "-c", "1", "-b", "16", str(left), "synth", str(seconds), "sine", "440", "vol", "0.5")
    sox("-n", "-r", str(rate), "-c", "1", "-b", "16", str(right), "trim", "0", str(seconds))
    sox("-M", str(left), str(right), str(path))


def main() -> int:
    for tool in ("sox", "ffmpeg"):
        if shutil.which(tool) is None:
            print(f"Error: '{tool}' is not on PATH; install it (apt-get install sox ffmpeg)", file=sys.stderr)
            return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qa-fixtures-") as name:
        tmp = Path(name)
        tone_left_silent_right(OUT / "stereo_16k.wav", 16000, 2.0, tmp)
        sox("-n", "-r", "8000", "-c", "1", "-b", "16", str(OUT / "mono_8k.wav"), "synth", "1.5", "sine", "300", "vol", "0.5")
        sox("-n", "-r", "44100", "-c", "2", str(OUT / "stereo_44k.flac"), "synth", "1.0",
            "sine", "440", "sine", "660", "vol", "0.5")
        sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(tmp / "mono.wav"), "synth", "2.0", "sine", "440", "vol", "0.5")
        sox("-M", str(tmp / "mono.wav"), str(tmp / "mono.wav"), str(OUT / "dual_mono.wav"))

        base = tmp / "base.wav"
        tone_left_silent_right(base, 22050, 2.0, tmp)
        sox(str(base), "-C", "64", str(OUT / "stereo_22k.mp3"))
        sox(str(base), "-r", "16000", "-C", "3", str(OUT / "stereo.ogg"))
        ffmpeg("-i", str(base), "-ar", "48000", "-c:a", "libopus", "-b:a", "32k", "-map_metadata", "-1",
               "-fflags", "+bitexact", str(OUT / "stereo.opus"))
        ffmpeg("-i", str(base), "-ar", "16000", "-c:a", "aac", "-b:a", "48k", "-map_metadata", "-1",
               "-fflags", "+bitexact", "-flags:a", "+bitexact", str(OUT / "stereo.m4a"))

        (OUT / "empty.wav").write_bytes(b"")
        (OUT / "not_audio.wav").write_text("call notes: client asked for a discount\n", encoding="utf-8")
        (OUT / "corrupt.mp3").write_bytes(random.Random(7).randbytes(4096))
        whole = (OUT / "stereo_16k.wav").read_bytes()
        # 44-byte header + 0.5 s of 16-bit stereo at 16 kHz; the header still says 2 s
        (OUT / "truncated.wav").write_bytes(whole[: 44 + 16000 * 2 * 2 // 2])
        ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=32x32:d=0.5:r=10", "-c:v", "mpeg4", "-an",
               "-map_metadata", "-1", "-fflags", "+bitexact", str(OUT / "video_only.mp4"))

        sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(OUT / "silence.flac"),
            "synth", "10", "whitenoise", "vol", "0.0005")
        notes = []
        for i, freq in enumerate((523.25, 659.25, 783.99, 659.25) * 6):  # C-E-G-E, 0.5 s each
            note = tmp / f"note{i:02d}.wav"
            sox("-n", "-r", "16000", "-c", "1", "-b", "16", str(note), "synth", "0.5",
                "sine", str(freq), "fade", "0.02", "0.5", "0.05", "vol", "0.3")
            notes.append(str(note))
        sox(*notes, str(OUT / "hold_music.flac"))
    for path in sorted(OUT.iterdir()):
        print(f"{path.name}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
