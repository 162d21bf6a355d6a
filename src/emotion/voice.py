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
from emotion._stream_subsets import advance_some
from emotion.echo import EchoGate
from emotion.prosody import StreamingPitch, StreamingSpeechRate
from emotion.prosody.pitch import PitchFrames
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
#: A stream sleeps once it has been without speech this long (s): its psychoacoustic
#: and pitch stages are not run (they cost as much on line noise as on speech, and a
#: call's channel is silent ~60 % of the time) and keep their state, frozen, until
#: speech returns. 2 s is fluctuation strength's frame, so what is frozen is the line's
#: own noise; at 1 s the end of the last utterance was frozen too and met the next
#: one (fluctuation strength +24 % in 1 window of 20; 3.7 % at 2 s). See
#: :class:`StreamingVoiceAnalyzer` and benchmarks/RESULTS.md (fifth round).
SLEEP_AFTER_S = 2.0
#: Every stage but fluctuation strength sleeps sooner, this long after the last speech
#: (s): pitch, loudness and roughness frames reach back 50-200 ms, and the windows read
#: them on speech frames only, so unlike fluctuation strength's 2 s frames they carry
#: nothing across a pause. They run on ~24 % fewer slots of a call's channels (0.47 of
#: the time rather than 0.63); see benchmarks/RESULTS.md (eighth round).
SHORT_SLEEP_AFTER_S = 0.5
#: The grid on which streams fall asleep and wake up (s): a whole number of the live
#: engine's 0.25 s ticks, so sleeping adds no delay there, and a fixed grid from each
#: stream's start, so a file and the same audio streamed in any blocks sleep alike.
GATE_SLOT_S = 0.25
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
    sleep_after_s : float or None
        A stream whose voice activity detector has reported no speech for this long
        sleeps: from the next :data:`GATE_SLOT_S` slot on, its psychoacoustic and pitch
        stages are not run and its frames carry NaN (not measured) for them, until a
        slot with speech. The windows only read speech frames, which are always
        measured (but for a frame or two where a VAD frame straddles the slot edge).
        None: never sleep.
    short_sleep_after_s : float
        The same for every stage but fluctuation strength (at most ``sleep_after_s``;
        ignored when that is None).
    """

    def __init__(
        self, n_streams: int, fs_hz: int, *, level_profile: LevelProfile | None = None,
        window_s: float = 3.0, hop_s: float = 1.0, min_speech_s: float = 1.0,
        sleep_after_s: float | None = SLEEP_AFTER_S,
        short_sleep_after_s: float = SHORT_SLEEP_AFTER_S,
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
        self.sleep_after_s = sleep_after_s
        self.short_sleep_after_s = (None if sleep_after_s is None
                                    else min(short_sleep_after_s, sleep_after_s))
        self._slot = round(GATE_SLOT_S * fs_hz)
        self._slots_done = 0
        self._held = np.zeros((n_streams, 0))  # samples of the slot in progress
        self._vad_end_s = np.zeros(0)  # VAD frames of the slot in progress
        self._vad_speech = np.zeros((n_streams, 0), dtype=bool)
        #: Per stream, the time (s) until which it stays awake: the end of its latest
        #: speech frame plus ``sleep_after_s``. :meth:`wake` pushes it later.
        self.awake_until_s = np.full(n_streams, -np.inf)
        self._near_until_s = np.full(n_streams, -np.inf)  # the same, short_sleep_after_s
        #: Stream-slots run and slept, and run with every stage, for the benchmarks.
        self.slots_awake = 0
        self.slots_asleep = 0
        self.slots_near = 0
        #: The other party's echo told from these streams' speech, once :meth:`process`
        #: is given the other party's voice activity.
        self.echo: EchoGate | None = None
        #: Speech frames dropped as the other party's echo (s, all streams).
        self.echo_s = 0.0

    def process(self, block: np.ndarray, other: VadFrames | None = None) -> FeatureWindows:
        """Advance every stream by digital samples ``(streams, samples)``: float in ±1.0,
        or int16 PCM (code ``k`` is ``k / 32768``; the same windows, and recordings stay
        a quarter of the size until the stages that need floats take their share).

        ``other``: the other party's voice activity over the same samples (a
        :class:`~emotion.vad.StreamingVAD` of this one's frame length, started with it).
        Given, frames of these streams that are the other party's echo
        (:class:`~emotion.echo.EchoGate`) are not speech for the windows or
        ``speech_s``. The live engine passes the caller's; pre-inspection, which sees
        the whole call, removes the leak afterwards (:mod:`qa.crosstalk`)."""
        if other is not None:
            if self.echo is None:
                self.echo = EchoGate(self.n_streams, self.vad.frame_ms)
            self.echo.add(other)
        block = np.asarray(block)
        if block.dtype != np.int16:
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

    def wake(self, rows, for_s: float) -> None:
        """Streams ``rows`` stay awake for the next ``for_s`` seconds of audio and then
        as speech decides. The live engine calls it when a call starts in a slot, so
        that the stages forget the previous call by running."""
        now_s = (self._slots_done * self._slot + self._held.shape[1]) / self.fs_hz
        self.awake_until_s[rows] = now_s + for_s
        self._near_until_s[rows] = now_s + for_s

    def _pascals(self, block: np.ndarray) -> np.ndarray:
        # Pa straight to the float32 the psychoacoustic stage works in (bit-identical to
        # ``to_pascals(block).astype(np.float32)``, without the float64 temporary). For
        # int16 codes the scale takes the exact factor 1/32768: the same products.
        scale = self.profile.full_scale_peak_pa / (32768 if block.dtype == np.int16 else 1)
        return np.multiply(block, np.float64(scale),
                           out=np.empty(block.shape, dtype=np.float32), casting="same_kind")

    def _process(self, block: np.ndarray) -> FeatureWindows:
        vad = self.vad.process(block)
        if self.vad_sink is not None:
            self.vad_sink.append(vad)
        if self.sleep_after_s is None:
            psycho = self.psycho.process(self._pascals(block))
            pitch = self.pitch.process(_digital(block))
            n_total, spec = psycho.loudness_sone, psycho.specific_loudness
            sharp, rough, fluct = (psycho.sharpness_acum, psycho.roughness_asper,
                                   psycho.fluctuation_vacil)
        else:
            (n_total, spec, sharp, rough, fluct), pitch = self._gated(block, vad)
        syllables = self.rate.update(pitch)
        speech = vad.speech
        if self.echo is not None:
            heard = speech & self.echo.heard(vad)
            speech = speech & ~heard
            self.echo_s += float(heard.sum()) * self.vad.frame_ms * 1e-3
        counted = speech & (vad.frame_time_s[None, :] <= self.count_until_s[:, None] + 1e-9)
        self.speech_s += counted.sum(axis=1) * self.vad.frame_ms * 1e-3
        per_frame = self._psycho_repeat
        balance = spectral_balance(spec, BARK_AXIS)
        balance[np.isnan(spec[..., 0])] = np.nan  # a sleeping stream's frames
        new = {
            "loudness": n_total,
            "sharpness": np.repeat(sharp, per_frame, axis=1),
            "roughness": np.repeat(rough, per_frame, axis=1),
            "fluctuation": np.repeat(fluct, per_frame, axis=1),
            "balance": np.repeat(balance, per_frame, axis=1),
            "speech": np.repeat(speech, self._vad_repeat, axis=1),
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

    def _gated(self, block: np.ndarray, vad: VadFrames):
        """Psychoacoustics and pitch of the streams awake, slot by slot (see
        ``sleep_after_s``): ``(loudness, specific loudness, sharpness, roughness,
        fluctuation)`` arrays and the pitch frames, NaN / unvoiced where asleep."""
        if self._held.shape[1] == 0:
            self._held = self._held.astype(block.dtype)
        elif self._held.dtype != block.dtype:  # int16 and float blocks mixed: all float
            self._held, block = _digital(self._held), _digital(block)
        held = np.concatenate([self._held, block], axis=1)
        n_slots = held.shape[1] // self._slot
        self._held = held[:, n_slots * self._slot :].copy()  # not a view of the block
        end_s = np.concatenate([self._vad_end_s, vad.frame_time_s])
        speech = np.concatenate([self._vad_speech, vad.speech], axis=1)
        slot_s = self._slot / self.fs_hz
        # Runs of slots in which the same streams are awake: (first, end, awake, near:
        # awake for every stage).
        runs: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        for k in range(n_slots):
            start_s = (self._slots_done + k) * slot_s
            inside = (end_s > start_s + 1e-9) & (end_s <= start_s + slot_s + 1e-9)
            if inside.any():
                last = np.where(speech[:, inside], end_s[inside], -np.inf).max(axis=1)
                np.maximum(self.awake_until_s, last + self.sleep_after_s,
                           out=self.awake_until_s)
                np.maximum(self._near_until_s, last + self.short_sleep_after_s,
                           out=self._near_until_s)
            awake = self.awake_until_s > start_s + 1e-9
            near = self._near_until_s > start_s + 1e-9
            if (runs and np.array_equal(runs[-1][2], awake)
                    and np.array_equal(runs[-1][3], near)):
                runs[-1] = (runs[-1][0], k + 1, awake, near)
            else:
                runs.append((k, k + 1, awake, near))
            self.slots_awake += int(awake.sum())
            self.slots_asleep += int(awake.size - awake.sum())
            self.slots_near += int(near.sum())
        done_s = (self._slots_done + n_slots) * slot_s
        pending = end_s > done_s + 1e-9
        self._vad_end_s, self._vad_speech = end_s[pending], speech[:, pending]
        self._slots_done += n_slots
        if not runs:  # no slot completed: advance the clocks by nothing
            every = np.ones(self.n_streams, dtype=bool)
            runs = [(0, 0, every, every)]
        psycho_parts, pitch_parts = [], []
        for a, b, awake, near in runs:
            piece = held[:, a * self._slot : b * self._slot]
            every = bool(awake.all())
            psycho = self.psycho.process(self._pascals(piece), None if every else awake,
                                         None if near.all() else near)
            psycho_parts.append((psycho.loudness_sone, psycho.specific_loudness,
                                 psycho.sharpness_acum, psycho.roughness_asper,
                                 psycho.fluctuation_vacil))
            pitch_parts.append(self.pitch.process(_digital(piece)) if near.all()
                               else _pitch_of_some(self.pitch, piece, near))
        psycho_out = tuple(np.concatenate(arrays, axis=1)
                           for arrays in zip(*psycho_parts, strict=True))
        return psycho_out, _joined_pitch(pitch_parts)


def _pitch_of_some(pitch: StreamingPitch, block: np.ndarray, awake: np.ndarray) -> PitchFrames:
    """``pitch.process(block)`` for the ``awake`` streams; the others read as silence
    (unvoiced, no level) and keep their state."""
    index = np.flatnonzero(awake)
    frames = advance_some(pitch, index, lambda part: part.process(_digital(block[index])))
    n, t = pitch.n_streams, frames.f0_hz.shape[1]

    def full(values, fill, dtype=np.float64):
        out = np.full((n, t), fill, dtype=dtype)
        out[index] = values
        return out

    return PitchFrames(
        first_frame=frames.first_frame, frame_time_s=frames.frame_time_s,
        f0_hz=full(frames.f0_hz, np.nan), voiced=full(frames.voiced, False, bool),
        aperiodicity=full(frames.aperiodicity, 1.0),
        band_level_db=full(frames.band_level_db, -np.inf),
        band_centroid_hz=full(frames.band_centroid_hz, np.nan),
        band_tilt_db=full(frames.band_tilt_db, np.nan),
    )


def _digital(block: np.ndarray) -> np.ndarray:
    """Float digital full scale of a block (int16 codes: ``k / 32768``, exact)."""
    return block * (1.0 / 32768) if block.dtype == np.int16 else block


def _joined_pitch(parts: list[PitchFrames]) -> PitchFrames:
    if len(parts) == 1:
        return parts[0]
    return PitchFrames(
        first_frame=parts[0].first_frame,
        frame_time_s=np.concatenate([p.frame_time_s for p in parts]),
        **{name: np.concatenate([getattr(p, name) for p in parts], axis=1)
           for name in ("f0_hz", "voiced", "aperiodicity", "band_level_db",
                        "band_centroid_hz", "band_tilt_db")},
    )


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
