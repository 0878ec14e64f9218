"""Live latency: a cramp is announced at most 2 s after it has lasted its 10 s minimum."""

from __future__ import annotations

import numpy as np

from detector.night import NightDetector, stream_infos
from detector.simulate import NightConfig, simulate_night


def test_cramp_notice_within_two_seconds_of_the_ten_second_minimum() -> None:
    cfg = NightConfig(duration_s=1200.0, emg_fs_hz=500.0, acc_fs_hz=50.0, n_cramps=2, cramp_duration_s=(12.0, 60.0))
    short_night = simulate_night(cfg, rng=np.random.default_rng(4242))
    fs_e, fs_a = float(cfg.emg_fs_hz or 0), float(cfg.acc_fs_hz or 0)
    det = NightDetector(stream_infos(cfg.legs, emg_fs=fs_e, acc_fs=fs_a, emg_full_scale_uv=3276.7))
    heard: list[tuple[float, float, str | None]] = []  # (data time when announced, onset, leg)
    step = 0.25  # what a live session hands the detector at a time
    for k in range(int(cfg.duration_s / step)):
        for leg in cfg.legs:
            for kind, arr, fs in (("emg", short_night.emg[leg][np.newaxis], fs_e), ("acc", short_night.acc[leg], fs_a)):
                a, b = round(k * step * fs), round((k + 1) * step * fs)
                chunk = arr[:, a:b]
                ok = np.isfinite(chunk).all(axis=0)
                if ok.all():
                    det.push(f"{kind}:{leg}", a, chunk[0] if kind == "emg" else chunk)
        heard += [(n.t_s, n.since_s, n.leg) for n in det.notices]
        det.notices.clear()
        now = (k + 1) * step
        for t_s, _, _ in heard:
            assert t_s <= now + 1e-9  # announced from data already received
    truth = [e for e in short_night.truth if e.kind == "cramp"]
    assert truth
    for cramp in truth:
        told = [t for t, since, leg in heard if leg == cramp.leg and abs(since - cramp.start_s) < 5.0]
        assert told, f"no notice for the cramp at {cramp.start_s:.1f} s"
        assert told[0] - (cramp.start_s + 10.0) <= 2.0
