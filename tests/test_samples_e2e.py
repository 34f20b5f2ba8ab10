"""End to end: the bundled sample recordings through the real model and `qa score`.

Expected verdicts come from the samples' source texts (`samples/src/*.yaml`, whose header
comments say what each call does), not from the tool's output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.model
SAMPLES = Path(__file__).resolve().parents[1] / "samples"

GOOD_EN = "2026-11-21_10-32-15_smith_14155550123_in"
WEAK_EN = "2026-11-21_11-05-40_jones_14155550188_in"
COLD_EN = "2026-11-21_12-20-03_brown_14155550142_out"
GOOD_RU = "2026-11-21_10-15-02_ivanov_79161234567_in"
WEAK_RU = "2026-11-21_16-40-11_petrov_79031112233_in"
# Asterisk-named Russian telephone calls (8 kHz, 300-3400 Hz): the call id is the uniqueid
PHONE_IN = "1700000001.101"  # stereo WAV
PHONE_MONO = "1700000002.102"  # mono mu-law WAV
PHONE_OUT = "1700000003.103"  # stereo MP3

# (call, stage, expected status)
STAGES = [
    *[(GOOD_EN, s, "found") for s in (
        "greeting", "introduction", "permission", "needs", "presentation",
        "objection_handling", "next_step", "farewell")],
    *[(GOOD_RU, s, "found") for s in (
        "greeting", "introduction", "permission", "needs", "presentation",
        "objection_handling", "next_step", "farewell")],
    (WEAK_EN, "introduction", "missed"),
    (WEAK_EN, "needs", "missed"),
    (WEAK_EN, "next_step", "missed"),
    (WEAK_RU, "greeting", "missed"),
    (WEAK_RU, "introduction", "missed"),
    (WEAK_RU, "needs", "missed"),
    (WEAK_RU, "next_step", "missed"),
]


@pytest.fixture(scope="module")
def tables(scored_samples):
    _, result = scored_samples
    return result.calls.set_index("call_id"), result.items


def _status(items, call_id: str, kind: str, item_id: str) -> list[str]:
    rows = items[(items.call_id == call_id) & (items.kind == kind) & (items.item_id == item_id)]
    return rows["status"].tolist()


def test_every_sample_is_transcribed_and_scored(scored_samples, tables) -> None:
    _, result = scored_samples
    calls, _ = tables
    assert not result.batch.failed
    assert len(calls) == 9
    assert calls.loc[GOOD_RU, "language"] == "ru" and calls.loc[GOOD_EN, "language"] == "en"
    assert calls.loc[COLD_EN, "script"].startswith("B2B"), "the manifest's script column picks the cold-call script"


@pytest.mark.parametrize(("call_id", "stage", "status"), STAGES)
def test_samples_give_the_stages_they_contain(tables, call_id: str, stage: str, status: str) -> None:
    _, items = tables
    assert _status(items, call_id, "stage", stage) == [status]


def test_objections_and_their_handling(tables) -> None:
    _, items = tables
    assert _status(items, GOOD_EN, "objection", "price") == ["handled"]
    assert _status(items, GOOD_RU, "objection", "price") == ["handled"]
    assert _status(items, WEAK_EN, "objection", "think") == ["unhandled"]
    assert "unhandled" in _status(items, WEAK_RU, "objection", "price")
    assert _status(items, COLD_EN, "objection", "have_supplier") == ["handled"]
    assert _status(items, COLD_EN, "objection", "send_offer") == ["unhandled"]


def test_forbidden_phrases_and_scores_order(tables) -> None:
    calls, items = tables
    forbidden = items[items.kind == "forbidden"]
    assert (forbidden.call_id == WEAK_EN).sum() == 2  # "I don't know" twice
    weak_ru = forbidden[forbidden.call_id == WEAK_RU]
    assert any("не ко мне" in str(t).lower() for t in weak_ru["text"])
    assert calls.loc[GOOD_EN, "score"] > 70 and calls.loc[GOOD_RU, "score"] > 70
    assert calls.loc[WEAK_EN, "score"] < 30 and calls.loc[WEAK_RU, "score"] < 30


def test_evidence_carries_quote_time_and_similarity(tables) -> None:
    _, items = tables
    found = items[(items.call_id == GOOD_EN) & (items.status == "found") & (items.kind == "stage")]
    assert found["start"].notna().all() and found["text"].str.len().gt(0).all()
    assert found["similarity"].between(50, 100).all()
    greeting = found[found.item_id == "greeting"].iloc[0]
    assert greeting.start < 5 and "afternoon" in greeting.text.lower()


@pytest.mark.audio
def test_scorecards_show_each_manager_the_stages_of_their_own_script(scored_samples) -> None:
    """Inbound and cold calls in one team: each scorecard lists its manager's script stages."""
    from qa.scorecards import scorecard, team
    from qa.store import Workspace

    ws_path, _ = scored_samples
    with Workspace(ws_path) as ws:
        jones = scorecard(ws, "jones").stages["stage"].tolist()
        brown = scorecard(ws, "brown").stages["stage"].tolist()
        board = team(ws)
    assert "decision_maker" in brown and "decision_maker" not in jones
    assert "needs" in jones and "presentation" in jones and "presentation" not in brown
    assert set(board["manager"]) == {"smith", "jones", "brown", "ivanov", "petrov", "101", "102", "103"}


