"""``qa.calllog``: reading the PBX log, classifying rows, missed calls and callbacks.

The hand count of ``tests/fixtures/calllog/day_master.csv`` (one day, Asterisk cdr_csv,
extensions 101 ivanov, 102 smith, 103 jones; window 30 minutes, rule ``attempt``):

=========  =======  ========  ======  =======  ====  =====  =========  ========================
manager    inbound  answered  missed  in time  late  never  recovered  callback delays, minutes
=========  =======  ========  ======  =======  ====  =====  =========  ========================
ivanov     3        1         2       1        1     0      0          15 (B, by 101), 50 (A, by 102)
smith      4        2         2       0        1     0      1          60 (C: an unanswered attempt by 103)
jones      3        0         3       1        0     2      0          20 (G: answered with billsec 0 is a miss)
nobody     1        0         1       0        0     1      0          (H died in the IVR, dst is the DID)
team       11       3         8       2        2     3      1          15, 20, 50, 60: median 35, p90 57
=========  =======  ========  ======  =======  ====  =====  =========  ========================

smith's 4 inbound include the ring group at 11:00 (two legs, one call, answered by 102; the
unanswered leg to 101 is not ivanov's miss) and D's second call at 10:05, which recovers
D's miss at 10:00. Two internal calls (101 -> 102, 102 -> 103) count nowhere. Outbound:
ivanov 1 (answered), smith 2 (answered), jones 3 (1 answered; one with the caller id
rewritten to the company number, known by its channel SIP/103). Talk: ivanov 120 + 60 s,
smith 90 + 200 + 300 + 100 s, jones 45 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import calllog
from qa.calllog import TEAM, classify, import_log, missed_report, parse_window, read_log
from qa.errors import CallLogError, OptionError
from qa.managers import load_managers
from qa.store import Workspace
from qa.transcripts import CallMeta, Transcript

FIX = Path(__file__).parent / "fixtures" / "calllog"
DAY = FIX / "day_master.csv"

HAND = {  # manager: inbound, answered, missed, in time, late, never, recovered, median, p90
    "ivanov": (3, 1, 2, 1, 1, 0, 0, 32.5, 46.5),
    "smith": (4, 2, 2, 0, 1, 0, 1, 60.0, 60.0),
    "jones": (3, 0, 3, 1, 0, 2, 0, 20.0, 20.0),
    "(no extension)": (1, 0, 1, 0, 0, 1, 0, None, None),
    TEAM: (11, 3, 8, 2, 2, 3, 1, 35.0, 57.0),
}
KEYS = ("inbound", "answered", "missed", "called_back_in_time", "called_back_late", "not_called_back",
        "recovered", "median_callback_minutes", "p90_callback_minutes")


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path / "ws")
    import_log(w, DAY, managers=load_managers(FIX / "managers.csv"))
    yield w
    w.close()


def _counts(report: calllog.MissedReport) -> dict[str, tuple]:
    out = {}
    for r in report.managers.to_dict("records"):
        out[r["manager"]] = tuple(None if v != v else v for v in (r[k] for k in KEYS))
    return out


def test_hand_counted_day(ws: Workspace) -> None:
    report = missed_report(ws, window="30m")
    assert _counts(report) == HAND
    rows = {r["manager"]: r for r in report.managers.to_dict("records")}
    assert [rows[m]["outbound"] for m in ("ivanov", "smith", "jones", TEAM)] == [1, 2, 3, 6]
    assert [rows[m]["outbound_answered"] for m in ("ivanov", "smith", "jones", TEAM)] == [1, 2, 1, 4]
    assert rows["ivanov"]["talk_minutes"] == 3.0 and rows["ivanov"]["avg_talk_seconds"] == 90.0
    assert rows["smith"]["talk_minutes"] == 11.5 and rows["smith"]["avg_talk_seconds"] == 172.5
    assert rows["jones"]["avg_talk_seconds"] == 45.0
    assert rows[TEAM]["avg_talk_seconds"] == pytest.approx(915 / 7, abs=0.05)
    assert rows["ivanov"]["callback_rate"] == 100.0 and rows["jones"]["in_time_rate"] == pytest.approx(33.3)
    never = report.not_called_back.to_dict("records")
    assert [(r["client"], r["manager"], r["missed_calls"]) for r in never] == [
        ("79035550006", "(no extension)", 1), ("79035550005", "jones", 2),
    ]
    assert never[1]["first_missed_at"] == "2026-11-21T12:00:00"
    assert never[1]["last_missed_at"] == "2026-11-21T12:20:00"


def test_rule_answered_does_not_count_an_unanswered_attempt(ws: Workspace) -> None:
    counts = _counts(missed_report(ws, rule="answered"))
    assert counts["smith"][3:7] == (0, 0, 1, 1)  # C's callback attempt went unanswered
    assert counts[TEAM][3:7] == (2, 1, 4, 1)


def test_window_decides_in_time_or_late(ws: Workspace) -> None:
    counts = _counts(missed_report(ws, window="1h"))
    assert counts["ivanov"][3:5] == (2, 0)  # 15 and 50 minutes
    assert counts["smith"][3:5] == (1, 0)  # exactly 60 minutes is in time
    assert _counts(missed_report(ws, window=10))[TEAM][3:5] == (0, 4)


def test_manager_filter_and_period(ws: Workspace) -> None:
    report = missed_report(ws, manager="102")
    assert list(report.managers["manager"]) == ["smith", TEAM]
    assert set(report.misses["manager"]) == {"smith"}
    assert missed_report(ws, "2026-11-22", "2026-11-30").managers.empty
    with pytest.raises(CallLogError, match="no calls for manager 'nobody'.*known: ivanov, jones, smith"):
        missed_report(ws, manager="nobody")
    with pytest.raises(OptionError, match="--from '21.11' is not a date; write YYYY-MM-DD"):
        missed_report(ws, "21.11")


def test_callbacks_after_the_period_count(tmp_path: Path) -> None:
    text = DAY.read_text()
    day1 = [line for line in text.splitlines() if '"2026-11-21 12:' in line]  # F missed twice
    callback = ('"","103","89035550005","from-internal","","SIP/103-1","SIP/trunk-2","Dial","",'
                '"2026-11-22 09:00:00","2026-11-22 09:00:03","2026-11-22 09:01:00",60,57,"ANSWERED","3","99.1",""')
    path = tmp_path / "Master.csv"
    path.write_text("\n".join([*day1, callback]) + "\n")
    with Workspace(tmp_path / "ws") as w:
        import_log(w, path)
        report = missed_report(w, "2026-11-21", "2026-11-21")
        team = report.row(TEAM)
        assert team is not None
        assert (team["missed"], team["called_back_late"], team["not_called_back"]) == (2, 2, 0)
        assert team["outbound"] == 0  # the callback itself is outside the period
        assert report.row("103") is not None  # no managers file: the extension is the name


def test_callbacks_are_looked_for_up_to_the_horizon(tmp_path: Path) -> None:
    miss = ('"","79035550005","103","from-trunk","","SIP/trunk-1","SIP/103-2","Dial","","2026-11-21 12:00:00","",'
            '"2026-11-21 12:00:20",20,0,"NO ANSWER","3","1.1",""')
    path = tmp_path / "Master.csv"
    lines = [miss]
    for day, uid in (("2026-12-21", "2.1"), ("2026-12-22", "2.2")):  # 30 and 31 days after
        lines.append(f'"","103","89035550005","x","","SIP/103-1","SIP/trunk-2","Dial","","{day} 09:00:00",'
                     f'"{day} 09:00:03","{day} 09:01:00",60,57,"ANSWERED","3","{uid}",""')
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with Workspace(tmp_path / "ws") as w:
        import_log(w, path)
        team = missed_report(w, "2026-11-21", "2026-11-21").row(TEAM)
        assert team is not None and (team["called_back_late"], team["not_called_back"]) == (0, 1)
        assert missed_report(w).row(TEAM)["called_back_late"] == 1  # type: ignore[index]  # open period
        path.write_text(lines[1] + "\n")
        import_log(w, path)
        team = missed_report(w, "2026-11-21", "2026-11-21").row(TEAM)
        assert team is not None and (team["called_back_late"], team["median_callback_minutes"]) == (1, 43020.0)  # 30 days less 3 hours


def test_reimport_is_idempotent(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as w:
        first = import_log(w, DAY)
        again = import_log(w, DAY)
        assert (first.rows, first.new, first.internal) == (20, 20, 2)
        assert (again.rows, again.new) == (20, 0)
        assert w.query("SELECT COUNT(*) FROM calllog")[0][0] == 20
        assert "20 row(s) read (asterisk), 0 new, 20 already in the workspace" in again.summary
        assert [i["new_rows"] for i in w.calllog_imports()] == [20]  # the same file is not read again
        # another export overlapping the day: only its new rows are added
        overlap = tmp_path / "Master-2.csv"
        extra = ('"","103","89035550005","from-internal","","SIP/103-1","SIP/trunk-2","Dial","",'
                 '"2026-11-22 09:00:00","2026-11-22 09:00:03","2026-11-22 09:01:00",60,57,"ANSWERED","3","99.1",""')
        overlap.write_text(DAY.read_text() + extra + "\n")
        third = import_log(w, overlap)
        assert (third.rows, third.new) == (21, 1)
        assert w.query("SELECT COUNT(*) FROM calllog")[0][0] == 21
    with Workspace(tmp_path / "ws") as w:  # reopened: the log is still there
        assert w.has_calllog()
        team = _counts(missed_report(w))[TEAM]
        assert team[:3] == HAND[TEAM][:3]
        assert team[4:6] == (4, 1)  # the next day's callback reached F: two misses now called back late


# ---- classifying rows ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"src": "79161234567", "dst": "101", "dstchannel": "SIP/101-0000002a", "disposition": "ANSWERED",
          "billsec": "30"}, ("in", "101", "79161234567", True)),
        ({"src": "79161234567", "dst": "s", "dstchannel": "PJSIP/205-00000001", "disposition": "NO ANSWER",
          "billsec": "0"}, ("in", "205", "79161234567", False)),
        ({"src": "+7 (916) 123-45-67", "dst": "74951234567", "dstchannel": "", "disposition": "BUSY",
          "billsec": "0"}, ("in", None, "+79161234567", False)),
        ({"src": "101", "dst": "89161234567", "channel": "SIP/101-1", "dstchannel": "SIP/trunk-2",
          "disposition": "ANSWERED", "billsec": "12"}, ("out", "101", "89161234567", True)),
        ({"src": "74951234567", "dst": "89161234567", "channel": "SIP/103-1", "disposition": "ANSWERED",
          "billsec": "0"}, ("out", "103", "89161234567", False)),
        ({"src": "101", "dst": "102", "channel": "SIP/101-1", "dstchannel": "SIP/102-2",
          "disposition": "ANSWERED", "billsec": "5"}, ("internal", None, None, True)),
        ({"src": "79161234567", "dst": "600", "dstchannel": "Local/101@from-queue-0001;1",
          "disposition": "ANSWERED", "billsec": "5"}, ("in", "101", "79161234567", True)),
        ({"direction": "Входящий", "extension": "101", "client": "89161234567", "disposition": "Пропущен",
          "billsec": "0"}, ("in", "101", "89161234567", False)),
        ({"direction": "2", "extension": "101", "client": "89161234567", "disposition": "200",
          "billsec": "1:05"}, ("in", "101", "89161234567", True)),
    ],
)
def test_classify(values: dict[str, str], expected: tuple) -> None:
    row = classify(values)
    got = (row["direction"], row["extension"] if row["direction"] != "internal" else None,
           row["client"] if row["direction"] != "internal" else None, row["answered"])
    assert got == expected


def test_client_numbers_compare_on_last_ten_digits() -> None:
    r = calllog.rules()
    assert r.client_key("+7 916 123-45-67") == r.client_key("89161234567") == r.client_key("989161234567")
    assert r.client_key("") is None
    assert r.is_extension("101") and not r.is_extension("1") and not r.is_extension("123456")


@pytest.mark.parametrize(("text", "minutes"), [("30m", 30), ("1h", 60), ("90s", 1.5), ("1h30m", 90), ("45", 45)])
def test_parse_window(text: str, minutes: float) -> None:
    assert parse_window(text) == minutes


def test_parse_window_rejects_nonsense() -> None:
    with pytest.raises(OptionError, match="cannot read callback window 'soon'; write it like 30m"):
        parse_window("soon")


# ---- bad input: a clear message naming the line, good rows kept ---------------------------------------
def _lines(n: int) -> list[str]:
    return DAY.read_text().splitlines()[:n]


def test_truncated_last_line(tmp_path: Path) -> None:
    lines = _lines(4)
    path = tmp_path / "Master.csv"
    path.write_text("\n".join([*lines, lines[1][:70]]))  # cut mid-row, no newline
    parsed = read_log(path)
    assert len(parsed.rows) == 4
    assert parsed.issues == [
        f"{path}:5: expected 18 columns (Asterisk Master.csv) or 21 with peeraccount, linkedid, "
        "sequence, found 6 (a truncated line?); row skipped"
    ]


def test_wrong_date_format(tmp_path: Path) -> None:
    lines = _lines(3)
    lines[1] = lines[1].replace('"2026-11-21 09:10:00"', '"21/13/2026 09:10"')
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(lines) + "\n")
    parsed = read_log(path)
    assert len(parsed.rows) == 2
    assert parsed.issues == [
        f"{path}:2: cannot read start '21/13/2026 09:10' as a date and time; write YYYY-MM-DD HH:MM:SS "
        "or DD.MM.YYYY HH:MM:SS; row skipped"
    ]


def test_empty_log(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text("\n\n")
    with pytest.raises(CallLogError, match=r"Master.csv: the call log is empty; export the day's calls"):
        read_log(path)


def test_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("foo;bar\n1;2\n", encoding="utf-8")
    with pytest.raises(CallLogError, match=r"export.csv:1: not an Asterisk Master.csv and no preset fits the "
                       r"header \(found 'foo', 'bar'\)"):
        read_log(path)


def test_extra_unknown_columns_are_named_and_rows_kept(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "start;src;dst;disposition;billsec;crm_deal\n"
        "2026-11-21 10:00:00;79161234567;101;NO ANSWER;0;D-1\n"
        "2026-11-21 10:05:00;101;89161234567;ANSWERED;40;D-1\n"
        "2026-11-21 10:07:00;101\n",
        encoding="utf-8",
    )
    parsed = read_log(path)
    assert parsed.format == "generic"
    assert len(parsed.rows) == 2
    assert parsed.issues == [
        f"{path}:1: column(s) 'crm_deal' not used by preset 'generic'; map them in qa/data/calllog.yaml "
        "if they matter",
        f"{path}:4: expected at least 5 columns, found 2 (a truncated line?); row skipped",
    ]


def test_unclosed_quote_on_the_last_line(tmp_path: Path) -> None:
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(_lines(2)) + '\n"","79161234567","101","from-trunk","""Ivan')
    parsed = read_log(path)
    assert len(parsed.rows) == 2
    assert len(parsed.issues) == 1 and parsed.issues[0].startswith(f"{path}:3: expected 18 columns")


