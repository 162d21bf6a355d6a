"""Twilio Media Streams: JSON text messages with base64 μ-law audio, 8 kHz mono per track.

Twilio opens one websocket per ``<Stream>`` and sends, as text frames:
``connected`` (optional here), ``start`` (once: ``streamSid``, ``callSid``, ``tracks``,
``mediaFormat``, ``customParameters``), ``media`` (``track``, ``chunk``, ``timestamp``
in ms since the stream started, ``payload``: base64 G.711 μ-law), ``dtmf`` and
``mark`` (ignored here), and ``stop``. Every message but ``connected`` carries a
``sequenceNumber`` (a decimal string counting from 1) and the ``streamSid``.

Who is who comes from the ``<Parameter>`` elements of the ``<Stream>`` TwiML, which
arrive as ``start.customParameters``:

- ``seat``: the seat; default ``tw-<last 8 characters of the call SID>``.
- ``agent``: the agent's identifier; default None (scored against the population).
- ``agent_track``: ``"outbound"`` or ``"inbound"``, the track that carries the agent.
  Default ``"outbound"`` (the parser's ``default_agent_track``): in a contact centre the
  stream usually sits on the PSTN caller's call leg, where ``inbound`` is the caller's
  audio into Twilio and ``outbound`` is what Twilio plays to the caller, that is the
  agent. Stream the agent's own leg (a Twilio Client or SIP agent) and the agent is
  ``inbound``: set ``agent_track`` to ``inbound``. Use ``track="both_tracks"`` to get
  both voices; ``CallStarted.channels`` lists the agent first.

Timeline. Per track, ``chunk`` orders messages: a chunk below the next expected one is
a duplicate or comes too late, and is dropped (lacking ``chunk``, a ``timestamp`` whose
audio lies wholly in the past, or lacking both, a ``sequenceNumber`` at or below one
already seen, marks it). ``timestamp`` places the audio: where a message starts more
than :data:`TIMESTAMP_TOLERANCE_S` after the end of the audio received so far (a lost
message, or a track that starts late), the gap is filled with silence, so both tracks
stay aligned to the stream's clock. Without a timestamp, a jump in ``chunk`` is filled
with that many messages' worth of silence.

Fatal errors: any message but ``connected`` before ``start``, a second ``start``, bad
JSON, a ``mediaFormat`` other than μ-law 8 kHz mono, bad base64, a media payload over
:data:`~capture.ingest.events.MAX_AUDIO_MESSAGE_S`, a message for another stream.
"""

from __future__ import annotations

import base64
import binascii
import json

from capture.g711 import ulaw_decode
from capture.ingest._base import Fatal, Parser, parse_int, parse_json_object
from capture.ingest.events import MAX_AUDIO_MESSAGE_S, ROLES, CallStarted, Event

__all__ = [
    "DEFAULT_AGENT_TRACK",
    "FS_HZ",
    "PROTOCOL",
    "TIMESTAMP_TOLERANCE_S",
    "TwilioParser",
    "connected_message",
    "dtmf_message",
    "mark_message",
    "media_message",
    "start_message",
    "stop_message",
]

PROTOCOL = "twilio"
FS_HZ = 8000
ENCODING = "audio/x-mulaw"
TRACKS = ("inbound", "outbound")
DEFAULT_AGENT_TRACK = "outbound"
TIMESTAMP_TOLERANCE_S = 0.010
"""Timestamps are whole milliseconds and jitter; a gap shorter than this is not filled."""
IGNORED_EVENTS = frozenset({"dtmf", "mark", "clear"})
_SAMPLES_PER_MS = FS_HZ // 1000
_EXAMPLE_ACCOUNT_SID = "AC" + "0" * 32


