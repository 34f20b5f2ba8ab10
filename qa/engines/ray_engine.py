"""Ray as the engine: transcription and scoring of one batch on a Ray cluster.

A run has four phases:

1. **runtime** (:class:`RayEngine`): join the cluster named by ``--ray-address`` (``auto``,
   or the head node's ``HOST:PORT``) before any work, or start a Ray runtime on this machine
   for the run and shut it down at the end. Inside a process where Ray is already running (a
   notebook, a test), that runtime is used and left running. A local runtime starts when
   the first task needs it, so a batch that is all cache hits never starts one.
2. **pool** (:class:`_Pool`): one actor per CPU core of the cluster (or per GPU with
   ``--device cuda``), or ``--workers N``. Each actor loads its model once, when it starts.
3. **stream** (:func:`_stream`): tasks are submitted as actors become free, at most
   ``per_actor`` in flight on each, so a batch of 50,000 files never sits in memory or in
   the object store at once. A recording travels as its bytes, read when its task is
   submitted: worker nodes need no shared disk. Results come back in completion order.
   A task whose actor (or node) died is tried again on another actor (the dead one is
   replaced by a fresh process, placed wherever the cluster has room), up to
   :data:`ATTEMPTS` tries; only then does its file fail.
4. **save**: not here. The driver (the process running the command) receives each result
   once and saves it through :class:`qa.store.Workspace`, exactly as the local engine does;
   it is the only writer, and a retried task's first try is never read, so no call is
   saved twice (the save is an upsert keyed by call id besides).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import QAError, UsageError
from . import import_ray

if TYPE_CHECKING:
    from ..scripts import Rubric, Script
    from ..transcribe import TranscribeOptions
    from ..transcripts import CallMeta, Transcript

log = logging.getLogger("qa")
T = TypeVar("T")

#: Tries of one task (the first included) before its file fails: a file that kills every
#: worker it is given must not take the whole cluster down with it.
ATTEMPTS = 3
#: Calls sent to a scoring actor in one task (scoring one call takes about 2 ms, so one
#: call per task would be mostly Ray's overhead).
SCORE_CHUNK = 50


@dataclass(frozen=True)
class Lost:
    """A task that could not be done (its worker kept dying, or it raised): why, one line."""

    reason: str


# ---- phase 1: the runtime -------------------------------------------------------------------
class RayEngine:
    """A Ray runtime for one batch (or several: pass the same engine to each run).

    ``address``: None starts a local runtime (``num_cpus``: default one per core, or
    ``workers`` when that is more); ``"auto"`` or ``"HOST:PORT"`` joins a running cluster.
    ``workers``: actors per phase, 0 = one per CPU core of the cluster (per GPU on CUDA).

    Example::

        with RayEngine("auto") as engine:
            transcribe_paths(["/calls/2026-11-29"], ws, engine=engine)
    """

    def __init__(
        self, address: str | None = None, *, workers: int = 0, num_cpus: int | None = None,
        attempts: int = ATTEMPTS,
    ) -> None:
        if workers < 0:
            raise UsageError(f"--workers must be 0 or more, got {workers}")
        self.address = address
        self.workers = workers
        self.num_cpus = num_cpus
        self.attempts = max(1, attempts)
        self._started = False
        self._owned = False  # this engine started the runtime, so it stops it

    def __enter__(self) -> RayEngine:
        import_ray()  # fail now, with the install line, not at the first task
        if self.address is not None:
            self.start()  # a wrong address is the user's to fix: say so before any work is done
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Join the cluster or start the local runtime (once; later calls do nothing)."""
        if self._started:
            return
        ray = import_ray()
        if not ray.is_initialized():
            if self.address is None:
                self._start_local(ray)
            else:
                self._join(ray)
            self._owned = True
        self._started = True

    def _start_local(self, ray: Any) -> None:
        try:
            ray.init(**self._init_args())
        except BaseException:
            # What it had started goes too (its processes also die with this one: Ray ties
            # a local runtime's processes to the process that started it).
            ray.shutdown()
            raise

    def _init_args(self) -> dict[str, Any]:
        cpus = self.num_cpus or max(os.cpu_count() or 1, self.workers)
        # No dashboard, and the workers' own logs stay in the session folder: the command's
        # progress and summary are the same as with local workers.
        return {"address": "local", "num_cpus": cpus, "include_dashboard": False,
                "log_to_driver": False, "logging_level": logging.ERROR}

    def _join(self, ray: Any) -> None:
        try:
            ray.init(address=self.address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, ValueError, RuntimeError, TimeoutError) as e:
            reason = str(e).strip().split("\n", 1)[0] or type(e).__name__
            raise UsageError(
                f"--ray-address {self.address}: cannot join the Ray cluster ({reason}); start it "
                "with `ray start --head` on the head node, or check the address"
            ) from e

    def stop(self) -> None:
        """Shut down the runtime this engine started (a joined cluster keeps running)."""
        if self._started and self._owned:
            import_ray().shutdown()
        self._started = self._owned = False

    # -- sizing ---------------------------------------------------------------------------
    def _size(self, device: str, tasks: int) -> tuple[int, bool]:
        """How many actors, and whether each takes a GPU (``auto``: when the cluster has any)."""
        ray = import_ray()
        res = ray.cluster_resources()
        cpus, gpus = int(res.get("CPU", 0)), int(res.get("GPU", 0))
        gpu = device == "cuda" or (device == "auto" and gpus > 0)
        if device == "cuda" and gpus == 0:
            raise UsageError(
                "--device cuda: the Ray cluster has no GPU; start GPU workers with "
                "`ray start --address HEAD:6379 --num-gpus 1`, or use --device cpu"
            )
        capacity = max(1, gpus if gpu else cpus)
        # More actors than the cluster can place would wait for resources forever.
        return max(1, min(self.workers or capacity, capacity, tasks)), gpu

    # -- phases 2-3 for transcription -------------------------------------------------------
    def transcribe(
        self,
        jobs: Iterable[tuple[T, Path, CallMeta]],
        options: TranscribeOptions,
        *,
        total: int,
        on_retry: Callable[[T, str], None] | None = None,
    ) -> Iterator[tuple[T, Transcript | Lost]]:
        """Transcribe ``(token, path, meta)`` jobs on the cluster; yield ``(token, result)``
        as each completes. ``total``: how many jobs (sizes the pool)."""
        self.start()
        count, gpu = self._size(options.device, total)
        worker_options = dataclasses.replace(
            options, device="cuda" if gpu else "cpu",
            # one core per CPU actor, as the local pool gives one per worker process
            cpu_threads=options.cpu_threads or (0 if gpu else 1),
        )
        actor = _remote(TranscribeWorker).options(num_cpus=1, num_gpus=1 if gpu else 0)
        pool = _Pool(lambda: actor.remote(worker_options), count)

        def submit(worker: Any, job: tuple[T, Path, CallMeta]) -> Any:
            _, path, meta = job
            try:
                data = path.read_bytes()  # now, not up front: bounded by what is in flight
            except OSError as e:
                return Lost(f"{path}: cannot read ({e.strerror or e}); check the file and rerun")
            return worker.transcribe.remote(path.suffix, data, meta)

        retry = (lambda job, why: on_retry(job[0], why)) if on_retry else None
        for job, got in _stream(pool, jobs, submit, per_actor=1, attempts=self.attempts, on_retry=retry):
            if isinstance(got, Lost):
                yield job[0], got
            elif got[0] == "ok":
                yield job[0], got[1]
            else:
                yield job[0], Lost(got[1].replace(_TMP_NAME, str(job[1])))

    # -- phases 2-3 for scoring --------------------------------------------------------------
    def score(
        self,
        calls: Iterable[tuple[Transcript, Script, Rubric | None]],
        scripts: Sequence[Script],
        rubrics: Sequence[Rubric],
        meaning: Any = None,
        *,
        total: int,
        save_vectors: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> Iterator[tuple[Transcript, Script, Rubric | None, tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]] | Lost]]:
        """Score ``(transcript, script, rubric)`` on the cluster, :data:`SCORE_CHUNK` calls a
        task; yield each call with ``(summary, items, row)`` (see
        :func:`qa.pipeline.score_transcript`) or :class:`Lost`. ``meaning``: one
        MeaningOptions, or a dict ``(script index, rubric index or None) -> options``. With it, the actors
        embed what they need and the new vectors come back to ``save_vectors(model, vectors)``.
        No call to score: no runtime is started."""
        pending = iter(calls)
        first = next(pending, None)
        if first is None:
            return
        calls = itertools.chain([first], pending)
        self.start()
        count, _ = self._size("cpu", max(1, total))
        # Enough chunks for every actor to have two, and never more than SCORE_CHUNK calls.
        size = max(1, min(SCORE_CHUNK, math.ceil(total / (2 * count)))) if total else SCORE_CHUNK
        s_index = {id(s): i for i, s in enumerate(scripts)}
        r_index = {id(r): i for i, r in enumerate(rubrics)}
        actor = _remote(ScoreWorker).options(num_cpus=1)
        ray = import_ray()
        configs = ray.put((list(scripts), list(rubrics), meaning))  # once, shared by every actor
        pool = _Pool(lambda: actor.remote(configs), count)

        def submit(worker: Any, chunk: list[tuple[Transcript, Script, Rubric | None]]) -> Any:
            return worker.score.remote([
                (t, s_index[id(s)], None if r is None else r_index[id(r)]) for t, s, r in chunk
            ])

        for chunk, got in _stream(pool, _chunks(calls, size), submit, per_actor=2, attempts=self.attempts):
            if isinstance(got, Lost):
                for t, s, r in chunk:
                    yield t, s, r, got
                continue
            scored, vectors = got
            if save_vectors is not None:
                for model, vecs in vectors.items():
                    save_vectors(model, vecs)
            for (t, s, r), one in zip(chunk, scored):
                yield t, s, r, one


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_REMOTE: dict[type, Any] = {}


