"""The batch runs behind ``qa transcribe`` and ``qa score`` (and notebooks).

``transcribe_paths`` takes files and folders, works out which are recordings and which are
transcripts made elsewhere, attaches call metadata (file-name template and/or manifest),
and stores one transcript per call in the workspace. A recording already transcribed with
the same model and options (cache key: audio content + model + options) is never
transcribed again, and every call is saved in its own transaction as soon as it is done,
so a killed run resumes where it stopped. One bad file is recorded as failed with a
one-line reason; the rest of the batch completes.

``score_paths`` runs the same intake, then scores every call of the batch against a
script and rubric and stores the results under their content hashes, so rescoring with an
edited script reuses the cached transcripts.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import QAError
from .store import Workspace
from .transcripts import CallMeta, Transcript

if TYPE_CHECKING:
    import pandas as pd

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


def _write_json(transcript: Transcript, output_dir: Path) -> None:
    """Write ``<call_id>.json`` atomically (never a half-written file)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    target = output_dir / f"{transcript.call_id}.json"
    tmp = target.with_suffix(".json.tmp")
    import json

    tmp.write_text(json.dumps(transcript.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, target)


# ---- worker processes ---------------------------------------------------------------
_worker_transcriber: Any = None


def _worker_init(options: TranscribeOptions) -> None:
    global _worker_transcriber
    from .transcribe import Transcriber

    _worker_transcriber = Transcriber(options)


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
) -> BatchResult:
    """Transcribe or import every call under ``paths`` into ``ws``. See module docstring.

    ``workers``: transcription processes; 0 means one per CPU core (on CPU, several
    single-threaded workers beat one multi-threaded process: see BENCHMARKS.md).
    """
    from .metadata import load_manifest, resolve_meta

    started = time.monotonic()
    result = BatchResult()
    out = Path(output_dir) if output_dir is not None else None
    audio, transcript_files, failed = discover(paths)
    for source, reason in failed:
        line = _one_line(source, reason)
        result.failed.append((source, line))
        ws.record_failure(source, line)
    total = len(audio) + len(transcript_files) + len(failed)
    done = len(failed)
    man = load_manifest(Path(manifest)) if manifest is not None else None
    from .managers import load_managers

    ext_names = load_managers(Path(managers)) if managers is not None else None  # managers.csv
    ids_seen: dict[str, str] = {}

    def emit(path: str, status: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(ProgressEvent(done, total, path, status, result.audio_seconds,
                                   time.monotonic() - started))

    def fail(path: Path, reason: str) -> None:
        line = _one_line(str(path), reason)
        log.warning("%s", line)
        result.failed.append((str(path), line))
        ws.record_failure(str(path), line)
        emit(str(path), "failed")

    def claim(meta: CallMeta, path: Path) -> bool:
        other = ids_seen.get(meta.call_id)
        if other is not None and other != str(path):
            fail(path, f"call_id '{meta.call_id}' is also used by {other}; give calls unique "
                       "names or a manifest with a call_id column")
            return False
        ids_seen[meta.call_id] = str(path)
        return True

    def saved(t: Transcript, key: str, sha: str | None, path: Path, status: str) -> None:
        ws.save_call(t, cache_key=key, audio_sha256=sha)
        if out is not None:
            _write_json(t, out)
        result.call_ids.append(t.call_id)
        from .transcribe import review_labels

        if labels := review_labels(t.quality):
            result.review[str(path)] = labels
        getattr(result, status).append(str(path))
        emit(str(path), status)

    def meta_for(path: Path) -> CallMeta | None:
        try:
            meta, warnings = resolve_meta(path, template=template, manifest=man, managers=ext_names)
        except QAError as e:
            fail(path, str(e))
            return None
        for w in warnings:
            result.warnings.append(f"{path}: {w}")
        # Absolute, so clips and report audio players find the recording from anywhere.
        meta.source = str(path.resolve())
        return meta if claim(meta, path) else None

    # -- transcripts made elsewhere --------------------------------------------------
    from .audio import check_file, sha256_file  # PyAV is imported by decode(), not here
    from .importers import load_transcript

    for path in transcript_files:
        meta = meta_for(path)
        if meta is None:
            continue
        try:
            t = load_transcript(path, meta)  # meta's fields win over what the file says
            key = "import:" + sha256_file(path)
        except (QAError, OSError, UnicodeDecodeError) as e:
            fail(path, str(e) if isinstance(e, QAError) else f"cannot read: {e}")
            continue
        saved(t, key, None, path, "imported")

    # -- recordings ----------------------------------------------------------------
    if not audio:
        result.wall_seconds = time.monotonic() - started
        return result

    from .speech_model import resolve_model
    from .transcribe import TranscribeOptions, cache_key, effective_options

    options = options or TranscribeOptions()
    model_label = resolve_model(options.model).label
    todo: list[tuple[Path, CallMeta, str, str]] = []
    for path in audio:
        meta = meta_for(path)
        if meta is None:
            continue
        try:
            check_file(path)  # empty or unreadable: fail now, before hashing and queueing
            sha = sha256_file(path)
        except QAError as e:
            fail(path, str(e))
            continue
        # A manifest manager_channel changes the roles, so it is part of the key.
        key = cache_key(sha, effective_options(options, meta), model_label)
        cached = None if force else ws.cached_transcript(key)
        if cached is not None:
            cached.meta = cached.meta.merged(meta)  # this file's name, manager, ...
            saved(cached, key, sha, path, "cached")
        else:
            todo.append((path, meta, sha, key))

    if workers <= 0:
        workers = 1 if options.device == "cuda" else (os.cpu_count() or 1)

    def finished(path: Path, key: str, sha: str, t: Transcript) -> None:
        result.audio_seconds += float(t.duration or 0.0)
        saved(t, key, sha, path, "transcribed")

    if workers <= 1 or len(todo) <= 1:
        from .transcribe import Transcriber

        transcriber = Transcriber(options) if todo else None
        for path, meta, sha, key in todo:
            try:
                assert transcriber is not None
                t = transcriber.transcribe(path, meta)
            except QAError as e:
                fail(path, str(e))
                continue
            finished(path, key, sha, t)
    else:
        worker_options = _split_threads(options, workers)
        with ProcessPoolExecutor(
            max_workers=min(workers, len(todo)), initializer=_worker_init, initargs=(worker_options,)
        ) as pool:
            pending: dict[Future[Transcript], tuple[Path, str, str]] = {
                pool.submit(_worker_transcribe, str(path), meta): (path, sha, key)
                for path, meta, sha, key in todo
            }
            try:
                while pending:
                    ready, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                    for fut in ready:
                        path, sha, key = pending.pop(fut)
                        try:
                            t = fut.result()
                        except QAError as e:
                            fail(path, str(e))
                            continue
                        except Exception as e:  # a crash in one worker must not stop the batch
                            fail(path, f"transcription failed: {type(e).__name__}: {e}")
                            continue
                        finished(path, key, sha, t)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    result.wall_seconds = time.monotonic() - started
    return result


# ---- scoring ------------------------------------------------------------------------
@dataclass
class ScoreResult:
    """A scored batch: the intake result plus the ``calls`` and ``items`` tables."""

    batch: BatchResult
    calls: pd.DataFrame
    items: pd.DataFrame


def register_configs(ws: Workspace, script: Script | None, rubric: Rubric | None) -> None:
    """Keep the exact YAML texts in the workspace so every score names its version."""
    for kind, cfg in (("script", script), ("rubric", rubric)):
        if cfg is None:
            continue
        path = Path(cfg.path) if cfg.path else None
        text = path.read_text(encoding="utf-8") if path and path.exists() else ""
        ws.save_config(hash=cfg.hash, kind=kind, name=cfg.name, path=str(path) if path else None, text=text)


def pick_config(configs: Sequence[Any], transcript: Transcript, column: str = "script") -> Any:
    """The script (or rubric) for this call.

    A manifest column ``script`` (or ``rubric``) narrows the choice to the files it names
    (``b2b_cold_call`` names ``b2b_cold_call.en.yaml`` and ``b2b_cold_call.ru.yaml``, or a
    script's ``name``); then the one in the call's language wins. Calls imported without a
    language are matched by alphabet: the config whose phrases share the most letters with
    the transcript (Cyrillic vs Latin, ...), so nothing language-specific is hard-coded here.
    """
    wanted = str(transcript.meta.extra.get(column) or "").strip().lower()
    if wanted:
        named = [cfg for cfg in configs if wanted in _config_names(cfg)]
        if not named:
            known = ", ".join(sorted({n for cfg in configs for n in _config_names(cfg)}))
            raise QAError(
                f"call {transcript.call_id}: manifest {column} '{wanted}' is not among the "
                f"given --{column} files ({known}); add --{column} for it or fix the manifest"
            )
        configs = named
    if len(configs) == 1:
        return configs[0]
    if transcript.language:
        for cfg in configs:
            if cfg.language == transcript.language:
                return cfg
    letters = [ch for ch in transcript.text().lower() if ch.isalpha()]
    return max(configs, key=lambda cfg: sum(ch in _alphabet(cfg) for ch in letters))


def _config_names(cfg: Any) -> set[str]:
    names = {str(getattr(cfg, "name", "") or "").lower()}
    path = getattr(cfg, "path", None)
    if path:
        file = Path(str(path)).name.lower()
        names |= {file, file.split(".", 1)[0], file.rsplit(".", 1)[0]}
    return names - {""}


def _alphabet(cfg: Any) -> frozenset[str]:
    """Letters of the config's phrases (not of its ids and keys, which are ASCII anyway)."""
    cached = _ALPHABETS.get(id(cfg))
    if cached is None or cached[0] is not cfg:
        from .scripts import Phrase

        letters: set[str] = set()

        def walk(value: Any) -> None:
            if isinstance(value, Phrase):
                letters.update(ch for ch in value.text.lower() if ch.isalpha())
            elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                for f in dataclasses.fields(value):
                    walk(getattr(value, f.name))
            elif isinstance(value, (list, tuple)):
                for v in value:
                    walk(v)

        walk(cfg)
        cached = (cfg, frozenset(letters))
        _ALPHABETS[id(cfg)] = cached
    return cached[1]


_ALPHABETS: dict[int, tuple[Any, frozenset[str]]] = {}


def score_calls(
    ws: Workspace,
    call_ids: Sequence[str],
    scripts: Script | Sequence[Script],
    rubrics: Rubric | Sequence[Rubric] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    failed: list[tuple[str, str]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score stored calls and save the results; returns the ``calls`` and ``items`` tables.

    With several scripts (or rubrics), each call gets the one named by its manifest or in
    its language (see :func:`pick_config`). Calls that cannot be scored are appended to
    ``failed`` as ``(source, reason)``.
    """
    import pandas as pd

    from .scoring import score_call
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
    call_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    batch: list[tuple[str, str, str, Any, Any]] = []
    ids = list(dict.fromkeys(call_ids))
    for n, transcript in enumerate(ws.transcripts(ids), start=1):
        try:
            script = pick_config(script_list, transcript, "script")
            rubric = pick_config(rubric_list, transcript, "rubric") if rubric_list else None
        except QAError as e:  # one misconfigured call must not stop the batch
            log.warning("%s", e)
            if failed is not None:
                failed.append((transcript.meta.source or transcript.call_id, str(e)))
            continue
        cs = score_call(transcript, script, rubric)
        summary, items = cs.to_store()
        batch.append((transcript.call_id, script.hash, rubric.hash if rubric else "none", summary, items))
        if len(batch) >= 200:
            ws.save_scores(batch)
            batch.clear()
        call_rows.append(_call_row(transcript, summary, cs, script))
        item_rows.extend({"call_id": transcript.call_id, **it} for it in items)
        if progress is not None:
            progress(n, len(ids))
    if batch:
        ws.save_scores(batch)
    calls = pd.DataFrame(call_rows)
    items = pd.DataFrame(item_rows, columns=["call_id", *ITEM_COLUMNS])
    return calls, items


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
) -> ScoreResult:
    """Intake (transcribe what is not cached, import transcripts), then score the batch."""
    batch = transcribe_paths(
        paths, ws, options, template=template, manifest=manifest, workers=workers,
        progress=progress, output_dir=None,
    )
    calls, items = score_calls(ws, batch.call_ids, scripts, rubrics, failed=batch.failed)
    return ScoreResult(batch, calls, items)
