"""The night detector against simulator ground truth (short nights; full evaluation is `cramp evaluate`)."""

from __future__ import annotations

import numpy as np
import pytest

from detector.events import Event, mask_to_runs
from detector.night import NightDetector, stream_infos
from detector.simulate import NightConfig, SimulatedNight, simulate_night


def detect(night: SimulatedNight) -> list[Event]:
    return run_detector(night).all_events()


def run_detector(night: SimulatedNight) -> NightDetector:
    cfg = night.config
    det = NightDetector(stream_infos(cfg.legs, emg_fs=cfg.emg_fs_hz, acc_fs=cfg.acc_fs_hz, emg_full_scale_uv=3276.7))
    for leg in cfg.legs:
        for kind, arrs in (("emg", night.emg), ("acc", night.acc)):
            if leg not in arrs:
                continue
            arr = arrs[leg] if arrs[leg].ndim == 2 else arrs[leg][np.newaxis]
            for a, b in mask_to_runs(np.isfinite(arr).all(axis=0)).tolist():
                x = arr[:, a:b].astype(np.float64)
                det.push(f"{kind}:{leg}", a, x[0] if kind == "emg" else x)
    det.finish(cfg.duration_s)
    return det


def match(truth: list[Event], found: list[Event], tol_s: float) -> tuple[int, int, list[float]]:
    hits, errors = 0, []
    used: set[int] = set()
    for t in truth:
        for i, f in enumerate(found):
            if i not in used and f.leg == t.leg and f.start_s < t.end_s and t.start_s < f.end_s:
                used.add(i)
                hits += 1
                errors.append(abs(f.start_s - t.start_s))
                break
    return hits, len(found) - len(used), errors


def two_cramps_found(night: SimulatedNight) -> list[Event]:
    """The night's two cramps are found, nothing else, with onsets within 3 s; the cramps found."""
    truth = [e for e in night.truth if e.kind == "cramp"]
    found = [e for e in detect(night) if e.kind == "cramp"]
    hits, false_pos, errors = match(truth, found, 3.0)
    assert len(truth) == 2 and hits == 2 and false_pos == 0
    assert max(errors) <= 3.0
    return found


def test_cramps_found_with_onsets_on_a_short_night(short_night: SimulatedNight) -> None:
    two_cramps_found(short_night)


def test_accelerometer_only_cramps_are_found_with_acc_evidence(acc_night: SimulatedNight) -> None:
    for c in two_cramps_found(acc_night):
        assert c.fields["evidence"] == ["acc"] and c.fields["peak_uv"] is None
        assert 0.0 < c.fields["confidence"] <= 0.6  # weaker evidence than EMG


def test_accelerometer_only_cramp_free_night_reports_no_cramp() -> None:
    cfg = NightConfig(
        duration_s=5400.0,
        emg_fs_hz=None,
        acc_fs_hz=100.0,
        n_cramps=0,
        plm=True,
        position_change_rate_per_h=8.0,
        artifact_rate_per_h=4.0,
    )
    night = simulate_night(cfg, rng=np.random.default_rng(98))
    assert not [e for e in detect(night) if e.kind == "cramp"]


def test_cramp_free_night_with_plms_reports_no_cramp() -> None:
    cfg = NightConfig(duration_s=3600.0, emg_fs_hz=500.0, acc_fs_hz=50.0, n_cramps=0, plm=True)
    night = simulate_night(cfg, rng=np.random.default_rng(99))
    events = detect(night)
    assert not [e for e in events if e.kind == "cramp"]
    truth_lm = [e for e in night.truth if e.kind == "limb_movement"]
    found_lm = [e for e in events if e.kind == "limb_movement"]
    assert len(truth_lm) >= 4
    hits = sum(any(f.start_s < t.end_s and t.start_s < f.end_s for f in found_lm) for t in truth_lm)
    assert hits >= 0.7 * len(truth_lm)
    assert any(e.kind == "plm_series" for e in events)


@pytest.mark.parametrize("seed", [5, 6])
def test_sleep_onset_is_found_although_the_night_starts_awake(seed: int) -> None:
    """The resting EMG level is first learnt from waking tone; the first stretch is judged afresh once
    the sleep level is known, so lying awake before sleep is wake, and its fidgets are not leg movements."""
    cfg = NightConfig(duration_s=5400.0 if seed == 5 else 7200.0, emg_fs_hz=500.0, acc_fs_hz=50.0, n_cramps=1)
    night = simulate_night(cfg, rng=np.random.default_rng(seed))
    det = run_detector(night)
    info = det.sleep_info()
    assert info is not None and info.sleep_onset_s is not None
    assert abs(info.sleep_onset_s - night.sleep_onset_s) <= 120.0
    lms = [e for e in det.all_events() if e.kind == "limb_movement"]
    assert lms and min(e.start_s for e in lms) >= night.sleep_onset_s - 60.0


def test_the_emg_bursts_of_tossing_and_turning_are_not_leg_movements() -> None:
    cfg = NightConfig(
        duration_s=5400.0, emg_fs_hz=500.0, acc_fs_hz=50.0, n_cramps=0, plm=False, position_change_rate_per_h=10.0
    )
    night = simulate_night(cfg, rng=np.random.default_rng(31))
    events = detect(night)
    tossing = [e for e in night.truth if e.kind == "large_movement"]
    found_large = [e for e in events if e.kind == "large_movement"]
    lms = [e for e in events if e.kind == "limb_movement"]
    assert len(tossing) >= 4 and found_large
    assert not [m for m in lms if any(t.start_s - 1 < m.end_s and m.start_s < t.end_s + 1 for t in found_large)]
    truth_lm = [e for e in night.truth if e.kind == "limb_movement"]
    hits = sum(any(f.start_s < t.end_s and t.start_s < f.end_s for f in lms) for t in truth_lm)
    assert hits >= 0.7 * len(truth_lm)


def test_a_long_cramp_minutes_after_falling_asleep_is_one_cramp_with_its_true_bounds() -> None:
    """The resting level was learnt from waking tone; the cramp (about 2-3x the sleeping level, waxing
    and waning) comes 3 minutes after sleep begins, at odd rates (EMG 512 Hz, accelerometer 32 Hz)."""
    cfg = NightConfig(duration_s=3 * 3600.0, emg_fs_hz=512.0, acc_fs_hz=32.0, n_cramps=3)
    night = simulate_night(cfg, rng=np.random.default_rng(777))
    truth = [e for e in night.truth if e.kind == "cramp"]
    found = [e for e in detect(night) if e.kind == "cramp"]
    assert truth[0].start_s < 600.0 and truth[0].duration_s > 240.0  # the case this test is about
    assert len(found) == len(truth)
    for t, f in zip(truth, found, strict=True):
        assert f.leg == t.leg and abs(f.start_s - t.start_s) <= 3.0 and abs(f.end_s - t.end_s) <= 5.0
