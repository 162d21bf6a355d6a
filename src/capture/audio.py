"""Reading recordings: audio files to float64 ``(channels, samples)`` arrays at a known rate.

``read_audio`` wraps soundfile (libsndfile) and turns every problem a user can cause —
a missing, empty, truncated or unreadable file, a wrong channel, an odd sample rate,
NaN samples, float samples far past full scale — into an :class:`AudioError` that says
what, where and what to do.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import numpy as np
import soundfile as sf

from capture.resample import resample

__all__ = ["AudioClip", "AudioError", "audio_info", "read_audio", "read_pcm16"]

_WAV_UNKNOWN_LENGTH = 0xFFFFFFFF
"""Data-chunk size written by streaming recorders that never finalise the header."""

_MAGIC_FORMATS = (
    (0, b"ID3", "MP3"),
    (0, b"\xff\xfb", "MP3"),
    (0, b"\xff\xf3", "MP3"),
    (4, b"ftyp", "MP4/M4A (AAC)"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"#!AMR", "AMR"),
    (0, b"OggS", "Ogg (Opus?)"),
)
"""Byte signatures of formats worth naming when libsndfile does not recognise a file."""

MAX_FLOAT_PEAK = 2.0
"""Float samples may pass digital full scale (±1.0) a little — they are clipped where
analysed — but a file reaching past this is mis-scaled (16-bit values saved as float, a
gain applied twice): analysing it would give nonsense, so it is refused, as the VAD
refuses such a block (``emotion.vad``)."""


class AudioError(ValueError):
    """An audio file or audio parameter a user supplied cannot be used.

    The message says what was wrong, where (file, channel, sample index) and what to do.
    """


@dataclass(frozen=True, eq=False)
class AudioClip:
    """Samples of a recording in digital full scale, with their rate and origin.

    Attributes
    ----------
    samples : numpy.ndarray of float64
        Shaped ``(channels, samples)``; digital full scale is ±1.0 (an int16 sample
        ``k`` is ``k / 32768``). Float files may exceed ±1.0.
    fs_hz : int
        Sample rate of ``samples`` in Hz (after any resampling).
    source : str
        Where the samples came from (the file path as given).
    subtype : str
        Sample encoding in the file, as libsndfile names it ('PCM_16', 'PCM_24',
        'PCM_32', 'FLOAT', 'ULAW', ...).
    file_format : str
        Container format as libsndfile names it ('WAV', 'FLAC', ...); '' if unknown.
    """

    samples: np.ndarray
    fs_hz: int
    source: str
    subtype: str
    file_format: str = ""

    def __post_init__(self) -> None:
        samples = np.asarray(self.samples, dtype=np.float64)
        if samples.ndim != 2:
            raise ValueError(
                f"AudioClip.samples must be shaped (channels, samples), got shape {samples.shape}"
            )
        object.__setattr__(self, "samples", samples)

    @property
    def n_channels(self) -> int:
        """Number of channels (the first axis of ``samples``)."""
        return int(self.samples.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples per channel."""
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return self.n_samples / self.fs_hz


