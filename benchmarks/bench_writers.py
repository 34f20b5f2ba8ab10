"""Benchmark: many writer processes at once on one PostgreSQL workspace (and on SQLite).

Each writer is a process of its own, as a transcription or scoring machine would be: it
opens the workspace and saves calls the way ``qa score`` does, one transaction per call
(``save_call``: transcript, call row, search index of ~40 utterances) and one per score
(``save_score``: ~20 items with evidence, from bench_supervisor.py's generator). The
``--calls`` calls are split between N writers (disjoint sets), N = 1, 2, 4, 8 by default;
a last run has every writer save the SAME calls, in its own order (the worst overlap).
After each run the workspace is counted: every call once, one score each, its items once,
its utterances indexed once, so "lost" and "duplicated" are measured, not assumed.

SQLite (one file, WAL) runs the same for comparison: its writers take turns.

Run: ``python benchmarks/bench_writers.py --calls 2000`` (a throwaway PostgreSQL server is
started and stopped, as in bench_backends.py; or ``--pg postgresql://...``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_backends import _given, server_version, throwaway_server
from bench_supervisor import _items_for_call
from machine import cpu_model

from qa.store import ITEM_COLUMNS, Workspace
from qa.transcripts import CallMeta, Transcript, Utterance

WORDS_EN = ("price", "apartment", "viewing", "budget", "garden", "school", "parking", "instalment", "saturday",
            "family", "finishing", "mortgage")
WORDS_RU = ("цена", "квартира", "просмотр", "бюджет", "ипотека", "парковка", "школа", "отделка", "суббота",
            "семья", "рассрочка", "договор")
UTTERANCES = 40


def make_call(n: int) -> tuple[Transcript, dict[str, Any], list[dict[str, Any]]]:
    """Call ``n``: a transcript of 40 utterances (Russian or English) and its score."""
    rng = random.Random(n)
    words = WORDS_RU if n % 2 else WORDS_EN
    utts, t = [], 0.0
    for i in range(UTTERANCES):
        length = rng.uniform(1.5, 8.0)
        text = " ".join(rng.choice(words) for _ in range(rng.randint(4, 14)))
        utts.append(Utterance(role="manager" if i % 2 == 0 else "client", start=round(t, 2),
                              end=round(t + length, 2), text=text))
        t += length + rng.uniform(0.2, 1.5)
    cid = f"w{n:07d}"
    meta = CallMeta(call_id=cid, source=f"/recordings/{cid}.wav", manager=f"manager_{n % 20:02d}",
                    started_at=f"2024-05-{1 + n % 28:02d}T{9 + n % 9:02d}:00:00", direction="in")
    transcript = Transcript(meta=meta, utterances=utts, language="ru" if n % 2 else "en", duration=t)
    rows, summary = _items_for_call(rng, rng.uniform(0.75, 1.3))
    items = [dict(zip(ITEM_COLUMNS, (*row, None, None))) for row in rows]
    return transcript, summary, items


def writer(spec: str, ids: list[int], barrier: Any, times: Any) -> None:
    calls = [make_call(n) for n in ids]  # made before the start: only the writes are timed
    with Workspace(spec) as ws:
        barrier.wait()
        t0 = time.perf_counter()
        for transcript, summary, items in calls:
            ws.save_call(transcript, cache_key=f"key-{transcript.call_id}")
            ws.save_score(transcript.call_id, script_hash="bench", rubric_hash="none", summary=summary, items=items)
        times.put((t0, time.perf_counter()))


def run(spec: str, n_writers: int, calls: int, *, same: bool) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    Workspace(spec).close()  # the schema, before the clock starts
    ids = list(range(calls))
    parts = [ids[::-1] if same and k % 2 else list(ids) for k in range(n_writers)] if same else \
        [ids[k::n_writers] for k in range(n_writers)]
    barrier, times = ctx.Barrier(n_writers), ctx.Queue()
    procs = [ctx.Process(target=writer, args=(spec, part, barrier, times)) for part in parts]
    for p in procs:
        p.start()
    spans = [times.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a writer failed (exit {p.exitcode})")
    wall = max(e for _, e in spans) - min(s for s, _ in spans)
    with Workspace(spec) as ws:
        n_calls, distinct = ws.query("SELECT COUNT(*), COUNT(DISTINCT call_id) FROM calls")[0]
        n_scores = ws.query("SELECT COUNT(*) FROM scores")[0][0]
        expected_items = sum(len(make_call(n)[2]) for n in ids)
        n_items = ws.query("SELECT COUNT(*) FROM items")[0][0]
        n_utts = ws.search_stats()[1]
    return {
        "wall": wall, "written": calls * (n_writers if same else 1),
        "lost": calls - distinct, "duplicated": (n_calls - distinct) + (n_scores - calls) + (n_items - expected_items)
        + (n_utts - calls * UTTERANCES),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000, help="calls per run")
    ap.add_argument("--writers", default="1,2,4,8", help="writer processes per run, comma-separated")
    ap.add_argument("--pg", default=None, help="an empty PostgreSQL database instead of a throwaway server")
    ap.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = ap.parse_args(argv)
    counts = [int(x) for x in args.writers.split(",")]

    with (throwaway_server() if args.pg is None else _given(args.pg)) as url, tempfile.TemporaryDirectory() as tmp:
        sep = "&" if "?" in url else "?"
        print(f"{args.calls:,} calls per run (transcript of {UTTERANCES} utterances indexed for search, a score with "
              f"~20 items: two transactions per call)")
        print(f"CPU: {cpu_model()} ({os.cpu_count()} cores, shared by the writers, the server and other users); "
              f"Python {sys.version.split()[0]}; PostgreSQL {server_version(url)} on this machine over TCP")
        print()
        print("| database | writers | calls each | wall (s) | calls/s | vs 1 writer | lost | duplicated |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        backends = [("PostgreSQL", lambda tag: f"{url}{sep}schema=w_{tag}")]
        if not args.no_sqlite:
            backends.append(("SQLite (WAL)", lambda tag: str(Path(tmp) / f"ws_{tag}")))
        for name, spec_of in backends:
            base = None
            for n in counts:
                r = run(spec_of(f"{n}"), n, args.calls, same=False)
                rate = args.calls / r["wall"]
                base = base or rate
                print(f"| {name} | {n} | {args.calls // n:,} | {r['wall']:.1f} | {rate:.0f} | {rate / base:.2f} | "
                      f"{r['lost']} | {r['duplicated']} |", flush=True)
            n = max(counts[-1], 2)
            r = run(spec_of(f"same{n}"), n, args.calls, same=True)
            print(f"| {name}, all writers save the same calls | {n} | {args.calls:,} (same) | {r['wall']:.1f} | "
                  f"{r['written'] / r['wall']:.0f} saves | - | {r['lost']} | {r['duplicated']} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
