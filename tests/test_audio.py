"""Reading audio files: exact round trips, channel choice, resampling, and every user error."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from capture.audio import AudioClip, AudioError, read_audio, read_pcm16
from capture.g711 import alaw_decode, ulaw_decode
from capture.resample import resample

# Sample values each subtype stores exactly: integers k / 2^(bits-1), or float32 values.
QUANTUM = {"PCM_16": 2.0**-15, "PCM_24": 2.0**-23, "PCM_32": 2.0**-31, "FLOAT": None}


def exact_samples(subtype: str, n_channels: int, n_samples: int, seed: int = 1) -> np.ndarray:
    """Random ``(channels, samples)`` values in ±0.9 that ``subtype`` represents exactly."""
    x = np.random.default_rng(seed).uniform(-0.9, 0.9, (n_channels, n_samples))
    quantum = QUANTUM[subtype]
    if quantum is None:
        return x.astype(np.float32).astype(np.float64)
    return np.round(x / quantum) * quantum


def write(path: Path, samples: np.ndarray, fs_hz: int, subtype: str = "PCM_16") -> Path:
    sf.write(path, samples.T, fs_hz, subtype=subtype)
    return path


def wav_bytes_with_header(n_channels: int, data: bytes, declared_data_bytes: int) -> bytes:
    """A PCM_16 WAV whose data chunk claims ``declared_data_bytes`` whatever follows it."""
    fmt = struct.pack("<HHIIHH", 1, n_channels, 8000, 8000 * 2 * n_channels, 2 * n_channels, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    body += b"data" + struct.pack("<I", declared_data_bytes) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("fs_hz", [8000, 16000, 44100, 48000])
@pytest.mark.parametrize(
    ("suffix", "subtype"),
    [
        (".wav", "PCM_16"),
        (".wav", "PCM_32"),
        (".wav", "FLOAT"),
        (".flac", "PCM_16"),
        (".flac", "PCM_24"),
    ],
)
def test_round_trip_is_exact(tmp_path: Path, suffix: str, subtype: str, fs_hz: int) -> None:
    samples = exact_samples(subtype, 2, fs_hz // 4)
    path = write(tmp_path / f"call{suffix}", samples, fs_hz, subtype)

    clip = read_audio(path)

    np.testing.assert_array_equal(clip.samples, samples)
    assert clip.samples.dtype == np.float64
    assert clip.fs_hz == fs_hz
    assert clip.subtype == subtype
    assert clip.file_format == ("FLAC" if suffix == ".flac" else "WAV")
    assert clip.source == str(path)
    assert clip.n_channels == 2
    assert clip.duration_s == pytest.approx(0.25, abs=1 / fs_hz)


def test_int16_full_scale_maps_to_minus_one(tmp_path: Path) -> None:
    pcm = np.array([-32768, -16384, 0, 16384, 32767], dtype=np.int16)
    path = tmp_path / "edges.wav"
    sf.write(path, pcm, 8000, subtype="PCM_16")
    np.testing.assert_array_equal(read_audio(path).samples[0], pcm / 32768)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_pcm16_codes_are_the_samples_read_audio_gives_times_32768(tmp_path: Path,
                                                                   suffix: str) -> None:
    path = write(tmp_path / f"call{suffix}", exact_samples("PCM_16", 2, 4000), 16000)
    codes, fs_hz = read_pcm16(path)
    assert codes.dtype == np.int16 and codes.shape == (2, 4000) and fs_hz == 16000
    np.testing.assert_array_equal(codes / 32768, read_audio(path).samples)


def test_pcm16_reader_declines_other_encodings_and_reports_bad_files(tmp_path: Path) -> None:
    assert read_pcm16(write(tmp_path / "f.wav", exact_samples("FLOAT", 1, 800), 8000,
                            "FLOAT")) is None
    path = write(tmp_path / "cut.wav", exact_samples("PCM_16", 1, 8000), 8000)
    path.write_bytes(path.read_bytes()[: 44 + 2 * 3000])
    with pytest.raises(AudioError, match="promises 8000 frames"):
        read_pcm16(path)


@pytest.mark.parametrize(("subtype", "decode"), [("ULAW", ulaw_decode), ("ALAW", alaw_decode)])
def test_g711_wav_decodes_like_capture_g711(tmp_path: Path, subtype: str, decode) -> None:
    """libsndfile's G.711 decoder and ours agree on all 256 codes (independent check)."""
    codes = np.arange(256, dtype=np.uint8)
    fmt_tag = 7 if subtype == "ULAW" else 6
    fmt = struct.pack("<HHIIHHH", fmt_tag, 1, 8000, 8000, 1, 8, 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 18) + fmt + b"data" + struct.pack("<I", 256)
    path = tmp_path / "g711.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 256) + body + codes.tobytes())

    clip = read_audio(path)

    assert clip.subtype == subtype
    np.testing.assert_array_equal(clip.samples[0], decode(codes) / 32768)


