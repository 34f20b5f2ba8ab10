"""Write the fuzz corpus next to this file: ``python tests/fuzz/make_corpus.py``.

The files are committed; this script documents how each was made and rebuilds them.
File names say what a case must give (see ``tests/test_fuzz.py``):
``ok_*`` a valid result, ``bad_*`` a clean per-file failure, ``any_*`` either one.
Cases that need large or un-storable files (huge lines, names that are not UTF-8) are made
at test time instead.
"""

from __future__ import annotations

import io
import math
import random
import struct
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
rng = random.Random(10)


def wav_bytes(samples: list[int], rate: int = 8000, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buf.getvalue()


def sine(seconds: float, rate: int = 8000) -> list[int]:
    return [int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate))]


AUDIO: dict[str, bytes] = {
    "ok_tone_8k.wav": wav_bytes(sine(0.5)),
    "ok_stereo_silence.wav": wav_bytes([0] * 1600, channels=2),
    "any_one_sample.wav": wav_bytes([1]),
    "any_header_only.wav": wav_bytes([]),
    "any_truncated.wav": wav_bytes(sine(0.5))[:700],
    "any_wav_named_mp3.mp3": wav_bytes(sine(0.2)),
    "any_huge_size_claim.wav": wav_bytes(sine(0.05))[:40] + struct.pack("<I", 0x7FFFFFF0) + bytes(200),
    "bad_empty.wav": b"",
    "bad_random_bytes.mp3": bytes(rng.randrange(256) for _ in range(3000)),
    "bad_text.ogg": b"this is not audio, it is a note someone saved with the wrong name\n",
    "bad_html_error_page.mp3": b"<html><body><h1>404 Not Found</h1></body></html>\n",
    "bad_zeros.wav": bytes(4096),
    "bad_zip.opus": b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(500)),
    "bad_riff_garbage.wav": b"RIFF\x00\x01\x00\x00WAVEfmt " + bytes(rng.randrange(256) for _ in range(300)),
    "any_id3_tag_only.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00",
}

