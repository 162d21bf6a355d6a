"""Alert rules: dwell, hysteresis, hold, cooldown and silence per seat, the same for one seat
as for a thousand, and explanations in the agent's own terms in English and Chinese."""

from __future__ import annotations

import json
import math
import tomllib
from collections import deque
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emotion.alerts import (
    KINDS,
    AlertConfig,
    AlertConfigError,
    AlertEvent,
    AlertRules,
    KindConfig,
)
from emotion.explain import (
    DEFAULT_MODEL_CARD,
    POPULATION,
    explain_drivers,
    head_weights,
    top_drivers,
)
from emotion.scoring import ModelError
from emotion.windows import FEATURE_NAMES

F = len(FEATURE_NAMES)
IDX = {name: i for i, name in enumerate(FEATURE_NAMES)}
#: Head weights for the tests: agitation up with loudness, pitch, rate and sharpness;
#: low energy up with quiet, flat, slow, paused speech.
WEIGHTS = np.zeros((2, F))
for _name, _w in [("loudness_n5_sone", 0.5), ("loudness_mean_sone", 0.3),
                  ("f0_median_st", 0.4), ("speech_rate_syl_s", 0.3), ("sharpness_acum", 0.2)]:
    WEIGHTS[0, IDX[_name]] = _w
for _name, _w in [("loudness_mean_sone", -0.5), ("f0_range_st", -0.4),
                  ("speech_rate_syl_s", -0.4), ("pause_ratio", 0.3)]:
    WEIGHTS[1, IDX[_name]] = _w


#: The mechanism tests below use plain round numbers (hot at 0.7, critical at 0.9, 4 of
#: 6 s, no fast path) so that each rule shows on its own; the shipped defaults, with
#: their fast path, have tests of their own.
PLAIN = AlertConfig(agitation=KindConfig())


def rules(n_seats=1, config=None, **kw) -> AlertRules:
    kw.setdefault("agent", lambda seat: "A1001")
    return AlertRules(n_seats, PLAIN if config is None else config, weights=WEIGHTS, **kw)


def feed(r: AlertRules, agitation, low_energy=None, z=None, start_s=1.0):
    """Step one seat through per-window values (NaN = no evidence); all events, in order."""
    low_energy = [0.1] * len(agitation) if low_energy is None else low_energy
    events = []
    for i, (a, le) in enumerate(zip(agitation, low_energy, strict=True)):
        zi = np.zeros((1, F)) if z is None else np.asarray(z[i], float).reshape(1, F)
        valid = np.array([not (math.isnan(a) and math.isnan(le))])
        events += r.step(start_s + i, np.array([a]), np.array([le]), zi, valid)
    return events


def brief(events):
    return [(e.type, e.kind, e.severity, e.t_s, e.reason) for e in events]


# --- dwell -------------------------------------------------------------------------------

def test_one_loud_second_never_opens_an_alert():
    # A 1 s shout colours the three 3 s windows that contain it, and no more.
    r = rules()
    assert feed(r, [0.2, 0.99, 0.99, 0.99, 0.2, 0.2, 0.2, 0.2]) == []
    assert feed(rules(), [0.99] + [0.2] * 10) == []


def test_consecutive_high_windows_open_exactly_at_the_dwell():
    events = feed(rules(), [0.2, 0.2] + [0.8] * 6)  # hot from t = 3 s
    assert brief(events) == [("opened", "agitation", "warning", 6.0, "dwell")]
    assert events[0].opened_t_s == 6.0 and events[0].duration_s == 4.0
    assert events[0].peak == 0.8

    # Fatigue is slow: low energy needs 25 of its last 30 speech windows at 0.8 or more.
    events = feed(rules(), [0.1] * 40, [0.8] * 40)
    assert brief(events) == [("opened", "low_energy", "warning", 25.0, "dwell")]
    assert feed(rules(), [0.1] * 40, [0.79] * 40) == []


def test_dwell_counts_hot_windows_within_the_span():
    # 4 of the last 6 speech windows: hot, cold, hot, cold, hot, hot opens on the 6th.
    assert brief(feed(rules(), [0.8, 0.3, 0.8, 0.3, 0.8, 0.8])) == [
        ("opened", "agitation", "warning", 6.0, "dwell")]
    # Hot every other window is 3 of 6 at most: never opens.
    assert feed(rules(), [0.8, 0.3] * 30) == []


