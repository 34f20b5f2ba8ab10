"""Benchmark: the supervisor views on PostgreSQL against SQLite, side by side in one run.

The workspace is the one of ``bench_supervisor.py`` (``--calls`` scored calls, default
100,000: 20 managers, 90 days, ~20 items per call), built there into SQLite (cached under
``--cache``), then copied into PostgreSQL with :meth:`qa.store.Workspace.copy_to` (COPY, then
ANALYZE). Each view of ``bench_supervisor.py`` runs ``--repeat`` times on each database,
alternating, and the table shows the median wall seconds on both and their ratio, after a
check that the two give the same leaderboard.

PostgreSQL: ``--pg postgresql://...`` (an empty database; a schema ``bench_<calls>`` is made
in it), or by default a throwaway server started here (``initdb`` in a temp folder, run as
the ``postgres`` user when root, local port; stopped at the end), with the settings printed.

Run: ``python benchmarks/bench_backends.py --calls 100000 --cache /tmp/qa_bench``
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bench_supervisor
from bench_supervisor import _time, _views, cached_workspace  # the same workspace and views
from machine import cpu_model

from qa.store import ITEM_COLUMNS, Workspace

# bench_supervisor's generated items stop at ``utterance`` (no ``layer``: nothing found them
# by meaning) while its insert names every column: until it fills ``layer``, name the ones it fills.
if len(bench_supervisor._items_for_call(random.Random(0), 1.0)[0][0]) + 1 == len(ITEM_COLUMNS) - 1:
    bench_supervisor.ITEM_COLUMNS = tuple(c for c in ITEM_COLUMNS if c != "layer")

#: Settings of the throwaway server: a small dedicated database machine's, not the defaults
#: of a laptop (shared_buffers 128MB). Durability stays on (fsync, synchronous_commit).
SERVER_SETTINGS = {"shared_buffers": "1GB", "work_mem": "64MB", "max_connections": "200"}


def _bindir() -> Path:
    out = shutil.which("pg_config") and subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
    for c in ([Path(out.stdout.strip())] if out else []) + sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (c / "initdb").exists():
            return c
    raise SystemExit("no PostgreSQL binaries (initdb); install Debian's postgresql or pass --pg URL")


@contextmanager
def throwaway_server(settings: dict[str, str] | None = None) -> Iterator[str]:
    """A PostgreSQL server of its own for this run; yields the admin URL; always stopped."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="qa-bench-pg-"))
    as_postgres = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
    if as_postgres:
        shutil.chown(root, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                    "--locale=C.UTF-8"], check=True, capture_output=True)
    opts = f"-p {port} -k {root} -h 127.0.0.1 " + " ".join(f"-c {k}={v}" for k, v in (settings or SERVER_SETTINGS).items())
    started = False

    def stop() -> None:
        nonlocal started
        if started:
            subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                           capture_output=True)
            started = False
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    try:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", opts,
                        "start"], check=True, capture_output=True)
        started = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        stop()


def server_version(url: str) -> str:
    with Workspace(url) as ws:
        return str(ws.query("SHOW server_version")[0][0])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/qa_bench_supervisor"), help="where the SQLite workspace is cached")
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--managers", type=int, default=20)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=3, help="runs per view and database")
    ap.add_argument("--pg", default=None, help="an empty PostgreSQL database to use instead of a throwaway server")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    lite, built = cached_workspace(args.cache, calls=args.calls, managers=args.managers, days=args.days)
    built_s = built if built is not None else time.perf_counter() - t0
    n_items = lite.query("SELECT COUNT(*) FROM items")[0][0]
    with (throwaway_server() if args.pg is None else _given(args.pg)) as url:
        pg_url = url + ("&" if "?" in url else "?") + f"schema=bench_{args.calls}"
        pg = Workspace(pg_url)
        t0 = time.perf_counter()
        if not pg.query("SELECT COUNT(*) FROM calls")[0][0]:
            lite.copy_to(pg)
        copy_s = time.perf_counter() - t0
        assert pg.query("SELECT COUNT(*) FROM items")[0][0] == n_items
        import pandas as pd

        from qa import scorecards

        pd.testing.assert_frame_equal(scorecards.team(lite), scorecards.team(pg))  # the same answer first
        print(f"Workspace: {args.calls:,} calls, {n_items:,} items, {args.managers} managers, {args.days} days; "
              f"SQLite {'built' if built is not None else 'cached'} ({built_s:.0f} s), copied to PostgreSQL in "
              f"{copy_s:.0f} s (COPY + ANALYZE)")
        print(f"CPU: {cpu_model()} ({os.cpu_count()} cores, shared); Python {sys.version.split()[0]}; "
              f"PostgreSQL {server_version(pg_url)} on this machine over TCP"
              + (f" ({', '.join(f'{k}={v}' for k, v in SERVER_SETTINGS.items())})" if args.pg is None else ""))
        print()
        print("| view | SQLite median (s) | PostgreSQL median (s) | PostgreSQL / SQLite | SQLite CPU (s) | PG client CPU (s) |")
        print("|---|---:|---:|---:|---:|---:|")
        for (name, fn_lite), (_, fn_pg) in zip(_views(lite), _views(pg)):
            lite_t, pg_t, lite_cpu, pg_cpu = [], [], [], []
            for _ in range(args.repeat):  # alternate, so load on the machine falls on both
                _, m, c, _ = _time(fn_lite, 1)
                lite_t.append(m)
                lite_cpu.append(c)
                _, m, c, _ = _time(fn_pg, 1)
                pg_t.append(m)
                pg_cpu.append(c)
            a, b = statistics.median(lite_t), statistics.median(pg_t)
            print(f"| {name} | {a:.2f} | {b:.2f} | {b / a:.2f} | {statistics.median(lite_cpu):.2f} | "
                  f"{statistics.median(pg_cpu):.2f} |")
        pg.close()
    lite.close()
    return 0


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    raise SystemExit(main())
