"""A "methods" paragraph generated from the parameters actually used, for reports and papers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nightcramp.session import NightResult


def methods_paragraph(result: NightResult) -> str:
    p = result.params
    e, m, a = p.events, p.emg, p.acc
    mains = sorted({f"{v:g} Hz" for v in result.mains_hz.values() if v})
    emg_streams = [s for s in result.streams if s.kind == "emg"]
    acc_streams = [s for s in result.streams if s.kind == "acc"]
    parts = []
    if emg_streams:
        parts.append(
            f"Surface EMG ({', '.join(f'{s.name} at {s.fs_hz:g} Hz' for s in emg_streams)}) was cut into "
            f"{1000 // p.frame_hz}-ms frames; each frame's quadratic trend was removed and its power spectrum "
            f"summed over {m.band_hz[0]:g}-{m.band_hz[1]:g} Hz (at most 0.45 times the sampling rate), leaving out "
            f"the bins of {' and '.join(f'{f:g}' for f in m.mains_candidates_hz)} Hz mains and their harmonics "
            f"(hum found: {', '.join(mains) or 'none'}). "
            f"The resting level was the {m.baseline_quantile:g}th percentile of the quiet {m.baseline_block_s:g}-s "
            f"block medians (at most {m.baseline_quiet_ratio:g} times rest) over the preceding "
            f"{m.baseline_history_s / 60:g} min. Activity started when the "
            f"{m.envelope_s:g}-s RMS envelope exceeded {m.active_on_ratio:g} times the resting level and ended "
            f"when it stayed below {m.active_off_ratio:g} times for {m.active_off_s:g} s. Leg movements were "
            f"activations of {e.lm_min_s:g}-{e.lm_max_s:g} s during sleep, outside large movements; PLM series at "
            f"least {e.plm_min_count} "
            f"movements with onset intervals of {e.plm_interval_s[0]:g}-{e.plm_interval_s[1]:g} s, bilateral "
            f"movements with onsets within {e.bilateral_lm_s:g} s counting once. A cramp was a contraction on one "
            f"leg whose {m.slow_envelope_s:g}-s RMS envelope rose above {e.cramp_on_ratio:g} times the resting "
            f"level and stayed above {e.cramp_off_ratio:g} times (dips up to {e.cramp_merge_gap_s:g} s bridged) "
            f"for at least {e.cramp_min_s:g} s, with a median of at least {e.cramp_min_median_ratio:g} times and "
            f"at least {e.cramp_min_excess_uv:g} µV above rest. It ended where the envelope fell below "
            f"{e.cramp_end_fraction:.0%} of the way from rest to its level in its first {e.cramp_min_s:g} s, or "
            f"when the leg moved grossly or stood for {e.cramp_relief_s:g} s (the raised tone of wake and the "
            f"muscle activity of standing after a cramp are not part of it). It was "
            f"rejected when the other leg burst, contracted at a cramp's level or moved during more than "
            f"{e.cramp_max_other_leg_fraction:.0%} of its bursts, over all of it or its first "
            f"{e.cramp_bilateral_window_s:g} s, "
            f"when the leg moved for more than {e.cramp_max_motion_fraction:.0%} of it before the final stretch "
            f"(last {e.cramp_end_grace_s:g} s), when the shank was upright, or when more than "
            f"{e.cramp_max_invalid_fraction:.0%} of the signal was unusable (clipping, lead-off, gaps)."
        )
    if acc_streams:
        tone = (
            f" and without raised EMG tone (median over {e.tone_window_s:g} s above {e.wake_tone_ratio:g} times "
            f"rest; the first {e.tone_settle_s / 60:g} min were judged against their lowest resting level; still "
            f"stretches of at least {e.wake_quiet_split_s:g} s at resting tone counted as sleep, and an awakening "
            f"needed at least {e.wake_tone_min_s:g} s of raised tone)"
            if emg_streams
            else (
                f"; without EMG, small movements counted as wake when a Poisson CUSUM found them more likely at "
                f"the rate of lying awake ({e.wake_moves_per_min:g} per min) than of sleep "
                f"({e.sleep_moves_per_min:g} per min) by a log-likelihood ratio of {e.wake_moves_llr:g}, unless "
                f"their intervals were regular (robust coefficient of variation, 1.4826 times the median absolute "
                f"deviation over the median, below {e.wake_moves_periodic_cv:g}, as in periodic limb movements of "
                f"sleep); tremor held with the limb still counted as wake, like a sustained contraction, and gross "
                f"movement within {e.acc_cramp_followup_s:g} s of its end (the voluntary stretch that relieves a "
                f"cramp) held the sleeper awake until {e.awakening_min_s:g} s after it began"
            )
        )
        parts.append(
            f"The accelerometer gave posture (shank elevation above {a.vertical_deg:g} degrees either way = "
            f"upright; out of bed when upright for at least {e.out_of_bed_min_s:g} s) and movement (above "
            f"{a.motion_g:g} g). Sleep was "
            f"sustained inactivity (no orientation change above {e.angle_change_deg:g} degrees between "
            f"{e.epoch_s:g}-s epochs for at least {e.sustained_inactivity_s / 60:g} min, after van Hees et al. "
            f"2015){tone}; wake bouts of at least {e.awakening_min_s:g} s between sleep onset and final wake were "
            f"awakenings, and a cramp counted as followed by an awakening when one began within "
            f"{e.cramp_awakening_s:g} s of its end. Large movements were {e.large_movement_s[0]:g}-"
            f"{e.large_movement_s[1]:g} s of motion within sleep."
        )
    elif emg_streams:
        parts.append(
            f"Without an accelerometer, sleep and wake came from the EMG alone: limb movement was the EMG's "
            f"low-frequency motion artifact (above {m.motion_uv:g} µV), and sleep was sustained inactivity (no "
            f"such movement, no sustained contraction and no raised tone, the median over {e.tone_window_s:g} s "
            f"above {e.wake_tone_ratio:g} times rest, in {e.epoch_s:g}-s epochs for at least "
            f"{e.sustained_inactivity_s / 60:g} min); wake bouts of at least {e.awakening_min_s:g} s between sleep "
            f"onset and final wake, with at least {e.wake_tone_min_s:g} s of raised tone, were awakenings, and a "
            f"cramp counted as followed by an awakening when one began within {e.cramp_awakening_s:g} s of its "
            f"end. Getting up and large movements need an accelerometer and were not measured."
        )
    emg_legs = {s.leg for s in emg_streams}
    if any(s.leg not in emg_legs for s in acc_streams):
        parts.append(
            f"On legs without EMG, cramps were inferred from mechanomyography: each axis was band-passed at "
            f"{a.tremor_band_hz[0]:g}-{a.tremor_band_hz[1]:g} Hz (causal 4th-order Butterworth, at most 0.45 times "
            f"the sampling rate) and its {a.tremor_window_s:g}-s RMS compared with a resting level learnt from "
            f"still {a.baseline_block_s:g}-s blocks. A cramp was tremor above {e.acc_cramp_on_ratio:g} times rest, "
            f"staying above {e.acc_cramp_off_ratio:g} times with the limb still (SD of 100-ms means below "
            f"{a.still_g * 1000:g} mg) for at least {e.cramp_min_s:g} s with a median of at least "
            f"{e.acc_cramp_min_median_ratio:g} times, on one leg, lying, beginning after "
            f"{e.acc_cramp_quiet_before_s:g} s without gross movement and followed within "
            f"{e.acc_cramp_followup_s:g} s by a stretch or standing; "
            f"such cramps are reported with lower confidence and evidence from the accelerometer only."
        )
    return " ".join(parts)
