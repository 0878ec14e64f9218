"""The frame store against a plain whole-night oracle: any appends, trims and reads."""

from __future__ import annotations

import numpy as np
import pytest

from detector.framestore import FrameStore

NAMES = ("flag", "level", "reason")


def test_reads_equal_the_oracle_through_appends_trims_growth_and_shrinking() -> None:
    rng = np.random.default_rng(4)
    store = FrameStore(NAMES)
    total = 150_000
    oracle = {
        "flag": rng.random(total) < 0.3,
        "level": np.where(rng.random(total) < 0.05, np.nan, rng.standard_normal(total)),
        "reason": rng.integers(0, 6, total).astype(np.int8),
    }
    t, kept_from = 0, 0
    while t < total:
        n = int(rng.choice([1, 10, 37, 900, 900, 5_000, 20_000]))  # live pushes and long offline batches
        n = min(n, total - t)
        store.append(t, {k: v[t : t + n] for k, v in oracle.items()})
        t += n
        if rng.random() < 0.5:
            kept_from = max(kept_from, t - int(rng.integers(0, 30_000)))
            store.trim_before(kept_from)
        for _ in range(3):
            a = int(rng.integers(max(0, kept_from - 200), t + 1))
            b = int(rng.integers(a, t + 200))
            for name in NAMES:
                got = store.get(name, a, b)
                assert got.dtype == np.float64 and got.size == b - a
                want = np.full(b - a, np.nan)
                lo, hi = max(a, kept_from), min(b, t)
                if hi > lo:
                    want[lo - a : hi - a] = oracle[name][lo:hi]
                np.testing.assert_array_equal(got, want)
                mask = store.mask(name, a, b)
                assert mask.dtype == np.bool_
                np.testing.assert_array_equal(mask, want > 0.5)
            assert store.count("flag", a, b) == int(np.nansum(store.get("flag", a, b)))
            share = store.fraction("flag", a, b)
            lo, hi = max(a, kept_from), min(b, t)
            assert share == pytest.approx(oracle["flag"][lo:hi].sum() / (b - a) if b > a and hi > lo else 0.0)


def test_frames_out_of_order_are_refused() -> None:
    store = FrameStore(NAMES)
    store.append(0, {"flag": np.zeros(5, bool), "level": np.zeros(5), "reason": np.zeros(5, np.int8)})
    with pytest.raises(ValueError, match="in order"):
        store.append(7, {"flag": np.zeros(5, bool), "level": np.zeros(5), "reason": np.zeros(5, np.int8)})


def test_hour_batches_keeping_half_an_hour_read_back_exactly() -> None:
    """The offline pattern: an hour of frames at a time, the last half hour kept (the kept frames move to
    the front of the same buffers every few batches)."""
    rng = np.random.default_rng(8)
    store = FrameStore(NAMES)
    hour, keep = 36_000, 18_000
    oracle = {
        "flag": rng.random(8 * hour) < 0.5,
        "level": rng.standard_normal(8 * hour),
        "reason": rng.integers(0, 6, 8 * hour).astype(np.int8),
    }
    for h in range(8):
        t = h * hour
        store.append(t, {k: v[t : t + hour] for k, v in oracle.items()})
        for name in NAMES:
            np.testing.assert_array_equal(
                store.get(name, t - keep if h else 0, t + hour), oracle[name][max(0, t - keep) : t + hour]
            )
        store.trim_before(t + hour - keep)


def test_shrinking_near_the_end_of_the_buffer_keeps_room_for_the_next_appends() -> None:
    """A long batch, then a trim that keeps only its last frames (near the buffer's end), then more frames."""
    store = FrameStore(NAMES)
    total = 6_300
    values = np.arange(total, dtype=np.float64)

    def tracks(a: int, b: int) -> dict[str, np.ndarray]:
        return {"flag": values[a:b] % 2 == 0, "level": values[a:b], "reason": (values[a:b] % 5).astype(np.int8)}

    store.append(0, tracks(0, 3_000))
    store.append(3_000, tracks(3_000, 5_900))
    store.trim_before(5_800)  # 100 frames kept at the end of a 6,000-frame buffer: it shrinks
    store.append(5_900, tracks(5_900, 6_300))
    np.testing.assert_array_equal(store.get("level", 5_800, 6_300), values[5_800:6_300])
    np.testing.assert_array_equal(store.mask("flag", 5_800, 6_300), values[5_800:6_300] % 2 == 0)
