"""The per-minute overview: a loop over every frame gives the same numbers, in any chunking."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.overview import MinuteTracks

FPM = 20  # frames per minute, small so that many minutes are tested


def frames(n: int, seed: int, kind: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    valid = rng.random(n) < 0.8
    valid[rng.integers(0, n) : rng.integers(0, n)] = False  # a stretch with nothing usable
    missing = ~valid & (rng.random(n) < 0.5)
    if kind == "emg":
        return {"ms": rng.gamma(2.0, 30.0, n), "active": rng.random(n) < 0.3, "valid": valid, "missing": missing}
    return {
        "motion": rng.gamma(2.0, 0.01, n),
        "moving": rng.random(n) < 0.2,
        "upright": rng.random(n) < 0.1,
        "valid": valid,
        "missing": missing,
    }


def oracle(tr: dict[str, np.ndarray], n: int, kind: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for m in range(math.ceil(n / FPM)):
        idx = range(m * FPM, min((m + 1) * FPM, n))
        ok = [i for i in idx if tr["valid"][i]]
        row: dict[str, float | None] = {}
        if kind == "emg":
            row["rms_uv"] = math.sqrt(sum(tr["ms"][i] for i in ok) / len(ok)) if ok else None
            row["active_share"] = sum(bool(tr["active"][i]) for i in ok) / len(ok) if ok else None
        else:
            row["movement_mg"] = 1000 * sum(tr["motion"][i] for i in ok) / len(ok) if ok else None
            row["moving_share"] = sum(bool(tr["moving"][i]) for i in ok) / len(ok) if ok else None
            row["upright_share"] = sum(bool(tr["upright"][i]) for i in ok) / len(ok) if ok else None
        row["usable_share"] = len(ok) / len(idx)
        row["missing_share"] = sum(bool(tr["missing"][i]) for i in idx) / len(idx)
        for k, v in row.items():
            out.setdefault(k, []).append(None if v is None else round(v, 4))
    return out


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200),
    seed=st.integers(0, 1000),
    kind=st.sampled_from(["emg", "acc"]),
    cuts=st.lists(st.integers(0, 200), max_size=8),
)
def test_minutes_match_a_loop_in_any_chunking(n: int, seed: int, kind: str, cuts: list[int]) -> None:
    tr = frames(n, seed, kind)
    batch = MinuteTracks(kind, FPM)
    batch.add(0, tr)
    batch.finish()
    chunked = MinuteTracks(kind, FPM)
    edges = sorted({0, n, *(c for c in cuts if c < n)})
    for a, b in itertools.pairwise(edges):
        chunked.add(a, {k: v[a:b] for k, v in tr.items()})
    chunked.finish()
    assert chunked.to_json() == batch.to_json()  # bit for bit: the same rounding everywhere
    want = oracle(tr, n, kind)
    got = batch.to_json()
    for k, v in want.items():
        assert got[k] == [None if w is None else pytest_approx(g, w) for g, w in zip(got[k], v, strict=True)], k


def pytest_approx(got: float | None, want: float) -> float | None:
    """``want`` when ``got`` is within a rounding step of it (the two sums round differently), else ``got``."""
    return want if got is not None and abs(got - want) <= 1.1e-4 else got


def test_frames_never_given_count_as_missing() -> None:
    tr = frames(3 * FPM, 1, "acc")
    t = MinuteTracks("acc", FPM)
    t.add(0, {k: v[:FPM] for k, v in tr.items()})
    t.add(2 * FPM, {k: v[2 * FPM :] for k, v in tr.items()})  # the second minute never came
    t.finish()
    j = t.to_json()
    assert j["missing_share"][1] == 1.0 and j["usable_share"][1] == 0.0 and j["movement_mg"][1] is None