class TwilioParser(Parser):
    """Sans-I/O parser of one Twilio Media Streams websocket connection.

    Parameters
    ----------
    default_agent_track : {"outbound", "inbound"}
        The agent's track when ``customParameters`` has no ``agent_track``.
    """

    protocol = PROTOCOL

    def __init__(self, *, default_agent_track: str = DEFAULT_AGENT_TRACK) -> None:
        super().__init__()
        if default_agent_track not in TRACKS:
            raise ValueError(
                f"default_agent_track must be one of {TRACKS}, got {default_agent_track!r}"
            )
        self.default_agent_track = default_agent_track
        self._stream_sid: str | None = None
        self._last_sequence: int | None = None
        self._role_of_track: dict[str, str] = {}
        self._next_chunk: dict[str, int | None] = {}

    def _text(self, text: str, events: list[Event]) -> None:
        obj = parse_json_object(text, PROTOCOL)
        event = obj.get("event")
        if not isinstance(event, str):
            raise Fatal(f"message has no 'event' string: {text[:60]!r}")
        sequence = obj.get("sequenceNumber")
        sequence = None if sequence is None else parse_int(sequence, "sequenceNumber", minimum=0)
        if event == "connected":
            return
        if self.call is None and event != "start":
            raise Fatal(f"{event!r} message before 'start': the stream's start message is missing")
        stream_sid = obj.get("streamSid")
        known_sid = self._stream_sid
        if event == "start" and self.call is not None:
            raise Fatal(
                f"a second 'start' (stream {stream_sid!r}) on the connection of stream "
                f"{known_sid!r}, call {self.call.call_id!r}: a connection carries one "
                "stream; open a new connection per stream"
            )
        if self.call is not None and stream_sid is not None and known_sid is not None:
            if stream_sid != known_sid:
                raise Fatal(
                    f"message for stream {stream_sid!r} on the connection of stream {known_sid!r}"
                )
        if event == "start":
            self._on_start(obj, events)
        elif event == "media":
            self._on_media(obj, sequence, events)
        elif event == "stop":
            if not self.ended:
                self._end(events, "stop")
        elif event not in IGNORED_EVENTS:
            self._warn(events, f"unknown event {event!r}; ignored")
        if sequence is not None and (self._last_sequence is None or sequence > self._last_sequence):
            self._last_sequence = sequence

    def _on_start(self, obj: dict, events: list[Event]) -> None:
        start = obj.get("start")
        if not isinstance(start, dict):
            raise Fatal("'start' message has no 'start' object")
        stream_sid = start.get("streamSid", obj.get("streamSid"))
        call_sid = start.get("callSid")
        call_id = call_sid or stream_sid
        if not isinstance(call_id, str) or not call_id:
            raise Fatal("'start' message has neither start.callSid nor streamSid")
        _check_media_format(start.get("mediaFormat", {}))
        tracks = _tracks(start.get("tracks", ["inbound"]))
        custom = start.get("customParameters") or {}
        if not isinstance(custom, dict):
            raise Fatal(f"start.customParameters must be an object, got {custom!r}")
        agent_track = _custom_str(custom, "agent_track") or self.default_agent_track
        if _track_name(agent_track) not in TRACKS:
            raise Fatal(
                f"customParameters agent_track {agent_track!r} must be 'outbound' or 'inbound'"
            )
        agent_track = _track_name(agent_track)
        seat = _custom_str(custom, "seat") or f"tw-{call_id[-8:]}"
        agent = _custom_str(custom, "agent")
        self._stream_sid = stream_sid if isinstance(stream_sid, str) else None
        self._role_of_track = {t: "agent" if t == agent_track else "caller" for t in tracks}
        self._next_chunk = dict.fromkeys(tracks)
        roles = tuple(r for r in ROLES if r in self._role_of_track.values())
        params = {
            "stream_sid": self._stream_sid,
            "account_sid": start.get("accountSid"),
            "call_sid": call_sid,
            "tracks": list(tracks),
            "agent_track": agent_track,
            "custom_parameters": {
                k: v for k, v in custom.items() if k not in ("seat", "agent", "agent_track")
            },
        }
        self._start(events, CallStarted(call_id, seat, agent, FS_HZ, roles, PROTOCOL, params))
        if agent_track not in tracks:
            self._warn(
                events,
                f"the stream carries only the {'/'.join(tracks)} track, and "
                f"agent_track is {agent_track!r}: no agent audio will arrive; stream "
                "both_tracks or set the agent_track parameter",
            )

    def _on_media(self, obj: dict, sequence: int | None, events: list[Event]) -> None:
        if self.ended:
            self._warn(events, "media after 'stop'; dropped")
            return
        media = obj.get("media")
        if not isinstance(media, dict):
            raise Fatal("'media' message has no 'media' object")
        track = media.get("track")
        if track is None:
            if len(self._role_of_track) > 1:
                raise Fatal("media.track is missing on a stream of two tracks")
            track = next(iter(self._role_of_track))
        track = _track_name(track)
        if track not in self._role_of_track:
            self._warn(
                events,
                f"media on track {track!r}, which 'start' did not announce "
                f"(tracks: {', '.join(self._role_of_track)}); dropped",
            )
            return
        codes = _payload(media.get("payload"))
        chunk = media.get("chunk")
        chunk = None if chunk is None else parse_int(chunk, "media.chunk", minimum=0)
        timestamp_ms = media.get("timestamp")
        if timestamp_ms is not None:
            timestamp_ms = parse_int(timestamp_ms, "media.timestamp (ms)", minimum=0)
        self._place(events, track, chunk, timestamp_ms, sequence, codes)

    def _place(
        self,
        events: list[Event],
        track: str,
        chunk: int | None,
        timestamp_ms: int | None,
        sequence: int | None,
        codes: bytes,
    ) -> None:
        """Put one message's audio on its track's timeline (drop, fill, then append)."""
        role = self._role_of_track[track]
        next_chunk = self._next_chunk[track]
        position = self._position(role)
        n = len(codes)
        # The most specific order there is decides whether the message comes too late.
        if chunk is not None and next_chunk is not None:
            late = chunk < next_chunk
        elif timestamp_ms is not None:
            late = n > 0 and timestamp_ms * _SAMPLES_PER_MS + n <= position
        elif sequence is not None and self._last_sequence is not None:
            late = sequence <= self._last_sequence
        else:
            late = False
        if late:
            self.stats.duplicates_dropped += 1
            return
        gap = 0
        if timestamp_ms is not None:
            ahead = timestamp_ms * _SAMPLES_PER_MS - position
            gap = ahead if ahead > TIMESTAMP_TOLERANCE_S * FS_HZ else 0
        elif chunk is not None and next_chunk is not None:
            gap = (chunk - next_chunk) * n
        if chunk is not None:
            self._next_chunk[track] = chunk + 1
        if n == 0:
            return
        self._fill(events, role, gap, f"twilio {track} track")
        self.stats.frames += 1
        self._emit(events, role, ulaw_decode(codes))


