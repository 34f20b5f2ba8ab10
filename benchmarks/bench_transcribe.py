"""Benchmark: transcribing the sample calls, ours vs plain faster-whisper, in one run.

Baseline, written as a user would: ``WhisperModel(<the embedded model folder>, device="cpu",
compute_type="int8")`` and ``model.transcribe(path)`` per file with default options (beam 5,
no VAD, previous text as prompt, temperature fallback; a stereo file is mixed to mono),
sequentially, joining the segments' text.

Ours: :func:`qa.pipeline.transcribe_paths` (what ``qa transcribe`` runs) over the same files
into a fresh temporary workspace (so nothing comes from the cache), default
:class:`qa.transcribe.TranscribeOptions` (each channel on its own, VAD speech only, clips
batched with fitted encoder context, word timings, hallucination guard), metadata from the
manifest; once with one worker process (``--workers 1``, CTranslate2 threads on all cores,
like the baseline) and once with one single-threaded worker per core (``--workers N``).

Every timing runs from creating the model to the last transcript (model load included;
ours also hashes files and writes the workspace). To even out a busy machine, the systems
run in rounds, the order rotating each round, and their wall times are added up.

Word error rate is computed per call against the source texts in ``samples/src`` (all
turns in order, both sides: the baseline mixes the channels) and summed over the corpus
(errors / reference words), after the project's ``match`` normalisation (case,
punctuation, number words to digits, fillers). For ours the per-role WER is shown too.

Prints a Markdown table and the machine.

``--telephone`` measures the telephone path instead: only the samples recorded at 8 kHz
(Asterisk-named Russian calls, stereo and mono mu-law, band-limited to 300-3400 Hz). The
baseline is then plain faster-whisper as a careful user would run it on such calls: each
channel of a stereo file on its own (``model.transcribe(channel, language=<the call's>)``,
no VAD), the mono file as it is; ours gets ``--language`` too. Per-role WER compares the
manager's channel with the manager's turns (and the client's likewise) for both systems.

    python benchmarks/bench_transcribe.py              # 2 rounds over samples/
    python benchmarks/bench_transcribe.py --rounds 1   # quicker look
    python benchmarks/bench_transcribe.py --telephone  # 8 kHz calls, per channel baseline
    python benchmarks/bench_transcribe.py --memory long.wav  # peak memory of one worker
    python benchmarks/bench_transcribe.py --roles      # mono role attribution accuracy

``--roles`` mixes every stereo sample down to mono, transcribes it (language given, the
direction from the manifest) and counts the words whose role is right: the true speaker of
a word is the channel where it is louder in the stereo original (the samples have one side
silent while the other speaks). Words left ``unknown`` count as wrong.

``--memory FILE`` transcribes one (long) recording the way one worker does
(:class:`qa.transcribe.Transcriber`, model included) in a child process and prints its peak
resident memory. A two-hour silent stereo call to try it on::

    sox -R -n -r 8000 -c 2 -b 16 long.wav synth 7200 whitenoise vol 0.002
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)

from qa.normalize import normalize  # noqa: E402
from qa.pipeline import transcribe_paths  # noqa: E402
from qa.speech_model import resolve_model  # noqa: E402
from qa.store import Workspace  # noqa: E402
from qa.transcribe import TranscribeOptions  # noqa: E402


@dataclass
class Call:
    path: Path
    language: str
    reference: str  # all turns in order
    by_role: dict[str, str]
    rate: int = 16000
    channels: int = 2


@dataclass
class Run:
    name: str
    wall: float = 0.0
    audio: float = 0.0
    texts: dict[str, str] = field(default_factory=dict)  # file name -> text
    role_texts: dict[str, dict[str, str]] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)


def load_calls(samples: Path) -> list[Call]:
    calls = []
    for src in sorted((samples / "src").glob("*.yaml")):
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
        turns = data["turns"]
        calls.append(
            Call(
                path=samples / data["file"],
                language=data["language"],
                reference=" ".join(t["text"] for t in turns),
                by_role={r: " ".join(t["text"] for t in turns if t["role"] == r) for r in ("manager", "client")},
                rate=int((data.get("audio") or {}).get("rate", 16000)),
                channels=int((data.get("audio") or {}).get("channels", 2)),
            )
        )
    return calls


def norm(text: str, language: str) -> str:
    # "400,000" is one number, not a decimal: drop thousands separators first
    return normalize(re.sub(r"(?<=\d)[,\u00a0 ](?=\d{3}\b)", "", text), language)


def errors(reference: str, hypothesis: str, language: str) -> tuple[int, int]:
    """(word errors, reference words) after normalisation."""
    import jiwer

    ref, hyp = norm(reference, language), norm(hypothesis, language)
    out = jiwer.process_words(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


def run_baseline(calls: list[Call], model_dir: str) -> Run:
    from faster_whisper import WhisperModel

    run = Run("faster-whisper, plain")
    started = time.perf_counter()
    model = WhisperModel(model_dir, device="cpu", compute_type="int8")
    for call in calls:
        segments, info = model.transcribe(str(call.path))
        run.texts[call.path.name] = " ".join(s.text.strip() for s in segments)
        run.audio += info.duration
    run.wall = time.perf_counter() - started
    return run


def run_baseline_channels(calls: list[Call], model_dir: str) -> Run:
    """Plain faster-whisper per channel (stereo) or on the mono file, language given, no VAD."""
    from faster_whisper import WhisperModel

    from qa.audio import decode

    run = Run("faster-whisper, plain, per channel")
    started = time.perf_counter()
    model = WhisperModel(model_dir, device="cpu", compute_type="int8")
    for call in calls:
        decoded = decode(call.path)
        texts = []
        for channel in decoded.channels:
            segments, _ = model.transcribe(channel, language=call.language)
            texts.append(" ".join(s.text.strip() for s in segments))
        run.texts[call.path.name] = " ".join(texts)
        if decoded.n_channels == 2:
            run.role_texts[call.path.name] = {"manager": texts[0], "client": texts[1]}
        run.audio += decoded.duration
    run.wall = time.perf_counter() - started
    return run


def run_ours(calls: list[Call], options: TranscribeOptions, manifest: Path | None, workers: int) -> Run:
    run = Run("call-qa (qa transcribe)")
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        started = time.perf_counter()
        with Workspace(Path(tmp) / "ws") as ws:
            result = transcribe_paths([c.path for c in calls], ws, options, manifest=manifest, workers=workers)
            run.wall = time.perf_counter() - started
            if result.failed or result.cached or len(result.transcribed) != len(calls):
                raise SystemExit(f"Error: unexpected batch result: {result}")
            run.audio = result.audio_seconds
            by_source = {}
            for call_id in result.call_ids:
                t = ws.transcript(call_id)
                by_source[Path(t.meta.source or "").resolve()] = t
            for call in calls:
                t = by_source[call.path.resolve()]
                run.texts[call.path.name] = t.text()
                run.role_texts[call.path.name] = {r: t.text([r]) for r in ("manager", "client")}
                run.flags[call.path.name] = list(t.quality.get("flags", []))
    return run


def wer_table(run: Run, calls: list[Call]) -> dict[str, float]:
    """Corpus WER overall and per language; per role too when the run has roles."""
    sums: dict[str, list[int]] = {}

    def add(key: str, e: int, n: int) -> None:
        s = sums.setdefault(key, [0, 0])
        s[0] += e
        s[1] += n

    for call in calls:
        e, n = errors(call.reference, run.texts[call.path.name], call.language)
        add("all", e, n)
        add(call.language, e, n)
        for role, ref in call.by_role.items():
            if call.path.name in run.role_texts and call.channels == 2:
                add(role, *errors(ref, run.role_texts[call.path.name][role], call.language))
    return {k: e / n for k, (e, n) in sums.items() if n}


def measure_memory(path: Path) -> int:
    """Transcribe ``path`` in a child process; print and return its peak RSS in MiB."""
    code = (
        "import resource, sys, time; sys.path.insert(0, sys.argv[2]);"
        "from qa.transcribe import Transcriber;"
        "t0 = time.perf_counter(); t = Transcriber().transcribe(sys.argv[1]);"
        "print(f'{t.duration:.0f} s audio in {time.perf_counter() - t0:.0f} s, flags {t.quality[\"flags\"]}');"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path), str(ROOT)], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()
    peak = int(out[-1])
    print(f"{path.name}: {out[0]}; peak resident memory of the worker: {peak} MiB")
    return peak


def measure_roles(calls: list[Call], manifest: Path) -> None:
    """Role attribution on the stereo samples mixed down to mono (see the module docstring)."""
    import csv

    import numpy as np

    from qa.audio import DecodedAudio, as_float32, decode
    from qa.transcribe import Transcriber
    from qa.transcripts import CallMeta

    directions = {}
    with open(manifest, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            directions[row["file"]] = row["direction"]
    transcriber = Transcriber()
    print("| call | language | words | right role | unknown | decided |\n|---|---|---:|---:|---:|---|")
    total = right_total = 0
    for call in calls:
        d = decode(call.path, compact=True)
        if d.n_channels != 2:
            continue
        mono = DecodedAudio((d.mono(),), d.sample_rate, d.source_sample_rate)
        t = Transcriber(replace(transcriber.options, language=call.language),
                        recognizer=transcriber.recognizer).transcribe(
            call.path, CallMeta(call_id=call.path.stem, direction=directions.get(call.path.name)), decoded=mono)

        def level(ch: np.ndarray, start: float, end: float) -> float:
            x = as_float32(ch[int(start * 16000) : int(end * 16000) + 1]).astype(np.float64)
            return float((x**2).mean()) if x.size else 0.0

        words = right = unknown = 0
        for u in t.utterances:
            for w in u.words:
                truth = "manager" if level(d.channels[0], w.start, w.end) >= level(d.channels[1], w.start, w.end) \
                    else "client"
                words += 1
                right += u.role == truth
                unknown += u.role == "unknown"
        total += words
        right_total += right
        print(f"| {call.path.name} | {call.language} | {words} | {right / max(words, 1):.3f} | {unknown} | "
              f"{t.quality['roles'].get('roles')} |")
    print(f"| all | | {total} | **{right_total / max(total, 1):.3f}** | | |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=Path, default=ROOT / "samples", help="folder with src/*.yaml and the audio")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both systems, alternating order")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="ours, second row: worker processes (default: one per core)")
    parser.add_argument("--telephone", action="store_true",
                        help="the 8 kHz samples only, against plain faster-whisper per channel")
    parser.add_argument("--language", default="ru", help="with --telephone: the calls' language (default ru)")
    parser.add_argument("--memory", type=Path, help="only measure one worker's peak memory on this recording")
    parser.add_argument("--roles", action="store_true", help="only measure mono role attribution")
    args = parser.parse_args(argv)
    if args.memory is not None:
        measure_memory(args.memory)
        return 0
    if args.roles:
        measure_roles(load_calls(args.samples), args.samples / "manifest.csv")
        return 0

    import ctranslate2
    import faster_whisper

    calls = load_calls(args.samples)
    if args.telephone:
        calls = [c for c in calls if c.rate <= 8000 and c.language == args.language]
        if not calls:
            raise SystemExit(f"Error: no 8 kHz samples in language {args.language}")
    manifest = args.samples / "manifest.csv"
    model_dir = resolve_model("embedded").name_or_path  # joined and verified once, before timing
    options = TranscribeOptions(language=args.language) if args.telephone else TranscribeOptions()
    baseline = run_baseline_channels if args.telephone else run_baseline

    systems = {
        "baseline": lambda: baseline(calls, model_dir),
        "ours-1": lambda: run_ours(calls, options, manifest if manifest.is_file() else None, 1),
        f"ours-{args.workers}": lambda: run_ours(calls, options, manifest if manifest.is_file() else None, args.workers),
    }
    names = list(systems)
    titles = {"baseline": "faster-whisper, plain, per channel, language given (sequential)"
              if args.telephone else "faster-whisper, plain (sequential)", "ours-1": "call-qa, 1 worker",
              f"ours-{args.workers}": f"call-qa, {args.workers} workers x 1 thread"}
    totals = {name: Run(titles[name]) for name in names}
    last: dict[str, Run] = {}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            run = systems[name]()
            print(f"round {r + 1}: {titles[name]}: {run.audio:.0f} s audio in {run.wall:.1f} s "
                  f"({run.audio / run.wall:.1f}x real time)", file=sys.stderr)
            totals[name].wall += run.wall
            totals[name].audio += run.audio
            last[name] = run

    werr = {name: wer_table(last[name], calls) for name in names}
    speed = {name: totals[name].audio / totals[name].wall for name in names}
    audio_once = totals["baseline"].audio / args.rounds
    kind = "telephone (8 kHz) " if args.telephone else ""
    print(f"## Transcription: {len(calls)} {kind}sample calls, {audio_once:.0f} s of audio, "
          f"{args.rounds} round(s)\n")
    print("| system | wall s (all rounds) | audio s per wall s | vs baseline | WER | WER en | WER ru "
          "| WER manager | WER client |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        w = werr[name]

        def cell(key: str, w: dict[str, float] = w) -> str:
            return f"{w[key]:.3f}" if key in w else "-"

        print(f"| {titles[name]} | {totals[name].wall:.1f} | {speed[name]:.1f} | "
              f"{speed[name] / speed['baseline']:.2f}x | {cell('all')} | {cell('en')} | {cell('ru')} | "
              f"{cell('manager')} | {cell('client')} |")
    print(f"\nMachine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
          f"faster-whisper {faster_whisper.__version__}, ctranslate2 {ctranslate2.__version__}; "
          "model: embedded Whisper base, int8 on CPU.")
    print(f"Ours: beam {options.beam_size}, batch {options.batch_size}, VAD {options.vad}, "
          f"fitted context {options.fit_context}, word timestamps {options.word_timestamps}. "
          "WER: corpus word error rate against samples/src after match normalisation; "
          + ("per role: stereo calls only, the baseline's channels taken as the roles."
             if args.telephone else "the baseline has no roles."))
    for name in names:
        for file, flags in last[name].flags.items():
            if flags:
                print(f"{titles[name]}: {file}: flags {', '.join(flags)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
