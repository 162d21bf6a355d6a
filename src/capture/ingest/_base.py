"""What every ingest parser shares: the input methods, closing, and per-channel timelines.

A protocol module subclasses :class:`Parser` and implements ``_text``, ``_bytes`` and
optionally ``_eof``; those raise :class:`Fatal` for a message that ends the stream and
append every other event to the list they are given. The base class turns ``Fatal``
into a :class:`~capture.ingest.events.ProtocolError` event, so no exception for bad
input leaves a parser.
"""

from __future__ import annotations

import json
import re

import numpy as np

from capture.ingest.events import (
    MAX_GAP_FILL_S,
    MAX_JUMP_S,
    MAX_TEXT_MESSAGE_CHARS,
    Audio,
    CallEnded,
    CallStarted,
    Event,
    IngestStats,
    ProtocolError,
)

MAX_INT = 2**53
"""Largest magnitude of an integer field (rates, counts, sequence numbers, timestamps in
ms): the largest JSON senders carry exactly, far past any a stream reaches."""
_INT_TEXT = re.compile(r"[+-]?[0-9]{1,20}")
"""An integer as a decimal string: ASCII digits only, checked before ``int()`` (which
takes any Unicode digit and raises for more than 4,300)."""

PEER_CLOSED = "connection closed by the peer"
"""``close_reason`` after :meth:`Parser.eof`, and the ``CallEnded.reason`` it emits."""