# --- the shipped defaults: dwell 5 of 8 at 0.9, fast path 2 windows at 0.998 ---------------

def test_default_agitation_opens_at_once_on_two_very_confident_windows():
    # An agitated turn after the caller's: no agent windows, then very confident ones.
    nan = math.nan
    events = feed(rules(config=AlertConfig()), [0.1, 0.2, nan, nan, 0.999, 0.9995, 0.999,
                                                0.999, 0.999, 0.999])
    assert brief(events) == [
        ("opened", "agitation", "warning", 6.0, "fast"),  # the 2nd confident window
        # 5 of the last 8 speech windows at or above critical (0.95): escalates at t = 9 s
        ("updated", "agitation", "critical", 9.0, "escalated"),
    ]
    assert events[0].duration_s == 2.0 and events[0].peak == 0.9995


def test_default_fast_path_needs_consecutive_speech_windows_at_its_level():
    config = AlertConfig()
    # Confident windows broken by an ordinary one never take the fast path, and the
    # dwell (5 of 8 at 0.9) is not reached either: 4 of every 8 at most.
    assert feed(rules(config=config), [0.999, 0.5] * 20) == []
    # Merely critical windows (0.95-0.997) take the dwell: the 5th opens.
    assert brief(feed(rules(config=config), [0.99] * 8)) == [
        ("opened", "agitation", "critical", 5.0, "dwell")]
    # A pause between two confident windows neither breaks nor counts (speech windows).
    assert brief(feed(rules(config=config), [0.999, math.nan, 0.999])) == [
        ("opened", "agitation", "warning", 3.0, "fast")]


def test_default_one_loud_second_does_not_open_unless_it_saturates_two_windows():
    config = AlertConfig()
    # A loud second in calm speech lifts 2-4 windows; measured on acted speech the
    # windows around a loud second are e.g. 0.89, 1.0, 0.63 or 0.96, 0.99, 0.07: one
    # confident window, the rest below the fast level, too few for the dwell.
    for loud in ([0.2, 0.89, 0.999, 0.63, 0.1, 0.2],
                 [0.2, 0.96, 0.99, 0.999, 0.07, 0.1],
                 [0.1, 0.999, 0.95, 0.95, 0.95, 0.3, 0.2, 0.2, 0.2]):
        assert feed(rules(config=config), loud + [0.2] * 10) == [], loud
    # One that saturates two windows in a row opens: the price of the fast path
    # (benchmarks/RESULTS.md counts it on replayed calls). fast_s = 0 turns it off.
    assert brief(feed(rules(config=config), [0.2, 0.999, 0.999, 0.99, 0.2])) == [
        ("opened", "agitation", "warning", 3.0, "fast")]
    no_fast = AlertConfig.from_dict({"agitation": {"fast_s": 0}})
    assert feed(rules(config=no_fast), [0.2, 0.999, 0.999, 0.99, 0.2] + [0.2] * 10) == []


def test_low_energy_has_no_fast_path_by_default():
    assert brief(feed(rules(config=AlertConfig()), [0.1] * 25, [0.9999] * 25)) == [
        ("opened", "low_energy", "critical", 25.0, "dwell")]


def test_fast_path_is_off_after_a_long_silence_and_during_the_cooldown():
    config = AlertConfig(max_silence_s=5.0)
    nan = math.nan
    # One confident window, a long pause (forgets it), one more: no alert.
    assert feed(rules(config=config), [0.999] + [nan] * 6 + [0.999, 0.2]) == []
    # Opened fast, recovered (5 s below close), then confident again within the
    # 30 s cooldown: no new alert until it has passed.
    events = feed(rules(config=config), [0.999] * 2 + [0.2] * 5 + [0.999] * 30)
    assert brief(events) == [("opened", "agitation", "warning", 2.0, "fast"),
                             ("closed", "agitation", "warning", 7.0, "recovered"),
                             ("opened", "agitation", "critical", 37.0, "dwell")]


# --- severity ----------------------------------------------------------------------------

def test_warning_escalates_to_critical_with_an_updated_event():
    events = feed(rules(), [0.8] * 4 + [0.95] + [0.8] + [0.95] * 4)
    assert brief(events) == [
        ("opened", "agitation", "warning", 4.0, "dwell"),
        # 4 critical windows of the last 6 are reached at t = 9 s (windows 5, 7, 8, 9)
        ("updated", "agitation", "critical", 9.0, "escalated"),
    ]
    assert events[1].opened_t_s == 4.0 and events[1].peak == 0.95