def _check_media_format(fmt: object) -> None:
    if not isinstance(fmt, dict):
        raise Fatal(f"start.mediaFormat must be an object, got {fmt!r}")
    encoding = fmt.get("encoding", ENCODING)
    rate = parse_int(fmt.get("sampleRate", FS_HZ), "mediaFormat.sampleRate")
    channels = parse_int(fmt.get("channels", 1), "mediaFormat.channels")
    if (encoding, rate, channels) != (ENCODING, FS_HZ, 1):
        raise Fatal(
            f"mediaFormat {encoding} {rate} Hz {channels} channel(s) is not supported; "
            f"Twilio Media Streams send {ENCODING} {FS_HZ} Hz mono"
        )


def _track_name(track: object) -> str:
    """Twilio says 'inbound' in media and 'inbound_track' in dtmf and TwiML: accept both."""
    if not isinstance(track, str):
        raise Fatal(f"a track must be a string, got {track!r}")
    return track.removesuffix("_track")


def _tracks(tracks: object) -> tuple[str, ...]:
    if not isinstance(tracks, list) or not tracks:
        raise Fatal(f"start.tracks must be a non-empty list, got {tracks!r}")
    names = tuple(dict.fromkeys(_track_name(t) for t in tracks))
    unknown = [t for t in names if t not in TRACKS]
    if unknown:
        raise Fatal(f"start.tracks has unknown track(s) {unknown}; expected inbound, outbound")
    return names


def _custom_str(custom: dict, key: str) -> str | None:
    value = custom.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Fatal(f"customParameters {key} must be a string, got {value!r}")
    return value


