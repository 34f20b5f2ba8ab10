"""The HTML report: charts, escaping, highlighting, pages and their links, Excel, serving.

The workspace here is written directly through ``Workspace.save_call`` / ``save_scores``
(hand-made transcripts and scores, a generated stereo WAV), so every expected value is
known; ``tests/test_browser.py`` runs the same site over the real sample recordings.
"""

from __future__ import annotations

import re
import struct
import threading
import urllib.error
import urllib.request
import wave
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from qa.errors import AudioError, NotFoundError, QAError
from qa.reports import Period, ReportOptions, build_site, charts
from qa.reports.data import quality_flags, review_reasons
from qa.reports.html import Span, find_span, highlight, slug
from qa.reports.serve import make_server, parse_range
from qa.store import Workspace
from qa.transcripts import CallMeta, Transcript, Utterance

SVG = "{http://www.w3.org/2000/svg}"
INJECTION = "<script>alert('x')</script>"


# ---- a workspace with known content ----------------------------------------------------
def write_stereo_wav(path: Path, seconds: float = 12.0, rate: int = 8000) -> Path:
    """A stereo 16-bit PCM WAV: a tone on each channel (manager left, client right)."""
    import math

    frames = bytearray()
    for n in range(int(seconds * rate)):
        left = int(8000 * math.sin(2 * math.pi * 300 * n / rate))
        right = int(8000 * math.sin(2 * math.pi * 500 * n / rate))
        frames += struct.pack("<hh", left, right)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


def write_adpcm_wav(src: Path, dest: Path) -> Path:
    """The same sound as IMA ADPCM WAV, a PBX codec no browser plays (PyAV encodes it)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dest), "w", format="wav") as out:
        stream = inp.streams.audio[0]
        enc = out.add_stream("adpcm_ima_wav", rate=stream.rate, layout="stereo")
        resampler = av.AudioResampler(format="s16p", layout="stereo", rate=stream.rate)
        for frame in inp.decode(stream):
            for chunk in resampler.resample(frame):
                out.mux(enc.encode(chunk))
        out.mux(enc.encode(None))
    return dest


RU_UTTS = [
    Utterance("manager", 0.5, 3.0, "Добрый день, агентство «Новый квартал», меня зовут Анна."),
    Utterance("client", 3.5, 6.0, f"Здравствуйте. Это дорого {INJECTION} для меня."),
    Utterance("manager", 6.5, 9.5, "Понимаю вас. С чем сравниваете? Не знаю, что сказать."),
]


SCRIPT_RU = """name: Входящий звонок
language: ru
stages:
  - {id: greeting, title: Приветствие, weight: 5, phrases: [добрый день, здравствуйте]}
  - {id: needs, title: Выявление потребности, weight: 10, phrases: [какой бюджет]}
  - {id: farewell, title: Прощание, weight: 5, phrases: [до свидания]}
"""
SCRIPT_EN = """name: Inbound call
language: en
stages:
  - {id: greeting, title: Greeting, weight: 5, phrases: [good afternoon, hello]}
  - {id: needs, title: Needs, weight: 10, phrases: [what budget]}
  - {id: farewell, title: Farewell, weight: 5, phrases: [goodbye]}
"""
RUBRIC_RU = """name: Возражения
language: ru
objections:
  - id: price
    title: Дорого
    triggers: [это дорого]
    steps:
      - {id: acknowledge, title: Признать, weight: 1, phrases: [понимаю вас]}
      - {id: argue, title: Аргумент, weight: 1, phrases: [в цену входит]}
