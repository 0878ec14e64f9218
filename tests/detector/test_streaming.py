"""Chunk-invariant primitives against slow loop oracles, and chunked == batch."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import detector.night as night_module
from detector.events import mask_to_runs, merge_runs, runs_to_mask
from detector.streaming import (
    CausalWindow,
    FrameCutter,
    RunTracker,
    frame_of_samples,
    frame_sums,
    rational_rate,
    window_sums,
)


def split_points(rng: np.random.Generator, n: int, k: int) -> list[int]:
    return sorted(set(rng.integers(0, n + 1, size=k).tolist()))


def test_mask_to_runs_matches_loop() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = rng.random(rng.integers(0, 60)) < 0.5
        runs, start = [], None
        for i, v in enumerate(m):
            if v and start is None:
                start = i
            if not v and start is not None:
                runs.append((start, i))
                start = None
        if start is not None:
            runs.append((start, len(m)))
        assert mask_to_runs(m).tolist() == [list(r) for r in runs]
        assert np.array_equal(runs_to_mask(mask_to_runs(m), len(m)), m)


def test_merge_runs_matches_loop() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        runs = mask_to_runs(rng.random(80) < 0.4)
        gap = int(rng.integers(0, 5))
        out: list[list[int]] = []
        for a, b in runs.tolist():
            if out and a - out[-1][1] <= gap:
                out[-1][1] = b
            else:
                out.append([a, b])
        assert merge_runs(runs, gap).tolist() == out


def test_frame_of_samples_is_exact() -> None:
    for fs in (1000.0, 52.0, 12.5, 200.0, 333.333):
        r = rational_rate(fs)
        idx = np.arange(0, 20000, dtype=np.int64)
        expect = np.array([math.floor(Fraction(int(i)) * 10 / r) for i in idx[:3000]])
        assert np.array_equal(frame_of_samples(idx[:3000], fs=r, frame_hz=10), expect)


def framer_oracle(x: np.ndarray, present: np.ndarray, fs: float, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Slow per-sample loop: sums and counts per frame."""
    r = rational_rate(fs)
    sums, counts = np.zeros(n_frames), np.zeros(n_frames, dtype=int)
    for i in range(x.size):
        if present[i]:
            f = math.floor(Fraction(i) * 10 / r)
            sums[f] += x[i]
            counts[f] += 1
    return sums, counts


@pytest.mark.parametrize("fs", [1000.0, 52.0, 12.5])
def test_frame_cutter_matches_oracle_with_gaps_and_any_chunking(fs: float) -> None:
    rng = np.random.default_rng(3)
    n = int(20 * fs)
    x = rng.standard_normal(n)
    present = np.ones(n, dtype=bool)
    for _ in range(4):  # gaps
        a = int(rng.integers(0, n - 50))
        present[a : a + int(rng.integers(1, int(fs)))] = False
    n_frames = 200
    exp_sums, exp_counts = framer_oracle(x, present, fs, n_frames)
    exp_squares, _ = framer_oracle(x * x, present, fs, n_frames)
    full = exp_counts == np.array(
        [
            np.count_nonzero(frame_of_samples(np.arange(n), fs=rational_rate(fs), frame_hz=10) == f)
            for f in range(n_frames)
        ]
    )
    results = []
    for trial in range(3):
        cutter = FrameCutter(fs=fs, frame_hz=10, n_rows=1)
        sums = np.full(n_frames, np.nan)
        squares = np.full(n_frames, np.nan)
        for a, b in mask_to_runs(present).tolist():
            cuts = split_points(rng, b - a, 5 * trial) if trial else []
            for piece in np.split(np.arange(a, b), cuts):
                block = cutter.push(int(piece[0]), x[piece][np.newaxis]) if piece.size else None
                if block is not None:
                    assert block.gap_from <= block.first < block.upto
                    for length, rows, starts in block.groups:
                        sums[block.first + rows], squares[block.first + rows] = frame_sums(
                            block.data, length, starts, squares=1
                        )
        assert cutter.finish(n) == n_frames
        # exactly the frames with every sample present, each summed like the oracle
        np.testing.assert_array_equal(np.isfinite(sums), full & (exp_counts > 0))
        np.testing.assert_allclose(sums[np.isfinite(sums)], exp_sums[np.isfinite(sums)], atol=1e-9)
        np.testing.assert_allclose(squares[np.isfinite(sums)], exp_squares[np.isfinite(sums)], atol=1e-9)
        results.append(np.concatenate((sums, squares)))
    assert all(np.array_equal(results[0], r, equal_nan=True) for r in results[1:])


