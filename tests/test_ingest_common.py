"""What every ingest parser promises: contiguous timelines, no exceptions, one event type."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.g711 import ulaw_decode, ulaw_encode
from capture.ingest import (
    Audio,
    AudioForkParser,
    AudioSocketParser,
    CallEnded,
    CallStarted,
    ProtocolError,
    TwilioParser,
    audiofork,
    audiosocket,
    twilio,
)

CALL = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
EVENT_TYPES = (CallStarted, Audio, CallEnded, ProtocolError)


def timeline(events: list, channel: str) -> tuple[float, np.ndarray]:
    """A channel's audio joined, after checking each event starts where the last ended."""
    audio = [e for e in events if isinstance(e, Audio) and e.channel == channel]
    end = 0
    for a in audio:
        assert a.t_s == end / a.fs_hz, (a, end)
        end += a.samples.shape[0]
    return audio[0].t_s, np.concatenate([a.samples for a in audio])


def test_audiofork_same_signal_in_any_message_sizes():
    rng = np.random.default_rng(3)
    stereo = rng.integers(-32768, 32768, (2, 4000)).astype(np.int16)
    results = []
    for sizes in ((160,) * 25, (320,) * 12 + (160,), (80, 320, 160, 640, 2000, 800)):
        parser = AudioForkParser()
        events = parser.receive_text(audiofork.start_message(CALL, "S1", fs_hz=16000, channels=2))
        cuts = np.cumsum(sizes)[:-1]
        for piece in np.split(stereo, cuts, axis=1):
            events += parser.receive_bytes(audiofork.pcm_message(piece))
        _, agent = timeline(events, "agent")
        _, caller = timeline(events, "caller")
        results.append((agent, caller))
    for agent, caller in results:
        np.testing.assert_array_equal(agent, stereo[0])
        np.testing.assert_array_equal(caller, stereo[1])


@pytest.mark.parametrize("seed", range(8))
def test_twilio_lossy_stream_keeps_every_sample_in_place(seed):
    """Lost, duplicated and swapped messages: received audio lands at its own time,
    everything else is zeros, and the timeline stays contiguous."""
    rng = np.random.default_rng(seed)
    n_chunks, chunk = 60, 160
    pcm = ulaw_decode(rng.integers(0, 256, (2, n_chunks * chunk)).astype(np.uint8))
    # (track, chunk index, sequenceNumber given at sending)
    sent = [(track, k, 2 + 2 * k + track) for k in range(n_chunks) for track in (0, 1)]
    kept = [m for m in sent if rng.random() > 0.15 or m[1] == 0]
    wire = []
    for m in kept:
        wire.append(m)
        if rng.random() < 0.1:
            wire.append(m)  # retransmitted
    for i in range(0, len(wire) - 1, 7):
        wire[i], wire[i + 1] = wire[i + 1], wire[i]  # reordered

    parser = TwilioParser()
    events = parser.receive_text(twilio.start_message("CA1", "MZ1", seat="S1"))
    for track, k, seq in wire:
        codes = ulaw_encode(pcm[track, k * chunk : (k + 1) * chunk]).tobytes()
        name = ("outbound", "inbound")[track]  # track 0 is the agent's
        events += parser.receive_text(
            twilio.media_message(name, k + 1, 20 * k, codes, seq, stream_sid="MZ1")
        )

    for track, role in ((0, "agent"), (1, "caller")):
        t0_s, got = timeline(events, role)
        assert t0_s == 0.0
        placed = np.zeros_like(got)
        expected_chunks = set()
        last_k = -1
        for t, k, _ in wire:
            if t == track and k > last_k:  # what a receiver that never rewinds can keep
                expected_chunks.add(k)
                last_k = k
        for k in expected_chunks:
            placed[k * chunk : (k + 1) * chunk] = pcm[track, k * chunk : (k + 1) * chunk]
        assert got.shape[0] == (last_k + 1) * chunk
        np.testing.assert_array_equal(got, placed)
    stats = parser.stats
    assert stats.gaps_filled > 0 and stats.duplicates_dropped > 0  # the test means something
    assert stats.frames + stats.duplicates_dropped == len(wire)
    assert stats.samples + stats.samples_filled == sum(
        timeline(events, r)[1].shape[0] for r in ("agent", "caller")
    )
    assert stats.errors == 0