"""


def make_report_workspace(root: Path, *, adpcm: bool = False) -> Path:
    """Four calls over two days: a scored Russian stereo call with evidence (critical,
    low score, HTML in the transcript), an English call whose recording is gone (silent
    channel), a mono call imported from a transcript, and an unscored call.
    ``adpcm``: the Russian call's recording is IMA ADPCM WAV (the report converts it)."""
    ws_path = root / "ws"
    wav = write_stereo_wav(root / "ru_call.wav")
    if adpcm:
        wav = write_adpcm_wav(wav, root / "ru_call_adpcm.wav")
    with Workspace(ws_path) as ws:
        # The script texts, as 'qa score' keeps them: the scorecards read the stage ids there
        # to count the Russian and English versions of one script together.
        for hash_, kind, name, text in (("s-ru", "script", "Входящий звонок", SCRIPT_RU),
                                        ("s-en", "script", "Inbound call", SCRIPT_EN),
                                        ("r-ru", "rubric", "Возражения", RUBRIC_RU)):
            ws.save_config(hash=hash_, kind=kind, name=name, path=None, text=text)
        ws.save_call(
            Transcript(
                CallMeta("ru-1", source=str(wav), manager="Иванов", started_at="2026-11-20T10:15:02",
                         direction="in", outcome="lost"),
                list(RU_UTTS), language="ru", duration=12.0,
            ),
            cache_key="k-ru-1",
        )
        ws.save_score(
            "ru-1", script_hash="s-ru", rubric_hash="r-ru",
            summary={
                "score": 42.0, "points": 7, "max_points": 15, "critical": True,
                "critical_reason": "запрещённая фраза «не знаю»", "next_step": False,
                "metrics": {"manager_talk_share": 0.61, "manager_questions": 1},
                "script_name": "Входящий звонок", "rubric_name": "Возражения",
            },
            items=[
                dict(kind="stage", item_id="greeting", title="Приветствие", status="found", score=5,
                     max_score=5, start=0.5, end=3.0, role="manager", text=RU_UTTS[0].text,
                     matched="Добрый день", phrase="добрый день", similarity=100, utterance=0),
                dict(kind="stage", item_id="needs", title="Выявление потребности", status="missed",
                     score=0, max_score=10),
                dict(kind="stage", item_id="farewell", title="Прощание", status="na", score=0,
                     max_score=0, detail="звонок прерван"),
                dict(kind="objection", item_id="price", title="Дорого", status="handled", score=1,
                     max_score=2, start=3.5, end=6.0, role="client", text=RU_UTTS[1].text,
                     matched="это дорого", phrase="дорого", similarity=95, utterance=1),
                dict(kind="step", item_id="price.acknowledge", title="Дорого: Признать", status="found",
                     score=1, max_score=1, start=6.5, end=9.5, role="manager", text=RU_UTTS[2].text,
                     matched="Понимаю вас", phrase="понимаю", similarity=90, utterance=2),
                dict(kind="step", item_id="price.argue", title="Дорого: Аргумент", status="missed", score=0,
                     max_score=1),
                dict(kind="forbidden", item_id="forbidden_1", title="не знаю", status="found",
                     score=-5, max_score=0, start=7.8, end=8.4, role="manager", text=RU_UTTS[2].text,
                     matched="Не знаю", phrase="не знаю", similarity=100, utterance=2),
            ],
        )
        ws.save_call(
            Transcript(
                CallMeta("en/2 a", source=str(root / "gone.wav"), manager="smith",
                         started_at="2026-11-21T11:00:00"),
                [Utterance("manager", 0.0, 2.0, "Good afternoon, thank you for calling."),
                 Utterance("client", 2.5, 4.0, "Hi, I saw the ad.")],
                language="en", duration=5.0, quality={"silent_channel": "right", "too_short": False, "silence_share": 0.4,
                                                     "flags": ["silent_channel"]},
            ),
            cache_key="k-en-2",
        )
        ws.save_score(
            "en/2 a", script_hash="s-en", rubric_hash="none",
            summary={"score": 85.0, "points": 17, "max_points": 20, "next_step": True,
                     "script_name": "Inbound call"},
            items=[
                dict(kind="stage", item_id="greeting", title="Greeting", status="found", score=5,
                     max_score=5, start=0.0, end=2.0, role="manager",
                     text="Good afternoon, thank you for calling.", matched="Good afternoon",
                     phrase="good afternoon", similarity=100, utterance=0),
                dict(kind="stage", item_id="needs", title="Needs", status="found", score=10,
                     max_score=10, start=0.0, end=2.0, role="manager",
                     text="Good afternoon, thank you for calling.", matched="thank you for calling",
                     phrase="thank you for calling", similarity=88, utterance=0),
            ],
        )
        ws.save_call(
            Transcript(
                CallMeta("c3", source=str(root / "c3.json"), manager="smith",
                         started_at="2026-11-21T12:00:00"),
                [Utterance("unknown", 0.0, 3.0, "Hello, this is Kate from Sunrise Homes."),
                 Utterance("unknown", 3.0, 6.0, "Hi Kate.")],
                language="en", duration=6.0,
            ),
            cache_key="k-c3",
        )
        ws.save_score(
            "c3", script_hash="s-en", rubric_hash="none",
            summary={"score": 70.0, "points": 14, "max_points": 20, "next_step": False},
            items=[
                dict(kind="stage", item_id="greeting", title="Greeting", status="found", score=5,
                     max_score=5, start=0.0, end=3.0, role="unknown",
                     text="Hello, this is Kate from Sunrise Homes.", matched="Hello",
                     phrase="hello", similarity=100, utterance=0),
                dict(kind="stage", item_id="needs", title="Needs", status="missed", score=0,
                     max_score=10),
            ],
        )
        ws.save_call(
            Transcript(CallMeta("c4", started_at="2026-11-21T13:00:00"),
                       [Utterance("manager", 0.0, 1.0, "Алло")], language="ru", duration=1.0),
            cache_key="k-c4",
        )
    return ws_path


@pytest.fixture(scope="module")
def report_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_report_workspace(tmp_path_factory.mktemp("report_ws"))


@pytest.fixture(scope="module")
def site(report_ws: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("site")
    with Workspace(report_ws) as ws:
        return build_site(ws, out, options=ReportOptions(lang="en"))


# ---- charts ------------------------------------------------------------------------------
def _svg(text: str) -> ET.Element:
    root = ET.fromstring(text)  # raises on invalid XML
    assert root.tag == f"{SVG}svg"
    return root


def test_histogram_counts_and_heights() -> None:
    root = _svg(charts.histogram([5, 15, 15, 95, 100, 100], title="Scores"))
    bars = root.findall(f".//{SVG}rect[@class='bar']")
    assert [int(b.get("data-count")) for b in bars] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 3]
    # Plot height 240 - 14 - 40 = 186 for the top tick 3: 1 call = 62, 3 calls = 186.
    assert [float(b.get("height")) for b in bars][:3] == [62.0, 124.0, 0.0]
    assert float(bars[-1].get("height")) == 186.0
    assert bars[1].get("data-from") == "10" and bars[1].get("data-to") == "20"
    assert root.find(f"{SVG}title").text == "Scores"


