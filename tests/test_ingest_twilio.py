"""Twilio Media Streams parser, fed JSON text as Twilio sends it."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from capture.g711 import ulaw_decode, ulaw_encode
from capture.ingest import Audio, CallEnded, CallStarted, ProtocolError, TwilioParser
from capture.ingest.twilio import (
    connected_message,
    dtmf_message,
    mark_message,
    media_message,
    start_message,
    stop_message,
)

CALL = "CA" + "3f" * 16
STREAM = "MZ" + "8a" * 16

# Every μ-law code's decoded value: exactly representable, so it must survive the trip.
EXACT_PCM = ulaw_decode(np.arange(256, dtype=np.uint8))

# A start and a media message as Twilio documents them, written by hand (not by the encoder).
TWILIO_START = json.dumps(
    {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": "AC" + "0" * 32,
            "streamSid": STREAM,
            "callSid": CALL,
            "tracks": ["inbound", "outbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"seat": "S07", "agent": "A1001", "queue": "tax"},
        },
        "streamSid": STREAM,
    }
)
# Codes FF 7F 00 80: +0, -0, negative full scale, positive full scale.
TWILIO_MEDIA = json.dumps(
    {
        "event": "media",
        "sequenceNumber": "2",
        "media": {"track": "outbound", "chunk": "1", "timestamp": "5", "payload": "/38AgA=="},
        "streamSid": STREAM,
    }
)


def codes(pcm: np.ndarray) -> bytes:
    return ulaw_encode(pcm).tobytes()


class Twilio:
    """Writes one stream's messages with Twilio's counters (sequence, per-track chunk)."""

    def __init__(self) -> None:
        self.sequence = 0
        self.chunk = {"inbound": 0, "outbound": 0}

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def start(self, **kwargs) -> str:
        kwargs.setdefault("seat", "S07")
        kwargs.setdefault("agent", "A1001")
        return start_message(CALL, STREAM, sequence_number=self.next_sequence(), **kwargs)

    def media(self, track: str, pcm: np.ndarray, timestamp_ms: int) -> str:
        self.chunk[track] += 1
        return media_message(
            track,
            self.chunk[track],
            timestamp_ms,
            codes(pcm),
            self.next_sequence(),
            stream_sid=STREAM,
        )

    def stop(self) -> str:
        return stop_message(CALL, self.next_sequence(), stream_sid=STREAM)


def started(**kwargs) -> tuple[TwilioParser, Twilio]:
    parser, twilio = TwilioParser(), Twilio()
    assert parser.receive_text(connected_message()) == []
    events = parser.receive_text(twilio.start(**kwargs))
    assert isinstance(events[0], CallStarted), events
    return parser, twilio


def fatal_reason(events: list) -> str:
    assert len(events) == 1 and isinstance(events[0], ProtocolError) and events[0].fatal, events
    return events[0].reason


def media_with(**fields) -> str:
    media = {"track": "outbound", "chunk": "1", "timestamp": "0", "payload": "/w=="}
    media.update(fields)
    return json.dumps(
        {"event": "media", "sequenceNumber": "2", "media": media, "streamSid": STREAM}
    )


def test_documented_message_shapes():
    parser = TwilioParser()
    (call,) = parser.receive_text(TWILIO_START)
    assert call == CallStarted(
        CALL,
        "S07",
        "A1001",
        8000,
        ("agent", "caller"),
        "twilio",
        {
            "stream_sid": STREAM,
            "account_sid": "AC" + "0" * 32,
            "call_sid": CALL,
            "tracks": ["inbound", "outbound"],
            "agent_track": "outbound",
            "custom_parameters": {"queue": "tax"},
        },
    )
    (audio,) = parser.receive_text(TWILIO_MEDIA)
    assert (audio.channel, audio.t_s, audio.fs_hz) == ("agent", 0.0, 8000)
    assert audio.samples.tolist() == [0, 0, -32124, 32124]


def test_both_tracks_round_trip_exact_mulaw_values_and_keep_time():
    parser, twilio = started()
    out = []
    for k in range(4):  # 20 ms messages, interleaved as Twilio sends them
        span = np.roll(EXACT_PCM, -160 * k)[:160]
        out += parser.receive_text(twilio.media("inbound", span, 20 * k))
        out += parser.receive_text(twilio.media("outbound", -span, 20 * k))
    out += parser.receive_text(twilio.stop())
    agent = [e for e in out if isinstance(e, Audio) and e.channel == "agent"]
    caller = [e for e in out if isinstance(e, Audio) and e.channel == "caller"]
    assert [e.t_s for e in agent] == [e.t_s for e in caller] == [0.0, 0.02, 0.04, 0.06]
    for k, (a, c) in enumerate(zip(agent, caller, strict=True)):
        span = np.roll(EXACT_PCM, -160 * k)[:160]
        np.testing.assert_array_equal(c.samples, span)  # inbound = caller
        np.testing.assert_array_equal(a.samples, -span)  # outbound = agent
    assert out[-1] == CallEnded(CALL, "stop")
    stats = parser.stats
    assert (stats.frames, stats.samples, stats.samples_filled, stats.errors) == (8, 1280, 0, 0)


def test_every_mulaw_code_survives():
    parser, twilio = started(tracks=("outbound",))
    (audio,) = parser.receive_text(twilio.media("outbound", EXACT_PCM, 0))
    np.testing.assert_array_equal(audio.samples, EXACT_PCM)
    assert audio.samples.dtype == np.int16


def test_agent_track_inbound_from_custom_parameters():
    parser, twilio = started(agent_track="inbound_track")
    assert parser.call.params["agent_track"] == "inbound"
    (audio,) = parser.receive_text(twilio.media("inbound", EXACT_PCM[:160], 0))
    assert audio.channel == "agent"


def test_default_agent_track_is_a_parser_setting():
    parser, twilio = TwilioParser(default_agent_track="inbound"), Twilio()
    parser.receive_text(twilio.start(tracks=("inbound",)))
    (audio,) = parser.receive_text(twilio.media("inbound", EXACT_PCM[:160], 0))
    assert parser.call.channels == ("agent",) and audio.channel == "agent"
    with pytest.raises(ValueError, match="default_agent_track"):
        TwilioParser(default_agent_track="both")


def test_inbound_only_stream_has_no_agent_audio_and_says_so():
    parser, twilio = TwilioParser(), Twilio()
    call, warning = parser.receive_text(twilio.start(tracks=("inbound",)))
    assert call.channels == ("caller",)
    assert not warning.fatal and "no agent audio will arrive" in warning.reason
    (audio,) = parser.receive_text(twilio.media("inbound", EXACT_PCM[:160], 0))
    assert audio.channel == "caller"


def test_default_seat_and_unknown_agent():
    parser = TwilioParser()
    (call,) = parser.receive_text(start_message(CALL, STREAM))
    assert (call.seat, call.agent) == ("tw-3f3f3f3f", None)


def test_lost_message_is_filled_with_silence_of_the_right_length():
    parser, twilio = started(tracks=("outbound",))
    tone = EXACT_PCM[:160]
    parser.receive_text(twilio.media("outbound", tone, 0))
    parser.receive_text(twilio.media("outbound", tone, 20))
    twilio.chunk["outbound"] += 1  # chunk 3 (20 ms) is lost
    twilio.sequence += 1
    fill, audio = parser.receive_text(twilio.media("outbound", tone, 60))
    assert (fill.t_s, fill.samples.shape[0], audio.t_s) == (0.04, 160, 0.06)
    assert not fill.samples.any() and fill.samples.dtype == np.int16
    np.testing.assert_array_equal(audio.samples, tone)
    assert (parser.stats.gaps_filled, parser.stats.samples_filled) == (1, 160)


def test_without_timestamps_a_chunk_jump_is_filled_by_message_size():
    parser, _ = started(tracks=("outbound",))
    out = []
    for seq, chunk in ((2, 1), (3, 4)):
        msg = {
            "event": "media",
            "sequenceNumber": str(seq),
            "streamSid": STREAM,
            "media": {
                "track": "outbound",
                "chunk": str(chunk),
                "payload": base64.b64encode(codes(EXACT_PCM[:80])).decode(),
            },
        }
        out += parser.receive_text(json.dumps(msg))
    # chunks 2 and 3 are missing: two messages of 80 samples
    assert [(e.t_s, e.samples.shape[0]) for e in out] == [(0.0, 80), (0.01, 160), (0.03, 80)]
    assert not out[1].samples.any()


def test_duplicates_and_late_messages_are_dropped():
    parser, twilio = started(tracks=("outbound",))
    tone = EXACT_PCM[:160]
    first = twilio.media("outbound", tone, 0)
    assert len(parser.receive_text(first)) == 1
    assert parser.receive_text(first) == []  # same sequenceNumber
    again = media_message("outbound", 1, 0, codes(tone), 99, stream_sid=STREAM)
    assert parser.receive_text(again) == []  # new sequenceNumber, old chunk
    late = media_message("outbound", 2, 20, codes(tone), 100, stream_sid=STREAM)
    ahead = media_message("outbound", 3, 40, codes(tone), 101, stream_sid=STREAM)
    fill, audio = parser.receive_text(ahead)
    assert parser.receive_text(late) == []  # chunk 2 after chunk 3: too late, already filled
    assert (fill.t_s, fill.samples.shape[0], audio.t_s) == (0.02, 160, 0.04)
    assert parser.stats.duplicates_dropped == 3
    assert (parser.stats.frames, parser.stats.samples) == (2, 320)


def test_without_chunk_and_timestamp_a_repeated_sequence_number_is_a_duplicate():
    parser, _ = started(tracks=("outbound",))
    msg = json.dumps(
        {
            "event": "media",
            "sequenceNumber": "2",
            "streamSid": STREAM,
            "media": {"track": "outbound", "payload": "/38AgA=="},
        }
    )
    (audio,) = parser.receive_text(msg)
    assert parser.receive_text(msg) == [] and parser.stats.duplicates_dropped == 1
    (audio,) = parser.receive_text(msg.replace('"2"', '"3"'))
    assert audio.t_s == 0.0005


def test_a_swap_across_tracks_loses_nothing():
    parser, twilio = started()
    inbound = twilio.media("inbound", EXACT_PCM[:160], 0)  # sequenceNumber 2
    outbound = twilio.media("outbound", EXACT_PCM[:160], 0)  # sequenceNumber 3
    assert [e.channel for e in parser.receive_text(outbound) + parser.receive_text(inbound)] == [
        "agent",
        "caller",
    ]
    assert parser.stats.duplicates_dropped == 0


def test_timestamp_jitter_within_tolerance_is_not_a_gap():
    parser, twilio = started(tracks=("outbound",))
    out = []
    for ts in (5, 21, 39, 61, 80):
        out += parser.receive_text(twilio.media("outbound", EXACT_PCM[:160], ts))
    assert [e.t_s for e in out] == [0.0, 0.02, 0.04, 0.06, 0.08]
    assert parser.stats.gaps_filled == 0


def test_a_track_that_starts_late_is_aligned_to_the_stream_clock():
    parser, twilio = started()
    parser.receive_text(twilio.media("inbound", EXACT_PCM[:160], 0))
    fill, audio = parser.receive_text(twilio.media("outbound", EXACT_PCM[:160], 1000))
    assert (fill.channel, fill.t_s, fill.samples.shape[0]) == ("agent", 0.0, 8000)
    assert (audio.channel, audio.t_s) == ("agent", 1.0)


def test_gap_over_five_seconds_is_reported_and_time_jumps():
    parser, twilio = started(tracks=("outbound",))
    parser.receive_text(twilio.media("outbound", EXACT_PCM[:160], 0))
    warning, audio = parser.receive_text(twilio.media("outbound", EXACT_PCM[:160], 6020))
    assert not warning.fatal and "gap of 6.000 s on the agent channel" in warning.reason
    assert audio.t_s == 6.02
    assert (parser.stats.gaps_filled, parser.stats.samples_filled, parser.stats.errors) == (0, 0, 1)
    (next_audio,) = parser.receive_text(twilio.media("outbound", EXACT_PCM[:160], 6040))
    assert next_audio.t_s == 6.04


def test_a_jump_past_what_a_call_can_skip_ends_the_stream():
    # one timestamp 2**50 ms ahead once moved the call's clock 35,000 years on, and
    # the other track's audio was dropped as late for the rest of the call
    for ahead_ms in (60_040, 2**50):
        parser, twilio = started()
        parser.receive_text(twilio.media("outbound", EXACT_PCM[:160], 0))
        (error,) = parser.receive_text(twilio.media("outbound", EXACT_PCM[:160], ahead_ms))
        assert error.fatal and "clock is broken" in error.reason and parser.closed
    parser, twilio = started()  # a minute's gap is the last one the timeline jumps over
    parser.receive_text(twilio.media("outbound", EXACT_PCM[:160], 0))
    warning, audio = parser.receive_text(twilio.media("outbound", EXACT_PCM[:160], 60_020))
    assert not warning.fatal and audio.t_s == 60.02


def test_media_before_start_is_fatal():
    parser = TwilioParser()
    parser.receive_text(connected_message())
    reason = fatal_reason(parser.receive_text(TWILIO_MEDIA))
    assert "'media' message before 'start'" in reason and parser.closed
    assert parser.receive_text(TWILIO_START) == [] and parser.eof() == []


@pytest.mark.parametrize("text", [stop_message(CALL, 2), mark_message("m", 2)])
def test_other_messages_before_start_are_fatal(text):
    assert "start message is missing" in fatal_reason(TwilioParser().receive_text(text))


def test_second_start_is_fatal():
    parser, twilio = started()
    assert "second 'start'" in fatal_reason(parser.receive_text(twilio.start()))


def test_second_start_for_another_stream_says_a_connection_carries_one_stream():
    parser, _ = started()
    other = start_message(CALL, "MZ" + "b" * 32, sequence_number=2)
    reason = fatal_reason(parser.receive_text(other))
    assert reason.startswith(f"a second 'start' (stream 'MZ{'b' * 32}') on the connection "
                             f"of stream '{STREAM}'")
    assert "a connection carries one stream" in reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"event": "media", ', "not valid JSON"),
        ('"media"', "JSON object"),
        ('{"sequenceNumber": "3"}', "no 'event'"),
        (media_with(payload="not base64!"), "not valid base64"),
        (media_with(payload=3), "must be a base64 string"),
        (media_with(payload=base64.b64encode(bytes(8001)).decode()), "more than 1 s"),
        (media_with(chunk="one"), "media.chunk must be an integer"),
        (media_with(timestamp="-20"), "media.timestamp (ms) must be an integer from 0 to 2**53"),
        (media_with(timestamp="1" * 5000), "media.timestamp (ms) must be an integer in ASCII"),
        (media_with(timestamp=10**400), "media.timestamp (ms) must be an integer from 0 to 2**53"),
        (media_with(timestamp=2**53 + 1), "got 9007199254740993"),
        (media_with(timestamp="２０"), "media.timestamp (ms) must be an integer in ASCII"),
        (media_with(chunk="1" * 5000), "media.chunk must be an integer in ASCII digits"),
        (media_with(chunk=10**400), "media.chunk must be an integer from 0 to 2**53"),
        (media_with(chunk="+-1"), "media.chunk must be an integer in ASCII digits"),
        (media_with(track=None), "track is missing"),
        (json.dumps({"event": "media", "streamSid": STREAM}), "no 'media' object"),
        (json.dumps({"event": "mark", "sequenceNumber": "x1"}), "sequenceNumber must be"),
        (json.dumps({"event": "mark", "sequenceNumber": "1" * 5000}), "sequenceNumber must be"),
        (json.dumps({"event": "mark", "streamSid": "MZother"}), "for stream 'MZother'"),
    ],
)
def test_malformed_messages_after_start_are_fatal(text, expected):
    parser, _ = started()
    assert expected in fatal_reason(parser.receive_text(text))
    assert parser.closed and parser.stats.errors == 1
    assert parser.receive_text(TWILIO_MEDIA) == []


@pytest.mark.parametrize(
    ("media_format", "expected"),
    [
        ({"encoding": "audio/x-l16", "sampleRate": 16000, "channels": 1}, "audio/x-l16 16000"),
        ({"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 2}, "2 channel(s)"),
        ("mulaw", "must be an object"),
        ({"sampleRate": "8" * 5000}, "mediaFormat.sampleRate must be an integer in ASCII"),
        ({"channels": "1" * 5000}, "mediaFormat.channels must be an integer in ASCII"),
        ({"sampleRate": 10**400}, "mediaFormat.sampleRate must be an integer from"),
    ],
)
def test_unsupported_media_format_is_fatal(media_format, expected):
    start = json.loads(TWILIO_START)
    start["start"]["mediaFormat"] = media_format
    assert expected in fatal_reason(TwilioParser().receive_text(json.dumps(start)))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tracks": ["both"]}, "unknown track(s) ['both']"),
        ({"tracks": []}, "non-empty list"),
        ({"customParameters": {"agent_track": "left"}}, "agent_track 'left'"),
        ({"customParameters": {"seat": 7}}, "seat must be a string"),
        ({"callSid": None, "streamSid": None}, "neither start.callSid nor streamSid"),
    ],
)
def test_bad_start_is_fatal(change, expected):
    start = json.loads(TWILIO_START)
    start["start"].update(change)
    start.pop("streamSid")
    assert expected in fatal_reason(TwilioParser().receive_text(json.dumps(start)))


def test_marks_dtmf_and_unknown_events():
    parser, twilio = started()
    assert parser.receive_text(mark_message("prompt-1", 3, stream_sid=STREAM)) == []
    assert parser.receive_text(dtmf_message("7", 4, stream_sid=STREAM)) == []
    assert parser.receive_text(connected_message()) == []
    (warning,) = parser.receive_text('{"event": "transcript", "sequenceNumber": "5"}')
    assert warning == ProtocolError("unknown event 'transcript'; ignored", fatal=False)
    twilio.sequence = 5
    assert len(parser.receive_text(twilio.media("inbound", EXACT_PCM[:160], 0))) == 1


def test_media_on_a_track_start_did_not_announce_is_dropped():
    parser, twilio = started(tracks=("inbound",), agent_track="inbound")
    (warning,) = parser.receive_text(twilio.media("outbound", EXACT_PCM[:160], 0))
    assert not warning.fatal and "'outbound', which 'start' did not announce" in warning.reason
    assert parser.stats.frames == 0


def test_media_after_stop_is_dropped_and_eof_adds_nothing():
    parser, twilio = started()
    assert parser.receive_text(twilio.stop()) == [CallEnded(CALL, "stop")]
    (warning,) = parser.receive_text(twilio.media("inbound", EXACT_PCM[:160], 0))
    assert not warning.fatal and "after 'stop'" in warning.reason
    assert parser.receive_text(twilio.stop()) == []
    assert parser.eof() == [] and parser.closed


def test_eof_without_stop_ends_the_call():
    parser, twilio = started()
    parser.receive_text(twilio.media("inbound", EXACT_PCM[:160], 0))
    assert parser.eof() == [CallEnded(CALL, "connection closed by the peer")]


def test_binary_frames_are_fatal():
    parser, _ = started()
    assert "no binary messages" in fatal_reason(parser.receive_bytes(b"\xff" * 160))


def test_integer_sequence_numbers_and_timestamps_are_accepted():
    parser, _ = started(tracks=("outbound",))
    msg = {
        "event": "media",
        "sequenceNumber": 2,
        "streamSid": STREAM,
        "media": {"track": "outbound", "chunk": 1, "timestamp": 40, "payload": "/w=="},
    }
    fill, audio = parser.receive_text(json.dumps(msg))
    assert (fill.samples.shape[0], audio.t_s, audio.samples.tolist()) == (320, 0.04, [0])
