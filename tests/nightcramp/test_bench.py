"""Pieces of the benchmark that must be right for its ratios to mean anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nightcramp.bench import _streaming_share, _turn_ratios, reference_pipeline
from nightcramp.evaluation import SUITE, run_case


def test_reference_pipeline_finds_a_sustained_burst_and_ignores_a_short_one() -> None:
    fs = 1000.0
    rng = np.random.default_rng(0)
    x = rng.standard_normal(int(120 * fs)).astype(np.float32) * 3.0
    x[int(30 * fs) : int(50 * fs)] *= 6.0  # 20 s contraction
    x[int(80 * fs) : int(83 * fs)] *= 6.0  # 3 s movement
    events = reference_pipeline(x, fs)
    assert len(events) == 1 and abs(events[0][0] - 30.0) < 1.0 and abs(events[0][1] - 50.0) < 1.0


def test_streaming_share_is_measured() -> None:
    from detector.simulate import NightConfig, simulate_night

    night = simulate_night(NightConfig(duration_s=300.0), rng=np.random.default_rng(1))
    share = _streaming_share(night, 120.0)
    assert 0.0 < share < 1.0


def test_evaluation_case_scores_a_short_night() -> None:
    case = SUITE[0]
    row = run_case((case, 12345, 0.05))  # a 24-min night
    assert row["hours"] == 0.4 and set(row["scores"]) == {"cramp", "awakening", "limb_movement"}
    assert row["scores"]["cramp"].fn + row["scores"]["cramp"].tp == row["truth_cramps"]


def test_the_benchmark_bdf_is_a_valid_bdf_that_reads_back_its_night(tmp_path: Path) -> None:
    import edfio

    from detector.simulate import NightConfig, simulate_night
    from firmware_bridge.formats import read_edf
    from nightcramp.bench import write_bdf

    night = simulate_night(NightConfig(duration_s=120.0, dropouts=False), rng=np.random.default_rng(2))
    path = write_bdf(tmp_path / "n.bdf", night)
    theirs = edfio.read_bdf(path)  # another library agrees it is a BDF with these channels
    assert [s.label for s in theirs.signals][:4] == ["EMG L", "Acc L X", "Acc L Y", "Acc L Z"]
    assert theirs.signals[0].sampling_frequency == 2000 and theirs.signals[1].sampling_frequency == 100
    rec = read_edf(path)
    emg, acc = rec.signals[0].data, rec.signals[1].data
    lsb_uv, lsb_g = 3276.8 / 2**23, 8.0 / 2**23
    np.testing.assert_allclose(emg, np.repeat(night.emg["left"], 2), atol=lsb_uv)
    np.testing.assert_allclose(acc, night.acc["left"], atol=lsb_g)
    np.testing.assert_allclose(emg, theirs.signals[0].data, atol=1e-6 * 3276.8)


def test_bridge_bench_pieces_measure_real_work() -> None:
    from nightcramp.bench_bridge import _payloads, callback_cost

    payloads = _payloads(np.random.default_rng(0))
    from firmware_bridge.profiles import get_profile

    for name, (frames, extra, fs) in payloads.items():
        profile = get_profile(name)
        settings = {**profile.default_settings(), **extra}
        decoded = profile.decode(frames[:50], np.arange(50), settings)
        assert decoded.malformed == 0 and decoded.blocks, name  # the benchmark decodes valid notifications
        n = sum(int(b.counts.sum()) for b in decoded.blocks)
        assert n >= 50 and profile.streams(settings)[0].fs_hz == fs
    assert 0.0 < callback_cost(2000) < 1000.0


def test_review_bench_measures_a_real_overview() -> None:
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from nightcramp.bench_live import format_review, run_review_bench

    res = run_review_bench(hours=0.5)
    assert res["pyramid_build_s"] > 0 and all(v > 0 for v in res["redraw_ms"].values())
    assert "min/max pyramid" in format_review(res)[0][0]


def test_turn_by_turn_ratios_are_the_reference_over_ours() -> None:
    assert _turn_ratios([(1.0, 10.0), (1.0, 12.0), (2.0, 18.0)]) == "9.0-12.0x, median 10.0x"
