"""A call between an agent and a caller: its script, its turns, and rendering it whole.

A :class:`CallScript` says how long a call lasts, how turns are timed and when each
party speaks in a style other than calm (episodes). :func:`plan_call` turns it into
utterances from the two voices' banks: turns alternate (agent first by default), each
aiming at 2–10 s of one or more utterances with 0.15–0.5 s pauses, 0.3–1.5 s between
turns, never overlapping. An utterance takes an episode's style only if it starts and ends
inside the episode; so styled speech lies exactly within the scheduled spans, and the
rest of an episode's speech (its last seconds, too short for any styled utterance) is
calm.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from capture.levels import active_speech_level_dbfs
from capture.telephone import LINE_FS_HZ

from .banks import (
    BANK_LEVEL_DBFS,
    cut_out,
    group_phrases,
    level_gains,
    on_the_line,
    render_style,
    voice_bank,
)
from .line import add_loop, noise_loop, to_line_pcm
from .voices import ROLES, STYLES, AgentVoice, stable_int

__all__ = [
    "CallScript",
    "Episode",
    "EpisodeSpan",
    "RenderedCall",
    "Utterance",
    "calibration_audio",
    "plan_call",
    "render_call",
]

PARTIES = ("agent", "caller")  # channel 0, channel 1


@dataclass(frozen=True)
class Episode:
    """A span of a call, in seconds from its start, in which one party speaks ``style``."""

    start_s: float
    end_s: float
    style: str

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"unknown style {self.style!r}; use one of {', '.join(STYLES)}")
        if not 0 <= self.start_s < self.end_s or not math.isfinite(self.end_s):
            raise ValueError(f"an episode needs 0 <= start_s < end_s, got {self.start_s!r}–"
                             f"{self.end_s!r} s")


@dataclass(frozen=True, slots=True)
class EpisodeSpan:
    """Ground truth: ``party`` speaks ``style`` within samples ``[start_sample, end_sample)``.

    Samples count from the start of the call (:func:`render_call`) or of the seat's
    stream (:class:`~capture.simulator.Seat`), at 8 kHz.
    """

    party: str
    style: str
    start_sample: int
    end_sample: int
    call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Utterance:
    """One utterance of a call: who, in which style, samples ``[start_sample, end_sample)``
    from the call's start, and ``index``, which utterance of the bank's style it is."""

    party: str
    style: str
    start_sample: int
    end_sample: int
    index: int


def _episodes(items, role: str, duration_s: float) -> tuple[Episode, ...]:
    episodes = tuple(sorted((e if isinstance(e, Episode) else Episode(*e) for e in items),
                            key=lambda e: e.start_s))
    for e in episodes:
        if e.style not in ROLES[role]:
            raise ValueError(f"a {role} speaks {', '.join(ROLES[role])}, not {e.style!r}")
        if e.end_s > duration_s:
            raise ValueError(f"episode {e.start_s:g}–{e.end_s:g} s ends after the call "
                             f"({duration_s:g} s)")
    for a, b in itertools.pairwise(episodes):
        if b.start_s < a.end_s:
            raise ValueError(f"{role} episodes overlap: {a.start_s:g}–{a.end_s:g} s and "
                             f"{b.start_s:g}–{b.end_s:g} s")
    return episodes


@dataclass(frozen=True)
class CallScript:
    """What happens in one call.

    Attributes
    ----------
    duration_s : float
        Length of the call; the last turn ends at least 0.3 s before it.
    episodes : sequence of Episode or (start_s, end_s, style)
        The agent's styled spans, e.g. ``[(60, 90, "agitated")]``; non-overlapping.
    caller_episodes : sequence of Episode or (start_s, end_s, style)
        The caller's (``'agitated'`` only: callers have no low-energy bank).
    seed : int
        Seeds the turns, the choice of utterances and the line noise.
    turn_s, gap_s, pause_s : tuple of float
        Ranges of turn length, of silence between turns, and of pauses within a turn, s.
    first : {'agent', 'caller'}
        Who speaks first.
    """

    duration_s: float = 180.0
    episodes: tuple = ()
    caller_episodes: tuple = ()
    seed: int = 0
    turn_s: tuple[float, float] = (2.0, 10.0)
    gap_s: tuple[float, float] = (0.3, 1.5)
    pause_s: tuple[float, float] = (0.15, 0.5)
    first: str = "agent"

    def __post_init__(self) -> None:
        if not self.duration_s > 0 or not math.isfinite(self.duration_s):
            raise ValueError(f"duration_s must be a positive number of seconds, "
                             f"got {self.duration_s!r}")
        if self.first not in PARTIES:
            raise ValueError(f"first must be 'agent' or 'caller', got {self.first!r}")
        for name in ("turn_s", "gap_s", "pause_s"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be a range (low, high) with 0 <= low <= high, "
                                 f"got {getattr(self, name)!r}")
        object.__setattr__(self, "episodes", _episodes(self.episodes, "agent", self.duration_s))
        object.__setattr__(self, "caller_episodes",
                           _episodes(self.caller_episodes, "caller", self.duration_s))

    @property
    def n_samples(self) -> int:
        return round(self.duration_s * LINE_FS_HZ)

    def spans(self, offset_sample: int = 0, call_id: str | None = None) -> tuple:
        """The episodes as :class:`EpisodeSpan` in samples, shifted by ``offset_sample``."""
        return tuple(
            EpisodeSpan(party, e.style, offset_sample + round(e.start_s * LINE_FS_HZ),
                        offset_sample + round(e.end_s * LINE_FS_HZ), call_id)
            for party, episodes in zip(PARTIES, (self.episodes, self.caller_episodes),
                                       strict=True)
            for e in episodes
        )


class RenderedCall(NamedTuple):
    """A whole call: ``audio`` (2, samples) int16 (agent, caller), and its ground truth."""

    audio: np.ndarray
    episodes: tuple[EpisodeSpan, ...]
    utterances: tuple[Utterance, ...]


def plan_call(script: CallScript, agent: AgentVoice, caller: AgentVoice) -> tuple[Utterance, ...]:
    """The utterances of ``script`` spoken by ``agent`` and ``caller``: no audio, just when.

    Parameters
    ----------
    script : CallScript
    agent, caller : AgentVoice
        Their banks are rendered first if they are not cached.

    Returns
    -------
    tuple of Utterance
        In time order, samples from the start of the call; see the module notes for how
        turns, pauses and styles are chosen.
    """
    fs = LINE_FS_HZ
    rng = np.random.default_rng(stable_int("call", script.seed))
    banks = {"agent": voice_bank(agent), "caller": voice_bank(caller)}
    windows = {"agent": [(round(e.start_s * fs), round(e.end_s * fs), e.style)
                         for e in script.episodes],
               "caller": [(round(e.start_s * fs), round(e.end_s * fs), e.style)
                          for e in script.caller_episodes]}
    last = {}

    def choose(party: str, t: int, limit: int) -> tuple[str, int] | None:
        """An utterance no longer than ``limit`` for ``party`` at ``t``, or None."""
        bank = banks[party]
        for start, end, style in windows[party]:
            lengths = bank.lengths(style)
            if start <= t < end and style != "calm" and (lengths <= end - t).any():
                pick = _pick((lengths <= end - t) & (lengths <= limit), last.get((party, style)))
                return None if pick is None else (style, pick)
        pick = _pick(bank.lengths("calm") <= limit, last.get((party, "calm")))
        return None if pick is None else ("calm", pick)

    def _pick(fits: np.ndarray, avoid: int | None) -> int | None:
        candidates = np.flatnonzero(fits)
        if candidates.size > 1 and avoid is not None:
            candidates = candidates[candidates != avoid]
        return None if candidates.size == 0 else int(rng.choice(candidates))

    utterances, party = [], script.first
    end_of_call = script.n_samples - round(0.3 * fs)
    t = round(rng.uniform(0.3, 1.0) * fs)
    while True:
        turn_start, turn_end = t, t + round(rng.uniform(*script.turn_s) * fs)
        while True:
            limit = min(end_of_call - t, max(turn_end - t, 2 * fs))
            choice = choose(party, t, limit)
            if choice is None and t == turn_start:  # a turn has at least one utterance
                choice = choose(party, t, end_of_call - t)
            if choice is None:
                break
            style, k = choice
            stop = t + int(banks[party].lengths(style)[k])
            utterances.append(Utterance(party, style, t, stop, k))
            last[(party, style)] = k
            t = stop
            if turn_end - t < fs:
                break
            t += round(rng.uniform(*script.pause_s) * fs)
        if not utterances or utterances[-1].start_sample < turn_start:  # the call is full
            break
        t = utterances[-1].end_sample + round(rng.uniform(*script.gap_s) * fs)
        party = "caller" if party == "agent" else "agent"
    return tuple(utterances)


def mix_sources(agent: AgentVoice, caller: AgentVoice) -> dict:
    """Per party: (bank, factor from bank samples to int16 units at the voice's level),
    as :func:`mix_utterances` takes them."""
    out = {}
    for party, voice in zip(PARTIES, (agent, caller), strict=True):
        bank = voice_bank(voice)
        out[party] = (bank, bank.unit * 32768.0 * 10 ** ((voice.level_dbfs - BANK_LEVEL_DBFS) / 20))
    return out


def mix_utterances(out: np.ndarray, t0: int, utterances, first: int, sources: dict) -> int:
    """Add the utterances (time order, from index ``first``) that overlap samples
    ``[t0, t0 + n)`` into ``out`` (2, n) float32; returns the first one not finished."""
    t1 = t0 + out.shape[-1]
    k = first
    while k < len(utterances) and utterances[k].end_sample <= t0:
        k += 1
    first_open = k
    while k < len(utterances) and utterances[k].start_sample < t1:
        u = utterances[k]
        bank, gain = sources[u.party]
        a, b = max(u.start_sample, t0), min(u.end_sample, t1)
        start = bank.bounds[u.style][u.index, 0] + (a - u.start_sample)
        out[PARTIES.index(u.party), a - t0 : b - t0] += bank.samples[start : start + b - a] * gain
        k += 1
    return first_open


def _check_fs(fs_hz: float) -> None:
    if fs_hz != LINE_FS_HZ:
        raise ValueError(f"the simulator renders telephone audio at 8000 Hz, not {fs_hz!r}; "
                         "resample the result (capture.resample.resample) for another rate")


def render_call(
    script: CallScript,
    agent_voice: AgentVoice,
    caller_voice: AgentVoice,
    fs_hz: float = LINE_FS_HZ,
    *,
    noise_dbfs: float | None = -60.0,
) -> RenderedCall:
    """A whole call as a stereo telephone recording, with its exact ground truth.

    Parameters
    ----------
    script : CallScript
    agent_voice, caller_voice : AgentVoice
        The caller's voice must have role ``'caller'`` unless it speaks calm only.
    fs_hz : float
        8000 (the line's rate; banks are rendered at it).
    noise_dbfs : float or None
        RMS of the line noise on each channel, dBFS; None for digital silence.

    Returns
    -------
    RenderedCall
        ``audio`` (2, samples) int16 after G.711 μ-law (channel 0 agent, 1 caller);
        ``episodes``, the scheduled styled spans in samples; ``utterances``, every
        utterance with its party, style and samples.
    """
    _check_fs(fs_hz)
    for e in script.caller_episodes:
        caller_voice.check_style(e.style)
    for e in script.episodes:
        agent_voice.check_style(e.style)
    utterances = plan_call(script, agent_voice, caller_voice)
    out = np.zeros((2, script.n_samples), dtype=np.float32)
    if noise_dbfs is not None:
        offsets = np.random.default_rng(stable_int("noise", script.seed)).integers(2**31, size=2)
        for channel in range(2):
            add_loop(out[channel], noise_loop(noise_dbfs), int(offsets[channel]))
    mix_utterances(out, 0, utterances, 0, mix_sources(agent_voice, caller_voice))
    return RenderedCall(to_line_pcm(out), script.spans(), utterances)


def calibration_audio(
    voice: AgentVoice,
    seconds: float = 60.0,
    fs_hz: float = LINE_FS_HZ,
    *,
    seed: int = 0,
    style: str = "calm",
    noise_dbfs: float | None = -60.0,
) -> np.ndarray:
    """Fresh speech of ``voice`` as its channel of a call sounds, for fitting a baseline.

    Rendered anew (not from the bank, so a baseline is never fitted on the very
    utterances the simulated calls replay) with the voice's timbre and pitch shift, each
    turn at the voice's level, through the same line, and laid out like the agent's
    channel of a call: turns of whole phrases (1.5–10 s) separated by the silence of the
    other party's turn (0.3–1.5 s + 2–10 s + 0.3–1.5 s), so pauses weigh as much as in
    live calls. About 0.3 s of CPU per minute.

    Parameters
    ----------
    voice : AgentVoice
    seconds : float
        Length, s; about 45 % of it is speech.
    fs_hz : float
        8000.
    seed : int
        Different seeds give different speech of the same voice.
    style : str
        ``'calm'`` (ordinary speech) by default.
    noise_dbfs : float or None
        Line noise, as for :func:`render_call`.

    Returns
    -------
    numpy.ndarray of int16, shape (samples,)
        G.711 μ-law line samples; the active speech level is ``voice.style_level_dbfs``.
    """
    _check_fs(fs_hz)
    voice.check_style(style)
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError(f"seconds must be a positive duration, got {seconds!r}")
    fs, n = LINE_FS_HZ, round(seconds * LINE_FS_HZ)
    script = CallScript(seconds)
    rng = np.random.default_rng(stable_int("calibration", voice.voice_id, seed))
    ratio = 2 ** (voice.shift_st / 12)
    run = render_style(voice.timbre, style, 0.7 * seconds * ratio + 12.0,
                       int(rng.integers(2**63)))
    turns = cut_out(on_the_line(run, voice.shift_st),
                    group_phrases(run, rng, (1.5, script.turn_s[1])), ratio)
    starts, used = [], []
    t = round(rng.uniform(0.3, 1.0) * fs)
    for turn in turns:
        if t >= n:
            break
        starts.append(t)
        used.append(turn[: n - t])
        silence_s = rng.uniform(*script.gap_s) * 2 + rng.uniform(*script.turn_s)
        t += turn.size + round(silence_s * fs)
    level_dbfs = voice.style_level_dbfs(style)
    speech = np.zeros(n)
    for t, turn, gain in zip(starts, used, level_gains(used, level_dbfs), strict=True):
        speech[t : t + turn.size] = turn * gain
    speech *= 32768.0 * 10 ** ((level_dbfs - active_speech_level_dbfs(speech, fs)) / 20)
    out = speech.astype(np.float32)
    if noise_dbfs is not None:
        add_loop(out, noise_loop(noise_dbfs), int(rng.integers(2**31)))
    return to_line_pcm(out)