def test_an_alert_that_is_critical_from_the_start_opens_critical_and_stays_so():
    events = feed(rules(), [0.95] * 4 + [0.75] * 10)
    assert brief(events) == [("opened", "agitation", "critical", 4.0, "dwell")]


# --- hysteresis, hold, cooldown ----------------------------------------------------------

def test_values_between_close_and_open_thresholds_keep_the_alert_open():
    events = feed(rules(), [0.8] * 4 + [0.6] * 60)
    assert brief(events) == [("opened", "agitation", "warning", 4.0, "dwell")]


def test_alert_closes_exactly_after_the_hold_time_below_close():
    # Open at 4 s; below close (0.5) from 5 s; the 5th such window (9 s) closes it.
    events = feed(rules(), [0.8] * 4 + [0.4] * 8)
    assert brief(events) == [("opened", "agitation", "warning", 4.0, "dwell"),
                             ("closed", "agitation", "warning", 9.0, "recovered")]
    assert events[1].opened_t_s == 4.0 and events[1].duration_s == 9.0
    # A window back above close restarts the hold: 4 below, 1 at 0.6, then 5 below.
    events = feed(rules(), [0.8] * 4 + [0.4] * 4 + [0.6] + [0.4] * 6)
    assert events[-1].type == "closed" and events[-1].t_s == 14.0


def test_cooldown_prevents_reopening_until_it_has_passed():
    # Closed at 9 s; hot from 10 s on; agitation cooldown is 30 s: reopens at 39 s.
    events = feed(rules(), [0.8] * 4 + [0.4] * 5 + [0.8] * 40)
    assert brief(events) == [("opened", "agitation", "warning", 4.0, "dwell"),
                             ("closed", "agitation", "warning", 9.0, "recovered"),
                             ("opened", "agitation", "warning", 39.0, "dwell")]
    # The new alert's story starts at its own first hot window, not the old one's.
    assert events[2].duration_s == 30.0


# --- no evidence -------------------------------------------------------------------------

def test_windows_without_speech_neither_open_nor_break_a_dwell():
    nan = math.nan
    assert feed(rules(), [nan] * 30) == []
    events = feed(rules(), [0.8, nan, 0.8, nan, nan, 0.8, 0.8])
    assert brief(events) == [("opened", "agitation", "warning", 7.0, "dwell")]


def test_silence_does_not_close_early_and_does_not_count_towards_the_hold():
    nan = math.nan
    # Open at 4 s, then 15 s silence, then below close with gaps: only speech counts.
    events = feed(rules(), [0.8] * 4 + [nan] * 15 + [0.4, nan, 0.4, nan, 0.4, 0.4, nan, 0.4])
    assert brief(events) == [("opened", "agitation", "warning", 4.0, "dwell"),
                             ("closed", "agitation", "warning", 27.0, "recovered")]


def test_long_silence_closes_an_open_alert_and_forgets_the_dwell():
    nan = math.nan
    events = feed(rules(), [0.8] * 4 + [nan] * 25)
    # last speech at 4 s; max_silence_s = 20 s
    assert brief(events) == [("opened", "agitation", "warning", 4.0, "dwell"),
                             ("closed", "agitation", "warning", 24.0, "silence")]
    # Three hot windows, a short pause, one more: opens. After a long pause: does not.
    assert len(feed(rules(), [0.8] * 3 + [nan] * 10 + [0.8])) == 1
    assert feed(rules(), [0.8] * 3 + [nan] * 20 + [0.8]) == []


# --- drivers and words -------------------------------------------------------------------

def test_drivers_are_the_mean_z_of_the_alerts_windows_that_push_the_kind_up():
    z = np.zeros((5, F))
    z[:, IDX["loudness_n5_sone"]] = [2.0, 6.0, 3.2, 2.4, 2.8]  # 6.0 is a cold window
    z[:, IDX["f0_median_st"]] = 1.9
    z[:, IDX["sharpness_acum"]] = 0.5
    z[:, IDX["speech_rate_syl_s"]] = -1.0  # slower: pulls agitation down, not a driver
    events = feed(rules(), [0.8, 0.3, 0.8, 0.8, 0.8], z=z)
    (event,) = events
    names = [name for name, _ in event.drivers]
    assert names == ["loudness_n5_sone", "f0_median_st", "sharpness_acum"]
    assert [v for _, v in event.drivers] == pytest.approx([2.6, 1.9, 0.5])
    assert event.explanation == (
        "louder (+2.6 σ), higher-pitched (+1.9 σ) and sharper (+0.5 σ) than A1001's usual, "
        "for 5 s")