def _started(kind: str):
    if kind == "audiofork":
        parser = AudioForkParser()
        parser.receive_text(audiofork.start_message(CALL, "S1", channels=2))
    elif kind == "twilio":
        parser = TwilioParser()
        parser.receive_text(twilio.start_message("CA1", "MZ1"))
    else:
        parser = AudioSocketParser()
        parser.receive_bytes(audiosocket.uuid_message(CALL))
    return parser


def _check(parser, events: list) -> None:
    assert all(isinstance(e, EVENT_TYPES) for e in events)
    errors = [e for e in events if isinstance(e, ProtocolError)]
    assert parser.stats.errors >= len(errors)
    if any(e.fatal for e in errors):
        assert parser.closed and isinstance(events[-1], ProtocolError) and events[-1].fatal
    for e in events:
        if isinstance(e, Audio):
            assert e.samples.dtype == np.int16 and e.samples.ndim == 1


KINDS = ("audiofork", "twilio", "audiosocket")
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
EVENT_NAMES = st.sampled_from(["start", "media", "stop", "mark", "dtmf", "connected", "x"])


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(KINDS), chunks=st.lists(st.binary(max_size=40), max_size=8))
def test_no_bytes_raise(kind, chunks):
    parser = _started(kind)
    events = []
    for chunk in chunks:
        events += parser.receive_bytes(chunk)
    events += parser.eof()
    _check(parser, events)


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(KINDS), texts=st.lists(st.text(max_size=40), max_size=4))
def test_no_text_raises(kind, texts):
    parser = _started(kind)
    events = [e for text in texts for e in parser.receive_text(text)]
    _check(parser, events)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(("audiofork", "twilio")),
    event=EVENT_NAMES,
    body=st.dictionaries(
        st.sampled_from(
            [
                "media",
                "start",
                "sequenceNumber",
                "streamSid",
                "call_id",
                "sample_rate",
                "channels",
                "reason",
            ]
        ),
        JSON,
        max_size=4,
    ),
    media=st.dictionaries(
        st.sampled_from(["track", "chunk", "timestamp", "payload"]), JSON, max_size=4
    ),
)
def test_no_json_raises(kind, event, body, media):
    for parser in (_started(kind), TwilioParser() if kind == "twilio" else AudioForkParser()):
        message = {"event": event, **body}
        if event == "media":
            message["media"] = media
        events = parser.receive_text(json.dumps(message))
        _check(parser, events)


@pytest.mark.parametrize("kind", KINDS)
def test_closed_parser_ignores_everything(kind):
    parser = _started(kind)
    if kind == "audiosocket":
        parser.receive_bytes(b"\x99\x00\x00")
    else:
        parser.receive_text("\x00" * 70_000)
    assert parser.closed and parser.close_reason
    assert parser.receive_text("{}") == [] and parser.receive_bytes(b"\x00" * 4) == []
    assert parser.eof() == [] and parser.stats.errors == 1


def test_audio_compares_by_value_and_prints_briefly():
    a = Audio("c", "agent", 0.5, 8000, np.arange(4, dtype=np.int16))
    assert a == Audio("c", "agent", 0.5, 8000, np.arange(4, dtype=np.int16))
    assert a != Audio("c", "agent", 0.5, 8000, np.arange(1, 5, dtype=np.int16))
    assert a != Audio("c", "agent", 0.5, 8000, np.arange(4, dtype=np.int32))
    assert a.duration_s == 0.0005
    assert repr(a) == "Audio(call_id='c', channel='agent', t_s=0.5, fs_hz=8000, samples=<4 int16>)"
