"""Asterisk AudioSocket: a TCP byte stream of type-length-payload messages.

Each message is a 3-byte header, one byte of type and a 16-bit big-endian payload
length, then the payload. Types read here:

- ``0x01`` call UUID, 16 bytes binary; must come first, once.
- ``0x10`` audio: signed linear 16-bit little-endian mono PCM at 8 kHz ("slin"), as the
  ``AudioSocket()`` dialplan application always sends (20 ms, 320 bytes, per message).
- ``0x00`` hang-up; closing the socket ends the call too.
- ``0x03`` DTMF digit (ignored); ``0xff`` error, with an optional one-byte code
  (reported as a non-fatal :class:`~capture.ingest.events.ProtocolError`).

TCP delivers arbitrary chunks: :meth:`AudioSocketParser.receive_bytes` buffers and
reassembles, and gives the same events however the stream is split.

Who is on the call. AudioSocket carries nothing but the UUID, so the parser asks the
server: it is built with ``resolve(uuid) -> Binding | None``, the UUID in canonical
lowercase form (``"1b4e28ba-2fa1-11d2-883f-0016d3cca427"``). A UUID that resolves to
nothing is still monitored, as seat ``as-<first 8 hex digits of the UUID>`` with agent
None, and the server scores it against the population baseline. The server exposes a
REST call that binds a UUID to a seat and agent before the call (Voiceline's
``POST /api/audiosocket/bind`` takes JSON or this form); the dialplan makes up the
UUID, binds it with an ingest token, then opens the socket (host names and ports are
the deployment's)::

    same => n,Set(UUID=${SHELL(uuidgen | tr -d '\\n')})
    same => n,Set(CURLOPT(httpheader)=Authorization: Bearer ${INGEST_TOKEN})
    same => n,Set(OK=${CURL(https://voiceline:8080/api/audiosocket/bind,uuid=${UUID}&seat=${SEAT}&agent=${AGENT})})
    same => n,AudioSocket(${UUID},voiceline:9092)

Fatal errors: audio before the UUID, a second UUID, an unknown type, slin at another
rate (types ``0x11``-``0x18``), a UUID that is not 16 bytes, an odd audio length, a
payload over :data:`MAX_PAYLOAD_BYTES`. A stream that closes in the middle of a
message gives a non-fatal error and then the :class:`~capture.ingest.events.CallEnded`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from capture.ingest._base import Fatal, Parser
from capture.ingest.events import MAX_AUDIO_MESSAGE_S, ROLES, CallStarted, Event

__all__ = [
    "FS_HZ",
    "MAX_PAYLOAD_BYTES",
    "PROTOCOL",
    "AudioSocketParser",
    "Binding",
    "audio_message",
    "dtmf_message",
    "error_message",
    "hangup_message",
    "unbound_seat",
    "uuid_message",
]

PROTOCOL = "audiosocket"
FS_HZ = 8000
HEADER_BYTES = 3
KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_SLIN = 0x10
KIND_ERROR = 0xFF
_KINDS = frozenset({KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_SLIN, KIND_ERROR})
_OTHER_RATE_SLIN = range(0x11, 0x19)
"""Newer Asterisk sends slin at 12-192 kHz under these types (numbering varies by version)."""
UUID_BYTES = 16
MAX_PAYLOAD_BYTES = int(MAX_AUDIO_MESSAGE_S * FS_HZ) * 2
"""Largest payload accepted (1 s of 8 kHz slin); the header allows 65535."""
ASTERISK_ERROR_CODES = {
    0x01: "the calling party hung up",
    0x02: "frame forwarding error",
    0x04: "memory allocation error",
}


@dataclass(frozen=True)
class Binding:
    """Who an AudioSocket UUID belongs to.

    Attributes
    ----------
    seat : str
        The seat the call is on.
    agent : str or None
        The agent's identifier; None when unknown.
    channel : str
        The role of the audio: "agent" (default) or "caller".
    """

    seat: str
    agent: str | None = None
    channel: str = "agent"

    def __post_init__(self) -> None:
        if not isinstance(self.seat, str) or not self.seat:
            raise ValueError(f"Binding.seat must be a non-empty string, got {self.seat!r}")
        if self.channel not in ROLES:
            raise ValueError(f"Binding.channel must be one of {ROLES}, got {self.channel!r}")


def unbound_seat(call_uuid: str) -> str:
    """The seat name of a UUID nobody bound: ``as-`` and its first 8 hex digits."""
    return f"as-{call_uuid.replace('-', '')[:8]}"


class AudioSocketParser(Parser):
    """Sans-I/O parser of one AudioSocket TCP connection.

    Parameters
    ----------
    resolve : callable, optional
        ``resolve(uuid) -> Binding | None``, called once when the UUID arrives. Without
        it (or when it returns None) the call gets seat ``as-<8 hex>`` and agent None.
        Exceptions it raises are the caller's and propagate.
    """

    protocol = PROTOCOL

    def __init__(self, resolve: Callable[[str], Binding | None] | None = None) -> None:
        super().__init__()
        self._resolve = resolve
        self._buffer = bytearray()

    def _bytes(self, data: bytes, events: list[Event]) -> None:
        buf = self._buffer
        buf += data
        offset = 0
        try:
            while len(buf) - offset >= HEADER_BYTES:
                kind = buf[offset]
                length = int.from_bytes(buf[offset + 1 : offset + HEADER_BYTES], "big")
                self._check_header(kind, length)
                end = offset + HEADER_BYTES + length
                if len(buf) < end:
                    break
                payload = bytes(buf[offset + HEADER_BYTES : end])
                offset = end
                self._message(kind, payload, events)
        finally:
            del buf[:offset]

    def _eof(self, events: list[Event]) -> None:
        buf = self._buffer
        if not buf:
            return
        if len(buf) < HEADER_BYTES:
            what = f"{len(buf)} of the {HEADER_BYTES} header bytes"
        else:
            length = int.from_bytes(buf[1:HEADER_BYTES], "big")
            what = (
                f"{len(buf) - HEADER_BYTES} of the {length} payload bytes of a "
                f"type 0x{buf[0]:02x} message"
            )
        self._warn(
            events,
            f"connection closed in the middle of a message ({what}); "
            "the partial message is dropped",
        )
        buf.clear()

    def _check_header(self, kind: int, length: int) -> None:
        """Refuse a bad message from its header alone, before waiting for its payload."""
        if kind in _OTHER_RATE_SLIN:
            raise Fatal(
                f"AudioSocket type 0x{kind:02x} is signed-linear audio at a rate other than "
                "8 kHz, which Voiceline does not take; use the AudioSocket() dialplan "
                "application (always 8 kHz slin, type 0x10), or give the AudioSocket channel "
                "the slin format"
            )
        if kind not in _KINDS:
            raise Fatal(
                f"unknown AudioSocket message type 0x{kind:02x} (payload {length} bytes); "
                "is the peer speaking AudioSocket?"
            )
        if length > MAX_PAYLOAD_BYTES:
            raise Fatal(
                f"AudioSocket message of type 0x{kind:02x} with a {length}-byte payload is "
                f"over the {MAX_PAYLOAD_BYTES}-byte limit ({MAX_AUDIO_MESSAGE_S:g} s of audio)"
            )
        if kind == KIND_UUID:
            if self.call is not None:
                raise Fatal(
                    f"a second UUID on the connection of call {self.call.call_id}; "
                    "open one connection per call"
                )
            if length != UUID_BYTES:
                raise Fatal(
                    f"UUID message with a {length}-byte payload; a UUID is {UUID_BYTES} bytes"
                )
        elif kind == KIND_SLIN:
            if self.call is None:
                raise Fatal(
                    "audio before the call's UUID message; AudioSocket sends the UUID first"
                )
            if length % 2:
                raise Fatal(
                    f"audio message of {length} bytes: an odd byte count cannot be 16-bit PCM"
                )

    def _message(self, kind: int, payload: bytes, events: list[Event]) -> None:
        if kind == KIND_UUID:
            self._on_uuid(payload, events)
        elif kind == KIND_SLIN:
            if self.ended:
                self._warn(events, f"audio ({len(payload)} bytes) after the hang-up; dropped")
            elif payload:
                assert self.call is not None
                self.stats.frames += 1
                pcm = np.frombuffer(payload, dtype="<i2").astype(np.int16)
                self._emit(events, self.call.channels[0], pcm)
        elif kind == KIND_HANGUP:
            if self.call is not None and not self.ended:
                self._end(events, "hangup")
        elif kind == KIND_ERROR:
            if payload:
                meaning = ASTERISK_ERROR_CODES.get(payload[0], "application-specific")
                detail = f" code 0x{payload[0]:02x} ({meaning})"
            else:
                detail = " without a code"
            self._warn(events, f"Asterisk reported an AudioSocket error{detail}")

    def _on_uuid(self, payload: bytes, events: list[Event]) -> None:
        call_uuid = str(uuid.UUID(bytes=payload))
        binding = self._resolve(call_uuid) if self._resolve is not None else None
        if binding is None:
            seat, agent, channel = unbound_seat(call_uuid), None, "agent"
        else:
            seat, agent, channel = binding.seat, binding.agent, binding.channel
        params = {"uuid": call_uuid, "bound": binding is not None}
        self._start(
            events, CallStarted(call_uuid, seat, agent, FS_HZ, (channel,), PROTOCOL, params)
        )


# -- the sending side (simulator, tests) --------------------------------------------------


def _message(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError(f"an AudioSocket payload holds at most 65535 bytes, got {len(payload)}")
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


def uuid_message(call_uuid: str | uuid.UUID | bytes) -> bytes:
    """The message that opens a stream: the call's UUID (string, UUID or 16 bytes)."""
    if isinstance(call_uuid, bytes):
        value = uuid.UUID(bytes=call_uuid)
    elif isinstance(call_uuid, uuid.UUID):
        value = call_uuid
    else:
        value = uuid.UUID(call_uuid)
    return _message(KIND_UUID, value.bytes)


def audio_message(samples: np.ndarray) -> bytes:
    """One audio message: ``samples`` (int16, shaped ``(samples,)``, 8 kHz) as slin."""
    arr = np.asarray(samples)
    if arr.dtype != np.int16 or arr.ndim != 1:
        raise ValueError(f"audio_message expects 1-D int16 samples, got {arr.dtype} {arr.shape}")
    return _message(KIND_SLIN, arr.astype("<i2").tobytes())


def hangup_message() -> bytes:
    """The hang-up message, ``00 00 00``."""
    return _message(KIND_HANGUP)


def dtmf_message(digit: str) -> bytes:
    """A DTMF message: one ASCII digit (0-9, *, #, A-D)."""
    return _message(KIND_DTMF, digit.encode("ascii"))


def error_message(code: int | None = None) -> bytes:
    """An error message, with an optional one-byte code."""
    return _message(KIND_ERROR, b"" if code is None else bytes([code]))
