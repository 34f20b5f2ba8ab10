"""Clips: exemplary moments cut from the original recordings, with M3U and HTML playlists.

The corpus recordings (tests/trainer_corpus.py) sound one tone per turn on the speaker's
channel (manager left, client right), so a clip's time span is checked from its samples:
they must equal the source's samples over exactly the expected span.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import trainer_corpus as tc

from qa.audio import decode
from qa.clips import Clip, ClipLibrary, build_clips, locate_recording, write_html, write_m3u
from qa.errors import NotFoundError, QAError

# clips are cut from the recordings: PyAV (the audio extra) decodes them
pytestmark = pytest.mark.audio

RATE = tc.RATE


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return tc.build(tmp_path_factory.mktemp("clips"), "en", audio=True)


@pytest.fixture(scope="module")
def library(corpus, tmp_path_factory):
    with corpus.open() as ws:
        return build_clips(ws, tmp_path_factory.mktemp("clips_out"), per_item=2, context=(2.0, 1.5))


def read(path: Path) -> tuple[wave._wave_params, np.ndarray]:
    with wave.open(str(path)) as w:
        params = w.getparams()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
    return params, data


def _turn(k: int) -> tuple[float, float]:
    start = tc.LEAD + k * (tc.TURN + tc.GAP)
    return start, start + tc.TURN


def test_clip_list_order_and_spans(library):
    got = [(c.kind, c.item_id, c.call_id, c.start, c.end) for c in library.clips]
    greet, needs, offer, close = _turn(0), _turn(2), _turn(4), _turn(8)
    # c02 has two extra turns (the agency question and its answer) before the offer
    offer2, close2 = _turn(6), _turn(10)
    assert got == [
        # script order, then rubric; best calls first (c01, c02 tie at 100: by id)
        ("stage", "greeting", "c01", 0.0, greet[1] + 1.5),  # clamped at the start of the recording
        ("stage", "greeting", "c02", 0.0, greet[1] + 1.5),
        ("stage", "needs", "c01", needs[0] - 2.0, needs[1] + 1.5),
        ("stage", "needs", "c02", needs[0] - 2.0, needs[1] + 1.5),
        ("stage", "presentation", "c01", offer[0] - 2.0, offer[1] + 1.5),
        ("stage", "presentation", "c02", offer2[0] - 2.0, offer2[1] + 1.5),
        ("stage", "next_step", "c01", close[0] - 2.0, close[1] + 1.5),
        ("stage", "next_step", "c02", close2[0] - 2.0, close2[1] + 1.5),
        # the client's objection (turn 5) and the manager's answer (turn 6)
        ("objection", "price", "c01", _turn(5)[0] - 2.0, _turn(6)[1] + 1.5),
        ("objection", "price", "c02", _turn(7)[0] - 2.0, _turn(8)[1] + 1.5),
    ]
    assert library.clips[0].quote == "Good afternoon, thanks for calling Riverside Homes."
    assert library.clips[8].quote == (
        "Sounds good, but it is too expensive for us. — I understand. Let me show you the monthly "
        "payment, the price includes a parking space."
    )
    assert (library.clips[0].manager, library.clips[1].manager) == ("ann", "bob")
    assert library.skipped == [] and library.empty == []


def test_clips_are_stereo_wavs_of_the_source_span(corpus, library):
    for clip in library.clips:
        path = library.out_dir / clip.path
        params, data = read(path)
        assert (params.nchannels, params.sampwidth, params.framerate) == (2, 2, RATE)
        assert params.nframes == round((clip.end - clip.start) * RATE)
        _, source = read(corpus.root / "audio" / f"{clip.call_id}.wav")
        a = round(clip.start * RATE)
        # sample for sample the recording over the clip's span, both channels
        assert np.array_equal(data, source[a:a + params.nframes]), clip.path
    # and PyAV reads them back
    assert decode(library.out_dir / library.clips[8].path, sample_rate=RATE).duration == pytest.approx(10.0)


def test_clip_content_is_the_moment(library):
    """The needs clip of c01: 2 s of the client's previous turn, the manager's question, 1.5 s after."""
    _, data = read(library.out_dir / "stage_needs" / "01_c01.wav")
    left, right = data[:, 0].astype(float), data[:, 1].astype(float)

    def peak_hz(x: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(x))
        return float(np.fft.rfftfreq(len(x), 1 / RATE)[int(np.argmax(spectrum))])

    s = lambda t: int(t * RATE)  # noqa: E731 - seconds into the clip -> sample
    # clip starts at 5.5 s: the client's turn 1 (4.0-7.0) for 1.5 s on the right, silence left
    assert peak_hz(right[s(0.1):s(1.4)]) == pytest.approx(tc.tone(1), abs=2)
    assert np.abs(left[s(0.1):s(1.4)]).max() == 0
    # the manager's turn 2 (7.5-10.5) is 2.0-5.0 s into the clip, on the left only
    assert peak_hz(left[s(2.1):s(4.9)]) == pytest.approx(tc.tone(2), abs=2)
    assert np.abs(right[s(2.1):s(4.9)]).max() == 0
    # then silence until the clip ends 1.5 s later (the client's turn 3 starts at 11.0)
    assert np.abs(data[s(5.05):s(5.45)]).max() == 0


def test_playlists(library):
    m3u = (library.out_dir / "playlist.m3u").read_text(encoding="utf-8").splitlines()
    assert m3u[:3] == [
        "#EXTM3U",
        "#EXTINF:5,Stage: Greeting — Good afternoon, thanks for calling Riverside Homes.",
        "stage_greeting/01_c01.wav",
    ]
    assert len(m3u) == 1 + 2 * len(library.clips)
    page = (library.out_dir / "index.html").read_text(encoding="utf-8")
    assert page.count("<audio controls") == 10
    for heading in ("Stage: Greeting", "Stage: Needs discovery", "Stage: Presentation", "Stage: Next step",
                    "Objection: Too expensive"):
        assert f">{heading}</h2>" in page
    assert '<audio controls preload="none" src="stage_needs/01_c01.wav"></audio>' in page
    assert "ann · call c01 · at 00:07 · clip 00:05–00:12 · score 100" in page
    for clip in library.clips:
        assert (library.out_dir / clip.path).is_file()


def test_write_html_escapes(tmp_path):
    clip = Clip("stage", "needs", "Needs <discovery>", "c&1", "o'neil", 90.0, 1.0, 2.0, 0.0, 3.0,
                '<script>alert("x")</script>', "stage_needs/01_c_1.wav", 2, 8000)
    write_html(ClipLibrary(tmp_path, [clip], skipped=[("c9", "no <recording>")]), tmp_path / "i.html")
    page = (tmp_path / "i.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert ">Stage: Needs &lt;discovery&gt;</h2>" in page
    assert "<li>c9: no &lt;recording&gt;</li>" in page
    write_m3u([clip], tmp_path / "p.m3u")
    assert (tmp_path / "p.m3u").read_text(encoding="utf-8") == (
        '#EXTM3U\n#EXTINF:3,Stage: Needs <discovery> — <script>alert("x")</script>\nstage_needs/01_c_1.wav\n'
    )


def test_calls_without_audio_are_skipped(corpus, tmp_path):
    with corpus.open() as ws:
        # 2026-03-04: c05, c06 (score 70 both) and c09; the top half is c05 and c06
        lib = build_clips(ws, tmp_path, per_item=6, stage="greeting", top="50%",
                          date_from="2026-03-04", date_to="2026-03-04")
    # c06 has only an imported transcript; c09 (below the top half) never takes its place
    assert [c.call_id for c in lib.clips] == ["c05"]
    assert lib.skipped == [("c06", f"{corpus.root / 'imported' / 'c06.json'}: imported transcript, no recording to cut")]
    assert "imported transcript, no recording to cut</li>" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_only_the_top_quartile_is_exemplary(corpus, tmp_path):
    """The issue: the 'exemplary' playlist had the greeting of a 0-score call. Every call
    greets; only the top quartile (3 of 10 calls) gives clips, however many are asked."""
    with corpus.open() as ws:
        lib = build_clips(ws, tmp_path, per_item=10, stage="greeting")
    assert [c.call_id for c in lib.clips] == ["c01", "c02", "c03"]
    assert min(c.score for c in lib.clips) >= 90
    assert "clips from the 3 best of 10 calls (top 25% by score, score >= 90.3)" in lib.notes


def test_a_flagged_call_gives_no_clip(tmp_path):
    rude = tc.build(tmp_path / "rude", "en", audio=True, rude=True)
    with rude.open() as ws:
        lib = build_clips(ws, tmp_path / "out", per_item=10, top="50%")
    # c11 is third by score (a 5-point penalty) but said a forbidden phrase
    assert "c11" not in {c.call_id for c in lib.clips}
    # the top half of 11 calls is 6: c01, c02, c11, c03, c04, c05; c11 is left out, not replaced
    assert {c.call_id for c in lib.clips} == {"c01", "c02", "c03", "c04", "c05"}
    assert any("1 left out for a critical failure or a forbidden phrase" in n for n in lib.notes)


def test_context_clamped_at_the_end(corpus, tmp_path):
    with corpus.open() as ws:
        lib = build_clips(ws, tmp_path, per_item=1, context=(0.0, 100.0), stage="greeting")
    clip = lib.clips[0]
    duration = corpus.utterances["c01"][-1].end + tc.TAIL
    assert (clip.start, clip.end) == (tc.LEAD, duration)
    params, _ = read(tmp_path / clip.path)
    assert params.nframes == round((duration - tc.LEAD) * RATE)


@pytest.mark.parametrize(
    "source, why",
    [
        (None, "no recording stored for this call (imported transcript)"),
        ("calls/x.srt", "calls/x.srt: imported transcript, no recording to cut"),
        ("calls/missing.wav", "calls/missing.wav: recording not found; was it moved?"),
    ],
)
def test_locate_recording_says_why_not(source, why, tmp_path):
    assert locate_recording(source, tmp_path / "ws") == (None, why)


def test_locate_recording_relative_to_the_workspace(tmp_path, monkeypatch):
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "a.wav").write_bytes(b"RIFF")
    monkeypatch.chdir(tmp_path / "calls")  # 'qa clips' run from elsewhere than 'qa score'
    assert locate_recording("calls/a.wav", tmp_path / "ws") == ((tmp_path / "calls" / "a.wav").resolve(), None)
    assert locate_recording("a.wav", tmp_path / "ws") == (Path("a.wav"), None)


def test_errors(corpus, tmp_path):
    with corpus.open() as ws:
        with pytest.raises(NotFoundError) as e:
            build_clips(ws, tmp_path, stage="closing")
        assert str(e.value).startswith("stage 'closing' is not in script 'Trainer test script'")
        with pytest.raises(QAError) as e:
            build_clips(ws, tmp_path, stage="needs", objection="price")
        assert str(e.value) == "give --stage or --objection, not both"
    silent = tc.build(tmp_path / "no_audio", "en", audio=False)
    with silent.open() as ws, pytest.raises(QAError) as e:
        build_clips(ws, tmp_path / "out")
    assert str(e.value).startswith("no clips could be cut (c01: ")
