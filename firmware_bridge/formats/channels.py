"""Which channels of another tool's file are calf EMG and accelerometer axes (SPEC section 4).

Reader-neutral: a reader lists its channels as :class:`ChannelHeader` (label, unit, rate) and gets back a
:class:`StreamPlan` per detector stream, saying which channels make it and the factor that converts each
to µV (EMG) or g (acceleration). Every refusal is a :class:`RecordingError` naming the file.

Rules, in the order applied:

- ``--channel LABEL=KIND[:LEG][:AXIS]`` (the ``channels`` mapping) decides for the labels it names;
  ``LABEL=ignore`` drops a channel.
- Otherwise a label is **EMG** when a token contains ``EMG`` and the unit is a voltage (uV/µV, mV, V),
  unless a token names a site other than the calf (chin, submental, arm, ...); it is an **accelerometer
  axis** when it has a token ``Acc``/``Accel``/``ACC`` (or ``AccX``-style) and, leg tokens aside, ends in
  the axis letter X, Y or Z, with unit g, mg or m/s2 (m/s^2, m/s²). Tokens are split on anything that is
  not a letter or digit, and compared without regard to case.
- The leg comes from a token ``L``, ``Left``, ``LT`` or ``R``, ``Right``, ``RT`` (also numbered, as in
  ``EMG L1``); none (or both) means the leg is not known.
- Two EMG channels on one leg: a bipolar derivation of two numbered electrodes (``EMG L E1-E2``) is used
  and the others are noted; otherwise the file is refused with the ``--channel`` lines that choose one.
- Channels whose leg is unknown are used as leg ``unknown`` when they are the file's only calf channels
  and make one band (at most one EMG and one accelerometer); otherwise the file is refused with the
  ``--channel`` lines to map them.
- An accelerometer needs all three axes at one rate. Labels that match nothing are ignored (and named in
  a warning) when something usable was found; when nothing was, the refusal lists them with the mapping
  syntax.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from firmware_bridge.formats.recording import ChannelRole, RecordingError

G_M_S2 = 9.80665  #: standard gravity, m/s² per g

_EMG_UNITS = {"uv": 1.0, "µv": 1.0, "μv": 1.0, "mv": 1e3, "v": 1e6}  # µV per unit
_ACC_UNITS = {"g": 1.0, "mg": 1e-3, "m/s2": 1 / G_M_S2, "m/s^2": 1 / G_M_S2, "m/s²": 1 / G_M_S2, "m/s/s": 1 / G_M_S2}
_LEFT = {"l", "left", "lt"}
_RIGHT = {"r", "right", "rt"}
_ACC_WORDS = {"acc", "accel", "accelerometer", "acceleration"}
_ACC_GLUED = re.compile(r"^(?:acc|accel)([xyz])$")
_NOT_CALF = {"chin", "submental", "subment", "ment", "mentalis", "arm", "arms", "jaw", "masseter", "face", "neck"}
_BIPOLAR = re.compile(r"[a-z]*\d+\s*-\s*[a-z]*\d+", re.IGNORECASE)
NON_SIGNAL = {"edf annotations", "bdf annotations"}


@dataclass(frozen=True, slots=True)
class ChannelHeader:
    """One channel as a reader found it: its position in the file, label, physical unit and rate."""

    index: int
    label: str
    unit: str
    fs_hz: float


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """One detector stream to build: ``channels`` (x, y, z order for acceleration) and, for each, the
    factor from the file's unit to µV or g."""

    name: str
    kind: str
    leg: str
    fs_hz: float
    channels: tuple[ChannelHeader, ...]
    factors: tuple[float, ...]


def unit_factor(kind: str, unit: str) -> float | None:
    """µV (EMG) or g (acceleration) per unit of ``unit``; None when ``unit`` is not one NightCramp knows."""
    table = _EMG_UNITS if kind == "emg" else _ACC_UNITS
    key = unit.strip().lower().replace(" ", "")
    return table.get(key)


def tokens(label: str) -> list[str]:
    return [t for t in re.split(r"[^0-9A-Za-zµμ]+", label.lower()) if t]


def _leg_token(token: str) -> str | None:
    """``l``, ``left``, ``lt`` (optionally numbered: ``L1``) -> "left"; likewise right; else None."""
    word = token.rstrip("0123456789")
    return "left" if word in _LEFT else "right" if word in _RIGHT else None


def leg_of(label: str) -> str | None:
    legs = {_leg_token(t) for t in tokens(label)} - {None}
    return legs.pop() if len(legs) == 1 else None


