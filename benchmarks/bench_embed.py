"""Benchmark: the meaning layer's embedding cost per call, one core, both encoders.

Embeds real dialogue utterances (CaSiNo, CC BY 4.0: the 396 dialogues under
``/work/shared/data/casino`` when present, else the 12-dialogue test slice) with each installed
encoder, pinned to one thread, cold (nothing cached) and again from a warm
:class:`~qa.meaning.MemoryVectorCache`; then runs :func:`qa.meaning.best_items` for five items
per call. Prints a Markdown table: utterances/s, calls/s at the data's utterances per call,
and the decision cost per call.

    python benchmarks/bench_embed.py                 # both encoders, up to 1,000 utterances
    python benchmarks/bench_embed.py --encoders use --limit 4000
"""

from __future__ import annotations

import os

# one core: set before numpy / the engines load their thread pools
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import cpu_model  # noqa: E402  (benchmarks/machine.py)

from qa.meaning import MeaningError, MemoryVectorCache, best_items, embed, encoder  # noqa: E402

DATA = Path("/work/shared/data/casino/dialogues")
SLICE = ROOT / "tests" / "fixtures" / "casino_slice" / "dialogues"


def load(limit: int) -> tuple[list[str], float]:
    folder = DATA if DATA.is_dir() else SLICE
    calls = [[ln.split(": ", 1)[1] for ln in f.read_text(encoding="utf-8").splitlines() if ": " in ln]
             for f in sorted(folder.glob("*.txt"))]
    texts = [t for c in calls for t in c][:limit]
    return texts, float(np.mean([len(c) for c in calls]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--encoders", default="use,e5")
    ap.add_argument("--limit", type=int, default=1000)
    a = ap.parse_args()
    texts, per_call = load(a.limit)
    print(f"{len(texts)} utterances ({per_call:.1f} per call), one thread, "
          f"{cpu_model()}, Python {platform.python_version()}\n")
    print("| encoder | load s | utterances/s (cold, 1 core) | calls/s | cached utterances/s "
          "| decide 5 items, ms/call |")
    print("|---|---|---|---|---|---|")
    for name in a.encoders.split(","):
        try:
            t0 = time.perf_counter()
            enc = encoder(name, threads=1)
            enc.encode(["warm up"])
            load_s = time.perf_counter() - t0
        except MeaningError as e:
            print(f"| {name} | not installed: {e} | | | | |")
            continue
        cache = MemoryVectorCache()
        t0 = time.perf_counter()
        vecs = embed(texts, enc, cache)
        cold = len(texts) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        embed(texts, enc, cache)
        warm = len(texts) / (time.perf_counter() - t0)
        ex = {f"item{i}": vecs[i * 5:(i + 1) * 5] for i in range(5)}
        n = int(round(per_call))
        calls = [vecs[i:i + n] for i in range(0, len(vecs) - n + 1, n)]
        t0 = time.perf_counter()
        for c in calls:
            best_items(c, ex, 0.5, 0.02)
        decide_ms = 1000 * (time.perf_counter() - t0) / max(len(calls), 1)
        print(f"| {enc.name} | {load_s:.2f} | {cold:,.0f} | {cold / per_call:,.1f} | "
              f"{warm:,.0f} | {decide_ms:.2f} |")


if __name__ == "__main__":
    main()
