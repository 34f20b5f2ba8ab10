"""Recordings a browser can play: check the codec, convert the ones it cannot.

PBXs write WAV files in codecs no browser decodes (IMA ADPCM, GSM 6.10, ...); an
``<audio>`` element given one shows a dead player. :func:`browser_playable` reads the
codec with PyAV (the ``audio`` extra) and :func:`to_mp3` converts such a recording to MP3
(plays in every browser; speech at 48 kbit/s keeps a call small). Without PyAV nothing
can be checked, and recordings go into the report as they are.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import AudioError

log = logging.getLogger("qa")

__all__ = ["BROWSER_CODECS", "browser_playable", "have_decoder", "to_mp3"]

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
