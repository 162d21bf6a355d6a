"""Per-agent baselines: robust statistics, refusal of thin data, bounded drift, files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from emotion.baseline import (
    MAD_TO_SIGMA,
    Baseline,
    BaselineError,
    fit_baseline,
    ledoit_wolf,
    load_all_baselines,
    load_baseline,
    population_baseline,
    save_baseline,
    update_baseline,
)

NAMES = ("loudness_n5_sone", "f0_median_st", "speech_rate_syl_s")


def windows(n=200, centre=(10.0, 30.0, 4.0), spread=(2.0, 1.5, 0.5), seed=0):
    rng = np.random.default_rng(seed)
    return np.asarray(centre) + rng.standard_normal((n, 3)) * np.asarray(spread)


def fit(x=None, **kw):
    args = dict(agent_id="A1001", channel_type="8k", speech_s=90.0, level_profile="g711-telephone")
    args.update(kw)
    return fit_baseline(windows() if x is None else x, NAMES, **args)


def test_robust_statistics_match_the_data():
    base = fit(windows(n=4000))
    np.testing.assert_allclose(base.median, [10.0, 30.0, 4.0], atol=0.1)
    np.testing.assert_allclose(base.sigma, [2.0, 1.5, 0.5], rtol=0.05)
    np.testing.assert_allclose(base.quantiles["q95"], [10 + 1.645 * 2, 30 + 1.645 * 1.5,
                                                        4 + 1.645 * 0.5], rtol=0.02)
    assert base.z(base.median) == pytest.approx(np.zeros(3))
    assert base.z(np.array([14.0, 30.0, 4.0]))[0] == pytest.approx(2.0, rel=0.06)


def test_outliers_barely_move_a_robust_baseline():
    x = windows(n=300)
    clean = fit(x)
    x[:30, 0] = 60.0  # 10 % of windows shouting
    dirty = fit(x)
    assert abs(dirty.median[0] - clean.median[0]) < 0.5
    assert dirty.sigma[0] < 1.5 * clean.sigma[0]


def test_too_little_speech_is_refused_with_a_reason():
    with pytest.raises(BaselineError, match="at least 30 s"):
        fit(speech_s=12.0)
    with pytest.raises(BaselineError, match="NaN"):
        fit(np.full((50, 3), np.nan))
    with pytest.raises(BaselineError, match="channel_type"):
        fit(channel_type="44k")


def test_constant_feature_gets_a_floor_not_infinite_z():
    x = windows()
    x[:, 2] = 4.0
    base = fit(x, sigma_floor=np.array([0.1, 0.1, 0.1]))
    assert base.sigma[2] == pytest.approx(0.1)
    assert np.isfinite(base.z(np.array([10.0, 30.0, 5.0]))).all()


def test_ledoit_wolf_shrinks_towards_identity_and_keeps_correlation():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(400)
    z = np.stack([a, a + 0.3 * rng.standard_normal(400), rng.standard_normal(400)], axis=1)
    cov = ledoit_wolf(z)
    sample = np.cov(z.T, bias=True)
    assert cov[0, 1] > 0.8 and cov[0, 1] <= sample[0, 1]
    assert abs(cov[0, 2]) <= abs(sample[0, 2]) + 1e-12
    assert np.all(np.linalg.eigvalsh(cov) > 0)


def test_update_drifts_slowly_and_ignores_flagged_windows():
    base = fit()
    louder = windows(centre=(20.0, 30.0, 4.0))  # 5 sigma louder
    moved = update_baseline(base, louder)
    assert 0 < moved.median[0] - base.median[0] <= 0.1 * base.sigma[0] + 1e-9
    flagged = np.ones(len(louder), dtype=bool)
    assert update_baseline(base, louder, flagged=flagged) is base  # nothing ordinary to learn
    ordinary = windows(seed=3)
    for _ in range(200):
        moved = update_baseline(moved, ordinary)
    # Many updates of ordinary speech bring it back to that speech's own median.
    assert moved.median[0] == pytest.approx(np.median(ordinary[:, 0]), abs=0.05)


def test_population_baseline_pools_agents_and_says_so():
    agents = [fit(windows(centre=(8.0 + 2 * i, 28.0 + i, 4.0)), agent_id=f"A{i}")
              for i in range(5)]
    pop = population_baseline(agents, channel_type="8k")
    assert pop.source == "population" and pop.notes["agents"] == 5
    assert pop.median[0] == pytest.approx(np.median([b.median[0] for b in agents]))
    assert np.all(pop.sigma >= np.median([b.sigma for b in agents], axis=0))
    with pytest.raises(BaselineError, match="16k"):
        population_baseline(agents, channel_type="16k")
    # Its bands are as wide as its sigma: they span the agents, not the median agent's
    # own voice (which put a calm stranger "above the usual range" all call long).
    k = NAMES.index("f0_median_st")
    width = pop.quantiles["q95"][k] - pop.quantiles["q05"][k]
    assert width == pytest.approx(2 * 1.645 * pop.sigma[k], rel=0.15)
    assert pop.quantiles["q05"][k] < min(b.median[k] for b in agents[1:4])
    assert pop.quantiles["q95"][k] > max(b.median[k] for b in agents[1:4])


def test_files_round_trip_and_bad_files_are_reported(tmp_path):
    base = fit()
    path = save_baseline(base, tmp_path)
    assert path.name == "A1001.json"
    with pytest.raises(BaselineError, match="made with 3 features, not the 16"):
        load_baseline(tmp_path, "A1001")  # this Voiceline's features are not these three
    assert load_all_baselines(tmp_path, "8k") == []
    loaded = load_baseline(tmp_path, "A1001", features=NAMES)
    np.testing.assert_allclose(loaded.median, base.median)
    np.testing.assert_allclose(loaded.covariance, base.covariance)
    assert loaded.speech_s == pytest.approx(90.0) and loaded.channel_type == "8k"
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == 2 and doc["feature_names"] == list(NAMES)

    with pytest.raises(BaselineError, match="voiceline calibrate --agent A2"):
        load_baseline(tmp_path, "A2")
    doc["schema_version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError, match="schema version 99"):
        load_baseline(tmp_path, "A1001")
    # A file of another schema asks for recalibration, and the population skips it
    # rather than mixing features measured differently.
    # (Version 1 is the 15 features before syllable_rate_syl_s.)
    doc["schema_version"] = 1
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError, match=r"version 1 .*recalibrate.*voiceline calibrate"):
        load_baseline(tmp_path, "A1001")
    doc["schema_version"] = 0
    path.write_text(json.dumps(doc))
    with pytest.raises(BaselineError, match=r"version 0 .*recalibrate.*voiceline calibrate"):
        load_baseline(tmp_path, "A1001")
    assert load_all_baselines(tmp_path, "8k") == []
    problems: dict[str, str] = {}
    load_all_baselines(tmp_path, "8k", problems)
    assert "schema version 0" in problems[path.name]
    # The live server says why it cannot score, rather than "no baselines".
    from voiceline.server.baselines import BaselineBook

    status = BaselineBook(tmp_path).status()
    assert not status["enabled"] and status["unreadable_baselines"] == 1
    assert "schema version 0" in status["reason"] and "recalibrate" in status["reason"]
    # a file where the folder should be is named as such (it read "no voice baselines")
    (tmp_path.parent / f"{tmp_path.name}-file").write_text("x")
    status = BaselineBook(tmp_path.parent / f"{tmp_path.name}-file").status()
    assert not status["enabled"] and "is a file, not the folder" in status["reason"]
    for bad in (b"{not json", b"\xff\xfe binary", b"[" * 100_000 + b"]" * 100_000):
        path.write_bytes(bad)  # damaged, not UTF-8, nested past the parser's stack
        with pytest.raises(BaselineError, match="not a readable baseline"):
            load_baseline(tmp_path, "A1001")
        problems = {}
        assert load_all_baselines(tmp_path, "8k", problems) == []
        assert "not a readable baseline" in problems[path.name]
    with pytest.raises(BaselineError, match="letters, digits"):
        save_baseline(fit(agent_id="../evil"), tmp_path)
    for hidden in (".", "..", ".A1", "-A1", "_A1"):  # "." and ".." wrote ..json, ...json
        with pytest.raises(BaselineError, match="start with a letter or a digit"):
            save_baseline(fit(agent_id=hidden), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A1001.json"]


@pytest.mark.parametrize("damage", [
    lambda doc: None, lambda doc: 5, lambda doc: [doc],
    lambda doc: {**doc, "quantiles": [1, 2]}, lambda doc: {**doc, "feature_names": "abc"},
    lambda doc: {**doc, "feature_names": 7}, lambda doc: {**doc, "sigma": "x"},
    lambda doc: {**doc, "n_windows": "many"}, lambda doc: {**doc, "n_windows": 1e400},
    lambda doc: {**doc, "notes": [1]}, lambda doc: {**doc, "covariance": [[1, 2], [3]]},
    lambda doc: {**doc, "median": [1e308] * 3}, lambda doc: {**doc, "speech_s": None},
])
def test_a_damaged_baseline_file_is_a_baseline_error_naming_it(tmp_path, damage):
    # such files escaped as TypeError and lost whole batches of other agents' calls
    path = save_baseline(fit(), tmp_path)
    good = save_baseline(fit(agent_id="A1002"), tmp_path)
    path.write_text(json.dumps(damage(json.loads(path.read_text()))))
    with pytest.raises(BaselineError, match=f"{path}.*(not a readable|must be)"):
        load_baseline(tmp_path, "A1001", features=NAMES)
    problems: dict[str, str] = {}
    found = load_all_baselines(tmp_path, "8k", problems, features=NAMES)
    assert [b.agent_id for b in found] == ["A1002"] and list(problems) == [path.name]
    assert load_baseline(tmp_path, "A1002", features=NAMES).agent_id == "A1002"
    assert good.exists()


def test_wrong_feature_count_is_a_clear_error():
    with pytest.raises(BaselineError, match="3"):
        fit().z(np.zeros(5))
    assert isinstance(Baseline.from_json(fit().to_json()), Baseline)
    assert MAD_TO_SIGMA == pytest.approx(1.4826)


def test_a_thin_calibration_borrows_the_typical_spread_and_a_long_one_keeps_its_own():
    from emotion.baseline import PRIOR_WINDOWS, WITHIN_SPEAKER_SIGMA
    from emotion.windows import FEATURE_NAMES

    prior = np.asarray(WITHIN_SPEAKER_SIGMA["8k"])
    rng = np.random.default_rng(1)
    # An agent steadier than is typical (half the usual spread).
    x = 5.0 * prior + rng.standard_normal((300, len(FEATURE_NAMES))) * prior * 0.5
    kw = dict(agent_id="A7", channel_type="8k", level_profile="g711-telephone",
              min_speech_s=1.0)
    thin = fit_baseline(x[:12], FEATURE_NAMES, speech_s=6.0, **kw)
    long = fit_baseline(x, FEATURE_NAMES, speech_s=1800.0, **kw)
    alone = fit_baseline(x[:12], FEATURE_NAMES, speech_s=6.0, prior_windows=0, **kw)
    own = np.asarray(thin.notes["sigma_own"])
    np.testing.assert_allclose(own, alone.sigma, rtol=1e-5)
    # 6 s = 2 windows' worth against the prior's 3: the variance is 60 % the prior's.
    expected = np.sqrt((2 * own**2 + PRIOR_WINDOWS * prior**2) / (2 + PRIOR_WINDOWS))
    np.testing.assert_allclose(thin.sigma, expected, rtol=1e-9)
    assert np.all(thin.sigma > 0.7 * prior)
    # 30 minutes: 600 windows' worth, the agent's own spread (within 3 %).
    np.testing.assert_allclose(long.sigma, long.notes["sigma_own"], rtol=0.03)
    assert np.all(long.sigma < 0.6 * prior)
    # Features other than the product's are fitted on their own spread.
    assert fit().notes == {}


def sixteen(agent="A1001", shift=0.0, seed=0):
    """A baseline of the product's 16 features, as the server reads them."""
    from emotion.windows import FEATURE_NAMES

    rng = np.random.default_rng(seed)
    x = 5.0 + shift + rng.standard_normal((200, len(FEATURE_NAMES)))
    return fit_baseline(x, FEATURE_NAMES, agent_id=agent, channel_type="8k", speech_s=90.0,
                        level_profile="g711-telephone")


