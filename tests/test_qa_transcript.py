"""Transcripts beside recordings: the formats read, their errors, and the script rules."""

from __future__ import annotations

import json
import re

import pytest

from qa.config import QAConfig, QAConfigError
from qa.transcript import (
    Segment,
    TranscriptError,
    beside,
    normalised,
    read_transcript,
    transcript_flags,
)


def write(tmp_path, name: str, doc) -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False),
                    encoding="utf-8")
    return str(path)


# --- formats ------------------------------------------------------------------------------

def test_json_segments_in_seconds_or_milliseconds_by_speaker_or_channel(tmp_path) -> None:
    plain = write(tmp_path, "a.json", [
        {"start_s": 4.0, "end_s": 6.5, "speaker": "caller", "text": "我想问一下"},
        {"start_s": 0.5, "end_s": 3.0, "speaker": "Agent", "text": "您好"},
    ])
    assert read_transcript(plain) == [Segment(0.5, 3.0, "agent", "您好"),
                                      Segment(4.0, 6.5, "caller", "我想问一下")]
    # a recogniser's recording-file result: ms, channel ids; here the agent is on channel 1
    asr = write(tmp_path, "b.json", {"sentences": [
        {"begin_time": 1200, "end_time": 2500, "channel_id": 1, "text": "您好"},
        {"begin_time": 3000, "end_time": 4100, "channel_id": 0, "text": "你好"}]})
    got = read_transcript(asr, agent_channel=1)
    assert [(s.start_s, s.end_s, s.party) for s in got] == [(1.2, 2.5, "agent"),
                                                            (3.0, 4.1, "caller")]
    zh = write(tmp_path, "c.json", {"segments": [
        {"start": 1, "end": 2, "speaker": "坐席", "text": "您好"},
        {"start": 2, "end": 3, "speaker": "市民", "text": "喂"}]})
    assert [s.party for s in read_transcript(zh)] == ["agent", "caller"]


def test_webvtt_cues_with_voice_spans_or_a_speaker_prefix(tmp_path) -> None:
    vtt = write(tmp_path, "call.vtt", (
        "WEBVTT\n\nNOTE made by hand\n\n"
        "1\n00:00:00.500 --> 00:00:03.000\n<v agent>您好，12345热线</v>\n\n"
        "00:04.000 --> 00:06.500\n坐席：请讲\n\n"
        "01:00:01,000 --> 01:00:02,000\n<v.loud Caller>谢谢<i>你</i>\n"))
    got = read_transcript(vtt)
    assert got == [Segment(0.5, 3.0, "agent", "您好，12345热线"),
                   Segment(4.0, 6.5, "agent", "请讲"),
                   Segment(3601.0, 3602.0, "caller", "谢谢你")]


def test_the_transcript_beside_a_recording_is_found_by_its_name(tmp_path) -> None:
    rec = tmp_path / "CALL-7.wav"
    assert beside(rec) is None
    (tmp_path / "CALL-7.vtt").write_text("WEBVTT\n")
    assert beside(rec) == tmp_path / "CALL-7.vtt"
    (tmp_path / "CALL-7.transcript.json").write_text("[]")
    assert beside(rec) == tmp_path / "CALL-7.transcript.json"  # the JSON comes first


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON or WebVTT (Expecting property name"),
    ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    ('{"words": []}', "needs a list of segments"),
    ('[{"text": "hi", "speaker": "agent"}]', "segment 1 has no times"),
    ('[{"start_s": 1, "end_s": 2, "speaker": "agent", "text": "a"},'
     ' {"start_s": 3, "end_s": 2, "speaker": "agent", "text": "b"}]',
     "segment 2: need 0 <= start_s <= end_s"),
    ('[{"start_s": 1, "end_s": "x", "speaker": "agent", "text": "a"}]', "must both be numbers"),
    ('[{"start_s": 1, "end_s": 2, "speaker": "boss", "text": "a"}]', "unknown speaker 'boss'"),
    ('[{"start_s": 1, "end_s": 2, "channel": 3, "text": "a"}]', "channel (0 or 1)"),
    ('[{"start_s": 1, "end_s": 2, "speaker": "agent"}]', "segment 1 has no text"),
    ("WEBVTT\n\n00:01.000 --> 00:02.000\nhello\n", "does not say who speaks"),
    ("WEBVTT\n\nNOTE nothing\n", "without cues"),
])
def test_malformed_transcripts_are_named_with_what_is_wrong(tmp_path, content, message) -> None:
    path = write(tmp_path, "t.json", content)
    with pytest.raises(TranscriptError, match=re.escape(message)) as err:
        read_transcript(path)
    assert path in str(err.value)