@pytest.mark.parametrize(
    "values, bins, lo, hi, counts",
    [
        ([0, 49.9, 50, 100], 2, 0, 100, [2, 2]),
        ([-5, 120], 4, 0, 100, [1, 0, 0, 1]),  # clamped into the end bins
        ([1, 2, 3, float("nan")], 1, 0, 10, [3]),  # NaN is not a call score
    ],
)
def test_histogram_bins(values, bins, lo, hi, counts) -> None:
    root = _svg(charts.histogram(values, bins=bins, lo=lo, hi=hi))
    assert [int(b.get("data-count")) for b in root.iter(f"{SVG}rect")] == counts


def test_histogram_empty_says_so() -> None:
    root = _svg(charts.histogram([], empty="нет оценённых звонков"))
    assert root.find(f"{SVG}text").text == "нет оценённых звонков"
    assert root.find(f".//{SVG}rect") is None


def test_line_chart_points_and_positions() -> None:
    points = [charts.Point("2026-11-19", 50, 60), charts.Point("2026-11-20", None, 70),
              charts.Point("2026-11-21", 100, 80)]
    root = _svg(charts.line_chart(points))
    circles = root.findall(f".//{SVG}circle")
    assert [c.get("data-label") for c in circles] == ["2026-11-19", "2026-11-21"]
    # Plot area: x 44..628 (3 points: 44, 336, 628), y 14..206 (value 50 -> 110, 100 -> 14).
    assert [(float(c.get("cx")), float(c.get("cy"))) for c in circles] == [(44.0, 110.0), (628.0, 14.0)]
    own = root.find(f"{SVG}polyline[@class='series own']")
    assert own.get("points") == "44,110 628,14"
    other = root.find(f"{SVG}polyline[@class='series other']")
    assert other.get("points") == "44,90.8 336,71.6 628,52.4"


def test_hbars_widths_and_team_marks() -> None:
    bars = [charts.Bar("Приветствие", 50, 80), charts.Bar("Needs", 100, None), charts.Bar("Close", None, 20)]
    root = _svg(charts.hbars(bars, series="manager", other_series="team"))
    rects = root.findall(f".//{SVG}g[@class='row']/{SVG}rect")
    # Label column: "Приветствие" = П 0.72 + р .63 и .65 в .59 е .62 т .52 с .55 т .52 в .59
    # и .65 е .62 = 6.66 em = 79.92 px at 12 px, int + 12 = 91; values column 84 px ->
    # plot width 640 - 91 - 84 = 465.
    assert [(r.get("data-label"), float(r.get("width"))) for r in rects] == [
        ("Приветствие", 232.5), ("Needs", 465.0)
    ]
    marks = root.findall(f".//{SVG}g[@class='row']/{SVG}line[@class='other']")
    assert [(m.get("data-value"), float(m.get("x1"))) for m in marks] == [("80", 463.0), ("20", 184.0)]
    texts = [t.text for t in root.findall(f".//{SVG}text[@class='value']")]
    assert texts == ["50% / 80%", "100%", "— / 20%"]


@pytest.mark.parametrize(
    "text, width",
    [("Needs", (0.72 + 0.62 + 0.62 + 0.63 + 0.52) * 12), ("Ш il…", (1.03 + 0.32 + 0.28 + 0.28 + 1.0) * 12),
     ("", 0.0)],
)
def test_text_width(text, width) -> None:
    assert charts.text_width(text) == pytest.approx(width)


def test_chart_text_is_escaped() -> None:
    label = "<b>Иванов & Co</b>"
    root = _svg(charts.hbars([charts.Bar(label, 10)], title=label))
    assert root.find(f"{SVG}title").text == label
    assert root.find(f".//{SVG}b") is None and root.find(".//b") is None
    assert root.find(f".//{SVG}rect[@class='bar']").get("data-label") == label


@pytest.mark.parametrize(
    "lo, hi, count, ticks",
    [(0, 100, 5, [0, 20, 40, 60, 80, 100]), (0, 3, 3, [0, 1, 2, 3]), (0, 7, 5, [0, 2, 4, 6, 8]),
     (0, 100, 4, [0, 25, 50, 75, 100])],
)
def test_nice_ticks(lo, hi, count, ticks) -> None:
    assert charts.nice_ticks(lo, hi, count) == ticks


# ---- html helpers ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, needle, span",
    [
        ("Добрый день, агентство", "добрый день", (0, 11)),
        ("Ёлки-палки, ёлки", "елки палки", (0, 10)),  # ё/е and punctuation do not matter
        ("So: HELLO,   world!", "hello world", (4, 18)),
        ("Не знаю, что сказать", "НЕ ЗНАЮ", (0, 7)),
        ("abc", "xyz", None),
        ("abc", "", None),
    ],
)
def test_find_span(text, needle, span) -> None:
    assert find_span(text, needle) == span


def test_highlight_overlaps_and_escapes() -> None:
    html = highlight("a<b>cdef", [Span(0, 5, "stage", "A"), Span(3, 8, "forbidden", "B")])
    assert html == (
        '<mark class="hl k-stage" title="A">a&lt;b</mark>'
        '<mark class="hl k-forbidden" title="A · B">&gt;c</mark>'
        '<mark class="hl k-forbidden" title="B">def</mark>'
    )
    assert highlight("<i>", []) == "&lt;i&gt;"


