"""A wall-clock budget shared by the stages of one ``recommend`` call.

The only clock in the core: a monotonic timer (``time.perf_counter`` unless a test injects one),
used to stop searches and size solver time limits; never a date or "now".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class Deadline:
    """``seconds`` from construction (``None`` or <= 0: no limit)."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.seconds = seconds if seconds is not None and seconds > 0 else math.inf
        self.end = clock() + self.seconds if math.isfinite(self.seconds) else math.inf
        self.hit = False  # some stage stopped early because the budget ran out

    @property
    def limited(self) -> bool:
        return math.isfinite(self.end)

    def remaining(self) -> float:
        if not self.limited:
            return math.inf
        return self.end - self.clock()

    def expired(self) -> bool:
        if not self.limited:
            return False
        if self.clock() >= self.end:
            self.hit = True
            return True
        return False

    def extend(self, seconds: float) -> None:
        """Push the end back (a stage with its own allowance does not spend this budget)."""
        if self.limited:
            self.end += max(0.0, seconds)

    def allow(self, wanted: float, reserve: float = 0.0) -> float:
        """Seconds a stage that wants ``wanted`` may take, keeping ``reserve`` for later."""
        return max(0.0, min(wanted, self.remaining() - reserve))


NO_DEADLINE = Deadline(None)