def test_low_energy_explained_in_chinese():
    z = np.zeros((25, F))
    z[:, IDX["loudness_mean_sone"]] = -1.5
    z[:, IDX["f0_range_st"]] = -2.0
    z[:, IDX["speech_rate_syl_s"]] = -1.2
    (event,) = feed(rules(lang="zh"), [0.1] * 25, [0.85] * 25, z=z)
    assert event.kind == "low_energy" and event.t_s == 25.0
    assert event.explanation == (
        "与A1001平时相比：音调更平（-2.0 σ）、音量更小（-1.5 σ）、语速更慢（-1.2 σ），持续 25 秒")


def test_wording_in_english_and_chinese():
    drivers = (("loudness_n5_sone", 2.6), ("f0_median_st", 1.9))
    assert explain_drivers(drivers, "A1001", 7.0) == (
        "louder (+2.6 σ) and higher-pitched (+1.9 σ) than A1001's usual, for 7 s")
    assert explain_drivers(drivers, "A1001", 7.0, lang="zh") == (
        "与A1001平时相比：音量更大（+2.6 σ）、音调更高（+1.9 σ），持续 7 秒")
    # Both loudness measures say "louder": said once. Minutes for long alerts.
    assert explain_drivers((("loudness_mean_sone", -1.2), ("loudness_n5_sone", -0.8),
                            ("pause_ratio", 1.4)), "A7", 95.0) == (
        "quieter (-1.2 σ) and more pauses (+1.4 σ) than A7's usual, for 1 min 35 s")
    assert explain_drivers((("pause_ratio", -1.1),), None, 95.0, lang="zh") == (
        "与平时相比：停顿更少（-1.1 σ），持续 1 分 35 秒")
    assert explain_drivers((), "A1001", 3.0) == (
        "no single feature stands out from A1001's usual, for 3 s")
    # a voice judged against the population of the agents' baselines
    assert explain_drivers((("pause_ratio", -1.1),), POPULATION, 7.0) == (
        "fewer pauses (-1.1 σ) than the agents' usual (no personal baseline yet), for 7 s")
    assert explain_drivers((("pause_ratio", -1.1),), POPULATION, 7.0, lang="zh") == (
        "与坐席群体平时（尚无个人基线）相比：停顿更少（-1.1 σ），持续 7 秒")
    # Every window at the scores' limit: at least that far out, not exactly.
    assert explain_drivers((("loudness_slope_sone_s", 6.0), ("f0_median_st", 5.9),
                            ("vowel_tilt_db", -6.0)), "A1", 4.0) == (
        "more abrupt loudness changes (≥ +6.0 σ), higher-pitched (+5.9 σ) and more pressed "
        "voice (≤ -6.0 σ) than A1's usual, for 4 s")
    assert explain_drivers((("loudness_n5_sone", 6.0),), "A1", 4.0, lang="zh") == (
        "与A1平时相比：音量更大（≥ +6.0 σ），持续 4 秒")
    with pytest.raises(ValueError, match="lang"):
        explain_drivers(drivers, "A1001", 7.0, lang="fr")


def test_top_drivers_keep_only_features_pushing_the_kind_up():
    z = np.zeros(F)
    z[IDX["speech_rate_syl_s"]] = 3.0
    z[IDX["loudness_mean_sone"]] = -2.0  # quieter: pushes agitation down
    assert top_drivers(z, WEIGHTS[0]) == (("speech_rate_syl_s", 3.0),)
    assert top_drivers(z, WEIGHTS[1]) == (("loudness_mean_sone", -2.0),)


def test_every_feature_has_words_both_ways_in_both_languages():
    for lang in ("en", "zh"):
        for name in FEATURE_NAMES:
            up = explain_drivers(((name, 1.0),), "A1", 3.0, lang=lang)
            down = explain_drivers(((name, -1.0),), "A1", 3.0, lang=lang)
            assert name not in up + down and up != down.replace("-1.0", "+1.0"), (lang, name)


