"""Voice activity detection for many live streams: webrtcvad gated by an adaptive noise floor.

webrtcvad (the WebRTC GMM detector) is quick and finds quiet speech, but it also fires on
white noise, line hiss and breathing. Here a frame is a speech *candidate* when webrtcvad
says so **and** its level is at least ``margin_db`` above the stream's noise floor **and**
at least ``min_level_dbfs``. Speech starts once ``min_speech_ms`` of consecutive candidates
have arrived and is held for ``hangover_ms`` after the last one, so decisions do not chatter.

The level tests come first. webrtcvad is asked about the frames that pass them (about a
quarter of a call's frames; the others cannot be candidates whatever it says) and about
every ``QUIET_STRIDE``-th frame besides, so that its adaptive noise model keeps seeing
the line's noise: asked only about loud frames, it learnt quiet speech as noise and
dropped 70 % of a -45 dBov agent turn. Asked about 46 % of the frames, its decisions
differ from asking about all of them on 0.05 % of speech frames (80 benchmark calls),
and webrtcvad costs about half as much.

The noise floor is minimum statistics (R. Martin, IEEE TSAP 9(5), 2001, without the bias
correction, which the margin absorbs): the minimum, over the last ``noise_window_s``, of the
frame power smoothed with a 0.1 s time constant. Levels are RMS re full scale (dBFS, a
full-scale sine is -3 dBFS) after a 100 Hz high-pass, so DC, mains hum and rumble neither
count as speech nor raise the floor above it.

Frames do not overlap: frame ``j`` covers samples ``[j·L, (j+1)·L)`` of the stream and ends
at ``(j + 1) · frame_ms`` ms, so feeding a signal in blocks of any size gives the same
decisions as feeding it whole. The defaults were chosen on real speech in white, pink, brown
and babble noise at 10-30 dB SNR (``benchmarks/vad.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

import _webrtcvad
import numpy as np
import scipy.signal
import webrtcvad
from numba import njit

from emotion._subnormal import FLUSH_EVERY, flushed
from emotion.psychoacoustics._framing import check_stream_count

__all__ = ["SUPPORTED_RATES_HZ", "StreamingVAD", "VadFrames", "vad_segments"]

SUPPORTED_RATES_HZ = (8000, 16000)
FRAME_MS_CHOICES = (10, 20, 30)
LEVEL_FLOOR_DBFS = -120.0
"""Level reported for digital silence (and the lowest level ever reported)."""
#: webrtcvad is asked about every frame loud enough to be a candidate, and about every
#: this-many-th frame besides, so that its noise model keeps seeing the line's noise
#: (see the module docstring).
QUIET_STRIDE = 4
#: Default hangover (ms): speech is held this long after the last candidate frame.
HANGOVER_MS = 150.0
_HIGHPASS_HZ = 100.0
_FLOOR_SMOOTHING_S = 0.1


@dataclass(frozen=True)
class VadFrames:
    """Decisions for the frames completed by one :meth:`StreamingVAD.process` call.

    Attributes
    ----------
    first_frame : int
        Index of the first frame here; frame ``j`` ends at ``(j + 1) * frame_ms`` ms.
    frame_time_s : ndarray, shape (T,)
        End time of each frame, s since the streams started.
    speech : ndarray of bool, shape (streams, T)
        The decision: speech (after the gate, minimum run and hangover).
    level_dbfs : ndarray, shape (streams, T)
        Frame level after the 100 Hz high-pass, dB RMS re full scale (at least -120).
    noise_floor_dbfs : ndarray, shape (streams, T)
        The stream's noise-floor estimate at that frame, dBFS.
    webrtc_speech : ndarray of bool, shape (streams, T)
        webrtcvad's decision on the frames it was asked about, False on the others (for
        diagnosis; see the module docstring).
    """

    first_frame: int
    frame_time_s: np.ndarray
    speech: np.ndarray
    level_dbfs: np.ndarray
    noise_floor_dbfs: np.ndarray
    webrtc_speech: np.ndarray


class StreamingVAD:
    """Speech/non-speech decisions for many live streams, block by block.

    Every default below was chosen on development speakers (not those of the reported
    accuracy) by ``python benchmarks/vad.py --sweep``; figures are 10 ms frame accuracy
    (telephone / wideband), recall and false-alarm rate, pooled over white, pink, brown
    and babble noise at 10-30 dB SNR and speech at -36 to -16 dBov.

    Parameters
    ----------
    n_streams : int
        Number of streams (seats) advanced together.
    fs_hz : int
        8000 (telephone) or 16000 (wideband).
    frame_ms : {10, 20, 30}
        Decision frame. 30 ms: as accurate as 10 or 20 ms (0.883 / 0.917 against 0.880 /
        0.914 at 10 ms) with the fewest false alarms (0.112 against 0.129), and webrtcvad
        costs half as much per second of audio as at 10 ms.
    aggressiveness : {0, 1, 2, 3}
        webrtcvad's mode. Once gated, modes 0 and 1 score the same; 2 and 3 lose recall
        (0.911, 0.905, 0.890), most on quiet lines, as webrtcvad's own energy thresholds
        rise with the mode.
    margin_db : float
        A candidate frame's level must be at least this far above the noise floor.
        9 dB is best (8 and 10 dB within 0.3 points); 6 dB lets 16 % of non-speech
        through, 12 dB loses 5.5 points of recall.
    min_level_dbfs : float
        ... and at least this level, whatever the floor (quiet breathing, a distant
        voice). -50 dBFS scored 0.4 points better (quiet lines with babble) but would cut
        the speech of lines quieter than the benchmark's -36 dBov; -60 keeps 24 dB below.
    hangover_ms : float
        Speech is held this long after the last candidate frame. 150 ms is best (120 and
        180 ms within 0.4 points); without it recall drops to 0.71 and decisions chatter
        (95 segments a minute against 29).
    min_speech_ms : float
        Consecutive candidate frames needed before speech starts. The decision is
        causal, so the frames before the confirming one stay non-speech: 60 ms costs
        3.6 points of recall for 1.3 points fewer false alarms, hence off (0) by
        default; raise it on lines with clicks.
    noise_window_s : float
        Length of the minimum-statistics window: a rise in the noise is followed within
        this time, and speech needs a dip to the noise floor at least this often. At 1 s
        the floor climbs into long phrases (recall 0.74); 4 s lets more noise through
        (false alarms 0.143 against 0.112).
    """

    def __init__(
        self,
        n_streams: int,
        fs_hz: int,
        *,
        frame_ms: int = 30,
        aggressiveness: int = 1,
        margin_db: float = 9.0,
        min_level_dbfs: float = -60.0,
        hangover_ms: float = HANGOVER_MS,
        min_speech_ms: float = 0.0,
        noise_window_s: float = 2.0,
    ) -> None:
        check_stream_count(n_streams)
        if fs_hz not in SUPPORTED_RATES_HZ:
            raise ValueError(
                f"StreamingVAD runs at 8000 or 16000 Hz, got {fs_hz!r}; resample first, e.g. "
                f"capture.resample.resample(samples, {fs_hz!r}, 8000)"
            )
        if frame_ms not in FRAME_MS_CHOICES:
            raise ValueError(
                f"frame_ms must be 10, 20 or 30 (webrtcvad's frames), got {frame_ms!r}"
            )
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, got {aggressiveness!r}")
        for name, value in (("hangover_ms", hangover_ms), ("min_speech_ms", min_speech_ms)):
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0 ms, got {value!r}")
        if not noise_window_s >= frame_ms / 1000:
            raise ValueError(
                f"noise_window_s must be at least one frame ({frame_ms} ms), got {noise_window_s!r}"
            )
        if not (np.isfinite(margin_db) and np.isfinite(min_level_dbfs)):
            raise ValueError("margin_db and min_level_dbfs must be finite numbers of dB")
        self.n_streams = int(n_streams)
        self.fs_hz = int(fs_hz)
        self.frame_ms = int(frame_ms)
        self.aggressiveness = int(aggressiveness)
        self.margin_db = float(margin_db)
        self.min_level_dbfs = float(min_level_dbfs)
        self.frame_len = self.fs_hz * self.frame_ms // 1000
        frame_s = self.frame_ms / 1000
        self._min_run = max(1, int(round(min_speech_ms / self.frame_ms)))
        self._hang = int(round(hangover_ms / self.frame_ms))
        self._alpha = float(np.exp(-frame_s / _FLOOR_SMOOTHING_S))
        self._biquad = _highpass_biquad(self.fs_hz).copy()
        n, window = self.n_streams, max(1, int(round(noise_window_s / frame_s)))
        self._vads = [webrtcvad.Vad(self.aggressiveness) for _ in range(n)]
        self._zi = np.zeros((n, 2))
        self._pending_pcm = np.zeros((n, 0), dtype=np.int16)
        self._pending_hp = np.zeros((n, 0))
        self._smooth_pow = np.zeros(n)
        self._fresh = np.ones(n, dtype=np.bool_)
        self._ring_db = np.full((n, window), np.inf)
        self._ring_pos = 0
        self._run = np.zeros(n, dtype=np.int64)
        self._hold = np.zeros(n, dtype=np.int64)
        self._frames_done = 0

    @property
    def frame_s(self) -> float:
        """Frame length and step, s."""
        return self.frame_ms / 1000

    def process(self, block: np.ndarray) -> VadFrames:
        """Advance every stream by ``block`` and decide the frames it completes.

        Parameters
        ----------
        block : array_like, shape (streams, samples)
            Digital samples, float in ±1.0 full scale (values past ±1 are clipped; past
            ±2 are refused as mis-scaled) or int16 PCM. Any number of samples.

        Returns
        -------
        VadFrames
            The frames this block completed (possibly none).

        Raises
        ------
        ValueError
            On a wrong shape, a NaN/inf or mis-scaled sample; the state is left untouched.
        """
        x = self._check_block(block)
        n_pending = self._pending_pcm.shape[1]
        pcm = np.empty((self.n_streams, n_pending + x.shape[1]), dtype=np.int16)
        hp = np.empty(pcm.shape)
        pcm[:, :n_pending], hp[:, :n_pending] = self._pending_pcm, self._pending_hp
        zi = self._zi.copy()
        start = self._frames_done * self.frame_len + n_pending  # samples before x
        n_bad, peak = _prepare_kernel(x, x.dtype == np.int16, self._biquad, zi, hp, pcm,
                                      n_pending, start)
        if n_bad:
            raise ValueError(
                f"block contains {n_bad} NaN or inf samples; pass finite samples in ±1.0 "
                "full scale"
            )
        if peak > 2.0:
            raise ValueError(
                f"block reaches {peak:.4g}, far beyond full scale ±1.0; if these are 16-bit "
                "sample values, divide by 32768 (or pass them as int16)"
            )
        n_frames = pcm.shape[1] // self.frame_len
        used = n_frames * self.frame_len
        frames_hp = hp[:, :used].reshape(self.n_streams, n_frames, self.frame_len)
        power = np.einsum("stk,stk->st", frames_hp, frames_hp) / self.frame_len
        level_db = 10 * np.log10(np.maximum(power, 10 ** (LEVEL_FLOOR_DBFS / 10)))
        floor_db = np.zeros((self.n_streams, n_frames))
        self._ring_pos = _floor_kernel(level_db, self._smooth_pow, self._fresh, self._ring_db,
                                       self._ring_pos, self._alpha, floor_db)
        loud = (level_db >= floor_db + self.margin_db) & (level_db >= self.min_level_dbfs)
        # Frame numbers count from the stream's start: any blocks ask about the same frames.
        sampled = np.arange(self._frames_done, self._frames_done + n_frames) % QUIET_STRIDE == 0
        webrtc = self._webrtc(pcm[:, :used], n_frames, loud | sampled[None, :])
        speech = np.zeros((self.n_streams, n_frames), dtype=np.bool_)
        _decide_kernel(webrtc & loud, self._run, self._hold, self._min_run, self._hang, speech)
        self._zi = zi
        self._pending_pcm = pcm[:, used:].copy()
        self._pending_hp = hp[:, used:].copy()
        first = self._frames_done
        self._frames_done += n_frames
        return VadFrames(
            first_frame=first,
            frame_time_s=np.arange(first + 1, self._frames_done + 1) * self.frame_s,
            speech=speech,
            level_dbfs=level_db,
            noise_floor_dbfs=floor_db,
            webrtc_speech=webrtc,
        )

    def skip(self, n_samples: int) -> None:
        """Advance the shared frame clock by ``n_samples`` without deciding anything, as
        if every stream had been given digital silence but for its state: each stream's
        filters and noise floor keep what they had, so only streams :meth:`reset` before
        their next use should be skipped over (the live engine skips its caller detector
        while no call in the group has a caller channel, and resets a slot's row when a
        call starts). The frames then end where they would have."""
        n_samples = int(n_samples)
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        total = self._pending_pcm.shape[1] + n_samples
        self._frames_done += total // self.frame_len
        rest = total % self.frame_len
        self._pending_pcm = np.zeros((self.n_streams, rest), dtype=np.int16)
        self._pending_hp = np.zeros((self.n_streams, rest))

    def reset(self, stream_index: int) -> None:
        """Forget everything about one stream (a seat left; the next call starts afresh).

        The stream keeps the shared frame clock; the samples it had buffered towards its
        current frame are replaced by zeros.
        """
        if isinstance(stream_index, bool) or not isinstance(stream_index, int | np.integer):
            raise TypeError(f"stream_index must be an integer, got {stream_index!r}")
        if not 0 <= stream_index < self.n_streams:
            raise IndexError(
                f"stream_index {stream_index} is out of range for {self.n_streams} streams"
            )
        i = int(stream_index)
        self._vads[i] = webrtcvad.Vad(self.aggressiveness)
        self._zi[i] = 0.0
        self._pending_pcm[i] = 0
        self._pending_hp[i] = 0.0
        self._smooth_pow[i] = 0.0
        self._fresh[i] = True
        self._ring_db[i] = np.inf
        self._run[i] = 0
        self._hold[i] = 0

    def _check_block(self, block) -> np.ndarray:
        """The block as an array of a dtype the kernels take, if its shape and type fit."""
        arr = np.asarray(block)
        if arr.ndim != 2 or arr.shape[0] != self.n_streams:
            raise ValueError(
                f"block must be shaped (streams={self.n_streams}, samples), got {arr.shape}"
            )
        if arr.dtype in (np.int16, np.float32, np.float64):
            return arr
        if np.issubdtype(arr.dtype, np.floating):
            return arr.astype(np.float64)
        raise ValueError(
            f"block must be float samples in ±1.0 full scale or int16 PCM, got dtype {arr.dtype}"
        )

    def _webrtc(self, pcm: np.ndarray, n_frames: int, ask: np.ndarray) -> np.ndarray:
        """webrtcvad's decision on the frames ``ask`` (streams, T) marks, False on the
        others: one C call per frame asked, each stream's frames in order."""
        decided = np.zeros((self.n_streams, n_frames), dtype=np.bool_)
        rows, cols = np.nonzero(ask)
        if rows.size == 0:
            return decided
        # The C call itself, without the wrapper's per-call argument checks (the frames
        # are whole by construction): a tenth of webrtcvad's cost at 30 ms frames.
        frame_bytes = 2 * self.frame_len
        data = pcm.reshape(self.n_streams, n_frames, self.frame_len)[rows, cols].tobytes()
        frames = [data[i : i + frame_bytes] for i in range(0, len(data), frame_bytes)]
        handles = [self._vads[r]._vad for r in rows.tolist()]
        decided[rows, cols] = list(map(_webrtcvad.process, handles,
                                       repeat(self.fs_hz, len(frames)), frames,
                                       repeat(self.frame_len, len(frames))))
        return decided


