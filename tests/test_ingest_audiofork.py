"""Audio-fork websocket parser (FreeSWITCH mod_audio_fork style), fed raw frames."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from capture.ingest import (
    MAX_TEXT_MESSAGE_CHARS,
    Audio,
    AudioForkParser,
    CallEnded,
    CallStarted,
    ProtocolError,
)
from capture.ingest.audiofork import pcm_message, start_message, stop_message

CALL = "6f1c2a9e-0b7d-4d8e-9a41-3c5b8e2f7a10"


def le16(*values: int) -> bytes:
    """Raw little-endian 16-bit PCM, written independently of the encoder."""
    return struct.pack(f"<{len(values)}h", *values)


def meta(**fields: object) -> str:
    base: dict[str, object] = {
        "call_id": CALL,
        "seat": "S12",
        "agent": "A1001",
        "sample_rate": 8000,
        "channels": 1,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def started(**fields: object) -> AudioForkParser:
    parser = AudioForkParser()
    events = parser.receive_text(meta(**fields))
    assert isinstance(events[0], CallStarted), events
    return parser


def audio_of(events: list, channel: str) -> list[Audio]:
    return [e for e in events if isinstance(e, Audio) and e.channel == channel]


def fatal_reason(events: list) -> str:
    assert len(events) == 1 and isinstance(events[0], ProtocolError) and events[0].fatal, events
    return events[0].reason


def test_mono_8k_session_with_drifting_frame_sizes():
    parser = AudioForkParser()
    events = parser.receive_text(meta())
    assert events == [CallStarted(CALL, "S12", "A1001", 8000, ("agent",), "audiofork", {})]

    rng = np.random.default_rng(1)
    sizes = (160, 320, 80, 160)  # 20 ms, 40 ms, 10 ms, 20 ms
    chunks = [rng.integers(-32768, 32768, n).astype(np.int16) for n in sizes]
    out = []
    for chunk in chunks:
        out += parser.receive_bytes(le16(*chunk.tolist()))
    assert [e.t_s for e in out] == [0.0, 0.02, 0.06, 0.07]
    for event, chunk in zip(out, chunks, strict=True):
        assert event.channel == "agent" and event.fs_hz == 8000
        assert event.samples.dtype == np.int16 and event.samples.ndim == 1
        np.testing.assert_array_equal(event.samples, chunk)

    assert parser.receive_text('{"event": "stop"}') == [CallEnded(CALL, "stop")]
    assert parser.eof() == []
    assert (parser.stats.frames, parser.stats.samples, parser.stats.errors) == (4, 720, 0)
    assert parser.closed and parser.close_reason == "connection closed by the peer"


def test_stereo_16k_is_split_by_role_agent_on_channel_1():
    parser = started(sample_rate=16000, channels=2, agent_channel=1)
    assert parser.call.channels == ("caller", "agent") and parser.call.fs_hz == 16000
    # Interleaved L R L R: L = caller, R = agent.
    events = parser.receive_bytes(le16(1, 300, -2, -32768, 32767, 7))
    assert len(events) == 2
    caller, agent = events
    assert (caller.channel, agent.channel) == ("caller", "agent")
    np.testing.assert_array_equal(caller.samples, [1, -2, 32767])
    np.testing.assert_array_equal(agent.samples, [300, -32768, 7])
    events = parser.receive_bytes(le16(5, 6))
    assert [(e.channel, e.t_s) for e in events] == [("caller", 3 / 16000), ("agent", 3 / 16000)]
    assert parser.stats.samples == 8  # 4 sample frames x 2 channels


def test_stereo_agent_on_channel_0_by_default():
    parser = started(channels=2)
    assert parser.call.channels == ("agent", "caller")
    agent, caller = parser.receive_bytes(le16(10, 20))
    assert (agent.channel, int(agent.samples[0]), caller.channel, int(caller.samples[0])) == (
        "agent",
        10,
        "caller",
        20,
    )


def test_encoder_writes_interleaved_little_endian_and_round_trips():
    stereo = np.array([[1, -2, 32767], [300, -32768, 7]], dtype=np.int16)
    assert pcm_message(stereo) == le16(1, 300, -2, -32768, 32767, 7)
    assert pcm_message(stereo[0]) == le16(1, -2, 32767)
    parser = AudioForkParser()
    parser.receive_text(
        start_message("c9", "S1", None, fs_hz=16000, channels=2, agent_channel=1, site="Pudong")
    )
    assert parser.call.params == {"site": "Pudong"} and parser.call.agent is None
    caller, agent = parser.receive_bytes(pcm_message(stereo))
    np.testing.assert_array_equal(caller.samples, stereo[0])
    np.testing.assert_array_equal(agent.samples, stereo[1])
    assert parser.receive_text(stop_message("transfer")) == [CallEnded("c9", "transfer")]


@pytest.mark.parametrize("bad", [np.zeros(4), np.zeros((3, 4), np.int16), np.zeros((2, 2, 2))])
def test_encoder_refuses_wrong_samples(bad):
    with pytest.raises(ValueError, match="pcm_message"):
        pcm_message(bad)


def test_aliases_and_string_numbers_are_accepted():
    parser = AudioForkParser()
    text = json.dumps(
        {
            "event": "start",
            "uuid": CALL,
            "seatId": "S3",
            "agentId": "A7",
            "sampleRate": "16000",
            "numChannels": "2",
            "agentChannel": 1,
            "direction": "inbound",
        }
    )
    (call,) = parser.receive_text(text)
    assert (call.call_id, call.seat, call.agent, call.fs_hz, call.channels) == (
        CALL,
        "S3",
        "A7",
        16000,
        ("caller", "agent"),
    )
    assert call.params == {"direction": "inbound"}


def test_defaults_seat_from_call_id_and_agent_unknown():
    (call,) = AudioForkParser().receive_text(
        json.dumps({"callId": 12345678901, "sample_rate": 8000, "channels": 1})
    )
    assert (call.call_id, call.seat, call.agent) == ("12345678901", "af-12345678", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('["call_id"]', "JSON object"),
        (json.dumps({"seat": "S1", "sample_rate": 8000, "channels": 1}), "call_id"),
        (meta(sample_rate=None), "no sample_rate"),
        (meta(sample_rate=44100), "44100 Hz is not supported"),
        (meta(sample_rate="fast"), "must be an integer"),
        (meta(sample_rate=8000.5), "must be an integer"),
        (meta(sample_rate="9" * 5000), "sample_rate must be an integer in ASCII digits"),
        (meta(sample_rate=10**400), "sample_rate must be an integer from -9007199254740992"),
        (meta(sample_rate="８０００"), "sample_rate must be an integer in ASCII digits"),
        (meta(sample_rate="+-8000"), "sample_rate must be an integer in ASCII digits"),
        (meta(channels="1" * 5000), "channels must be an integer in ASCII digits"),
        (meta(channels=2, agent_channel="1" * 5000), "agent_channel must be an integer in ASCII"),
        (meta(channels=None), "no channels"),
        (meta(channels=6), "channels must be 1 (mono) or 2 (stereo), got 6"),
        (meta(channels=2, agent_channel=2), "agent_channel 2 does not exist in stereo"),
        (meta(agent_channel=1), "agent_channel 1 does not exist in mono"),
        (meta(seat=["S1"]), "seat must be a string"),
        (meta(callId="other"), "call_id twice with different values"),
        (meta(event="stop"), "before the metadata"),
        (meta(event=3), "'event' must be a string"),
    ],
)
def test_bad_metadata_is_fatal_with_a_reason(text, expected):
    parser = AudioForkParser()
    assert expected in fatal_reason(parser.receive_text(text))
    assert parser.closed and expected in parser.close_reason
    assert parser.receive_text(meta()) == [] and parser.receive_bytes(le16(1)) == []
    assert parser.eof() == [] and parser.stats.errors == 1


def test_same_value_under_two_spellings_is_fine():
    (call,) = AudioForkParser().receive_text(meta(uuid=CALL, sampleRate=8000))
    assert call.call_id == CALL


def test_binary_before_metadata_is_fatal():
    parser = AudioForkParser()
    assert "before the metadata" in fatal_reason(parser.receive_bytes(le16(1, 2)))
    assert parser.eof() == []  # no call was started


def test_odd_byte_count_is_fatal():
    parser = started()
    assert "odd byte count" in fatal_reason(parser.receive_bytes(b"\x01\x02\x03"))


def test_stereo_message_that_is_not_whole_sample_frames_is_fatal():
    parser = started(channels=2)
    reason = fatal_reason(parser.receive_bytes(le16(1, 2, 3)))
    assert "6 bytes" in reason and "4-byte sample frames of stereo" in reason


def test_one_second_is_the_largest_binary_message():
    parser = started(sample_rate=16000, channels=2)
    events = parser.receive_bytes(bytes(16000 * 4))
    assert [e.samples.shape[0] for e in events] == [16000, 16000]
    reason = fatal_reason(parser.receive_bytes(bytes(16000 * 4 + 4)))
    assert "64004 bytes holds more than 1 s" in reason


def test_oversized_text_is_fatal():
    parser = started()
    text = json.dumps({"event": "mark", "name": "x" * MAX_TEXT_MESSAGE_CHARS})
    assert "longer than" in fatal_reason(parser.receive_text(text))


def test_empty_binary_message_is_ignored():
    parser = started()
    assert parser.receive_bytes(b"") == [] and parser.stats.frames == 0


def test_other_text_messages_after_start():
    parser = started()
    assert parser.receive_text('{"event": "mark", "name": "greeting"}') == []
    assert parser.receive_text('{"event": "dtmf", "digit": "5"}') == []
    (warning,) = parser.receive_text('{"note": "hello"}')
    assert warning == ProtocolError(
        "text message without an 'event' after the metadata; ignored", fatal=False
    )
    assert not parser.closed
    (audio,) = parser.receive_bytes(le16(4, 5))
    assert audio.t_s == 0.0


@pytest.mark.parametrize("text", [meta(), meta(call_id="second"), '{"event": "start"}'])
def test_second_metadata_is_fatal(text):
    parser = started()
    assert "second metadata" in fatal_reason(parser.receive_text(text))


def test_bad_json_after_start_is_fatal():
    parser = started()
    assert "not valid JSON" in fatal_reason(parser.receive_text('{"event": "stop"'))
    assert parser.eof() == []


def test_audio_after_stop_is_dropped_with_a_warning():
    parser = started()
    parser.receive_bytes(le16(1, 2))
    assert parser.receive_text('{"event": "hangup", "reason": "caller hung up"}') == [
        CallEnded(CALL, "caller hung up")
    ]
    (warning,) = parser.receive_bytes(le16(3, 4))
    assert not warning.fatal and "after the call ended" in warning.reason
    assert parser.receive_text('{"event": "stop"}') == []  # ended once
    assert (parser.stats.frames, parser.stats.samples, parser.stats.errors) == (1, 2, 1)


def test_eof_ends_a_started_call():
    parser = started()
    parser.receive_bytes(le16(1, 2))
    assert parser.eof() == [CallEnded(CALL, "connection closed by the peer")]
    assert parser.eof() == [] and parser.receive_bytes(le16(1)) == []


def test_eof_before_start_emits_nothing():
    parser = AudioForkParser()
    assert parser.eof() == [] and parser.closed
