"""The batch runs behind ``qa transcribe`` and ``qa score`` (and notebooks).

``transcribe_paths`` takes files and folders, works out which are recordings and which are
transcripts made elsewhere, attaches call metadata (file-name template and/or manifest),
and stores one transcript per call in the workspace. A recording already transcribed with
the same model and options (cache key: audio content + model + options) is never
transcribed again, and every call is saved in its own transaction as soon as it is done,
so a killed run resumes where it stopped (its worker processes die with it). Files with
the same content share one cached transcript but stay separate calls, each with its own id
and metadata. One bad file is recorded as failed with a one-line reason; the rest of the
batch completes.

``score_paths`` runs the same intake, then scores every call of the batch against a
script and rubric and stores the results under their content hashes, so rescoring with an
edited script reuses the cached transcripts.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import QAError
from .paths import call_path, displayable
from .scripts import ConfigChooser, ScriptRule, pick_config  # noqa: F401  (pick_config: re-exported)
from .store import Workspace
from .transcripts import CallMeta, Transcript

if TYPE_CHECKING:
    import pandas as pd

    from .engines.ray_engine import RayEngine
    from .managers import ManagerMap
    from .metadata import Manifest
    from .scripts import Rubric, Script
    from .transcribe import TranscribeOptions

log = logging.getLogger("qa")

# Extensions are duplicated from qa.audio / qa.importers lazily (see _kinds) so that
# discovery does not import the decoder.


@dataclass(frozen=True)
class ProgressEvent:
    """Sent to the ``progress`` callback after each file."""

    done: int
    total: int
    path: str
    status: str  # transcribed | cached | imported | failed
    audio_seconds: float  # audio processed so far in this run (transcribed files)
    elapsed: float


@dataclass
class BatchResult:
    """What a transcription run did, file by file."""

    transcribed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    call_ids: list[str] = field(default_factory=list)
    #: transcribed/cached files that need review -> why (qa.transcribe.review_labels)
    review: dict[str, list[str]] = field(default_factory=dict)
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.transcribed) + len(self.cached) + len(self.imported) + len(self.failed)


def _kinds() -> tuple[frozenset[str], frozenset[str]]:
    from .audio import AUDIO_EXTENSIONS
    from .importers import TRANSCRIPT_EXTENSIONS

    return frozenset(AUDIO_EXTENSIONS), frozenset(TRANSCRIPT_EXTENSIONS)


def discover(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[Path], list[tuple[str, str]]]:
    """Split ``paths`` (files or folders, recursive) into recordings and transcripts.

    Files named explicitly with an unsupported type, and paths that do not exist, come back
    as failures; unsupported files found inside folders (manifests, notes) are ignored.
    """
    audio_ext, transcript_ext = _kinds()
    audio: list[Path] = []
    transcripts: list[Path] = []
    failed: list[tuple[str, str]] = []
    seen: set[Path] = set()

    def add(p: Path, explicit: bool) -> None:
        ext = p.suffix.lower()
        if ext in audio_ext or ext in transcript_ext:
            key = p.resolve()
            if key in seen:  # named twice, or inside a folder also given
                return
            seen.add(key)
            (audio if ext in audio_ext else transcripts).append(p)
        elif explicit:
            failed.append(
                (str(p), f"unsupported file type '{ext or p.name}'; give audio "
                 f"({', '.join(sorted(audio_ext))}) or a transcript ({', '.join(sorted(transcript_ext))})")
            )

    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(p).parts):
                    add(child, explicit=False)
        elif p.is_file():
            add(p, explicit=True)
        else:
            failed.append((str(p), "no such file or folder; check the path"))
    return audio, transcripts, failed


def _one_line(source: str, reason: str) -> str:
    """A failure reason that names its file once (library errors usually start with it)."""
    return reason if source in reason else f"{source}: {reason}"


def _write_json(transcript: Transcript, output_dir: Path) -> Path:
    """Write ``<call_id>.json`` atomically (never a half-written file) inside ``output_dir``.

    The name goes through :func:`qa.paths.call_path`, so a call id such as ``../../x``
    cannot put a file anywhere else.
    """
    import json

    output_dir.mkdir(parents=True, exist_ok=True)
    target = call_path(output_dir, transcript.call_id, ".json")
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(transcript.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, target)
    return target


# ---- worker processes ---------------------------------------------------------------
_worker_transcriber: Any = None


def _worker_start(parent_pid: int, options: TranscribeOptions) -> None:
    """Pool initializer: tie the worker's life to the run's, then load the model."""
    _die_with_parent(parent_pid)
    _worker_init(options)


def _worker_init(options: TranscribeOptions) -> None:
    global _worker_transcriber
    from .transcribe import Transcriber

    _worker_transcriber = Transcriber(options)


def _die_with_parent(parent_pid: int) -> None:
    """Make this worker exit when the process that started it dies, even by ``kill -9``.

    A worker waiting for its next file never notices on its own (it holds the task
    queue's write end itself) and would stay blocked forever, holding its model. On Linux
    the kernel sends it SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); everywhere,
    a daemon thread checks once a second that the parent is still there.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except Exception:  # no libc to ask (musl, a sandbox): the thread below still works
            pass
    parent = os.getppid()
    if parent != parent_pid and not _alive(parent_pid):
        os._exit(1)  # the run died before this worker had started

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:  # re-parented: the run is gone
                os._exit(1)

    threading.Thread(target=watch, name="qa-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but belongs to someone else
        return True
    return True


def _worker_transcribe(path: str, meta: CallMeta) -> Transcript:
    assert _worker_transcriber is not None
    return _worker_transcriber.transcribe(Path(path), meta)


def _split_threads(options: TranscribeOptions, workers: int) -> TranscribeOptions:
    """Give each worker process its share of the cores (CTranslate2 threads)."""
    from dataclasses import replace

    if workers <= 1 or options.cpu_threads:
        return options
    cores = os.cpu_count() or 1
    return replace(options, cpu_threads=max(1, cores // workers))


# ---- one run ------------------------------------------------------------------------
@dataclass
class _Job:
    """One recording to transcribe, and other files of the batch with the same content.

    The copies are distinct calls (a duplicate export, two unanswered calls of the same
    length): the recognition is done once and each copy is saved as its own call.
    """

    path: Path
    meta: CallMeta
    sha: str
    key: str
    copies: list[tuple[Path, CallMeta]] = field(default_factory=list)


class _Batch:
    """The state one :func:`transcribe_paths` run shares between its steps.

    It owns the :class:`BatchResult`, the progress count, the call ids claimed so far and
    the output folder, and is the one place where a file is saved, failed or reported.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        template: str | None,
        manifest: Manifest | None,
        progress: Callable[[ProgressEvent], None] | None,
        output_dir: Path | None,
        managers: ManagerMap | None = None,
        redact: bool = False,
    ) -> None:
        self.ws = ws
        self.redact = redact  # personal data replaced before anything is stored (qa.redact)
        self.template = template
        self.manifest = manifest
        self.managers = managers  # managers.csv: extension -> name
        self.progress = progress
        self.out = output_dir
        self.result = BatchResult()
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self.ids_seen: dict[str, str] = {}

    # -- reporting ----------------------------------------------------------------------
    def emit(self, path: Path | str, status: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(ProgressEvent(self.done, self.total, displayable(str(path)), status,
                                        self.result.audio_seconds, time.monotonic() - self.started))

    def fail(self, path: Path | str, reason: str, *, counted: bool = True) -> None:
        """Record ``path`` as failed with a one-line reason that names it.

        ``counted=False`` for failures found before the run's total is known (discovery).
        """
        source = displayable(str(path))  # a name that is not UTF-8 must not break the store
        line = displayable(_one_line(source, reason))
        log.warning("%s", line)
        self.result.failed.append((source, line))
        self.ws.record_failure(source, line)
        if counted:
            self.emit(source, "failed")
        else:
            self.done += 1

    def warn(self, path: Path | str, message: str) -> None:
        self.result.warnings.append(displayable(f"{path}: {message}"))

    # -- intake ---------------------------------------------------------------------------
    def meta_for(self, path: Path) -> CallMeta | None:
        """This file's call metadata, or None (failed) when it is bad or its id is taken."""
        from .metadata import resolve_meta

        try:
            meta, warnings = resolve_meta(path, template=self.template, manifest=self.manifest,
                                          managers=self.managers)
        except QAError as e:
            self.fail(path, str(e))
            return None
        for w in warnings:
            self.warn(path, w)
        # Absolute, so clips and report audio players find the recording from anywhere.
        source = str(path.resolve())
        meta.source = displayable(source)
        if meta.source != source:
            self.warn(path, "the file name is not valid UTF-8; rename the file (UTF-8) so "
                            "clips and the report's audio player can find the recording")
        other = self.ids_seen.get(meta.call_id)
        if other is not None and other != str(path):
            self.fail(path, f"call_id '{meta.call_id}' is also used by {other}; give calls unique "
                            "names or a manifest with a call_id column")
            return None
        self.ids_seen[meta.call_id] = str(path)
        return meta

    # -- saving -------------------------------------------------------------------------
    def save(self, t: Transcript, key: str, sha: str | None, path: Path, status: str) -> None:
        if self.redact:
            from .redact import redact_transcript

            t = redact_transcript(t)
        self.ws.save_call(t, cache_key=key, audio_sha256=sha)
        if self.out is not None:
            try:
                _write_json(t, self.out)
            except OSError as e:  # the call is safe in the workspace; say what is missing
                self.warn(path, f"saved, but cannot write its JSON into {self.out} "
                                f"({e.strerror or e}); check the folder and rerun")
        self.result.call_ids.append(t.call_id)
        from .transcribe import review_labels

        if labels := review_labels(t.quality):
            self.result.review[str(path)] = labels
        getattr(self.result, status).append(str(path))
        self.emit(path, status)

    def transcribed(self, job: _Job, t: Transcript) -> None:
        self.result.audio_seconds += float(t.duration or 0.0)
        self.save(t, job.key, job.sha, job.path, "transcribed")
        for path, meta in job.copies:
            self.save(_for_call(t, meta), job.key, job.sha, path, "cached")

    def job_failed(self, job: _Job, reason: str) -> None:
        self.fail(job.path, reason)
        for path, _ in job.copies:
            self.fail(path, f"same content as {job.path}, which failed: {reason}")

    def finish(self) -> BatchResult:
        self.result.wall_seconds = time.monotonic() - self.started
        return self.result


def _for_call(t: Transcript, meta: CallMeta) -> Transcript:
    """A cached transcript as call ``meta``'s own: the text is shared, the identity is not."""
    own = meta.merged(None)
    if own.duration is None:
        own.duration = t.meta.duration  # same content, same length
    return dataclasses.replace(t, meta=own, utterances=list(t.utterances))


def _import_transcripts(batch: _Batch, files: Sequence[Path]) -> None:
    """Transcripts made elsewhere: read, attach metadata, save; a bad file fails alone."""
    from .audio import sha256_file  # PyAV is imported by decode(), not here
    from .importers import load_transcript

    for path in files:
        meta = batch.meta_for(path)
        if meta is None:
            continue
        try:
            t = load_transcript(path, meta)  # meta's fields win over what the file says
            key = "import:" + sha256_file(path)
        except (QAError, OSError, UnicodeDecodeError) as e:
            batch.fail(path, str(e) if isinstance(e, QAError) else f"cannot read: {e}")
            continue
        except Exception as e:  # an importer bug must cost one file, not the batch
            log.debug("importing %s", path, exc_info=True)
            batch.fail(path, f"cannot import: {type(e).__name__}: {e}; please report this file")
            continue
        batch.save(t, key, None, path, "imported")


def _queue_recordings(
    batch: _Batch, audio: Sequence[Path], options: TranscribeOptions, force: bool
) -> list[_Job]:
    """Check, hash and look up every recording; save cache hits, return the rest as jobs.

    Recordings with the same content in this batch become one job with copies.
    """
    from .audio import check_file, sha256_file
    from .speech_model import resolve_model
    from .transcribe import cache_key, effective_options

    model_label = resolve_model(options.model).label
    jobs: dict[str, _Job] = {}
    for path in audio:
        meta = batch.meta_for(path)
        if meta is None:
            continue
        try:
            check_file(path)  # empty or unreadable: fail now, before hashing and queueing
            sha = sha256_file(path)
        except QAError as e:
            batch.fail(path, str(e))
            continue
        # A manifest manager_channel changes the roles, so it is part of the key.
        key = cache_key(sha, effective_options(options, meta), model_label)
        if key in jobs:
            jobs[key].copies.append((path, meta))
            continue
        cached = None if force else batch.ws.cached_transcript(key)
        if cached is None:
            jobs[key] = _Job(path, meta, sha, key)
            continue
        previous = batch.ws.transcript(meta.call_id)
        if previous is not None and previous.meta.source == meta.source:
            # The same call again: what an earlier run knew (a manifest's manager) stays.
            meta = previous.meta.merged(meta)
        batch.save(_for_call(cached, meta), key, sha, path, "cached")
    return list(jobs.values())


def _run_serial(batch: _Batch, jobs: Sequence[_Job], options: TranscribeOptions) -> None:
    """Transcribe in this process, one file after another (one worker, or one file)."""
    from .transcribe import Transcriber

    if not jobs:
        return
    transcriber = Transcriber(options)
    for job in jobs:
        try:
            t = transcriber.transcribe(job.path, job.meta)
        except QAError as e:
            batch.job_failed(job, str(e))
            continue
        batch.transcribed(job, t)


def _run_pool(batch: _Batch, jobs: Sequence[_Job], options: TranscribeOptions, workers: int) -> None:
    """Transcribe in worker processes; each result is saved as soon as it arrives."""
    worker_options = _split_threads(options, workers)
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)), initializer=_worker_start,
        initargs=(os.getpid(), worker_options),
    ) as pool:
        pending: dict[Future[Transcript], _Job] = {
            pool.submit(_worker_transcribe, str(job.path), job.meta): job for job in jobs
        }
        try:
            while pending:
                ready, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in ready:
                    job = pending.pop(fut)
                    try:
                        t = fut.result()
                    except QAError as e:
                        batch.job_failed(job, str(e))
                        continue
                    except Exception as e:  # a crash in one worker must not stop the batch
                        batch.job_failed(job, f"transcription failed: {type(e).__name__}: {e}")
                        continue
                    batch.transcribed(job, t)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _run_ray(batch: _Batch, jobs: Sequence[_Job], options: TranscribeOptions, engine: RayEngine) -> None:
    """Transcribe on a Ray cluster (:mod:`qa.engines.ray_engine`); each result is saved here,
    by this process, as it arrives, so the workspace has one writer whatever the cluster."""

    def retried(job: _Job, why: str) -> None:
        batch.warn(job.path, f"a Ray worker died while transcribing it ({why}); tried again on another worker")

    work = ((job, job.path, job.meta) for job in jobs)
    for job, got in engine.transcribe(work, options, total=len(jobs), on_retry=retried):
        if isinstance(got, Transcript):
            batch.transcribed(job, got)
        else:
            batch.job_failed(job, got.reason)


