"""Bounds on a valid scenario: what one machine can run, checked before any run.

The schema (:mod:`softtarget.sim.schema`) says what a field may hold; these bounds say how big
a scenario may be, so that a scenario that validates also runs: no crowd packed tighter than
people fit, no day-long run at a millisecond step, no venue whose lattice needs more memory
than the machine has. The loader calls :func:`check_bounds` after validation and reports each
breach like any other problem, ``FILE:LINE: field.path: message (allowed: ...)``;
``softtarget schema`` prints :func:`bounds_markdown`.

Input files are bounded too (:func:`check_input_file`): a scenario file must be a regular file
of at most :data:`MAX_INPUT_BYTES`, never a FIFO or a device, checked before it is read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from softtarget.sim.schema import Scenario

#: People per m² of walkable area at the start (crowd.initial_inside + initial_queuing).
MAX_START_DENSITY: Final = 6.0
#: Longest simulated time of one run, seconds (24 h).
MAX_DURATION_S: Final = 86_400.0
#: Shortest time step, seconds.
MIN_DT_S: Final = 0.05
#: Most steps of one run (run.duration_s / run.dt_s).
MAX_STEPS: Final = 2_000_000
#: Most staff in one configuration (every group's count together).
MAX_STAFF: Final = 10_000
#: Most cameras in one configuration.
MAX_CAMERAS: Final = 10_000
#: Most attackers in one attack (the largest key of threat.attackers).
MAX_ATTACKERS: Final = 20
#: Most visitors one run may plan: at the start plus every arrival.
MAX_VISITORS: Final = 2_000_000
#: Most replications per configuration (run.replications and --reps).
MAX_REPLICATIONS: Final = 1_000_000
#: Most runs one batch (or one sweep, over all its points) may plan: replications ×
#: configurations (× points).
MAX_RUNS: Final = 1_000_000
#: Area of one lattice cell, m² (0.4 m x 0.4 m).
CELL_AREA_M2: Final = 0.16
#: Bytes of memory a lattice cell needs, about: floor fields (float32, one per target and a
#: few more), labels, masks and work arrays.
BYTES_PER_CELL: Final = 64
#: Share of the machine's physical memory one run may need.
MEMORY_SHARE: Final = 0.5
#: Largest scenario (or extended) file read, bytes.
MAX_INPUT_BYTES: Final = 10 * 1024 * 1024


@dataclass(frozen=True)
class Breach:
    """One bound a scenario breaks: where (a field path), what, and what is allowed."""

    path: tuple[str | int, ...]
    message: str
    allowed: str | None = None


def physical_memory() -> int | None:
    """Bytes of physical memory of this machine (None where it cannot be told)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, OSError, ValueError):
        return None


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.3g}"


def lattice_cells(scenario: Scenario) -> int:
    """Cells of the scenario's pedestrian lattice (the area with its sink strips)."""
    from softtarget.sim.layout import lattice_cells as cells

    return cells(scenario.venue)


def run_memory_bytes(scenario: Scenario) -> int:
    """About how many bytes one run's lattice needs (cells x bytes per cell and field)."""
    fields = len(scenario.venue.zones) + 4
    return lattice_cells(scenario) * (BYTES_PER_CELL + 4 * fields)


def walkable_area(scenario: Scenario) -> float:
    """The venue's area less its walls, m² (at least one lattice cell)."""
    v = scenario.venue
    walls = sum(w.area() for w in v.walls)
    return max(CELL_AREA_M2, v.width_m * v.height_m - walls)


def planned_visitors(scenario: Scenario) -> float:
    """Visitors one run plans: at the start plus the expected arrivals over the run."""
    crowd = scenario.crowd
    arrivals = crowd.arrivals
    if arrivals.profile == "constant":
        arriving = arrivals.rate_per_min * scenario.run.duration_s / 60.0
    elif arrivals.profile == "peak":
        arriving = float(arrivals.total)
    else:
        arriving = 0.0
    return crowd.initial_inside + crowd.initial_queuing + arriving


def _check_crowd(sc: Scenario, out: list[Breach]) -> None:
    crowd = sc.crowd
    area = walkable_area(sc)
    start = crowd.initial_inside + crowd.initial_queuing
    if start / area > MAX_START_DENSITY:
        out.append(
            Breach(
                ("crowd", "initial_inside"),
                f"{start:,} people at the start on {_fmt(area)} m² of walkable area is"
                f" {start / area:,.1f} persons/m²",
                f"at most {MAX_START_DENSITY:g} persons/m², here {int(area * MAX_START_DENSITY):,}"
                " people",
            )
        )
    visitors = planned_visitors(sc)
    if visitors > MAX_VISITORS:
        arrivals = crowd.arrivals
        field = "rate_per_min" if arrivals.profile == "constant" else "total"
        out.append(
            Breach(
                ("crowd", "arrivals", field),
                f"the run would plan {_fmt(visitors)} visitors (at the start and arriving over"
                f" {_fmt(sc.run.duration_s)} s)",
                f"at most {MAX_VISITORS:,} visitors per run",
            )
        )


