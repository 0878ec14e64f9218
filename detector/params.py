"""Every threshold of the detector: frozen dataclasses in physical units.

Values are defaults grounded in SPEC section 2 (AASM leg-movement rules, cramp physiology, van Hees
sustained inactivity); the night JSON carries the values actually used under ``params``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class EmgParams:
    """Surface-EMG stage: cleaning, envelope, resting baseline and activity."""

    band_hz: tuple[float, float] = (30.0, 450.0)  #: EMG band (upper edge at most 0.45 fs); 30 Hz keeps motion out
    mains_candidates_hz: tuple[float, ...] = (50.0, 60.0)  #: mains frequencies whose harmonics are removed
    detrend_order: int = 2  #: polynomial removed from each frame before its spectrum (drift, limb motion)
    mains_artifact_uv: float = 20.0  #: hum above this RMS is reported (its bins are removed, the frame stays usable)
    envelope_s: float = 0.5  #: causal RMS window of the envelope (activations, leg movements)
    slow_envelope_s: float = 2.0  #: causal RMS window for sustained contraction (smooths the 1-2 Hz waxing)
    baseline_block_s: float = 10.0  #: the resting level is updated once per block
    baseline_history_s: float = 600.0  #: quiet blocks remembered for the resting level
    baseline_quantile: float = 25.0  #: percentile of remembered quiet blocks taken as the resting level
    baseline_quiet_ratio: float = 1.2  #: blocks above this many times the resting level are not learnt
    baseline_relearn_s: float = 900.0  #: a higher level lasting this long becomes the new resting level
    active_on_ratio: float = 2.0  #: envelope / resting level that starts an activation
    active_off_ratio: float = 1.5  #: activation ends when the envelope stays below this ratio ...
    active_off_s: float = 0.5  #: ... for at least this long (AASM end rule)
    clip_level: float = 0.98  #: a frame with a sample beyond this share of full scale is clipped
    lead_off_uv: float = 60.0  #: RMS below the EMG band above which a frame is unusable (lead-off, motion, pops)
    pops_max_s: float = 1.0  #: unusable low-frequency stretches shorter than this are electrode pops
    drift_window_s: float = 1.0  #: window of the frame-mean SD that measures slow wander
    motion_uv: float = 20.0  #: without an accelerometer, low-frequency RMS above this is limb motion


@dataclass(frozen=True, slots=True)
class AccParams:
    """Accelerometer stage: posture and movement."""

    motion_window_s: float = 1.0  #: window of the movement measure
    motion_g: float = 0.02  #: movement above this (g, SD of the frame means plus in-frame SD) is motion
    gross_motion_g: float = 0.08  #: above this the limb moves grossly (tossing, stretching, walking)
    vertical_deg: float = 60.0  #: shank elevation above this angle counts as upright (out of bed)
    posture_window_s: float = 1.0  #: window over which gravity is averaged for the posture angle
    still_g: float = 0.01  #: the limb is still while the SD of its frame means over ``motion_window_s`` is below this
    tremor_band_hz: tuple[float, float] = (5.0, 15.0)  #: mechanomyography band (4th-order causal Butterworth)
    tremor_settle_s: float = 1.0  #: after a gap the band filter restarts; its first samples are not used
    tremor_window_s: float = 2.0  #: causal RMS window of the tremor level (smooths the 1-2 Hz waxing)
    baseline_block_s: float = 10.0  #: the resting tremor level is updated once per block ...
    baseline_history_s: float = 600.0  #: ... from the quiet blocks of this long ...
    baseline_quiet_ratio: float = 1.1  #: ... (blocks above this many times the resting level are not learnt) ...
    baseline_relearn_s: float = 900.0  #: ... unless a higher level lasts this long (sensor or posture changed)


@dataclass(frozen=True, slots=True)
class EventParams:
    """Turning activity into events (SPEC section 3)."""

    lm_min_s: float = 0.5  #: AASM leg movement, shortest
    lm_max_s: float = 10.0  #: AASM leg movement, longest
    bilateral_lm_s: float = 5.0  #: LMs on both legs with onsets closer than this count as one
    plm_min_count: int = 4  #: LMs in a PLM series, at least
    plm_interval_s: tuple[float, float] = (5.0, 90.0)  #: onset-to-onset interval range in a PLM series
    cramp_min_s: float = 10.0  #: a cramp is sustained at least this long
    cramp_on_ratio: float = 2.0  #: slow envelope / resting level that starts a contraction (SPEC: +100-500 %)
    cramp_off_ratio: float = 1.4  #: the contraction lasts while the slow envelope stays above this ratio
    cramp_min_median_ratio: float = 2.0  #: a cramp's median slow envelope is at least this many times rest
    cramp_min_excess_uv: float = 2.0  #: ... and its median envelope at least this many µV above rest (strong)
    cramp_merge_gap_s: float = 6.0  #: contraction dips up to this long are bridged (waxing and waning)
    cramp_end_fraction: float = 0.4  #: a cramp ends once its slow envelope falls below this share of the way
    #: from rest to its level in its first ``cramp_min_s`` (and below ``cramp_off_ratio``), for longer than
    #: ``cramp_merge_gap_s``: a stretch ends it abruptly, and the raised tone of the wake after it is not cramp
    acc_cramp_merge_gap_s: float = 3.0  #: accelerometer only: tremor dips up to this long are bridged
    cramp_min_active_fraction: float = 0.7  #: share of a candidate above ``cramp_off_ratio``
    cramp_max_motion_fraction: float = 0.3  #: candidates moving more than this are voluntary / tossing
    cramp_onset_lookback_s: float = 3.0  #: the onset may move back this far to where the fast envelope rose
    cramp_stretch_s: float = 3.0  #: unusable frames this long right after a cramp are its final stretch
    cramp_end_grace_s: float = 8.0  #: the stretch that ends a cramp (at most half of it) may move the leg
    cramp_max_other_leg_fraction: float = 0.5  #: candidates mirrored on the other leg are bilateral, over all ...
    cramp_bilateral_window_s: float = 5.0  #: ... of them or their first seconds, when a cramp has only the one leg
    cramp_relief_s: float = 2.0  #: gross movement or standing this long ends a cramp (stretching relieves it)
    cramp_max_invalid_fraction: float = 0.2  #: candidates over unusable signal are rejected
    acc_cramp_on_ratio: float = 1.3  #: accelerometer only: tremor RMS / resting level that starts a contraction
    acc_cramp_off_ratio: float = 1.15  #: ... which lasts while the tremor stays above this ratio, limb still
    acc_cramp_min_median_ratio: float = 1.25  #: ... and whose median tremor ratio is at least this
    acc_cramp_followup_s: float = 30.0  #: ... and which is followed within this time by a stretch or getting up
    acc_cramp_quiet_before_s: float = 60.0  #: ... and which begins in a leg lying without gross movement this long
    cramp_awakening_s: float = 120.0  #: a cramp is followed by an awakening starting within this time
    large_movement_s: tuple[float, float] = (3.0, 45.0)  #: duration range of tossing and turning
    large_movement_merge_s: float = 1.0  #: movement bursts closer than this are one movement
    out_of_bed_min_s: float = 20.0  #: upright at least this long counts as out of bed
    out_of_bed_merge_s: float = 5.0  #: upright stretches closer than this are one
    epoch_s: float = 5.0  #: sleep/wake epoch
    angle_change_deg: float = 5.0  #: van Hees: a larger change of shank orientation is movement
    epoch_motion_fraction: float = 0.2  #: an epoch moving grossly for more than this share is active
    sustained_contraction_s: float = 10.0  #: strong EMG over most of this window counts as wake
    sustained_contraction_fraction: float = 0.6  #: share of that window with strong contraction
    sustained_inactivity_s: float = 300.0  #: van Hees: inactivity this long is sleep
    awakening_min_s: float = 60.0  #: wake bouts at least this long are awakenings
    awakening_min_active: float = 0.3  #: share of a wake bout's epochs that must be active
    wake_tone_ratio: float = 1.2  #: EMG tone above this many times rest means awake ...
    tone_window_s: float = 30.0  #: ... as the median over this window (leg movements are too short)
    tone_settle_s: float = 2700.0  #: tone in this first stretch is judged against its lowest resting level
    wake_quiet_split_s: float = 120.0  #: with EMG, still stretches this long at resting tone are sleep
    wake_tone_min_s: float = 30.0  #: with EMG, an awakening has raised tone for at least this long
    wake_moves_per_min: float = 1.0  #: without EMG: small movements per minute typical of lying awake ...
    sleep_moves_per_min: float = 0.4  #: ... and of sleep; a run of movements more likely awake than asleep ...
    wake_moves_llr: float = 2.5  #: ... by this log-likelihood ratio (Poisson CUSUM) is wakeful fidgeting ...
    wake_moves_periodic_cv: float = (
        0.5  #: ... unless their intervals are this regular (robust CV: 1.4826 MAD / median; periodic LMs of sleep)
    )
    artifact_min_s: float = 0.1  #: unusable stretches shorter than this are not reported


@dataclass(frozen=True, slots=True)
class DetectorParams:
    """All parameters of one analysis."""

    frame_hz: int = 10  #: frames per second of the frame-level stages
    sync_every_s: float = 0.5  #: live fusion of the streams runs on at least this much new data
    emg: EmgParams = field(default_factory=EmgParams)
    acc: AccParams = field(default_factory=AccParams)
    events: EventParams = field(default_factory=EventParams)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