def read_audio(
    path: str | os.PathLike[str],
    *,
    channel: int | None = None,
    target_fs_hz: int | None = None,
    min_fs_hz: int = 8000,
    max_fs_hz: int = 48000,
) -> AudioClip:
    """Read an audio file into float64 samples in digital full scale.

    WAV and FLAC are the supported formats (int16, int24, int32 and float samples);
    other formats that libsndfile reads are accepted too and named in the result's
    ``file_format``.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    channel : int, optional
        Keep only this channel (0-based; in Voiceline's stereo recordings channel 0 is
        the agent). The result is still shaped ``(1, samples)``. Default: all channels.
    target_fs_hz : int, optional
        Resample to this rate (libsoxr, high quality). Default: keep the file's rate.
    min_fs_hz, max_fs_hz : int
        The file's own sample rate must lie in this range (telephone 8 kHz up to 48 kHz).

    Returns
    -------
    AudioClip
        ``samples`` shaped ``(channels, samples)`` (``(1, samples)`` with ``channel``).

    Raises
    ------
    AudioError
        If the file is missing, empty, truncated, in a format libsndfile cannot read, has
        no channels, no frames, a sample rate outside ``[min_fs_hz, max_fs_hz]``, fewer
        channels than ``channel`` asks for, NaN/infinite samples, or float samples past
        ±:data:`MAX_FLOAT_PEAK`; or if ``target_fs_hz`` is not a positive integer.
    """
    where = str(path)
    file = Path(path)
    _check_file_exists(file, where)
    if target_fs_hz is not None and (not _is_int(target_fs_hz) or target_fs_hz <= 0):
        raise AudioError(
            f"target_fs_hz must be a positive whole number of Hz (e.g. 8000 or 16000), got "
            f"{target_fs_hz!r} (reading {where})"
        )
    info = _checked_info(file, where, channel, min_fs_hz, max_fs_hz)
    frames = _read_frames(file, where, info, "float64")
    channels = np.arange(info.channels)
    if channel is not None:
        frames, channels = frames[:, [channel]], channels[[channel]]
    samples = np.ascontiguousarray(frames.T)
    _check_finite(samples, channels, info.samplerate, where)
    _check_scale(samples, channels, info.samplerate, where)

    fs_hz = int(info.samplerate)
    if target_fs_hz is not None and target_fs_hz != fs_hz:
        samples = resample(samples, fs_hz, target_fs_hz)
        fs_hz = int(target_fs_hz)
    return AudioClip(
        samples=samples, fs_hz=fs_hz, source=where, subtype=info.subtype, file_format=info.format
    )


def read_pcm16(
    path: str | os.PathLike[str], *, min_fs_hz: int = 8000, max_fs_hz: int = 48000,
    rates_hz: tuple[int, ...] | None = None,
) -> tuple[np.ndarray, int] | None:
    """Read a 16-bit PCM file's own sample codes, without converting them.

    For the batch tools, which hold hours of audio at once: int16 is a quarter of
    float64's memory and is read without a conversion pass. Code ``k`` is ``k / 32768``
    in digital full scale, exactly the value :func:`read_audio` gives.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    min_fs_hz, max_fs_hz : int
        As for :func:`read_audio`.
    rates_hz : tuple of int, optional
        Rates the caller can use as they are; a file at another rate is not read.

    Returns
    -------
    (codes, fs_hz) or None
        ``codes`` int16 shaped ``(channels, samples)`` and the file's rate in Hz; None
        when the file holds another encoding or a rate not in ``rates_hz`` (read it with
        :func:`read_audio`).

    Raises
    ------
    AudioError
        For the same problems as :func:`read_audio`.
    """
    where = str(path)
    file = Path(path)
    _check_file_exists(file, where)
    info = _checked_info(file, where, None, min_fs_hz, max_fs_hz)
    if info.subtype != "PCM_16" or (rates_hz is not None and info.samplerate not in rates_hz):
        return None
    frames = _read_frames(file, where, info, "int16")
    return np.ascontiguousarray(frames.T), int(info.samplerate)


def audio_info(path: str | os.PathLike[str], *, min_fs_hz: int = 8000,
               max_fs_hz: int = 48000) -> sf._SoundFileInfo:
    """The header of a recording that :func:`read_audio` would take, or the same
    :class:`AudioError` it would give (a 0-byte file, an MP3, a rate out of range ...)."""
    file = Path(path)
    where = str(file)
    _check_file_exists(file, where)
    return _checked_info(file, where, None, min_fs_hz, max_fs_hz)


