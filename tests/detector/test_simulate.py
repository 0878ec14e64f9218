"""Tests of the night simulator: determinism, layout, ground truth and the physiology in the signals."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import signal

from detector.events import EVENT_KINDS, Event
from detector.simulate import (
    ACC_RANGE_G,
    EMG_RANGE_UV,
    TRUTH_SCHEMA,
    NightConfig,
    SimulatedNight,
    max_cramps_that_fit,
    simulate_night,
)
from detector.simulate._emg import shaping_filter

F64 = npt.NDArray[np.float64]
LYING = {"supine", "left_side", "right_side", "prone"}
CLEAN = {"artifacts": False, "dropouts": False}


def night(seed: int, **kw: object) -> SimulatedNight:
    return simulate_night(NightConfig(**kw), rng=np.random.default_rng(seed))  # type: ignore[arg-type]


def window_rms(x: F64, fs: float, start_s: float, end_s: float, win_s: float = 1.0) -> F64:
    """RMS of consecutive ``win_s`` windows of ``x`` between ``start_s`` and ``end_s``."""
    seg = x[math.ceil(start_s * fs) : int(end_s * fs)]
    nw = int(win_s * fs)
    k = len(seg) // nw
    return np.sqrt(np.mean(seg[: k * nw].reshape(k, nw) ** 2, axis=1))


def emg_band(x: npt.ArrayLike, fs: float) -> F64:
    sos = signal.butter(4, [20.0, min(450.0, 0.45 * fs)], "bandpass", fs=fs, output="sos")
    return np.asarray(signal.sosfiltfilt(sos, np.asarray(x, dtype=np.float64)), dtype=np.float64)


def still_core(c: Event) -> tuple[float, float]:
    """The part of a cramp where the limb is held still: after the onset, before sitting up or stretching."""
    return c.start_s + 3.0, c.end_s - (10.0 if c.fields["out_of_bed"] else 2.0)


def nan_mask(gaps: list[Event], n: int, fs: float) -> npt.NDArray[np.bool_]:
    t = np.arange(n) / fs
    mask = np.zeros(n, dtype=bool)
    for g in gaps:
        mask |= (t >= g.start_s) & (t < g.end_s)
    return mask


# -- determinism and layout --------------------------------------------------------------------------


def test_same_seed_is_bit_identical_and_seeds_differ() -> None:
    kw = {"duration_s": 600.0, "n_cramps": 1, "artifact_rate_per_h": 20.0, "dropout_rate_per_h": 10.0}
    a, b, c = night(7, **kw), night(7, **kw), night(8, **kw)
    assert a.truth == b.truth
    assert a.truth_json() == b.truth_json()
    for leg in a.config.legs:
        assert a.emg[leg].tobytes() == b.emg[leg].tobytes()
        assert a.acc[leg].tobytes() == b.acc[leg].tobytes()
        assert not np.array_equal(a.emg[leg], c.emg[leg], equal_nan=True)
        assert not np.array_equal(a.acc[leg], c.acc[leg], equal_nan=True)
    assert a.truth != c.truth


def test_chunked_generation_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """The filter state is carried across chunks: the chunk size does not change a single sample."""
    import detector.simulate._acc as acc_module
    import detector.simulate._emg as emg_module

    kw = {"duration_s": 600.0, "n_cramps": 1, "artifact_rate_per_h": 30.0, "emg_fs_hz": 500.0}
    reference = night(4, **kw)
    monkeypatch.setattr(emg_module, "_CHUNK", 7919)
    monkeypatch.setattr(acc_module, "_CHUNK", 997)
    chunked = night(4, **kw)
    for leg in reference.config.legs:
        assert reference.emg[leg].tobytes() == chunked.emg[leg].tobytes()
        assert reference.acc[leg].tobytes() == chunked.acc[leg].tobytes()


@pytest.mark.parametrize(
    ("emg_fs", "acc_fs", "legs"),
    [
        (1000.0, 100.0, ("left", "right")),
        (200.0, 12.5, ("left",)),
        (4000.0, 1000.0, ("right",)),
        (512.0, 52.0, ("right", "left")),
        (None, 100.0, ("left", "right")),
        (1000.0, None, ("left",)),
    ],
)
def test_streams_have_the_configured_layout(emg_fs: float | None, acc_fs: float | None, legs: tuple[str, ...]) -> None:
    duration = 300.0
    n = night(1, duration_s=duration, emg_fs_hz=emg_fs, acc_fs_hz=acc_fs, legs=legs, **CLEAN)
    assert set(n.emg) == (set(legs) if emg_fs else set())
    assert set(n.acc) == (set(legs) if acc_fs else set())
    for x in n.emg.values():
        assert emg_fs is not None
        assert x.dtype == np.float32 and x.shape == (math.ceil(duration * emg_fs),)
        assert np.isfinite(x).all()
    for a in n.acc.values():
        assert acc_fs is not None
        assert a.dtype == np.float32 and a.shape == (3, math.ceil(duration * acc_fs))
        assert np.isfinite(a).all()
        assert np.median(np.linalg.norm(a, axis=0)) == pytest.approx(1.0, abs=0.05)


def test_truth_does_not_depend_on_the_sampling_rates() -> None:
    a = night(3, duration_s=1800.0, emg_fs_hz=1000.0, acc_fs_hz=100.0)
    b = night(3, duration_s=1800.0, emg_fs_hz=None, acc_fs_hz=12.5)
    assert a.truth == b.truth


def test_truth_json_is_serialisable_and_round_trips() -> None:
    n = night(2, duration_s=1200.0, n_cramps=1, emg_fs_hz=None, acc_fs_hz=12.5)
    obj = json.loads(json.dumps(n.truth_json()))
    assert obj["schema"] == TRUTH_SCHEMA == "cramp-truth/1"
    assert obj["config"]["duration_s"] == 1200.0 and obj["config"]["legs"] == ["left", "right"]
    assert obj["sleep_onset_s"] == pytest.approx(n.sleep_onset_s, abs=1e-3)
    events = [Event.from_json(e) for e in obj["events"]]
    assert [(e.kind, e.leg) for e in events] == [(e.kind, e.leg) for e in n.truth]
    cramp = next(e for e in obj["events"] if e["kind"] == "cramp")
    assert set(cramp) >= {"pre_onset_s", "peak_uv", "awakening", "out_of_bed"}


# -- ground truth ---------------------------------------------------------------------------------------


def truth_nights() -> Iterator[SimulatedNight]:
    for seed in range(10):
        yield night(seed, emg_fs_hz=None, acc_fs_hz=12.5, n_cramps=min(seed, 4))


def test_truth_is_consistent() -> None:
    kinds = set(EVENT_KINDS) | {"position_change"}
    n_cramps = n_woken = 0
    for n in truth_nights():
        dur, so, fw = n.config.duration_s, n.sleep_onset_s, n.final_wake_s
        assert 0.0 < so < fw <= dur
        assert 5 * 60 <= so <= 30 * 60
        starts = [e.start_s for e in n.truth]
        assert starts == sorted(starts)
        for e in n.truth:
            assert e.kind in kinds
            assert 0.0 <= e.start_s <= e.end_s <= dur
        cramps = n.events_of("cramp")
        wakes = n.events_of("awakening")
        assert len(cramps) == n.config.n_cramps
        for c in cramps:
            lo, hi = n.config.cramp_duration_s
            assert lo <= c.duration_s <= hi
            assert c.leg in n.config.legs
            assert 20.0 <= c.start_s - c.fields["pre_onset_s"] <= 90.0
            assert so < c.fields["pre_onset_s"] and c.end_s < fw
            assert c.fields["peak_uv"] > 0.0
            followed = [w for w in wakes if c.start_s <= w.start_s <= c.end_s + 120.0]
            assert c.fields["awakening"] == bool(followed)
            if followed:
                assert followed[0].fields["cause"] == "cramp"
            n_cramps += 1
            n_woken += bool(followed)
        for w in wakes:
            assert w.duration_s >= 60.0 and so < w.start_s and w.end_s < fw
            assert w.fields["cause"] in ("cramp", "spontaneous")
        for e in n.events_of("out_of_bed"):
            assert e.duration_s >= 20.0 and e.leg is None
        for e in n.events_of("limb_movement"):
            assert 0.5 <= e.duration_s <= 10.0
            assert so <= e.start_s <= fw
        for e in n.events_of("large_movement"):
            assert 3.0 <= e.duration_s <= 45.0 and e.leg is None
        for e in n.events_of("position_change"):
            assert e.fields["from"] != e.fields["to"] and {e.fields["from"], e.fields["to"]} <= LYING
        for e in n.events_of("signal_gap"):
            assert e.fields["stream"] == "acc" and e.leg in n.config.legs
        for e in n.events_of("artifact"):
            assert e.fields["stream"] in ("emg", "acc") and e.leg in n.config.legs
            assert e.fields["reason"] in ("mains", "clipping", "lead_off", "pops", "motion")
        for e in n.events_of("artifact") + n.events_of("signal_gap"):
            for c in cramps:  # artifacts and gaps keep >= 30 s away from cramps and their pre-rise
                assert e.end_s <= c.fields["pre_onset_s"] - 29.0 or e.start_s >= c.end_s + 29.0
    assert n_cramps >= 25
    assert 0.7 <= n_woken / n_cramps <= 0.97


def check_plm(n: SimulatedNight) -> None:
    lms = n.events_of("limb_movement")
    for s in n.events_of("plm_series"):
        inside = [e for e in lms if s.start_s <= e.start_s and e.end_s <= s.end_s]
        assert len(inside) == s.fields["count"] >= 4
        intervals = np.diff([e.start_s for e in inside])
        assert np.all((intervals >= 5.0) & (intervals <= 90.0))
        assert s.leg in (None, *n.config.legs)


def test_plm_series_follow_the_aasm_rule() -> None:
    n_series = 0
    for seed in range(4):
        n = night(seed, emg_fs_hz=None, acc_fs_hz=12.5, plm=True, duration_s=3 * 3600.0)
        check_plm(n)
        n_series += len(n.events_of("plm_series"))
        assert n.events_of("plm_series")
    assert n_series >= 4
    for seed in range(4):  # many sporadic LMs must still not form a series by chance
        n = night(seed, emg_fs_hz=None, acc_fs_hz=12.5, plm=False, lm_rate_per_h=60.0, duration_s=4 * 3600.0)
        assert len(n.events_of("limb_movement")) > 60
        assert not n.events_of("plm_series")


def test_short_nights_hold_the_requested_cramps() -> None:
    fast = {"emg_fs_hz": 200.0, "acc_fs_hz": 12.5}
    for seed in range(5):
        n = night(seed, duration_s=900.0, n_cramps=2, **fast)
        assert len(n.events_of("cramp")) == 2
        assert len(night(seed, duration_s=900.0, n_cramps=0, **fast).events_of("cramp")) == 0
        assert night(seed, duration_s=60.0, **fast).final_wake_s <= 60.0
    n = night(0, duration_s=3600.0, n_cramps=3, cramp_legs=("right",), cramp_duration_s=(30.0, 40.0), **fast)
    assert [c.leg for c in n.events_of("cramp")] == ["right"] * 3
    assert all(30.0 <= c.duration_s <= 40.0 for c in n.events_of("cramp"))


# -- physiology measured on the signals --------------------------------------------------------------


@pytest.fixture(scope="module")
def cramp_nights() -> list[SimulatedNight]:
    kw = {"duration_s": 1800.0, "n_cramps": 2, "plm": False, "lm_rate_per_h": 0.0, **CLEAN}
    return [night(seed, **kw) for seed in range(4)]


def test_cramp_emg_rises_several_fold_after_a_modest_pre_rise(cramp_nights: list[SimulatedNight]) -> None:
    fs = 1000.0
    for n in cramp_nights:
        for c in n.events_of("cramp"):
            x = emg_band(n.emg[c.leg], fs)
            pre = c.fields["pre_onset_s"]
            rest = np.median(window_rms(x, fs, pre - 60.0, pre - 2.0))
            plateau = np.median(window_rms(x, fs, c.start_s + 3.0, c.end_s - 1.0, 0.5))
            rise = np.median(window_rms(x, fs, c.start_s - 8.0, c.start_s))
            last = np.median(window_rms(x, fs, c.end_s - 1.8, c.end_s - 0.8, 0.25))
            after = np.median(window_rms(x, fs, c.end_s + 0.3, c.end_s + 1.3, 0.25))
            assert 2.0 <= plateau / rest <= 6.0, (plateau, rest)
            assert 1.05 <= rise / rest <= 2.0
            assert after < 0.7 * last, (after, last)  # abrupt end, within about a second
            assert 2.0 * rest <= c.fields["peak_uv"] <= 10.0 * plateau


def test_cramp_emg_mean_frequency(cramp_nights: list[SimulatedNight]) -> None:
    fs = 1000.0
    for n in cramp_nights:
        for c in n.events_of("cramp"):
            a, b = still_core(c)
            if b - a < 2.0:
                continue
            core = n.emg[c.leg][int(a * fs) : int(b * fs)]
            f, p = signal.welch(core.astype(np.float64), fs=fs, nperseg=1024)
            assert 70.0 <= np.sum(f * p) / np.sum(p) <= 110.0


def test_cramp_shows_mechanomyography_in_a_still_limb(cramp_nights: list[SimulatedNight]) -> None:
    fs = 100.0
    sos = signal.butter(4, 5.0, "high", fs=fs, output="sos")
    ratios = []
    for n in cramp_nights:
        for c in n.events_of("cramp"):
            a = n.acc[c.leg].astype(np.float64)
            mag = np.linalg.norm(signal.sosfiltfilt(sos, a, axis=-1), axis=0)
            pre = c.fields["pre_onset_s"]
            t0, t1 = still_core(c)
            if t1 - t0 < 2.0:
                continue
            core = np.median(window_rms(mag, fs, t0, t1))
            quiet = np.median(window_rms(mag, fs, pre - 60.0, pre - 2.0))
            ratios.append(core / quiet)
            low = a[:, int(t0 * fs) : int(t1 * fs)]
            assert np.ptp(signal.sosfiltfilt(signal.butter(2, 1.0, fs=fs, output="sos"), low), axis=1).max() < 0.1
    assert len(ratios) >= 5
    assert min(ratios) > 1.1
    assert np.median(ratios) > 1.3


def test_limb_movements_exceed_the_aasm_onset_threshold() -> None:
    fs = 1000.0
    n = night(4, duration_s=2400.0, n_cramps=0, plm=False, lm_rate_per_h=120.0, **CLEAN)
    lms = [e for e in n.events_of("limb_movement") if e.leg is not None and e.duration_s >= 1.0]
    assert len(lms) >= 8
    for lm in lms:
        x = emg_band(n.emg[lm.leg], fs)
        rest = np.median(window_rms(x, fs, lm.start_s - 9.0, lm.start_s - 1.0, 0.5))
        burst = np.median(window_rms(x, fs, lm.start_s + 0.2, lm.end_s - 0.2, 0.25))
        assert burst - rest >= 8.0
        a = n.acc[lm.leg].astype(np.float64)
        motion = np.ptp(a[:, int(lm.start_s * 100) : int(lm.end_s * 100)], axis=1).max()
        assert 0.005 < motion < 0.5


def test_accelerometer_orientation_follows_posture() -> None:
    checked_oob = checked_lying = 0
    for seed in range(6):
        n = night(seed, emg_fs_hz=None, acc_fs_hz=25.0, duration_s=4 * 3600.0, **CLEAN)
        fs = 25.0
        for leg, a in n.acc.items():
            for e in n.events_of("out_of_bed"):
                x = a[0, int((e.start_s + 3) * fs) : int((e.end_s - 3) * fs)]
                assert np.median(x) > 0.85
                checked_oob += 1
            changes = n.events_of("position_change") + n.events_of("out_of_bed")
            for pc in n.events_of("position_change"):
                nxt = min([e.start_s for e in changes if e.start_s > pc.end_s], default=n.config.duration_s)
                seg = a[:, int((pc.end_s + 2) * fs) : int((min(nxt - 2, pc.end_s + 60)) * fs)]
                if seg.shape[1] < fs:
                    continue
                x, y, z = np.median(seg, axis=1)
                expected = {
                    "supine": z > 0.6,
                    "prone": z < -0.6,
                    "left_side": y > 0.6,
                    "right_side": y < -0.6,
                }
                assert expected[pc.fields["to"]], (leg, pc, (x, y, z))
                assert abs(x) < 0.35
                checked_lying += 1
            sleep = a[0, int(n.sleep_onset_s * fs) : int(n.final_wake_s * fs)]
            assert np.median(np.abs(sleep)) < 0.3
    assert checked_oob >= 3 and checked_lying >= 20


def test_emg_spectrum_stays_below_045_fs_at_low_rates() -> None:
    fs = 200.0
    n = night(5, duration_s=1800.0, emg_fs_hz=fs, n_cramps=1, **CLEAN)
    c = n.events_of("cramp")[0]
    core = n.emg[c.leg][int((c.start_s + 3) * fs) : int((c.end_s - 1) * fs)].astype(np.float64)
    f, p = signal.welch(core, fs=fs, nperseg=256)
    assert p[f > 0.47 * fs].sum() < 0.01 * p.sum()
    for fs_hz in (200.0, 1000.0, 4000.0):
        sos, gain = shaping_filter(fs_hz, 140.0)
        x = gain * signal.sosfilt(sos, np.random.default_rng(0).standard_normal(int(200 * fs_hz)))
        rms = np.sqrt(np.mean(x**2))  # full band is 1; at 200 Hz only the part below 90 Hz remains
        assert (0.97 <= rms <= 1.03) if fs_hz >= 1000.0 else (0.6 <= rms <= 0.85)


# -- artifacts and dropouts ------------------------------------------------------------------------------


def line_ratio(x: F64, fs: float, f0: float) -> float:
    f, p = signal.welch(x, fs=fs, nperseg=int(4 * fs))
    at = p[np.argmin(np.abs(f - f0))]
    near = np.median(p[(np.abs(f - f0) > 2.0) & (np.abs(f - f0) < 8.0)])
    return float(at / near)


@pytest.mark.parametrize("mains_hz", [50.0, 60.0])
def test_artifacts_present_when_enabled(mains_hz: float) -> None:
    n = night(11, duration_s=1800.0, mains_hz=mains_hz, artifact_rate_per_h=40.0, dropouts=False)
    arts = n.events_of("artifact")
    assert {e.fields["reason"] for e in arts} >= {"mains", "clipping", "lead_off", "pops", "motion"}
    for e in arts:
        fs = n.config.emg_fs_hz if e.fields["stream"] == "emg" else n.config.acc_fs_hz
        assert fs is not None and e.leg is not None
        x = n.emg[e.leg] if e.fields["stream"] == "emg" else n.acc[e.leg]
        seg = x[..., int(e.start_s * fs) : int(e.end_s * fs) + 1]
        limit = EMG_RANGE_UV if e.fields["stream"] == "emg" else ACC_RANGE_G
        if e.fields["reason"] == "clipping":
            assert np.mean(np.abs(seg) == np.float32(limit)) > 0.5
        elif e.fields["reason"] == "pops":
            assert np.abs(seg).max() > 80.0
        elif e.fields["reason"] == "mains" and e.duration_s > 20.0:
            assert line_ratio(seg.astype(np.float64), fs, mains_hz) > 50.0
    for leg, x in n.emg.items():  # the night-long low-level hum, away from every artifact stretch
        busy = [(e.start_s - 5.0, e.end_s + 5.0) for e in arts if e.leg == leg]
        start = next(t for t in np.arange(0.0, 1680.0, 10.0) if all(t + 120.0 < a or t > b for a, b in busy))
        quiet = x[int(start * 1000) : int((start + 120.0) * 1000)].astype(np.float64)
        assert line_ratio(quiet, 1000.0, mains_hz) > 3.0


def test_no_artifacts_when_disabled() -> None:
    n = night(11, duration_s=1800.0, artifact_rate_per_h=40.0, **CLEAN)
    assert not n.events_of("artifact") and not n.events_of("signal_gap")
    for x in n.emg.values():
        assert np.abs(x).max() < 0.5 * EMG_RANGE_UV
        assert line_ratio(x.astype(np.float64), 1000.0, 50.0) < 2.0
    for a in n.acc.values():
        assert np.abs(a).max() < 0.5 * ACC_RANGE_G


@pytest.mark.parametrize(("emg_fs", "acc_fs"), [(1000.0, 100.0), (333.0, 12.5), (None, 50.0)])
def test_nan_exactly_in_signal_gaps(emg_fs: float | None, acc_fs: float) -> None:
    n = night(5, duration_s=1800.0, emg_fs_hz=emg_fs, acc_fs_hz=acc_fs, dropout_rate_per_h=20.0, n_cramps=1)
    gaps = n.events_of("signal_gap")
    assert len(gaps) >= 5
    assert {g.fields["stream"] for g in gaps} == {"emg+acc" if emg_fs else "acc"}
    for leg in n.config.legs:
        mine = [g for g in gaps if g.leg == leg]
        if emg_fs is not None:
            x = n.emg[leg]
            assert np.array_equal(np.isnan(x), nan_mask(mine, len(x), emg_fs))
        a = n.acc[leg]
        assert np.array_equal(np.isnan(a).any(axis=0), nan_mask(mine, a.shape[1], acc_fs))
        assert np.array_equal(np.isnan(a).all(axis=0), np.isnan(a).any(axis=0))


# -- configuration ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"duration_s": 10.0}, "duration_s"),
        ({"duration_s": float("nan")}, "duration_s"),
        ({"legs": ()}, "legs"),
        ({"legs": ("left", "left")}, "legs"),
        ({"legs": ("middle",)}, "legs"),
        ({"emg_fs_hz": 100.0}, "emg_fs_hz"),
        ({"acc_fs_hz": 5000.0}, "acc_fs_hz"),
        ({"emg_fs_hz": None, "acc_fs_hz": None}, "emg_fs_hz"),
        ({"mains_hz": 55.0}, "mains_hz"),
        ({"n_cramps": -1}, "n_cramps"),
        ({"n_cramps": 2.5}, "n_cramps"),
        ({"n_cramps": 5, "duration_s": 900.0}, "n_cramps"),
        ({"cramp_legs": ("right",), "legs": ("left",)}, "cramp_legs"),
        ({"cramp_duration_s": (100.0, 50.0)}, "cramp_duration_s"),
        ({"cramp_duration_s": (1.0, 50.0)}, "cramp_duration_s"),
        ({"plm": True, "duration_s": 60.0}, "plm"),
        ({"cramp_awakening_prob": 1.5}, "cramp_awakening_prob"),
        ({"lm_rate_per_h": -1.0}, "lm_rate_per_h"),
        ({"artifact_rate_per_h": 1e6}, "artifact_rate_per_h"),
    ],
)
def test_invalid_config_is_rejected_with_a_clear_message(kw: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        NightConfig(**kw)  # type: ignore[arg-type]


def test_rng_must_be_a_generator() -> None:
    with pytest.raises(TypeError, match="Generator"):
        simulate_night(NightConfig(duration_s=60.0), rng=42)  # type: ignore[arg-type]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    duration=st.floats(60.0, 1.5 * 3600.0),
    legs=st.sampled_from([("left",), ("right",), ("left", "right")]),
    acc_fs=st.sampled_from([12.5, 25.0, 50.0]),
    emg=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
    want_cramps=st.integers(0, 4),
)
def test_any_valid_night_is_well_formed(
    duration: float, legs: tuple[str, ...], acc_fs: float, emg: bool, seed: int, want_cramps: int
) -> None:
    n_cramps = min(want_cramps, max_cramps_that_fit(duration, NightConfig().cramp_duration_s[0]))
    cfg = NightConfig(
        duration_s=duration,
        legs=legs,
        emg_fs_hz=200.0 if emg else None,
        acc_fs_hz=acc_fs,
        n_cramps=n_cramps,
        artifact_rate_per_h=10.0,
        dropout_rate_per_h=5.0,
    )
    n = simulate_night(cfg, rng=np.random.default_rng(seed))
    assert len(n.events_of("cramp")) == n_cramps
    assert 0.0 < n.sleep_onset_s < n.final_wake_s <= duration
    for e in n.truth:
        assert 0.0 <= e.start_s <= e.end_s <= duration
    gaps = n.events_of("signal_gap")
    for leg in legs:
        a = n.acc[leg]
        assert np.array_equal(np.isnan(a[0]), nan_mask([g for g in gaps if g.leg == leg], a.shape[1], acc_fs))
        assert np.nanmax(np.abs(a)) <= ACC_RANGE_G
        if emg:
            assert np.nanmax(np.abs(n.emg[leg])) <= EMG_RANGE_UV
    check_plm(n)