class Fatal(Exception):
    """Raised inside a parser for input that ends the stream; becomes a fatal event."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Parser:
    """Sans-I/O core of one ingest connection: messages in, events out.

    Attributes
    ----------
    stats : IngestStats
        Counters over the connection.
    closed : bool
        True once the parser takes no more input: after a fatal error or :meth:`eof`.
    close_reason : str or None
        Why it closed: the fatal error's reason, or that the peer closed.
    call : CallStarted or None
        The call, once started.
    ended : bool
        True once :class:`CallEnded` was emitted.
    """

    protocol = ""

    def __init__(self) -> None:
        self.stats = IngestStats()
        self.closed = False
        self.close_reason: str | None = None
        self.call: CallStarted | None = None
        self.ended = False
        self._next_sample: dict[str, int] = {}

    # -- the public interface -------------------------------------------------------

    def receive_text(self, text: str) -> list[Event]:
        """Feed one text message (a websocket text frame).

        Returns
        -------
        list of Event
            What the message meant, in order; empty once :attr:`closed`.
        """
        events: list[Event] = []
        if self.closed:
            return events
        try:
            if len(text) > MAX_TEXT_MESSAGE_CHARS:
                raise Fatal(
                    f"text message of {len(text)} characters is longer than the "
                    f"{MAX_TEXT_MESSAGE_CHARS} allowed; the sender is not speaking {self.protocol}"
                )
            self._text(text, events)
        except Fatal as exc:
            self._fail(events, exc.reason)
        return events

    def receive_bytes(self, data: bytes) -> list[Event]:
        """Feed one binary message (websocket) or any chunk of a byte stream (TCP).

        Returns
        -------
        list of Event
            What the bytes meant, in order; empty once :attr:`closed`.
        """
        events: list[Event] = []
        if self.closed:
            return events
        try:
            self._bytes(bytes(data), events)
        except Fatal as exc:
            self._fail(events, exc.reason)
        return events

    def eof(self) -> list[Event]:
        """The peer closed the connection.

        Returns
        -------
        list of Event
            A :class:`CallEnded` if a call was started and not ended (after an error
            event if the stream stopped mid-message); empty if already :attr:`closed`.
        """
        events: list[Event] = []
        if self.closed:
            return events
        self._eof(events)
        if self.call is not None and not self.ended:
            self._end(events, PEER_CLOSED)
        self.closed = True
        self.close_reason = PEER_CLOSED
        return events

    # -- for protocol modules ---------------------------------------------------------

    def _text(self, text: str, events: list[Event]) -> None:
        raise Fatal(f"{self.protocol} sends no text messages; got one of {len(text)} characters")

    def _bytes(self, data: bytes, events: list[Event]) -> None:
        raise Fatal(f"{self.protocol} sends no binary messages; got one of {len(data)} bytes")

    def _eof(self, events: list[Event]) -> None:
        """Hook for a protocol with unfinished input at end of stream."""

    def _fail(self, events: list[Event], reason: str) -> None:
        events.append(ProtocolError(reason, fatal=True))
        self.stats.errors += 1
        self.closed = True
        self.close_reason = reason

    def _warn(self, events: list[Event], reason: str) -> None:
        events.append(ProtocolError(reason, fatal=False))
        self.stats.errors += 1

    def _start(self, events: list[Event], call: CallStarted) -> None:
        self.call = call
        self._next_sample = dict.fromkeys(call.channels, 0)
        events.append(call)

    def _end(self, events: list[Event], reason: str) -> None:
        assert self.call is not None
        self.ended = True
        events.append(CallEnded(self.call.call_id, reason))

    def _position(self, channel: str) -> int:
        """Index of the next sample of ``channel`` on its timeline."""
        return self._next_sample[channel]

    def _emit(self, events: list[Event], channel: str, samples: np.ndarray) -> None:
        """Append received ``samples`` (int16, 1-D) to ``channel``'s timeline."""
        assert self.call is not None
        n = samples.shape[0]
        if n == 0:
            return
        start = self._next_sample[channel]
        events.append(
            Audio(self.call.call_id, channel, start / self.call.fs_hz, self.call.fs_hz, samples)
        )
        self._next_sample[channel] = start + n
        self.stats.samples += n

    def _fill(self, events: list[Event], channel: str, n: int, what: str) -> None:
        """Put ``n`` samples of silence on ``channel``'s timeline for a gap.

        A gap longer than :data:`MAX_GAP_FILL_S` is not filled: a non-fatal error says
        so and the timeline jumps forward by ``n``. One longer than :data:`MAX_JUMP_S`
        ends the stream (:class:`Fatal`).
        """
        assert self.call is not None
        if n <= 0:
            return
        fs_hz = self.call.fs_hz
        if n > MAX_JUMP_S * fs_hz:
            raise Fatal(f"{what}: the {channel} audio jumps {n / fs_hz:.3g} s ahead of "
                        f"t = {self._next_sample[channel] / fs_hz:.3f} s, more than the "
                        f"{MAX_JUMP_S:g} s a live call's clock can skip; the sender's clock "
                        "is broken")
        if n > MAX_GAP_FILL_S * fs_hz:
            self._warn(
                events,
                f"{what}: gap of {n / fs_hz:.3f} s on the {channel} channel is longer than "
                f"the {MAX_GAP_FILL_S:g} s filled with silence; the {channel} audio jumps "
                f"forward from t = {self._next_sample[channel] / fs_hz:.3f} s",
            )
            self._next_sample[channel] += n
            return
        start = self._next_sample[channel]
        events.append(
            Audio(self.call.call_id, channel, start / fs_hz, fs_hz, np.zeros(n, dtype=np.int16))
        )
        self._next_sample[channel] = start + n
        self.stats.gaps_filled += 1
        self.stats.samples_filled += n


def parse_int(value: object, what: str, *, minimum: int = -MAX_INT) -> int:
    """An integer given as a JSON number or a decimal string (as Twilio sends them).

    Only ASCII digits count, and the value must lie in ``minimum`` .. :data:`MAX_INT`;
    anything else is :class:`Fatal` with a reason that names ``what``.
    """
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None:
        raise Fatal(f"{what} must be an integer in ASCII digits, got {_shown(value)}")
    if not minimum <= number <= MAX_INT:
        raise Fatal(f"{what} must be an integer from {minimum} to 2**53, got {_shown(number)}")
    return number


def _shown(value: object, max_chars: int = 40) -> str:
    """``repr(value)`` cut short: a reason never repeats a whole oversized input."""
    shown = repr(value)
    return shown if len(shown) <= max_chars else shown[:max_chars] + "..."


def parse_json_object(text: str, protocol: str) -> dict:
    """A text message as a JSON object, or :class:`Fatal` saying why it is not one."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        snippet = text[:60] + ("..." if len(text) > 60 else "")
        raise Fatal(f"{protocol} text message is not valid JSON ({exc}): {snippet!r}") from None
    if not isinstance(obj, dict):
        raise Fatal(f"{protocol} text message must be a JSON object, got {type(obj).__name__}")
    return obj