def _check_run(sc: Scenario, out: list[Breach]) -> None:
    run = sc.run
    if run.duration_s > MAX_DURATION_S:
        out.append(
            Breach(
                ("run", "duration_s"),
                f"{_fmt(run.duration_s)} s is too long",
                f"at most {MAX_DURATION_S:,.0f} s (24 h)",
            )
        )
    if run.dt_s < MIN_DT_S:
        out.append(
            Breach(("run", "dt_s"), f"{run.dt_s:g} s is too short", f"at least {MIN_DT_S:g} s")
        )
    elif run.duration_s / run.dt_s > MAX_STEPS:
        out.append(
            Breach(
                ("run", "dt_s"),
                f"{_fmt(run.duration_s / run.dt_s)} steps of {run.dt_s:g} s in"
                f" {_fmt(run.duration_s)} s",
                f"at most {MAX_STEPS:,} steps per run: a larger dt_s or a shorter duration_s",
            )
        )
    configurations = len(sc.configurations)
    if run.replications > MAX_REPLICATIONS:
        out.append(
            Breach(
                ("run", "replications"),
                f"{run.replications:,} replications",
                f"at most {MAX_REPLICATIONS:,}",
            )
        )
    elif run.replications * configurations > MAX_RUNS:
        out.append(
            Breach(
                ("run", "replications"),
                f"{run.replications:,} replications × {_count(configurations, 'configuration')}"
                f" = {run.replications * configurations:,} runs",
                f"at most {MAX_RUNS:,} runs per batch",
            )
        )


def _check_configurations(sc: Scenario, out: list[Breach]) -> None:
    for name, config in sc.configurations.items():
        staff = sum(g.count for g in config.staff.values())
        if staff > MAX_STAFF:
            out.append(
                Breach(
                    ("configurations", name, "staff"),
                    f"{staff:,} staff in configuration '{name}'",
                    f"at most {MAX_STAFF:,} staff per configuration",
                )
            )
        if len(config.cameras) > MAX_CAMERAS:
            out.append(
                Breach(
                    ("configurations", name, "cameras"),
                    f"{len(config.cameras):,} cameras in configuration '{name}'",
                    f"at most {MAX_CAMERAS:,} per configuration",
                )
            )


def _check_threat(sc: Scenario, out: list[Breach]) -> None:
    too_many = [n for n in sc.threat.attackers if n > MAX_ATTACKERS]
    if too_many:
        out.append(
            Breach(
                ("threat", "attackers", max(too_many)),
                f"{max(too_many):,} attackers in one attack",
                f"at most {MAX_ATTACKERS}",
            )
        )


def _check_venue(sc: Scenario, out: list[Breach]) -> None:
    for name, zone in sc.venue.zones.items():
        if zone.polygon is not None and zone.area() <= 1e-9:
            out.append(
                Breach(
                    ("venue", "zones", name, "polygon"),
                    f"zone '{name}' has no area (its corners lie on one line or repeat)",
                    "a polygon of at least 3 corners enclosing some area",
                )
            )
    memory = physical_memory()
    need = run_memory_bytes(sc)
    if memory is not None and need > MEMORY_SHARE * memory:
        v = sc.venue
        out.append(
            Breach(
                ("venue", "width_m"),
                f"a {v.width_m:g} x {v.height_m:g} m venue is a lattice of"
                f" {lattice_cells(sc):,} cells of 0.4 m, about {need / 2**30:,.1f} GiB per run",
                f"at most {MEMORY_SHARE * memory / 2**30:,.1f} GiB here (half of this"
                " machine's memory)",
            )
        )


#: Every check, in the order problems are reported.
CHECKS: Final[tuple[Callable[[Scenario, list[Breach]], None], ...]] = (
    _check_venue,
    _check_crowd,
    _check_threat,
    _check_configurations,
    _check_run,
)