@lru_cache(maxsize=4)
def _highpass_biquad(fs_hz: int) -> np.ndarray:
    """(b0, b1, b2, a1, a2) of the high-pass, normalised by a0; designed once per rate."""
    b, a = scipy.signal.butter(2, _HIGHPASS_HZ, "highpass", fs=fs_hz)
    biquad = np.array([b[0], b[1], b[2], a[1], a[2]]) / a[0]
    biquad.flags.writeable = False
    return biquad


#: Streams whose high-pass recursions :func:`_prepare_kernel` runs side by side.
_FILTER_STREAMS = 8


@njit(cache=True, nogil=True)
def _prepare_kernel(x, is_int, biquad, zi, hp_out, pcm_out, offset, start):  # pragma: no cover
    """High-pass (one biquad, transposed direct form II) and 16-bit PCM of each sample.

    ``x`` is float in ±1.0 or int16; outputs go to ``[:, offset:]`` of ``hp_out`` and
    ``pcm_out``; ``zi`` (streams, 2) is advanced in place. Returns the
    number of non-finite samples and the largest magnitude, for the caller to refuse.
    The filter runs across streams in the inner loop so their recursions overlap.
    ``start`` counts the samples before ``x``: the states are flushed
    (:mod:`emotion._subnormal`) at the same samples however the input is cut into blocks.
    """
    b0, b1, b2, a1, a2 = biquad[0], biquad[1], biquad[2], biquad[3], biquad[4]
    scale = 1.0 / 32768.0 if is_int else 1.0
    n_streams, n_samples = x.shape
    z1, z2 = zi[:, 0].copy(), zi[:, 1].copy()
    # Streams a few at a time: enough recursions to overlap, few enough rows that the
    # strided walk over samples stays within the TLB and cache.
    for first in range(0, n_streams, _FILTER_STREAMS):
        last = min(first + _FILTER_STREAMS, n_streams)
        for k in range(n_samples):
            if (start + k) % FLUSH_EVERY == 0:  # silence decays to zero
                for s in range(first, last):
                    z1[s] = flushed(z1[s])
                    z2[s] = flushed(z2[s])
            for s in range(first, last):
                v = x[s, k] * scale
                y = b0 * v + z1[s]
                z1[s] = b1 * v - a1 * y + z2[s]
                z2[s] = b2 * v - a2 * y
                hp_out[s, offset + k] = y
    zi[:, 0], zi[:, 1] = z1, z2
    n_bad, peak = 0, 0.0
    for s in range(n_streams):
        for k in range(n_samples):
            if is_int:
                pcm_out[s, offset + k] = x[s, k]
                continue
            v = float(x[s, k])
            if not np.isfinite(v):
                n_bad += 1
                v = 0.0
            peak = max(peak, abs(v))
            pcm_out[s, offset + k] = min(max(np.rint(v * 32768.0), -32768.0), 32767.0)
    return n_bad, peak


