"""G.711 against an independent scalar reference written from the standard's tables.

The reference below follows ITU-T G.711 Tables 1 and 2 (segment edges and steps, the
μ-law bias of 33, all-bit inversion for μ-law, even-bit inversion for A-law) with the
ITU-T G.191 STL's input conventions (top 14 / 13 bits of a 16-bit sample, negatives in
one's complement). It shares no code with ``capture.g711``'s tables.
"""

from __future__ import annotations

import numpy as np
import pytest

from capture.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode

ALL_PCM = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)

# A-law, 12-bit magnitude (the sign is the 13th bit): segment lower edges and steps.
ALAW_EDGE = (0, 16, 32, 64, 128, 256, 512, 1024)
ALAW_STEP = (1, 1, 2, 4, 8, 16, 32, 64)
# μ-law, biased 14-bit magnitude b = |v| + 33: segment s covers [32·2^s, 64·2^s), step 2^(s+1).
ULAW_EDGE = tuple(32 << s for s in range(8))
ULAW_STEP = tuple(2 << s for s in range(8))


def ref_alaw_encode(x: int) -> int:
    magnitude = x // 16 if x >= 0 else (-x - 1) // 16
    segment = max(s for s in range(8) if magnitude >= ALAW_EDGE[s])
    interval = (magnitude - ALAW_EDGE[segment]) // ALAW_STEP[segment]
    sign_bit = 1 if x >= 0 else 0
    return ((sign_bit << 7) | (segment << 4) | interval) ^ 0x55


def ref_alaw_decode(code: int) -> int:
    c = code ^ 0x55
    segment, interval = (c >> 4) & 7, c & 15
    middle = ALAW_EDGE[segment] + ALAW_STEP[segment] * interval + ALAW_STEP[segment] / 2
    value = int(middle * 16)
    return value if c & 0x80 else -value


def ref_ulaw_encode(x: int) -> int:
    v = x // 4 if x >= 0 else (-x - 1) // 4
    biased = min(v + 33, 8191)
    segment = max(s for s in range(8) if biased >= ULAW_EDGE[s])
    interval = (biased - ULAW_EDGE[segment]) // ULAW_STEP[segment]
    positive = 1 if x >= 0 else 0
    # The character is transmitted with every bit but the sign inverted; sign 1 = positive.
    return (positive << 7) | (0x7F ^ ((segment << 4) | interval))


def ref_ulaw_decode(code: int) -> int:
    c = code ^ 0x7F
    segment, interval = (c >> 4) & 7, c & 15
    middle = ULAW_EDGE[segment] + ULAW_STEP[segment] * interval + ULAW_STEP[segment] / 2
    value = int((middle - 33) * 4)
    return value if c & 0x80 else -value


def test_ulaw_encode_matches_reference_for_every_int16() -> None:
    expected = np.array([ref_ulaw_encode(int(x)) for x in ALL_PCM], dtype=np.uint8)
    np.testing.assert_array_equal(ulaw_encode(ALL_PCM), expected)


def test_alaw_encode_matches_reference_for_every_int16() -> None:
    expected = np.array([ref_alaw_encode(int(x)) for x in ALL_PCM], dtype=np.uint8)
    np.testing.assert_array_equal(alaw_encode(ALL_PCM), expected)


def test_ulaw_decode_matches_reference_for_every_code() -> None:
    expected = np.array([ref_ulaw_decode(int(c)) for c in ALL_CODES], dtype=np.int16)
    np.testing.assert_array_equal(ulaw_decode(ALL_CODES), expected)


def test_alaw_decode_matches_reference_for_every_code() -> None:
    expected = np.array([ref_alaw_decode(int(c)) for c in ALL_CODES], dtype=np.int16)
    np.testing.assert_array_equal(alaw_decode(ALL_CODES), expected)


@pytest.mark.parametrize(
    ("pcm", "code"),
    [(0, 0xFF), (-1, 0x7F), (1, 0xFF), (4, 0xFE), (32767, 0x80), (-32768, 0x00), (-4, 0x7F)],
)
def test_ulaw_encode_anchor_codes(pcm: int, code: int) -> None:
    assert ulaw_encode(np.array([pcm], dtype=np.int16))[0] == code


@pytest.mark.parametrize(
    ("code", "pcm"),
    [(0xFF, 0), (0x7F, 0), (0xFE, 8), (0x7E, -8), (0x80, 32124), (0x00, -32124), (0xEF, 132)],
)
def test_ulaw_decode_anchor_codes(code: int, pcm: int) -> None:
    assert ulaw_decode(np.array([code], dtype=np.uint8))[0] == pcm


@pytest.mark.parametrize(
    ("pcm", "code"),
    [(0, 0xD5), (-1, 0x55), (15, 0xD5), (16, 0xD4), (-17, 0x54), (32767, 0xAA), (-32768, 0x2A)],
)
def test_alaw_encode_anchor_codes(pcm: int, code: int) -> None:
    assert alaw_encode(np.array([pcm], dtype=np.int16))[0] == code


