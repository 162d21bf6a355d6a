"""The one output type of every ingest parser: call events, per-channel audio, errors.

Every protocol (audio fork, Twilio Media Streams, AudioSocket) turns its own messages
into these four events, as pipecat's serializers turn each provider's messages into one
frame type, so the server and the analysis never see a protocol's wire format.

The module also holds the limits every parser enforces and the counters it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "MAX_AUDIO_MESSAGE_S",
    "MAX_GAP_FILL_S",
    "MAX_JUMP_S",
    "MAX_TEXT_MESSAGE_CHARS",
    "ROLES",
    "Audio",
    "CallEnded",
    "CallStarted",
    "Event",
    "IngestStats",
    "ProtocolError",
]

MAX_TEXT_MESSAGE_CHARS = 64 * 1024
"""Longest text (JSON) message a parser accepts; longer ones are a fatal error."""

MAX_AUDIO_MESSAGE_S = 1.0
"""Most audio one message may carry (per channel); more is a fatal error. Telephony
senders use 20-100 ms; a bigger message means a broken or hostile peer."""

MAX_GAP_FILL_S = 5.0
"""Longest gap a parser fills with silence. A longer gap is reported as a non-fatal
:class:`ProtocolError` and the channel's timeline jumps forward without filling."""

MAX_JUMP_S = 60.0
"""Longest gap a channel's timeline may jump over; a longer one is a fatal error. A live
call's clock does not stop for a minute and resume: the sender's clock is broken, and
every later message of the call would be misplaced (one timestamp 35,000 years ahead
left the call's other channel late, its audio dropped, for the rest of the call)."""

ROLES = ("agent", "caller")
"""The roles a channel can have."""


@dataclass(frozen=True)
class CallStarted:
    """A call's audio begins on this connection.

    Attributes
    ----------
    call_id : str
        The call's identifier in the sending system (FreeSWITCH/Asterisk UUID, Twilio
        call SID).
    seat : str
        The seat (position) the call is on; a protocol-specific default name when the
        sender did not say (see each protocol module).
    agent : str or None
        The agent's identifier, or None when unknown (the server then scores the call
        against the population baseline).
    fs_hz : int
        Sample rate of every :class:`Audio` of this call, in Hz.
    channels : tuple of str
        The role of each channel, in the order the protocol carries them, each
        ``"agent"`` or ``"caller"``; :attr:`Audio.channel` is one of these.
    protocol : str
        Which parser produced the call: ``"audiofork"``, ``"twilio"`` or ``"audiosocket"``.
    params : dict
        Anything else the sender told us (stream ids, custom parameters), for the logs.
    """

    call_id: str
    seat: str
    agent: str | None
    fs_hz: int
    channels: tuple[str, ...]
    protocol: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Audio:
    """Samples of one channel of a call.

    Per channel, successive ``Audio`` events are contiguous: each starts where the
    previous one ended (``t_s`` grows by the previous ``duration_s``), because parsers
    fill gaps with zeros. The one exception is a gap longer than
    :data:`MAX_GAP_FILL_S`, which a parser reports with a non-fatal
    :class:`ProtocolError` just before the ``Audio`` whose ``t_s`` jumps.

    Attributes
    ----------
    call_id : str
        The call (as in :class:`CallStarted`).
    channel : str
        The channel's role, ``"agent"`` or ``"caller"``.
    t_s : float
        Time of the first sample since the call started, in seconds
        (sample index / ``fs_hz``).
    fs_hz : int
        Sample rate in Hz.
    samples : numpy.ndarray of int16
        Shaped ``(samples,)``: mono 16-bit PCM of this channel.
    """

    call_id: str
    channel: str
    t_s: float
    fs_hz: int
    samples: np.ndarray

    @property
    def duration_s(self) -> float:
        """Duration of the samples in seconds."""
        return self.samples.shape[0] / self.fs_hz

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Audio):
            return NotImplemented
        return (
            (self.call_id, self.channel, self.t_s, self.fs_hz)
            == (other.call_id, other.channel, other.t_s, other.fs_hz)
            and self.samples.dtype == other.samples.dtype
            and np.array_equal(self.samples, other.samples)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Audio(call_id={self.call_id!r}, channel={self.channel!r}, t_s={self.t_s!r}, "
            f"fs_hz={self.fs_hz}, samples=<{self.samples.shape[0]} {self.samples.dtype}>)"
        )


@dataclass(frozen=True)
class CallEnded:
    """The call ended: the sender said so (``reason`` names its message) or the
    connection closed (``reason`` says so)."""

    call_id: str
    reason: str


@dataclass(frozen=True)
class ProtocolError:
    """A message the parser could not use, and why.

    Attributes
    ----------
    reason : str
        What was wrong, in words a person configuring the sender can act on.
    fatal : bool
        True when the stream cannot continue: the server must close the connection.
        The parser has then stopped (its ``closed`` is True) and ignores further input.
        A non-fatal error drops only the offending message.
    """

    reason: str
    fatal: bool


Event = CallStarted | Audio | CallEnded | ProtocolError
"""Anything a parser returns."""


@dataclass
class IngestStats:
    """Counters a parser keeps over its connection.

    Attributes
    ----------
    frames : int
        Audio messages accepted.
    samples : int
        Received samples delivered, summed over channels (fills not included).
    gaps_filled : int
        Gaps filled with zeros.
    samples_filled : int
        Zero samples inserted, summed over channels.
    duplicates_dropped : int
        Audio messages dropped as duplicates or as arriving too late.
    errors : int
        :class:`ProtocolError` events emitted, fatal or not.
    """

    frames: int = 0
    samples: int = 0
    gaps_filled: int = 0
    samples_filled: int = 0
    duplicates_dropped: int = 0
    errors: int = 0