def _payload(payload: object) -> bytes:
    if not isinstance(payload, str):
        raise Fatal(f"media.payload must be a base64 string, got {type(payload).__name__}")
    try:
        codes = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Fatal(f"media.payload is not valid base64 ({exc})") from None
    if len(codes) > MAX_AUDIO_MESSAGE_S * FS_HZ:
        raise Fatal(
            f"media payload of {len(codes)} μ-law bytes holds more than "
            f"{MAX_AUDIO_MESSAGE_S:g} s of audio"
        )
    return codes


# -- the sending side (simulator, tests) --------------------------------------------------


def _message(event: str, sequence_number: int | None, stream_sid: str | None, **body) -> str:
    msg: dict[str, object] = {"event": event}
    if sequence_number is not None:
        msg["sequenceNumber"] = str(sequence_number)
    msg.update(body)
    if stream_sid is not None:
        msg["streamSid"] = stream_sid
    return json.dumps(msg)


def connected_message() -> str:
    """The ``connected`` message Twilio sends first."""
    return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def start_message(
    call_sid: str,
    stream_sid: str,
    *,
    seat: str | None = None,
    agent: str | None = None,
    agent_track: str | None = None,
    tracks: tuple[str, ...] = ("inbound", "outbound"),
    custom_parameters: dict[str, str] | None = None,
    account_sid: str = _EXAMPLE_ACCOUNT_SID,
    sequence_number: int = 1,
) -> str:
    """A ``start`` message as Twilio sends it.

    Parameters
    ----------
    call_sid, stream_sid : str
        Twilio's identifiers of the call and of the stream.
    seat, agent, agent_track : str, optional
        Written into ``customParameters`` (omitted when None).
    tracks : tuple of str
        The tracks the stream carries: "inbound", "outbound" or both.
    custom_parameters : dict, optional
        Further ``customParameters``.
    account_sid : str
        The account's SID.
    sequence_number : int
        The message's ``sequenceNumber`` (Twilio starts at 1).

    Returns
    -------
    str
        The JSON text of the message.
    """
    custom = dict(custom_parameters or {})
    for key, value in (("seat", seat), ("agent", agent), ("agent_track", agent_track)):
        if value is not None:
            custom[key] = value
    start = {
        "accountSid": account_sid,
        "streamSid": stream_sid,
        "callSid": call_sid,
        "tracks": list(tracks),
        "mediaFormat": {"encoding": ENCODING, "sampleRate": FS_HZ, "channels": 1},
        "customParameters": custom,
    }
    return _message("start", sequence_number, stream_sid, start=start)


def media_message(
    track: str,
    chunk: int,
    timestamp_ms: int,
    ulaw_bytes: bytes,
    sequence_number: int,
    *,
    stream_sid: str | None = None,
) -> str:
    """A ``media`` message: ``ulaw_bytes`` (G.711 μ-law codes) of one track, base64-encoded.

    ``chunk`` counts the track's messages from 1; ``timestamp_ms`` is the time of the
    first sample since the stream started.
    """
    media = {
        "track": track,
        "chunk": str(chunk),
        "timestamp": str(timestamp_ms),
        "payload": base64.b64encode(bytes(ulaw_bytes)).decode("ascii"),
    }
    return _message("media", sequence_number, stream_sid, media=media)


def stop_message(
    call_sid: str,
    sequence_number: int,
    *,
    stream_sid: str | None = None,
    account_sid: str = _EXAMPLE_ACCOUNT_SID,
) -> str:
    """The ``stop`` message that ends a stream."""
    stop = {"accountSid": account_sid, "callSid": call_sid}
    return _message("stop", sequence_number, stream_sid, stop=stop)


def mark_message(name: str, sequence_number: int, *, stream_sid: str | None = None) -> str:
    """A ``mark`` message (Twilio echoes marks of bidirectional streams; ignored here)."""
    return _message("mark", sequence_number, stream_sid, mark={"name": name})


def dtmf_message(digit: str, sequence_number: int, *, stream_sid: str | None = None) -> str:
    """A ``dtmf`` message (a key the caller pressed; ignored here)."""
    return _message(
        "dtmf", sequence_number, stream_sid, dtmf={"track": "inbound_track", "digit": digit}
    )