def test_an_issue_comes_after_the_rows_before_it(tmp_path: Path) -> None:
    import csv

    path = tmp_path / "Master.csv"
    path.write_text("\n".join(_lines(2)) + '\n"' + "x" * 200 + '"\n' + "\n".join(_lines(3)[2:]) + "\n")
    limit = csv.field_size_limit(100)
    try:
        parsed = read_log(path)
    finally:
        csv.field_size_limit(limit)
    assert len(parsed.rows) == 2
    assert parsed.issues == [f"{path}:3: not valid CSV (field larger than field limit (100)); "
                             "this line and the rest of the file skipped"]


# ---- generic exports --------------------------------------------------------------------------------
def test_bitrix24_style_export_with_russian_headers(tmp_path: Path) -> None:
    path = tmp_path / "bitrix.csv"
    path.write_text(
        "Тип звонка;Дата звонка;Номер телефона;Внутренний номер;Длительность звонка;Статус\n"
        "Входящий;21.11.2026 10:00:00;+7 916 123-45-67;101;0;Пропущен\n"
        "Исходящий;21.11.2026 10:12:00;8 916 123 45 67;102;01:20;Успешный\n",
        encoding="cp1251",
    )
    parsed = read_log(path)
    assert parsed.format == "bitrix24" and parsed.issues == []
    with Workspace(tmp_path / "ws") as w:
        import_log(w, path, preset="bitrix24")
        team = missed_report(w).row(TEAM)
        assert team is not None
        assert (team["missed"], team["called_back_in_time"], team["median_callback_minutes"]) == (1, 1, 12.0)


