"""Clips: a library of exemplary moments for training newcomers.

For every stage of the script and every objection of the rubric, picks the best examples
in the workspace: the item found, or the objection handled, only in calls of the top
quartile by score (``ClipOptions.top``), never in a call with a critical failure or a
forbidden phrase; the best-ranked of them first (by score, or won deals first; one clip
per call; the closest match first within a call),
cuts them from the ORIGINAL recordings (``calls.source``) with a little context before
and after, clamped to the recording, and writes

- one 16-bit WAV per clip, with every channel of the recording (stereo stays stereo, so
  both sides of the call are heard, each where the PBX put it);
- ``playlist.m3u``: the clips in order, each ``#EXTINF`` line carrying the quote;
- ``index.html``: one self-contained page, a heading per stage / objection and an
  ``<audio controls>`` per clip with the quote, manager, call and timestamp under it.

A stage clip spans the turn where the stage was found; an objection clip spans the client's
objection and the manager's answer (the rubric's ``respond_within_turns`` turns). Calls
without a recording (imported transcripts, moved files) are skipped with a note, and the
next-best call takes their place.
"""

from __future__ import annotations

import html
import logging
import math
import os
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AudioError, NotFoundError, QAError
from .mining import (
    DEFAULT_TOP,
    answer_turns,
    flagged_calls,
    load_version,
    order_calls,
    scored_calls,
    version_items,
)
from .paths import slug
from .transcripts import clock

if TYPE_CHECKING:
    import numpy as np

    from .store import Workspace

log = logging.getLogger("qa")


@dataclass(frozen=True)
class ClipOptions:
    """Which moments become clips and how much is cut around them."""

    #: Clips per stage / objection at most (distinct calls).
    per_item: int = 3
    #: Seconds of context kept before and after the moment (clamped to the recording).
    before: float = 2.0
    after: float = 1.5
    #: Order of preference: ``score`` (highest first) or ``outcome`` (won deals first).
    by: str = "score"
    #: Manager turns after an objection that belong to its clip, when the rubric is silent.
    respond_turns: int = 2
    #: Only calls in this top share by score are exemplary (the top quartile).
    top: float = DEFAULT_TOP

    def __post_init__(self) -> None:
        if self.per_item < 1:
            raise ValueError(f"per_item must be >= 1, got {self.per_item}")
        if self.before < 0 or self.after < 0:
            raise ValueError(f"context must be >= 0 seconds, got {self.before}, {self.after}")
        if self.by not in ("score", "outcome"):
            raise ValueError(f"by must be 'score' or 'outcome', got {self.by!r}")
        if self.respond_turns < 1:
            raise ValueError(f"respond_turns must be >= 1, got {self.respond_turns}")
        if not 0 < self.top <= 1:
            raise ValueError(f"top must be a share above 0 and at most 1, got {self.top}")


@dataclass(frozen=True)
class Clip:
    """One written clip: where it comes from and where it went (``path`` is relative)."""

    kind: str  # stage | objection
    item_id: str
    title: str
    call_id: str
    manager: str | None
    score: float | None
    moment_start: float  # the example itself, in the recording's time
    moment_end: float
    start: float  # what was cut, context included, clamped to the recording
    end: float
    quote: str
    path: str
    channels: int
    sample_rate: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"clip end {self.end} is before its start {self.start}")

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class ClipLibrary:
    """What :func:`build_clips` wrote."""

    out_dir: Path
    clips: list[Clip] = field(default_factory=list)
    #: (call id, why) for calls whose moments could not be cut.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Stages / objections with no example at all.
    empty: list[str] = field(default_factory=list)
    playlist: Path | None = None
    index: Path | None = None
    #: Which scored version was read, when there was a choice.
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Moment:
    kind: str
    item_id: str
    title: str
    call_id: str
    start: float
    end: float
    quote: str