def test_default_weights_come_from_the_shipped_model_card(tmp_path):
    card = json.loads(DEFAULT_MODEL_CARD.read_text())
    names = tuple(card["feature_names"])
    np.testing.assert_array_equal(head_weights(feature_names=names), card["weights"])
    np.testing.assert_array_equal(AlertRules(2, feature_names=names).weights, card["weights"])
    # A card for other features is refused with both lists named.
    other = tmp_path / "voice_scoring.json"
    other.write_text(json.dumps({**card, "feature_names": names[:-1]}))
    with pytest.raises(ModelError, match="expected"):
        head_weights(other, names)
    with pytest.raises(ModelError, match="pass weights="):
        head_weights(tmp_path / "missing.json", names)


# --- seats -------------------------------------------------------------------------------

def test_reset_and_remove_close_open_alerts_and_free_the_seat():
    r = rules(3, agent={0: "A1", 1: "A2", 2: "A3"})
    hot = np.array([0.8, 0.8, 0.1])
    for t in range(1, 5):
        events = r.step(float(t), hot, np.full(3, 0.1), np.zeros((3, F)), np.ones(3, bool))
    assert [(e.seat, e.type) for e in events] == [(0, "opened"), (1, "opened")]
    assert "A2's usual" in events[1].explanation

    (closed,) = r.reset_seat(0, "call ended")
    assert (closed.type, closed.seat, closed.reason, closed.t_s) == ("closed", 0, "call ended",
                                                                      4.0)
    assert r.reset_seat(0) == []  # nothing open any more
    (left,) = r.remove_seat(1, t_s=4.5)
    assert (left.type, left.seat, left.reason, left.t_s) == ("closed", 1, "seat left", 4.5)
    assert r.active.tolist() == [True, False, True]
    with pytest.raises(ValueError, match="seat 1 is not in use"):
        r.remove_seat(1)

    def run(t_range, n):
        return [(e.seat, e.t_s) for t in t_range
                for e in r.step(float(t), np.full(n, 0.8), np.full(n, 0.1), np.zeros((n, F)),
                                np.ones(n, bool))]

    # The reset seat starts afresh (no cooldown carried into the new call); the removed
    # seat ignores whatever is fed in its slot.
    assert run(range(5, 10), 3) == [(0, 8.0), (2, 8.0)]
    assert r.add_seat() == 1  # the free slot, fresh
    assert r.add_seat() == 3 and r.n_seats == 4
    assert run(range(10, 14), 4) == [(1, 13.0), (3, 13.0)]


def test_step_rejects_wrong_shapes_and_time_going_back():
    r = rules(2)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        r.step(1.0, np.zeros(3), np.zeros(3), np.zeros((3, F)), np.ones(3, bool))
    r.step(2.0, np.zeros(2), np.zeros(2), np.zeros((2, F)), np.ones(2, bool))
    with pytest.raises(ValueError, match="went back"):
        r.step(1.0, np.zeros(2), np.zeros(2), np.zeros((2, F)), np.ones(2, bool))


# --- many seats = each seat alone --------------------------------------------------------