def test_causal_window_mean_matches_loop() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal(500)
    x[rng.random(500) < 0.1] = np.nan
    w = 7
    expect = np.array(
        [
            np.nanmean(x[max(0, i - w + 1) : i + 1]) if np.isfinite(x[max(0, i - w + 1) : i + 1]).any() else np.nan
            for i in range(x.size)
        ]
    )
    cw = CausalWindow(w)
    got = np.concatenate([cw.mean(c[np.newaxis])[0] for c in np.array_split(x, [3, 4, 100, 250, 251])])
    np.testing.assert_allclose(got, expect, equal_nan=True)


@pytest.mark.parametrize("width", range(1, 40))
def test_window_sums_match_loop(width: int) -> None:
    rng = np.random.default_rng(width)
    x = rng.standard_normal((2, 300)) * 50 + 1000
    expect = np.array([[row[i : i + width].sum() for i in range(300 - width + 1)] for row in x])
    got = window_sums(x, width)
    assert got.shape == expect.shape
    np.testing.assert_allclose(got, expect, rtol=1e-13)


@pytest.mark.parametrize("w", [1, 2, 5, 7, 10, 20, 24, 100])
def test_causal_window_is_bit_identical_for_any_chunking(w: int) -> None:
    rng = np.random.default_rng(w)
    x = rng.standard_normal((3, 2000)) * 50 + 1000
    x[:, :1000][rng.random((3, 1000)) < 0.05] = np.nan  # chunks with and chunks without missing values
    whole = CausalWindow(w, n_rows=3).mean(x)
    for _ in range(3):
        cw = CausalWindow(w, n_rows=3)
        cuts = np.sort(rng.integers(0, 2000, size=30))
        got = np.concatenate([cw.mean(x[:, c]) for c in np.split(np.arange(2000), cuts)], axis=1)
        np.testing.assert_array_equal(got, whole)
    mask = rng.random((1, 500)) < 0.4  # shares of a 0/1 track are exact
    exact = [mask[0, max(0, i - w + 1) : i + 1].mean() for i in range(500)]
    assert CausalWindow(w).mean(mask.astype(np.float64))[0].tolist() == exact


@pytest.mark.parametrize("w", [3, 24, 25, 100])
def test_causal_window_of_booleans_equals_it_of_zeros_and_ones_in_any_chunking(w: int) -> None:
    rng = np.random.default_rng(w)
    mask = rng.random((2, 3000)) < 0.3
    whole = CausalWindow(w, n_rows=2).mean(mask.astype(np.float64))
    for _ in range(3):
        cw = CausalWindow(w, n_rows=2)
        cuts = np.sort(rng.integers(0, 3000, size=20))
        got = np.concatenate([cw.mean(mask[:, c]) for c in np.split(np.arange(3000), cuts)], axis=1)
        np.testing.assert_array_equal(got, whole)


