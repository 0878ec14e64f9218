"""Periodic limb movement series from leg movements, incrementally (AASM / WASM rules).

Leg movements on both legs whose onsets are closer than ``bilateral_lm_s`` count as one movement. A PLM
series is at least ``plm_min_count`` consecutive movements whose onset-to-onset intervals all lie in
``plm_interval_s``; an interval outside that range ends the series.
"""

from __future__ import annotations

from detector.events import Event
from detector.params import EventParams


class PlmChain:
    """Feed leg movements in onset order with :meth:`push`; completed series come out."""

    def __init__(self, params: EventParams) -> None:
        self.p = params
        self._group: list[Event] = []  # LMs being merged into one bilateral movement
        self._chain: list[tuple[float, float, str | None, int]] = []  # (onset, end, leg, n_lms)

    def push(self, lm: Event) -> list[Event]:
        out: list[Event] = []
        if self._group and not self._joins(lm):
            out += self._close_group()
        self._group.append(lm)
        return out

    def flush_before(self, t_s: float) -> list[Event]:
        """Everything is known about movements with onsets before ``t_s``: close what can be closed."""
        out: list[Event] = []
        if self._group and self._group[0].start_s + self.p.bilateral_lm_s <= t_s:
            out += self._close_group()
        if self._chain and self._chain[-1][0] + self.p.plm_interval_s[1] < t_s:
            out += self._close_chain()
        return out

    def finish(self) -> list[Event]:
        out = self._close_group() if self._group else []
        return out + self._close_chain()

    def _joins(self, lm: Event) -> bool:
        first = self._group[0]
        legs = {e.leg for e in self._group}
        return lm.start_s - first.start_s < self.p.bilateral_lm_s and lm.leg not in legs

    def _close_group(self) -> list[Event]:
        g, self._group = self._group, []
        legs = {e.leg for e in g}
        move = (min(e.start_s for e in g), max(e.end_s for e in g), g[0].leg if len(legs) == 1 else None, 1)
        out: list[Event] = []
        if self._chain:
            interval = move[0] - self._chain[-1][0]
            lo, hi = self.p.plm_interval_s
            if not lo <= interval <= hi:
                out += self._close_chain()
        self._chain.append(move)
        return out

    def _close_chain(self) -> list[Event]:
        chain, self._chain = self._chain, []
        if len(chain) < self.p.plm_min_count:
            return []
        legs = {c[2] for c in chain}
        leg = chain[0][2] if len(legs) == 1 else None
        return [Event("plm_series", chain[0][0], max(c[1] for c in chain), leg, {"count": len(chain)})]
