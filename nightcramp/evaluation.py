"""``cramp evaluate``: accuracy on simulated nights never used while tuning.

The suite covers the hard cases of SPEC section 2 (see :data:`SUITE`). Seeds start at ``seed_base``; the
default base (900 000) was never used while the detector was developed (development used seeds below
10 000), so the numbers measure generalisation to new nights of the same physiology.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from detector.evaluate import Score, score_night
from detector.night import analyze_arrays
from detector.simulate import NightConfig, simulate_night

DEFAULT_SEED_BASE = 900_000
H = 3600.0


@dataclass(frozen=True)
class Case:
    name: str
    group: str  #: "emg" (EMG worn), "acc" (accelerometer only) or "free" (cramp-free hard negatives)
    config: dict[str, Any]


SUITE: tuple[Case, ...] = (
    *(Case(f"two legs, EMG 1 kHz + ACC 100 Hz #{i}", "emg", {"duration_s": 8 * H, "n_cramps": 2}) for i in range(1, 5)),
    *(
        Case(
            f"left leg only, EMG 1 kHz + ACC 100 Hz #{i}",
            "emg",
            {"duration_s": 6 * H, "legs": ("left",), "n_cramps": 2},
        )
        for i in (1, 2)
    ),
    *(
        Case(f"EMG 2 kHz + ACC 100 Hz #{i}", "emg", {"duration_s": 4 * H, "emg_fs_hz": 2000.0, "n_cramps": 2})
        for i in (1, 2)
    ),
    *(
        Case(
            f"EMG only, 500 Hz #{i}", "emg", {"duration_s": 6 * H, "emg_fs_hz": 500.0, "acc_fs_hz": None, "n_cramps": 2}
        )
        for i in (1, 2, 3)
    ),
    Case("EMG 250 Hz + ACC 50 Hz", "emg", {"duration_s": 6 * H, "emg_fs_hz": 250.0, "acc_fs_hz": 50.0, "n_cramps": 2}),
    Case("60 Hz mains", "emg", {"duration_s": 8 * H, "mains_hz": 60.0, "n_cramps": 2}),
    *(
        Case(
            f"long cramps, 3-10 min #{i}",
            "emg",
            {"duration_s": 6 * H, "n_cramps": 2, "cramp_duration_s": (180.0, 600.0)},
        )
        for i in (1, 2)
    ),
    *(
        Case(
            f"short cramps, 10-20 s #{i}", "emg", {"duration_s": 6 * H, "n_cramps": 4, "cramp_duration_s": (10.0, 20.0)}
        )
        for i in (1, 2)
    ),
    *(
        Case(
            f"accelerometer only, 50 Hz #{i}",
            "acc",
            {"duration_s": 8 * H, "emg_fs_hz": None, "acc_fs_hz": 50.0, "n_cramps": 3},
        )
        for i in (1, 2, 3, 4)
    ),
    Case("accelerometer only, 100 Hz", "acc", {"duration_s": 8 * H, "emg_fs_hz": None, "n_cramps": 3}),
    Case(
        "cramp-free, accelerometer only, 50 Hz",
        "free",
        {
            "duration_s": 8 * H,
            "emg_fs_hz": None,
            "acc_fs_hz": 50.0,
            "n_cramps": 0,
            "plm": True,
            "position_change_rate_per_h": 6.0,
            "artifact_rate_per_h": 3.0,
        },
    ),
    *(
        Case(
            f"cramp-free: PLMs, tossing, artifacts #{i}",
            "free",
            {
                "duration_s": 8 * H,
                "n_cramps": 0,
                "plm": True,
                "position_change_rate_per_h": 6.0,
                "artifact_rate_per_h": 3.0,
            },
        )
        for i in (1, 2, 3)
    ),
)


def run_case(args: tuple[Case, int, float]) -> dict[str, Any]:
    case, seed, scale = args
    cfg_kw = dict(case.config)
    cfg_kw["duration_s"] = cfg_kw["duration_s"] * scale
    cfg = NightConfig(**cfg_kw)
    night = simulate_night(cfg, rng=np.random.default_rng(seed))
    det = analyze_arrays(night.emg, night.acc, emg_fs=cfg.emg_fs_hz, acc_fs=cfg.acc_fs_hz, duration_s=cfg.duration_s)
    found = det.all_events()
    scores = score_night(night.truth, found)
    return {
        "case": case.name,
        "group": case.group,
        "seed": seed,
        "hours": cfg.duration_s / H,
        "emg": cfg.emg_fs_hz is not None,
        "acc": cfg.acc_fs_hz is not None,
        "truth_cramps": sum(e.kind == "cramp" for e in night.truth),
        "found_cramps": sum(e.kind == "cramp" for e in found),
        "scores": scores,
    }


def evaluate(
    *,
    seed_base: int = DEFAULT_SEED_BASE,
    scale: float = 1.0,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the suite (night durations times ``scale``); per-night rows and pooled scores."""
    tasks = [(case, seed_base + i, scale) for i, case in enumerate(SUITE)]
    rows: list[dict[str, Any]] = []
    workers = jobs or min(len(tasks), os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for i, row in enumerate(pool.map(run_case, tasks), 1):
            rows.append(row)
            if progress:
                progress(i, len(tasks))
    keys = ("cramp_emg", "cramp_acc", "awakening", "awakening_emg", "awakening_acc", "limb_movement")
    pooled: dict[str, Score] = {k: Score() for k in keys}
    free_fp = 0
    for r in rows:
        s = r["scores"]
        if r["group"] == "emg":
            pooled["cramp_emg"].add(s["cramp"])
        elif r["group"] == "acc":
            pooled["cramp_acc"].add(s["cramp"])
        else:
            free_fp += s["cramp"].fp
        pooled["awakening" if r["emg"] and r["acc"] else "awakening_acc" if r["acc"] else "awakening_emg"].add(
            s["awakening"]
        )
        if r["emg"]:
            pooled["limb_movement"].add(s["limb_movement"])
    return {"rows": rows, "pooled": pooled, "cramps_on_cramp_free_nights": free_fp, "seed_base": seed_base}


def format_table(result: dict[str, Any]) -> str:
    p: dict[str, Score] = result["pooled"]
    lines = ["| events | nights | TP | FP | FN | precision | recall | F1 | median onset error |", "|---" * 9 + "|"]
    labels = {
        "cramp_emg": ("cramps, nights with EMG", "emg"),
        "cramp_acc": ("cramps, accelerometer only", "acc"),
        "awakening": ("awakenings, EMG + accelerometer", "emg+acc"),
        "awakening_emg": ("awakenings, EMG only", "emg only"),
        "awakening_acc": ("awakenings, accelerometer only", "acc only"),
        "limb_movement": ("leg movements (EMG worn)", "emg worn"),
    }
    kinds = {"emg+acc": (True, True), "emg only": (True, False), "acc only": (False, True), "emg worn": (True, None)}
    for key, (label, group) in labels.items():
        s = p[key]
        if group in kinds:
            emg, acc = kinds[group]
            n = sum(1 for r in result["rows"] if r["emg"] == emg and (acc is None or r["acc"] == acc))
        else:
            n = sum(1 for r in result["rows"] if r["group"] == group)
        err = "-" if s.median_onset_error_s is None else f"{s.median_onset_error_s:.2f} s"
        lines.append(
            f"| {label} | {n} | {s.tp} | {s.fp} | {s.fn} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {err} |"
        )
    free = sum(1 for r in result["rows"] if r["group"] == "free")
    lines.append(f"\nCramps reported on {free} cramp-free nights: {result['cramps_on_cramp_free_nights']}")
    return "\n".join(lines)


def format_rows(result: dict[str, Any]) -> str:
    out = ["| night | seed | hours | cramps (truth / found) | cramp F1 | awakening F1 | LM F1 |", "|---" * 7 + "|"]
    for r in result["rows"]:
        s = r["scores"]
        out.append(
            f"| {r['case']} | {r['seed']} | {r['hours']:.1f} | {r['truth_cramps']} / {r['found_cramps']} | "
            f"{s['cramp'].f1:.2f} | {s['awakening'].f1:.2f} | {s['limb_movement'].f1:.2f} |"
        )
    return "\n".join(out)
