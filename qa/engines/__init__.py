"""Where a batch runs: the engines behind ``qa transcribe`` and ``qa score``.

``local`` (the default) is this machine: one process, or a pool of worker processes that
die with the run (:mod:`qa.pipeline`). ``ray`` is a Ray cluster (:mod:`qa.engines.ray_engine`):
a runtime started on this machine for the run, or an existing cluster joined with
``--ray-address auto`` / ``--ray-address HOST:PORT``. Either way the process that runs the
command (the *driver*) does the intake, receives the results as they complete and is the
only one that writes the workspace, through the same :class:`qa.store.Workspace` methods;
so an engine changes where the work is done, never what is saved.

Ray is an optional extra: nothing here imports it until ``--engine ray`` is asked for.
"""

from __future__ import annotations

from typing import Any, Literal

from ..errors import UsageError

#: The engines a batch can run on.
Engine = Literal["local", "ray"]
ENGINES: tuple[str, ...] = ("local", "ray")
#: What to install for ``--engine ray`` (and a PostgreSQL workspace).
CLUSTER_INSTALL = "pip install 'call-qa[cluster]'"


def check_engine(engine: str, ray_address: str | None = None) -> None:
    """Refuse an unknown engine, or a Ray address without the Ray engine (exit 2)."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    if ray_address is not None and engine != "ray":
        raise UsageError(f"--ray-address {ray_address} needs --engine ray")
    if ray_address is not None and not ray_address.strip():
        raise UsageError("--ray-address is empty; give 'auto' or the head node's HOST:PORT")
    if engine == "ray":
        import_ray()


def import_ray() -> Any:
    """The ``ray`` module, or a one-line :class:`~qa.errors.UsageError` saying what to install."""
    try:
        import ray
    except ImportError as e:
        raise UsageError(f"--engine ray needs Ray, which is not installed: {CLUSTER_INSTALL}") from e
    return ray