class OneSeatSpec:
    """One seat and kind in plain Python, straight from the rules' description."""

    def __init__(self, config: AlertConfig, kind: int, label: str):
        k = getattr(config, KINDS[kind])
        windows = lambda s: math.ceil(s / config.hop_s - 1e-9)  # noqa: E731
        self.k, self.cfg, self.kind, self.label = k, config, kind, label
        self.dwell, self.hold = windows(k.dwell_s), max(1, windows(k.hold_s))
        self.fast_n = windows(k.fast_s) if k.fast_s > 0 else math.inf
        self.history = deque(maxlen=windows(k.span_s))  # levels of the last speech windows
        self.run_fast = 0  # consecutive speech windows at or above `fast`
        self.last_t, self.closed_t = -math.inf, -math.inf
        self.open, self.critical, self.opened_t, self.below = False, False, math.nan, 0
        self._new_episode()

    def _new_episode(self):
        self.onset, self.z_sum, self.z_n, self.peak = None, np.zeros(F), 0, 0.0

    def step(self, t, p, z, seat):
        """This window's event, or None."""
        evidence = not math.isnan(p)
        level = (p >= self.k.warning) + (p >= self.k.critical) if evidence else 0
        if evidence:
            self.history.append(level)
            self.last_t = t
            self.run_fast = self.run_fast + 1 if p >= self.k.fast else 0
        n_hot = len(self.history) - self.history.count(0)
        n_crit = self.history.count(2)
        if not self.open and n_hot == 0:
            self._new_episode()
        if level > 0 and self.onset is None:
            self.onset = t
        if self.onset is not None and evidence:
            if p >= self.k.close:
                self.z_sum = self.z_sum + z
                self.z_n += 1
            self.peak = max(self.peak, p)
        event = None
        silent = not evidence and t - self.last_t >= self.cfg.max_silence_s
        if not self.open:
            fast = evidence and self.run_fast >= self.fast_n
            if (level > 0 and (n_hot >= self.dwell or fast)
                    and t >= self.closed_t + self.k.cooldown_s):
                self.open, self.opened_t, self.below = True, t, 0
                self.critical = n_crit >= self.dwell
                event = self.event(t, "opened", "dwell" if n_hot >= self.dwell else "fast",
                                   seat)
        else:
            if evidence:
                self.below = 0 if p >= self.k.close else self.below + 1
            if level > 1 and not self.critical and n_crit >= self.dwell:
                self.critical = True
                event = self.event(t, "updated", "escalated", seat)
            elif self.below >= self.hold:
                event = self.event(t, "closed", "recovered", seat)
            elif silent:
                event = self.event(t, "closed", "silence", seat)
        if silent:  # a long pause forgets the dwell (all of it, however few windows)
            self.history.clear()
            self.run_fast = 0
            self._new_episode()
        return event

    def event(self, t, type_, reason, seat):
        mean_z = self.z_sum / max(self.z_n, 1)
        drivers = top_drivers(mean_z, WEIGHTS[self.kind])
        duration_s = t - self.onset + self.cfg.hop_s
        out = AlertEvent(type_, seat, KINDS[self.kind], ("warning", "critical")[self.critical],
                         self.opened_t, t, duration_s, self.peak, drivers,
                         explain_drivers(drivers, self.label, duration_s), reason)
        if type_ == "closed":
            self.open, self.critical, self.opened_t, self.closed_t = False, False, math.nan, t
            self.below = 0
            self._new_episode()
        return out


def random_scores(rng, n_seats, n_ticks):
    """Scores that drift in and out of alert territory, with pauses of speech."""
    mean = rng.uniform(-3.0, 1.5, (n_seats, 2))
    logit = np.empty((n_ticks, n_seats, 2))
    x = mean.copy()
    for t in range(n_ticks):
        x = mean + 0.9 * (x - mean) + 0.7 * rng.standard_normal((n_seats, 2))
        logit[t] = x
    p = 1.0 / (1.0 + np.exp(-logit))
    speaking = np.ones((n_ticks, n_seats), bool)
    for t in range(1, n_ticks):  # two-state speech/pause chain, mean pause 5 s
        flip = rng.uniform(size=n_seats) < np.where(speaking[t - 1], 0.08, 0.2)
        speaking[t] = speaking[t - 1] ^ flip
    p[~speaking] = np.nan
    p[rng.uniform(size=p.shape) < 0.02] = np.nan  # a head with no answer now and then
    z = rng.normal(0.0, 1.5, (n_ticks, n_seats, F))
    return p, z, speaking


def run_vectorised(config, p, z, speaking, resets):
    n_ticks, n_seats = speaking.shape
    r = AlertRules(n_seats, config, weights=WEIGHTS, agent=lambda seat: f"A{seat}")
    events = {seat: [] for seat in range(n_seats)}
    for t in range(n_ticks):
        for e in r.step(float(t + 1), p[t, :, 0], p[t, :, 1], z[t], speaking[t]):
            events[e.seat].append(e)
        for seat in resets.get(t, ()):
            events[seat] += r.reset_seat(seat)
    return events


def run_alone(config, p, z, speaking, resets, seat):
    r = AlertRules(1, config, weights=WEIGHTS, agent=lambda _: f"A{seat}")
    events = []
    for t in range(speaking.shape[0]):
        one = slice(seat, seat + 1)
        events += [replace(e, seat=seat) for e in r.step(
            float(t + 1), p[t, one, 0], p[t, one, 1], z[t, one], speaking[t, one])]
        if seat in resets.get(t, ()):
            events += [replace(e, seat=seat) for e in r.reset_seat(0)]
    return events


def run_spec(config, p, z, speaking, resets, seat):
    new = lambda: [OneSeatSpec(config, k, f"A{seat}") for k in range(2)]  # noqa: E731
    specs, events = new(), []
    for t in range(speaking.shape[0]):
        for k, spec in enumerate(specs):
            event = spec.step(float(t + 1), float(p[t, seat, k]) if speaking[t, seat] else math.nan,
                              z[t, seat], seat)
            events += [event] if event else []
        if seat in resets.get(t, ()):
            events += [spec.event(float(t + 1), "closed", "call ended", seat)
                       for spec in specs if spec.open]
            specs = new()
    return events