@njit(cache=True, nogil=True)
def _floor_kernel(
    level_db, smooth_pow, fresh, ring_db, ring_pos, alpha, floor_out,
):  # pragma: no cover - compiled
    """Minimum-statistics noise floor of each frame, in place.

    Returns the ring position after the last frame (shared by all streams).
    """
    n_streams, n_frames = level_db.shape
    window = ring_db.shape[1]
    for s in range(n_streams):
        pos = ring_pos
        for t in range(n_frames):
            power = 10.0 ** (level_db[s, t] / 10.0)
            if fresh[s]:
                smooth_pow[s] = power
                fresh[s] = False
            else:
                smooth_pow[s] = alpha * smooth_pow[s] + (1.0 - alpha) * power
            ring_db[s, pos] = 10.0 * np.log10(smooth_pow[s])
            pos = (pos + 1) % window
            floor_out[s, t] = ring_db[s].min()
    return (ring_pos + n_frames) % window


@njit(cache=True, nogil=True)
def _decide_kernel(candidate, run, hold, min_run, hang, speech_out):  # pragma: no cover
    """Minimum run and hangover over the candidate frames, in place."""
    n_streams, n_frames = candidate.shape
    for s in range(n_streams):
        for t in range(n_frames):
            run[s] = run[s] + 1 if candidate[s, t] else 0
            if candidate[s, t] and (run[s] >= min_run or hold[s] > 0):
                hold[s] = hang + 1
            elif hold[s] > 0:
                hold[s] -= 1
            speech_out[s, t] = hold[s] > 0


