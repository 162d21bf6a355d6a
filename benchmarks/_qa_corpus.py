"""Speech material for the QA test calls: each speaker's corpus files, trimmed, by role.

The corpus protocol's roles (:func:`voiceline.corpus_protocol.read_manifest`) decide
what a speaker may say where: calibration files (every other neutral file; RAVDESS calm
too) only ever fit that speaker's baseline; test-neutral files are their ordinary speech
in calls; anger files are agitated turns; EmoDB sadness and boredom are low-energy
turns. Every file is trimmed to its speech so that the calls' ground truth (silences,
reply gaps, overlaps) is exact to about 10 ms. One gain per speaker brings their
calibration speech, band-limited to the telephone band, to -26 dBov (ITU-T P.56), as the
detection protocol does; a loud anger file stays loud.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

FS_HZ = 16000  # the corpora's rate; calls are built here, then put on the line
NOMINAL_LEVEL_DBOV = -26.0
TRIM_FRAME_S = 0.01
TRIM_RANGE_DB = 30.0
TRIM_ABOVE_FLOOR_DB = 15.0
TRIM_MIN_RANGE_DB = 25.0
TRIM_MIN_RUN_S = 0.05
TRIM_MARGIN_S = 0.02
LOW_ENERGY = ("sadness", "boredom")


@dataclass
class Utterance:
    """One corpus file trimmed to its speech, at :data:`FS_HZ`, speaker gain applied."""

    path: str  # relative to the data directory, as in truth.json
    emotion: str
    role: str
    samples: np.ndarray  # (samples,)

    @property
    def duration_s(self) -> float:
        return self.samples.size / FS_HZ


@dataclass
class Speaker:
    """A speaker's utterances by use, and the gain that set their level."""

    corpus: str
    name: str
    gain_db: float
    calibration: list[Utterance] = field(default_factory=list)
    neutral: list[Utterance] = field(default_factory=list)  # test-neutral: ordinary speech
    anger: list[Utterance] = field(default_factory=list)
    low_energy: list[Utterance] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Speaker id usable as an agent id (letters, digits, '-', '_')."""
        return f"{self.corpus}-{self.name}"


def trim_to_speech(x: np.ndarray, fs_hz: int = FS_HZ) -> np.ndarray:
    """``x`` from the first to the last stretch of speech (leading and trailing noise cut).

    A 10 ms frame is active if its telephone-band energy, smoothed over 50 ms, is within
    :data:`TRIM_RANGE_DB` of the loudest frame and :data:`TRIM_ABOVE_FLOOR_DB` above the
    recording's own noise floor (its 10th-percentile frame; the floor's share of the
    threshold is capped at :data:`TRIM_MIN_RANGE_DB` below the peak, for EmoDB files
    that are speech throughout). Some RAVDESS takes have clicks and room noise 35-45 dB
    below their vowels for up to a second before and after the sentence, which a
    40 dB range kept as "speech" (the product's VAD then rightly heard the speech start
    up to a second after the truth said). 30 dB cuts at most the faintest onset or decay
    (tens of ms), well inside the 1 s matching tolerance. The edges are the first and
    last runs of at least :data:`TRIM_MIN_RUN_S`, so a click does not count; a margin of
    :data:`TRIM_MARGIN_S` keeps onsets and decays.
    """
    import scipy.signal

    from capture.telephone import TELEPHONE_BAND_HZ

    hop = int(TRIM_FRAME_S * fs_hz)
    n = x.size // hop
    if n < 5:
        return x
    # judged in the telephone band (zero phase): low rumble is not speech on the line
    sos = scipy.signal.butter(6, TELEPHONE_BAND_HZ, btype="bandpass", fs=fs_hz, output="sos")
    band = scipy.signal.sosfiltfilt(sos, x)
    power = np.mean(band[: n * hop].reshape(n, hop) ** 2, axis=1)
    energy_db = 10 * np.log10(np.convolve(power, np.ones(5) / 5, mode="same") + 1e-20)
    floor_db = np.percentile(energy_db, 10)
    threshold = max(energy_db.max() - TRIM_RANGE_DB,
                    min(floor_db + TRIM_ABOVE_FLOOR_DB, energy_db.max() - TRIM_MIN_RANGE_DB))
    active = energy_db > threshold
    min_run = int(round(TRIM_MIN_RUN_S / TRIM_FRAME_S))
    runs = np.flatnonzero(np.convolve(active, np.ones(min_run), mode="valid") == min_run)
    if runs.size == 0:
        return x
    first, last = runs[0], runs[-1] + min_run - 1
    margin = int(TRIM_MARGIN_S * fs_hz)
    return x[max(first * hop - margin, 0): min((last + 1) * hop + margin, x.size)]


def telephone_band_level_dbov(x: np.ndarray, fs_hz: int = FS_HZ) -> float:
    """P.56 active speech level of ``x`` after the telephone band-pass (dBov)."""
    from capture.levels import active_speech_level_dbfs
    from capture.telephone import band_limit

    return float(active_speech_level_dbfs(band_limit(x, fs_hz), fs_hz))


def load_speakers(data_dir: Path, corpus: str, names: list[str] | None = None) -> list[Speaker]:
    """The corpus's speakers (all, or ``names``), their files trimmed, by role."""
    from capture.audio import read_audio
    from voiceline.corpus_protocol import read_manifest

    items = read_manifest(data_dir, corpus)
    wanted = sorted({i.speaker for i in items} if names is None else set(names))
    speakers = []
    for name in wanted:
        mine = [i for i in items if i.speaker == name]
        utts = []
        for item in mine:
            clip = read_audio(item.path, channel=0, target_fs_hz=FS_HZ)
            utts.append(Utterance(str(item.path.relative_to(data_dir)), item.emotion, item.role,
                                  trim_to_speech(clip.samples[0])))
        calib = [u for u in utts if u.role == "calibration"]
        level = telephone_band_level_dbov(np.concatenate([u.samples for u in calib]))
        gain_db = NOMINAL_LEVEL_DBOV - level
        for u in utts:
            u.samples = u.samples * 10 ** (gain_db / 20)
        speakers.append(Speaker(
            corpus, name, gain_db, calibration=calib,
            neutral=[u for u in utts if u.role == "test-neutral"],
            anger=[u for u in utts if u.emotion == "anger"],
            low_energy=[u for u in utts if u.emotion in LOW_ENERGY],
        ))
    return speakers