@pytest.fixture(scope="module")
def thousand_seats():
    rng = np.random.default_rng(12345)
    p, z, speaking = random_scores(rng, 1000, 600)
    resets = {}
    for seat in rng.choice(1000, 100, replace=False):  # calls ending mid-run
        resets.setdefault(int(rng.integers(100, 600)), []).append(int(seat))
    # The defaults, with a fast path these random scores reach now and then.
    config = AlertConfig.from_dict({"agitation": {"fast": 0.95}})
    return config, p, z, speaking, resets, run_vectorised(config, p, z, speaking, resets)


def test_thousand_seats_in_one_step_equal_the_rules_written_out_per_seat(thousand_seats):
    config, p, z, speaking, resets, events = thousand_seats
    every = [e for seat in events for e in events[seat]]
    kinds = {(e.type, e.kind, e.severity, e.reason) for e in every}
    # The run exercises every path, so that agreement means something.
    for expected in [("opened", "agitation", "warning", "dwell"),
                     ("opened", "agitation", "warning", "fast"),
                     ("opened", "agitation", "critical", "dwell"),
                     ("updated", "agitation", "critical", "escalated"),
                     ("closed", "agitation", "warning", "recovered"),
                     ("closed", "agitation", "warning", "silence"),
                     ("closed", "agitation", "critical", "call ended"),
                     ("opened", "low_energy", "warning", "dwell"),
                     ("closed", "low_energy", "warning", "recovered")]:
        assert expected in kinds
    for seat in range(1000):
        assert events[seat] == run_spec(config, p, z, speaking, resets, seat), seat


def test_thousand_seats_in_one_step_equal_each_seat_alone(thousand_seats):
    config, p, z, speaking, resets, events = thousand_seats
    # Each 1-seat run costs 600 steps; 30 seats, the busiest and some at random, suffice
    # to show that no state leaks between seats (the spec test above covers all 1000).
    busiest = sorted(events, key=lambda seat: -len(events[seat]))[:20]
    sample = busiest + np.random.default_rng(1).choice(1000, 10, replace=False).tolist()
    for seat in sample:
        assert events[seat] == run_alone(config, p, z, speaking, resets, seat), seat


def scores(agitation, low_energy):
    """One seat's per-window values (NaN = no evidence) as the arrays of the runs above."""
    p = np.stack([agitation, low_energy], axis=-1).reshape(-1, 1, 2)
    return p, np.zeros((len(p), 1, F)), ~np.isnan(p).all(axis=-1)


@pytest.mark.parametrize("lead_in", [0, 40])
def test_long_silence_forgets_a_dwell_history_shorter_than_the_span(lead_in):
    # Regression (seat 937 of the thousand): a call starts (fresh seat, or reset after
    # `lead_in` windows that filled low energy's 30-window span), 6 hot low-energy windows,
    # 20 s without speech, then hot again. The pause forgets all 6, so the alert opens at
    # the 25th hot window after it (t = 51 s), not at the 19th (t = 45 s).
    nan = math.nan
    low_energy = [0.1] * lead_in + [0.8] * 6 + [nan] * 20 + [0.8] * 25
    agitation = [0.1 if not math.isnan(v) else nan for v in low_energy]
    p, z, speaking = scores(agitation, low_energy)
    resets = {lead_in - 1: [0]} if lead_in else {}
    config = AlertConfig()
    events = run_vectorised(config, p, z, speaking, resets)[0]
    assert brief(events) == [("opened", "low_energy", "warning", lead_in + 51.0, "dwell")]
    assert events[0].duration_s == 25.0  # the episode starts after the pause
    assert run_spec(config, p, z, speaking, resets, 0) == events


