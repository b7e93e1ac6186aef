"""When a stage of one ``recommend`` call stops: a count of work, and a far wall-clock guard.

Repeatable: a search asks ``expired()`` before each step of work (a node, a move tried, a slot
visited) and each call counts as one step, so a stage with an allowance of ``steps`` stops after
the same steps on any machine at any load: the same inputs give the same roster. Allowances are
sized from the instance (``steps_per_second``) so a normal machine ends well inside the time
budget.

The wall clock (``seconds``) is only a guard for a machine far too slow for that: when it stops
a stage, ``guard_hit`` is set (on the stage's parent too) and the draft says so. The only clock
in the core: a monotonic timer (``time.perf_counter`` unless a test injects one), never a date
or "now".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

# what one step (an ``expired()`` call: a node of the repair or of an ejection chain, a slot of
# the spread pass, 64 nodes of a window search) costs a normal machine, by team size: a few
# numpy passes over a row of people and a column of slots, the column strided through the
# slots x people arrays (cache misses grow with the people, up to about a thousand). Measured
# here on 2 shared cores (load 5): 18,000-30,000 steps a second on the tight suite's
# follow-the-sun months (13 people x 336 slots), 3,700 on 10,000 people x 730 slots.
STEP_SECONDS_FIXED = 20e-6
STEP_SECONDS_PER_SLOT = 30e-9
STEP_SECONDS_PER_PERSON = 10e-9
STEP_SECONDS_PER_CELL = 0.3e-9  # per slot x person, the people counted up to CELL_PEOPLE
CELL_PEOPLE = 1_000
# the wall-clock guard of the step-counted stages, as a multiple of the time budget: the
# allowances add up to about half the budget on a normal machine, so the guard stops a stage
# only on a machine about 48 times slower than that (drafts run on a worker, not in a web
# request: a wide guard costs no timeout, and a false "too busy" costs the manager a redraft)
GUARD = 24.0
# a counted stage tells the progress observer (``Progress``) every this many steps: a few times
# a second on a normal machine, a function call in between; the observer throttles further
PROGRESS_EVERY_STEPS = 2048


def steps_per_second(people: int, slots: int) -> float:
    """Steps a normal machine takes per second on a team of this size (a fixed estimate from
    the sizes: it sizes allowances, it never reads the clock)."""
    cost = (
        STEP_SECONDS_FIXED
        + STEP_SECONDS_PER_SLOT * slots
        + STEP_SECONDS_PER_PERSON * people
        + STEP_SECONDS_PER_CELL * slots * min(people, CELL_PEOPLE)
    )
    return 1.0 / cost


def steps_for(people: int, slots: int, seconds: float | None) -> float | None:
    """The steps a normal machine takes in ``seconds`` on this team (``None``: no count)."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return float(math.floor(max(0.0, seconds) * steps_per_second(people, slots)))


# the stages of a draft as the manager reads them on the progress page (in pipeline order)
STAGES = {
    "construct": "Building a first roster",
    "repair": "Filling the slots it can",
    "local_search": "Evening out the load",
    "coverage": "Checking no slot that could be filled is left empty",
    "bound": "Bounding the fairest possible roster",
    "exact": "Searching for the fairest roster",
    "windows": "Re-solving windows of time",
    "groups": "Re-dealing shifts between people",
    "lns": "Re-solving parts of the roster around the busiest person",
    "rules": "Checking the team's rules",
}


class Progress:
    """Tells an observer how far one ``recommend`` call is: the stage's name and a fraction of
    the whole (0-1, never going back). Only ever called, never read by a search, so it cannot
    change the roster (drafts stay repeatable); without ``report`` it does nothing."""

    def __init__(self, report: Callable[[str, float], None] | None = None):
        self._report = report
        self.name = ""
        self._start = self._end = 0.0
        self.done = 0.0

    @property
    def listening(self) -> bool:
        return self._report is not None

    def stage(self, name: str, start: float, end: float) -> None:
        """A stage begins; it spans ``start``-``end`` of the whole."""
        self.name, self._start, self._end = name, start, end
        self._tell(start)

    def within(self, fraction: float) -> None:
        """How far the current stage is (0-1)."""
        self._tell(self._start + (self._end - self._start) * min(1.0, max(0.0, fraction)))

    def _tell(self, value: float) -> None:
        if self._report is None:
            return
        self.done = max(self.done, min(1.0, value))
        self._report(self.name, self.done)


NO_PROGRESS = Progress()


class Deadline:
    """At most ``steps`` calls of ``expired()`` (``None``: no count), and ``seconds`` of wall
    clock from construction as a guard (``None`` or <= 0: no guard)."""

    def __init__(
        self,
        seconds: float | None,
        clock: Callable[[], float] = time.perf_counter,
        *,
        steps: float | None = None,
        parent: Deadline | None = None,
    ):
        self.clock = clock
        self.seconds = seconds if seconds is not None and seconds > 0 else math.inf
        self.end = clock() + self.seconds if math.isfinite(self.seconds) else math.inf
        self.steps = steps if steps is not None else math.inf
        self.taken = 0  # steps asked for so far
        self.hit = False  # some stage stopped early: out of steps, or the guard
        self.guard_hit = False  # the wall clock stopped a stage (the result may differ)
        self._parent = parent  # told when this guard stops a stage
        # told every PROGRESS_EVERY_STEPS steps of a counted stage (observes, never decides)
        self.progress = parent.progress if parent is not None else NO_PROGRESS

    @property
    def limited(self) -> bool:
        return math.isfinite(self.end)

    def remaining(self) -> float:
        if not self.limited:
            return math.inf
        return self.end - self.clock()

    def expired(self) -> bool:
        """One step of work: may it be taken? (No once the steps are spent or the guard is.)"""
        self.taken += 1
        if self.taken % PROGRESS_EVERY_STEPS == 0 and self.progress.listening:
            if math.isfinite(self.steps):
                self.progress.within(self.taken / self.steps)
        if self.taken > self.steps:
            self.hit = True
            return True
        if self.limited and self.clock() >= self.end:
            self.mark_guard_hit()
            return True
        return False

    def guard_expired(self) -> bool:
        """The wall-clock guard alone (for a stage that counts its own work, e.g. a solver)."""
        if self.limited and self.clock() >= self.end:
            self.mark_guard_hit()
            return True
        return False

    def mark_guard_hit(self) -> None:
        """The wall clock stopped a stage (here or in a solver with its own guard)."""
        node: Deadline | None = self
        while node is not None:
            node.hit = node.guard_hit = True
            node = node._parent

    def child(self, steps: float | None) -> Deadline:
        """A stage's own allowance of ``steps`` under this guard (its guard stops report here)."""
        out = Deadline(None, self.clock, steps=steps, parent=self)
        out.seconds, out.end = self.seconds, self.end
        return out

    def extend(self, seconds: float) -> None:
        """Push the end back (a stage with its own allowance does not spend this budget)."""
        if self.limited:
            self.end += max(0.0, seconds)

    def allow(self, wanted: float, reserve: float = 0.0) -> float:
        """Seconds a stage that wants ``wanted`` may take, keeping ``reserve`` for later."""
        return max(0.0, min(wanted, self.remaining() - reserve))


NO_DEADLINE = Deadline(None)