@pytest.mark.parametrize(
    ("code", "pcm"),
    [(0xD5, 8), (0x55, -8), (0xD4, 24), (0xAA, 32256), (0x2A, -32256), (0xC5, 264)],
)
def test_alaw_decode_anchor_codes(code: int, pcm: int) -> None:
    assert alaw_decode(np.array([code], dtype=np.uint8))[0] == pcm


def test_ulaw_round_trip_error_is_half_a_step_in_each_segment() -> None:
    decoded = ulaw_decode(ulaw_encode(ALL_PCM)).astype(np.int32)
    x = ALL_PCM.astype(np.int32)
    error = decoded - x
    # Beyond the top decision value (14-bit magnitude 8158) the coder overloads at ±32124.
    overload = np.where(x >= 0, x // 4, (-x - 1) // 4) > 8158
    assert np.all(np.abs(decoded[overload]) == 32124)
    segment = 7 - ((ulaw_encode(ALL_PCM) >> 4) & 7)
    for s in range(8):
        in_segment = (segment == s) & ~overload
        half_step_16bit = 4 * ULAW_STEP[s] // 2
        assert np.abs(error[in_segment]).max() == half_step_16bit


def test_alaw_round_trip_error_is_half_a_step_in_each_segment() -> None:
    codes = alaw_encode(ALL_PCM)
    error = alaw_decode(codes).astype(np.int32) - ALL_PCM.astype(np.int32)
    segment = ((codes ^ 0x55) >> 4) & 7
    for s in range(8):
        half_step_16bit = 16 * ALAW_STEP[s] // 2
        assert np.abs(error[segment == s]).max() == half_step_16bit


@pytest.mark.parametrize(
    ("encode", "decode", "n_levels"),
    [(ulaw_encode, ulaw_decode, 255), (alaw_encode, alaw_decode, 256)],
)
def test_decoded_levels_are_monotonic_in_the_input(encode, decode, n_levels) -> None:
    decoded = decode(encode(ALL_PCM)).astype(np.int32)
    assert np.all(np.diff(decoded) >= 0)
    # μ-law has two zero codes (0xFF and 0x7F) that decode alike; A-law has no zero level.
    assert len(np.unique(decoded)) == n_levels


def test_every_code_decodes_and_re_encodes_to_itself() -> None:
    ulaw_again = ulaw_encode(ulaw_decode(ALL_CODES))
    # The only μ-law code that does not survive is negative zero 0x7F, which decodes to 0.
    assert np.flatnonzero(ulaw_again != ALL_CODES).tolist() == [0x7F]
    np.testing.assert_array_equal(alaw_encode(alaw_decode(ALL_CODES)), ALL_CODES)


@pytest.mark.parametrize(
    ("decode", "sequence", "full_scale_dbm0", "t_max_16bit"),
    [
        (ulaw_decode, [0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E], 3.17, 8159 * 4),
        (alaw_decode, [0x34, 0x21, 0x21, 0x34, 0xB4, 0xA1, 0xA1, 0xB4], 3.14, 4096 * 8),
    ],
)
def test_digital_milliwatt_decodes_to_zero_dbm0(decode, sequence, full_scale_dbm0, t_max_16bit):
    """G.711 Tables 5/6: the periodic sequence is a 1 kHz sine at 0 dBm0."""
    pcm = decode(np.array(sequence * 100, dtype=np.uint8)).astype(np.float64)
    rms = np.sqrt(np.mean(pcm**2))
    zero_dbm0_rms = t_max_16bit / np.sqrt(2) / 10 ** (full_scale_dbm0 / 20)
    assert 20 * np.log10(rms / zero_dbm0_rms) == pytest.approx(0.0, abs=0.05)


def test_shapes_and_dtypes_are_kept() -> None:
    pcm = np.array([[0, 1000], [-1000, 32767]], dtype=np.int16)
    assert ulaw_encode(pcm).shape == (2, 2)
    assert ulaw_encode(pcm).dtype == np.uint8
    assert alaw_decode(alaw_encode(pcm)).dtype == np.int16
    assert ulaw_decode(b"\xff\x7f\x80").tolist() == [0, 0, 32124]


def test_other_integer_dtypes_in_range_are_accepted() -> None:
    as_int32 = np.array([-32768, 0, 32767], dtype=np.int32)
    np.testing.assert_array_equal(ulaw_encode(as_int32), [0x00, 0xFF, 0x80])


def test_float_pcm_is_refused_with_advice() -> None:
    with pytest.raises(TypeError, match=r"16-bit integer PCM.*astype"):
        ulaw_encode(np.array([0.5, -0.5]))


def test_out_of_range_pcm_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[-32768, 32767\].*40000"):
        alaw_encode(np.array([0, 40000]))


def test_out_of_range_codes_are_refused() -> None:
    with pytest.raises(ValueError, match=r"0\.\.255.*300"):
        alaw_decode(np.array([0, 300]))