LEVELS = st.sampled_from([math.nan, 0.1, 0.45, 0.55, 0.75, 0.85, 0.95])


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n_seats=st.integers(1, 4),
    n_ticks=st.integers(1, 80),
    close=st.sampled_from([0.4, 0.5, 0.6]),
    dwell_n=st.integers(2, 4),
    extra_span=st.integers(0, 3),
    hold_n=st.integers(0, 4),
    cooldown_s=st.sampled_from([0.0, 3.0, 10.0]),
    max_silence_s=st.sampled_from([2.0, 5.0, 20.0]),
    fast_n=st.sampled_from([0, 2, 3]),
    fast=st.sampled_from([0.9, 0.95]),
)
def test_any_scores_give_the_same_events_for_many_seats_as_for_each_alone(
        data, n_seats, n_ticks, close, dwell_n, extra_span, hold_n, cooldown_s, max_silence_s,
        fast_n, fast):
    kind = KindConfig(warning=0.7, critical=0.9, close=close, dwell_s=dwell_n,
                      span_s=dwell_n + extra_span, hold_s=hold_n, cooldown_s=cooldown_s,
                      fast=fast, fast_s=fast_n)
    config = AlertConfig(agitation=kind, low_energy=kind, max_silence_s=max_silence_s)
    p = np.array(data.draw(st.lists(LEVELS, min_size=n_ticks * n_seats * 2,
                                    max_size=n_ticks * n_seats * 2))).reshape(n_ticks, n_seats, 2)
    z = np.random.default_rng(n_ticks).normal(size=(n_ticks, n_seats, F))
    speaking = ~np.isnan(p).all(axis=-1)
    resets = {data.draw(st.integers(0, n_ticks - 1)): [data.draw(st.integers(0, n_seats - 1))]}
    events = run_vectorised(config, p, z, speaking, resets)
    for seat in range(n_seats):
        assert events[seat] == run_alone(config, p, z, speaking, resets, seat)
        assert events[seat] == run_spec(config, p, z, speaking, resets, seat)
        for kind in KINDS:  # an alert's life: opened, (updated), closed, opened, ...
            life = [e.type for e in events[seat] if e.kind == kind and e.type != "updated"]
            assert life == ["opened", "closed"] * (len(life) // 2) + ["opened"] * (len(life) % 2)


# --- configuration -----------------------------------------------------------------------

def test_config_reads_back_what_it_writes_and_reads_toml():
    config = AlertConfig()
    assert AlertConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    text = """
        max_silence_s = 30
        [agitation]
        warning = 0.75
        dwell_s = 5
        [low_energy]
        cooldown_s = 120
    """
    config = AlertConfig.from_dict(tomllib.loads(text))
    assert config.agitation.warning == 0.75 and config.agitation.dwell_s == 5
    assert config.agitation.critical == 0.95  # untouched defaults stay
    assert config.agitation.fast_s == 2.0 and config.low_energy.fast_s == 0.0
    assert config.low_energy.cooldown_s == 120 and config.low_energy.dwell_s == 25.0
    assert config.max_silence_s == 30
    assert AlertConfig().low_energy.dwell_s >= 4 * AlertConfig().agitation.dwell_s


@pytest.mark.parametrize("data, message", [
    ({"agitaton": {}}, r"unknown alert setting\(s\) agitaton"),
    ({"agitation": {"dwell": 3}}, r"unknown alert setting\(s\) agitation\.dwell;"),
    ({"agitation": {"warning": 0.97}}, r"agitation: need 0 <= close < warning <= critical"),
    ({"low_energy": {"close": 0.8}}, r"low_energy: need 0 <= close < warning"),
    ({"agitation": {"critical": 1.5}}, r"critical=1.5"),
    ({"agitation": {"hold_s": -1}}, r"agitation: hold_s must be >= 0 s, got -1"),
    ({"agitation": {"span_s": 3}}, r"span_s \(3\) must be >= dwell_s \(5.0\)"),
    ({"agitation": {"fast_s": 1}}, r"agitation.fast_s = 1 s is less than two windows"),
    ({"agitation": {"fast": 0.8}}, r"agitation: need warning <= fast <= 1, got warning=0.9"),
    ({"low_energy": {"fast_s": -2}}, r"low_energy: fast_s must be >= 0 s"),
    ({"agitation": {"dwell_s": 1, "span_s": 4}}, r"less than two windows"),
    ({"agitation": {"warning": "high"}}, r"warning must be a number, not 'high'"),
    ({"agitation": {"cooldown_s": True}}, r"cooldown_s must be a number"),
    ({"hop_s": 0}, r"hop_s must be a number > 0 s"),
    ({"max_silence_s": -5}, r"max_silence_s must be a number > 0 s"),
    ({"low_energy": 3}, r"low_energy must be a table"),
])
def test_config_errors_name_the_setting(data, message):
    with pytest.raises(AlertConfigError, match=message):
        AlertConfig.from_dict(data)
