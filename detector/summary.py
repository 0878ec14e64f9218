"""The night summary (SPEC section 3) computed from the events and the sleep/wake stage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.events import Event


@dataclass(frozen=True, slots=True)
class SleepInfo:
    """Sleep period and wake bouts from the accelerometers (seconds from the recording start)."""

    sleep_onset_s: float | None
    final_wake_s: float | None
    wake_bouts: tuple[tuple[float, float], ...]  #: every wake bout between onset and final wake


def summarize(
    events: Sequence[Event],
    *,
    duration_s: float,
    sleep: SleepInfo | None,
    streams: Mapping[str, float],
) -> dict[str, Any]:
    """Night summary as a JSON-ready dict.

    Parameters
    ----------
    events : sequence of Event
        The night's events.
    duration_s : float
        Recording length.
    sleep : SleepInfo or None
        None when there was no sleep/wake stage (sleep measures are then null). Sleep and awakenings come
        from the accelerometers, or without one from the EMG; getting up and large movements only from an
        accelerometer (their counts are null without one), and leg movements and PLMs only from EMG (null
        without it): not measured, rather than none.
    streams : mapping of str to float
        Seconds of usable signal per stream name.
    """
    cramps = [e for e in events if e.kind == "cramp"]
    dur = np.array([c.duration_s for c in cramps])
    onset = sleep.sleep_onset_s if sleep else None
    final = sleep.final_wake_s if sleep else None
    period = (final - onset) if onset is not None and final is not None else None
    waso = float(sum(b - a for a, b in sleep.wake_bouts)) if sleep and period is not None else None
    tst = (period - waso) if period is not None and waso is not None else None
    plm = [e for e in events if e.kind == "plm_series"]
    plm_count = int(sum(int(e.fields.get("count", 0)) for e in plm))
    hours = (tst if tst is not None else duration_s) / 3600.0
    per_stream: dict[str, dict[str, float]] = {}
    for name, valid_s in streams.items():
        mine = [e for e in events if e.fields.get("stream") == name]
        per_stream[name] = {
            "valid_s": round(float(valid_s), 1),
            "artifact_s": round(sum(e.duration_s for e in mine if e.kind == "artifact"), 1),
            "missing_s": round(sum(e.duration_s for e in mine if e.kind == "signal_gap"), 1),
        }
    emg = any(name.startswith("emg:") for name in streams)  # leg movements come from EMG ...
    acc = any(name.startswith("acc:") for name in streams)  # ... getting up and tossing from acceleration
    return {
        "duration_s": round(duration_s, 3),
        "cramp_count": len(cramps),
        "cramp_count_left": sum(1 for c in cramps if c.leg == "left"),
        "cramp_count_right": sum(1 for c in cramps if c.leg == "right"),
        "cramp_total_s": round(float(dur.sum()), 1) if dur.size else 0.0,
        "cramp_longest_s": round(float(dur.max()), 1) if dur.size else None,
        "cramp_median_s": round(float(np.median(dur)), 1) if dur.size else None,
        "cramps_followed_by_awakening": (
            sum(1 for c in cramps if c.fields.get("awakening") is True) if sleep is not None else None
        ),
        "sleep_onset_s": _r(onset),
        "final_wake_s": _r(final),
        "sleep_period_s": _r(period),
        "total_sleep_s": _r(tst),
        "waso_s": _r(waso),
        "awakening_count": sum(1 for e in events if e.kind == "awakening") if sleep is not None else None,
        "out_of_bed_count": sum(1 for e in events if e.kind == "out_of_bed") if acc else None,
        "lm_count": sum(1 for e in events if e.kind == "limb_movement") if emg else None,
        "plm_count": plm_count if emg else None,
        "plms_index": round(plm_count / hours, 1) if hours > 0 and emg else None,
        "large_movement_count": sum(1 for e in events if e.kind == "large_movement") if acc else None,
        "marker_count": sum(1 for e in events if e.kind == "marker"),
        "streams": per_stream,
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 1)