@pytest.mark.parametrize("subtype", ["GSM610", "G721_32"])
def test_wav_codecs_that_decode_only_forwards_are_read(tmp_path: Path, subtype: str) -> None:
    """GSM 06.10 and G.721 WAV (older call recorders) cannot be seeked in by libsndfile;
    they are read block by block to the end, every frame the header promises."""
    t = np.arange(3 * 8000) / 8000
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) / 1.5
    path = tmp_path / "codec.wav"
    sf.write(path, tone, 8000, subtype=subtype)
    with sf.SoundFile(path) as handle:
        assert not handle.seekable()  # the case this reads differently
        promised = handle.frames

    clip = read_audio(path)

    assert clip.subtype == subtype and clip.samples.shape == (1, promised) and promised >= tone.size
    residual = clip.samples[0, : tone.size] - tone
    assert np.sqrt(np.mean(residual**2)) < 0.3 * np.sqrt(np.mean(tone**2))  # a lossy codec
    cut = tmp_path / "cut.wav"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    message = read_error(cut)
    assert "truncated" in message or "cannot be decoded" in message


def test_channel_selection_keeps_a_channel_axis(tmp_path: Path) -> None:
    samples = exact_samples("PCM_16", 3, 1000)
    path = write(tmp_path / "three.wav", samples, 16000)

    clip = read_audio(path, channel=2)

    assert clip.samples.shape == (1, 1000)
    np.testing.assert_array_equal(clip.samples[0], samples[2])


def tone_rms_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(x**2)))


def test_resampling_48k_to_8k_keeps_a_1khz_tone_level(tmp_path: Path) -> None:
    t_s = np.arange(48000) / 48000
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t_s)
    path = write(tmp_path / "tone48k.wav", tone[None, :], 48000, "FLOAT")

    clip = read_audio(path, target_fs_hz=8000)

    assert clip.fs_hz == 8000
    assert clip.samples.shape == (1, 8000)
    middle = clip.samples[0, 800:-800]
    assert tone_rms_db(middle) == pytest.approx(tone_rms_db(tone), abs=0.1)
    spectrum = np.abs(np.fft.rfft(clip.samples[0]))
    assert np.argmax(spectrum) == 1000  # 1 Hz bins over 1 s


def test_resampling_removes_content_above_the_new_nyquist() -> None:
    t_s = np.arange(48000) / 48000
    above_nyquist = np.sin(2 * np.pi * 6000 * t_s)
    out = resample(above_nyquist, 48000, 8000)
    assert tone_rms_db(out[800:-800]) < -100


def test_resample_handles_streams_like_single_signals() -> None:
    x = np.random.default_rng(3).standard_normal((3, 4410))
    out = resample(x, 44100, 16000)
    assert out.shape == (3, 1600)
    np.testing.assert_allclose(out[1], resample(x[1], 44100, 16000), atol=1e-12)


def test_resample_is_identity_when_rates_match() -> None:
    x = np.arange(10, dtype=np.int16)
    out = resample(x, 8000, 8000)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("bad_rate", [0, -8000, float("nan"), float("inf")])
def test_resample_rejects_bad_rates(bad_rate: float) -> None:
    with pytest.raises(ValueError, match="fs_out_hz must be a positive, finite sample rate"):
        resample(np.zeros(10), 8000, bad_rate)


def test_resample_rejects_three_axes() -> None:
    with pytest.raises(ValueError, match=r"\(streams, samples\).*\(2, 2, 10\)"):
        resample(np.zeros((2, 2, 10)), 8000, 16000)


def test_audio_clip_requires_a_channel_axis() -> None:
    with pytest.raises(ValueError, match=r"\(channels, samples\)"):
        AudioClip(samples=np.zeros(10), fs_hz=8000, source="x", subtype="PCM_16")


# --- errors a user can cause: each names the file and the problem ----------------------------