def test_a_copy_kept_beside_a_baseline_is_not_read_in_its_place(tmp_path):
    # Found by an audit: "A2001.old.json" (another recording's baseline of A2001) won over
    # A2001.json in the running server, and counted twice in the population.
    path = save_baseline(sixteen(), tmp_path)
    copy = sixteen(shift=3.0).to_json()
    (tmp_path / "A1001.old.json").write_text(json.dumps(copy))
    problems: dict[str, str] = {}
    (found,) = load_all_baselines(tmp_path, "8k", problems)
    assert found.median[0] == pytest.approx(load_baseline(tmp_path, "A1001").median[0])
    assert found.median[0] < 6.0 and path.name == "A1001.json"
    assert "not named A1001.json" in problems["A1001.old.json"]


def test_a_running_server_sees_a_baseline_restored_over_the_current_one(tmp_path):
    # Found by an audit: a rollback by "cp history/A1001.<stamp>.json A1001.json" (a write
    # in place: the folder's times stay) went unseen; new calls used the discarded one.
    from voiceline.server.baselines import BaselineBook

    book = BaselineBook(tmp_path)
    path = save_baseline(sixteen(), tmp_path)
    first = path.read_text()
    assert book("A1001")[0].median[0] < 6.0
    save_baseline(sixteen(shift=2.0), tmp_path)
    assert book("A1001")[0].median[0] > 6.0
    folder = tmp_path.stat()
    path.write_text(first)  # in place, as cp does
    os.utime(tmp_path, ns=(folder.st_atime_ns, folder.st_mtime_ns))
    assert book("A1001")[0].median[0] < 6.0


def test_writers_of_one_baseline_at_once_each_write_a_whole_file(tmp_path):
    # Found by an audit: every writer used "A1001.json.tmp", so parallel ones failed.
    import threading

    bases = [sixteen(shift=k) for k in range(3)]
    errors: list[BaseException] = []

    def write(base):
        try:
            for _ in range(30):
                save_baseline(base, tmp_path)
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in bases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    median = load_baseline(tmp_path, "A1001", features=None).median[0]
    assert any(median == pytest.approx(b.median[0]) for b in bases)  # one writer's, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A1001.json"]
