"""Audio fork over a websocket: a JSON metadata message, then raw 16-bit PCM messages.

This is the shape of FreeSWITCH ``mod_audio_fork`` and ``mod_audio_stream`` (the
metadata given to ``uuid_audio_fork <uuid> start <url> <mix> <rate> <metadata>`` is
sent as the first text frame), and the native protocol of Voiceline's own seat
client and call simulator.

1. One text message, a JSON object of metadata. Accepted keys (first spelling is
   the one :func:`start_message` writes):

   ============== ============================================ ==========================
   field          also accepted as                             meaning
   ============== ============================================ ==========================
   call_id        callId, callid, uuid, call_uuid, callUuid    required, string or number
   seat           seat_id, seatId                              default ``af-<call_id[:8]>``
   agent          agent_id, agentId                            default None (unknown)
   sample_rate    sampleRate, sample_rate_hz, fs_hz, rate      required, 8000 or 16000
   channels       num_channels, numChannels                    required, 1 or 2
   agent_channel  agentChannel                                 0 or 1, default 0
   ============== ============================================ ==========================

   An ``"event"`` key, if present, must be ``"start"`` or ``"metadata"``. Other keys
   are passed on in ``CallStarted.params``. Numbers may be JSON numbers or decimal
   strings. Two spellings of one field with different values are an error.
2. Binary messages of signed 16-bit little-endian PCM: mono, or stereo interleaved
   (L R L R ...). Message sizes may vary (20 ms, 40 ms, ...). ``agent_channel`` says
   which stereo channel is the agent; the other is the caller. A mono stream is the
   agent. Time advances by the samples received (the protocol has no timestamps).
3. Optionally a text message ``{"event": "stop"}`` (also ``"end"``, ``"hangup"``;
   an optional ``"reason"`` string becomes ``CallEnded.reason``). Any other text
   message with an ``"event"`` (``"mark"``, ``"dtmf"``, ...) is ignored. Closing the
   connection also ends the call.

Fatal errors: audio before the metadata, a second metadata message, bad JSON, a
missing or unsupported rate or channel count, a binary message that is not whole
sample frames or holds more than :data:`~capture.ingest.events.MAX_AUDIO_MESSAGE_S`.
"""

from __future__ import annotations

import json

import numpy as np

from capture.ingest._base import Fatal, Parser, parse_int, parse_json_object
from capture.ingest.events import MAX_AUDIO_MESSAGE_S, CallStarted, Event

__all__ = [
    "PROTOCOL",
    "SUPPORTED_RATES_HZ",
    "AudioForkParser",
    "pcm_message",
    "start_message",
    "stop_message",
]

PROTOCOL = "audiofork"
SUPPORTED_RATES_HZ = (8000, 16000)
STOP_EVENTS = frozenset({"stop", "end", "hangup"})
START_EVENTS = frozenset({"start", "metadata"})

_ALIASES = {
    "call_id": ("call_id", "callId", "callid", "uuid", "call_uuid", "callUuid"),
    "seat": ("seat", "seat_id", "seatId"),
    "agent": ("agent", "agent_id", "agentId"),
    "sample_rate": ("sample_rate", "sampleRate", "sample_rate_hz", "fs_hz", "rate"),
    "channels": ("channels", "num_channels", "numChannels"),
    "agent_channel": ("agent_channel", "agentChannel"),
}
_KNOWN_KEYS = frozenset(k for names in _ALIASES.values() for k in names) | {"event"}