def recognise(label: str, unit: str) -> ChannelRole | None:
    """What the label and unit alone say the channel is (SPEC section 4), or None."""
    toks = tokens(label)
    leg = leg_of(label)
    if any("emg" in t for t in toks) and not set(toks) & _NOT_CALF and unit_factor("emg", unit) is not None:
        return ChannelRole("emg", leg, None)
    rest = [t for t in toks if _leg_token(t) is None]
    if not rest or unit_factor("acc", unit) is None:
        return None
    glued = _ACC_GLUED.match(rest[-1])
    if glued:
        return ChannelRole("acc", leg, glued.group(1))
    if rest[-1] in ("x", "y", "z") and any(t in _ACC_WORDS for t in rest[:-1]):
        return ChannelRole("acc", leg, rest[-1])
    return None


def _looks_like(label: str) -> str | None:
    """The kind a label names, whatever its unit (for hints)."""
    toks = tokens(label)
    if any("emg" in t for t in toks) and not set(toks) & _NOT_CALF:
        return "emg"
    if any(t in _ACC_WORDS or _ACC_GLUED.match(t) for t in toks):
        return "acc"
    return None


def plan_streams(
    path: str,
    found: Sequence[ChannelHeader],
    mapping: Mapping[str, ChannelRole] | None = None,
) -> tuple[list[StreamPlan], list[str]]:
    """The detector streams in ``found`` (the file at ``path``), and warnings for the user.

    Raises
    ------
    RecordingError
        When a mapped label is missing, a unit cannot be converted, channels conflict or are incomplete,
        or nothing usable is found.
    """
    mapping = dict(mapping or {})
    warnings: list[str] = []
    by_label: dict[str, list[ChannelHeader]] = {}
    for ch in found:
        by_label.setdefault(ch.label, []).append(ch)
    missing = [lab for lab in mapping if lab not in by_label]
    if missing:
        have = ", ".join(repr(c.label) for c in found) or "none"
        raise RecordingError(
            f"{path} has no channel labelled {', '.join(repr(m) for m in missing)} (given with --channel); "
            f"its channels are {have}"
        )
    roles: list[tuple[ChannelHeader, ChannelRole, float]] = []
    unmatched: list[ChannelHeader] = []
    for ch in found:
        if ch.label.strip().lower() in NON_SIGNAL:
            continue
        role = mapping.get(ch.label)
        if role is not None and role.kind == "ignore":
            continue
        if role is not None and len(by_label[ch.label]) > 1:
            raise RecordingError(
                f"{path} has {len(by_label[ch.label])} channels labelled {ch.label!r}; --channel cannot tell them apart"
            )
        explicit = role is not None
        role = role or recognise(ch.label, ch.unit)
        if role is None:
            unmatched.append(ch)
            continue
        factor = unit_factor(role.kind, ch.unit)
        if factor is None and explicit and not ch.unit.strip():
            factor = 1.0
            unit = "µV" if role.kind == "emg" else "g"
            warnings.append(f"{path}: channel {ch.label!r} gives no physical unit; read as {unit}")
        if factor is None:
            want = "uV, mV or V" if role.kind == "emg" else "g, mg or m/s2"
            raise RecordingError(
                f"{path}: channel {ch.label!r} is in {ch.unit!r}, which NightCramp cannot convert "
                f"({role.kind.upper() if role.kind == 'emg' else 'acceleration'} must be in {want})"
            )
        roles.append((ch, role, factor))
    plans = _group(path, roles, warnings)
    if not plans:
        raise RecordingError(_nothing_usable(path, unmatched))
    if unmatched:
        hints = [c for c in unmatched if _looks_like(c.label)]
        warnings.append(
            f"{path}: ignored {len(unmatched)} channel(s) that are not calf EMG or accelerometer axes: "
            + ", ".join(repr(c.label) for c in unmatched)
        )
        for c in hints:
            warnings.append(
                f"{path}: channel {c.label!r} looks like {_looks_like(c.label)} but its unit {c.unit!r} or its "
                "label does not say enough; map it with --channel if it should be used"
            )
    return plans, warnings


def _nothing_usable(path: str, unmatched: Sequence[ChannelHeader]) -> str:
    if not unmatched:
        return f"{path} has no signal channels, only annotations; there is nothing to analyse"
    listed = ", ".join(f"{c.label!r} ({c.unit or 'no unit'}, {c.fs_hz:g} Hz)" for c in unmatched[:12])
    more = f" and {len(unmatched) - 12} more" if len(unmatched) > 12 else ""
    example = unmatched[0].label
    return (
        f"{path} has no channel NightCramp recognises as calf EMG or an accelerometer axis (channels: {listed}"
        f"{more}); say what they are with --channel, e.g. --channel '{example}=emg:left' or "
        f"--channel '{example}=acc:left:x'"
    )


