"""The voice analysis of whole recorded calls: both parties, through the live engine's analyser.

Each channel of each call is one stream of :class:`emotion.voice.StreamingVoiceAnalyzer`,
the analyser the live engine runs, so a call inspected in batch gets the same voice
activity decisions and feature windows it got live. Calls are analysed several at a
time as parallel streams (the Python cost of a block is paid once for all of them);
each keeps exactly what it would get alone, because a shorter call is padded with
silence, which yields no windows and no speech. (The checks then see two things live
does not: a stereo file with the same sound on both channels is analysed as mono, and
each party's faint leak into the other's channel is taken out of that channel's speech,
:mod:`qa.crosstalk`; neither changes a call without them.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sfft

from capture.audio import AudioError, read_audio, read_pcm16
from capture.levels import load_level_profile
from capture.resample import resample
from emotion.voice import (
    CLIP_LEVEL,
    ENGINE_RATES_HZ,
    StreamingVoiceAnalyzer,
    channel_type,
    default_level_profile,
    engine_rate,
)
from qa.hold import music_frames

#: Audio per :meth:`StreamingVoiceAnalyzer.process` call.
BLOCK_S = 10.0
#: Calls analysed together at most (two streams each): 64 streams, the psychoacoustic
#: stage's group size, so that the streams awake in a slot still make a good batch
#: (32 calls ran 5 % faster than 16 on qa_bench's calls, two interleaved runs each).
BATCH_CALLS = 32
#: Two channels carry the same sound (a recorder that mixes both parties into each
#: channel, or mono saved as stereo) when, over the loudest seconds of *each* channel,
#: their audio correlates at least this well (|r| at the best lag within
#: ±:data:`SAME_AUDIO_MAX_LAG_S`) **and** the level between them is the same in both sets
#: of seconds within :data:`SAME_AUDIO_GAIN_DB`. Judged as two parties, every word of such
#: a call would be overtalk and each voice the other's, so it is judged as mono. Echo
#: or crosstalk on a real two-party line also correlates (a correlation ignores gain),
#: but its level flips with who is speaking: the agent's seconds are far louder on the
#: agent's channel, the caller's on the caller's.
SAME_AUDIO_CORRELATION = 0.9
SAME_AUDIO_GAIN_DB = 3.0
SAME_AUDIO_MAX_LAG_S = 0.005
#: The loudest seconds of each channel the correlation is measured on.
SAME_AUDIO_SECONDS = 8
#: The smallest 16-bit code at full scale: ``k / 32768 >= CLIP_LEVEL`` exactly when
#: ``|k| >= CLIP_CODE`` (scaling by 32768 is exact in floating point).
CLIP_CODE = math.ceil(CLIP_LEVEL * 32768)


@dataclass(frozen=True)
class CallJob:
    """One recording to inspect.

    Attributes
    ----------
    call_id : str
    path : str
        The recording (WAV/FLAC; stereo with the agent on ``agent_channel``, or mono).
    agent_id : str or None
        None when the metadata does not say (then no agent baseline is looked up).
    agent_channel : int
    extra : dict
        Metadata columns beyond ``call_id,path,agent_id``, kept with the result.
    transcript : str or None
        The call's transcript (:mod:`qa.transcript`), read by the transcript checks.
    """

    call_id: str
    path: str
    agent_id: str | None = None
    agent_channel: int = 0
    extra: dict = field(default_factory=dict)
    transcript: str | None = None


@dataclass
class ChannelTrack:
    """What the analyser found in one party's channel.

    Attributes
    ----------
    role : {"agent", "caller"}
    frame_s : float
        VAD frame length; ``speech``, ``level_dbfs`` and ``clipped`` are per frame.
    speech : ndarray of bool, shape (T,)
    level_dbfs : ndarray, shape (T,)
        Frame level after the VAD's 100 Hz high-pass, dB RMS re full scale (= dBov).
    clipped : ndarray of int, shape (T,)
        Samples at full scale (:data:`emotion.voice.CLIP_LEVEL`) in each frame.
    end_s : ndarray, shape (W,)
        End of each feature window (windows are ``window_s`` long).
    features : ndarray, shape (W, F)
        :data:`emotion.windows.FEATURE_NAMES`; NaN rows for windows without evidence.
    speech_s : float
    music : ndarray of bool, shape (T,), optional
        Frames of music or a tone while nobody talks (a hold, :mod:`qa.hold`); None
        when not looked for.
    """

    role: str
    frame_s: float
    speech: np.ndarray
    level_dbfs: np.ndarray
    clipped: np.ndarray
    end_s: np.ndarray
    features: np.ndarray
    speech_s: float
    window_s: float = 3.0
    music: np.ndarray | None = None


@dataclass
class CallAnalysis:
    """Both parties of one call, ready for the checks."""

    job: CallJob
    fs_hz: int
    file_fs_hz: int
    n_channels: int
    duration_s: float
    channel_type: str
    level_profile: str
    agent: ChannelTrack
    caller: ChannelTrack | None
    #: |r| of the two channels when they carry the same audio (then judged as mono:
    #: ``caller`` is None); None otherwise.
    same_audio_r: float | None = None


@dataclass
class _Loaded:
    job: CallJob
    samples: np.ndarray  # (1 or 2, N) at the engine rate, agent first: int16 or float32
    scale: float  # digital full scale per unit of ``samples`` (1/32768 for int16 codes)
    clip_index: list[np.ndarray]  # per channel: where the file's own samples are at full scale
    fs_hz: int
    file_fs_hz: int
    n_channels: int
    same_audio_r: float | None = None


def same_audio(a: np.ndarray, b: np.ndarray, fs_hz: int) -> tuple[float, float]:
    """How alike two channels' audio is: ``(r, spread_db)``.

    ``r`` is the smaller of two |r| (the best lag within ±:data:`SAME_AUDIO_MAX_LAG_S`),
    one over the :data:`SAME_AUDIO_SECONDS` loudest seconds of ``a``, one over those of
    ``b`` (0 where either is silent); ``spread_db`` is how far apart the level of ``b``
    over ``a`` is in those two sets of seconds (0 for the same sound at any fixed gain,
    about twice the attenuation of one party leaking into the other's channel).
    """
    second = int(fs_hz)
    n = min(a.size, b.size) // second
    if n == 0:
        return 0.0, float("inf")
    lag = int(round(SAME_AUDIO_MAX_LAG_S * fs_hz))
    size = sfft.next_fast_len(second + lag)
    x, y = (c[: n * second].reshape(n, second) for c in (a, b))  # one row per second
    rs, gains = [], []
    for seconds in (x, y):
        # Loudness per second from every 8th sample: a ranking, not a measurement.
        coarse = np.asarray(seconds[:, ::8], dtype=np.float32)
        rows = np.argsort(-np.square(coarse).sum(axis=1), kind="stable")[:SAME_AUDIO_SECONDS]
        xs, ys = (np.asarray(c[rows], dtype=np.float64) for c in (x, y))
        energy_x, energy_y = float(np.square(xs).sum()), float(np.square(ys).sum())
        if energy_x == 0 or energy_y == 0:
            return 0.0, float("inf")
        # Σ_rows Σ_t x[t] y[t + k], k = -lag..lag, by one transform per set.
        cross = sfft.irfft((np.conj(sfft.rfft(xs, size)) * sfft.rfft(ys, size)).sum(axis=0), size)
        near = np.concatenate([cross[size - lag:], cross[: lag + 1]])
        rs.append(float(np.abs(near).max()) / np.sqrt(energy_x * energy_y))
        gains.append(10 * np.log10(energy_y / energy_x))
    return min(rs), abs(gains[0] - gains[1])


def _judged_as_mono(samples: np.ndarray, fs_hz: int) -> tuple[np.ndarray, float | None]:
    """The channels to analyse (the agent's alone when both carry the same audio) and
    that correlation (None when the channels differ or there is one)."""
    if samples.shape[0] < 2:
        return samples, None
    r, spread_db = same_audio(samples[0], samples[1], fs_hz)
    if r < SAME_AUDIO_CORRELATION or spread_db > SAME_AUDIO_GAIN_DB:
        return samples, None
    # The louder channel: the one that holds both parties if one holds less.
    energy = [float(np.square(c[::8], dtype=np.float64).sum()) for c in samples]
    keep = int(np.argmax(energy))
    return samples[keep: keep + 1], round(r, 4)


def _channel_order(job: CallJob, n: int) -> list[int]:
    """The agent's channel first, then the caller's (if there is one)."""
    if not 0 <= job.agent_channel < n:
        raise AudioError(f"{job.path}: agent channel {job.agent_channel} requested, but the "
                         f"file has {n} channel{'s' if n != 1 else ''}")
    return [job.agent_channel] + ([1 - job.agent_channel] if n >= 2 and
                                  job.agent_channel in (0, 1) else
                                  [c for c in range(n) if c != job.agent_channel][:1])


def load_call(job: CallJob) -> _Loaded:
    """Read a recording: the agent's channel first, then the caller's (if stereo).

    16-bit PCM at an engine rate (nearly every call recording) stays int16 until its
    block is analysed, and its clipping is found on the codes. Raises
    :class:`capture.audio.AudioError` for unreadable input or a bad channel.
    """
    pcm = read_pcm16(job.path, rates_hz=ENGINE_RATES_HZ)
    if pcm is not None:
        codes, fs_hz = pcm
        n = codes.shape[0]
        codes, same = _judged_as_mono(codes[_channel_order(job, n)], fs_hz)
        clip_index = [np.flatnonzero((c >= CLIP_CODE) | (c <= -CLIP_CODE)) for c in codes]
        return _Loaded(job, codes, 1.0 / 32768, clip_index, fs_hz, fs_hz, n, same)
    clip = read_audio(job.path)
    n = clip.n_channels
    raw, same = _judged_as_mono(clip.samples[_channel_order(job, n)], clip.fs_hz)
    marks = np.abs(raw) >= CLIP_LEVEL
    fs_hz = engine_rate(clip.fs_hz)
    if fs_hz != clip.fs_hz:
        raw = resample(raw, clip.fs_hz, fs_hz)
        idx = (np.arange(raw.shape[1]) * clip.fs_hz // fs_hz).clip(0, marks.shape[1] - 1)
        # a resampled sample is "clipped" when the original sample it maps to was
        marks = marks[:, idx]
    return _Loaded(job, raw.astype(np.float32), 1.0, [np.flatnonzero(m) for m in marks],
                   fs_hz, clip.fs_hz, n, same)


def analyse_loaded(calls: list[_Loaded], *, block_s: float = BLOCK_S,
                   window_s: float = 3.0, hop_s: float = 1.0) -> list[CallAnalysis]:
    """Analyse loaded calls of one sample rate together (see the module docstring)."""
    if not calls:
        return []
    fs_hz = calls[0].fs_hz
    if any(c.fs_hz != fs_hz for c in calls):
        raise ValueError("analyse calls of one sample rate together")
    rows = [(i, ch) for i, c in enumerate(calls) for ch in range(c.samples.shape[0])]
    n_total = max(c.samples.shape[1] for c in calls)
    profile = load_level_profile(default_level_profile(fs_hz))
    analyzer = StreamingVoiceAnalyzer(len(rows), fs_hz, level_profile=profile,
                                      window_s=window_s, hop_s=hop_s)
    analyzer.count_until_s[:] = [calls[i].samples.shape[1] / fs_hz for i, _ in rows]
    block = max(int(block_s * fs_hz), 1)
    analyzer.vad_sink = decisions = []
    ends, feats = [], []
    # 16-bit calls go to the analyser as their codes (it takes int16 PCM as is).
    codes = all(c.samples.dtype == np.int16 for c in calls)
    buf = np.zeros((len(rows), block), dtype=np.int16 if codes else np.float64)
    for start in range(0, n_total, block):
        stop = min(start + block, n_total)
        width = stop - start
        part = buf[:, :width]
        for r, (i, ch) in enumerate(rows):
            piece = calls[i].samples[ch, start:stop]
            if codes:
                part[r, : piece.size] = piece
            else:
                np.multiply(piece, np.float64(calls[i].scale), out=part[r, : piece.size])
            part[r, piece.size :] = 0
        windows = analyzer.process(part)
        ends.append(windows.end_s)
        feats.append(np.where(windows.valid[..., None], windows.features, np.nan))
    speech_all = np.concatenate([d.speech for d in decisions], axis=1)
    level_all = np.concatenate([d.level_dbfs for d in decisions], axis=1)
    end_s = np.concatenate(ends)
    features = np.concatenate(feats, axis=1)
    frame_s = analyzer.vad.frame_s
    frame_len = int(round(frame_s * fs_hz))
    out = []
    for i, call in enumerate(calls):
        duration_s = call.samples.shape[1] / fs_hz
        n_frames = min(int(np.ceil(call.samples.shape[1] / frame_len)), speech_all.shape[1])
        keep = end_s <= duration_s + 1e-9
        tracks = []
        for ch in range(call.samples.shape[0]):
            r = rows.index((i, ch))
            index = call.clip_index[ch]
            index = index[index < n_frames * frame_len]
            tracks.append(ChannelTrack(
                role="agent" if ch == 0 else "caller", frame_s=frame_s,
                speech=speech_all[r, :n_frames].copy(), level_dbfs=level_all[r, :n_frames].copy(),
                clipped=np.bincount(index // frame_len, minlength=n_frames),
                end_s=end_s[keep], features=features[r, keep], window_s=window_s,
                speech_s=float(analyzer.speech_s[r]),
            ))
        for ch, track in enumerate(tracks):
            other = tracks[1 - ch].speech if len(tracks) > 1 else None
            track.music = music_frames(call.samples[ch], fs_hz, track.level_dbfs, frame_s, other)
        out.append(CallAnalysis(
            job=call.job, fs_hz=fs_hz, file_fs_hz=call.file_fs_hz, n_channels=call.n_channels,
            duration_s=duration_s, channel_type=channel_type(fs_hz), level_profile=profile.name,
            agent=tracks[0], caller=tracks[1] if len(tracks) > 1 else None,
            same_audio_r=call.same_audio_r,
        ))
    return out