def build_clips(
    ws: Workspace,
    out_dir: str | os.PathLike[str],
    per_item: int = 3,
    context: tuple[float, float] = (2.0, 1.5),
    *,
    stage: str | None = None,
    objection: str | None = None,
    by: str = "score",
    date_from: str | date | None = None,
    date_to: str | date | None = None,
    version: tuple[str, str] | None = None,
    script: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    top: float | str = DEFAULT_TOP,
) -> ClipLibrary:
    """Cut the best examples per stage and objection into ``out_dir`` with a playlist.

    ``context`` is (seconds before, seconds after). ``stage`` / ``objection`` limit the
    library to one item. ``top``: the share of calls, best by score, moments are taken
    from (``"25%"`` or 0.25, the top quartile). ``progress(done, total)`` is called after each recording.
    Raises :class:`NotFoundError` for an unknown id and :class:`QAError` when nothing
    could be cut.
    """
    from .mining import parse_top

    opts = ClipOptions(per_item=per_item, before=context[0], after=context[1], by=by, top=parse_top(top))
    if stage is not None and objection is not None:
        raise QAError("give --stage or --objection, not both")
    loaded = load_version(ws, version, script)
    cfg, rubric = loaded.script, loaded.rubric
    stage_ids = [s.id for s in cfg.stages]
    objections = list(rubric.objections) if rubric is not None else []
    if stage is not None and stage not in stage_ids:
        raise NotFoundError(f"stage {stage!r} is not in script {cfg.name!r}; stages: {', '.join(stage_ids)}")
    if objection is not None and objection not in [o.id for o in objections]:
        known = ", ".join(o.id for o in objections) or "none (scored without a rubric)"
        raise NotFoundError(f"objection {objection!r} is not in the rubric; objections: {known}")

    # Phases: rank the candidate items, plan the moments (each recording decoded once
    # later), cut them, write the playlist and page.
    library = ClipLibrary(Path(out_dir), notes=list(loaded.notes))
    info, items = _ranked_items(ws, loaded, date_from, date_to, opts, library.notes)
    wanted: list[tuple[str, str, str, Any]] = []
    if objection is None:
        wanted += [("stage", s.id, s.title, None) for s in cfg.stages if stage in (None, s.id)]
    if stage is None:
        wanted += [("objection", o.id, o.title, o) for o in objections if objection in (None, o.id)]
    plan, recordings = _plan(ws, info, items, wanted, opts, library)
    library.out_dir.mkdir(parents=True, exist_ok=True)
    from .redact import call_spans  # words redacted in the transcript are silent in the clips

    muted = {cid: call_spans(ws, cid) for cid in recordings}
    written = _cut(info, recordings, plan, opts, library, progress, muted)
    # Keep the plan's order: items as in the script / rubric, best call first.
    library.clips = [written[k] for k in ((m.kind, m.item_id, m.call_id) for m, _ in plan) if k in written]
    if not library.clips:
        why = "; ".join(f"{c}: {r}" for c, r in library.skipped[:3]) or "no stage found or objection handled"
        raise QAError(f"no clips could be cut ({why})")
    library.playlist = write_m3u(library.clips, library.out_dir / "playlist.m3u")
    library.index = write_html(library, library.out_dir / "index.html", script_name=cfg.name,
                               language=cfg.language)
    return library


def _ranked_items(
    ws: Workspace, loaded: Any, date_from: str | date | None, date_to: str | date | None, opts: ClipOptions,
    notes: list[str],
) -> tuple[dict[str, Any], Any]:
    """The exemplary calls (:func:`exemplary_calls`) and their items, best call first and
    the closest match first within a call."""
    calls = scored_calls(ws, loaded.key, date_from, date_to, versions=loaded.versions)
    if not len(calls):
        raise NotFoundError(f"{ws.path}: no calls scored with this script version in the period")
    calls = exemplary_calls(calls, opts.top, notes)
    order = order_calls(calls, opts.by)
    info = {r.call_id: r for r in calls.itertuples(index=False)}
    items = version_items(ws, loaded.key, list(info))
    similarity = items["similarity"].fillna(0)
    items = items.assign(_rank=items["call_id"].map(order), _sim=similarity).sort_values(
        ["_rank", "_sim"], ascending=[True, False], kind="stable"
    )
    return info, items