def _remote(cls: type) -> Any:
    """``ray.remote(cls)``, made once per process (each call would export the class again)."""
    if cls not in _REMOTE:
        _REMOTE[cls] = import_ray().remote(cls)
    return _REMOTE[cls]


# ---- phase 2: the actors ----------------------------------------------------------------------
#: The name a recording gets on the worker (its suffix kept: the decoder looks at it).
_TMP_NAME = "qa-recording"


class TranscribeWorker:
    """A Ray actor holding one speech model, loaded once when the actor starts.

    It never raises for a bad file: ``transcribe`` returns ``("ok", transcript)`` or
    ``("failed", one-line reason)``, so a user's mistake is not mistaken for a dead worker.
    A model that cannot be loaded fails each file with the reason, as a local worker does.
    """

    def __init__(self, options: TranscribeOptions) -> None:
        from ..transcribe import Transcriber

        self.folder = _work_folder()
        self.transcriber = Transcriber(options)
        self.error: str | None = None
        try:
            self.transcriber.recognizer  # noqa: B018  (loads the model: once per actor)
        except QAError as e:
            self.error = str(e)

    def pid(self) -> int:
        return os.getpid()

    def transcribe(self, suffix: str, data: bytes, meta: CallMeta) -> tuple[str, Any]:
        if self.error is not None:
            return "failed", self.error
        _sweep_dead_folders()
        path = self.folder / f"{_TMP_NAME}{suffix}"
        try:
            path.write_bytes(data)
            return "ok", self.transcriber.transcribe(path, meta)
        except QAError as e:
            return "failed", _unnamed(str(e), path)
        except Exception as e:  # a bug on one file must cost that file, not the worker
            return "failed", _unnamed(f"transcription failed: {type(e).__name__}: {e}", path)
        finally:
            path.unlink(missing_ok=True)


