"""One root exception and a few meaningful children."""

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