def test_xlsx_export(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "uis.xlsx"
    pd.DataFrame({
        "Дата и время": pd.to_datetime(["2026-11-21 10:00:00", "2026-11-21 11:00:00"]),
        "Тип": ["Входящий", "Исходящий"], "Номер абонента": ["79161234567", "79161234567"],
        "Внутренний номер": [101, 101], "Статус": ["Потерянный", "Успешный"],
        "Длительность разговора": [0, 30],
    }).to_excel(path, index=False)
    parsed = read_log(path)
    assert parsed.format == "uis"
    assert [(r["direction"], r["extension"], r["answered"]) for r in parsed.rows] == [
        ("in", "101", False), ("out", "101", True)]


def test_zadarma_api_style_export_and_forced_presets(tmp_path: Path) -> None:
    path = tmp_path / "zadarma.csv"
    path.write_text(
        "call_id,sip,callstart,clid,destination,disposition,seconds\n"
        "z1,101,2026-11-21 10:00:00,+79161234567,101,no answer,0\n"
        "z2,101,2026-11-21 10:40:00,101,79161234567,answered,61\n"
    )
    parsed = read_log(path)
    assert parsed.format == "zadarma" and parsed.issues == []
    assert [(r["direction"], r["extension"], r["answered"], r["uniqueid"]) for r in parsed.rows] == [
        ("in", "101", False, "z1"), ("out", "101", True, "z2")]
    assert read_log(DAY, preset="asterisk").format == "asterisk"
    with pytest.raises(CallLogError, match="this is not an Asterisk Master.csv row"):
        read_log(path, preset="asterisk")


def test_unknown_preset(tmp_path: Path) -> None:
    with pytest.raises(CallLogError, match="unknown preset 'avaya'; choose one of: asterisk, mango, zadarma"):
        read_log(FIX / "managers.csv", preset="avaya")


# ---- views ---------------------------------------------------------------------------------------------
def test_calls_block_for_scorecard_and_team(ws: Workspace) -> None:
    card = calllog.calls_block(ws, "jones")
    assert card is not None
    rows = {r["Metric"]: (r["Value"], r["Team"]) for r in card.to_dict("records")}
    assert rows["Missed"] == ("3", "8")
    assert rows["Called back"] == ("33%", "50%")
    assert rows["Called back within 30 min"] == ("33%", "25%")
    assert rows["Median callback, min"] == ("20.0", "35.0")
    team = calllog.calls_block(ws)
    assert team is not None
    assert list(team["Manager"]) == ["ivanov", "jones", "smith", "(no extension)", TEAM]
    assert list(team["Never called back"]) == [0, 2, 0, 1, 3]


def test_no_log_no_block(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as w:
        assert calllog.calls_block(w, "jones") is None
        assert calllog.never_called_back(w).empty
        assert calllog.callback_coaching(w, "jones") is None
        assert calllog.revive_rows(w).empty


def test_revive_rows_add_missed_clients(ws: Workspace) -> None:
    import pandas as pd

    base = pd.DataFrame([{"started_at": "2026-11-21T13:30:00", "client_phone": "1", "manager": "jones",
                          "call_id": "c1", "objections": "Price", "time": "00:10", "quote": "q",
                          "moments": "m", "score": 40.0, "source": "a.wav"}])
    rows = calllog.revive_rows(ws, manager="jones", base=base)
    assert list(rows["client_phone"]) == ["1", "79035550005"]
    assert list(rows["reason"]) == ["unhandled objection, no next step", "missed call, not called back (2 missed)"]
    assert rows.iloc[1]["objections"] == "missed call, not called back (2 missed)"
    assert len(calllog.revive_rows(ws)) == 2  # jones's client and the one no extension took


def test_callback_coaching_sets_and_checks_a_goal(ws: Workspace, tmp_path: Path) -> None:
    plan = calllog.callback_coaching(ws, "jones", "2026-11-21", "2026-11-21")
    assert plan is not None
    # in-time shares: ivanov 50, jones 33.3, smith 0 -> best quartile 41.7
    assert plan.rate == pytest.approx(33.3) and plan.team_best_quartile == pytest.approx(41.65)
    assert plan.goal_text == "call back at least 42% of missed calls within 30 min"
    assert plan.goal_id is not None
    assert "- Goal for the next period: call back at least 42% of missed calls within 30 min" in plan.to_markdown()
    # next day: jones calls back his one miss within 5 minutes
    nxt = tmp_path / "next.csv"
    nxt.write_text(
        '"","79035550077","103","from-trunk","","SIP/trunk-1","SIP/103-2","Dial","","2026-11-22 10:00:00","",'
        '"2026-11-22 10:00:20",20,0,"NO ANSWER","3","200.1",""\n'
        '"","103","89035550077","from-internal","","SIP/103-3","SIP/trunk-4","Dial","","2026-11-22 10:05:00",'
        '"2026-11-22 10:05:03","2026-11-22 10:06:00",60,57,"ANSWERED","3","200.2",""\n'
    )
    import_log(ws, nxt)
    check = calllog.callback_coaching(ws, "jones", "2026-11-22", "2026-11-22")
    assert check is not None and check.previous is not None
    assert check.previous["met"] is True and check.previous["actual"] == 100.0
    assert "- Previous goal: **met**: call back at least 42% of missed calls within 30 min; actual 100%" in check.to_markdown()
    assert check.goal_text is None  # at the top of the team now


# ---- recordings and log rows ------------------------------------------------------------------------
def _recording(ws: Workspace, call_id: str, manager: str, started_at: str, phone: str, source: str | None = None) -> None:
    meta = CallMeta(call_id=call_id, source=source or f"rec/{call_id}.wav", manager=manager,
                    started_at=started_at, direction="in", client_phone=phone)
    ws.save_call(Transcript(meta, []), cache_key=f"k-{call_id}")


def test_recordings_link_by_uniqueid_or_extension_number_and_time(ws: Workspace) -> None:
    # same extension (name), number and start within seconds
    _recording(ws, "rec-a", "ivanov", "2026-11-21T09:00:03", "+79161234567")
    # the uniqueid in the file name, whatever the metadata
    _recording(ws, "rec-b", "someone", "2026-11-21T20:00:00", "0", source="rec/out-1763729400.33.wav")
    # too far in time: not the same call
    _recording(ws, "rec-c", "smith", "2026-11-21T10:05:40", "79035550003")
    a = calllog.log_for_call(ws, "rec-a")
    assert a is not None and (a["uniqueid"], a["manager"], a["billsec"]) == ("1763704800.1", "ivanov", 120.0)
    b = calllog.log_for_call(ws, "rec-b")
    assert b is not None and b["uniqueid"] == "1763729400.33"
    assert calllog.log_for_call(ws, "rec-c") is None
    missing = calllog.unrecorded_calls(ws)
    # 8 answered calls (3 inbound with talk, 4 outbound... ) minus the two recorded
    assert "1763704800.1" not in set(missing["uniqueid"]) and "1763729400.33" not in set(missing["uniqueid"])
    assert set(missing["uniqueid"]) == {"1763706300.7", "1763708700.13", "1763712000.17", "1763720400.28",
                                        "1763730600.35"}