@contextmanager
def _engine(engine: str | RayEngine, ray_address: str | None, workers: int) -> Iterator[RayEngine | None]:
    """The Ray engine of a run (None: local). Given by name, it is made here and its runtime
    shut down at the end; given as a :class:`~qa.engines.ray_engine.RayEngine`, the caller owns it."""
    if not isinstance(engine, str):
        yield engine
        return
    from .engines import check_engine

    check_engine(engine, ray_address)
    if engine == "local":
        yield None
        return
    from .engines.ray_engine import RayEngine

    with RayEngine(ray_address, workers=workers) as made:
        yield made


def transcribe_paths(
    paths: Sequence[str | os.PathLike[str]],
    ws: Workspace,
    options: TranscribeOptions | None = None,
    *,
    template: str | None = None,
    manifest: str | os.PathLike[str] | None = None,
    workers: int = 1,
    progress: Callable[[ProgressEvent], None] | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    managers: str | os.PathLike[str] | None = None,
    redact: bool = False,
    engine: str | RayEngine = "local",
    ray_address: str | None = None,
) -> BatchResult:
    """Transcribe or import every call under ``paths`` into ``ws``. See module docstring.

    ``workers``: transcription processes; 0 means one per CPU core (on CPU, several
    single-threaded workers beat one multi-threaded process: see BENCHMARKS.md).
    ``redact``: replace personal data (:mod:`qa.redact`) before a call is stored or written.
    ``engine``: ``"local"`` (this machine), ``"ray"`` (a Ray runtime started for the run, or
    the cluster at ``ray_address``: ``"auto"`` or ``"HOST:PORT"``; ``workers`` = actors, 0 =
    one per core of the cluster, or per GPU on CUDA), or a
    :class:`~qa.engines.ray_engine.RayEngine` shared by several runs. See docs/scaling.md.
    """
    with _engine(engine, ray_address, workers) as ray_engine:
        return _transcribe_paths(paths, ws, options, template=template, manifest=manifest, workers=workers,
                                 progress=progress, output_dir=output_dir, force=force, managers=managers,
                                 redact=redact, ray_engine=ray_engine)


