"""Where live audio comes from: a seat's headset, and simulated or replayed seats.

- :func:`stream_seat` (``voiceline seat``): a local microphone, streamed in the
  audio-fork protocol, one call per connection, reconnecting with backoff.
- :class:`Simulation` / :func:`run_simulation` (``voiceline simulate``): N simulated
  seats from :class:`capture.simulator.Floor`, or recordings replayed, in real time over
  audiofork, Twilio Media Streams or AudioSocket, one connection per call, with the
  ground truth of every call and episode in wall-clock time.

These are clients of the server's ingest endpoints (:mod:`~voiceline.sources.endpoints`);
every message is written by the protocol encoders of :mod:`capture.ingest`.
"""

from voiceline.sources.backoff import Backoff
from voiceline.sources.connections import audiosocket_uuid
from voiceline.sources.endpoints import (
    DEFAULT_AUDIOSOCKET_PORT,
    PROTOCOLS,
    TOKEN_ENV,
    Endpoints,
    SourceError,
)
from voiceline.sources.feeds import ReplayFile
from voiceline.sources.seat import SeatResult, stream_seat
from voiceline.sources.simulate import (
    CallTruth,
    EpisodeTruth,
    Simulation,
    SimulationResult,
    SimulationStats,
    run_simulation,
)
from voiceline.sources.streaming import StreamCounters

__all__ = [
    "DEFAULT_AUDIOSOCKET_PORT",
    "PROTOCOLS",
    "TOKEN_ENV",
    "Backoff",
    "CallTruth",
    "Endpoints",
    "EpisodeTruth",
    "ReplayFile",
    "SeatResult",
    "Simulation",
    "SimulationResult",
    "SimulationStats",
    "SourceError",
    "StreamCounters",
    "audiosocket_uuid",
    "run_simulation",
    "stream_seat",
]
