"""Recordings a browser can play: check the codec, convert the ones it cannot.

PBXs write WAV files in codecs no browser decodes (IMA ADPCM, GSM 6.10, ...); an
``<audio>`` element given one shows a dead player. :func:`browser_playable` reads the
codec with PyAV (the ``audio`` extra) and :func:`to_mp3` converts such a recording to MP3
(plays in every browser; speech at 48 kbit/s keeps a call small). Without PyAV nothing
can be checked, and recordings go into the report as they are. :func:`audio_for` puts a
call's recording into the report site (copied, linked or converted).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AudioError, QAError
from .html import is_missing, slug

if TYPE_CHECKING:
    from .site import _Site

log = logging.getLogger("qa")

__all__ = ["BROWSER_CODECS", "PLAYABLE_EXTENSIONS", "audio_for", "browser_playable", "have_decoder", "to_mp3"]

#: Extensions of recordings a browser's <audio> element may play (the codec inside decides:
#: see :func:`browser_playable`).
PLAYABLE_EXTENSIONS = frozenset(
    {".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".aac", ".webm", ".weba", ".mp4"}
)

#: Audio codecs Chromium and Firefox decode in an <audio> element (names as FFmpeg gives
#: them). Checked in Chromium: PCM, mu-law and a-law WAV play; IMA ADPCM and GSM WAV do not.
BROWSER_CODECS = frozenset({
    "pcm_s16le", "pcm_u8", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_mulaw", "pcm_alaw",
    "mp3", "mp3float", "vorbis", "opus", "flac", "aac",
})
#: Sample rates MP3 can carry; anything else is resampled to 16 kHz (speech).
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


def have_decoder() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def browser_playable(path: str | os.PathLike[str]) -> bool | None:
    """True when a browser plays the file's first audio stream, False when not, None when
    it cannot be told (PyAV not installed, or the file does not open)."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return False
            return container.streams.audio[0].codec_context.name in BROWSER_CODECS
    except (av.error.FFmpegError, OSError) as e:  # type: ignore[attr-defined]
        log.debug("cannot probe %s: %s", path, e)
        return None


def to_mp3(src: str | os.PathLike[str], dest: str | os.PathLike[str], bitrate: int = 48_000) -> Path:
    """Convert ``src`` to an MP3 file at ``dest`` (channels kept: manager and client stay
    on their sides). Written to a temporary name first, so a failed conversion never
    leaves half a file. Raises :class:`~qa.errors.AudioError`."""
    try:
        import av
    except ImportError as e:
        raise AudioError(f"{src}: converting for the browser needs PyAV: pip install 'call-qa[audio]'") from e
    dest = Path(dest)
    tmp = dest.with_name(dest.name + ".part")
    try:
        with av.open(str(src)) as inp:
            if not inp.streams.audio:
                raise AudioError(f"{src}: no audio stream to convert")
            stream = inp.streams.audio[0]
            rate = stream.rate if stream.rate in _MP3_RATES else 16000
            layout = "stereo" if (stream.channels or 1) >= 2 else "mono"
            with av.open(str(tmp), "w", format="mp3") as out:
                enc = out.add_stream("libmp3lame", rate=rate, layout=layout)
                enc.bit_rate = bitrate
                resampler = av.AudioResampler(format="s16p", layout=layout, rate=rate)
                bad = 0
                for packet in inp.demux(stream):
                    try:
                        frames = packet.decode()
                    except av.error.InvalidDataError:  # type: ignore[attr-defined]
                        # A damaged packet (often the last, cut short by the PBX): skip it
                        # and keep the rest, as ffmpeg does.
                        bad += 1
                        continue
                    for frame in frames:
                        for chunk in resampler.resample(frame):
                            out.mux(enc.encode(chunk))
                if bad:
                    log.debug("%s: %d damaged packet(s) skipped while converting", src, bad)
                for chunk in resampler.resample(None):
                    out.mux(enc.encode(chunk))
                out.mux(enc.encode(None))
        os.replace(tmp, dest)
    except AudioError:
        tmp.unlink(missing_ok=True)
        raise
    except (av.error.FFmpegError, OSError, ValueError) as e:  # type: ignore[attr-defined]
        tmp.unlink(missing_ok=True)
        raise AudioError(f"{src}: cannot convert the recording to MP3 for the browser: {e}") from e
    return dest


def audio_for(site: _Site, call: Mapping[str, Any]) -> tuple[str | None, str]:
    """(relative path inside the site, or None) and why not, for the call's recording.

    A recording in a codec browsers cannot play (IMA ADPCM or GSM WAV from a PBX) is
    converted to MP3 in either mode; the others are copied or linked as they are.
    """
    from ..importers import TRANSCRIPT_EXTENSIONS

    if site.audio_mode == "none":
        return None, ""
    source = None if is_missing(call.get("source")) else call.get("source")
    if not source:
        site.missing_audio.append(call["call_id"])
        return None, site.t("audio_no_source")
    src = Path(str(source))
    if src.suffix.lower() in TRANSCRIPT_EXTENSIONS:
        # Imported transcripts (JSON, SRT, ...) have no recording of their own.
        return None, site.t("audio_transcript_only", source=src.name)
    if not src.is_file():
        site.missing_audio.append(call["call_id"])
        return None, site.t("audio_missing", source=str(src))
    from ..redact import call_spans, write_redacted_recording

    spans = call_spans(site.ws, call["call_id"])
    if spans:  # redacted: only a copy with silence over the personal data goes in
        rel = f"audio/{slug(call['call_id'])}.wav"
        try:
            write_redacted_recording(src, site.out / rel, spans)
        except AudioError as e:
            log.warning("%s", e)
            site.missing_audio.append(call["call_id"])
            return None, site.t("audio_unplayable", source=str(src))
        site.audio_files += 1
        return rel, ""
    playable = browser_playable(src)
    if playable is None and src.suffix.lower() not in PLAYABLE_EXTENSIONS:
        playable = False  # cannot probe, and the extension says no browser plays it
    suffix = ".mp3" if playable is False else src.suffix.lower()
    rel = f"audio/{slug(call['call_id'])}{suffix}"
    dest = site.out / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        if dest.is_symlink():
            dest.unlink()
        if playable is False:
            if not (dest.exists() and dest.stat().st_mtime >= src.stat().st_mtime):
                try:
                    to_mp3(src, dest)
                except AudioError as e:
                    log.warning("%s", e)
                    site.missing_audio.append(call["call_id"])
                    return None, site.t("audio_unplayable", source=str(src))
            site.converted += 1
        elif site.audio_mode == "link":
            dest.unlink(missing_ok=True)
            try:
                dest.symlink_to(src.resolve())
            except OSError:  # no symlinks here (Windows without rights): copy instead
                shutil.copy2(src, dest)
        else:
            st = src.stat()
            if not (dest.exists() and dest.stat().st_size == st.st_size
                    and int(dest.stat().st_mtime) == int(st.st_mtime)):
                shutil.copy2(src, dest)
    except OSError as e:
        raise QAError(f"{dest}: cannot put the recording {src} into the report: {e}") from e
    site.audio_files += 1
    return rel, ""
