"""``cramp bench``: speed and memory of the detector, as ratios against references measured in the same run.

Everything runs on this machine in one go, so the ratios hold whatever the machine:

- **offline**: an 8-h two-leg night (EMG 1 kHz + accelerometer 100 Hz) analysed from arrays (file reading
  excluded), as times real time, best of a few runs;
- **linearity**: the same for 2 h, and the 8 h / 2 h time ratio (4 means linear);
- **memory**: peak resident memory of a fresh process that loads the night's arrays and analyses them,
  against the budget of 2.5 x the signal's float32 size + 200 MB;
- **streaming**: CPU time of the online detector fed 0.5 s of every stream at a time (what a live
  session hands it), as a share of one core;
- **references**: a straightforward scipy pipeline (zero-phase band-pass and notch with ``sosfiltfilt``,
  moving RMS, a threshold and a 10-s rule) on the same night, and NeuroKit2's ``emg_process`` on one hour
  when NeuroKit2 is installed.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage, signal

from detector.events import mask_to_runs
from detector.night import NightDetector, analyze_arrays, stream_infos
from detector.simulate import NightConfig, SimulatedNight, simulate_night

H = 3600.0


def _night(hours: float, seed: int) -> SimulatedNight:
    return simulate_night(NightConfig(duration_s=hours * H), rng=np.random.default_rng(seed))


def _time(fn: Callable[[], Any], repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return float(best)


def _analyze(night: SimulatedNight) -> NightDetector:
    cfg = night.config
    return analyze_arrays(night.emg, night.acc, emg_fs=cfg.emg_fs_hz, acc_fs=cfg.acc_fs_hz, duration_s=cfg.duration_s)


def reference_pipeline(emg: npt.NDArray[np.float32], fs: float) -> list[tuple[float, float]]:
    """A straightforward scipy cramp detector: filtfilt band-pass and notch, 250-ms moving RMS, a threshold
    at 3x the night's median RMS, and activations of at least 10 s."""
    x = np.nan_to_num(emg.astype(np.float64))
    band = signal.butter(4, (20.0, 450.0), btype="bandpass", output="sos", fs=fs)
    b, a = signal.iirnotch(50.0, 30.0, fs=fs)
    y = signal.sosfiltfilt(band, x)
    y = signal.filtfilt(b, a, y)
    rms = np.sqrt(np.maximum(ndimage.uniform_filter1d(y * y, size=int(0.25 * fs)), 0.0))
    active = rms > 3.0 * np.median(rms)
    runs = mask_to_runs(active)
    keep = runs[(runs[:, 1] - runs[:, 0]) >= int(10 * fs)]
    return [(a / fs, b / fs) for a, b in keep.tolist()]


def _streaming_share(night: SimulatedNight, seconds: float, chunk_s: float = 1.0) -> float:
    """CPU seconds per second of data when fed in ``chunk_s`` chunks, i.e. the share of one core."""
    cfg = night.config
    det = NightDetector(stream_infos(cfg.legs, emg_fs=cfg.emg_fs_hz, acc_fs=cfg.acc_fs_hz, emg_full_scale_uv=3276.7))
    ne, na = int(chunk_s * float(cfg.emg_fs_hz or 0)), int(chunk_s * float(cfg.acc_fs_hz or 0))
    emg = {leg: np.nan_to_num(night.emg[leg][: int(seconds * float(cfg.emg_fs_hz or 0))]) for leg in cfg.legs}
    acc = {leg: np.nan_to_num(night.acc[leg][:, : int(seconds * float(cfg.acc_fs_hz or 0))]) for leg in cfg.legs}
    t0 = time.process_time()
    for k in range(int(seconds / chunk_s)):
        for leg in cfg.legs:
            det.push(f"emg:{leg}", k * ne, emg[leg][k * ne : (k + 1) * ne])
            det.push(f"acc:{leg}", k * na, acc[leg][:, k * na : (k + 1) * na])
    det.finish(seconds)
    return (time.process_time() - t0) / seconds


_MEMORY_CHILD = """
import json, resource, sys
try:  # the peak inherited from the parent at fork time is not ours: reset the high-water mark
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
except OSError:
    pass
import numpy as np
from detector.night import analyze_arrays
d = sys.argv[1]
emg = {leg: np.load(f"{d}/emg_{leg}.npy") for leg in ("left", "right")}
acc = {leg: np.load(f"{d}/acc_{leg}.npy") for leg in ("left", "right")}
analyze_arrays(emg, acc, emg_fs=1000.0, acc_fs=100.0, duration_s=float(sys.argv[2]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status") as fh:
        peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    pass
print(json.dumps({"peak_kb": peak}))
"""