def _group(
    path: str, roles: Sequence[tuple[ChannelHeader, ChannelRole, float]], warnings: list[str]
) -> list[StreamPlan]:
    emg: dict[str | None, list[tuple[ChannelHeader, float]]] = {}
    acc: dict[str | None, dict[str, list[tuple[ChannelHeader, float]]]] = {}
    for ch, role, factor in roles:
        if role.kind == "emg":
            emg.setdefault(role.leg, []).append((ch, factor))
        else:
            acc.setdefault(role.leg, {}).setdefault(role.axis or "", []).append((ch, factor))
    for leg, chans in emg.items():
        if len(chans) > 1:
            emg[leg] = [_one_emg(path, leg, chans, warnings)]
    for leg, axes in acc.items():
        for axis, chans in axes.items():
            if len(chans) > 1:
                labels = ", ".join(repr(c.label) for c, _ in chans)
                raise RecordingError(
                    f"{path} has {len(chans)} {axis.upper()} axes for the {leg or 'unknown'} leg ({labels}); "
                    f"choose one with --channel, e.g. --channel '{chans[0][0].label}=acc:{leg or 'left'}:{axis}' "
                    f"--channel '{chans[1][0].label}=ignore'"
                )
    if None in emg or None in acc:
        _check_unknown(path, emg, acc)
    plans: list[StreamPlan] = []
    for leg in sorted(set(emg) | set(acc), key=lambda x: {"left": 0, "right": 1}.get(x or "", 2)):
        name_leg = leg or "unknown"
        if leg in emg:
            ch, factor = emg[leg][0]
            plans.append(StreamPlan(f"emg:{name_leg}", "emg", name_leg, ch.fs_hz, (ch,), (factor,)))
        if leg in acc:
            axes = acc[leg]
            absent = [a for a in "xyz" if a not in axes]
            if absent:
                have = ", ".join(repr(axes[a][0][0].label) for a in "xyz" if a in axes)
                raise RecordingError(
                    f"{path}: the {name_leg} leg's accelerometer has no {'/'.join(a.upper() for a in absent)} axis "
                    f"(found {have}); map the missing axis with --channel 'LABEL=acc:{leg or 'left'}:{absent[0]}'"
                )
            chans = [axes[a][0] for a in "xyz"]
            rates = {c.fs_hz for c, _ in chans}
            if len(rates) > 1:
                listed = ", ".join(f"{c.label!r} {c.fs_hz:g} Hz" for c, _ in chans)
                raise RecordingError(
                    f"{path}: the {name_leg} leg's accelerometer axes have different rates ({listed}); "
                    "NightCramp needs the three axes of one accelerometer at one rate"
                )
            plans.append(
                StreamPlan(
                    f"acc:{name_leg}",
                    "acc",
                    name_leg,
                    chans[0][0].fs_hz,
                    tuple(c for c, _ in chans),
                    tuple(f for _, f in chans),
                )
            )
    return plans


def _one_emg(
    path: str, leg: str | None, chans: list[tuple[ChannelHeader, float]], warnings: list[str]
) -> tuple[ChannelHeader, float]:
    bipolar = [c for c in chans if _BIPOLAR.search(c[0].label)]
    if len(bipolar) == 1:
        others = ", ".join(repr(c.label) for c, _ in chans if c is not bipolar[0][0])
        warnings.append(
            f"{path}: used the bipolar EMG {bipolar[0][0].label!r} for the {leg or 'unknown'} leg and ignored {others}"
        )
        return bipolar[0]
    labels = ", ".join(repr(c.label) for c, _ in chans)
    side = leg or "left"
    return_hint = f"--channel '{chans[0][0].label}=emg:{side}' --channel '{chans[1][0].label}=ignore'"
    if leg is None:
        raise RecordingError(
            f"{path} has {len(chans)} EMG channels that do not say which leg they are on ({labels}); "
            f"map them, e.g. --channel '{chans[0][0].label}=emg:left' --channel '{chans[1][0].label}=emg:right'"
        )
    raise RecordingError(
        f"{path} has {len(chans)} EMG channels for the {leg} leg ({labels}); choose one, e.g. {return_hint}"
    )


def _check_unknown(
    path: str,
    emg: Mapping[str | None, list[tuple[ChannelHeader, float]]],
    acc: Mapping[str | None, Mapping[str, list[tuple[ChannelHeader, float]]]],
) -> None:
    """Unknown-leg channels are fine only as the file's one band."""
    known = [k for k in (*emg, *acc) if k is not None]
    if not known:
        return
    labels = [c.label for c, _ in emg.get(None, [])]
    labels += [c.label for chans in acc.get(None, {}).values() for c, _ in chans]
    example = labels[0]
    kind = "emg" if emg.get(None) else "acc"
    axis = "" if kind == "emg" else ":" + next(iter(acc[None]))
    raise RecordingError(
        f"{path}: channels {', '.join(repr(x) for x in labels)} do not say which leg they are on, and the file "
        f"also has channels for the {' and '.join(sorted(set(known)))} leg; map them, e.g. "
        f"--channel '{example}={kind}:left{axis}'"
    )
