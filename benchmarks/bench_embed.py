"""Benchmark: the meaning layer's embedding cost per call, one core, both encoders.

Embeds real dialogue utterances (CaSiNo, CC BY 4.0: the 396 dialogues under
``/work/shared/data/casino`` when present, else the 12-dialogue test slice) with each installed
encoder, pinned to one thread, cold (nothing cached) and again from a warm
:class:`~qa.meaning.MemoryVectorCache`; then runs :func:`qa.meaning.best_items` for five items
per call. Prints a Markdown table: utterances/s, calls/s at the data's utterances per call,
and the decision cost per call.

    python benchmarks/bench_embed.py                 # both encoders, up to 1,000 utterances
    python benchmarks/bench_embed.py --encoders use --limit 4000
    python benchmarks/bench_embed.py --score-calls 400 --workers 2   # scoring, cached vectors

``--score-calls N``: instead, scoring with cached vectors side by side (issue 12's "scoring
with cached vectors stays >= 200 calls/s on 2 cores"): ``benchmarks/bench_scoring.py``'s
synthetic Russian calls, their word windows embedded into a workspace beforehand (not
timed), then scored fuzzy only and fuzzy + meaning (USE), in one process and in ``--workers``
processes (each opens the workspace and reads the vectors from SQLite, as ``qa score`` does).

``--against DIR`` (with ``--score-calls``): the same measurement, in the same run and on the
same workspace, with another checkout's ``qa`` (e.g. an export of main), taking turns with
this one for ``--rounds`` rounds, so that both see the same load on a shared machine::

    git -C /work/main archive 6f10923 | tar -x -C /tmp/base
    python benchmarks/bench_embed.py --score-calls 600 --workers 2 --against /tmp/base --rounds 2
    python benchmarks/bench_embed.py --score-calls 300 --against /tmp/base --interleave --rounds 3

``--interleave``: one process, the two checkouts in turns call by call (CPU time per call,
medians): the steadiest comparison on a machine whose speed changes under other tenants.
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


# ---- scoring with cached vectors (--score-calls) ---------------------------------------------
_STATE: dict[str, object] = {}


def _init(ws_path: str, meaning: bool) -> None:
    from bench_scoring import RUBRIC, SCRIPT, load_rubric, load_script

    from qa.meaning import MeaningOptions
    from qa.meaning.items import script_matchers
    from qa.store import Workspace

    script, rubric = load_script(SCRIPT), load_rubric(RUBRIC)
    ws = Workspace(ws_path)
    layer = script_matchers(script, rubric, MeaningOptions(), cache=ws.vector_cache()) if meaning else None
    _STATE.update(script=script, rubric=rubric, ws=ws, layer=layer)


def _score(chunk: list) -> int:
    from qa.scoring import score_call

    for t in chunk:
        score_call(t, _STATE["script"], _STATE["rubric"], meaning=_STATE["layer"])  # type: ignore[arg-type]
    return len(chunk)


def _rate(calls: list, ws_path: str, meaning: bool, workers: int) -> tuple[float, float]:
    """Calls per wall second and per CPU second of the scoring process(es) (after a warm-up
    chunk per process, not timed). On a shared machine the CPU figure is what one idle core
    would do; the wall figure is what this run got."""
    from concurrent.futures import ProcessPoolExecutor

    size = max(1, len(calls) // (max(workers, 1) * 8))
    chunks = [calls[i:i + size] for i in range(0, len(calls), size)]
    if workers <= 1:
        _init(ws_path, meaning)
        _score(chunks[0])
        t0, c0 = time.perf_counter(), time.process_time()
        n = sum(_score(c) for c in chunks)
        return n / (time.perf_counter() - t0), n / (time.process_time() - c0)
    with ProcessPoolExecutor(workers, initializer=_init, initargs=(ws_path, meaning)) as pool:
        list(pool.map(_score, chunks[:workers]))
        t0, c0 = time.perf_counter(), _children_cpu()
        n = sum(pool.map(_score, chunks))
        wall = time.perf_counter() - t0
        return n / wall, float("nan") if c0 is None else n / max(_children_cpu() - c0, 1e-9)  # type: ignore[operator]


def _children_cpu() -> float | None:
    """CPU seconds of this process's live children (Linux /proc), None elsewhere."""
    import multiprocessing

    total = 0.0
    try:
        tick = os.sysconf("SC_CLK_TCK")
        for p in multiprocessing.active_children():
            fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    except (OSError, ValueError, AttributeError):
        return None
    return total


