"""Utterance banks: each voice's speech, rendered once per style, on the telephone line.

Rendering a voice (:func:`capture.synth.speech_like`) runs at about 400× real time,
far too slow to voice 300 seats live. So each (timbre, pitch shift) is rendered once per
style — one continuous run of speech, cut at its phrase pauses into utterances of
1.5–6 s (10 calm, 6 agitated, 6 low-energy; about 80 s in all) — and calls are
assembled from these utterances. The line (300–3400 Hz band-pass, 8 kHz) is applied
here; level, line noise and G.711 are applied as calls are assembled (:mod:`.line`).

Each utterance of a bank sits at its style's active level (ITU-T P.56) on the line: calm
at ``BANK_LEVEL_DBFS``, the others at the timbre's offsets from it, so a speaker's gain is
simply ``10 ** ((level_dbfs - BANK_LEVEL_DBFS) / 20)``. Banks are stored as int16
(about 1.5 MB each) and cached in memory for the life of the process.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from capture.levels import active_speech_level_dbfs
from capture.resample import resample
from capture.speech_synth import speech_like
from capture.telephone import LINE_FS_HZ, band_limit

from .voices import ROLES, AgentVoice, Timbre

__all__ = ["BANK_LEVEL_DBFS", "VoiceBank", "clear_banks", "prepare_banks", "voice_bank"]

#: Active speech level of every bank's calm style on the line, dBFS.
BANK_LEVEL_DBFS = -26.0
#: Utterances per style in a bank.
UTTERANCES = {"calm": 10, "agitated": 6, "low_energy": 6}
#: Shortest and longest utterance, s.
UTTERANCE_S = (1.5, 6.0)
_FRAME_S = 0.01  # envelope frames for finding pauses
_PAUSE_S = 0.10  # a silence this long separates phrases
_LEAD_S, _TAIL_S = 0.02, 0.06  # kept before a phrase's onset and after its offset (ring-out)
_FADE_S = 0.005

_CACHE: dict[tuple[Timbre, int], VoiceBank] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True, eq=False)
class VoiceBank:
    """The utterances of one timbre at one pitch shift, per style, on the line at 8 kHz.

    Attributes
    ----------
    timbre : Timbre
    shift_st : int
    samples : ndarray of int16, shape (samples,)
        All utterances, end to end; multiply by ``unit`` for full scale (±1.0).
    unit : float
        Full-scale value of one int16 step.
    bounds : dict of str to ndarray of int64, shape (utterances, 2)
        Per style, each utterance's ``[start, stop)`` within ``samples``.
    """

    timbre: Timbre
    shift_st: int
    samples: np.ndarray
    unit: float
    bounds: dict

    def lengths(self, style: str) -> np.ndarray:
        """Length of each utterance of ``style``, samples."""
        b = self.bounds[style]
        return b[:, 1] - b[:, 0]

    def utterance(self, style: str, k: int) -> np.ndarray:
        """Utterance ``k`` of ``style`` as int16 (a view; multiply by ``unit``)."""
        start, stop = self.bounds[style][k]
        return self.samples[start:stop]


def voice_bank(voice: AgentVoice) -> VoiceBank:
    """The bank ``voice`` speaks from, rendered on first use (about 0.4 s) and cached."""
    key = (voice.timbre, voice.shift_st)
    bank = _CACHE.get(key)
    if bank is None:
        prepare_banks([voice])
        bank = _CACHE[key]
    return bank


def prepare_banks(voices: Iterable[AgentVoice], *, workers: int = 1) -> int:
    """Render the banks of ``voices`` that are not cached yet; returns how many were made.

    Each timbre is rendered once (about 1 s) and resampled to every pitch shift its
    voices use. With ``workers`` > 1 and at least 4 timbres to render, they are rendered
    in that many worker processes (started with "spawn", so a script calling this needs
    the usual ``if __name__ == "__main__":`` guard).
    """
    wanted: dict[Timbre, set[int]] = {}
    for voice in voices:
        if (voice.timbre, voice.shift_st) not in _CACHE:
            wanted.setdefault(voice.timbre, set()).add(voice.shift_st)
    if not wanted:
        return 0
    timbres = list(wanted)
    shifts = [sorted(wanted[timbre]) for timbre in timbres]
    if workers <= 1 or len(timbres) < 4:  # starting workers costs about a timbre
        groups = list(map(_render_banks, timbres, shifts))
    else:
        context = multiprocessing.get_context("spawn")
        n_workers = min(workers, len(timbres))
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as pool:
            groups = list(pool.map(_render_banks, timbres, shifts))
    with _LOCK:
        for group in groups:
            for bank in group:
                _CACHE[(bank.timbre, bank.shift_st)] = bank
    return sum(map(len, groups))


def clear_banks() -> int:
    """Forget every cached bank; returns the bytes released."""
    with _LOCK:
        released = sum(bank.samples.nbytes for bank in _CACHE.values())
        _CACHE.clear()
    return released


def _style_seed(timbre: Timbre, style: str, salt: int = 0) -> int:
    return timbre.seed + 1000 * list(ROLES["agent"]).index(style) + salt


def render_style(timbre: Timbre, style: str, duration_s: float, seed: int) -> np.ndarray:
    """A continuous run of ``timbre`` speaking ``style``, 8 kHz, before the line."""
    return speech_like(
        duration_s, LINE_FS_HZ, f0_hz=timbre.f0_hz, seed=seed,
        level_dbfs=BANK_LEVEL_DBFS, style=timbre.speaking_style(style),
        formant_scale=timbre.formant_scale,
    )


def on_the_line(run: np.ndarray, shift_st: int) -> np.ndarray:
    """Pitch-shift ``run`` by resampling (F0, formants and rate × 2^(st/12)), then band-limit."""
    if shift_st:
        ratio = 2 ** (shift_st / 12)
        run = resample(run, LINE_FS_HZ * ratio, LINE_FS_HZ)
    return band_limit(run, LINE_FS_HZ)


def _render_banks(timbre: Timbre, shifts: list[int]) -> list[VoiceBank]:
    """The banks of ``timbre`` at ``shifts``: rendered once, resampled per shift.

    Every utterance is brought to its style's level, so any choice of utterances has it
    too; levels are measured (P.56) at the first shift and kept for the others (a shift of
    a semitone moves a level on the line by at most 0.15 dB).
    """
    runs, spans = {}, {}
    for style in ROLES[timbre.role]:
        n_utterances = UTTERANCES[style]
        seed = _style_seed(timbre, style)
        runs[style] = render_style(timbre, style, 5.0 * n_utterances + 2.0, seed)
        spans[style] = group_phrases(runs[style], np.random.default_rng(seed), UTTERANCE_S,
                                     n_utterances)
        if len(spans[style]) < 3:
            raise RuntimeError(f"rendered {style} speech of {timbre} held only "
                               f"{len(spans[style])} utterances of 1.5–6 s")
    banks, gains = [], {}
    for shift_st in shifts:
        banks.append(_bank_at_shift(timbre, shift_st, runs, spans, gains))
    return banks


def _bank_at_shift(
    timbre: Timbre, shift_st: int, runs: dict, spans: dict, gains: dict
) -> VoiceBank:
    ratio = 2 ** (shift_st / 12)
    parts, bounds, start = [], {}, 0
    for style, run in runs.items():
        y = on_the_line(run, shift_st)
        utterances = cut_out(y, spans[style], ratio)
        if style not in gains:
            gains[style] = level_gains(utterances, BANK_LEVEL_DBFS + timbre.gain_db(style))
        speech = np.concatenate([u * g for u, g in zip(utterances, gains[style], strict=True)])
        parts.append(speech)
        sizes = np.array([u.size for u in utterances], dtype=np.int64)
        stops = start + np.cumsum(sizes)
        bounds[style] = np.stack([stops - sizes, stops], axis=1)
        start = int(stops[-1])
    speech = np.concatenate(parts)
    unit = float(np.abs(speech).max()) / 32000.0
    samples = np.round(speech / unit).astype(np.int16)
    return VoiceBank(timbre, shift_st, samples, unit, bounds)


def level_gains(pieces: list[np.ndarray], level_dbfs: float) -> np.ndarray:
    """Factors that bring each piece, and all of them played with pauses between, to
    active speech level ``level_dbfs`` (ITU-T P.56).

    P.56 is not additive (its activity threshold follows each signal's own dynamics), so
    each piece is levelled alone, with silence around it as it will be played, and then
    all together by one common factor: a single piece lands within about 0.3 dB.
    """
    pad = round(0.25 * LINE_FS_HZ)
    measured_dbfs = np.array([active_speech_level_dbfs(np.pad(x, pad), LINE_FS_HZ)
                              for x in pieces])
    gains = 10 ** ((level_dbfs - measured_dbfs) / 20)
    played = np.concatenate([np.pad(x * g, (0, 2 * pad)) for x, g in zip(pieces, gains,
                                                                          strict=True)])
    return gains * 10 ** ((level_dbfs - active_speech_level_dbfs(played, LINE_FS_HZ)) / 20)


def cut_out(y: np.ndarray, spans: np.ndarray, ratio: float = 1.0) -> list[np.ndarray]:
    """The ``spans`` of a run (found before a pitch shift by ``ratio``) from ``y``, faded
    in and out over 5 ms."""
    cut = np.minimum(np.round(spans / ratio).astype(np.int64), y.size)
    pieces = []
    for a, b in cut:
        x = y[a:b].copy()
        n = min(round(_FADE_S * LINE_FS_HZ), x.size // 2)
        ramp = np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2
        x[:n] *= ramp
        x[x.size - n :] *= ramp[::-1]
        pieces.append(x)
    return pieces


def group_phrases(
    run: np.ndarray, rng: np.random.Generator, length_s: tuple[float, float],
    count: int | None = None,
) -> np.ndarray:
    """``[start, stop)`` of up to ``count`` groups of consecutive whole phrases of ``run``,
    each aiming at a length drawn from ``length_s`` and within it, shaped (groups, 2)."""
    phrases = _phrases(run)
    shortest, longest = (round(s * LINE_FS_HZ) for s in length_s)
    lead, tail = round(_LEAD_S * LINE_FS_HZ), round(_TAIL_S * LINE_FS_HZ)
    spans, i = [], 0
    while i < len(phrases) and (count is None or len(spans) < count):
        target = rng.uniform(shortest, longest)
        start, stop = phrases[i]
        i += 1
        while i < len(phrases) and stop - start < target and phrases[i][1] - start <= longest:
            stop = phrases[i][1]
            i += 1
        if shortest <= stop - start <= longest:
            spans.append((max(start - lead, 0), min(stop + tail, run.size)))
    return np.array(spans, dtype=np.int64).reshape(-1, 2)


def _phrases(run: np.ndarray) -> list[tuple[int, int]]:
    """Stretches of sound separated by at least 0.1 s below −60 dB re the run's peak;
    one cut off by the end of the run is left out."""
    frame = round(_FRAME_S * LINE_FS_HZ)
    n_frames = run.size // frame
    envelope = np.abs(run[: n_frames * frame]).reshape(n_frames, frame).max(axis=1)
    active = np.concatenate([[False], envelope > 1e-3 * envelope.max(), [False]])
    edges = np.flatnonzero(np.diff(active.astype(np.int8)))
    onsets, offsets = edges[::2], edges[1::2]
    min_gap = round(_PAUSE_S / _FRAME_S)
    keep = np.concatenate([[True], onsets[1:] - offsets[:-1] >= min_gap])
    starts = onsets[keep]
    stops = np.append(offsets[np.flatnonzero(keep)[1:] - 1], offsets[-1])
    if stops[-1] >= n_frames - 1:
        starts, stops = starts[:-1], stops[:-1]
    return [(int(a) * frame, int(b) * frame) for a, b in zip(starts, stops, strict=True)]
