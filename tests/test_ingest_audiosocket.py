"""Asterisk AudioSocket parser, fed a TCP byte stream whole, byte by byte and in pieces."""

from __future__ import annotations

import struct
import uuid

import numpy as np
import pytest

from capture.ingest import (
    Audio,
    AudioSocketParser,
    Binding,
    CallEnded,
    CallStarted,
    ProtocolError,
)
from capture.ingest.audiosocket import (
    audio_message,
    dtmf_message,
    error_message,
    hangup_message,
    uuid_message,
)

CALL = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
CALL_BYTES = uuid.UUID(CALL).bytes


def msg(kind: int, payload: bytes = b"") -> bytes:
    """One raw message, written independently of the encoder."""
    return struct.pack(">BH", kind, len(payload)) + payload


def slin(*values: int) -> bytes:
    return msg(0x10, struct.pack(f"<{len(values)}h", *values))


RNG = np.random.default_rng(7)
FRAMES = [RNG.integers(-32768, 32768, n).astype(np.int16) for n in (160, 160, 320, 80, 160)]
SESSION = b"".join(
    [
        msg(0x01, CALL_BYTES),
        *(slin(*f.tolist()) for f in FRAMES[:2]),
        msg(0x03, b"5"),
        *(slin(*f.tolist()) for f in FRAMES[2:]),
        msg(0xFF, b"\x02"),
        slin(),
        msg(0x00),
    ]
)
"""A recorded call: UUID, 880 samples in 20/20/40/10/20 ms messages, a DTMF digit, an
Asterisk error, an empty audio message and the hang-up."""


def fatal_reason(events: list) -> str:
    assert isinstance(events[-1], ProtocolError) and events[-1].fatal, events
    return events[-1].reason


def feed(chunks) -> tuple[list, AudioSocketParser]:
    parser = AudioSocketParser()
    events = []
    for chunk in chunks:
        events += parser.receive_bytes(chunk)
    events += parser.eof()
    return events, parser


def test_recorded_session():
    events, parser = feed([SESSION])
    call, *audio, error, ended = events
    assert call == CallStarted(
        CALL, "as-1b4e28ba", None, 8000, ("agent",), "audiosocket", {"uuid": CALL, "bound": False}
    )
    assert [a.t_s for a in audio] == [0.0, 0.02, 0.04, 0.08, 0.09]
    for a, frame in zip(audio, FRAMES, strict=True):
        assert isinstance(a, Audio) and a.channel == "agent" and a.fs_hz == 8000
        assert a.samples.dtype == np.int16
        np.testing.assert_array_equal(a.samples, frame)
    assert error == ProtocolError(
        "Asterisk reported an AudioSocket error code 0x02 (frame forwarding error)", fatal=False
    )
    assert ended == CallEnded(CALL, "hangup")
    stats = parser.stats
    assert (stats.frames, stats.samples, stats.errors, stats.samples_filled) == (5, 880, 1, 0)


def test_same_events_byte_by_byte():
    whole, _ = feed([SESSION])
    one_by_one, _ = feed(SESSION[i : i + 1] for i in range(len(SESSION)))
    assert one_by_one == whole


@pytest.mark.parametrize("seed", range(5))
def test_same_events_in_random_chunks(seed):
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, len(SESSION)), size=40, replace=False))
    pieces = np.split(np.frombuffer(SESSION, dtype=np.uint8), cuts)
    chunked, _ = feed(p.tobytes() for p in pieces)
    assert chunked == feed([SESSION])[0]


def test_same_events_split_in_two_at_every_byte():
    whole, _ = feed([SESSION])
    for cut in range(len(SESSION) + 1):
        assert feed([SESSION[:cut], SESSION[cut:]])[0] == whole, cut


def test_encoder_matches_the_wire_format():
    frame = np.array([1, -2, 32767, -32768], dtype=np.int16)
    assert audio_message(frame) == b"\x10\x00\x08" + struct.pack("<4h", 1, -2, 32767, -32768)
    assert uuid_message(CALL) == uuid_message(uuid.UUID(CALL)) == uuid_message(CALL_BYTES)
    assert uuid_message(CALL) == b"\x01\x00\x10" + CALL_BYTES
    assert hangup_message() == b"\x00\x00\x00"
    assert dtmf_message("#") == b"\x03\x00\x01#"
    assert error_message() == b"\xff\x00\x00" and error_message(4) == b"\xff\x00\x01\x04"
    with pytest.raises(ValueError, match="1-D int16"):
        audio_message(frame.astype(np.float32))
    with pytest.raises(ValueError, match="at most 65535"):
        audio_message(np.zeros(40000, np.int16))