def _transcribe_paths(
    paths: Sequence[str | os.PathLike[str]],
    ws: Workspace,
    options: TranscribeOptions | None,
    *,
    template: str | None,
    manifest: str | os.PathLike[str] | None,
    workers: int,
    progress: Callable[[ProgressEvent], None] | None,
    output_dir: str | os.PathLike[str] | None,
    force: bool,
    managers: str | os.PathLike[str] | None,
    redact: bool,
    ray_engine: RayEngine | None,
) -> BatchResult:
    if redact:
        ws.secure_delete()  # a transcript stored before without redaction is overwritten, not left in free pages
    from .managers import load_managers
    from .metadata import load_manifest

    man = load_manifest(Path(manifest)) if manifest is not None else None
    ext_names = load_managers(Path(managers)) if managers is not None else None
    batch = _Batch(ws, template=template, manifest=man, progress=progress,
                   output_dir=Path(output_dir) if output_dir is not None else None,
                   managers=ext_names, redact=redact)
    if man is not None:
        batch.result.warnings.extend(man.warnings)
    audio, transcript_files, failed = discover(paths)
    batch.total = len(audio) + len(transcript_files) + len(failed)
    for source, reason in failed:
        batch.fail(source, reason, counted=False)
    _import_transcripts(batch, transcript_files)
    if not audio:
        return _finish(batch)

    from .transcribe import TranscribeOptions

    options = options or TranscribeOptions()
    jobs = _queue_recordings(batch, audio, options, force)
    if ray_engine is not None:
        if jobs:  # all cached: Ray is not even started
            _run_ray(batch, jobs, options, ray_engine)
        return _finish(batch)
    if workers <= 0:
        workers = 1 if options.device == "cuda" else (os.cpu_count() or 1)
    if workers <= 1 or len(jobs) <= 1:
        _run_serial(batch, jobs, options)
    else:
        _run_pool(batch, jobs, options, workers)
    return _finish(batch)