@pytest.mark.parametrize(
    "text, expected",
    [("c1", "c1"), ("Иванов", "Иванов"), ("2026-11-21_10-15", "2026-11-21_10-15")],
)
def test_slug_keeps_safe_names(text, expected) -> None:
    assert slug(text) == expected


def test_slug_replaces_and_disambiguates() -> None:
    a, b = slug("en/2 a"), slug("en_2_a")
    assert a.startswith("en_2_a-") and b == "en_2_a" and a != b
    assert "/" not in slug("../../etc/passwd") and not slug("../x").startswith(".")


@pytest.mark.parametrize(
    "quality, flags",
    [
        # qa.audio's layout: the flags list decides, measurements and details are not flags
        ({"silent_channel": "left", "too_short": True, "flags": ["too_short", "silent_channel"]},
         ["too_short", "silent_channel"]),
        ({"silent_channel": None, "channels_identical": True, "flags": []}, []),
        # transcripts stored by other tools: keys set to true
        ({"silent_channel": True, "rms_db": -20.0}, ["silent_channel"]),
        ({"silent_channel": False}, []),
    ],
)
def test_quality_flags(quality, flags) -> None:
    assert quality_flags(quality) == flags


@pytest.mark.parametrize(
    "call, reasons",
    [
        ({"score": 42.0, "critical": True, "critical_reason": "r", "quality": {}},
         [("critical", "r"), ("low_score", "42")]),
        ({"score": 90.0, "quality": {"silent_channel": True}}, [("quality", "silent_channel")]),
        ({"score": 50.0, "quality": {}}, []),  # at the threshold is not below it
        ({"score": float("nan"), "quality": {}}, []),  # not scored
    ],
)
def test_review_reasons(call, reasons) -> None:
    assert review_reasons(call, 50.0) == reasons


@pytest.mark.parametrize(
    "args, message",
    [
        (("2026-11-21", "2026-11-01", None), "not both"),
        ((None, "2026-11-22", "2026-11-21"), "after --to"),
        (("21.11.2026", None, None), "write it as YYYY-MM-DD"),
    ],
)
def test_period_errors(args, message) -> None:
    with pytest.raises(QAError, match=message):
        Period.of(*args)


def test_period_labels() -> None:
    assert Period.of("2026-11-21").label() == "2026-11-21"
    assert Period.of(None, "2026-11-01", None).label() == "2026-11-01 – …"
    assert Period.of().is_open


# ---- the site ------------------------------------------------------------------------------
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self.scripts.append(a)
        for key in ("href", "src"):
            if a.get(key):
                self.links.append(a[key])


def _parse(path: Path) -> _Links:
    p = _Links()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_site_files(site) -> None:
    out = site.out_dir
    assert site.calls == 4 and site.managers == ("smith", "Иванов")
    names = sorted(p.relative_to(out).as_posix() for p in site.pages)
    assert names == sorted([
        "index.html", "managers/smith.html", "managers/Иванов.html", "calls/ru-1.html",
        f"calls/{slug('en/2 a')}.html", "calls/c3.html", "calls/c4.html",
    ])
    assert site.audio_files == 1 and (out / "audio/ru-1.wav").is_file()
    assert site.missing_audio == ("en/2 a", "c4")  # c3 is a transcript, not a lost recording
    assert (out / "assets/report.css").is_file() and (out / "assets/report.js").is_file()


def test_every_link_resolves(site) -> None:
    out = site.out_dir
    checked = 0
    for page in site.pages:
        for link in _parse(page).links:
            parts = urlsplit(link)
            if parts.scheme == "data":
                continue
            assert not parts.scheme and not parts.netloc, f"{page}: external link {link}"
            target = (page.parent / unquote(parts.path)).resolve()
            assert target.is_file(), f"{page.name}: {link} -> {target} missing"
            assert out.resolve() in target.parents, f"{link} leaves the site"
            checked += 1
    assert checked > 40


def test_transcript_html_is_escaped(site) -> None:
    page = site.out_dir / "calls/ru-1.html"
    html = page.read_text(encoding="utf-8")
    parsed = _parse(page)
    assert [s.get("src") for s in parsed.scripts] == ["../assets/report.js"]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert INJECTION not in html


def test_call_page_conversation_and_evidence(site) -> None:
    html = (site.out_dir / "calls/ru-1.html").read_text(encoding="utf-8")
    tags = _parse(site.out_dir / "calls/ru-1.html").tags
    turns = [a for t, a in tags if t == "div" and "turn" in (a.get("class") or "").split()]
    assert [(a["id"], a["class"]) for a in turns] == [
        ("u0", "turn left role-manager"), ("u1", "turn right role-client"), ("u2", "turn left role-manager")
    ]
    # Matched spans highlighted in the conversation, labelled by stage / objection / step.
    assert '<mark class="hl k-stage" title="Приветствие">Добрый день</mark>' in html
    assert '<mark class="hl k-objection" title="Дорого">Это дорого</mark>' in html
    assert '<mark class="hl k-step" title="Дорого: Признать">Понимаю вас</mark>' in html
    assert '<mark class="hl k-forbidden" title="forbidden: не знаю">Не знаю</mark>' in html
    # Evidence buttons carry the time and the utterance they point at.
    ev = [(a["data-t"], a.get("data-u")) for t, a in tags if t == "button" and "evidence" in a.get("class", "")]
    assert ev == [("0.50", "u0"), ("3.50", "u1"), ("6.50", "u2"), ("7.80", "u2")]
    audio = [a for t, a in tags if t == "audio"]
    assert audio == [{"id": "player", "controls": None, "preload": "metadata", "src": "../audio/ru-1.wav"}]
    assert "запрещённая фраза «не знаю»" in html
    assert "звонок прерван" in html  # why a stage was not applicable
    assert "61%" in html  # manager talk share metric