def test_telephone_calls_keep_their_text_ids_and_lose_no_speech(scored_samples, tables) -> None:
    from qa.store import Workspace

    calls, items = tables
    ws_path, result = scored_samples
    for call_id in (PHONE_IN, PHONE_MONO, PHONE_OUT):
        assert isinstance(call_id, str) and call_id in calls.index  # "1700000001.101", not a float
        assert calls.loc[call_id, "language"] == "ru"
        assert calls.loc[call_id, "quality_flags"] == "", call_id  # no speech_lost, no needs_review
    assert not result.batch.review
    with Workspace(ws_path) as ws:
        t = ws.transcript(PHONE_IN)
    assert t is not None and t.quality["channels"][0]["text_coverage"] > 0.8
    for stage in ("greeting", "introduction", "needs", "objection_handling", "next_step"):
        assert _status(items, PHONE_IN, "stage", stage) == ["found"], stage
    # the 16 kbit/s MP3 is the hardest line: "компания Новый дом" comes out garbled, so the
    # introduction (name AND company) is not asserted there
    for stage in ("greeting", "needs", "next_step"):
        assert _status(items, PHONE_OUT, "stage", stage) == ["found"], stage


def test_telephone_stereo_calls_per_role_wer_near_plain_faster_whisper(scored_samples) -> None:
    """Per-role WER on the two stereo 8 kHz calls, pooled. Plain faster-whisper on each
    channel alone (language given, no VAD) measured manager 0.31 / client 0.28 on the same
    files, ours 0.24 / 0.27 (BENCHMARKS.md); the bound is the plain figure plus a little
    room for int8 differences between CPUs."""
    import jiwer
    import yaml

    from qa.normalize import normalize
    from qa.store import Workspace

    ws_path, _ = scored_samples
    errors = {"manager": [0, 0], "client": [0, 0]}
    with Workspace(ws_path) as ws:
        for call_id, stem in ((PHONE_IN, "ru_phone_inbound"), (PHONE_OUT, "ru_phone_outbound")):
            src = yaml.safe_load((SAMPLES / "src" / f"{stem}.yaml").read_text(encoding="utf-8"))
            t = ws.transcript(call_id)
            for role in errors:
                ref = normalize(" ".join(x["text"] for x in src["turns"] if x["role"] == role), "ru")
                out = jiwer.process_words(ref, normalize(t.text([role]), "ru"))
                errors[role][0] += out.substitutions + out.deletions + out.insertions
                errors[role][1] += len(ref.split())
    wer = {role: e / n for role, (e, n) in errors.items()}
    assert wer["manager"] <= 0.33 and wer["client"] <= 0.31, wer



def test_mono_telephone_call_gets_roles_so_the_clients_promise_is_not_the_managers(scored_samples, tables) -> None:
    from qa.store import Workspace

    _, items = tables
    ws_path, _ = scored_samples
    with Workspace(ws_path) as ws:
        t = ws.transcript(PHONE_MONO)
    assert t is not None and t.options["streams"] == "mono"
    assert t.quality["roles"]["roles"] == "manager/client", t.quality["roles"]
    assert t.roles == {"manager", "client"}
    assert "перезвоню" in t.text(["client"]).lower() and "перезвоню" not in t.text(["manager"]).lower()
    assert "меня зовут" in t.text(["manager"]).lower()
    # «я подумаю и перезвоню» is the client's: the manager earns no next step for it
    assert _status(items, PHONE_MONO, "stage", "next_step") == ["missed"]
    assert _status(items, PHONE_MONO, "stage", "greeting") == ["found"]