def _checked_info(
    file: Path, where: str, channel: int | None, min_fs_hz: int, max_fs_hz: int
) -> sf._SoundFileInfo:
    """The header of an existing file, once every problem that can be told before reading
    is ruled out."""
    try:
        _check_wav_header(file, where)
    except OSError as err:
        raise AudioError(f"{where}: cannot open the file ({err.strerror or err})") from None
    info = _info(file, where)

    if info.channels == 0:
        raise AudioError(f"{where}: the header declares 0 channels; the file is corrupt")
    if not min_fs_hz <= info.samplerate <= max_fs_hz:
        raise AudioError(
            f"{where}: sample rate {info.samplerate} Hz is outside the supported "
            f"{min_fs_hz}–{max_fs_hz} Hz; resample the file into that range first "
            f"(e.g. `sox in.wav -r 16000 out.wav`)"
        )
    if channel is not None and (not _is_int(channel) or not 0 <= channel < info.channels):
        valid = "0" if info.channels == 1 else f"0–{info.channels - 1}"
        raise AudioError(
            f"{where}: channel {channel!r} requested, but the file has {info.channels} "
            f"channel{'s' if info.channels != 1 else ''} (valid: {valid})"
        )
    if info.frames == 0:
        raise AudioError(f"{where}: the file holds no audio (0 frames)")
    return info


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _check_file_exists(file: Path, where: str) -> None:
    if not file.exists():
        raise AudioError(f"{where}: no such audio file; check the path and the working directory")
    if file.is_dir():
        raise AudioError(f"{where}: is a directory, not an audio file")
    if file.stat().st_size == 0:
        raise AudioError(f"{where}: the file is empty (0 bytes); the recording was not written")


def _info(file: Path, where: str) -> sf._SoundFileInfo:
    try:
        return sf.info(str(file))
    except sf.LibsndfileError as err:
        detail = err.error_string
        if "Format not recognised" in detail or "unknown format" in detail.lower():
            raise AudioError(
                f"{where}: not a readable audio file ({_guess_format(file)}); Voiceline reads "
                "WAV and FLAC — convert it first, e.g. `ffmpeg -i in.m4a -c:a pcm_s16le out.wav`"
            ) from None
        if "Channel count is zero" in detail:
            raise AudioError(
                f"{where}: the header declares 0 channels; the file is corrupt"
            ) from None
        raise AudioError(f"{where}: cannot read the audio header ({detail})") from None
    except (OSError, RuntimeError) as err:
        raise AudioError(f"{where}: cannot open the file ({err})") from None


def _read_frames(file: Path, where: str, info: sf._SoundFileInfo, dtype: str) -> np.ndarray:
    """All frames ``(frames, channels)``, every one the header promises; decoding errors
    and truncation become AudioError."""
    try:
        with sf.SoundFile(str(file)) as handle:
            if handle.seekable():
                frames = handle.read(dtype=dtype, always_2d=True)
            else:  # codecs that decode only forwards (GSM 06.10, G.721/G.723 ADPCM WAV)
                frames = _read_forwards(handle, dtype)
    except sf.LibsndfileError as err:
        raise AudioError(
            f"{where}: the audio data cannot be decoded ({err.error_string}); the file is "
            "probably truncated or corrupt — re-copy or re-export the recording"
        ) from None
    if frames.shape[0] < info.frames:
        raise AudioError(
            f"{where}: truncated — the header promises {info.frames} frames but only "
            f"{frames.shape[0]} could be read; re-copy or re-export the recording"
        )
    return frames


def _read_forwards(handle: sf.SoundFile, dtype: str, block: int = 1 << 16) -> np.ndarray:
    """Every frame of a file libsndfile cannot seek in, block by block to its end."""
    parts = []
    while True:
        part = handle.read(block, dtype=dtype, always_2d=True)
        parts.append(part)
        if part.shape[0] < block:
            return np.concatenate(parts, axis=0)


def _guess_format(file: Path) -> str:
    with file.open("rb") as handle:
        head = handle.read(16)
    for offset, magic, name in _MAGIC_FORMATS:
        if head[offset : offset + len(magic)] == magic:
            return f"it looks like {name}"
    return f"unrecognised format, first bytes {head[:8]!r}"