def _calls(n: int) -> list:
    """``n`` synthetic calls (the same ones in every process: the seed is fixed)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_scoring import RUBRIC, SCRIPT, load_rubric, load_script, make_calls

    return make_calls(n, load_script(SCRIPT), load_rubric(RUBRIC), 7)[0]


def _embed_windows(calls: list, ws_path: str) -> int:
    """Every word window of the calls embedded into the workspace (not timed); how many."""
    from bench_scoring import RUBRIC, SCRIPT, load_rubric, load_script

    from qa.meaning import MeaningOptions, windows
    from qa.meaning.items import script_matchers
    from qa.store import Workspace

    with Workspace(ws_path) as ws:
        layer = script_matchers(load_script(SCRIPT), load_rubric(RUBRIC), MeaningOptions(),
                                cache=ws.vector_cache())
        texts = [w for t in calls for w in windows([u.text for u in t.utterances])[0]]
        for i in range(0, len(texts), 512):
            layer.embed(texts[i:i + 512])
    return len(texts)


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def _rows(calls: list, ws_path: str, workers: int, label: str = "") -> None:
    """One table row per scorer: calls/s and calls per CPU second, 1 and ``workers`` processes."""
    for meaning in (False, True):
        load = _load()
        one, one_cpu = _rate(calls, ws_path, meaning, 1)
        many, many_cpu = _rate(calls, ws_path, meaning, workers)
        name = "fuzzy + meaning (USE), cached vectors" if meaning else "fuzzy only"
        head = f"| {label} | {load:.1f} " if label else ""
        print(f"{head}| {name} | {one:.0f} ({one_cpu:.0f}) | {many:.0f} ({many_cpu:.0f}) |", flush=True)


def score_bench(n: int, workers: int, against: Path | None = None, rounds: int = 1) -> None:
    import subprocess
    import tempfile

    calls = _calls(n)
    with tempfile.TemporaryDirectory() as tmp:
        windows = _embed_windows(calls, tmp)
        print(f"{n} synthetic calls ({windows / n:.0f} word windows each, vectors cached), "
              f"{cpu_model()}, {os.cpu_count()} CPUs, load average {_load():.1f}, "
              f"Python {platform.python_version()}\n")
        if against is None:
            print(f"| scorer | 1 process: calls/s (calls per CPU s) | {workers} processes: calls/s "
                  "(calls per CPU s, summed over the processes) |")
            print("|---|---:|---:|")
            _rows(calls, tmp, workers)
            return
        print(f"| code | load avg | scorer | 1 process: calls/s (calls per CPU s) | {workers} "
              "processes: calls/s (calls per CPU s, summed over the processes) |")
        print("|---|---:|---|---:|---:|", flush=True)
        trees = [(f"{against.name} (before)", against.resolve()), ("this checkout", ROOT)]
        for _ in range(rounds):
            for label, tree in trees:
                subprocess.run([sys.executable, __file__, "--score-calls", str(n), "--workers",
                                str(workers), "--rows-for", str(tree), "--workspace", tmp,
                                "--label", label], check=True)


def _package_as(tree: Path, name: str):  # type: ignore[no-untyped-def]
    """Another checkout's ``qa`` imported under ``name`` (qa's own imports are relative)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        name, tree / "qa" / "__init__.py", submodule_search_locations=[str(tree / "qa")])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _as_package(value, name: str):  # type: ignore[no-untyped-def]
    """A value of ``qa``'s dataclasses (a transcript) rebuilt from package ``name``'s."""
    import dataclasses

    if isinstance(value, (list, tuple)):
        return type(value)(_as_package(v, name) for v in value)
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return value
    module = sys.modules[type(value).__module__.replace("qa", name, 1)]
    cls = getattr(module, type(value).__name__)
    return cls(**{f.name: _as_package(getattr(value, f.name), name)
                  for f in dataclasses.fields(value) if f.init})