def _memory(night: SimulatedNight) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        for leg in night.config.legs:
            np.save(Path(d) / f"emg_{leg}.npy", night.emg[leg])
            np.save(Path(d) / f"acc_{leg}.npy", night.acc[leg])
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, d, str(night.config.duration_s)],
            capture_output=True,
            text=True,
            check=True,
        )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    signal_mb = sum(a.nbytes for a in night.emg.values()) / 1e6 + sum(a.nbytes for a in night.acc.values()) / 1e6
    return {
        "signal_float32_mb": round(signal_mb, 1),
        "peak_rss_mb": round(got["peak_kb"] / 1024, 1),
        "budget_mb": round(2.5 * signal_mb + 200, 1),
    }


def run_bench(*, repeat: int = 3, neurokit: bool = True, log: Callable[[str], None] = print) -> dict[str, Any]:
    log("simulating an 8-h and a 2-h two-leg night (EMG 1 kHz + accelerometer 100 Hz) ...")
    night8, night2 = _night(8, 2024), _night(2, 2025)
    res: dict[str, Any] = {}
    log("offline analysis ...")
    t8 = _time(lambda: _analyze(night8), repeat)
    t2 = _time(lambda: _analyze(night2), repeat)
    res["offline_8h_s"] = round(t8, 3)
    res["offline_8h_x_realtime"] = round(8 * H / t8)
    res["offline_2h_s"] = round(t2, 3)
    res["linearity_8h_over_2h"] = round(t8 / t2, 2)
    log("reference scipy pipeline ...")
    tref = _time(lambda: [reference_pipeline(night8.emg[leg], 1000.0) for leg in night8.config.legs], 1)
    res["scipy_reference_8h_s"] = round(tref, 3)
    res["speedup_vs_scipy_reference"] = round(tref / t8, 1)
    log("streaming (1-s chunks, 1 h) ...")
    res["streaming_core_share"] = round(_streaming_share(night2, 3600.0), 5)
    log("memory (fresh process) ...")
    res["memory"] = _memory(night8)
    res["neurokit2"] = _neurokit(night8, log) if neurokit else None
    if res["neurokit2"] is not None:
        per_hour_ours = t8 / 8.0
        res["neurokit2"]["speedup"] = round(res["neurokit2"]["one_hour_one_leg_s"] * 2 / per_hour_ours, 1)
    res["cpu_self_s"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_utime, 1)
    return res


def _neurokit(night: SimulatedNight, log: Callable[[str], None]) -> dict[str, Any] | None:
    try:
        import neurokit2 as nk  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        log("NeuroKit2 is not installed: skipped (pip install neurokit2 to compare)")
        return None
    log("NeuroKit2 emg_process on one hour of one leg ...")
    x = np.nan_to_num(night.emg["left"][: int(H * 1000)]).astype(np.float64)
    t = _time(lambda: nk.emg_process(x, sampling_rate=1000), 1)
    return {"version": nk.__version__, "one_hour_one_leg_s": round(t, 2)}


def format_bench(res: dict[str, Any]) -> str:
    m = res["memory"]
    rows = [
        (
            "offline, 8-h two-leg night (EMG 1 kHz + ACC 100 Hz), arrays in memory",
            f"{res['offline_8h_s']:.2f} s = {res['offline_8h_x_realtime']:,}x real time",
            ">= 20,000x (< 1.44 s)",
        ),
        ("cost 8 h / 2 h", f"{res['linearity_8h_over_2h']:.2f}", "about 4 (linear)"),
        (
            "straightforward scipy pipeline, same night",
            f"{res['scipy_reference_8h_s']:.2f} s (ours {res['speedup_vs_scipy_reference']:.1f}x faster)",
            ">= 10x faster",
        ),
        (
            "peak memory (fresh process)",
            f"{m['peak_rss_mb']:.0f} MB for {m['signal_float32_mb']:.0f} MB of signal",
            f"<= {m['budget_mb']:.0f} MB",
        ),
        ("streaming, 1-s chunks", f"{100 * res['streaming_core_share']:.2f} % of one core", "<= 1 %"),
    ]
    nk = res.get("neurokit2")
    if nk:
        rows.append(
            (
                f"NeuroKit2 {nk['version']} emg_process, 1 h of one leg",
                f"{nk['one_hour_one_leg_s']:.2f} s (ours {nk['speedup']:.0f}x faster per leg-hour)",
                "-",
            )
        )
    out = ["| measure | this run | target |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(out)
