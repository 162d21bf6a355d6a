"""Sans-I/O parsers of the telephony streaming protocols: bytes in, call events out.

One module per protocol, one output type for all (:mod:`capture.ingest.events`):

- :mod:`~capture.ingest.audiofork`: FreeSWITCH ``mod_audio_fork``/``mod_audio_stream``
  style websocket (JSON metadata, then 16-bit PCM), also Voiceline's seat client;
- :mod:`~capture.ingest.twilio`: Twilio Media Streams (JSON, base64 μ-law 8 kHz);
- :mod:`~capture.ingest.audiosocket`: Asterisk AudioSocket (TCP, type-length-payload).

Every parser has the same interface: ``receive_text(str)``, ``receive_bytes(bytes)``
and ``eof()`` each return a list of :class:`CallStarted`, :class:`Audio`,
:class:`CallEnded` and :class:`ProtocolError` events; ``stats``, ``closed`` and
``close_reason`` tell the connection's state. No socket is touched here: the server
moves bytes in and acts on events out. A malformed message is a ``ProtocolError``
event, never an exception; a fatal one means the server closes the connection.
Each module also has the sending side's encoders, for the seat client, the call
simulator and the tests.
"""

from capture.ingest.audiofork import AudioForkParser
from capture.ingest.audiosocket import AudioSocketParser, Binding
from capture.ingest.events import (
    MAX_AUDIO_MESSAGE_S,
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
from capture.ingest.twilio import TwilioParser

__all__ = [
    "MAX_AUDIO_MESSAGE_S",
    "MAX_GAP_FILL_S",
    "MAX_JUMP_S",
    "MAX_TEXT_MESSAGE_CHARS",
    "Audio",
    "AudioForkParser",
    "AudioSocketParser",
    "Binding",
    "CallEnded",
    "CallStarted",
    "Event",
    "IngestStats",
    "ProtocolError",
    "TwilioParser",
]