def read_error(path: Path, **kwargs) -> str:
    with pytest.raises(AudioError) as caught:
        read_audio(path, **kwargs)
    message = str(caught.value)
    assert str(path) in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    assert "no such audio file" in read_error(tmp_path / "nope.wav")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert "is a directory" in read_error(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert "empty (0 bytes)" in read_error(path)


def test_file_with_zero_frames(tmp_path: Path) -> None:
    path = write(tmp_path / "silent.wav", np.zeros((1, 0)), 8000)
    assert "no audio (0 frames)" in read_error(path)


def test_truncated_wav_is_detected_not_shortened(tmp_path: Path) -> None:
    path = write(tmp_path / "cut.wav", exact_samples("PCM_16", 1, 8000), 8000)
    data = path.read_bytes()
    path.write_bytes(data[: 44 + 2 * 3000 + 1])  # header + 3000 frames and a half
    message = read_error(path)
    assert "truncated" in message
    assert "promises 8000 frames" in message
    assert "only 3000 frames" in message


def test_wav_cut_inside_its_header(tmp_path: Path) -> None:
    path = write(tmp_path / "cut.wav", exact_samples("PCM_16", 1, 800), 8000)
    path.write_bytes(path.read_bytes()[:30])
    assert "ends before its audio data" in read_error(path)


def test_unfinalised_wav_header(tmp_path: Path) -> None:
    path = tmp_path / "live.wav"
    path.write_bytes(wav_bytes_with_header(1, b"\x01\x02" * 800, declared_data_bytes=0))
    message = read_error(path)
    assert "declares no audio data, but 1600 bytes follow" in message
    assert "--ignore-length" in message


def test_streaming_wav_of_unknown_length_is_read(tmp_path: Path) -> None:
    pcm = np.arange(-400, 400, dtype=np.int16)
    path = tmp_path / "stream.wav"
    path.write_bytes(wav_bytes_with_header(1, pcm.tobytes(), declared_data_bytes=0xFFFFFFFF))
    np.testing.assert_array_equal(read_audio(path).samples[0], pcm / 32768)


def test_truncated_flac(tmp_path: Path) -> None:
    path = write(tmp_path / "cut.flac", exact_samples("PCM_16", 1, 16000), 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in read_error(path)


def test_not_an_audio_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("agent was rude at 10:32\n" * 20)
    message = read_error(path)
    assert "not a readable audio file" in message
    assert "WAV and FLAC" in message


def test_unsupported_format_is_named(tmp_path: Path) -> None:
    path = tmp_path / "call.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00" + bytes(200))
    assert "looks like MP4/M4A" in read_error(path)


def test_zero_channels(tmp_path: Path) -> None:
    path = tmp_path / "nochan.wav"
    path.write_bytes(wav_bytes_with_header(0, b"\x00" * 100, declared_data_bytes=100))
    assert "0 channels" in read_error(path)


@pytest.mark.parametrize("channel", [2, -1])
def test_channel_out_of_range_says_how_many_exist(tmp_path: Path, channel: int) -> None:
    path = write(tmp_path / "stereo.wav", exact_samples("PCM_16", 2, 100), 8000)
    message = read_error(path, channel=channel)
    assert f"channel {channel} requested" in message
    assert "has 2 channels (valid: 0–1)" in message


def float_file_with_bad_samples(tmp_path: Path) -> Path:
    samples = exact_samples("FLOAT", 2, 16000)
    samples[1, 37] = np.nan
    samples[0, 50] = np.inf
    samples[1, 9000] = np.nan
    return write(tmp_path / "bad.wav", samples, 16000, "FLOAT")


def test_nan_sample_names_first_index_and_channel(tmp_path: Path) -> None:
    message = read_error(float_file_with_bad_samples(tmp_path))
    assert "channel 1 has a NaN sample at index 37" in message
    assert "3 non-finite samples" in message


def test_inf_sample_in_the_selected_channel(tmp_path: Path) -> None:
    message = read_error(float_file_with_bad_samples(tmp_path), channel=0)
    assert "channel 0 has a +inf sample at index 50 (t = 0.003 s)" in message


@pytest.mark.parametrize("fs_hz", [4000, 96000])
def test_sample_rate_outside_the_supported_range(tmp_path: Path, fs_hz: int) -> None:
    path = write(tmp_path / "odd_rate.wav", exact_samples("PCM_16", 1, 400), fs_hz)
    assert f"sample rate {fs_hz} Hz is outside the supported 8000–48000 Hz" in read_error(path)


def test_sample_rate_range_is_configurable(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.wav", exact_samples("PCM_16", 1, 400), 96000)
    assert read_audio(path, max_fs_hz=96000).fs_hz == 96000


@pytest.mark.parametrize("target", [0, 8000.5, True])
def test_bad_target_rate(tmp_path: Path, target) -> None:
    path = write(tmp_path / "ok.wav", exact_samples("PCM_16", 1, 400), 8000)
    assert "target_fs_hz must be a positive whole number" in read_error(path, target_fs_hz=target)


def test_float_file_far_past_full_scale_is_refused(tmp_path: Path) -> None:
    # 16-bit values saved as float: analysing them would give nonsense (and the VAD
    # refuses such blocks), so the reader says so, naming the channel and the time.
    samples = exact_samples("FLOAT", 2, 8000) * 0.5
    samples[1, 4000] = 1234.0
    path = write(tmp_path / "scaled.wav", samples, 8000, "FLOAT")
    message = read_error(path)
    assert "channel 1 reaches 1234" in message
    assert "t = 0.500 s" in message and "mis-scaled" in message


def test_float_file_a_little_past_full_scale_is_read(tmp_path: Path) -> None:
    samples = exact_samples("FLOAT", 1, 800) * 0.5
    samples[0, 10] = 1.5  # clipped where analysed, not refused
    clip = read_audio(write(tmp_path / "hot.wav", samples, 8000, "FLOAT"))
    assert clip.samples[0, 10] == pytest.approx(1.5)