def interleaved(n: int, against: Path, rounds: int) -> None:
    """One process, call by call: this checkout and ``against`` take turns on every call
    (which goes first alternates), fuzzy only and fuzzy + meaning; the medians of CPU time
    per call. Noise on a shared machine (other tenants, clock changes) hits both alike."""
    import importlib
    import statistics
    import tempfile

    _package_as(against.resolve(), "qa_before")
    from bench_scoring import RUBRIC, SCRIPT

    calls = _calls(n)
    sides = {}
    with tempfile.TemporaryDirectory() as tmp:
        windows = _embed_windows(calls, tmp)
        for label, pkg in ((f"{against.name} (before)", "qa_before"), ("this checkout", "qa")):
            scripts = importlib.import_module(f"{pkg}.scripts")
            script, rubric = scripts.load_script(SCRIPT), scripts.load_rubric(RUBRIC)
            ws = importlib.import_module(f"{pkg}.store").Workspace(tmp)
            opts = importlib.import_module(f"{pkg}.meaning").MeaningOptions()
            items = importlib.import_module(f"{pkg}.meaning.items")
            score = importlib.import_module(f"{pkg}.scoring").score_call
            importlib.import_module(f"{pkg}.transcripts")
            own = calls if pkg == "qa" else [_as_package(t, pkg) for t in calls]
            sides[label] = (script, rubric, ws, opts, items, score, own)
        print(f"{n} synthetic calls x {rounds} rounds ({windows / n:.0f} word windows each, vectors "
              f"cached), one process, {cpu_model()}, {os.cpu_count()} CPUs, load average "
              f"{_load():.1f}, Python {platform.python_version()}\n")
        times: dict[tuple[str, bool], list[float]] = {(k, m): [] for k in sides for m in (False, True)}
        labels = list(sides)
        for r in range(rounds):
            # a fresh layer per round: its vectors are read from SQLite again, as in a new run
            layers = {k: s[4].script_matchers(s[0], s[1], s[3], cache=s[2].vector_cache())
                      for k, s in sides.items()}
            for i in range(len(calls)):
                for k in (labels if (i + r) % 2 == 0 else labels[::-1]):
                    script, rubric, _, _, _, score, own = sides[k]
                    for meaning in (False, True):
                        c0 = time.process_time()
                        score(own[i], script, rubric, meaning=layers[k] if meaning else None)
                        times[(k, meaning)].append(time.process_time() - c0)
        print("| code | fuzzy only: ms CPU per call | fuzzy + meaning: ms CPU per call | the meaning "
              "layer: ms CPU per call | fuzzy + meaning: calls per CPU s |")
        print("|---|---:|---:|---:|---:|")
        for k in labels:
            f, m = (1e3 * statistics.median(times[(k, x)]) for x in (False, True))
            print(f"| {k} | {f:.2f} | {m:.2f} | {m - f:.2f} | {1e3 / m:.0f} |")
        print(f"\nmedians of {n * rounds} calls each; load average at the end {_load():.1f}")


def rows_for(tree: Path, n: int, workers: int, ws_path: str, label: str) -> None:
    """In a child process: the rows of one checkout (its ``qa`` first on the path)."""
    sys.path.insert(0, str(tree))
    for name in [m for m in sys.modules if m == "qa" or m.startswith("qa.")]:
        del sys.modules[name]
    import qa

    assert Path(qa.__file__).resolve().is_relative_to(tree.resolve()), qa.__file__
    _rows(_calls(n), ws_path, workers, label)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--encoders", default="use,e5")
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--score-calls", type=int, default=0,
                    help="instead: scoring with cached vectors on this many synthetic calls")
    ap.add_argument("--workers", type=int, default=2, help="processes for --score-calls (default 2)")
    ap.add_argument("--against", type=Path, help="with --score-calls: also another checkout's qa, in turns")
    ap.add_argument("--rounds", type=int, default=1, help="with --against: turns of each (default 1)")
    ap.add_argument("--interleave", action="store_true",
                    help="with --against: one process, the two checkouts in turns call by call")
    ap.add_argument("--rows-for", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--workspace", help=argparse.SUPPRESS)
    ap.add_argument("--label", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.rows_for:
        rows_for(a.rows_for, a.score_calls, a.workers, a.workspace, a.label)
        return
    if a.score_calls and a.interleave:
        if a.against is None:
            ap.error("--interleave needs --against DIR")
        interleaved(a.score_calls, a.against, a.rounds)
        return
    if a.score_calls:
        score_bench(a.score_calls, a.workers, a.against, a.rounds)
        return
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
