"""Call metadata: file-name templates, manifest CSVs, outcome words, merging."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import MetadataError, QAError
from qa.metadata import (
    DEFAULT_TEMPLATE,
    Manifest,
    NameTemplate,
    load_manifest,
    normalize_direction,
    outcome_won,
    parse_datetime,
    resolve_meta,
)
from qa.transcripts import CallMeta

# ---- file-name templates ------------------------------------------------------------------

# (template, file name, expected fields: call_id, manager, started_at, direction, phone)
TEMPLATE_CASES = [
    (
        DEFAULT_TEMPLATE,
        "2026-11-21_10-32-15_ivanov_79161234567_out.mp3",
        ("2026-11-21_10-32-15_ivanov_79161234567_out", "ivanov", "2026-11-21T10:32:15", "out", "79161234567"),
    ),
    (
        DEFAULT_TEMPLATE,
        "20261121_093005_petrova_+79031112233_incoming.wav",
        ("20261121_093005_petrova_+79031112233_incoming", "petrova", "2026-11-21T09:30:05", "in", "+79031112233"),
    ),
    (
        DEFAULT_TEMPLATE,
        "21.11.2026_18.05.59_sidorov_84951234567_исх.ogg",
        ("21.11.2026_18.05.59_sidorov_84951234567_исх", "sidorov", "2026-11-21T18:05:59", "out", "84951234567"),
    ),
    (
        DEFAULT_TEMPLATE,
        "2026-11-21_10-32-15_ivanov_79161234567_Входящий.mp3",
        ("2026-11-21_10-32-15_ivanov_79161234567_Входящий", "ivanov", "2026-11-21T10:32:15", "in", "79161234567"),
    ),
    (
        DEFAULT_TEMPLATE,
        "2026-11-21_10-32-15_ivanov_79161234567_ВХ.mp3",
        ("2026-11-21_10-32-15_ivanov_79161234567_ВХ", "ivanov", "2026-11-21T10:32:15", "in", "79161234567"),
    ),
    (
        DEFAULT_TEMPLATE,
        "2026-11-21_10-32-15_ivanov_79161234567_outbound.mp3",
        ("2026-11-21_10-32-15_ivanov_79161234567_outbound", "ivanov", "2026-11-21T10:32:15", "out", "79161234567"),
    ),
    # A manager with the separator in it: the phone and direction after it decide.
    (
        DEFAULT_TEMPLATE,
        "2026-11-21_10-32-15_anna_smith_15551234567_in.mp3",
        ("2026-11-21_10-32-15_anna_smith_15551234567_in", "anna_smith", "2026-11-21T10:32:15", "in", "15551234567"),
    ),
    # {call_id} replaces the stem; {*} skips a part.
    (
        "{call_id}-{manager}-{*}",
        "c-1042-smirnov-queue7.wav",
        ("c", "1042", None, None, None),  # lazy fields: {*} takes the rest
    ),
    (
        "rec_{call_id}_{*}_{manager}",
        "rec_A17_queue7_orlov.wav",
        ("A17", "orlov", None, None, None),
    ),
    (
        "{manager} {date} {direction}",
        "Kuznetsov 2026-01-05 исходящий.m4a",
        ("Kuznetsov 2026-01-05 исходящий", "Kuznetsov", "2026-01-05", "out", None),
    ),
    # Folders are not part of the template.
    (
        DEFAULT_TEMPLATE,
        "calls/2026/11/2026-11-21_10-32-15_ivanov_79161234567_out.mp3",
        ("2026-11-21_10-32-15_ivanov_79161234567_out", "ivanov", "2026-11-21T10:32:15", "out", "79161234567"),
    ),
]


@pytest.mark.parametrize("template,name,expected", TEMPLATE_CASES)
def test_template_parses(template: str, name: str, expected: tuple) -> None:
    meta = NameTemplate(template).parse(name)
    assert (meta.call_id, meta.manager, meta.started_at, meta.direction, meta.client_phone) == expected
    assert meta.source == name


NON_MATCHING = [
    "call1.wav",  # no fields at all
    "2026-11-21_10-32-15_ivanov_79161234567_sideways.mp3",  # unknown direction word
    "2026-13-45_10-32-15_ivanov_79161234567_out.mp3",  # impossible date
    "2026-11-21_25-61-00_ivanov_79161234567_out.mp3",  # impossible time
    "2026-11-21_10-32-15_ivanov_phone_out.mp3",  # phone is not digits
]


@pytest.mark.parametrize("name", NON_MATCHING)
def test_non_matching_name_gives_only_call_id(name: str) -> None:
    template = NameTemplate()
    assert template.match(name) is None
    meta = template.parse(name)
    assert meta == CallMeta(call_id=Path(name).stem, source=name)


def test_time_without_date_is_kept_in_extra() -> None:
    meta = NameTemplate("{time}_{manager}").parse("10-32-15_ivanov.wav")
    assert meta.started_at is None
    assert meta.extra == {"time": "10:32:15"}
    assert meta.manager == "ivanov"


def test_template_fields_are_listed() -> None:
    assert NameTemplate().fields == ("date", "time", "manager", "phone", "direction")
    assert NameTemplate("{call_id}_{*}").fields == ("call_id",)


FIELDS = "{date}, {time}, {manager}, {phone}, {extension}, {direction}, {call_id}, {*}"
BAD_TEMPLATES = [
    ("", f"invalid file-name template '': it is empty; use fields {FIELDS}, e.g. '{DEFAULT_TEMPLATE}'"),
    ("{date}_{mgr}", f"invalid file-name template '{{date}}_{{mgr}}': unknown field {{mgr}}; use {FIELDS}"),
    ("{date", f"invalid file-name template '{{date': unbalanced '{{' or '}}'; write fields as {FIELDS}"),
    ("date}_{time}", f"invalid file-name template 'date}}_{{time}}': unbalanced '{{' or '}}'; write fields as {FIELDS}"),
    ("{date}_{date}", "invalid file-name template '{date}_{date}': field {date} appears twice; use it once"),
    ("recording", f"invalid file-name template 'recording': it has no fields; use {FIELDS}"),
    ("{manager}/{date}", "invalid file-name template '{manager}/{date}': a template describes the file name only; remove the folder part"),
]


@pytest.mark.parametrize("pattern,message", BAD_TEMPLATES)
def test_bad_template(pattern: str, message: str) -> None:
    with pytest.raises(MetadataError) as e:
        NameTemplate(pattern)
    assert str(e.value) == message
    assert isinstance(e.value, QAError)


@pytest.mark.parametrize(
    "word,expected",
    [
        ("in", "in"), ("OUT", "out"), ("Incoming", "in"), ("outgoing", "out"),
        ("inbound", "in"), ("Outbound", "out"), ("вх", "in"), ("исх", "out"),
        ("Входящий", "in"), ("исходящий", "out"), ("", None), (None, None), ("sideways", None),
    ],
)
def test_normalize_direction(word: str | None, expected: str | None) -> None:
    assert normalize_direction(word) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2026-11-21 10:32:15", "2026-11-21T10:32:15"),
        ("2026-11-21T10:32:15", "2026-11-21T10:32:15"),
        ("21.11.2026 10:32", "2026-11-21T10:32:00"),
        ("21.11.2026", "2026-11-21"),
        ("20261121", "2026-11-21"),
        ("2026-11-21 10:32:15.250", "2026-11-21T10:32:15"),
        ("2026-11-21T10:32:15+03:00", "2026-11-21T10:32:15+03:00"),
        ("yesterday", None),
        ("31.02.2026", None),
        ("", None),
    ],
)
def test_parse_datetime(text: str, expected: str | None) -> None:
    assert parse_datetime(text) == expected


# ---- outcome ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value,expected",
    [
        ("won", True), ("Success", True), ("deal", True), ("sale", True), ("Closed Won", True),
        ("closed  won", True), ("1", True), ("true", True), ("YES", True), ("сделка", True),
        ("Успех", True), ("продажа", True), ("да", True), (1, True), (True, True),
        ("lost", False), ("no", False), ("0", False), ("false", False), ("Отказ", False),
        ("нет", False), ("провал", False), ("closed lost", False), (0, False), (False, False),
        ("callback", None), ("перезвонить", None), ("", None), ("  ", None), (None, None), (2, None),
    ],
)
def test_outcome_won(value: object, expected: bool | None) -> None:
    assert outcome_won(value) is expected


# ---- manifest ---------------------------------------------------------------------------------
def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "manifest.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


RU_MANIFEST = (
    "Файл;Менеджер;Дата;Время;Направление;Телефон;Длительность;Итог;Комментарий\n"
    "a.mp3;Иванов;21.11.2026;10:32:15;Входящий;79161234567;95;сделка;перезвонить в пятницу\n"
    "b.mp3;Петрова;21.11.2026;11:00;исх;79031112233;1:35;отказ;\n"
)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
def test_manifest_russian_semicolon(tmp_path: Path, encoding: str) -> None:
    manifest = load_manifest(write(tmp_path, RU_MANIFEST, encoding))
    assert len(manifest) == 2
    a = manifest.lookup("a.mp3")
    assert a == CallMeta(
        call_id="a",
        source="a.mp3",
        manager="Иванов",
        started_at="2026-11-21T10:32:15",
        direction="in",
        client_phone="79161234567",
        duration=95.0,
        outcome="сделка",
        extra={"Комментарий": "перезвонить в пятницу"},
    )
    b = manifest.lookup("b")
    assert b is not None
    assert (b.started_at, b.direction, b.duration, b.outcome, b.extra) == (
        "2026-11-21T11:00:00", "out", 95.0, "отказ", {}
    )
    assert outcome_won(a.outcome) is True and outcome_won(b.outcome) is False


EN_CASES = [
    # (delimiter, header, row) -> all parse to the same call
    (",", "file,agent,started_at,direction,phone,duration,result,Campaign",
     "calls/x1.wav,smith,2026-11-21 09:15:00,outbound,15551234567,61.5,won,Spring"),
    ("\t", "Path\tOperator\tDateTime\tDirection\tClient Phone\tDuration\tOutcome\tCampaign",
     "calls/x1.wav\tsmith\t2026-11-21T09:15:00\tout\t15551234567\t00:01:01.5\tWon\tSpring"),
    (";", "FILE;Manager;Date;Time;Direction;Phone Number;Duration;Result;Campaign",
     "calls/x1.wav;smith;2026-11-21;09:15;OUT;15551234567;61,5;WON;Spring"),
    (",", '"file","manager","date","direction","phone","duration","outcome","Campaign"',
     '"calls/x1.wav","smith","2026-11-21 09:15","out","15551234567","61.5","won","Spring"'),
]


@pytest.mark.parametrize("delimiter,header,row", EN_CASES)
def test_manifest_english_aliases_and_delimiters(tmp_path: Path, delimiter: str, header: str, row: str) -> None:
    manifest = load_manifest(write(tmp_path, f"{header}\n{row}\n"))
    [meta] = list(manifest)
    assert meta.call_id == "x1"
    assert meta.source == "calls/x1.wav"
    assert meta.manager == "smith"
    assert meta.started_at == "2026-11-21T09:15:00"
    assert meta.direction == "out"
    assert meta.client_phone == "15551234567"
    assert meta.duration == 61.5
    assert outcome_won(meta.outcome) is True
    assert meta.extra == {"Campaign": "Spring"}


def test_manifest_call_id_only(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "id,manager\nC-1,ivanov\nC-2,\n"))
    assert [m.call_id for m in manifest] == ["C-1", "C-2"]
    assert manifest.lookup("C-1").manager == "ivanov"  # type: ignore[union-attr]
    assert manifest.lookup("C-2").manager is None  # type: ignore[union-attr]
    # A file whose stem is the call id finds its row.
    assert manifest.lookup("/calls/C-1.mp3").manager == "ivanov"  # type: ignore[union-attr]
    assert manifest.lookup("C-3") is None


def test_manifest_lookup_by_file_stem_and_call_id(tmp_path: Path) -> None:
    manifest = load_manifest(
        write(tmp_path, "file,call_id,manager\nrec/2026/a.mp3,A-1,ivanov\nC:\\pbx\\b.wav,,petrov\n")
    )
    assert manifest.lookup("a.mp3").call_id == "A-1"  # type: ignore[union-attr]
    assert manifest.lookup(Path("/elsewhere/a.mp3")).call_id == "A-1"  # type: ignore[union-attr]
    assert manifest.lookup("a").call_id == "A-1"  # type: ignore[union-attr]  # stem
    assert manifest.lookup("A-1").manager == "ivanov"  # type: ignore[union-attr]  # call id
    assert manifest.lookup("b.wav").manager == "petrov"  # type: ignore[union-attr]  # Windows path
    assert manifest.lookup("b").call_id == "b"  # type: ignore[union-attr]
    assert manifest.lookup("c.mp3") is None


def test_manifest_lookup_returns_copies(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "file,manager,note\na.mp3,ivanov,x\n"))
    first = manifest.lookup("a.mp3")
    assert first is not None
    first.manager = "changed"
    first.extra["note"] = "changed"
    again = manifest.lookup("a.mp3")
    assert again is not None and (again.manager, again.extra) == ("ivanov", {"note": "x"})


def test_manifest_blank_lines_and_empty_cells(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "\nfile,manager,direction,duration\n\na.mp3,,,\n,,,\n"))
    assert len(manifest) == 1
    assert manifest.lookup("a.mp3") == CallMeta(call_id="a", source="a.mp3")
    assert manifest.lines == [4]


def test_manifest_time_column_alone_is_kept(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "file,time\na.mp3,10:32\n"))
    meta = manifest.lookup("a.mp3")
    assert meta is not None and meta.started_at is None and meta.extra == {"time": "10:32"}


def test_manifest_rows_with_missing_or_extra_cells_are_warned_about(tmp_path: Path) -> None:
    path = write(tmp_path, "file,manager,outcome,\na.mp3,ivanov\nb.mp3,petrov,won,,\n"
                           "c.mp3,smith,lost,,Moscow, Tverskaya 1\nd.mp3,jones,won\n")
    manifest = load_manifest(path)
    assert [m.call_id for m in manifest] == ["a", "b", "c", "d"]  # every row still read
    assert manifest.lookup("a.mp3") == CallMeta(call_id="a", source="a.mp3", manager="ivanov")
    assert manifest.lookup("c.mp3").outcome == "lost"
    assert manifest.warnings == [
        f"{path}:2: 2 cells but the header has 4 columns; read 'outcome' as empty "
        "(fill them in, or end the row with delimiters)",
        f"{path}:4: 6 cells but the header has 4 columns; ignored the extra 'Moscow', "
        "'Tverskaya 1' (quote values that hold the delimiter)",
    ]  # b: an empty extra cell is only a trailing delimiter; d: the unnamed column may be short


def manifest_error(tmp_path: Path, text: str, encoding: str = "utf-8") -> str:
    path = write(tmp_path, text, encoding)
    with pytest.raises(MetadataError) as e:
        load_manifest(path)
    return str(e.value).replace(str(path), "manifest.csv")


EXPECTED = (
    "file (or path/файл/запись) or call_id (or id); optional manager, started_at (or date "
    "and time), direction, client_phone, duration, outcome"
)
MANIFEST_ERRORS = [
    ("", f"manifest.csv: the manifest is empty; expected a header row with {EXPECTED}"),
    ("\n \n", f"manifest.csv: the manifest is empty; expected a header row with {EXPECTED}"),
    ("manager;date\nivanov;2026-11-21\n",
     f"manifest.csv: no file or call_id column (found 'manager', 'date'); expected {EXPECTED}"),
    ("file,manager\na.mp3,ivanov\nb.mp3,petrov\na.mp3,sidorov\n",
     "manifest.csv:4: file 'a.mp3' is already on line 2; each call must appear once"),
    ("call_id,manager\nC1,ivanov\nC1,petrov\n",
     "manifest.csv:3: call_id 'C1' is already on line 2; each call must appear once"),
    # Same stem, two extensions: the call ids collide.
    ("file\na.mp3\na.wav\n", "manifest.csv:3: call_id 'a' is already on line 2; each call must appear once"),
    ("file,call_id\na.mp3,\n,\n,\n", None),  # blank rows skipped: no error, see below
    ("file,call_id,manager\n,,ivanov\n", "manifest.csv:2: no file and no call_id; fill one of them"),
    ("file,manager,оператор\na.mp3,x,y\n",
     "manifest.csv:1: columns 'manager' and 'оператор' both mean manager; rename or remove one"),
    ("file,date\na.mp3,32.13.2026\n",
     "manifest.csv:2: cannot read '32.13.2026' as a date and time; write it as YYYY-MM-DD HH:MM:SS or DD.MM.YYYY HH:MM"),
    ("file,direction\na.mp3,sideways\n",
     "manifest.csv:2: unknown direction 'sideways'; use in or out (or incoming/outgoing, вх/исх; words are in qa/data/metadata.yaml)"),
    ("file,duration\na.mp3,long\n",
     "manifest.csv:2: cannot read duration 'long'; write seconds (95) or mm:ss (1:35)"),
    # A quote left open used to swallow the rest of the file into one cell, silently.
    ('file,manager\n"a.mp3,ivanov\nb.mp3,petrov\n',
     "manifest.csv:3: not valid CSV (unexpected end of data); check the quotes on or before this line"),
]


@pytest.mark.parametrize("text,message", MANIFEST_ERRORS)
def test_manifest_errors(tmp_path: Path, text: str, message: str | None) -> None:
    if message is None:
        assert len(load_manifest(write(tmp_path, text))) == 1
        return
    assert manifest_error(tmp_path, text) == message


def test_manifest_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match=r"nope\.csv: cannot read the manifest \(No such file or directory\)"):
        load_manifest(tmp_path / "nope.csv")


# ---- resolve_meta -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, call_id", [(" .wav", ".wav"), ("   .mp3", ".mp3"), ("a .wav", "a ")])
def test_a_blank_stem_still_gives_a_call_id(name: str, call_id: str) -> None:
    meta, _ = resolve_meta(name)
    assert meta.call_id == call_id
    assert NameTemplate("{date}_{call_id}").parse(f"2026-11-21_{name}").call_id.strip()


def test_resolve_meta_manifest_wins(tmp_path: Path) -> None:
    manifest = load_manifest(
        write(tmp_path, "file;manager;outcome;campaign\n2026-11-21_10-32-15_ivanov_79161234567_out.mp3;Petrov;won;spring\n")
    )
    meta, warnings = resolve_meta(
        "calls/2026-11-21_10-32-15_ivanov_79161234567_out.mp3", manifest=manifest
    )
    assert warnings == []
    assert meta == CallMeta(
        call_id="2026-11-21_10-32-15_ivanov_79161234567_out",
        source="calls/2026-11-21_10-32-15_ivanov_79161234567_out.mp3",
        manager="Petrov",  # the manifest wins over the file name
        started_at="2026-11-21T10:32:15",  # the file name fills what the manifest lacks
        direction="out",
        client_phone="79161234567",
        outcome="won",
        extra={"campaign": "spring"},
    )


def test_resolve_meta_warnings(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "file,manager\nother.mp3,ivanov\n"))
    meta, warnings = resolve_meta("calls/call7.wav", template="{manager}-{call_id}", manifest=manifest)
    assert meta == CallMeta(call_id="call7", source="calls/call7.wav")
    assert warnings == [
        "file name does not match template '{manager}-{call_id}'",
        "not in manifest manifest.csv",
        "no manager in file name or manifest",
    ]
    # With the default template a non-matching name is normal: only the missing manager is said.
    meta, warnings = resolve_meta("call7.wav")
    assert warnings == ["no manager in file name or manifest"]


def test_resolve_meta_template_object_and_manifest_manager(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "call_id,manager\nA17,orlov\n"))
    template = NameTemplate("rec_{call_id}")
    meta, warnings = resolve_meta(Path("rec_A17.wav"), template=template, manifest=manifest)
    assert (meta.call_id, meta.manager, meta.source, warnings) == ("A17", "orlov", "rec_A17.wav", [])


def test_manifest_is_iterable_and_sized(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, RU_MANIFEST, "cp1251"))
    assert isinstance(manifest, Manifest)
    assert [m.manager for m in manifest] == ["Иванов", "Петрова"]
    assert manifest.lines == [2, 3]


# ---- PBX presets and managers.csv ------------------------------------------------------------
# (file name, call_id, manager, started_at, direction, phone, extension)
ASTERISK_CASES = [
    ("in-79161234567-101-20261124-093015-1700000001.101.wav",
     "1700000001.101", "101", "2026-11-24T09:30:15", "in", "79161234567", "101"),
    ("in-101-79161234567-20261124-093015-1700000001.101.wav",  # FreePBX in-<to>-<from>
     "1700000001.101", "101", "2026-11-24T09:30:15", "in", "79161234567", "101"),
    ("out-89031234567-205-20261124-101500-1700000009.55.mp3",
     "1700000009.55", "205", "2026-11-24T10:15:00", "out", "89031234567", "205"),
    ("external-89031234567-205-20261124-101500-1700000009.56.wav",
     "1700000009.56", "205", "2026-11-24T10:15:00", "out", "89031234567", "205"),
    ("q-500-79161234567-20261124-093015-1700000005.7.wav",  # queue number is no manager
     "1700000005.7", None, "2026-11-24T09:30:15", None, "79161234567", None),
    ("force-0821998663-3201-20250327-092517-1743042317.12206.wav",  # Issabel
     "1743042317.12206", "3201", "2025-03-27T09:25:17", None, "0821998663", "3201"),
    ("in-74951234567-79161234567-20261124-093015-1700000001.1.wav",  # DID, caller: no extension
     "1700000001.1", None, "2026-11-24T09:30:15", "in", "79161234567", None),
]


@pytest.mark.parametrize("name,call_id,manager,started_at,direction,phone,extension", ASTERISK_CASES)
def test_asterisk_names_parse_with_no_template_and_with_the_preset(
    name: str, call_id: str, manager: str | None, started_at: str, direction: str | None, phone: str,
    extension: str | None,
) -> None:
    from qa.metadata import name_parser

    for template in (None, "auto", "asterisk", "ASTERISK"):
        meta, _ = resolve_meta(name, template=template)
        got = (meta.call_id, meta.manager, meta.started_at, meta.direction, meta.client_phone,
               meta.extra.get("extension"))
        assert got == (call_id, manager, started_at, direction, phone, extension), template
        assert isinstance(meta.call_id, str)
    assert name_parser("asterisk").match("2026-11-21_10-32-15_ivanov_79161234567_out.mp3") is None


def test_default_names_still_parse_with_auto_detection() -> None:
    meta, warnings = resolve_meta("2026-11-21_10-32-15_ivanov_79161234567_out.mp3")
    assert (meta.call_id, meta.manager, meta.direction, warnings) == (
        "2026-11-21_10-32-15_ivanov_79161234567_out", "ivanov", "out", [])


def test_presets_are_listed_with_descriptions_and_unknown_ones_fail() -> None:
    from qa.metadata import name_parser, name_presets

    presets = name_presets()
    assert list(presets)[:2] == ["default", "asterisk"]
    assert all(p.description and p.templates for p in presets.values())
    with pytest.raises(MetadataError, match="not a preset .*auto, default, asterisk"):
        name_parser("mango-typo")
    meta, warnings = resolve_meta("call7.wav", template="asterisk")
    assert warnings[0] == "file name does not match template 'asterisk'"


def test_managers_csv_names_the_extension(tmp_path: Path) -> None:
    from qa.managers import load_managers

    managers = load_managers(write(tmp_path, "extension;manager\n101;Анна Смирнова\n"))
    meta, warnings = resolve_meta("in-79161234567-101-20261124-093015-1700000001.101.wav", managers=managers)
    assert (meta.manager, meta.extra["extension"], warnings) == ("Анна Смирнова", "101", [])
    # an extension not in the file stays as it is; a manifest's extension is named too
    meta, _ = resolve_meta("out-79035550101-102-20261124-101500-1700000002.102.wav", managers=managers)
    assert meta.manager == "102"
    manifest = load_manifest(write(tmp_path, "call_id,manager\nA17,101\n", name="m.csv"))
    meta, _ = resolve_meta("rec_A17.wav", template="rec_{call_id}", manifest=manifest, managers=managers)
    assert (meta.manager, meta.extra["extension"]) == ("Анна Смирнова", "101")