def check_bounds(scenario: Scenario) -> list[Breach]:
    """Every bound ``scenario`` breaks (an empty list when it is within all of them)."""
    out: list[Breach] = []
    for check in CHECKS:
        check(scenario, out)
    return out


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def check_runs(
    replications: int | Sequence[int],
    configurations: int,
    *,
    source: str = "replications",
    per: str = "batch",
) -> str | None:
    """Why a batch (or sweep) of this many runs is refused, in one line (None: it is not).

    ``replications`` is the count of one batch, or one count per point of a sweep;
    ``source`` names where it came from (``--reps``, ``run.replications``...). The runs are
    replications × configurations (× points) and may be at most :data:`MAX_RUNS`, e.g.
    ``--reps 400000 × 4 configurations = 1,600,000 runs; at most 1,000,000 runs per batch``.
    """
    per_point = [replications] if isinstance(replications, int) else list(replications)
    runs = sum(per_point) * configurations
    if runs <= MAX_RUNS:
        return None
    if isinstance(replications, int):
        factors = [f"{source} {replications}", _count(configurations, "configuration")]
    elif len(set(per_point)) == 1:
        factors = [f"{source} {per_point[0]}", _count(configurations, "configuration"),
                   _count(len(per_point), "point")]  # fmt: skip
    else:
        factors = [f"{source} {min(per_point)} to {max(per_point)} ({sum(per_point):,} over"
                   f" {_count(len(per_point), 'point')})",
                   _count(configurations, "configuration")]  # fmt: skip
    return f"{' × '.join(factors)} = {runs:,} runs; at most {MAX_RUNS:,} runs per {per}"


def check_input_file(path: Path) -> str | None:
    """Why ``path`` must not be read as a scenario file (None when it may be).

    Refuses a FIFO, a device, a socket and a file over :data:`MAX_INPUT_BYTES`, before
    opening it (opening a FIFO would block). A missing path gives None: the reader says so.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return None  # the reader's message
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a scenario file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a scenario file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a scenario file"
    if not stat.S_ISREG(mode):
        return "is not a regular file"
    if st.st_size > MAX_INPUT_BYTES:
        return (
            f"is {st.st_size / 2**20:,.1f} MiB; a scenario file may have at most"
            f" {MAX_INPUT_BYTES // 2**20} MiB"
        )
    return None


def bounds_markdown() -> str:
    """The bounds as a Markdown section (printed by ``softtarget schema``)."""
    rows = [
        ("people at the start (`crowd.initial_inside + initial_queuing`)",
         f"at most {MAX_START_DENSITY:g} per m² of walkable area (venue less walls)"),
        ("visitors per run (at the start + arrivals over `run.duration_s`)",
         f"at most {MAX_VISITORS:,}"),
        ("`run.duration_s`", f"at most {MAX_DURATION_S:,.0f} s (24 h)"),
        ("`run.dt_s`", f"at least {MIN_DT_S:g} s; at most {MAX_STEPS:,} steps per run"),
        ("`run.replications`, `--reps`", f"at most {MAX_REPLICATIONS:,}"),
        ("runs per batch (replications × configurations; a sweep: × points, all together)",
         f"at most {MAX_RUNS:,}"),
        ("staff per configuration (every group's `count`)", f"at most {MAX_STAFF:,}"),
        ("cameras per configuration", f"at most {MAX_CAMERAS:,}"),
        ("attackers in one attack (`threat.attackers` keys)", f"at most {MAX_ATTACKERS}"),
        ("venue size (`venue.width_m`, `height_m`)", "at most 10 km each"),
        ("memory of one run's lattice (width x height / 0.16 m² cells)",
         f"about {BYTES_PER_CELL} bytes per cell and more per zone; at most half the"
         " machine's physical memory"),
        ("polygon zones", "must enclose some area"),
        ("scenario files", f"regular files of at most {MAX_INPUT_BYTES // 2**20} MiB (no FIFO,"
         " no device)"),
    ]  # fmt: skip
    lines = [
        "## Bounds",
        "",
        "A scenario within the schema must also stay within these bounds (checked by",
        "`softtarget validate` and before every run; see `softtarget.sim.bounds`).",
        "",
        "| what | bound |",
        "|---|---|",
        *(f"| {what} | {bound} |" for what, bound in rows),
        "",
    ]
    return "\n".join(lines)


__all__ = [
    "MAX_ATTACKERS",
    "MAX_DURATION_S",
    "MAX_INPUT_BYTES",
    "MAX_REPLICATIONS",
    "MAX_RUNS",
    "MAX_STAFF",
    "MAX_START_DENSITY",
    "MAX_VISITORS",
    "MIN_DT_S",
    "Breach",
    "bounds_markdown",
    "check_bounds",
    "check_input_file",
    "check_runs",
    "physical_memory",
]
