"""The simulated telephone line: band, rate, G.711 and noise as specified."""

from __future__ import annotations

import numpy as np
import pytest

from capture.telephone import g711_round_trip, line_noise, telephone_channel


def sine(freq_hz, fs_hz=16000, seconds=1.0, dbfs=-20.0):
    t = np.arange(int(seconds * fs_hz)) / fs_hz
    return np.sqrt(2) * 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq_hz * t)


def level_db(x):
    x = np.asarray(x)[..., 2000:]  # past the filter's start-up
    return 10 * np.log10(np.mean(x**2))


@pytest.mark.parametrize(("freq_hz", "gain_db"), [(1000, 0.0), (2000, 0.0)])
def test_pass_band_is_flat(freq_hz, gain_db):
    y = telephone_channel(sine(freq_hz), 16000, law=None)
    assert level_db(y) == pytest.approx(-20.0 + gain_db, abs=0.5)


@pytest.mark.parametrize("freq_hz", [100, 3900])
def test_out_of_band_is_removed(freq_hz):
    y = telephone_channel(sine(freq_hz), 16000, law=None)
    assert level_db(y) < -20.0 - 20.0


def test_output_is_8_khz_and_keeps_the_stream_axis():
    x = np.stack([sine(1000), sine(500)])
    y = telephone_channel(x, 16000)
    assert y.shape == (2, 8000)


def test_g711_quantisation_noise_is_as_the_standard_predicts():
    # G.711's logarithmic steps keep the SNR near 35-40 dB over a wide range of
    # levels (a frequency off the 8 kHz grid, so the error is noise-like).
    for dbfs in (-10.0, -20.0, -30.0):
        x = sine(1013, fs_hz=8000, dbfs=dbfs)
        for law in ("ulaw", "alaw"):
            err = g711_round_trip(x, law) - x
            snr = 10 * np.log10(np.mean(x**2) / np.mean(err**2))
            assert 33.0 < snr < 41.0, (law, dbfs, snr)
    with pytest.raises(ValueError, match="ulaw"):
        g711_round_trip(x, "opus")


def test_line_noise_has_the_requested_level_and_seed():
    n = line_noise((3, 16000), 8000, -50.0, seed=4)
    assert 10 * np.log10(np.mean(n**2, axis=-1)) == pytest.approx([-50.0] * 3, abs=0.01)
    np.testing.assert_array_equal(n, line_noise((3, 16000), 8000, -50.0, seed=4))
    y = telephone_channel(np.zeros(16000), 16000, law=None, noise_dbfs=-50.0)
    assert level_db(y) == pytest.approx(-50.0, abs=0.5)
