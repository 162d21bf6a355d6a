"""G.711 μ-law and A-law companding, bit-exact to the ITU-T G.191 Software Tool Library.

The reference is ``g711.c`` of the ITU-T G.191 STL (``ulaw_compress``/``ulaw_expand``,
``alaw_compress``/``alaw_expand``): μ-law keeps the top 14 bits of a 16-bit sample,
A-law the top 13, negative samples are taken in one's complement, and decoding returns
the middle of the quantisation interval, left-justified to 16 bits. Full scale after
decoding is ±32124 (μ-law) and ±32256 (A-law).

Each direction is one lookup table built once at import from that algorithm, so
encoding and decoding are a single vectorised ``take`` on arrays of any shape.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["alaw_decode", "alaw_encode", "ulaw_decode", "ulaw_encode"]

_ULAW_BIAS = 33
"""Difference between the μ-law and A-law decision thresholds (14-bit units), as in the STL."""


def _all_int16() -> np.ndarray:
    """Every int16 value, ordered by its uint16 bit pattern (the encode table's index)."""
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)


def _bit_length(v: np.ndarray) -> np.ndarray:
    """Number of bits needed for each non-negative integer in ``v`` (0 for 0)."""
    return np.frexp(v.astype(np.float64))[1].astype(np.int32)


def _build_ulaw_encode_table() -> np.ndarray:
    x = _all_int16()
    # STL ulaw_compress: 14-bit magnitude (one's complement for negatives) plus the bias.
    absno = np.where(x < 0, (~x) >> 2, x >> 2) + _ULAW_BIAS
    absno = np.minimum(absno, 0x1FFF)
    segno = 1 + _bit_length(absno >> 6)
    high_nibble = 0x8 - segno
    low_nibble = 0xF - ((absno >> segno) & 0xF)
    code = (high_nibble << 4) | low_nibble
    code = np.where(x >= 0, code | 0x80, code)
    return code.astype(np.uint8)


def _build_ulaw_decode_table() -> np.ndarray:
    code = np.arange(256, dtype=np.int32)
    sign = np.where(code < 0x80, -1, 1)
    inverted = ~code
    exponent = (inverted >> 4) & 0x7
    mantissa = inverted & 0xF
    step = 4 << (exponent + 1)
    magnitude = (0x80 << exponent) + step * mantissa + step // 2 - 4 * _ULAW_BIAS
    return (sign * magnitude).astype(np.int16)


def _build_alaw_encode_table() -> np.ndarray:
    x = _all_int16()
    # STL alaw_compress: 12-bit magnitude (one's complement for negatives).
    ix = np.where(x < 0, (~x) >> 4, x >> 4)
    iexp = np.maximum(_bit_length(ix) - 4, 1)
    chord = (ix >> (iexp - 1)) - 16 + (iexp << 4)
    ix = np.where(ix > 15, chord, ix)
    ix = np.where(x >= 0, ix | 0x80, ix)
    return (ix ^ 0x55).astype(np.uint8)


def _build_alaw_decode_table() -> np.ndarray:
    code = np.arange(256, dtype=np.int32)
    ix = (code ^ 0x55) & 0x7F
    iexp = ix >> 4
    mant = (ix & 0xF) + np.where(iexp > 0, 16, 0)
    mant = (mant << 4) + 0x8
    mant = np.where(iexp > 1, mant << np.maximum(iexp - 1, 0), mant)
    return np.where(code > 127, mant, -mant).astype(np.int16)


_ULAW_ENCODE = _build_ulaw_encode_table()
_ULAW_DECODE = _build_ulaw_decode_table()
_ALAW_ENCODE = _build_alaw_encode_table()
_ALAW_DECODE = _build_alaw_decode_table()
for _table in (_ULAW_ENCODE, _ULAW_DECODE, _ALAW_ENCODE, _ALAW_DECODE):
    _table.setflags(write=False)


def _as_pcm16(pcm: ArrayLike, func: str) -> np.ndarray:
    """Validate 16-bit linear PCM input and return its uint16 bit patterns (table indices)."""
    arr = np.asarray(pcm)
    if arr.dtype == np.int16:
        return arr.view(np.uint16)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{func} expects 16-bit integer PCM, got dtype {arr.dtype}; convert float samples "
            "in [-1, 1) with np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)"
        )
    if arr.size and (arr.min() < -32768 or arr.max() > 32767):
        raise ValueError(
            f"{func} expects 16-bit PCM in [-32768, 32767], got values from {arr.min()} to "
            f"{arr.max()}; scale or clip the samples to the int16 range first"
        )
    return arr.astype(np.int16).view(np.uint16)


def _as_codes(codes: ArrayLike | bytes, func: str) -> np.ndarray:
    """Validate G.711 code words (uint8 array, integers in 0..255, or raw bytes)."""
    if isinstance(codes, bytes | bytearray | memoryview):
        return np.frombuffer(codes, dtype=np.uint8)
    arr = np.asarray(codes)
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{func} expects 8-bit G.711 codes (uint8 or bytes), got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise ValueError(
            f"{func} expects G.711 codes in 0..255, got values from {arr.min()} to {arr.max()}"
        )
    return arr.astype(np.uint8)


def ulaw_encode(pcm: ArrayLike) -> np.ndarray:
    """Encode 16-bit linear PCM to G.711 μ-law codes.

    Parameters
    ----------
    pcm : array_like of int16
        Linear samples, any shape. Other integer dtypes are accepted if every value fits
        in int16; floats are refused (scale them to int16 first).

    Returns
    -------
    numpy.ndarray of uint8
        μ-law code words, same shape as ``pcm`` (the STL keeps the top 14 bits).
    """
    return _ULAW_ENCODE[_as_pcm16(pcm, "ulaw_encode")]


def ulaw_decode(codes: ArrayLike | bytes) -> np.ndarray:
    """Decode G.711 μ-law codes to 16-bit linear PCM.

    Parameters
    ----------
    codes : array_like of uint8, or bytes
        μ-law code words, any shape (bytes give a 1-D result).

    Returns
    -------
    numpy.ndarray of int16
        Linear samples in [-32124, 32124], same shape as ``codes``.
    """
    return _ULAW_DECODE[_as_codes(codes, "ulaw_decode")]


def alaw_encode(pcm: ArrayLike) -> np.ndarray:
    """Encode 16-bit linear PCM to G.711 A-law codes.

    Parameters
    ----------
    pcm : array_like of int16
        Linear samples, any shape. Other integer dtypes are accepted if every value fits
        in int16; floats are refused (scale them to int16 first).

    Returns
    -------
    numpy.ndarray of uint8
        A-law code words (even bits toggled), same shape as ``pcm`` (top 13 bits kept).
    """
    return _ALAW_ENCODE[_as_pcm16(pcm, "alaw_encode")]


def alaw_decode(codes: ArrayLike | bytes) -> np.ndarray:
    """Decode G.711 A-law codes to 16-bit linear PCM.

    Parameters
    ----------
    codes : array_like of uint8, or bytes
        A-law code words, any shape (bytes give a 1-D result).

    Returns
    -------
    numpy.ndarray of int16
        Linear samples in [-32256, 32256], same shape as ``codes``.
    """
    return _ALAW_DECODE[_as_codes(codes, "alaw_decode")]
