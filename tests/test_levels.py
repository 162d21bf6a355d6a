"""Level profiles (digital → Pa), their lookup, their errors, and P.56 active speech level."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import capture.levels as levels
from capture.levels import (
    P_REF_PA,
    CalibrationError,
    LevelProfile,
    active_speech_level_dbfs,
    available_level_profiles,
    load_level_profile,
)

BUILT_IN = ["din45692-test", "g711-telephone", "headset", "iso532-test"]


def db_spl(p_pa: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(p_pa**2)) / P_REF_PA)


def full_scale_sine(fs_hz: int = 48000, freq_hz: float = 1000.0) -> np.ndarray:
    return np.sin(2 * np.pi * freq_hz * np.arange(fs_hz) / fs_hz)


@pytest.fixture(autouse=True)
def no_site_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(levels.ENV_CALIBRATION_DIR, raising=False)


def write_profile(directory: Path, name: str, **fields) -> Path:
    data = {"name": name, "description": "test profile", "full_scale_peak_pa": 1.0} | fields
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_full_scale_sine_through_iso532_test_is_100_db_spl() -> None:
    profile = load_level_profile("iso532-test")
    assert db_spl(profile.to_pascals(full_scale_sine())) == pytest.approx(100.0, abs=0.01)
    assert profile.full_scale_sine_db_spl == pytest.approx(100.0, abs=1e-9)


def test_full_scale_sine_through_din45692_test_is_90_97_db_spl() -> None:
    profile = load_level_profile("din45692-test")
    assert db_spl(profile.to_pascals(full_scale_sine())) == pytest.approx(90.97, abs=0.01)


@pytest.mark.parametrize("name", ["g711-telephone", "headset"])
def test_nominal_speech_level_maps_to_conversational_spl(name: str) -> None:
    profile = load_level_profile(name)
    assert profile.dbfs_to_db_spl(-26.0) == pytest.approx(62.35, abs=0.001)
    assert profile.db_spl_to_dbfs(62.35) == pytest.approx(-26.0, abs=0.001)


def test_dbfs_conversion_is_consistent_with_measured_rms() -> None:
    profile = load_level_profile("g711-telephone")
    x = 0.05 * full_scale_sine(8000, 440.0)
    level_dbfs = 20 * np.log10(np.sqrt(np.mean(x**2)))
    assert db_spl(profile.to_pascals(x)) == pytest.approx(profile.dbfs_to_db_spl(level_dbfs))


def test_conversions_take_arrays_and_round_trip() -> None:
    profile = load_level_profile("iso532-test")
    np.testing.assert_allclose(
        profile.dbfs_to_db_spl(np.array([0.0, -20.0])), [103.0103, 83.0103], atol=1e-4
    )
    x = np.array([[0.5, -1.0], [0.25, 0.0]])
    np.testing.assert_allclose(profile.from_pascals(profile.to_pascals(x)), x)
    assert profile.to_pascals(x)[0, 1] == pytest.approx(-2 * np.sqrt(2))


def test_built_in_profiles_are_available_and_documented() -> None:
    assert available_level_profiles() == BUILT_IN
    for name in BUILT_IN:
        profile = load_level_profile(name)
        assert profile.name == name
        assert profile.path is not None and profile.path.parent == levels._REPO_LEVELS
        assert len(profile.provenance) > 100 and len(profile.rationale) > 100


def test_unknown_profile_lists_the_available_names() -> None:
    with pytest.raises(CalibrationError) as caught:
        load_level_profile("g711")
    message = str(caught.value)
    assert "unknown level profile 'g711'" in message
    assert "available: din45692-test, g711-telephone, headset, iso532-test" in message
    assert str(levels._REPO_LEVELS) in message


@pytest.mark.parametrize("name", ["", "levels/headset", "headset.json"])
def test_a_path_is_not_a_profile_name(name: str) -> None:
    with pytest.raises(CalibrationError, match=r"bare name.*VOICELINE_CALIBRATION_DIR"):
        load_level_profile(name)


def test_environment_directory_adds_and_overrides_profiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_profile(tmp_path / "levels", "site-handset", full_scale_peak_pa=0.7)
    write_profile(tmp_path / "levels", "iso532-test", full_scale_peak_pa=1.5)
    monkeypatch.setenv("VOICELINE_CALIBRATION_DIR", str(tmp_path))

    assert available_level_profiles() == [*BUILT_IN[:3], "iso532-test", "site-handset"]
    assert load_level_profile("site-handset").full_scale_peak_pa == 0.7
    overridden = load_level_profile("iso532-test")
    assert overridden.full_scale_peak_pa == 1.5
    assert overridden.path == tmp_path / "levels" / "iso532-test.json"
    assert load_level_profile("headset").path.parent == levels._REPO_LEVELS


def test_environment_directory_without_levels_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICELINE_CALIBRATION_DIR", str(tmp_path))
    assert load_level_profile("headset").full_scale_peak_pa == pytest.approx(0.52303409)
    with pytest.raises(CalibrationError, match=str(tmp_path / "levels")):
        load_level_profile("nope")


def test_packaged_profiles_are_used_when_there_is_no_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(levels, "_REPO_LEVELS", tmp_path / "no-checkout")
    write_profile(tmp_path / "packaged", "packaged-only", full_scale_peak_pa=2.0)
    monkeypatch.setattr(levels, "_PACKAGE_LEVELS", tmp_path / "packaged")
    assert available_level_profiles() == ["packaged-only"]
    assert load_level_profile("packaged-only").full_scale_peak_pa == 2.0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"name": "bad", "description": "x"}', "missing required field(s) full_scale_peak_pa"),
        ('{"name": "other", "description": "x", "full_scale_peak_pa": 1}', "differs from the file"),
        ('{"name": "bad", "description": "x", "full_scale_peak_pa": -1}', "positive number"),
        ('{"name": "bad", "description": "x", "full_scale_peak_pa": "1 Pa"}', "positive number"),
        ('{"name": "bad", "description": 3, "full_scale_peak_pa": 1}', "'description' must be"),
        (
            '{"name": "bad", "description": "x", "full_scale_peak_pa": 1.0,'
            ' "anchor": {"level_dbfs": -26, "level_db_spl": 62.35}}',
            "should be 0.523034",
        ),
        (
            '{"name": "bad", "description": "x", "full_scale_peak_pa": 1.0, "anchor": [1]}',
            "'anchor' must be an object",
        ),
    ],
)
def test_malformed_profile_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, problem: str
) -> None:
    path = tmp_path / "levels" / "bad.json"
    path.parent.mkdir()
    path.write_text(content, encoding="utf-8")
    monkeypatch.setenv("VOICELINE_CALIBRATION_DIR", str(tmp_path))
    with pytest.raises(CalibrationError) as caught:
        load_level_profile("bad")
    assert str(path) in str(caught.value)
    assert problem in str(caught.value)


def test_profile_rejects_non_positive_peak_directly() -> None:
    with pytest.raises(CalibrationError, match="positive number of pascals"):
        LevelProfile(name="x", description="x", full_scale_peak_pa=0.0)


# --- ITU-T P.56 active speech level -------------------------------------------------------------


def test_p56_level_of_a_continuous_sine_is_its_rms() -> None:
    x = 0.1 * np.sqrt(2) * full_scale_sine(8000, 440.0)[:8000]  # RMS 0.1 → -20 dBFS
    assert active_speech_level_dbfs(np.tile(x, 3), 8000) == pytest.approx(-20.0, abs=0.05)


def test_p56_ignores_pauses_that_the_long_term_level_counts() -> None:
    fs_hz = 8000
    burst = 0.1 * np.sqrt(2) * full_scale_sine(fs_hz, 440.0)  # 1 s at -20 dBFS
    x = np.concatenate([burst, np.zeros(fs_hz), burst, np.zeros(fs_hz)])
    long_term_dbfs = 10 * np.log10(np.mean(x**2))
    assert long_term_dbfs == pytest.approx(-23.01, abs=0.05)
    # Each 1 s burst counts as active for 1 s + 200 ms hangover + at most ~100 ms while the
    # 30 ms envelope decays below threshold: -20 - 10·log10(1.2 … 1.3) dBFS.
    assert -21.14 < active_speech_level_dbfs(x, fs_hz) < -20.79


def test_p56_follows_gain_and_handles_streams() -> None:
    rng = np.random.default_rng(0)
    speechy = rng.standard_normal(16000) * np.repeat(rng.uniform(0, 1, 40) > 0.4, 400) * 0.05
    levels_dbfs = active_speech_level_dbfs(np.stack([speechy, speechy * 10 ** (-12 / 20)]), 16000)
    assert levels_dbfs.shape == (2,)
    assert levels_dbfs[0] - levels_dbfs[1] == pytest.approx(12.0, abs=0.1)


def test_p56_of_silence_is_minus_infinity() -> None:
    assert active_speech_level_dbfs(np.zeros(800), 8000) == -np.inf