def exemplary_calls(calls: Any, top: float, notes: list[str] | None = None) -> Any:
    """The rows of ``calls`` (:func:`qa.mining.scored_calls`) whose moments may be clips:
    the top ``top`` share by score (at least one call; ties by call id), less the calls
    with a critical failure or a forbidden phrase. ``notes`` gets a line saying so."""
    ranked = calls.assign(_neg=-calls["score"].astype(float)).sort_values(["_neg", "call_id"], kind="stable")
    k = max(1, math.ceil(len(ranked) * top))
    best = ranked.head(k).drop(columns="_neg")
    flagged = flagged_calls(best)
    kept = best[~best["call_id"].astype(str).isin(flagged)]
    if notes is not None:
        lowest = float(best["score"].min()) if len(best) else 0.0
        notes.append(
            f"clips from the {len(kept)} best of {len(calls)} calls (top {top:.0%} by score, "
            f"score >= {lowest:.1f})"
            + (f"; {len(flagged)} left out for a critical failure or a forbidden phrase" if flagged else "")
        )
    return kept


def _plan(
    ws: Workspace,
    info: dict[str, Any],
    items: Any,
    wanted: Sequence[tuple[str, str, str, Any]],
    opts: ClipOptions,
    library: ClipLibrary,
) -> tuple[list[tuple[_Moment, int]], dict[str, Path]]:
    """(moment, rank within its item) for up to ``per_item`` calls with a recording per
    stage / objection, and the recordings found. A stage moment is the whole turn of its
    evidence; an objection's runs on over the manager's answer window."""
    audio_ok: dict[str, str | None] = {}
    recordings: dict[str, Path] = {}

    def no_audio(cid: str) -> str | None:
        if cid not in audio_ok:
            found, why = locate_recording(info[cid].source, ws.path)
            audio_ok[cid] = why
            if found is not None:
                recordings[cid] = found
            else:
                library.skipped.append((cid, why or ""))
        return audio_ok[cid]

    plan: list[tuple[_Moment, int]] = []
    transcripts: dict[str, Any] = {}
    for kind, item_id, title, obj in wanted:
        status = "found" if kind == "stage" else "handled"
        rows = items[(items["kind"] == kind) & (items["item_id"] == item_id)
                     & (items["status"] == status) & items["start"].notna()]
        used: set[str] = set()
        for row in rows.itertuples(index=False):
            if len(used) >= opts.per_item:
                break
            cid = row.call_id
            if cid in used or no_audio(cid):
                continue
            if cid not in transcripts:
                transcripts[cid] = ws.transcript(cid)
            window = int(getattr(obj, "respond_within_turns", 0) or opts.respond_turns)
            used.add(cid)
            plan.append((_moment(kind, item_id, title, row, transcripts[cid], window), len(used)))
        if not used:
            library.empty.append(f"{kind} {item_id}")
    return plan, recordings


def _moment(kind: str, item_id: str, title: str, row: Any, t: Any, window: int) -> _Moment:
    """One item's moment: the evidence widened to its whole utterance (a listener needs the
    sentence) and, for an objection, the manager's answer after it."""
    start, end = float(row.start), float(row.end if row.end == row.end and row.end is not None else row.start)
    quote = str(row.text or "")
    utt = getattr(row, "utterance", None)
    at = int(utt) if utt is not None and utt == utt else None
    if t is not None and at is not None and at < len(t.utterances):
        turn = t.utterances[at]
        start, end = min(start, turn.start), max(end, turn.end)
        if kind == "objection":
            answer = answer_turns(t, at, window)
            if answer:
                end = max(end, answer[-1].end)
                quote = f"{quote} — {' '.join(u.text for u in answer)}"
    return _Moment(kind, item_id, title, row.call_id, start, end, quote)