def test_call_pages_without_recordings(site) -> None:
    en = (site.out_dir / f"calls/{slug('en/2 a')}.html").read_text(encoding="utf-8")
    assert "<audio" not in en and "Recording not found at" in en and "one side is silent (right)" in en
    mono = (site.out_dir / "calls/c3.html").read_text(encoding="utf-8")
    assert "Imported from a transcript (c3.json)" in mono
    assert 'class="turn mid role-unknown"' in mono and "Mono recording" in mono
    unscored = (site.out_dir / "calls/c4.html").read_text(encoding="utf-8")
    assert "This call is not scored yet" in unscored


def test_index_page(site) -> None:
    html = site.index.read_text(encoding="utf-8")
    assert "<h1>All calls</h1>" in html
    stats = re.findall(r'<div class="v">([^<]*)</div><div class="k">([^<]*)</div>', html)
    assert stats == [("4", "Calls"), ("3", "Scored"), ("65.7", "Average score"), ("1", "Critical"),
                     ("33%", "Next step agreed"), ("2", "Calls to review")]
    root = _svg(re.search(r'<svg[^>]*class="chart histogram".*?</svg>', html, re.S).group(0))
    assert [int(b.get("data-count")) for b in root.iter(f"{SVG}rect")] == [0, 0, 0, 0, 1, 0, 0, 1, 1, 0]
    missed = _svg(re.search(r'<svg[^>]*class="chart hbars".*?</svg>', html, re.S).group(0))
    # One stage id in both languages: missed in ru-1 and c3, found in en/2 -> 2 of 3, titled
    # in the interface language (English here).
    assert [(r.get("data-label"), r.get("data-value")) for r in missed.iter(f"{SVG}rect")] == [
        ("Needs", "66.7")
    ]
    # The critical call links straight to the forbidden phrase.
    assert 'href="calls/ru-1.html#t=7.80"' in html


def test_manager_page(site) -> None:
    html = (site.out_dir / "managers/Иванов.html").read_text(encoding="utf-8")
    assert "Rank 2 of 2 in the team by average score" in html
    stats = re.findall(r'<div class="v">([^<]*)</div><div class="k">([^<]*)</div>', html)
    assert stats == [("1", "Scored"), ("42", "Average score"), ("65.7", "Team average"),
                     ("0%", "Next step agreed"), ("1", "Critical"), ("100%", "Objections handled")]
    trend = _svg(re.search(r'<svg[^>]*class="chart line".*?</svg>', html, re.S).group(0))
    assert [(c.get("data-label"), c.get("data-value")) for c in trend.iter(f"{SVG}circle")] == [
        ("2026-11-20", "42")
    ]
    bars = _svg(re.search(r'<svg[^>]*class="chart hbars".*?</svg>', html, re.S).group(0))
    rows = [(g.get("class"), [e.get("data-value") for e in g if e.get("data-value") is not None])
            for g in bars.iter(f"{SVG}g") if "row" in (g.get("class") or "")]
    # Team median of the managers' rates in his script and language (issue 13: the English
    # calls are another section): he is the only Russian-speaking manager, 100 and 0.
    assert rows == [("row", ["100", "100"]), ("row", ["0", "0"]), ("row", [])]
    assert 'href="../calls/ru-1.html#t=7.80"' in html  # a moment to listen to, opened there
    assert "Дорого" in html  # objection handling table


def test_manager_page_plan_computed_then_saved(tmp_path: Path) -> None:
    with Workspace(make_report_workspace(tmp_path)) as ws:  # its own: a plan gets saved
        result = build_site(ws, tmp_path / "a", options=ReportOptions(lang="en", excel=False))
        html = (result.out_dir / "managers/Иванов.html").read_text(encoding="utf-8")
        assert "Suggested plan (not saved yet" in html
        # No gap: he is the only manager on the Russian script, and the English calls are not
        # his team benchmark nor his examples (issue 13: supervisor views in one language).
        assert "No gap to the team&#x27;s best quartile in this period." in html
        assert 'href="../calls/en_2_a-' not in html
        assert not ws.plans("Иванов")  # building a report saves nothing
        ws.save_plan("Иванов", {"manager": "Иванов", "period_from": "2026-11-20", "period_to": "2026-11-20",
                                "gaps": [{"kind": "stage", "item_id": "needs", "title": "Выявление потребности",
                                          "rate": 0.0, "done": 0, "applicable": 1, "team_median": 25.0,
                                          "team_best_quartile": 50.0, "impact": 5.0,
                                          "goal": {"kind": "stage", "item_id": "needs",
                                                   "title": "Выявление потребности", "target": 50.0}}]},
                     period_from="2026-11-20", period_to="2026-11-20")
        result = build_site(ws, tmp_path / "b", options=ReportOptions(lang="ru", excel=False))
    html = (result.out_dir / "managers/Иванов.html").read_text(encoding="utf-8")
    assert "Сохранённый план от" in html
    assert "Выявление потребности — не менее чем в 50% звонков" in html