def _finish(batch: _Batch) -> BatchResult:
    if batch.redact and batch.result.call_ids:
        from .redact import redact_text

        # calls stored before without --redact: their evidence under every version too
        batch.ws.redact_items(batch.result.call_ids, redact_text)
    return batch.finish()


# ---- scoring ------------------------------------------------------------------------
@dataclass
class ScoreResult:
    """A scored batch: the intake result plus the ``calls`` and ``items`` tables."""

    batch: BatchResult
    calls: pd.DataFrame
    items: pd.DataFrame
    #: lines for the user about calibration profiles (applied, or stale for an edited script)
    notes: list[str] = field(default_factory=list)
    #: (script label, placeholder) -> [calls it had no value on, first call]
    #: (:func:`qa.scoring.placeholder_warnings` says it in words)
    unfilled: dict[tuple[str, str], list[Any]] = field(default_factory=dict)


def register_configs(ws: Workspace, script: Script | None, rubric: Rubric | None) -> None:
    """Keep the exact YAML texts in the workspace so every score names its version."""
    for kind, cfg in (("script", script), ("rubric", rubric)):
        if cfg is None:
            continue
        path = Path(cfg.path) if cfg.path else None
        text = path.read_text(encoding="utf-8") if path and path.exists() else ""
        ws.save_config(hash=cfg.hash, kind=kind, name=cfg.name, path=str(path) if path else None, text=text)