DEEP = 5_000  # far past what the JSON reader's recursion allows
TRANSCRIPTS: dict[str, bytes | str] = {
    "ok_labelled.txt": "[00:01] Manager: Good afternoon, thank you for calling.\n[00:05] Client: Hi.\n",
    "ok_cp1251.txt": "Менеджер: Добрый день!\nКлиент: Здравствуйте.\n".encode("cp1251"),
    "ok_utf16.txt": "Manager: hello\nClient: hi\n".encode("utf-16"),
    "ok_mixed_newlines.txt": "Manager: one\rClient: two\r\nManager: three\n",
    "ok_zero_width_and_bidi.txt": "Manager: hel\u200blo \u202eolleh\u202c\nClient: \u0645\u0631\u062d\u0628\u0627 \U0001f600\n",
    "ok_segments.json": '[{"start": 0, "end": 1.5, "text": "hello", "channel": 0}, {"start": 2, "end": 3, "text": "hi", "channel": 1}]',
    "ok_huge_times.json": '[{"start": 1e300, "end": 1e301, "text": "far away"}]',
    "ok_surrogate_escape.json": '{"utterances": [{"role": "manager", "start": 0, "end": 1, "text": "half \\ud800 pair"}]}',
    "ok_vtt_voice_and_entities.vtt": "WEBVTT\n\n00:01.000 --> 00:02.000\n<v Manager><b>Hello</b> &amp; welcome\n\n00:02.500 --> 00:03.000\n<v Client>Hi &lt;3\n",
    "ok_srt_backwards_cue.srt": "1\n00:00:05,000 --> 00:00:02,000\nManager: the end is before the start\n",
    "any_srt_hour_99.srt": "1\n99:59:59,999 --> 99:59:59,999\nManager: late\n",
    "any_empty_utterances.json": '{"utterances": []}',
    "any_meta_numbers.json": '{"call_id": 5, "meta": {"manager": 7, "duration": "long"}, "utterances": [{"role": "manager", "start": 0, "end": 1, "text": "x"}]}',
    "bad_deep_list.json": "[" * DEEP + "]" * DEEP,
    "bad_deep_object.txt": '{"a":' * (DEEP // 2) + "1" + "}" * (DEEP // 2),
    "bad_empty.json": "",
    "bad_bom_only.txt": "\ufeff",
    "bad_nul_bytes.txt": b"\x00" * 64,
    "bad_binary.srt": bytes(rng.randrange(128, 256) for _ in range(400)),
    "bad_broken_utf16.txt": b"\xff\xfeM\x00a\x00\x00\xd8",
    "bad_nan_start.json": '[{"start": NaN, "end": 1, "text": "x"}]',
    "bad_infinite_end.json": '[{"start": 0, "end": Infinity, "text": "x"}]',
    "bad_null_utterances.json": '{"utterances": null}',
    "bad_utterances_object.json": '{"utterances": {"role": "manager"}}',
    "bad_meta_string.json": '{"meta": "not an object", "utterances": []}',
    "bad_meta_extra_list.json": '{"meta": {"extra": [1, 2]}, "utterances": []}',
    "bad_words_not_list.json": '[{"start": 0, "end": 1, "text": "x", "words": "x"}]',
    "bad_word_text_object.json": '{"utterances": [{"role": "manager", "start": 0, "end": 1, "text": "x", "words": [[0, 1, {"a": 1}]]}]}',
    "bad_utterance_start_string.json": '{"utterances": [{"role": "manager", "start": "0:01", "end": 1, "text": "x"}]}',
    "bad_number_too_big.json": '[{"start": 1' + "0" * 400 + ', "end": 1, "text": "x"}]',
    "bad_unknown_label.txt": "Boss: hello\n",
    "bad_only_comments.txt": "# nothing\n# here\n",
    "bad_vtt_header_only.vtt": "WEBVTT\n",
    "bad_srt_no_timing.srt": "1\nhello there\n",
    "bad_json_string.json": '"just a string"',
}

_SCRIPT = """name: Fuzz
language: en
stages:
  - id: greeting
    title: Greeting
    weight: 10
    phrases: [good afternoon]
"""
YAML: dict[str, bytes | str] = {
    "ok_minimal.yaml": _SCRIPT,
    "bad_alias_bomb.yaml": (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
        + "name: bomb\nlanguage: en\nstages:\n  - id: s\n    title: S\n    weight: 1\n    phrases: *i\n"
    ),
    "bad_phrase_matches_everything.yaml": _SCRIPT.replace("[good afternoon]", '[".*"]'),
    "bad_not_a_mapping.yaml": "- a\n- b\n",
    "bad_binary.yaml": bytes(rng.randrange(256) for _ in range(300)),
    "bad_tabs.yaml": "name: x\n\tlanguage: en\n",
    "bad_deep.yaml": "name: " + "[" * 5000 + "]" * 5000 + "\n",
    "bad_duplicate_keys.yaml": _SCRIPT + "name: Again\n",
    "bad_weight_string.yaml": _SCRIPT.replace("weight: 10", "weight: ten"),
    "bad_weight_infinite.yaml": _SCRIPT.replace("weight: 10", "weight: .inf"),
    "bad_id_unicode.yaml": _SCRIPT.replace("id: greeting", "id: привет"),
    "bad_empty.yaml": "",
    "bad_python_tag.yaml": "!!python/object/apply:os.system ['echo pwned']\n",
    "any_empty_phrases.yaml": _SCRIPT.replace("[good afternoon]", "[]"),
}

MANIFESTS: dict[str, bytes | str] = {
    "ok_semicolon_cp1251.csv": "Файл;Менеджер;Направление\na.wav;Иванов;вх\n".encode("cp1251"),
    "ok_header_only.csv": "file,manager\n",
    "ok_missing_cells.csv": "file,manager,outcome\na.wav,ivanov\n",
    "ok_extra_cells.csv": "file,manager\na.wav,ivanov,Moscow,Tverskaya 1\n",
    "ok_newline_in_cell.csv": 'file,manager,note\na.wav,ivanov,"two\nlines"\n',
    "ok_formula_injection.csv": "file,manager\na.wav,=HYPERLINK(\"http://x\")\n",
    "ok_traversal_ids.csv": "file,call_id\na.wav,../../etc/x\nb.wav,/tmp/x\nc.wav,..\n",
    "bad_empty.csv": "",
    "bad_binary.csv": bytes(rng.randrange(256) for _ in range(500)),
    "any_nul_byte.csv": "file,manager\na.wav,iv\x00anov\n",
    "bad_unbalanced_quote.csv": 'file,manager\n"a.wav,ivanov\nb.wav,petrov\n',
    "bad_utf16.csv": "file,manager\na.wav,ivanov\n".encode("utf-16"),
    "bad_duplicate_header.csv": "file,file\na.wav,b.wav\n",
    "bad_no_key_column.csv": "manager,outcome\nivanov,won\n",
    "bad_duplicate_row.csv": "file\na.wav\na.wav\n",
    "bad_date.csv": "file,date\na.wav,2026-13-45\n",
}


def main() -> None:
    for folder, cases in (("audio", AUDIO), ("transcripts", TRANSCRIPTS), ("yaml", YAML), ("manifests", MANIFESTS)):
        target = HERE / folder
        target.mkdir(exist_ok=True)
        for old in target.iterdir():
            old.unlink()
        for name, content in cases.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (target / name).write_bytes(data)


if __name__ == "__main__":
    main()
