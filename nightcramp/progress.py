"""A small progress bar on stderr (redrawn in place on a terminal, a few lines otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Progress through ``total_s`` seconds of a night (or ``total_s`` things counted in ``unit``)."""

    def __init__(
        self, total_s: float, *, label: str, stream: TextIO | None = None, width: int = 30, unit: str | None = None
    ) -> None:
        self.total = max(total_s, 1e-9)
        self.unit = unit  #: None: hours of a night; else what is counted, e.g. "nights"
        self.label, self.width = label, width
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_draw = 0.0
        self._last_pct = -1
        self._shown = False

    def update(self, t_s: float) -> None:
        pct = int(min(max(t_s / self.total, 0.0), 1.0) * 100)
        now = time.monotonic()
        if self.tty:
            if now - self._last_draw < 0.1 and pct != 100:
                return
            filled = self.width * pct // 100
            done = f"{t_s / 3600:4.1f} h" if self.unit is None else f"{t_s:.0f} of {self.total:.0f} {self.unit}"
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {pct:3d}%  {done}")
            self.stream.flush()
            self._shown = True
        elif pct // 10 != self._last_pct // 10:
            self.stream.write(f"{self.label}: {pct}%\n")
            self.stream.flush()
        self._last_draw, self._last_pct = now, pct

    def clear(self) -> None:
        """Remove the bar so that a line can be printed."""
        if self.tty and self._shown:
            self.stream.write("\r" + " " * (self.width + len(self.label) + 20) + "\r")
            self.stream.flush()
            self._shown = False

    def done(self) -> None:
        self.update(self.total)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