def test_resolver_binds_the_uuid_to_seat_agent_and_role():
    seen = []

    def resolve(call_uuid: str) -> Binding | None:
        seen.append(call_uuid)
        return Binding("S21", "A2002", channel="caller")

    parser = AudioSocketParser(resolve)
    call, audio = parser.receive_bytes(uuid_message(CALL) + slin(3, 4))
    assert seen == [CALL]
    assert (call.seat, call.agent, call.channels, call.params["bound"]) == (
        "S21",
        "A2002",
        ("caller",),
        True,
    )
    assert audio.channel == "caller" and audio.samples.tolist() == [3, 4]


def test_resolver_returning_none_gives_the_placeholder_seat():
    (call,) = AudioSocketParser(lambda _: None).receive_bytes(uuid_message(CALL))
    assert (call.seat, call.agent, call.channels) == ("as-1b4e28ba", None, ("agent",))


@pytest.mark.parametrize(
    ("fields", "expected"), [({"seat": ""}, "seat"), ({"seat": "S1", "channel": "both"}, "channel")]
)
def test_binding_validates(fields, expected):
    with pytest.raises(ValueError, match=expected):
        Binding(**fields)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (slin(1, 2), "audio before the call's UUID"),
        (b"\x10\x01\x40", "audio before the call's UUID"),  # the header alone is enough
        (msg(0x42, b"xyz"), "unknown AudioSocket message type 0x42"),
        (b"\x12\x01\x40", "0x12 is signed-linear audio at a rate other than 8 kHz"),
        (msg(0x01, CALL_BYTES[:15]), "a UUID is 16 bytes"),
        (b"\x01\xff\xff", "65535-byte payload is over the 16000-byte limit"),
    ],
)
def test_bad_first_message_is_fatal(data, expected):
    events, parser = feed([data])
    assert len(events) == 1 and expected in fatal_reason(events)
    assert parser.closed and parser.close_reason == events[0].reason


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x10\x01\x41", "odd byte count"),
        (b"\x10\x3e\x82", "16002-byte payload is over the 16000-byte limit"),
        (uuid_message(CALL), "a second UUID"),
        (b"\x07\x00\x00", "unknown AudioSocket message type 0x07"),
    ],
)
def test_bad_message_after_uuid_is_fatal_and_earlier_events_are_kept(data, expected):
    parser = AudioSocketParser()
    events = parser.receive_bytes(uuid_message(CALL) + slin(9) + data + slin(1))
    assert [type(e) for e in events] == [CallStarted, Audio, ProtocolError]
    assert expected in fatal_reason(events) and parser.stats.frames == 1
    assert parser.receive_bytes(slin(5)) == [] and parser.eof() == []


def test_largest_audio_message_is_one_second():
    parser = AudioSocketParser()
    _, audio = parser.receive_bytes(uuid_message(CALL) + audio_message(np.ones(8000, np.int16)))
    assert audio.samples.shape == (8000,)


def test_audio_after_hangup_is_dropped_with_a_warning():
    parser = AudioSocketParser()
    parser.receive_bytes(uuid_message(CALL) + slin(1) + hangup_message())
    (warning,) = parser.receive_bytes(slin(2, 3))
    assert not warning.fatal and "after the hang-up" in warning.reason
    assert parser.receive_bytes(hangup_message()) == []
    assert parser.eof() == [] and parser.stats.samples == 1


def test_truncated_message_at_eof_gives_an_error_then_call_ended():
    parser = AudioSocketParser()
    parser.receive_bytes(uuid_message(CALL) + slin(1, 2) + slin(3, 4, 5)[:6])
    warning, ended = parser.eof()
    assert not warning.fatal
    assert "3 of the 6 payload bytes of a type 0x10 message" in warning.reason
    assert ended == CallEnded(CALL, "connection closed by the peer")


def test_truncated_header_at_eof():
    parser = AudioSocketParser()
    parser.receive_bytes(uuid_message(CALL) + b"\x10\x00")
    warning, ended = parser.eof()
    assert "2 of the 3 header bytes" in warning.reason and isinstance(ended, CallEnded)


def test_clean_eof_ends_the_call_and_eof_before_uuid_emits_nothing():
    parser = AudioSocketParser()
    parser.receive_bytes(uuid_message(CALL) + slin(1))
    assert parser.eof() == [CallEnded(CALL, "connection closed by the peer")]
    assert AudioSocketParser().eof() == []


def test_error_without_code_and_hangup_before_uuid():
    parser = AudioSocketParser()
    (warning,) = parser.receive_bytes(error_message())
    assert warning.reason == "Asterisk reported an AudioSocket error without a code"
    assert parser.receive_bytes(hangup_message()) == []
    assert parser.eof() == []


def test_text_is_fatal():
    assert "no text messages" in fatal_reason(AudioSocketParser().receive_text("hello"))