def score_calls(
    ws: Workspace,
    call_ids: Sequence[str],
    scripts: Script | Sequence[Script],
    rubrics: Rubric | Sequence[Rubric] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    failed: list[tuple[str, str]] | None = None,
    meaning: Any = None,
    rules: Sequence[ScriptRule] = (),
    warnings: list[str] | None = None,
    notes: list[str] | None = None,
    unfilled: dict[tuple[str, str], list[Any]] | None = None,
    engine: str | RayEngine = "local",
    ray_address: str | None = None,
    workers: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score stored calls and save the results; returns the ``calls`` and ``items`` tables.

    With several scripts (or rubrics), each call gets the one named by its manifest, by the
    first of ``rules`` (``[[script_rule]]`` of qa.toml) that matches it, or in its language
    (see :class:`qa.scripts.ConfigChooser`); when several still fit, the one the call says
    most of, with a line in ``warnings``. Calls that cannot be scored (no rule matches, the
    manifest names a file not given) are appended to ``failed`` as ``(source, reason)``.
    ``meaning``: :class:`qa.meaning.MeaningOptions` to add the meaning layer (vectors cached
    in the workspace), None for the fuzzy layer alone.
    A calibration profile stored for a call's (script, rubric) version by ``qa calibrate
    --fit`` is applied to it (:func:`qa.calibrate.calibrated_options`), and ``notes`` gets
    one line per version saying so (or that the profile is for an earlier version).
    ``unfilled`` counts the calls where a ``{company}``/``{manager}`` phrase had no value
    (:func:`qa.scoring.count_unfilled`; the first of each is logged either way).
    ``engine``: ``"local"`` scores in this process (``workers`` unused); ``"ray"`` or a
    :class:`~qa.engines.ray_engine.RayEngine` scores on Ray actors (``workers``, 0 = one per
    core of the cluster), this process saving the results as they come (see
    :func:`transcribe_paths`). The tables are in ``call_ids`` order either way.
    """
    import pandas as pd

    from .scoring import count_unfilled
    from .store import ITEM_COLUMNS

    script_list = [scripts] if not isinstance(scripts, Sequence) else list(scripts)
    rubric_list: list[Any] = (
        [] if rubrics is None else [rubrics] if not isinstance(rubrics, Sequence) else list(rubrics)
    )
    if not script_list:
        raise QAError("no script given; pass --script FILE (see scripts_library/)")
    for cfg in script_list:
        register_configs(ws, cfg, None)
    for cfg in rubric_list:
        register_configs(ws, None, cfg)
    script_for = ConfigChooser(script_list, "script", rules, fit=_script_fit)
    rubric_for = ConfigChooser(rubric_list, "rubric", rules) if rubric_list else None
    call_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    batch: list[tuple[str, str, str, Any, Any]] = []
    ids = list(dict.fromkeys(call_ids))
    calibrations = _Calibrations(ws, meaning, notes)  # the meaning options per version, profile applied
    placeholders = unfilled if unfilled is not None else {}
    chosen = _choose_configs(ws.transcripts(ids), script_for, rubric_for, failed, warnings)
    with _engine(engine, ray_address, workers) as ray_engine:
        if ray_engine is None:
            scored: Iterable[tuple[Transcript, Any, Any, Any]] = (
                (t, s, r, score_transcript(t, s, r, _meaning_layer(ws, s, r, calibrations.options(s, r))))
                for t, s, r in chosen
            )
        else:
            per_pair = {(si, ri): calibrations.options(sc, rb, used=False)
                        for si, sc in enumerate(script_list)
                        for ri, rb in [(None, None), *enumerate(rubric_list)]}
            scored = _score_ray(ws, chosen, script_list, rubric_list, per_pair if meaning is not None else None,
                                ray_engine, total=len(ids))
        for n, (transcript, script, rubric, got) in enumerate(scored, start=1):
            if isinstance(got, tuple):
                summary, items, row = got
            else:  # a Ray task that could not be done (qa.engines.ray_engine.Lost)
                _not_scored(transcript, got.reason, failed)
                continue
            calibrations.options(script, rubric)  # say once per version what was applied
            count_unfilled(placeholders, script, transcript.call_id, summary)
            batch.append((transcript.call_id, script.hash, rubric.hash if rubric else "none", summary, items))
            if len(batch) >= 200:
                ws.save_scores(batch)
                batch.clear()
            call_rows.append(row)
            item_rows.extend({"call_id": transcript.call_id, **it} for it in items)
            if progress is not None:
                progress(n, len(ids))
    if batch:
        ws.save_scores(batch)
    order = {call_id: i for i, call_id in enumerate(ids)}  # Ray returns calls as they complete
    call_rows.sort(key=lambda row: order[row["call_id"]])
    item_rows.sort(key=lambda row: order[row["call_id"]])
    calls = pd.DataFrame(call_rows)
    items = pd.DataFrame(item_rows, columns=["call_id", *ITEM_COLUMNS])
    return calls, items


def _choose_configs(
    transcripts: Iterable[Transcript], script_for: ConfigChooser, rubric_for: ConfigChooser | None,
    failed: list[tuple[str, str]] | None, warnings: list[str] | None = None,
) -> Iterator[tuple[Transcript, Script, Rubric | None]]:
    """Each call with its script and rubric; a call none fits is failed, the rest go on. When
    several fit, the line that says which was used goes to the log and ``warnings``."""
    for transcript in transcripts:
        try:
            script_pick = script_for.decide(transcript)
            rubric_pick = rubric_for.decide(transcript, fit=_rubric_fit(script_pick.config)) if rubric_for else None
        except QAError as e:  # one misconfigured call must not stop the batch
            _not_scored(transcript, str(e), failed)
            continue
        for column, pick in (("script", script_pick), ("rubric", rubric_pick)):
            if pick is not None and pick.rivals:  # several fit: say which was used, never quietly
                line = pick.warning(transcript.call_id, column)
                log.warning("%s", line)
                if warnings is not None:
                    warnings.append(line)
        script = script_pick.config
        rubric = rubric_pick.config if rubric_pick is not None else None
        yield transcript, script, rubric


def _not_scored(transcript: Transcript, reason: str, failed: list[tuple[str, str]] | None) -> None:
    log.warning("%s", reason)
    if failed is not None:
        failed.append((transcript.meta.source or transcript.call_id, reason))


def score_transcript(
    transcript: Transcript, script: Script, rubric: Rubric | None, meaning_layer: Any = None
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Score one call: its ``summary`` and ``items`` (as stored) and its row of the ``calls``
    table. Pure: the local engine and Ray's actors both call it."""
    from .scoring import score_call

    cs = score_call(transcript, script, rubric, meaning=meaning_layer)
    summary, items = cs.to_store()
    return summary, items, _call_row(transcript, summary, cs, script)


def _score_ray(
    ws: Workspace, chosen: Iterable[tuple[Transcript, Script, Rubric | None]], scripts: Sequence[Script],
    rubrics: Sequence[Rubric], meaning: Any, engine: RayEngine, *, total: int,
) -> Iterator[tuple[Transcript, Script, Rubric | None, Any]]:
    """Score on Ray actors; the vectors they embed are saved in this workspace's cache."""
    cache = ws.vector_cache() if meaning is not None else None
    save = cache.put_many if cache is not None else None
    return engine.score(chosen, scripts, rubrics, meaning, total=total, save_vectors=save)


def _script_fit(script: Script, transcript: Transcript) -> float:
    """How much of a script a call says (share of its stage weight found, fuzzy layer): breaks
    the tie when several scripts fit a call alike."""
    from .scoring import score_call

    items = score_call(transcript, script, None).to_store()[1]
    stages = [it for it in items if it["kind"] == "stage" and it["status"] != "na"]
    total = sum(float(it["max_score"] or 0) for it in stages)
    return 100.0 * sum(float(it["score"] or 0) for it in stages) / total if total else 0.0


def _rubric_fit(script: Script) -> Callable[[Rubric, Transcript], float]:
    """How many of a rubric's objections a call raises (scored with its script): breaks a
    tie when several rubrics fit a call alike."""
    from .scoring import score_call

    def fit(rubric: Rubric, transcript: Transcript) -> float:
        items = score_call(transcript, script, rubric).to_store()[1]
        return float(sum(1 for it in items if it["kind"] == "objection"))

    return fit


class _Calibrations:
    """The meaning options of each (script, rubric) version with its calibration profile
    applied (:func:`qa.calibrate.calibrated_options`), looked up once per version; the line
    saying what was applied goes to ``notes`` once, when a call of that version is scored."""

    def __init__(self, ws: Workspace, meaning: Any, notes: list[str] | None):
        self.ws, self.meaning, self.notes = ws, meaning, notes
        self.known: dict[tuple[str, str], tuple[Any, str | None]] = {}
        self.said: set[tuple[str, str]] = set()

    def options(self, script: Script, rubric: Rubric | None, *, used: bool = True) -> Any:
        key = (script.hash, rubric.hash if rubric is not None else "none")
        if key not in self.known:
            from .calibrate import calibrated_options

            self.known[key] = calibrated_options(self.ws, script, rubric, self.meaning)
        options, note = self.known[key]
        if used and note and key not in self.said and self.notes is not None:
            self.said.add(key)
            self.notes.append(note)
        return options


_LAYERS: dict[tuple[int, int, int, int], tuple[Any, Any, Any, Any]] = {}


def _meaning_layer(ws: Workspace, script: Script, rubric: Rubric | None, options: Any) -> Any:
    """The meaning layer for a (script, rubric), built once per process (None: fuzzy only)."""
    if options is None:
        return None
    from .meaning.items import script_matchers

    key = (id(ws), id(script), id(rubric), id(options))
    got = _LAYERS.get(key)
    if got is None or got[0] is not script or got[1] is not rubric or got[2] is not options:
        got = (script, rubric, options, script_matchers(script, rubric, options, cache=ws.vector_cache()))
        if len(_LAYERS) >= 8:
            _LAYERS.pop(next(iter(_LAYERS)))
        _LAYERS[key] = got
    return got[3]


def _call_row(t: Transcript, summary: dict[str, Any], cs: Any, script: Any) -> dict[str, Any]:
    m = t.meta
    row: dict[str, Any] = {
        "call_id": m.call_id,
        "manager": m.manager,
        "started_at": m.started_at,
        "direction": m.direction,
        "client_phone": m.client_phone,
        "duration": t.duration if t.duration is not None else m.duration,
        "outcome": m.outcome,
        "language": t.language,
        "source": m.source,
        "script": script.name,
        "score": summary["score"],
        "critical": bool(summary.get("critical")),
        "critical_reason": summary.get("critical_reason"),
        "next_step": summary.get("next_step"),
        "quality_flags": ",".join(t.quality.get("flags", [])) if t.quality else "",
    }
    for stage_id, flag in cs.stage_flags().items():
        row[f"stage_{stage_id}"] = flag
    for key, value in (summary.get("metrics") or {}).items():
        row[f"m_{key}"] = value
    return row


def score_paths(
    paths: Sequence[str | os.PathLike[str]],
    ws: Workspace,
    scripts: Script | Sequence[Script],
    rubrics: Rubric | Sequence[Rubric] | None = None,
    options: TranscribeOptions | None = None,
    *,
    template: str | None = None,
    manifest: str | os.PathLike[str] | None = None,
    workers: int = 1,
    progress: Callable[[ProgressEvent], None] | None = None,
    managers: str | os.PathLike[str] | None = None,
    meaning: Any = None,
    redact: bool = False,
    rules: Sequence[ScriptRule] = (),
    engine: str | RayEngine = "local",
    ray_address: str | None = None,
) -> ScoreResult:
    """Intake (transcribe what is not cached, import transcripts), then score the batch
    (``meaning``, ``rules``: see :func:`score_calls`; ``engine``, ``ray_address``: see
    :func:`transcribe_paths`; on Ray, both steps share one runtime)."""
    notes: list[str] = []
    unfilled: dict[tuple[str, str], list[Any]] = {}
    with _engine(engine, ray_address, workers) as ray_engine:
        run_on: str | RayEngine = ray_engine if ray_engine is not None else "local"
        batch = transcribe_paths(
            paths, ws, options, template=template, manifest=manifest, workers=workers,
            progress=progress, output_dir=None, managers=managers, redact=redact, engine=run_on,
        )
        calls, items = score_calls(ws, batch.call_ids, scripts, rubrics, failed=batch.failed, meaning=meaning,
                                   rules=rules, warnings=batch.warnings, notes=notes, unfilled=unfilled,
                                   engine=run_on, workers=workers)
    return ScoreResult(batch, calls, items, notes, unfilled)
