"""Voice analysis of many streams: every stage on one 10 ms grid, then feature windows.

:class:`StreamingVoiceAnalyzer` is what the live engine and the batch tools both run:
psychoacoustics (:mod:`emotion.psychoacoustics.streaming`), voice activity
(:mod:`emotion.vad`), pitch and syllable nuclei (:mod:`emotion.prosody`), aligned on a
10 ms grid and turned into :class:`~emotion.windows.FeatureWindows`. A file analysed
with :func:`analyse_file` and the same audio streamed block by block give the same
windows, because every stage is chunk-invariant and the grid is released only where
all stages have reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from capture.audio import AudioClip, read_audio
from capture.levels import LevelProfile, load_level_profile
from capture.resample import resample
from emotion.prosody import StreamingPitch, StreamingSpeechRate
from emotion.psychoacoustics import BARK_AXIS
from emotion.psychoacoustics.streaming import StreamingPsychoacoustics
from emotion.vad import StreamingVAD, VadFrames
from emotion.windows import CHANNELS, GRID_S, FeatureWindower, FeatureWindows, spectral_balance

ENGINE_RATES_HZ = (8000, 16000)
#: Longest stretch the stages advance by at once: a long block is cut into pieces of at
#: most this, which keeps the working arrays cache-sized (64 streams: ~10 s blocks ran
#: at 0.8x the speed of 0.5 s ones). Chunk invariance makes the result the same.
MAX_STEP_S = 0.5
#: Step between roughness analyses (200 ms frames, D&W) for the feature windows, which
#: average roughness over seconds of speech: frames that tile the signal rather than
#: overlap by half cost half; window means move by 7 % (median; r = 0.99 with the
#: 0.1 s step on 64 synthetic 30 s voices), and the heads are fitted on these values.
ROUGHNESS_UPDATE_S = 0.2
#: |sample| at or above this is clipped: G.711 decodes to at most ±32124/32768 (μ-law).
CLIP_LEVEL = 32124 / 32768 - 1e-4


def _clipped_fraction(samples: np.ndarray) -> float:
    """Share of samples at or beyond :data:`CLIP_LEVEL` (either sign).

    Two comparisons instead of ``mean(abs(x) >= CLIP_LEVEL)``: the same count without
    a float copy of the recording.
    """
    x = np.asarray(samples)
    clipped = np.count_nonzero(x >= CLIP_LEVEL) + np.count_nonzero(x <= -CLIP_LEVEL)
    return clipped / x.size if x.size else float("nan")


def channel_type(fs_hz: int) -> str:
    """"8k" for telephone-band streams, "16k" for wideband."""
    return "8k" if fs_hz <= 8000 else "16k"


def default_level_profile(fs_hz: int) -> str:
    return "g711-telephone" if fs_hz <= 8000 else "headset"


class StreamingVoiceAnalyzer:
    """Feature windows of many streams of digital audio, block by block.

    Parameters
    ----------
    n_streams : int
    fs_hz : int
        8000 or 16000.
    level_profile : LevelProfile, optional
        Digital → Pa for the psychoacoustic stage; default by rate.
    window_s, hop_s, min_speech_s : float
        See :class:`~emotion.windows.FeatureWindower`.
    """

    def __init__(
        self, n_streams: int, fs_hz: int, *, level_profile: LevelProfile | None = None,
        window_s: float = 3.0, hop_s: float = 1.0, min_speech_s: float = 1.0,
    ) -> None:
        if fs_hz not in ENGINE_RATES_HZ:
            raise ValueError(f"the voice analyser runs at 8000 or 16000 Hz, got {fs_hz}")
        self.n_streams = n_streams
        self.fs_hz = fs_hz
        self.profile = level_profile or load_level_profile(default_level_profile(fs_hz))
        self.psycho = StreamingPsychoacoustics(
            n_streams, fs_hz, roughness_update_s=ROUGHNESS_UPDATE_S
        )
        self.vad = StreamingVAD(n_streams, fs_hz)
        self.pitch = StreamingPitch(n_streams, fs_hz, hop_s=GRID_S)
        self.rate = StreamingSpeechRate(n_streams, hop_s=GRID_S)
        self.windower = FeatureWindower(
            n_streams, window_s=window_s, hop_s=hop_s, min_speech_s=min_speech_s
        )
        self._vad_repeat = round(self.vad.frame_ms * 1e-3 / GRID_S)
        self._psycho_repeat = round(self.psycho.hop_s / GRID_S)
        self._pending = {name: np.zeros((n_streams, 0)) for name in CHANNELS}
        self.speech_s = np.zeros(n_streams)
        #: Per stream, speech is counted in ``speech_s`` only up to this time (s): a
        #: recording padded with silence to run beside longer ones stops counting at its
        #: own end, hangover included.
        self.count_until_s = np.full(n_streams, np.inf)
        #: Set to a list to have every :class:`~emotion.vad.VadFrames` appended to it as
        #: it is decided (the batch checks need the decisions and levels, not only the
        #: windows); the caller empties it.
        self.vad_sink: list[VadFrames] | None = None

    def process(self, block: np.ndarray) -> FeatureWindows:
        """Advance every stream by digital samples ``(streams, samples)`` (±1.0)."""
        block = np.asarray(block, dtype=np.float64)
        step = max(int(MAX_STEP_S * self.fs_hz), 1)
        if block.ndim != 2 or block.shape[1] <= step:
            return self._process(block)
        parts = [self._process(block[:, i : i + step]) for i in range(0, block.shape[1], step)]
        return FeatureWindows(
            end_s=np.concatenate([p.end_s for p in parts]),
            features=np.concatenate([p.features for p in parts], axis=1),
            valid=np.concatenate([p.valid for p in parts], axis=1),
            speech_s=np.concatenate([p.speech_s for p in parts], axis=1),
        )

    def _process(self, block: np.ndarray) -> FeatureWindows:
        # Pa straight to the float32 the psychoacoustic stage works in (bit-identical to
        # ``to_pascals(block).astype(np.float32)``, without the float64 temporary).
        pascals = np.multiply(block, self.profile.full_scale_peak_pa,
                              out=np.empty(block.shape, dtype=np.float32), casting="same_kind")
        psycho = self.psycho.process(pascals)
        vad = self.vad.process(block)
        if self.vad_sink is not None:
            self.vad_sink.append(vad)
        pitch = self.pitch.process(block)
        syllables = self.rate.update(pitch)
        counted = vad.speech & (vad.frame_time_s[None, :] <= self.count_until_s[:, None] + 1e-9)
        self.speech_s += counted.sum(axis=1) * self.vad.frame_ms * 1e-3
        per_frame = self._psycho_repeat
        new = {
            "loudness": psycho.loudness_sone,
            "sharpness": np.repeat(psycho.sharpness_acum, per_frame, axis=1),
            "roughness": np.repeat(psycho.roughness_asper, per_frame, axis=1),
            "fluctuation": np.repeat(psycho.fluctuation_vacil, per_frame, axis=1),
            "balance": np.repeat(spectral_balance(psycho.specific_loudness, BARK_AXIS),
                                 per_frame, axis=1),
            "speech": np.repeat(vad.speech, self._vad_repeat, axis=1),
            "voiced": pitch.voiced,
            "f0_hz": pitch.f0_hz,
            "aperiodicity": pitch.aperiodicity,
            "centroid": pitch.band_centroid_hz,
            "tilt": pitch.band_tilt_db,
            "nuclei": np.isfinite(syllables.nucleus_time_s).astype(np.float64),
        }
        for name, values in new.items():
            self._pending[name] = np.concatenate([self._pending[name], values], axis=1)
        # Release the grid frames every stage has reported.
        ready = min(v.shape[1] for v in self._pending.values())
        grid = {name: v[:, :ready] for name, v in self._pending.items()}
        self._pending = {name: v[:, ready:] for name, v in self._pending.items()}
        return self.windower.push(**grid)


@dataclass(frozen=True)
class FileAnalysis:
    """Feature windows of one channel of one recording."""

    path: str
    channel: int
    fs_hz: int
    channel_type: str
    level_profile: str
    duration_s: float
    speech_s: float
    clipped_fraction: float
    windows: FeatureWindows


def analyse_file(
    path: str, *, channel: int = 0, level_profile: str | None = None, block_s: float = 1.0,
    **windowing,
) -> FileAnalysis:
    """Analyse one channel of a WAV/FLAC file exactly as a live stream would be.

    8 kHz files are analysed at 8 kHz; anything wider is resampled to 16 kHz.
    Raises :class:`capture.audio.AudioError` for unreadable input.
    """
    return analyse_files([path], channel=channel, level_profile=level_profile,
                         block_s=block_s, **windowing)[0]


def engine_rate(fs_hz: int) -> int:
    """Telephone-band input stays at 8 kHz; anything wider is analysed at 16 kHz."""
    return 8000 if fs_hz <= 8000 else 16000


def read_for_engine(path: str, channel: int = 0) -> AudioClip:
    """One channel of a file at the rate the engines run at (resampled if needed)."""
    clip = read_audio(path, channel=channel)
    fs_hz = engine_rate(clip.fs_hz)
    if fs_hz == clip.fs_hz:
        return clip
    return replace(clip, samples=resample(clip.samples, clip.fs_hz, fs_hz), fs_hz=fs_hz)


def analyse_files(
    paths: list[str], *, channel: int = 0, level_profile: str | None = None,
    block_s: float = 10.0, **windowing,
) -> list[FileAnalysis]:
    """Analyse many files at once, as parallel streams (see :func:`analyse_clips`).

    Raises :class:`capture.audio.AudioError` naming the first unreadable file.
    """
    clips = [read_for_engine(p, channel) for p in paths]
    return analyse_clips(clips, [str(p) for p in paths], channel=channel,
                         level_profile=level_profile, block_s=block_s, **windowing)


#: Streams analysed together by :func:`analyse_clips`; recordings are grouped by length
#: so that little time goes into the silence that pads the shorter ones of a group.
BATCH_STREAMS = 64


def analyse_clips(
    clips: list[AudioClip], names: list[str] | None = None, *, channel: int = 0,
    level_profile: str | None = None, block_s: float = 10.0, **windowing,
) -> list[FileAnalysis]:
    """Analyse one-channel clips (8 or 16 kHz) as parallel streams of one analyser.

    Streams advance together, so the Python overhead of each block is paid once for all
    of a group (as in live monitoring); clips are grouped by rate and similar length,
    :data:`BATCH_STREAMS` at a time, and each gets exactly the windows it would get alone
    (a shorter clip is padded with silence, which yields no windows).
    """
    names = names if names is not None else [f"clip {i}" for i in range(len(clips))]
    for clip, name in zip(clips, names, strict=True):
        if clip.fs_hz not in ENGINE_RATES_HZ:
            raise ValueError(f"{name}: the engine runs at 8000 or 16000 Hz, got {clip.fs_hz}; "
                             "read it with read_for_engine")
    results: list[FileAnalysis | None] = [None] * len(clips)
    order = sorted(range(len(clips)), key=lambda i: (clips[i].fs_hz, clips[i].samples.shape[1]))
    groups: list[list[int]] = []
    for i in order:
        if (groups and len(groups[-1]) < BATCH_STREAMS
                and clips[groups[-1][0]].fs_hz == clips[i].fs_hz):
            groups[-1].append(i)
        else:
            groups.append([i])
    for members in groups:
        fs_hz = clips[members[0]].fs_hz
        profile = load_level_profile(level_profile or default_level_profile(fs_hz))
        n = max(clips[i].samples.shape[1] for i in members)
        samples = np.zeros((len(members), n))
        for row, i in enumerate(members):
            samples[row, : clips[i].samples.shape[1]] = clips[i].samples[0]
        analyzer = StreamingVoiceAnalyzer(len(members), fs_hz, level_profile=profile,
                                          **windowing)
        analyzer.count_until_s[:] = [clips[i].samples.shape[1] / fs_hz for i in members]
        block = max(int(block_s * fs_hz), 1)
        parts = [analyzer.process(samples[:, i : i + block]) for i in range(0, n, block)]
        end_s = np.concatenate([p.end_s for p in parts])
        features = np.concatenate([p.features for p in parts], axis=1)
        valid = np.concatenate([p.valid for p in parts], axis=1)
        speech_s = np.concatenate([p.speech_s for p in parts], axis=1)
        for row, i in enumerate(members):
            clip = clips[i]
            keep = end_s <= clip.duration_s + 1e-9
            results[i] = FileAnalysis(
                path=names[i], channel=channel, fs_hz=fs_hz,
                channel_type=channel_type(fs_hz), level_profile=profile.name,
                duration_s=clip.duration_s, speech_s=float(analyzer.speech_s[row]),
                clipped_fraction=_clipped_fraction(clip.samples[0]),
                windows=FeatureWindows(
                    end_s=end_s[keep], features=features[row : row + 1, keep],
                    valid=valid[row : row + 1, keep], speech_s=speech_s[row : row + 1, keep],
                ),
            )
    return results
