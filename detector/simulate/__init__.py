"""Night simulator: a synthetic night of a calf-worn EMG/accelerometer band with labelled ground truth.

>>> import numpy as np
>>> from detector.simulate import NightConfig, simulate_night
>>> night = simulate_night(NightConfig(duration_s=900.0, n_cramps=2), rng=np.random.default_rng(1))
>>> night.emg["left"].shape, night.acc["left"].shape
((900000,), (3, 90000))
>>> [e.kind for e in night.truth if e.kind == "cramp"]
['cramp', 'cramp']

:func:`simulate_night` returns a :class:`SimulatedNight`: per leg, EMG in µV (float32, ``(n,)``) and
acceleration in g (float32, ``(3, n)``); sample ``i`` lies at ``i / fs`` s. Samples inside a dropout are
NaN in both streams of that band; clipped samples are pinned at ±:data:`EMG_RANGE_UV` (3000 µV, inside
the wire format's ±3276.7 µV) or ±:data:`ACC_RANGE_G` (8 g, inside ±32.767 g). Every random draw comes
from the ``rng`` passed in (split into independent child generators for the timeline, the artifacts and
each leg's streams): the same seed gives bit-identical output, and the ground truth does not depend on
the sampling rates.

Ground truth (:attr:`SimulatedNight.truth`, :meth:`SimulatedNight.truth_json`, schema ``cramp-truth/1``)
---------------------------------------------------------------------------------------------------------
``cramp`` (leg)
    start = onset of the sustained contraction (start of the abrupt rise), end = end of the abrupt fall
    at the stretch. Fields ``pre_onset_s`` (start of the pre-cramp rise), ``peak_uv`` (maximum of the
    cramp leg's full-band EMG RMS envelope, µV RMS, whatever the sampling rate), ``awakening`` (an
    awakening starts between onset and end + 120 s), ``out_of_bed`` (the sleeper stood up to stretch).
``limb_movement`` (leg, or None for a bilateral LM)
    AASM LM during sleep, 0.5-10 s. LMs of both legs with onsets < 5 s apart are one LM with leg None,
    from the first onset to the last end. Voluntary movement while awake is not listed.
``plm_series`` (leg, or None when its LMs are not all on one leg)
    Scored from the LMs by the AASM rule: >= 4 consecutive LMs with onset-to-onset intervals of 5-90 s
    within one sleep bout; field ``count``. Sporadic LMs are thinned so that they never form a series,
    so ``plm=False`` nights have none.
``large_movement`` (None)
    Tossing and turning during sleep, 3-45 s, both legs.
``position_change`` (None)
    A change of lying position (``from``/``to`` among ``supine``, ``left_side``, ``right_side``,
    ``prone``), spanning the turn; also when the sleeper lies down in a new position after being up.
``awakening`` (None)
    A wake bout of >= 60 s between sleep onset and final wake; field ``cause`` (``cramp`` or
    ``spontaneous``).
``out_of_bed`` (None)
    Shank vertical (sitting on the bed edge, standing, walking) for >= 20 s, from the middle of the
    sit-up to the middle of the lie-down (or the end of the recording).
``artifact`` (leg)
    A stretch of unusable signal; fields ``stream`` (``emg`` or ``acc``) and ``reason`` (``mains``,
    ``clipping``, ``lead_off``, ``pops``, ``motion``). Every artifact stretch is listed; the
    night-long low-level hum and ECG crosstalk are not.
``signal_gap`` (leg)
    A BLE dropout (1 s to 3 min, boundaries on a 1 ms grid); field ``stream`` (``emg+acc``, ``emg`` or
    ``acc``: the streams the band carries). A sample is NaN exactly when ``start_s <= i / fs < end_s``.

Plus ``sleep_onset_s`` and ``final_wake_s``. Artifacts and dropouts are kept >= 30 s away from every
cramp and its pre-cramp rise, so that no cramp is ambiguous.

The model
---------
Physiology follows the product specification (section 2); numbers not given there are modelling
choices, marked (m).

Night structure.
    Awake in bed for the sleep-onset latency (5-30 min), then a sleep period, then awake from the final
    awakening to the end (1-10 min, half the time getting up). In the sleep period, blocks are laid out
    in random order, separated by >= 60 s of sleep: each cramp with its aftermath, spontaneous
    awakenings (``awakening_rate_per_h``, default 1 /h; 1-10 min, log-uniform; 30 % get up for the
    bathroom: 10-60 s in bed, 2-8 min up, 0.5-3 min in bed) and optionally a PLM series. The sleep
    between blocks receives tossing/turning (2-4 /h, 75 % with a position change) and sporadic LMs
    (3-20 /h, 20 % bilateral). Short nights shrink every flexible duration together towards its
    minimum, so e.g. two cramps fit in 15 min; a config that cannot fit raises ``ValueError``.
Cramps (Minetto et al. 2009; Ross & Thomas 1995; Serrao et al. 2007; Roeleveld et al. 2000; Chaney &
Sherman pilot; ICSD-3/AASM; Hallegraeff et al. 2017).
    One leg (of ``cramp_legs``), from sleep; duration log-uniform in ``cramp_duration_s`` (capped so the
    requested cramps fit). The leg's EMG RMS rises over 20-90 s by +20-80 % (pre-cramp rise), then
    abruptly (1-3 s) to a plateau of 2.5-5.2x the resting RMS (recorded with amplifier noise: 2-6x,
    i.e. +100-500 %). The plateau waxes and wanes: common drive at 1-2 Hz (depth 10-30 %) and a slow
    wander of at most ±30-50 % on a 5-30 s time scale (the active region moves), fading over the last
    seconds. It ends within 0.2-0.8 s when the muscle is stretched: a forceful limb movement (motion
    artifact in the EMG, 0.1-0.5 g of limb motion) with the calf silent. 85 % (``cramp_awakening_prob``)
    wake the sleeper, mostly during the cramp (else within 20 s after it); the wake bout lasts a few
    minutes; half of them get up to stretch, standing as the cramp ends, then standing and walking for
    1-4 min. During the cramp the limb is still and the calf vibrates: mechanomyogram, pink noise
    5-100 Hz of 4-10 mg RMS at the plateau, in proportion to the contraction, limited to 0.45x the
    accelerometer rate (100 Hz keeps ~85 % of its amplitude, 50 Hz ~70 %).
Limb movements (AASM: Berry et al., scoring manual; Ferri et al. 2016 WASM standards).
    EMG RMS = resting + 10-60 µV (log-uniform) with smooth ramps, so always above the +8 µV onset rule;
    10-40 mg of limb motion (0.5-4 Hz) and a few µV of motion artifact. PLM series (``plm``; 25 % of
    nights by default): 10-40 min of LMs (0.5-5 s, median 1.8 s) every 10-85 s (median 18-35 s), on one
    leg or bilateral (40 % of two-leg series; then 75 % of LMs on both legs, onsets <= 1.5 s apart).
Large movements (Ferri et al. 2021 Sleep; IRLSSG).
    Both legs: irregular EMG bursts (20-80 µV), < 15 Hz motion artifact of 20-250 µV RMS (De Luca et
    al. 2010 J Biomech: motion artifact lies mostly below 20 Hz), 0.05-0.2 g RMS limb motion (0.3-5 Hz,
    peaks 0.1-0.5 g) and a 1-4 s change of orientation.
Resting and awake EMG.
    Surface-EMG interference pattern: white noise through a 2nd-order high-pass at 20 Hz and a 4th-order
    low-pass at 125-155 Hz (per leg), giving most power in 20-250 Hz and a mean frequency of 80-95 Hz;
    below 0.45 fs only (an anti-alias low-pass is added at low rates, and the amplitude is calibrated
    on the full-band spectrum, so a low rate records less RMS). Resting RMS 2.5-5 µV per leg, drifting
    ±10 % per 20 min (kept within 1.8-7 µV), plus 0.7-1.3 µV RMS white amplifier noise. Tone is raised
    1.2-1.6x when lying awake (with voluntary bursts of 5-40 µV, 0.5-2 /min), 1.1-1.4x sitting and
    1.5-2.5x standing (m).
Accelerometer (van Hees et al. 2015, 2018).
    Specific force in g in the band's frame: x along the shank towards the knee, z anterior (out of the
    shin), y = z × x (to the wearer's right on both legs). At rest it reads "up": supine (0, 0, +1),
    left side (0, +1, 0), right side (0, -1, 0), prone (0, 0, -1), each with ±15° knee pitch and ±20°
    roll; sitting with feet down or standing (+1, 0, 0) tilted 0-20°. Walking: cadence 1.6-2 steps/s,
    each shank swinging ±20-30° at half the cadence (legs in antiphase) with its tangential and
    centripetal acceleration (0.25 m lever) and heel-strike impacts of 1-2.5 g (damped ~18 Hz, 30 ms).
    White sensor noise 2-4 mg RMS per axis.
Artifacts (``artifacts``; ``artifact_rate_per_h`` stretches per leg, default 1.5 /h).
    Night-long: mains hum at ``mains_hz`` (±0.02 %) with 2nd and 3rd harmonics (0.1, 0.35 of the
    fundamental; only below 0.45 fs) of 0.5-3 µV drifting ±30 %, and on 40 % of nights ECG crosstalk
    (1-5 µV Ricker wavelets at 50-70 beats/min) (m). Stretches, with reason and relative frequency:
    ``mains`` 25 % (strong hum of 15-80 µV for 10-300 s), ``pops`` 30 % (clusters over 2-30 s of steps
    of ±100-800 µV decaying with 50-200 ms), ``lead_off`` 10 % (20-180 s: the muscle signal drops by
    85 %, 100-500 µV of < 3 Hz wander and strong hum), ``clipping`` 10 % (0.5-10 s offset beyond the
    EMG range: pinned), ``motion`` 25 % (2-30 s of < 15 Hz cable motion artifact, 80-400 µV RMS), and
    on the accelerometer ``clipping`` (knocks of 0.3-3 s, 20-40 g RMS: mostly pinned at ±8 g).
Dropouts (``dropouts``; ``dropout_rate_per_h`` per band, default 0.5 /h).
    1-180 s, log-uniform: NaN in both streams of the band.

Generation
----------
Slow quantities (the EMG RMS envelope and hum amplitude) are built for the whole night on a 100 Hz grid;
EMG and accelerometer samples are then generated in fixed chunks with the shaping filter's state carried
between chunks (``sosfilt(..., zi=...)``), so chunks join seamlessly; events are added where they occur.
Outputs are float32; peak memory stays near the output size (an 8-h two-leg night at 1 kHz EMG and
100 Hz acceleration: 300 MB of output).
"""

from ._config import (
    ACC_RANGE_G,
    EMG_RANGE_UV,
    TRUTH_SCHEMA,
    NightConfig,
    SimulatedNight,
    max_cramps_that_fit,
)
from ._night import simulate_night

__all__ = [
    "ACC_RANGE_G",
    "EMG_RANGE_UV",
    "TRUTH_SCHEMA",
    "NightConfig",
    "SimulatedNight",
    "max_cramps_that_fit",
    "simulate_night",
]
