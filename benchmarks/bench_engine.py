"""Benchmark: Ray's overhead against local multiprocessing on one machine, side by side in one run.

Two batches, each run by both engines with the same number of workers, rounds alternating
which engine goes first:

* **transcription**: the bundled sample recordings (``samples/``, with its manifest), from
  scratch into a fresh workspace each time, with ``-j WORKERS``: the local engine's process
  pool against ``--engine ray`` (one actor per worker). Both walls include starting the
  workers and loading one model in each; Ray's runtime start-up (``ray.init`` of a local
  runtime, paid once per command) is timed apart and added in its own column.
* **scoring**: ``--calls`` generated Russian calls (``bench_scoring.make_calls``, stored in a
  workspace first, untimed) scored against the 8-stage test script and 7-objection rubric:
  the local engine (one process, as ``qa score`` scores today) against Ray actors
  (``WORKERS`` of them, started inside the timed run, 50 calls a task). Both save every score.

Prints Markdown tables, the machine (``benchmarks/machine.py``) and its load average.

    python benchmarks/bench_engine.py                       # 2 rounds, 2 workers, 2,000 calls
    python benchmarks/bench_engine.py --rounds 1 --calls 500  # quick look
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)

from qa.engines.ray_engine import RayEngine  # noqa: E402
from qa.pipeline import score_calls, transcribe_paths  # noqa: E402
from qa.scripts import load_rubric, load_script  # noqa: E402
from qa.store import Workspace  # noqa: E402

SAMPLES = ROOT / "samples"
SCRIPT = ROOT / "tests" / "fixtures" / "scripts" / "sales.ru.yaml"
RUBRIC = ROOT / "tests" / "fixtures" / "scripts" / "objections.ru.yaml"


def transcribe_once(engine: str | RayEngine, workers: int) -> tuple[float, float, int]:
    """One transcription of the samples into a fresh workspace: (wall s, audio s, files)."""
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp, Workspace(Path(tmp) / "ws") as ws:
        started = time.perf_counter()
        result = transcribe_paths([SAMPLES], ws, manifest=SAMPLES / "manifest.csv", workers=workers, engine=engine)
        wall = time.perf_counter() - started
    if result.failed or result.cached or not result.transcribed:
        raise SystemExit(f"Error: unexpected batch result: {result.failed or result.cached}")
    return wall, result.audio_seconds, len(result.transcribed)


def score_once(ws: Workspace, ids: list[str], engine: str | RayEngine, workers: int) -> float:
    script, rubric = load_script(SCRIPT), load_rubric(RUBRIC)
    started = time.perf_counter()
    calls, _ = score_calls(ws, ids, script, rubric, engine=engine, workers=workers)
    wall = time.perf_counter() - started
    if len(calls) != len(ids):
        raise SystemExit(f"Error: {len(calls)} of {len(ids)} calls scored")
    return wall


def store_calls(ws: Workspace, n: int) -> list[str]:
    from bench_scoring import make_calls  # benchmarks/bench_scoring.py

    calls, _ = make_calls(n, load_script(SCRIPT), load_rubric(RUBRIC))
    for t in calls:
        ws.save_call(t, cache_key=f"bench:{t.call_id}")
    return [t.call_id for t in calls]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2, help="rounds of both engines, order alternating (default 2)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="workers / actors (default: cores)")
    ap.add_argument("--calls", type=int, default=2000, help="generated calls to score (default 2000)")
    ap.add_argument("--skip-transcription", action="store_true", help="only the scoring comparison")
    args = ap.parse_args(argv)

    load_before = os.getloadavg()
    ray_engine = RayEngine(workers=args.workers)
    started = time.perf_counter()
    ray_engine.start()
    ray_start = time.perf_counter() - started
    runs: dict[str, list[tuple[float, float, int]]] = {"local": [], "ray": []}
    scoring: dict[str, list[float]] = {"local": [], "ray": []}
    try:
        with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp, Workspace(Path(tmp) / "ws") as ws:
            ids = store_calls(ws, args.calls)
            for r in range(args.rounds):
                order = ["local", "ray"] if r % 2 == 0 else ["ray", "local"]
                for name in order:
                    engine: str | RayEngine = "local" if name == "local" else ray_engine
                    if not args.skip_transcription:
                        runs[name].append(transcribe_once(engine, args.workers))
                        print(f"round {r + 1} {name} transcription: {runs[name][-1][0]:.1f} s", file=sys.stderr)
                    scoring[name].append(score_once(ws, ids, engine, args.workers))
                    print(f"round {r + 1} {name} scoring: {scoring[name][-1]:.1f} s", file=sys.stderr)
    finally:
        ray_engine.stop()
    load_after = os.getloadavg()

    print(f"Machine: {cpu_model()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}; "
          f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after. "
          f"{args.workers} workers, {args.rounds} round(s).\n")
    print(f"Ray runtime start-up (`ray.init`, local, once per command): {ray_start:.1f} s\n")
    if not args.skip_transcription:
        print("| transcription engine | files | wall s (sum) | audio s per wall s | per worker | "
              "vs local | with Ray start-up |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        local_rate = _rate(runs["local"])
        for name in ("local", "ray"):
            wall = sum(w for w, _, _ in runs[name])
            rate = _rate(runs[name])
            with_start = ""
            if name == "ray":
                audio = sum(a for _, a, _ in runs[name])
                with_start = f"{audio / (wall + ray_start * len(runs[name])):.1f}"
            print(f"| {name} | {runs[name][0][2]} | {wall:.1f} | {rate:.1f} | {rate / args.workers:.1f} | "
                  f"{rate / local_rate:.2f}x | {with_start} |")
        print()
    print("| scoring engine | calls | wall s (sum) | calls/s | vs local |")
    print("|---|---:|---:|---:|---:|")
    base = len(scoring["local"]) * args.calls / sum(scoring["local"])
    for name in ("local", "ray"):
        rate = len(scoring[name]) * args.calls / sum(scoring[name])
        label = "local (1 process)" if name == "local" else f"ray ({args.workers} actors)"
        print(f"| {label} | {args.calls:,} | {sum(scoring[name]):.1f} | {rate:.0f} | {rate / base:.2f}x |")
    return 0


def _rate(runs: list[tuple[float, float, int]]) -> float:
    return sum(a for _, a, _ in runs) / sum(w for w, _, _ in runs)


if __name__ == "__main__":
    raise SystemExit(main())
