"""Who the visitors are: their states, and their arrays drawn up front for the whole run.

The crowd, thousands of people, lives in arrays (a structure of arrays) stepped without a Python
loop over visitors. Everything random about a visitor — when they arrive, how fast they walk,
where they go, how long they stay — is drawn here from the run's ``crowd`` stream before the
first step, so every configuration of one replicate sees the same people (common random
numbers). What they then do is :mod:`softtarget.sim.crowd`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from softtarget.sim.motion.lattice import window_people
from softtarget.sim.schema import Scenario
from softtarget.sim.venue import Geometry


class State(IntEnum):
    """What a visitor is doing."""

    PLANNED = 0  # arrives later in the run
    ARRIVING = 1  # walking to a checkpoint lane
    QUEUING = 2  # in a screening queue (or being screened), outside the perimeter
    INSIDE = 3  # at or walking between attractors
    FLEEING = 4  # fleeing or evacuating towards an exit
    SHELTERING = 5  # moving to or staying in a shelter area
    EVACUATED = 6  # left through an exit
    INJURED = 7
    KILLED = 8
    LEFT = 9  # left through an exit in the normal course (not evacuating)


#: States in which a person stands in the venue (can be seen, hit, counted in density).
STANDING = np.array([State.ARRIVING, State.QUEUING, State.INSIDE, State.FLEEING, State.SHELTERING])


def state_mask(*states: State) -> np.ndarray:
    """A lookup table: ``state_mask(...)[people.state]`` is True where the state is one of these."""
    lut = np.zeros(len(State), dtype=bool)
    lut[list(states)] = True
    return lut


IS_STANDING = state_mask(*STANDING)
CAN_REACT = state_mask(State.ARRIVING, State.QUEUING, State.INSIDE, State.SHELTERING)


class People:
    """Arrays of the visitors of one run."""

    def __init__(self, n: int) -> None:
        """Allocate ``n`` visitors, all planned, at the origin."""
        self.n = n
        self.state = np.zeros(n, dtype=np.int8)
        self.xy = np.zeros((n, 2))
        self.speed = np.zeros(n)  # desired walking speed, m/s
        self.flight_speed = np.zeros(n)
        self.current_speed = np.zeros(n)
        self.reaction = np.zeros(n)  # recognition delay, s
        self.arrive_at = np.full(n, np.inf)  # when a planned visitor appears
        self.attractor = np.zeros(n, dtype=np.int64)  # zone index of the chosen attractor
        self.attractor_point = np.zeros((n, 2))
        self.checkpoint_u = np.zeros(n)  # uniform used to choose a checkpoint
        self.flee_at = np.full(n, np.inf)  # pending reaction: starts fleeing at this time
        self.flee_fast = np.zeros(n, dtype=bool)
        self.flee_from = np.full((n, 2), np.nan)  # where the threat they flee from was
        self.exit = np.full(n, -1, dtype=np.int64)  # checkpoint index while arriving
        self.outside_at_harm = np.zeros(n, dtype=bool)
        self.crushed = np.zeros(n, dtype=bool)  # injured by crowd pressure (counted apart)
        self.t_harmed = np.full(n, np.nan)  # when killed or injured
        self.queuing_at_harm = np.zeros(n, dtype=bool)  # in a screening line when harmed
        self.crushed_in_evacuation = np.zeros(n, dtype=bool)  # after an evacuation order
        self.warm = np.zeros(n, dtype=bool)  # present at the start (warm start)
        self.dwell = np.zeros(n)  # first dwell at an attractor, s (drawn up front)
        self.room = np.full(n, 8, dtype=np.int8)  # most others accepted around one at rest
        self.jam = np.full(n, 9, dtype=np.int8)  # most people a calm walker packs a window to
        self.dwell_until = np.full(n, np.inf)  # when a person at an attractor moves on
        self.leaving = np.zeros(n, dtype=bool)  # walking out in the normal course
        self.spawn_zone = np.full(n, -1, dtype=np.int64)  # appears in this zone (trains)
        self.spawn_point = np.zeros((n, 2))
        self.u_leave = np.zeros(n)  # uniform for the first move-on decision

    @staticmethod
    def fields() -> tuple[str, ...]:
        """Names of the per-person arrays (one entry per visitor each)."""
        return tuple(k for k, v in vars(People(0)).items() if isinstance(v, np.ndarray))

    def standing(self) -> np.ndarray:
        """Mask of people standing in the venue."""
        return IS_STANDING[self.state]

    def counts(self) -> np.ndarray:
        """People per state, indexed by :class:`State`."""
        return np.bincount(self.state, minlength=len(State))


@dataclass(frozen=True)
class Timetable:
    """Trains of the run: (time, platform zone) in order, and the platforms served."""

    trains: tuple[tuple[float, int], ...]
    platforms: frozenset[int]


@dataclass(frozen=True)
class Drawn:
    """The visitors of one run as drawn, and what the drawing fixed about the run."""

    people: People
    timetable: Timetable
    attractor_zones: np.ndarray  # zone indices of the attractors
    attractor_p: np.ndarray  # probability of choosing each of them
    planned: np.ndarray  # people who appear during the run, in order of appearance


def _arrival_times(scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    """When visitors arrive at the entries during the window (sorted)."""
    a, horizon = scenario.crowd.arrivals, scenario.run.duration_s
    if a.profile == "constant":
        n_arr = rng.poisson(a.rate_per_min / 60.0 * horizon)
        return np.sort(rng.uniform(0.0, horizon, n_arr))
    if a.profile == "peak":
        times = np.sort(rng.normal(a.peak_at_s, a.spread_s, a.total))
        return times[(times >= 0) & (times < horizon)]
    return np.zeros(0)


def _timetable(
    scenario: Scenario, geo: Geometry, rng: np.random.Generator
) -> tuple[Timetable, np.ndarray, np.ndarray]:
    """The trains, and when and onto which platform each of their passengers steps."""
    tr, horizon = scenario.crowd.trains, scenario.run.duration_s
    if tr is None:
        return Timetable((), frozenset()), np.zeros(0), np.zeros(0, dtype=np.int64)
    stops = np.arange(tr.first_s, horizon, max(tr.every_s, 1.0))
    zones = [geo.index(p) for p in tr.platforms]
    trains = tuple((float(t), zones[k % len(zones)]) for k, t in enumerate(stops))
    times = np.repeat(stops, tr.passengers)
    platform = np.repeat([z for _, z in trains], tr.passengers).astype(np.int64)
    times = times + rng.exponential(tr.alight_s, len(times))
    keep = times < horizon
    return Timetable(trains, frozenset(z for _, z in trains)), times[keep], platform[keep]


def draw_people(scenario: Scenario, geo: Geometry, rng: np.random.Generator) -> Drawn:
    """Draw every visitor of the run up front, in a fixed order of draws.

    Warm start: ``initial_inside`` people at attractors and ``initial_queuing`` in the lines;
    then arrivals at the entries by profile, and train passengers on platforms.
    """
    cw = scenario.crowd
    times = _arrival_times(scenario, rng)
    timetable, train_times, train_zones = _timetable(scenario, geo, rng)
    n0, nq = cw.initial_inside, cw.initial_queuing
    n_entry = n0 + nq + len(times)
    n = n_entry + len(train_times)
    p = People(n)
    p.speed = np.asarray(cw.speed.sample(rng, n), dtype=float)
    p.flight_speed = np.maximum(np.asarray(cw.flight_speed.sample(rng, n), dtype=float), p.speed)
    p.reaction = np.asarray(cw.reaction_delay_s.sample(rng, n), dtype=float)
    attractors = np.asarray(geo.of_kind("attractor"), dtype=np.int64)
    weights = np.array([scenario.venue.zones[geo.names[z]].weight for z in attractors])
    total = weights.sum()
    attractor_p = weights / total if total > 0 else np.full(len(weights), 1 / len(weights))
    choice = rng.choice(len(attractors), size=n, p=attractor_p)
    p.attractor = attractors[choice]
    u = rng.random((n, 2))
    for k, z in enumerate(attractors):
        sel = choice == k
        p.attractor_point[sel] = geo.sample(int(z), u[sel])
    p.checkpoint_u = rng.random(n)
    p.dwell = np.asarray(cw.dwell_s.sample(rng, n), dtype=float)
    p.u_leave = rng.random(n)
    spawn_u = rng.random((n, 2))
    p.current_speed = p.speed.copy()
    # train passengers appear on their platform and walk out
    p.spawn_zone[n_entry:] = train_zones
    for z in np.unique(train_zones):
        sel = np.flatnonzero(p.spawn_zone == z)
        p.spawn_point[sel] = geo.sample(int(z), spawn_u[sel])
    # warm start: people at attractors and in the queues
    p.state[:n0] = State.INSIDE
    p.xy[:n0] = p.attractor_point[:n0]
    p.dwell_until[:n0] = p.dwell[:n0]  # memoryless: a fresh draw is the residual
    p.dwell[:n0] = np.nan
    p.warm[: n0 + nq] = True
    p.arrive_at[: n0 + nq] = 0.0
    p.arrive_at[n0 + nq : n_entry] = times
    p.arrive_at[n_entry:] = train_times
    later = np.arange(n0, n)
    planned = later[np.argsort(p.arrive_at[later], kind="stable")]
    # personal space at rest, drawn last so that the draws above keep their streams
    accept = np.asarray(cw.standing_density_ppm2.sample(rng, n), dtype=float)
    p.room = window_people(accept, rng.random(n)) - 1  # others, so 0-8
    p.jam = window_people(cw.jam_density_ppm2, rng.random(n))
    return Drawn(p, timetable, attractors, attractor_p, planned)
