"""Benchmark: importing a month's PBX call log and the missed-calls report over it.

Writes an Asterisk ``Master.csv`` for a 50-manager department over 30 days (default
200,000 rows: inbound calls, a share missed, ring-group legs, callbacks, outbound calls,
internal calls; 21 columns with ``peeraccount, linkedid, sequence``), cached under
``--cache DIR``, then times, each in a fresh workspace:

- ``pandas.read_csv`` of the file (a reference: parsing only, no classification);
- :func:`qa.calllog.read_log` (parse + classify every row);
- :func:`qa.calllog.import_log` (parse + classify + store; what ``qa missed LOG`` does);
- the same import again (idempotent: every row already stored);
- :func:`qa.calllog.missed_report` for the month (what ``qa missed`` then prints) and for
  one week (the calls block of ``qa scorecard`` for a week).

Target: the import well under a minute. Prints a Markdown table.

Run: ``python benchmarks/bench_calllog.py --cache /tmp/qa_bench_calllog``
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from machine import cpu_model  # benchmarks/machine.py (the script's folder is on sys.path)

from qa.calllog import import_log, missed_report, read_log
from qa.store import Workspace


def _cells(start: datetime, src: str, dst: str, channel: str, dstchannel: str, disposition: str,
           billsec: int, uid: str, linked: str, seq: int) -> str:
    answered = disposition == "ANSWERED"
    ans = (start + timedelta(seconds=4)).isoformat(sep=" ") if answered else ""
    dur = billsec + 4 if answered else 25
    end = (start + timedelta(seconds=dur)).isoformat(sep=" ")
    q = [
        "", src, dst, "from-trunk" if len(src) > 5 else "from-internal", f'"{src}" <{src}>', channel, dstchannel,
        "Dial", f"{dstchannel.split('-')[0]},60", start.isoformat(sep=" "), ans, end,
    ]
    tail = [disposition, "DOCUMENTATION", uid, "", "", linked]
    head = ",".join('"' + c.replace('"', '""') + '"' for c in q)
    return f'{head},{dur},{billsec},' + ",".join('"' + c + '"' for c in tail) + f",{seq}"


def make_log(path: Path, rows: int, managers: int = 50, days: int = 30, seed: int = 7) -> None:
    rnd = random.Random(seed)
    exts = [str(100 + i) for i in range(managers)]
    clients = [f"79{rnd.randrange(10**9):09d}" for _ in range(rows // 6)]
    out: list[str] = []
    start = datetime(2026, 10, 1, 9, 0, 0)
    n = 0
    seq = 0
    while len(out) < rows:
        day = start + timedelta(days=rnd.randrange(days))
        t = day + timedelta(seconds=rnd.randrange(9 * 3600))
        uid = f"{int(t.timestamp())}.{n}"
        n += 1
        seq += 1
        kind = rnd.random()
        client = rnd.choice(clients)
        ext = rnd.choice(exts)
        if kind < 0.45:  # inbound, straight to an extension
            missed = rnd.random() < 0.15
            out.append(_cells(t, client, ext, f"SIP/trunk-{n:08x}", f"SIP/{ext}-{n:08x}",
                              "NO ANSWER" if missed else "ANSWERED", 0 if missed else rnd.randrange(20, 600),
                              uid, uid, seq))
            if missed and rnd.random() < 0.7:  # a callback, mostly soon
                cb = t + timedelta(minutes=rnd.expovariate(1 / 40))
                out.append(_cells(cb, ext, "8" + client[1:], f"SIP/{ext}-{n:08x}", f"SIP/trunk-{n:08x}",
                                  rnd.choice(["ANSWERED", "ANSWERED", "NO ANSWER"]), rnd.randrange(0, 300),
                                  f"{uid}1", f"{uid}1", seq))
        elif kind < 0.55:  # a ring group: three legs, one call
            winner = rnd.randrange(4)
            for leg in range(3):
                e = exts[(exts.index(ext) + leg) % managers]
                out.append(_cells(t, client, "600", f"SIP/trunk-{n:08x}", f"SIP/{e}-{n:08x}{leg}",
                                  "ANSWERED" if leg == winner else "NO ANSWER",
                                  rnd.randrange(20, 400) if leg == winner else 0, uid, uid, seq))
        elif kind < 0.9:  # outbound
            out.append(_cells(t, ext, "8" + client[1:], f"SIP/{ext}-{n:08x}", f"SIP/trunk-{n:08x}",
                              rnd.choice(["ANSWERED", "NO ANSWER", "BUSY"]), rnd.randrange(0, 500), uid, uid, seq))
        else:  # internal
            other = rnd.choice(exts)
            out.append(_cells(t, ext, other, f"SIP/{ext}-{n:08x}", f"SIP/{other}-{n:08x}",
                              "ANSWERED", rnd.randrange(5, 120), uid, uid, seq))
    path.write_text("\n".join(out[:rows]) + "\n", encoding="utf-8")


def machine() -> str:
    model = cpu_model()
    try:
        load = Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        load = "?"
    import os

    return f"{model}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, load average {load}"


def timed(label: str, fn, results: list[tuple[str, float, float]]) -> object:  # type: ignore[no-untyped-def]
    """Wall and CPU seconds: on a shared, overloaded machine the CPU time is the steadier figure."""
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    results.append((label, time.perf_counter() - t0, time.process_time() - c0))
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa_bench_calllog"))
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    log = args.cache / f"Master_{args.rows}.csv"
    if not log.exists():
        t0 = time.perf_counter()
        make_log(log, args.rows)
        print(f"wrote {log} ({log.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    ws_dir = args.cache / "ws"
    shutil.rmtree(ws_dir, ignore_errors=True)
    results: list[tuple[str, float, float]] = []

    import pandas as pd

    timed("pandas.read_csv (reference: parse only)", lambda: pd.read_csv(log, header=None, dtype=str), results)
    parsed = timed("qa.calllog.read_log (parse + classify)", lambda: read_log(log), results)
    with Workspace(ws_dir) as ws:
        first = timed("import_log into a fresh workspace", lambda: import_log(ws, log), results)
        again = timed("import_log again (idempotent)", lambda: import_log(ws, log), results)
        report = timed("missed_report, the whole month", lambda: missed_report(ws, window="30m"), results)
        timed("missed_report, one week (what qa scorecard's calls block reads)",
              lambda: missed_report(ws, "2026-10-05", "2026-10-11"), results)
    assert first.new == first.rows == len(parsed.rows) and again.new == 0  # type: ignore[attr-defined]
    team = report.row("(team)")  # type: ignore[attr-defined]
    print(f"Machine: {machine()}\n")
    print(f"{args.rows:,} rows, {log.stat().st_size / 1e6:.1f} MB; {first.internal:,} internal; "  # type: ignore[attr-defined]
          f"team: {team['inbound']:,} inbound, {team['missed']:,} missed, "
          f"{team['called_back_in_time']:,} called back in time\n")
    print("| step | wall s | CPU s | rows per wall second |")
    print("|---|---:|---:|---:|")
    for label, seconds, cpu in results:
        print(f"| {label} | {seconds:.2f} | {cpu:.2f} | {args.rows / seconds:,.0f} |")


if __name__ == "__main__":
    main()
