"""One root exception and a few meaningful children: every error softtarget raises on purpose.

::

    SofttargetError
    ├── ScenarioError        a scenario file or override is not valid (every Problem found)
    ├── ResultsError         a results folder cannot be read or written
    ├── RunError             one run failed at a named stage
    │   └── InvariantError   (softtarget.sim.invariants) a model invariant broke in a run
    ├── EngineError          the execution engine as a whole failed (start, lost scheduler)
    ├── WorkerCrashed        an engine gave up on a run whose worker processes kept dying
    ├── AnimationError       an animation cannot be written as asked (also a ValueError)
    ├── TrajectoryError      trajectories cannot be recorded as asked (also a ValueError)
    └── BadInput             (softtarget.bad_input) bad command-line input, exit status 2
"""

from __future__ import annotations

from dataclasses import dataclass


class SofttargetError(Exception):
    """Root of every error softtarget raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a scenario file: ``FILE:LINE: field.path: message (allowed: ...)``."""

    file: str
    line: int | None
    path: str
    message: str
    allowed: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = f" {self.path}:" if self.path else ""
        allowed = f" (allowed: {self.allowed})" if self.allowed else ""
        return f"{where}:{field} {self.message}{allowed}"


class ScenarioError(SofttargetError):
    """A scenario file (or an override of it) is not valid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type[ScenarioError], tuple[list[Problem]]]:
        return (ScenarioError, (self.problems,))


class ResultsError(SofttargetError):
    """A results folder cannot be read or written."""


class RunError(SofttargetError):
    """A single simulation run failed at a named stage."""

    def __init__(self, stage: str, message: str) -> None:
        self.stage = stage
        super().__init__(message)

    def __reduce__(self) -> tuple[type[RunError], tuple[str, str]]:
        return (RunError, (self.stage, str(self)))


class EngineError(SofttargetError):
    """The execution engine as a whole failed: it cannot start, or it lost its scheduler.

    Raised by an engine (see :mod:`softtarget.sim.engines`), or by an engine's future; the batch
    then stops (manifest ``failed``, committed parts kept) and ``--resume`` completes it later.
    """


class WorkerCrashed(SofttargetError):
    """An engine's future: the engine gave up on a run whose worker processes kept dying.

    Dask reschedules a run whose worker died and raises ``KilledWorker`` once it has run on
    ``allowed-failures + 1`` workers that all died; :mod:`softtarget.sim.engines` turns that into
    this. The runner then runs the suspect alone (the others may have died with a culprit) and
    records it as failed (stage "worker-crash") when it kills workers alone too.
    """


class AnimationError(SofttargetError, ValueError):
    """The animation cannot be written as asked (format, missing encoder, bad interval)."""


class TrajectoryError(SofttargetError, ValueError):
    """Trajectories cannot be recorded as asked (file type, unwritable path, bad interval)."""
