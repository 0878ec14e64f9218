"""Events: what the detector reports and what the simulator's ground truth holds.

An :class:`Event` is a frozen record with a kind, start and end in seconds from the recording start, the
leg (``"left"``, ``"right"`` or ``None`` for both / unknown) and kind-specific fields (``peak_uv``,
``evidence``, ``confidence``, ``awakening``, ``count``, ``reason``, ``stream``, ``label``).

Run-length helpers turn boolean masks into ``(n_events, 2)`` arrays of ``[start, stop)`` indices; they
are the vectorised primitives every detector stage is built from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: Every kind the product reports (SPEC section 3), in report order.
EVENT_KINDS: tuple[str, ...] = (
    "cramp",
    "limb_movement",
    "plm_series",
    "large_movement",
    "awakening",
    "out_of_bed",
    "artifact",
    "signal_gap",
    "marker",
)

LEGS: tuple[str, ...] = ("left", "right")


@dataclass(frozen=True, slots=True)
class Event:
    """One detected (or simulated ground-truth) event.

    Attributes
    ----------
    kind : str
        One of :data:`EVENT_KINDS` (ground truth may also use simulator-only kinds such as
        ``"position_change"``).
    start_s, end_s : float
        Seconds from the recording start; ``end_s >= start_s``.
    leg : {"left", "right", None}
        The leg, or ``None`` for bilateral or whole-body events.
    fields : mapping
        Kind-specific fields, JSON-serialisable.
    """

    kind: str
    start_s: float
    end_s: float
    leg: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.start_s) and np.isfinite(self.end_s)):
            raise ValueError(f"{self.kind} event times must be finite, got {self.start_s}..{self.end_s}")
        if self.end_s < self.start_s:
            raise ValueError(f"{self.kind} event ends ({self.end_s} s) before it starts ({self.start_s} s)")
        if self.leg not in (None, *LEGS):
            raise ValueError(f"leg must be 'left', 'right' or None, got {self.leg!r}")

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON object (``cramp-night/1`` event layout)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "start_s": round(float(self.start_s), 3),
            "end_s": round(float(self.end_s), 3),
            "leg": self.leg,
        }
        for key, value in self.fields.items():
            out[key] = _jsonable(value)
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Event:
        extra = {k: v for k, v in obj.items() if k not in ("kind", "start_s", "end_s", "leg")}
        return cls(str(obj["kind"]), float(obj["start_s"]), float(obj["end_s"]), obj.get("leg"), extra)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def sort_events(events: Iterable[Event]) -> list[Event]:
    """Events ordered by start, then end, kind and leg (a total, reproducible order)."""
    return sorted(events, key=lambda e: (e.start_s, e.end_s, e.kind, e.leg or ""))


def mask_to_runs(mask: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Runs of True in a 1-D boolean mask.

    Returns
    -------
    runs : ndarray of intp, shape (n_runs, 2)
        ``[start, stop)`` indices of each run, in order.
    """
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 1:
        raise ValueError(f"mask must be 1-D, got shape {m.shape}")
    if m.size == 0:
        return np.zeros((0, 2), dtype=np.intp)
    edges = np.flatnonzero(m[1:] != m[:-1]) + 1  # where the mask changes
    if m[0]:
        edges = np.concatenate(([0], edges))
    if m[-1]:
        edges = np.concatenate((edges, [m.size]))
    return edges.reshape(-1, 2).astype(np.intp, copy=False)


def runs_to_mask(runs: npt.ArrayLike, n: int) -> npt.NDArray[np.bool_]:
    """Inverse of :func:`mask_to_runs`: a boolean mask of length ``n`` True inside every run."""
    r = np.asarray(runs, dtype=np.intp).reshape(-1, 2)
    delta = np.zeros(n + 1, dtype=np.int64)
    np.add.at(delta, np.clip(r[:, 0], 0, n), 1)
    np.add.at(delta, np.clip(r[:, 1], 0, n), -1)
    return np.cumsum(delta[:n]) > 0


def merge_runs(runs: npt.ArrayLike, max_gap: int) -> npt.NDArray[np.intp]:
    """Join runs separated by at most ``max_gap`` indices (runs must be sorted and disjoint)."""
    r = np.asarray(runs, dtype=np.intp).reshape(-1, 2)
    if len(r) < 2:
        return r.copy()
    gaps = r[1:, 0] - r[:-1, 1]
    new_group = np.concatenate(([True], gaps > max_gap))
    group = np.cumsum(new_group) - 1
    starts = r[new_group, 0]
    stops = np.zeros(len(starts), dtype=np.intp)
    np.maximum.at(stops, group, r[:, 1])
    return np.stack([starts, stops], axis=1)