def wsola(x: np.ndarray, rate: float, fs_hz: int = FS_HZ, *, frame_s: float = 0.03,
          tolerance_s: float = 0.01) -> np.ndarray:
    """Time-scale ``x`` by ``rate`` (> 1: faster) keeping its pitch: WSOLA.

    Verhelst & Roelands (1993): Hann frames at half-frame output hops; each input frame
    is taken within ±``tolerance_s`` of its nominal position where it best continues the
    previous one (maximum cross-correlation), so waveforms join in phase. Unlike a phase
    vocoder it keeps transients and voicing sharp, which is what a speech-rate measure
    counts.
    """
    n = int(round(frame_s * fs_hz)) // 2 * 2
    hop_out = n // 2
    hop_in = hop_out * rate
    tol = int(round(tolerance_s * fs_hz))
    padded = np.concatenate([np.zeros(tol), x, np.zeros(n + tol + int(hop_in) + 1)])
    frames = int(np.ceil(x.size / hop_in))
    window = np.hanning(n + 1)[:n]  # periodic Hann: overlap-adds to 1 at hop n/2
    out = np.zeros(frames * hop_out + n)
    pos = tol  # padded index of the frame taken last
    for k in range(frames):
        if k:
            nominal = tol + int(round(k * hop_in))
            natural = padded[pos + hop_out: pos + hop_out + n]
            search = padded[nominal - tol: nominal + tol + n]
            corr = sliding_window_view(search, n) @ natural
            pos = nominal - tol + int(np.argmax(corr))
        out[k * hop_out: k * hop_out + n] += window * padded[pos: pos + n]
    return out[: int(round(x.size / rate))]
