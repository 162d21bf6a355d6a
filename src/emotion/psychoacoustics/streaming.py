"""Streaming psychoacoustics for live monitoring: many streams, block by block.

:class:`StreamingPsychoacoustics` advances every stream by whatever block arrives —
``(streams, samples)`` of sound pressure in Pa at 8 or 16 kHz — and returns the output
frames that block completed: one frame per ``hop_s`` (default 0.1 s) with the mean
specific loudness, sharpness, roughness and fluctuation strength, plus the total
loudness at its native 10 ms step (for N5 and other percentiles over a window).

All metrics share one clock: output frame ``k`` of every metric describes the audio
up to ``(k + 1) * hop_s`` seconds, so a block of any size yields aligned frames, and
feeding a signal in blocks of any size gives the same frames as feeding it whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emotion._stream_subsets import advance_some
from emotion.psychoacoustics._streaming_loudness import STEP_S as LOUDNESS_STEP_S
from emotion.psychoacoustics._streaming_loudness import StreamingLoudness
from emotion.psychoacoustics._streaming_modulation import (
    StreamingFluctuation,
    StreamingRoughness,
)
from emotion.psychoacoustics._zwicker_core import BARK_AXIS
from emotion.psychoacoustics.loudness_zwtv import loudness_n5
from emotion.psychoacoustics.sharpness_din import sharpness_din_from_loudness

SUPPORTED_RATES_HZ = (8000, 16000)
DZ_BARK = 0.1
#: Streams per internal group (see StreamingPsychoacoustics.__init__).
GROUP_SIZE = 64


@dataclass(frozen=True)
class PsychoacousticFrames:
    """Output frames completed by one :meth:`StreamingPsychoacoustics.process` call.

    Attributes
    ----------
    first_frame : int
        Index of the first output frame here; frame ``k`` ends at ``(k + 1) * hop_s``.
    time_s : ndarray, shape (F,)
        End time of each output frame, s.
    loudness_time_s : ndarray, shape (T,)
        End time of each 10 ms loudness step, s.
    loudness_sone : ndarray, shape (streams, T)
        Total loudness N(t) (ISO 532-1 time-varying, temporally weighted).
    specific_loudness : ndarray, shape (streams, F, 240)
        Mean specific loudness N'(z) over each output frame, sone/Bark.
    sharpness_acum : ndarray, shape (streams, F)
        DIN 45692 sharpness of each frame's mean specific loudness.
    roughness_asper : ndarray, shape (streams, F)
        Roughness over the 200 ms ending with each frame (or with the latest analysis,
        when ``roughness_update_s`` is longer than ``hop_s``).
    fluctuation_vacil : ndarray, shape (streams, F)
        Fluctuation strength over the 2 s ending with each frame (updated every
        0.5 s); NaN during a stream's first 2 s.
    """

    first_frame: int
    time_s: np.ndarray
    loudness_time_s: np.ndarray
    loudness_sone: np.ndarray
    specific_loudness: np.ndarray
    sharpness_acum: np.ndarray
    roughness_asper: np.ndarray
    fluctuation_vacil: np.ndarray

    @property
    def mean_loudness_sone(self) -> np.ndarray:
        """Mean total loudness over each output frame, shape (streams, F)."""
        steps = self.loudness_sone.shape[1] // max(self.time_s.size, 1)
        if self.time_s.size == 0:
            return np.zeros((self.loudness_sone.shape[0], 0))
        return self.loudness_sone.reshape(self.loudness_sone.shape[0], -1, steps).mean(axis=-1)


class StreamingPsychoacoustics:
    """Loudness, sharpness, roughness and fluctuation strength of many live streams.

    Parameters
    ----------
    n_streams : int
        Number of streams advanced together (seats).
    fs_hz : int
        8000 (telephone) or 16000 (wideband).
    hop_s : float
        Output step, a multiple of 10 ms (default 0.1 s).
    field_type : {"free", "diffuse"}
    roughness_update_s : float, optional
        Step between roughness analyses, a multiple of ``hop_s`` (default ``hop_s``);
        the output frames in between repeat the latest value.
    """

    def __init__(
        self, n_streams: int, fs_hz: int, *, hop_s: float = 0.1, field_type: str = "free",
        roughness_update_s: float | None = None,
    ) -> None:
        if int(fs_hz) not in SUPPORTED_RATES_HZ:
            raise ValueError(
                f"streaming psychoacoustics runs at 8000 or 16000 Hz, got {fs_hz}; "
                "resample first (capture.resample.resample)"
            )
        steps = hop_s / LOUDNESS_STEP_S
        if hop_s <= 0 or abs(steps - round(steps)) > 1e-9:
            raise ValueError(f"hop_s must be a positive multiple of 0.01 s, got {hop_s}")
        self.n_streams = int(n_streams)
        self.fs_hz = int(fs_hz)
        self.hop_s = float(hop_s)
        self._steps_per_frame = int(round(steps))
        # Streams advance in groups whose working arrays stay cache-sized; one group of
        # 1,000 streams runs ~25 % slower than sixteen of 64 (benchmarks/RESULTS.md).
        self._groups = [
            _StreamGroup(min(GROUP_SIZE, n_streams - start), self.fs_hz, self.hop_s, field_type,
                         roughness_update_s)
            for start in range(0, self.n_streams, GROUP_SIZE)
        ]
        self._frames_done = 0
        self._steps_done = 0

    def process(self, block_pa: np.ndarray, active: np.ndarray | None = None,
                near: np.ndarray | None = None) -> PsychoacousticFrames:
        """Advance all streams by ``block_pa`` (``(streams, samples)``, Pa).

        ``active`` (bool, per stream) runs only those streams: the others keep their
        state as it is and report NaN for the frames of this block (their rows of
        ``block_pa`` are not read). ``near`` (bool, per stream) narrows what runs
        further: an active stream not ``near`` advances only its fluctuation strength
        (and the spectrum it is read from) and reports NaN for the other metrics.
        """
        block = np.asarray(block_pa, dtype=np.float32)
        if block.ndim != 2 or block.shape[0] != self.n_streams:
            raise ValueError(
                f"block must be shaped (streams={self.n_streams}, samples), got {block.shape}"
            )
        if not np.all(np.isfinite(block)):
            raise ValueError("block contains NaN or inf; pass finite sound pressure in Pa")
        parts, start = [], 0
        for group in self._groups:
            rows = slice(start, start + group.n_streams)
            some = None if near is None else near[rows]
            if active is None or active[rows].all():
                parts.append(group.process(block[rows], some))
            else:
                parts.append(group.process_some(block[rows], active[rows], some))
            start += group.n_streams
        n_total, mean_spec, sharpness, roughness, fluctuation = (
            np.concatenate(arrays, axis=0) for arrays in zip(*parts, strict=True)
        )
        n_frames = roughness.shape[1]
        first = self._frames_done
        self._frames_done += n_frames
        step0 = self._steps_done
        self._steps_done += n_total.shape[1]
        return PsychoacousticFrames(
            first_frame=first,
            time_s=(np.arange(first, first + n_frames) + 1) * self.hop_s,
            loudness_time_s=(np.arange(step0, self._steps_done) + 1) * LOUDNESS_STEP_S,
            loudness_sone=n_total,
            specific_loudness=mean_spec,
            sharpness_acum=sharpness,
            roughness_asper=roughness,
            fluctuation_vacil=fluctuation,
        )

    def summarise(self, parts: list[PsychoacousticFrames], n5_window_s: float = 1.0):
        """One row per output frame of stream 0, for the command line.

        ``loudness_n5_sone`` is ISO 532-1's N5 (the loudness exceeded 5 % of the time)
        over the ``n5_window_s`` ending with the frame.
        """
        n = np.concatenate([p.loudness_sone[0] for p in parts])
        time_s = np.concatenate([p.time_s for p in parts])
        rows = []
        win = int(round(n5_window_s / LOUDNESS_STEP_S))
        for i, t in enumerate(time_s):
            end = (i + 1) * self._steps_per_frame
            seg = n[max(0, end - self._steps_per_frame) : end]
            window = n[max(0, end - win) : end]
            rows.append({
                "time_s": t,
                "loudness_sone": float(seg.mean()),
                "loudness_n5_sone": float(loudness_n5(window) if window.size > 1 else window[0]),
            })
        for key in ("sharpness_acum", "roughness_asper", "fluctuation_vacil"):
            values = np.concatenate([getattr(p, key)[0] for p in parts])
            for row, v in zip(rows, values, strict=True):
                row[key] = float(v)
        return rows


def _in_rows(values: np.ndarray, index: np.ndarray, n_streams: int) -> np.ndarray:
    """Results of streams ``index`` in their rows of an array for all streams, NaN elsewhere."""
    out = np.full((n_streams, *values.shape[1:]), np.nan, dtype=values.dtype)
    out[index] = values
    return out


class _StreamGroup:
    """The four metrics for one group of streams, sharing one short-time spectrum."""

    _STREAM_STATE = ()
    _STREAM_CHILDREN = ("roughness", "loudness", "fluctuation")

    def __init__(
        self, n_streams: int, fs_hz: int, hop_s: float, field_type: str,
        roughness_update_s: float | None = None,
    ) -> None:
        self.n_streams = n_streams
        self._steps_per_frame = int(round(hop_s / LOUDNESS_STEP_S))
        self.roughness = StreamingRoughness(n_streams, fs_hz, hop_s, roughness_update_s)
        self.loudness = StreamingLoudness(
            n_streams, fs_hz, field_type, short=self.roughness.envelopes.spectrum,
            spec_mean_steps=self._steps_per_frame,
        )
        self.fluctuation = StreamingFluctuation(n_streams, self.roughness.envelopes.rate_hz, hop_s)

    def process(self, block: np.ndarray, near: np.ndarray | None = None):
        """(N, mean N', sharpness, roughness, fluctuation) for the frames completed;
        streams not ``near`` (bool per stream) advance fluctuation strength alone."""
        short_power = self.roughness.envelopes.spectrum.process(block)
        envelopes = self.roughness.envelopes.process_power(short_power)
        fluctuation = self.fluctuation.process_envelopes(envelopes)
        if near is None or near.all():
            n_total, mean_spec = self.loudness.process(block, short_power)
            roughness = self.roughness.process_envelopes(envelopes)
        else:
            # The spectrum and envelopes have advanced already: the copies taken here
            # hold their new state and put it back unchanged.
            index = np.flatnonzero(near)
            n_total, mean_spec = advance_some(
                self.loudness, index, lambda part: part.process(block[index], short_power[index]))
            roughness = advance_some(
                self.roughness, index, lambda part: part.process_envelopes(envelopes[index]))
            n_total, mean_spec, roughness = (_in_rows(values, index, self.n_streams)
                                             for values in (n_total, mean_spec, roughness))

        sharpness = _sharpness(mean_spec)
        if near is not None:
            sharpness[~near] = np.nan  # not measured (it would read 0 from NaN loudness)
        _check_clocks(mean_spec, roughness, fluctuation)
        return n_total, mean_spec, sharpness, roughness, fluctuation

    def process_some(self, block: np.ndarray, awake: np.ndarray, near: np.ndarray | None = None):
        """:meth:`process` for the ``awake`` streams only (bool per stream): the others
        keep their state as it is and read NaN (their rows of ``block`` are not read).

        Each stage's state is taken out and put back once, for the streams that run it
        (:mod:`emotion._stream_subsets`): the spectrum, the envelopes and fluctuation
        strength for the awake streams, loudness and roughness for those also ``near``.
        Taking the whole group for the awake streams and then loudness and roughness
        again for the near ones gave the same values and copied roughness's held
        envelopes twice (most of what sleeping streams cost to take and put back).
        """
        index = np.flatnonzero(awake)

        def front(part):
            power = part.envelopes.spectrum.process(block[index])
            envelopes = part.envelopes.process_power(power)
            return power, envelopes, part.fluctuation.process_envelopes(envelopes)

        power, envelopes, fluctuation = advance_some(
            _Front(self.roughness.envelopes, self.fluctuation), index, front)
        inner = np.arange(index.size) if near is None else np.flatnonzero(near[index])
        rows = index[inner]
        n_total, mean_spec = advance_some(
            self.loudness, rows, lambda part: part.process(block[rows], power[inner]))
        roughness = advance_some(
            self.roughness, rows, lambda part: part.process_envelopes(envelopes[inner]))
        sharpness = _sharpness(mean_spec)
        _check_clocks(mean_spec, roughness, fluctuation)
        return (*(_in_rows(values, rows, self.n_streams)
                  for values in (n_total, mean_spec, sharpness, roughness)),
                _in_rows(fluctuation, index, self.n_streams))


class _Front:
    """The stages every awake stream of a group runs (the short-time spectrum within the
    channel envelopes, and fluctuation strength), as one stage to take and put back."""

    _STREAM_STATE = ()
    _STREAM_CHILDREN = ("envelopes", "fluctuation")

    def __init__(self, envelopes, fluctuation) -> None:
        self.envelopes = envelopes
        self.fluctuation = fluctuation


def _sharpness(mean_spec: np.ndarray) -> np.ndarray:
    """Sharpness (streams, frames) of frame-mean specific loudness (streams, frames, 240)."""
    n_streams, n_frames = mean_spec.shape[:2]
    n_from_spec = mean_spec.sum(axis=-1) * DZ_BARK
    # One stationary reading per (stream, frame). The trailing axis of 1 keeps it
    # stationary: flat (K,) and (K, 240) would be read as 240 time steps when
    # K = streams x frames happens to be 240 (48 streams and a 0.5 s block).
    return sharpness_din_from_loudness(
        n_from_spec.reshape(-1, 1), mean_spec.reshape(-1, 1, BARK_AXIS.size)
    ).reshape(n_streams, n_frames)


def _check_clocks(mean_spec: np.ndarray, roughness: np.ndarray, fluctuation: np.ndarray) -> None:
    # Every metric completes its frame k with sample (k + 1) * hop: same counts.
    n_frames = mean_spec.shape[1]
    if not roughness.shape[1] == n_frames == fluctuation.shape[1]:
        raise RuntimeError(
            f"metric clocks diverged: {roughness.shape[1]}, {n_frames}, "
            f"{fluctuation.shape[1]} frames"
        )