def _check_wav_header(file: Path, where: str) -> None:
    """Compare a RIFF/WAVE data chunk's declared size with the bytes actually present.

    libsndfile silently shortens a WAV whose data chunk runs past the end of the file,
    so a cut-off copy would otherwise pass as a shorter recording.
    """
    file_size = file.stat().st_size
    with file.open("rb") as handle:
        riff = handle.read(12)
        if len(riff) < 12 or riff[8:12] != b"WAVE" or riff[:4] not in (b"RIFF", b"RIFX"):
            return
        endian = "<" if riff[:4] == b"RIFF" else ">"
        block_align = 0
        position = 12
        while position + 8 <= file_size:
            handle.seek(position)
            chunk_id, chunk_size = struct.unpack(f"{endian}4sI", handle.read(8))
            if chunk_id == b"fmt ":
                fmt = handle.read(16)
                if len(fmt) >= 14:
                    # WAVEFORMAT: format tag, channels, rate, byte rate, block align.
                    _, channels, _, _, block_align = struct.unpack(f"{endian}HHIIH", fmt[:14])
                    if channels == 0:
                        raise AudioError(
                            f"{where}: the WAV header declares 0 channels; the file is corrupt"
                        )
            elif chunk_id == b"data":
                handle.seek(position + 8 + chunk_size)
                next_id = handle.read(4)
                _check_data_chunk(where, chunk_size, file_size - position - 8, block_align, next_id)
                return
            position += 8 + chunk_size + (chunk_size & 1)
    raise AudioError(
        f"{where}: truncated — the WAV file ends before its audio data begins; "
        "re-copy or re-export the recording"
    )


def _check_data_chunk(
    where: str, declared_bytes: int, present_bytes: int, block_align: int, next_id: bytes
) -> None:
    if declared_bytes == _WAV_UNKNOWN_LENGTH or block_align == 0:
        return
    followed_by_chunk = len(next_id) == 4 and all(0x20 <= b <= 0x7E for b in next_id)
    if declared_bytes == 0 and present_bytes >= block_align and not followed_by_chunk:
        raise AudioError(
            f"{where}: the WAV header declares no audio data, but {present_bytes} bytes follow "
            "it — the recording was interrupted before its header was finalised; repair it "
            "with e.g. `sox --ignore-length in.wav out.wav`"
        )
    promised = declared_bytes // block_align
    present = min(present_bytes, declared_bytes) // block_align
    if present < promised:
        raise AudioError(
            f"{where}: truncated — the WAV header promises {promised} frames "
            f"({declared_bytes} bytes) but only {present} frames ({present_bytes} bytes) are "
            "present; re-copy or re-export the recording"
        )


def _check_scale(samples: np.ndarray, channels: np.ndarray, fs_hz: int, where: str) -> None:
    peak = np.abs(samples).max(axis=1) if samples.size else np.zeros(0)
    if not (peak > MAX_FLOAT_PEAK).any():
        return
    row = int(np.argmax(peak))
    index = int(np.argmax(np.abs(samples[row]) > MAX_FLOAT_PEAK))
    raise AudioError(
        f"{where}: channel {channels[row]} reaches {peak[row]:.4g} (first past "
        f"±{MAX_FLOAT_PEAK:g} at t = {index / fs_hz:.3f} s), far beyond digital full scale "
        "±1.0 — the float file is mis-scaled (16-bit values saved as float?); divide it "
        "by its scale (e.g. 32768) and re-export"
    )


def _check_finite(samples: np.ndarray, channels: np.ndarray, fs_hz: int, where: str) -> None:
    bad = ~np.isfinite(samples)
    if not bad.any():
        return
    index = int(np.argmax(bad.any(axis=0)))
    row = int(np.argmax(bad[:, index]))
    value = samples[row, index]
    kind = "NaN" if math.isnan(value) else ("+inf" if value > 0 else "-inf")
    count = int(bad.sum())
    raise AudioError(
        f"{where}: channel {channels[row]} has a {kind} sample at index {index} "
        f"(t = {index / fs_hz:.3f} s); {count} non-finite sample{'s' if count != 1 else ''} in "
        "all — the float file is corrupt; re-export it or replace those samples"
    )
