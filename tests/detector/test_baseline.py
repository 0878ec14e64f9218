"""The resting level against a slow block-by-block oracle, for any chunking."""

from __future__ import annotations

import numpy as np
import pytest

from detector.baseline import RestingLevel

BLOCK, HISTORY, QUANTILE, QUIET, RELEARN = 10, 6, 20.0, 1.5, 4


def oracle(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The rule as the module docstring states it, one block at a time."""
    out = np.empty(values.size)
    level, history, busy = np.nan, [], []
    for start in range(0, values.size, BLOCK):
        out[start : start + BLOCK] = level  # from the blocks before this one
        v = values[start : start + BLOCK][valid[start : start + BLOCK]]
        v = v[np.isfinite(v)]
        if start + BLOCK > values.size or v.size < 0.5 * BLOCK:
            continue  # an unfinished block teaches nothing yet; a mostly unusable one nothing at all
        med = float(np.median(v))
        learn = [med]
        if np.isfinite(level) and med > QUIET * level:
            busy.append(med)
            if len(busy) < RELEARN:
                continue
            learn = [*busy, med]
        busy = []
        for m in learn:
            history = [*history, m][-HISTORY:]
        ordered = sorted(history)
        level = ordered[min(len(ordered) - 1, int(QUANTILE / 100.0 * len(ordered)))]
    return out


def resting() -> RestingLevel:
    return RestingLevel(
        block_frames=BLOCK, history_blocks=HISTORY, quantile=QUANTILE, quiet_ratio=QUIET, relearn_blocks=RELEARN
    )


@pytest.mark.parametrize("seed", range(6))
def test_resting_level_matches_oracle_for_any_chunking(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 1000
    values = rng.lognormal(0.0, 0.3, n)
    values[300:330] *= 4.0  # a short burst: not learnt
    values[600:] *= 3.0  # a lasting change: learnt after RELEARN blocks
    values[rng.random(n) < 0.05] = np.nan
    valid = rng.random(n) > 0.1
    valid[450:460] = False  # a block with too few usable frames
    expect = oracle(values, valid)
    whole = resting().levels_for(0, values, valid)
    np.testing.assert_array_equal(whole, expect)
    assert whole[590] < 2.0 < whole[-1]  # the burst was not learnt, the lasting change was
    for _ in range(4):
        rl = resting()
        cuts = np.sort(rng.choice(np.arange(1, n), size=rng.integers(1, 40), replace=False))
        got = np.concatenate([rl.levels_for(int(c[0]), values[c], valid[c]) for c in np.split(np.arange(n), cuts)])
        np.testing.assert_array_equal(got, expect)