def vad_segments(samples, fs_hz: int, **kwargs):
    """Speech mask and speech segments of whole recordings (the streaming decisions).

    Parameters
    ----------
    samples : array_like, shape (samples,) or (streams, samples)
        Digital samples in ±1.0 full scale (or int16 PCM) at 8 or 16 kHz.
    fs_hz : int
        8000 or 16000.
    **kwargs
        Any :class:`StreamingVAD` keyword (``frame_ms``, ``margin_db``, ...).

    Returns
    -------
    speech : ndarray of bool, shape (T,) or (streams, T)
        Decision per frame; frame ``t`` covers ``[t, t + 1) · frame_ms`` ms. A trailing
        part-frame is not decided.
    segments_s : ndarray, shape (n, 2), or a list of them per stream
        ``(start_s, end_s)`` of each run of speech frames, end exclusive.
    """
    arr = np.asarray(samples)
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"samples must be shaped (samples,) or (streams, samples), got {arr.shape}"
        )
    streams = arr[None] if arr.ndim == 1 else arr
    vad = StreamingVAD(streams.shape[0], fs_hz, **kwargs)
    speech = vad.process(streams).speech
    segments = [_runs_s(row, vad.frame_s) for row in speech]
    if arr.ndim == 1:
        return speech[0], segments[0]
    return speech, segments


def _runs_s(mask: np.ndarray, frame_s: float) -> np.ndarray:
    """``(n, 2)`` start and end times of the runs of True in a frame mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return np.column_stack([starts, ends]) * frame_s