def _cut(
    info: dict[str, Any],
    recordings: dict[str, Path],
    plan: Sequence[tuple[_Moment, int]],
    opts: ClipOptions,
    library: ClipLibrary,
    progress: Callable[[int, int], None] | None,
    muted: dict[str, list[tuple[float, float]]] | None = None,
) -> dict[tuple[str, str, str], Clip]:
    """Cut the planned moments, one decode per recording; a recording that fails is skipped."""
    by_call: dict[str, list[tuple[_Moment, int]]] = {}
    for m, rank in plan:
        by_call.setdefault(m.call_id, []).append((m, rank))
    written: dict[tuple[str, str, str], Clip] = {}
    for n, (cid, moments) in enumerate(by_call.items(), 1):
        try:
            written.update(_cut_call(info[cid], recordings[cid], moments, opts, library.out_dir,
                                     (muted or {}).get(cid, [])))
        except AudioError as e:
            library.skipped.append((cid, str(e)))
            log.warning("%s", e)
        if progress is not None:
            progress(n, len(by_call))
    return written


def locate_recording(source: Any, workspace: Path | None = None) -> tuple[Path | None, str | None]:
    """The recording of a call, or why there is none to cut.

    ``calls.source`` is stored as it was given to 'qa score' (often relative): it is tried
    as it is, then next to the workspace folder (where 'qa score' usually ran).
    """
    from .audio import AUDIO_EXTENSIONS

    if not isinstance(source, str) or not source:
        return None, "no recording stored for this call (imported transcript)"
    p = Path(source)
    if p.suffix.lower() not in AUDIO_EXTENSIONS:
        return None, f"{source}: imported transcript, no recording to cut"
    tries = [p] if p.is_absolute() or workspace is None else [p, Path(workspace).resolve().parent / p]
    for candidate in tries:
        if candidate.is_file():
            return candidate, None
    return None, f"{source}: recording not found; was it moved?"


def decode_native(path: str | Path) -> Any:
    """The recording at its own sample rate (clips keep the original quality).

    :func:`qa.audio.decode` resamples to a rate it is given; the file's own rate is known
    after one decode, so a second one is needed only when the two differ.
    """
    from .audio import TARGET_SAMPLE_RATE, decode

    decoded = decode(path, sample_rate=TARGET_SAMPLE_RATE)
    if decoded.source_sample_rate != decoded.sample_rate:
        decoded = decode(path, sample_rate=decoded.source_sample_rate)
    return decoded


def _cut_call(
    call: Any, recording: Path, moments: Sequence[tuple[_Moment, int]], opts: ClipOptions, out_dir: Path,
    spans: Sequence[tuple[float, float]] = (),
) -> dict[tuple[str, str, str], Clip]:
    decoded = decode_native(recording)
    sr = int(decoded.sample_rate)
    channels = _channels(decoded)
    if spans:  # personal data said here was redacted: silence over it (qa.redact)
        from .redact import mute

        channels = mute(channels, sr, spans)
    total = min(len(c) for c in channels) / sr if channels else 0.0
    out: dict[tuple[str, str, str], Clip] = {}
    for m, rank in moments:
        start = max(0.0, m.start - opts.before)
        end = min(total, m.end + opts.after)
        if end <= start:
            raise AudioError(
                f"{call.source}: the moment at {clock(m.start)} lies beyond the end of the "
                f"recording ({clock(total)}); was the file replaced after scoring?"
            )
        rel = Path(f"{m.kind}_{slug(m.item_id)}") / f"{rank:02d}_{slug(m.call_id)}.wav"
        a, b = int(round(start * sr)), int(round(end * sr))
        write_wav(out_dir / rel, [c[a:b] for c in channels], sr)
        out[(m.kind, m.item_id, m.call_id)] = Clip(
            kind=m.kind, item_id=m.item_id, title=m.title, call_id=m.call_id,
            manager=call.manager, score=float(call.score), moment_start=m.start,
            moment_end=m.end, start=a / sr, end=b / sr, quote=m.quote, path=rel.as_posix(),
            channels=len(channels), sample_rate=sr,
        )
    return out