def run_tracker_oracle(mask: np.ndarray, hi: np.ndarray, brk: np.ndarray, gap: int) -> list[tuple[int, int, int]]:
    runs = mask_to_runs(mask).tolist()
    out: list[list[int]] = []
    for a, b in runs:
        if out and a - out[-1][1] <= gap and not brk[out[-1][1] : a].any():
            out[-1][1] = b
        else:
            out.append([a, b])
    res = []
    for a, b in out:
        h = np.flatnonzero(hi[a:b] & mask[a:b])
        res.append((a, b, a + int(h[0]) if h.size else -1))
    return res


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.integers(0, 7), min_size=0, max_size=120),
    gap=st.integers(0, 6),
    cuts=st.lists(st.integers(0, 120), max_size=8),
)
def test_run_tracker_any_chunking_equals_oracle(data: list[int], gap: int, cuts: list[int]) -> None:
    arr = np.array(data, dtype=int)
    mask, hi, brk = (arr & 1) > 0, (arr & 2) > 0, (arr & 4) > 0
    trk = RunTracker(gap)
    got = []
    pos = 0
    for piece in np.split(np.arange(arr.size), sorted(c for c in cuts if c <= arr.size)):
        got += trk.push(mask[piece], pos, hi=hi[piece], breaks=brk[piece])
        pos += piece.size
    got += trk.finish()
    assert [(r.start, r.stop, r.first_hi) for r in got] == run_tracker_oracle(mask, hi, brk & ~mask, gap)


def test_emg_frames_are_bit_identical_for_one_second_pushes() -> None:
    """10 frames a push (a live band at 1 kHz) or 18,000 at once: the same numbers to the last bit."""
    import dataclasses

    from detector.emg import EmgProcessor
    from detector.params import EmgParams

    rng = np.random.default_rng(11)
    x = (rng.standard_normal(1_800_000) * 5.0 * (1.0 + 3.0 * (rng.random(1_800_000) < 0.1))).astype(np.float32)

    def frames(step: int) -> dict[str, np.ndarray]:
        proc = EmgProcessor(fs=1000.0, params=EmgParams(), frame_hz=10, full_scale_uv=None)
        out = []
        for a in range(0, x.size, step):
            out += proc.push(a, x[a : a + step])
        out += proc.finish(x.size)
        return {
            f.name: np.concatenate([np.asarray(getattr(fr, f.name)) for fr in out])
            for f in dataclasses.fields(out[0])
            if f.name != "first"
        }

    whole, live = frames(x.size), frames(1000)
    for name, values in whole.items():
        np.testing.assert_array_equal(live[name], values, err_msg=name)


def test_aligned_product_is_bit_identical_for_any_chunking_and_equals_the_product() -> None:
    """Each frame's row of the product is the same float whatever chunk it comes in, and the numbers are the
    matrix product (against float64)."""
    from detector.emg import aligned_product, frame_basis, one_blas_thread

    basis = frame_basis(100, 2, 1000.0, (20.0, 450.0), (50.0, 60.0)).basis
    rng = np.random.default_rng(5)
    a = (rng.standard_normal((3000, 100)) * 5.0).astype(np.float32)
    ids = np.arange(700, 3700)
    with one_blas_thread():
        whole = aligned_product(a, basis, ids)
    np.testing.assert_allclose(whole, a.astype(np.float64) @ basis.astype(np.float64), rtol=1e-4, atol=1e-3)
    for _ in range(5):
        cuts = [0, *split_points(rng, a.shape[0], 12), a.shape[0]]
        with one_blas_thread():
            parts = [aligned_product(a[lo:hi], basis, ids[lo:hi]) for lo, hi in itertools.pairwise(cuts)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
    # frames of another length group interleaved: every other frame
    with one_blas_thread():
        np.testing.assert_array_equal(aligned_product(a[::2], basis, ids[::2]), whole[::2])


@pytest.mark.parametrize("rows", [1, 3])
def test_finite_runs_match_loop_across_scan_blocks(rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(night_module, "_SCAN_BLOCK", 7)  # many blocks, runs across their edges
    rng = np.random.default_rng(rows)
    for _ in range(50):
        n = int(rng.integers(0, 60))
        x = rng.standard_normal((rows, n))
        x[rng.random((rows, n)) < rng.choice([0.0, 0.05, 0.3])] = np.nan
        x[rng.random((rows, n)) < 0.05] = np.inf  # not missing
        missing = np.isnan(x).any(axis=0)
        expect, start = [], None
        for i in range(n + 1):
            if i < n and not missing[i]:
                start = i if start is None else start
            elif start is not None:
                expect.append((start, i))
                start = None
        assert night_module.finite_runs(x) == expect