class AudioForkParser(Parser):
    """Sans-I/O parser of one audio-fork websocket connection.

    Feed text frames to :meth:`receive_text`, binary frames to :meth:`receive_bytes`,
    and call :meth:`eof` when the peer closes; each returns a list of events.
    """

    protocol = PROTOCOL

    def _text(self, text: str, events: list[Event]) -> None:
        obj = parse_json_object(text, PROTOCOL)
        event = obj.get("event")
        if event is not None and not isinstance(event, str):
            raise Fatal(f"'event' must be a string, got {event!r}")
        event = event.lower() if event is not None else None
        if self.call is None:
            if event is not None and event not in START_EVENTS:
                raise Fatal(
                    f"got a {event!r} event before the metadata; the first message must be "
                    "the JSON metadata (call_id, seat, agent, sample_rate, channels)"
                )
            self._start(events, _call_from_metadata(obj))
        elif event in STOP_EVENTS:
            if not self.ended:
                reason = obj.get("reason")
                self._end(events, reason if isinstance(reason, str) and reason else event)
        elif event in START_EVENTS or (event is None and _KNOWN_KEYS.intersection(obj)):
            raise Fatal(
                f"a second metadata message on the connection of call {self.call.call_id!r}; "
                "open one connection per call"
            )
        elif event is None:
            self._warn(events, "text message without an 'event' after the metadata; ignored")

    def _bytes(self, data: bytes, events: list[Event]) -> None:
        call = self.call
        if call is None:
            raise Fatal(
                f"binary audio ({len(data)} bytes) before the metadata; send the JSON "
                "metadata text message first"
            )
        if self.ended:
            self._warn(events, f"audio ({len(data)} bytes) after the call ended; dropped")
            return
        n_channels = len(call.channels)
        frame_bytes = 2 * n_channels
        max_bytes = int(MAX_AUDIO_MESSAGE_S * call.fs_hz) * frame_bytes
        if len(data) > max_bytes:
            raise Fatal(
                f"binary message of {len(data)} bytes holds more than {MAX_AUDIO_MESSAGE_S:g} s "
                f"of {call.fs_hz} Hz {_layout(n_channels)} audio ({max_bytes} bytes); send "
                "20-100 ms per message"
            )
        if len(data) % 2:
            raise Fatal(
                f"binary message of {len(data)} bytes: an odd byte count cannot be 16-bit PCM"
            )
        if len(data) % frame_bytes:
            raise Fatal(
                f"binary message of {len(data)} bytes is not a whole number of {frame_bytes}-byte "
                f"sample frames of {_layout(n_channels)} 16-bit PCM; did the sender switch "
                "channel count?"
            )
        if not data:
            return
        pcm = np.frombuffer(data, dtype="<i2").astype(np.int16).reshape(-1, n_channels)
        self.stats.frames += 1
        for k, role in enumerate(call.channels):
            self._emit(events, role, pcm[:, k].copy())


def _layout(n_channels: int) -> str:
    return "mono" if n_channels == 1 else "stereo"


def _field(obj: dict, name: str) -> object:
    """The value of ``name`` under any of its spellings (None if absent)."""
    found = [(key, obj[key]) for key in _ALIASES[name] if key in obj]
    values = {json.dumps(v, sort_keys=True) for _, v in found}
    if len(values) > 1:
        given = ", ".join(f"{k}={v!r}" for k, v in found)
        raise Fatal(f"metadata gives {name} twice with different values ({given}); keep one")
    return found[0][1] if found else None