def _channels(decoded: Any) -> list[np.ndarray]:
    import numpy as np

    chans = decoded.channels
    if isinstance(chans, np.ndarray):
        return [chans] if chans.ndim == 1 else [chans[i] for i in range(chans.shape[0])]
    return [np.asarray(c) for c in chans]


def write_wav(path: Path, channels: Sequence[np.ndarray], sample_rate: int) -> None:
    """Write float samples (-1..1) or int16 as a 16-bit PCM WAV, channels interleaved
    (atomically: a killed run leaves no half-written clip)."""
    import numpy as np

    if not channels:
        raise AudioError(f"{path}: nothing to write")
    n = min(len(c) for c in channels)
    frames = np.empty((n, len(channels)), dtype="<i2")
    for i, c in enumerate(channels):
        c = np.asarray(c[:n])
        if c.dtype.kind == "f":
            # 32768: the inverse of the decoder's int16 -> float, so 16-bit sources copy exactly
            frames[:, i] = np.clip(np.round(c * 32768.0), -32768, 32767).astype("<i2")
        else:
            frames[:, i] = c.astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(frames.tobytes())
    os.replace(tmp, path)


def _label(c: Clip) -> str:
    kind = "Stage" if c.kind == "stage" else "Objection"
    return f"{kind}: {c.title}" if c.title and c.title != c.item_id else f"{kind}: {c.item_id}"


def write_m3u(clips: Sequence[Clip], path: Path) -> Path:
    """An extended M3U playlist (UTF-8): ``#EXTINF:<seconds>,<item> — <quote>``."""
    lines = ["#EXTM3U"]
    for c in clips:
        quote = " ".join(c.quote.split())
        lines.append(f"#EXTINF:{math.ceil(c.duration)},{_label(c)} — {quote}")
        lines.append(c.path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:52rem;margin:2rem auto;
padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
figure{margin:1rem 0;padding:.6rem .8rem;background:#f6f7f9;border-radius:6px}
audio{width:100%}q{display:block;margin:.3rem 0;font-style:italic}
.meta{color:#666;font-size:.85rem}.notes{color:#666;font-size:.9rem}
"""


def write_html(
    library: ClipLibrary, path: Path, *, script_name: str | None = None, language: str | None = None
) -> Path:
    """One self-contained page: a heading per item, a player per clip, the quote under it."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>", f'<html lang="{e(language or "")}">', "<head>", '<meta charset="utf-8">',
        "<title>Exemplary moments</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        "<h1>Exemplary moments" + (f" — {e(script_name)}" if script_name else "") + "</h1>",
    ]
    current = None
    for c in library.clips:
        if (c.kind, c.item_id) != current:
            current = (c.kind, c.item_id)
            parts.append(f'<h2 id="{e(c.kind)}-{e(c.item_id)}">{e(_label(c))}</h2>')
        meta = " · ".join(x for x in (
            c.manager or "no manager", f"call {c.call_id}",
            f"at {clock(c.moment_start)}",
            f"clip {clock(c.start)}–{clock(c.end)}",
            f"score {c.score:.0f}" if c.score is not None else "",
        ) if x)
        parts.append(
            f'<figure><audio controls preload="none" src="{e(c.path)}"></audio>'
            f"<figcaption><q>{e(c.quote)}</q><span class=\"meta\">{e(meta)}</span></figcaption></figure>"
        )
    if library.skipped or library.empty:
        parts.append('<h2>Notes</h2><ul class="notes">')
        parts += [f"<li>{e(cid)}: {e(why)}</li>" for cid, why in library.skipped]
        parts += [f"<li>{e(item)}: no example in the scored calls</li>" for item in library.empty]
        parts.append("</ul>")
    parts += ["</body>", "</html>"]
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