#: Each transcription actor's folder for the recording it works on: ``<prefix><pid>-<random>``.
WORK_PREFIX = "qa-ray-worker-"


def _work_folder() -> Path:
    """A folder for this actor's copy of the recording in hand (in the node's temp folder)."""
    _sweep_dead_folders()
    return Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{os.getpid()}-"))


def _sweep_dead_folders() -> None:
    """Remove the folders of actors that are gone from this node. An actor killed in the
    middle of a file leaves that recording's copy (personal data) behind; the next actor
    to start or take a file on the node removes it."""
    for folder in Path(tempfile.gettempdir()).glob(f"{WORK_PREFIX}*"):
        pid = folder.name[len(WORK_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, under another user
        return True
    return True


def _unnamed(message: str, path: Path) -> str:
    """``message`` with the worker's copy of the recording called ``_TMP_NAME`` (the driver
    puts the recording's own path there)."""
    return message.replace(str(path), _TMP_NAME).replace(path.name, _TMP_NAME)


class ScoreWorker:
    """A Ray actor that scores chunks of calls against the batch's scripts and rubrics
    (sent once); with the meaning layer, its encoder is loaded once and the vectors it
    computes are kept for the actor's life and handed back to be saved in the workspace."""

    def __init__(self, configs: tuple[list[Script], list[Rubric], Any]) -> None:
        self.scripts, self.rubrics, self.meaning = configs
        self.cache = _NewVectors()
        self.layers: dict[tuple[int, int | None], Any] = {}

    def pid(self) -> int:
        return os.getpid()

    def score(self, chunk: list[tuple[Transcript, int, int | None]]) -> tuple[list[Any], dict[str, dict[str, Any]]]:
        from ..pipeline import score_transcript

        out = []
        for t, si, ri in chunk:
            script = self.scripts[si]
            rubric = None if ri is None else self.rubrics[ri]
            out.append(score_transcript(t, script, rubric, self._layer(si, ri)))
        return out, self.cache.take_new()

    def _layer(self, si: int, ri: int | None) -> Any:
        # ``meaning``: one MeaningOptions for every pair, or a dict (script index, rubric
        # index) -> options (each version with its calibration profile applied)
        options = self.meaning.get((si, ri)) if isinstance(self.meaning, dict) else self.meaning
        if options is None:
            return None
        if (si, ri) not in self.layers:
            from ..meaning.items import script_matchers

            rubric = None if ri is None else self.rubrics[ri]
            self.layers[(si, ri)] = script_matchers(self.scripts[si], rubric, options, cache=self.cache)
        return self.layers[(si, ri)]


class _NewVectors:
    """An in-memory :class:`qa.meaning.VectorCache` that remembers what was added since the
    last :meth:`take_new` (the vectors the driver still has to save)."""

    def __init__(self) -> None:
        self._all: dict[tuple[str, str], Any] = {}
        self._new: dict[str, dict[str, Any]] = {}

    def get_many(self, model: str, keys: Sequence[str]) -> dict[str, Any]:
        return {k: self._all[(model, k)] for k in keys if (model, k) in self._all}

    def put_many(self, model: str, vectors: Mapping[str, Any]) -> None:
        for k, v in vectors.items():
            self._all[(model, k)] = v
            self._new.setdefault(model, {})[k] = v

    def take_new(self) -> dict[str, dict[str, Any]]:
        new, self._new = self._new, {}
        return new


# ---- phase 3: the stream ----------------------------------------------------------------------
class _Pool:
    """The actors of one phase, in slots. A dead actor's slot gets a fresh actor (the
    cluster places it wherever there is room: another node when its node died), up to
    ``spares`` replacements in all; after that the slot stays empty."""

    def __init__(self, make: Callable[[], Any], size: int, spares: int | None = None) -> None:
        self._make = make
        self.slots: list[Any] = [make() for _ in range(size)]
        self.spares = 2 * size + 1 if spares is None else spares

    def replace(self, dead: Any) -> None:
        ray = import_ray()
        for i, actor in enumerate(self.slots):
            if actor is dead:
                _kill(ray, actor)
                self.slots[i] = None
                if self.spares > 0:
                    self.spares -= 1
                    self.slots[i] = self._make()

    def close(self) -> None:
        ray = import_ray()
        for actor in self.slots:
            if actor is not None:
                _kill(ray, actor)
        self.slots = []


def _kill(ray: Any, actor: Any) -> None:
    try:
        ray.kill(actor, no_restart=True)
    except Exception:  # already gone, or the runtime is shutting down
        log.debug("killing a Ray actor", exc_info=True)


_END = object()


def _stream(
    pool: _Pool,
    tasks: Iterable[T],
    submit: Callable[[Any, T], Any],
    *,
    per_actor: int,
    attempts: int,
    on_retry: Callable[[T, str], None] | None = None,
) -> Iterator[tuple[T, Any]]:
    """Run ``tasks`` on ``pool``: each yielded once, with its result or :class:`Lost`.

    ``submit(actor, task)`` returns the task's object ref (or a :class:`Lost` when the task
    cannot even be sent). At most ``per_actor`` tasks wait on one actor. A task whose actor
    died is queued again (ahead of new ones) for the next free actor, up to ``attempts``
    tries; its earlier try is never read. The pool's actors are killed at the end, and when
    the caller stops early (Ctrl-C).
    """
    ray = import_ray()
    from ray.exceptions import RayError, RayTaskError

    source = iter(tasks)
    again: deque[tuple[T, int]] = deque()
    inflight: dict[Any, tuple[Any, T, int]] = {}  # ref -> (actor, task, try number)
    exhausted = False

    def take() -> tuple[T, int] | None:
        nonlocal exhausted
        if again:
            return again.popleft()
        if exhausted:
            return None
        nxt = next(source, _END)
        if nxt is _END:
            exhausted = True
            return None
        return nxt, 1  # type: ignore[return-value]

    try:
        while True:
            lost: list[tuple[T, Lost]] = []
            for actor in list(pool.slots):
                busy = sum(1 for a, _, _ in inflight.values() if a is actor)
                while actor is not None and busy < per_actor and (got := take()) is not None:
                    task, attempt = got
                    ref = submit(actor, task)
                    if isinstance(ref, Lost):
                        lost.append((task, ref))
                        continue
                    inflight[ref] = (actor, task, attempt)
                    busy += 1
            yield from lost
            if not inflight:
                if exhausted and not again:
                    return
                if not any(a is not None for a in pool.slots):
                    raise QAError("every Ray worker died and none could be replaced; check the "
                                  "worker nodes (memory, logs under /tmp/ray/session_latest/logs)")
                continue  # every task taken this round was lost before it was sent
            [ref], _ = ray.wait(list(inflight), num_returns=1)
            actor, task, attempt = inflight.pop(ref)
            try:
                value = ray.get(ref)
            except RayTaskError as e:  # the task itself raised: trying again would do the same
                cause = e.cause if getattr(e, "cause", None) is not None else e
                yield task, Lost(f"failed on a Ray worker: {type(cause).__name__}: {_first_line(cause)}")
                continue
            except RayError as e:  # the actor, its process or its node died
                pool.replace(actor)
                why = f"{type(e).__name__}: {_first_line(e)}"
                if attempt < attempts:
                    log.warning("a Ray worker died (%s); trying its task again (try %d of %d)",
                                why, attempt + 1, attempts)
                    if on_retry is not None:
                        on_retry(task, why)
                    again.append((task, attempt + 1))
                else:
                    yield task, Lost(f"a Ray worker died on each of {attempts} tries ({why}); "
                                     "check this file and the worker nodes' memory")
                continue
            yield task, value
    finally:
        pool.close()


def _first_line(e: BaseException) -> str:
    return (str(e).strip().split("\n", 1)[0] or type(e).__name__)[:300]
