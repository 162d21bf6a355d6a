"""Simulated call-centre seats: agents and callers talking on telephone lines.

For the demo (300 seats streamed live), tests, file replay and the batch QA benchmark.
Every agent has their own voice (:class:`AgentVoice`) and speaks ``calm`` (their
ordinary voice), ``agitated`` or ``low_energy`` relative to it; callers are voices
too. A call (:class:`CallScript`) alternates turns between agent and caller, with
scheduled episodes of agitation or low energy whose spans are the ground truth.

Rendering a voice is slow (about 400× real time), so each voice is rendered once per
style into a bank of utterances (:mod:`.banks`) and calls are assembled from those:
noise, utterances at the speaker's gain, G.711 — a copy and a table lookup per sample.
Voices share a pool of timbres (24 for agents, 12 for callers) with three pitch shifts
for agents, so 300 agents need at most 72 banks of about 1.5 MB each (callers 12 of 1.1).

Entry points: :func:`render_call` (a whole call, with its ground truth),
:class:`Seat` and :class:`Floor` (endless streams of calls, read in chunks),
:func:`calibration_audio` (an agent's ordinary speech, to fit a baseline).
``benchmarks/simulator.py`` measures the build time and the streaming speed.
"""

from .banks import BANK_LEVEL_DBFS, VoiceBank, clear_banks, prepare_banks, voice_bank
from .calls import (
    CallScript,
    Episode,
    EpisodeSpan,
    RenderedCall,
    Utterance,
    calibration_audio,
    plan_call,
    render_call,
)
from .line import ULAW_MAX
from .seats import CallRecord, Floor, Schedule, Seat
from .voices import STYLES, AgentVoice, Timbre, timbre_pool

__all__ = [
    "BANK_LEVEL_DBFS",
    "STYLES",
    "ULAW_MAX",
    "AgentVoice",
    "CallRecord",
    "CallScript",
    "Episode",
    "EpisodeSpan",
    "Floor",
    "RenderedCall",
    "Schedule",
    "Seat",
    "Timbre",
    "Utterance",
    "VoiceBank",
    "calibration_audio",
    "clear_banks",
    "plan_call",
    "prepare_banks",
    "render_call",
    "timbre_pool",
    "voice_bank",
]