def _call_from_metadata(obj: dict) -> CallStarted:
    call_id = _field(obj, "call_id")
    if isinstance(call_id, int | float) and not isinstance(call_id, bool):
        call_id = str(call_id)
    if not isinstance(call_id, str) or not call_id.strip():
        raise Fatal(
            f'metadata has no usable call_id (got {call_id!r}); add "call_id" (or "uuid", '
            '"callId") with the call\'s identifier'
        )
    seat = _optional_str(_field(obj, "seat"), "seat") or f"af-{call_id[:8]}"
    agent = _optional_str(_field(obj, "agent"), "agent")

    fs_hz = _field(obj, "sample_rate")
    if fs_hz is None:
        raise Fatal('metadata has no sample_rate; add "sample_rate": 8000 or 16000')
    fs_hz = parse_int(fs_hz, "metadata sample_rate")
    if fs_hz not in SUPPORTED_RATES_HZ:
        raise Fatal(f"sample_rate {fs_hz} Hz is not supported; fork the audio at 8000 or 16000 Hz")
    n_channels = _field(obj, "channels")
    if n_channels is None:
        raise Fatal('metadata has no channels; add "channels": 1 (mono) or 2 (stereo)')
    n_channels = parse_int(n_channels, "metadata channels")
    if n_channels not in (1, 2):
        raise Fatal(f"channels must be 1 (mono) or 2 (stereo), got {n_channels}")
    agent_channel = _field(obj, "agent_channel")
    agent_channel = 0 if agent_channel is None else parse_int(agent_channel, "agent_channel")
    if agent_channel not in range(n_channels):
        raise Fatal(
            f"agent_channel {agent_channel} does not exist in {_layout(n_channels)} audio; "
            f"use {' or '.join(map(str, range(n_channels)))}"
        )
    if n_channels == 1:
        roles: tuple[str, ...] = ("agent",)
    else:
        roles = ("agent", "caller") if agent_channel == 0 else ("caller", "agent")
    params = {k: v for k, v in obj.items() if k not in _KNOWN_KEYS}
    return CallStarted(call_id, seat, agent, fs_hz, roles, PROTOCOL, params)


def _optional_str(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise Fatal(f"metadata {name} must be a string, got {value!r}")
    return value


# -- the sending side (seat client, simulator, tests) -------------------------------------


def start_message(
    call_id: str,
    seat: str,
    agent: str | None = None,
    *,
    fs_hz: int = 8000,
    channels: int = 1,
    agent_channel: int = 0,
    **extra: object,
) -> str:
    """The metadata text message that opens a stream.

    Parameters
    ----------
    call_id, seat : str
        The call's identifier and the seat it is on.
    agent : str, optional
        The agent's identifier; None when unknown.
    fs_hz : int
        Sample rate of the PCM that follows: 8000 or 16000.
    channels : int
        1 (mono, the agent) or 2 (stereo, agent and caller).
    agent_channel : int
        Which stereo channel is the agent (0 or 1).
    **extra
        Further JSON-serialisable metadata, passed on in ``CallStarted.params``.

    Returns
    -------
    str
        The JSON text to send as a websocket text frame.
    """
    if fs_hz not in SUPPORTED_RATES_HZ:
        raise ValueError(f"fs_hz must be one of {SUPPORTED_RATES_HZ}, got {fs_hz}")
    if channels not in (1, 2) or agent_channel not in range(channels):
        raise ValueError(
            f"need channels 1 or 2 and agent_channel < channels, got "
            f"channels={channels}, agent_channel={agent_channel}"
        )
    meta = {
        "call_id": call_id,
        "seat": seat,
        "agent": agent,
        "sample_rate": fs_hz,
        "channels": channels,
        "agent_channel": agent_channel,
        **extra,
    }
    return json.dumps(meta)


def pcm_message(samples: np.ndarray) -> bytes:
    """One binary message of 16-bit little-endian PCM.

    Parameters
    ----------
    samples : numpy.ndarray of int16
        Shaped ``(channels, samples)`` (stereo is interleaved on the wire), or
        ``(samples,)`` for mono.

    Returns
    -------
    bytes
        The payload of a websocket binary frame.
    """
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        raise ValueError(f"pcm_message expects int16 samples, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[np.newaxis, :]
    if arr.ndim != 2 or arr.shape[0] not in (1, 2):
        raise ValueError(f"pcm_message expects shape (channels, samples), got {arr.shape}")
    return np.ascontiguousarray(arr.T, dtype="<i2").tobytes()


def stop_message(reason: str | None = None) -> str:
    """The text message that ends a stream (``CallEnded.reason`` is ``reason`` or "stop")."""
    msg: dict[str, str] = {"event": "stop"}
    if reason:
        msg["reason"] = reason
    return json.dumps(msg)
