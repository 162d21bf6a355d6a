"""Prosody of many streams: F0 with voicing (YIN by FFT), and speaking rate.

Arrays have a leading stream axis ``(streams, …)``; the streaming classes advance all
streams block by block and give the same frames fed in blocks as fed whole.
"""

from .pitch import PitchFrames, StreamingPitch, pitch_track
from .speech_rate import (
    SpeakingRate,
    StreamingSpeechRate,
    SyllableFrames,
    speaking_rate,
    summarise_rate,
)

__all__ = [
    "PitchFrames",
    "SpeakingRate",
    "StreamingPitch",
    "StreamingSpeechRate",
    "SyllableFrames",
    "pitch_track",
    "speaking_rate",
    "summarise_rate",
]