def test_missing_huge_and_binary_transcripts_are_refused(tmp_path, monkeypatch) -> None:
    with pytest.raises(TranscriptError, match="no such transcript file"):
        read_transcript(tmp_path / "gone.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(TranscriptError, match="not UTF-8"):
        read_transcript(tmp_path / "bin.json")
    monkeypatch.setattr("qa.transcript.MAX_TRANSCRIPT_BYTES", 100)
    big = write(tmp_path, "big.json", [{"start_s": 0, "end_s": 1, "speaker": "agent",
                                        "text": "x" * 200}])
    with pytest.raises(TranscriptError, match="larger than"):
        read_transcript(big)


# --- rules --------------------------------------------------------------------------------

def seg(start_s: float, end_s: float, party: str, text: str) -> Segment:
    return Segment(start_s, end_s, party, text)


CALL = [
    seg(0.5, 3.0, "agent", "您好，12345热线，很高兴为您服务。"),
    seg(4.0, 8.0, "caller", "我家楼下的路灯坏了，这个归不归你们管？"),
    seg(20.0, 24.0, "agent", "这个问题不归 我们管，你自己去查吧！"),
    seg(30.0, 33.0, "caller", "不归我们管"),  # the caller's words are not the agent's
    seg(40.0, 44.0, "agent", "您知不知道具体地址？"),  # not "我不知道"
    seg(100.0, 104.0, "agent", "好的，我知道了。"),
]


def test_a_forbidden_phrase_is_flagged_on_its_segment_whatever_the_punctuation() -> None:
    flags = [f for f in transcript_flags(CALL, QAConfig()) if f.check == "forbidden_phrase"]
    assert len(flags) == 1
    (f,) = flags
    assert (f.start_s, f.end_s, f.channel, f.severity) == (20.0, 24.0, "agent", "warning")
    assert f.evidence["phrases"] == ["不归我们管", "你自己去查"]
    assert f.evidence["said"] == "这个问题不归 我们管，你自己去查吧！"
    assert "'不归我们管'" in f.detail
    assert "禁语「不归我们管」「你自己去查」" in f.evidence["detail_zh"]
    # case, full-width letters and spaces do not hide a phrase
    english = [seg(1.0, 2.0, "agent", "Ｏｋ, CALM   Down, sir!")]
    assert [f.evidence["phrases"] for f in transcript_flags(english, QAConfig())
            if f.check == "forbidden_phrase"] == [["calm down"]]
    assert normalised("Ｃａｌｍ  Down!") == "calmdown"


def test_greeting_and_closing_are_read_at_the_agents_first_and_last_speech() -> None:
    by = {f.check: f for f in transcript_flags(CALL, QAConfig())}
    assert "missing_greeting" not in by  # 您好 in the first 15 s
    closing = by["missing_closing"]
    assert (closing.start_s, closing.end_s) == (100.0, 104.0)
    assert closing.evidence["said"] == "好的，我知道了。" and closing.evidence["within_s"] == 20.0
    assert "no closing in the agent's last 20 s" in closing.detail
    # the greeting comes too late, the closing in time
    late = [seg(2.0, 5.0, "agent", "请讲。"), seg(6.0, 9.0, "agent", "嗯。"),
            seg(30.0, 33.0, "agent", "您好"), seg(50.0, 52.0, "agent", "感谢您的来电，再见")]
    by = {f.check: f for f in transcript_flags(late, QAConfig())}
    assert set(by) == {"missing_greeting"}
    assert (by["missing_greeting"].start_s, by["missing_greeting"].end_s) == (2.0, 9.0)
    assert by["missing_greeting"].evidence["said"] == "请讲。 嗯。"
    # the closing is read at the end of the agent's last speech, not of their last
    # sentence to start (a long one that began before a short one)
    overlapping = [seg(0.0, 2.0, "agent", "您好"), seg(10.0, 95.0, "agent", "……好的"),
                   seg(40.0, 42.0, "agent", "再见")]
    (late,) = transcript_flags(overlapping, QAConfig())
    assert (late.check, late.start_s, late.end_s) == ("missing_closing", 10.0, 95.0)
    # a transcript without the agent's speech has no opening or closing to judge
    assert transcript_flags([seg(0, 2, "caller", "喂？")], QAConfig()) == []


def test_phrase_lists_come_from_the_settings_and_checks_can_be_turned_off() -> None:
    config = QAConfig.from_dict({"forbidden_phrase": {"phrases": ["知道了"]},
                                 "missing_closing": {"enabled": False},
                                 "missing_greeting": {"within_s": 1.0}})
    by = {f.check: f for f in transcript_flags(CALL, config)}
    assert set(by) == {"forbidden_phrase"}
    assert by["forbidden_phrase"].start_s == 100.0
    assert transcript_flags(CALL, QAConfig.from_dict(
        {c: {"enabled": False} for c in ("forbidden_phrase", "missing_closing")})) == []
    with pytest.raises(QAConfigError, match=re.escape(
            "forbidden_phrase.phrases must be a list of non-empty strings")):
        QAConfig.from_dict({"forbidden_phrase": {"phrases": ["ok", ""]}})
    with pytest.raises(QAConfigError, match=re.escape("forbidden_phrase.phrases")):
        QAConfig.from_dict({"forbidden_phrase": {"phrases": "不归我们管"}})
    with pytest.raises(QAConfigError, match=re.escape(
            "missing_greeting.within_s must be >= 0")):
        QAConfig.from_dict({"missing_greeting": {"within_s": -1}})


def test_phrase_lists_are_read_from_toml(tmp_path) -> None:
    toml = tmp_path / "qa.toml"
    toml.write_text('[forbidden_phrase]\nphrases = ["不归我们管", "Not my job"]\n'
                    '[missing_closing]\nwithin_s = 30\n', encoding="utf-8")
    config = QAConfig.load(toml)
    assert config.checks["forbidden_phrase"].phrases == ("不归我们管", "Not my job")
    assert config.checks["missing_closing"].within_s == 30.0
    assert config.digest() != QAConfig().digest()


def test_a_long_sentence_keeps_the_flag_short_and_is_stored_whole(tmp_path) -> None:
    from voiceline.store import Store

    monologue = "我们这边查了一下，" * 400 + "这个不归我们管。"  # one 3,608-character segment
    (f,) = [f for f in transcript_flags([seg(2.0, 300.0, "agent", monologue)], QAConfig())
            if f.check == "forbidden_phrase"]
    assert len(f.detail) <= 200 and f.detail.endswith("…\"")
    assert len(f.evidence["said"]) == 200 and f.evidence["phrases"] == ["不归我们管"]
    result = {"call_id": "long", "path": "/rec/long.wav", "agent_id": "A1", "duration_s": 300.0,
              "score": 40.0, "metrics": {}, "metadata": {}, "flags": [f.to_json()],
              "transcript": [{"start_s": 2.0, "end_s": 300.0, "party": "agent",
                              "text": monologue}]}
    with Store(tmp_path / "voiceline.db") as store:
        store.save_qa_result(result)
        stored = store.qa_call("long")
    assert stored["transcript"][0]["text"] == monologue
    assert stored["flags"][0]["detail"] == f.detail