def test_one_manager_and_one_day(report_ws: Path, tmp_path: Path) -> None:
    with Workspace(report_ws) as ws:
        result = build_site(ws, tmp_path, day="2026-11-21", manager="smith", audio="none",
                            options=ReportOptions(excel=False))
    assert result.calls == 2 and result.managers == ("smith",) and result.excel is None
    html = result.index.read_text(encoding="utf-8")
    assert "Calls of 2026-11-21" in html and "Report for one manager" in html
    assert not list(tmp_path.glob("audio/*"))


@pytest.mark.parametrize("audio", ["copy", "link"])
@pytest.mark.audio
def test_unplayable_codec_is_converted_to_mp3(tmp_path: Path, audio: str) -> None:
    from qa.reports.media import browser_playable

    ws_path = make_report_workspace(tmp_path, adpcm=True)
    assert browser_playable(tmp_path / "ru_call_adpcm.wav") is False
    with Workspace(ws_path) as ws:
        result = build_site(ws, tmp_path / "site", day="2026-11-20", audio=audio,
                            options=ReportOptions(excel=False))
    mp3 = tmp_path / "site/audio/ru-1.mp3"
    assert result.converted == 1 and result.audio_files == 1
    assert mp3.is_file() and not mp3.is_symlink() and browser_playable(mp3) is True
    assert not list((tmp_path / "site/audio").glob("*.wav"))
    assert 'src="../audio/ru-1.mp3"' in (tmp_path / "site/calls/ru-1.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "make, playable",
    [
        (lambda d: write_stereo_wav(d / "pcm.wav", 1), True),
        (lambda d: write_adpcm_wav(write_stereo_wav(d / "pcm.wav", 1), d / "adpcm.wav"), False),
        (lambda d: (d / "junk.wav").write_bytes(b"RIFF, but not audio") and d / "junk.wav", None),
    ],
)
@pytest.mark.audio
def test_browser_playable(tmp_path: Path, make, playable) -> None:
    from qa.reports.media import browser_playable

    assert browser_playable(make(tmp_path)) is playable


@pytest.mark.audio
def test_to_mp3_keeps_channels_and_length(tmp_path: Path) -> None:
    import av

    from qa.reports.media import to_mp3

    src = write_adpcm_wav(write_stereo_wav(tmp_path / "pcm.wav", 4), tmp_path / "adpcm.wav")
    out = to_mp3(src, tmp_path / "out.mp3")
    with av.open(str(out)) as c:
        stream = c.streams.audio[0]
        assert (stream.codec_context.name, stream.channels, stream.rate) == ("mp3float", 2, 8000)
        assert abs(float(c.duration) / 1e6 - 4.0) < 0.2
    with pytest.raises(AudioError, match="cannot convert the recording to MP3"):
        to_mp3((tmp_path / "junk.wav").write_bytes(b"RIFF junk") and tmp_path / "junk.wav", tmp_path / "j.mp3")
    assert not (tmp_path / "j.mp3").exists() and not (tmp_path / "j.mp3.part").exists()


def test_manager_name_in_any_case(report_ws: Path, tmp_path: Path) -> None:
    with Workspace(report_ws) as ws:
        result = build_site(ws, tmp_path, manager="ИВАНОВ", audio="none", options=ReportOptions(excel=False))
    assert result.managers == ("Иванов",) and result.calls == 1


def test_lang_auto_picks_most_common_call_language(report_ws: Path, tmp_path: Path) -> None:
    with Workspace(report_ws) as ws:
        result = build_site(ws, tmp_path, day="2026-11-20", options=ReportOptions(excel=False))
    html = result.index.read_text(encoding="utf-8")
    assert '<html lang="ru">' in html and "Звонки за 2026-11-20" in html


def test_missed_stages_titled_in_interface_language(report_ws: Path, tmp_path: Path) -> None:
    with Workspace(report_ws) as ws:
        result = build_site(ws, tmp_path, options=ReportOptions(lang="ru", excel=False))
    assert list(result.tables["missed_stages"].itertuples(index=False, name=None)) == [
        ("needs", "Выявление потребности", 3, 2, 66.7)
    ]


def test_audio_link_mode_makes_symlinks(report_ws: Path, tmp_path: Path) -> None:
    with Workspace(report_ws) as ws:
        build_site(ws, tmp_path, day="2026-11-20", audio="link", options=ReportOptions(excel=False))
    link = tmp_path / "audio/ru-1.wav"
    assert link.is_symlink() and link.resolve() == (report_ws.parent / "ru_call.wav").resolve()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"manager": "nobody"}, NotFoundError, "managers there: smith, Иванов"),
        ({"day": "2026-12-01"}, NotFoundError, "4 calls from 2026-11-20 to 2026-11-21"),
        ({"audio": "embed"}, QAError, "choose one of copy, link, none"),
    ],
)
def test_build_site_errors(report_ws: Path, tmp_path: Path, kwargs, error, message) -> None:
    with Workspace(report_ws) as ws, pytest.raises(error, match=message):
        build_site(ws, tmp_path, **kwargs)


def test_empty_workspace_says_what_to_do(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws, pytest.raises(NotFoundError, match="run 'qa score"):
        build_site(ws, tmp_path / "out")


# ---- Excel -------------------------------------------------------------------------------
def test_excel_sheets(site) -> None:
    import openpyxl

    book = openpyxl.load_workbook(site.excel)
    assert book.sheetnames == ["calls", "managers", "stages_vs_team", "objections_vs_team", "moments",
                               "missed_stages", "review", "evidence"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
    calls = book["calls"]
    header = [c.value for c in calls[1]]
    rows = [dict(zip(header, [c.value for c in r])) for r in calls.iter_rows(min_row=2)]
    assert [(r["call_id"], r["score"], r["critical"]) for r in rows] == [
        ("ru-1", 42, True), ("en/2 a", 85, False), ("c3", 70, False), ("c4", None, False)
    ]
    assert rows[0]["review"] == "critical: запрещённая фраза «не знаю»; low_score: 42"
    assert calls.column_dimensions["A"].width >= len("call_id")
    review = [r[0].value for r in book["review"].iter_rows(min_row=2)]
    assert review == ["ru-1", "en/2 a"]
    evidence = book["evidence"]
    assert evidence.max_row - 1 == 7 + 2 + 2
    managers = book["managers"]
    header = [c.value for c in managers[1]]
    assert header[:4] == ["rank", "manager", "calls", "mean_score"] and "Greeting" in header
    assert [(r[0].value, r[1].value, r[2].value) for r in managers.iter_rows(min_row=2)] == [
        (1, "smith", 2), (2, "Иванов", 1)
    ]
    stages = [[c.value for c in r][:6] for r in book["stages_vs_team"].iter_rows(min_row=2)]
    assert stages[:2] == [["smith", "greeting", "Greeting", 5, 2, 2], ["smith", "needs", "Needs", 10, 1, 2]]
    missed = [[c.value for c in r] for r in book["missed_stages"].iter_rows(min_row=2)]
    assert missed == [["needs", "Needs", 3, 2, 66.7]]


# ---- the interface language (--ui) ------------------------------------------------------------
class _Words(HTMLParser):
    """The interface text of a page: headings, table headers, definition terms, chips and
    buttons (where the catalog's words go), and the page's ``lang``."""

    WORDS = {"h1", "h2", "h3", "th", "dt", "button", "summary", "label"}

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.words: list[str] = []
        self._open: list[str] = []
        self.attrs: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attrs.append((tag, a))
        if tag == "html":
            self.lang = a.get("lang")
        if tag in self.WORDS:
            self._open.append(tag)
            self.words.append("")

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        if self._open:
            self.words[-1] += data


def _words(path: Path) -> _Words:
    w = _Words()
    w.feed(path.read_text(encoding="utf-8"))
    w.words = [" ".join(x.split()) for x in w.words if x.strip()]
    return w


def _catalog_words(lang: str, other: str) -> set[str]:
    """Words of ``lang``'s catalog that ``other`` says differently (no {fields})."""
    import yaml

    root = Path(__file__).resolve().parent.parent / "qa/data/ui"
    mine, theirs = (yaml.safe_load((root / f"{x}.yaml").read_text(encoding="utf-8")) for x in (lang, other))
    return {v for k, v in mine.items() if "{" not in v and v != theirs[k]}


@pytest.fixture(scope="module")
def ru_site(report_ws: Path, tmp_path_factory: pytest.TempPathFactory):
    from typer.testing import CliRunner

    from qa.cli import app

    out = tmp_path_factory.mktemp("ru_site")
    result = CliRunner().invoke(app, ["report", "-w", str(report_ws), "-o", str(out), "--ui", "ru"])
    return out, result


def test_ui_ru_writes_russian_pages(ru_site) -> None:
    out, result = ru_site
    assert result.exit_code == 0, result.output
    warning, summary = result.stderr.strip().split("\n")
    assert warning.startswith("Внимание: записей не найдено: 2, на их страницах нет плеера: en/2 a, c4.")
    assert summary == f"Записано страниц: 7 (звонков 4, менеджеров 2, записей 1) в {out} и report.xlsx"
    english = _catalog_words("en", "ru")
    pages = {"index.html", "search.html", "calls/ru-1.html", f"calls/{slug('en/2 a')}.html", "calls/c4.html"}
    for rel in sorted(pages):
        w = _words(out / rel)
        assert w.lang == "ru", rel
        # every word of the interface is Russian: none of the English catalog's words is left
        assert [x for x in w.words if x in english] == [], rel
    index = _words(out / "index.html")
    assert index.words[0] == "Все звонки"
    assert {"Время", "Менеджер", "Звонок", "Оценка", "Причина", "Место", "Время разговоров"} <= set(index.words)
    assert {"Звонки на проверку", "Менеджеры", "Чаще всего пропускаемые этапы", "Распределение оценок"} <= set(index.words)
    call = _words(out / "calls/ru-1.html")
    assert {"Разговор", "Из чего сложилась оценка", "Этапы", "Возражения", "Запрещённые фразы",
            "Показатели разговора"} <= set(call.words)
    assert "Доля речи менеджера" in call.words  # a metric, from the same catalog
    search = _words(out / "search.html")
    assert search.words[:2] == ["Поиск", "Найти"]
    assert search.words[2:] == ["Звонок", "Менеджер", "День", "Время", "Кто", "Цитата"]
    roles = next(a["data-roles"] for t, a in search.attrs if t == "tbody")
    import json

    assert json.loads(roles) == {"manager": "Менеджер", "client": "Клиент", "unknown": "Говорящий"}


def test_ui_en_pages_have_no_russian_interface_words(site) -> None:
    russian = _catalog_words("ru", "en")
    for path in [site.index, site.out_dir / "search.html", *site.pages]:
        w = _words(path)
        assert w.lang == "en"
        assert [x for x in w.words if x in russian] == [], path


def test_ui_ru_workbook_headers(ru_site) -> None:
    import openpyxl

    out, _ = ru_site
    book = openpyxl.load_workbook(out / "report.xlsx")
    assert book.sheetnames == ["Звонки", "Менеджеры", "Этапы и команда", "Возражения и команда",
                               "Что послушать", "Пропуски этапов", "На проверку", "Доказательства"]
    calls = [c.value for c in book["Звонки"][1]]
    assert calls[:7] == ["ID звонка", "Начало", "Менеджер", "Направление", "Итог", "Длительность, с", "Оценка"]
    managers = [c.value for c in book["Менеджеры"][1]]
    assert managers[:4] == ["Место", "Менеджер", "Звонков", "Средняя оценка"]
    # stage titles are the scripts' own words; talk metrics are in the interface language
    assert "Greeting" in managers and "Дорого" in managers and "Доля речи менеджера" in managers
    assert [c.value for c in book["Пропуски этапов"][1]] == ["Этап", "Название", "Нужен", "Пропущен", "Пропущен, %"]
    evidence = [c.value for c in book["Доказательства"][1]]
    assert evidence[:5] == ["ID звонка", "Вид", "Пункт", "Название", "Статус"]
    # the values stay as stored, so filters and formulas work in any language
    assert [r[1].value for r in book["Доказательства"].iter_rows(min_row=2)][:1] == ["stage"]
    # every header of every sheet is translated, except the scripts' stage/objection titles
    import yaml

    en = yaml.safe_load((Path(__file__).resolve().parent.parent / "qa/data/ui/en.yaml").read_text(encoding="utf-8"))
    plain = {v for k, v in en.items() if k.startswith("col_")}
    for sheet in book.worksheets:
        assert [c.value for c in sheet[1] if c.value in plain] == [], sheet.title


def test_result_tables_keep_plain_column_names(ru_site, report_ws: Path, tmp_path: Path) -> None:
    with Workspace(report_ws) as ws:
        result = build_site(ws, tmp_path, audio="none", options=ReportOptions(lang="ru"))
    assert result.lang == "ru"
    assert list(result.tables["calls"].columns)[:3] == ["call_id", "started_at", "manager"]


# ---- serving with Range ------------------------------------------------------------------
@pytest.mark.parametrize(
    "header, size, expected",
    [
        ("bytes=0-99", 1000, (0, 99)),
        ("bytes=900-", 1000, (900, 999)),
        ("bytes=-100", 1000, (900, 999)),
        ("bytes=990-2000", 1000, (990, 999)),
        ("bytes=0-1,5-6", 1000, None),  # several ranges: whole file
        ("items=0-5", 1000, None),
    ],
)
def test_parse_range(header, size, expected) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=-0"])
def test_parse_range_unsatisfiable(header) -> None:
    with pytest.raises(ValueError):
        parse_range(header, 1000)


@pytest.fixture
def server(site):
    srv = make_server(site.out_dir, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _get(url: str, headers: dict[str, str] | None = None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_server_range_requests(site, server) -> None:
    data = (site.out_dir / "audio/ru-1.wav").read_bytes()
    status, headers, body = _get(server + "/audio/ru-1.wav")
    assert status == 200 and body == data and headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Type"] == "audio/wav"
    status, headers, body = _get(server + "/audio/ru-1.wav", {"Range": "bytes=44-1067"})
    assert status == 206 and body == data[44:1068]
    assert headers["Content-Range"] == f"bytes 44-1067/{len(data)}"
    assert headers["Content-Length"] == "1024"
    status, headers, _ = _get(server + "/audio/ru-1.wav", {"Range": f"bytes={len(data)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(data)}"
    status, headers, body = _get(server + "/calls/" + urllib.request.quote("ru-1.html"))
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Добрый день".encode() in body
    status, _, body = _get(server + "/managers/" + urllib.request.quote("Иванов.html"))
    assert status == 200
    assert _get(server + "/nope.html")[0] == 404


def test_server_needs_a_built_report(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="no index.html here; build the report first"):
        make_server(tmp_path, "127.0.0.1", 0)


def test_page_times_use_the_one_clock() -> None:
    from qa.reports.html import fmt_seconds
    from qa.transcripts import clock

    assert [fmt_seconds(x) for x in (75.4, 3723, 0)] == ["01:15", "1:02:03", "00:00"]
    assert fmt_seconds(75.4) == clock(75.4)
    assert fmt_seconds(None) == fmt_seconds(float("nan")) == "—"


def test_evidence_without_an_utterance_is_listed_but_not_placed() -> None:
    """Items scored before the evidence kept its utterance (a migrated workspace)."""
    from qa.reports.call_page import _placed

    utts = [Utterance("manager", 0.0, 2.0, "Good afternoon, thank you for calling.")]
    items = [
        {"kind": "stage", "status": "found", "utterance": 0, "matched": "thank you"},
        {"kind": "stage", "status": "found", "utterance": None, "matched": "Good afternoon"},
        {"kind": "stage", "status": "found", "utterance": float("nan"), "matched": "Good afternoon"},
        {"kind": "stage", "status": "missed", "utterance": None, "matched": None},
        {"kind": "forbidden", "status": "found", "utterance": 5, "matched": "x"},  # another transcript
    ]
    assert _placed(utts, items) == {0: (0, (16, 25))}
