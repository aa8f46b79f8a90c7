"""Crowd state (structure of arrays) and the floor-field cellular automaton that moves it.

The model
---------
Space is a lattice of square cells of size ``a`` (0.4 m: one person per cell, at most
6.25 persons/m²).  Each destination ``d`` has a floor field ``S_d`` (geodesic distance to its
targets, :mod:`softtarget.sim.motion.fields`).  Agent ``i`` holds a cell, a desired speed ``v_i``
(N(1.34, 0.26) m/s clipped to [0.8, 1.8], Weidmann 1993), a destination and a walking
budget ``b_i`` (metres it may still walk).

Update: random sequential.  Every step of ``dt`` (0.3 s) the active agents are visited in a
fresh random order; each, in turn:

1. Candidates are the free cells ``k`` of its Moore neighbourhood that do not lead away:
   ``(S(c) − S(k)) / ℓ_k ≥ r_min`` (0: a step across the way is allowed, one back is not),
   ``ℓ_k`` = a or a√2 the step length; a diagonal step must not cut a wall corner.
2. It picks the candidate maximising ``r_k + η U_k`` (``U_k`` uniform, ``η`` = 0.1: breaks
   ties and lets people spread over equivalent cells), where ``r_k = (R(c) − R(k)) / ℓ_k``
   is the efficiency along the *route field* ``R = S + C``: ``C`` is the delay congestion
   causes on the quickest way (travel time with Weidmann's speed where the density, averaged
   over the last ``route_every`` = 5 s, exceeds that of the greatest flow, 1.75 /m²; on a
   graph of 1.6 m blocks, :mod:`softtarget.sim.motion.route`; Kretz 2009).  Where the way is not
   congested ``R = S``; a crowd rounding a corner takes a wider line instead of queueing
   at the inner corner.
3. Headway speed (a discrete collision-free speed model, Tordeux et al. 2016):
   ``v = min(v_i, g_k / T)`` where ``g_k`` is the free distance straight ahead in the
   chosen direction (free cells times ``ℓ_k``, scanned up to ``lookahead`` = 5 cells; beyond
   that, or at a wall, the way counts as free) and ``T`` (1.75 s) the time gap.
   Overtaking: if someone is ahead (``v < v_i``) and the agent has room to manoeuvre (none
   of its 8 neighbours occupied), it instead picks the candidate maximising the expected
   progress ``r_k min(v_i, g_k / T) / v_i + η U_k``, i.e. it may pull out past a slow walker.
4. The budget grows by ``v dt``; while it covers the cost of the chosen move,
   ``max(S(c) − S(k), 0.7 ℓ_k)``, the agent moves (at most ``max_moves`` cells a step) and
   pays.  Charging the distance gained along the field (rather than the step length) makes
   free walking isotropic: a person heading at 22.5° to the lattice zig-zags but advances at
   ``v_i`` towards the target.
5. If no candidate is free, the agent waits and loses its budget (``blocked_keep`` = 0): it
   must accelerate again, a reaction time of about one cell.  The budget is capped at
   ``budget_cap`` (one diagonal move).
6. A cell a door's edge cuts is open for a fraction ``p`` of its width
   (:attr:`~softtarget.sim.motion.grid.Grid.passable`): it admits one person per
   ``lane_s / p`` seconds, where ``lane_s`` (1.3 s) is about the time between people in a
   whole lane of a queued door (the lattice's own ~0.75 persons/s per cell), so an
   opening's capacity follows its drawn width, not a whole number of cells.
7. An agent entering a target cell of a *sink* destination (an exit) is removed and counted
   by the cell's target label; on an attractor's target cells it stops.
8. Personal space at rest: an agent within its resting distance with more than ``room_i``
   others in the 3 x 3 cells around it steps, at its own speed, to the free neighbour within
   its resting distance with the fewest others around (fewer than now), if any: people
   standing in an audience keep their space instead of packing every cell.
9. Jam density: an agent does not step onto a cell that would put more than ``jam_i``
   people (itself counted) in the 3 x 3 window around that cell or around a neighbour
   standing by it: at jam density walking stops (Weidmann 1993's 5.4 /m²), and a crowd
   packs closer only where it is pushed (the caller lifts the limit, ``jam_i`` = 9, for
   those in competitive flight). Squeezing past by a swap stays allowed: it moves nobody
   closer together.

Calibration: ``T`` = 1.75 s and ``dt`` = 0.3 s make the periodic-corridor fundamental
diagram follow Weidmann's curve (within 0.075 m/s up to 3 /m², +0.11 at 4 /m²) and the
bottleneck flow follow Kretz et al. (2006) (1.40–1.45 /s through 0.8 m, 2.05–2.17 /s through
1.2 m, ~1.7 /(m·s) for 2 m); see docs/validation.md.  A sink should sit a few metres beyond
a door: removing people the moment they pass a door frees the way ahead of the next and
inflates the flow.

Randomness: each step draws one integer from the caller's ``numpy.random.Generator`` and
seeds the kernel's own xorshift64* stream with it, so runs are reproducible from the
generator's state.  Cost: about 100–150 ns per walking agent and step on one core (2 M
agent-seconds per second), much less for standing agents.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from softtarget.sim.motion import _kernels as K
from softtarget.sim.motion.fields import FloorFields
from softtarget.sim.motion.grid import Grid
from softtarget.sim.motion.route import RouteFields
from softtarget.sim.schema import FREE_WALKING_SPEED, JAM_DENSITY_PPM2

FREE_SPEED_MEAN = float(FREE_WALKING_SPEED["mean"])
"""Mean desired walking speed (m/s), Weidmann 1993 (REFERENCES.md, Crowd)."""
FREE_SPEED_SD = float(FREE_WALKING_SPEED["sd"])
"""Standard deviation of desired speed (m/s), Weidmann 1993."""
FREE_SPEED_RANGE = (float(FREE_WALKING_SPEED["min"]), float(FREE_WALKING_SPEED["max"]))
"""Clip range of drawn desired speeds (m/s): the scenario default's (one distribution)."""


def window_people(density_ppm2: np.ndarray | float, u: np.ndarray, cell: float = 0.4) -> np.ndarray:
    """Whole people in the 3 x 3 window around a cell for a density (persons/m²).

    ``floor(density x window area + u)`` with ``u`` uniform on [0, 1): the window holds whole
    people, 0.69 /m² apart on 0.4 m cells, and the count is right on average. Clipped to 1-9.
    """
    people = np.floor(np.asarray(density_ppm2) * (3.0 * cell) ** 2 + u)
    return np.clip(people, 1.0, 9.0).astype(np.int8)


@dataclass
class MotionParams:
    """Parameters of the cellular automaton (defaults calibrated, see docs/validation.md).

    Attributes:
        dt: time step (s).
        time_gap: safe time gap T (s) of the headway rule v = min(v0, gap / T).
        overtake_max: an agent with at most this many of its 8 neighbour cells occupied
            chooses its direction by expected progress (efficiency x headway speed), so it
            can pull out and overtake a slower walker; -1 disables.
        lookahead: cells scanned ahead for the gap (beyond them the way counts as free).
        noise: amplitude of the uniform noise added to a move's efficiency when choosing.
        r_min: minimum efficiency (downhill distance per metre walked) of an acceptable move:
            0, any step that does not lead away, so the way round a queue is open (with
            0.05-0.3 a crowd still queues at an L corridor's inner corner: ~25 % below the
            straight corridor's flow at 8 m; docs/validation.md, Corridor flow).
        cost_floor: a move costs at least this fraction of its length from the budget.
        budget_cap: most walking budget an agent can hold (m); at least one diagonal move.
        blocked_keep: fraction of its budget an agent keeps when every downhill cell is taken
            (0: it must start again, a reaction time of about one cell's walking time).
        max_moves: maximum cell moves per agent per step.
        swaps: a blocked walker may change places with a neighbour downhill who is resting
            (people standing in a crowd let others squeeze past) or walking the other way
            (two people meeting head-on pass each other); off for the validation cases.
        swap_speed: speed (m/s) at which a walker squeezes past someone resting (E).
        swap_r_min: least efficiency (distance gained per metre) of a swap: 0.3, the
            moves' minimum before issue 16 (a swap must bring the walker on its way).
        lane_s: seconds between people through one whole cell of a queued door; a partly
            open cell (fraction p) admits one person per lane_s / p.  1.3 s (~0.75 persons/s
            per 0.4 m cell, the lattice's own): the four placements of each door on the
            lattice then pass the same within 2-6 % (docs/validation.md).
        route_every: seconds between updates of the congestion-corrected route fields
            (quickest path, Kretz 2009; :mod:`softtarget.sim.motion.route`), whose densities
            are the means over this interval; 0 disables them (everyone follows the shortest
            path).  5 s: as often as the corridor validation needs (docs/validation.md,
            Corridor flow) and cheap enough for 10,000 walkers.
        route_sample: seconds between the samples of the crowd whose mean densities the
            route fields use (1 s: 5 per update; a sample costs ~10 ns per person).
        route_min_moved: the route fields are left as they are while at most this fraction
            of the people on the grid (0.01) have moved to another node of the route graph
            since they were computed: a standing crowd's congestion has not changed.
        route_block: side (cells) of the blocks of the route graph: 4 (1.6 m); finer costs
            more, coarser (5) no longer resolves the corner of a 4 m corridor (measured,
            docs/validation.md, Corridor flow).
        route_free_density: density (persons/m²) up to which a node of the route graph does
            not slow the route: 1.75, where Weidmann's flow rho v(rho) is greatest (1.22
            /(m·s)); a denser crowd is congested (flow falls as density rises).  With 0 a
            moving stream already deflects the people behind it and whole-cell doors pass
            3-8 % more (docs/validation.md).
        route_gamma: Weidmann's gamma (1/m²) of the speed-density relation slowing the route
            graph, 1.913 (Weidmann 1993, REFERENCES.md).
        route_jam_density: Weidmann's jam density (persons/m²), 5.4 (Weidmann 1993).
        route_min_speed: floor of the relative speed v(rho) / v0 in the route cost (a jam
            still creeps: the lattice's own speed at 5 /m² is ~0.1 m/s, docs/validation.md).

    """

    dt: float = 0.3
    time_gap: float = 1.75
    lookahead: int = 5
    overtake_max: int = 0
    noise: float = 0.1
    r_min: float = 0.0
    cost_floor: float = 0.7
    budget_cap: float = 0.57
    blocked_keep: float = 0.0
    max_moves: int = 3
    swaps: bool = False
    swap_speed: float = 0.4
    swap_r_min: float = 0.3
    lane_s: float = 1.3
    route_every: float = 5.0
    route_sample: float = 1.0
    route_min_moved: float = 0.01
    route_block: int = 4
    route_free_density: float = 1.75
    route_gamma: float = 1.913
    route_jam_density: float = 5.4
    route_min_speed: float = 0.1


def draw_speeds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Desired speeds ~ Normal(1.34, 0.26) clipped to [0.8, 1.8] m/s (float32)."""
    v = rng.normal(FREE_SPEED_MEAN, FREE_SPEED_SD, n)
    return np.clip(v, *FREE_SPEED_RANGE).astype(np.float32)


@dataclass
class Lattice:
    """The crowd as arrays, with fixed capacity; slots are reused only via :meth:`add`.

    Attributes:
        fields: the floor fields agents walk on (one per destination).
        capacity: number of agent slots.
        params: CA parameters.
        ix, iy: int32 cell of each agent (-1 if never placed).
        speed: float32 desired speed (m/s); the caller may overwrite (e.g. flight speed).
        dest: int32 destination (floor-field index) per agent; may be changed at any time.
        stop: float32 distance (m) from the destination's target at which the agent rests
            (0: walks onto the target); may be changed at any time.
        room: int8 personal space at rest: the most others an agent within its resting
            distance accepts in the 3 x 3 cells around it before stepping to a freer cell
            (8: no limit, the default).
        jam: int8 jam density: the most people (the agent counted) an agent lets the 3 x 3
            window around the cell it steps onto, or around a neighbour there, hold
            (9: no limit, the default; see the kernel).
        active: bool, agent on the grid.
        budget: float32 walking budget (m) accumulated but not yet spent on a move.
        odometer: float64 progress walked down the floor fields (m), for speed measurement.
        occ: int32 ``(ny, nx)`` agent index per cell, -1 if empty floor, -2 if wall.
        counts: int64 arrivals per target label (exits).
        time: simulated time (s).

    """

    fields: FloorFields
    capacity: int
    params: MotionParams = field(default_factory=MotionParams)
    periodic_x: bool = False

    def __post_init__(self) -> None:
        """Allocate the arrays."""
        g = self.fields.grid
        n = self.capacity
        self.ix = np.full(n, -1, dtype=np.int32)
        self.iy = np.full(n, -1, dtype=np.int32)
        self.speed = np.zeros(n, dtype=np.float32)
        self.dest = np.zeros(n, dtype=np.int32)
        self.stop = np.zeros(n, dtype=np.float32)
        self.room = np.full(n, 8, dtype=np.int8)
        self.jam = np.full(n, 9, dtype=np.int8)
        self.active = np.zeros(n, dtype=bool)
        self.budget = np.zeros(n, dtype=np.float32)
        self.odometer = np.zeros(n, dtype=np.float64)
        self.occ = np.where(g.walkable, -1, -2).astype(np.int32)
        self.counts = np.zeros(max(self.fields.n_labels, 1), dtype=np.int64)
        self.time = 0.0
        self._walk = g.walkable.astype(np.bool_)
        self._pas = g.open_fraction()
        self._free_at = np.zeros(g.shape, dtype=np.float64)
        self._next = 0
        self._init_routes()

    def set_jam(self, jam_ppm2: float | None = JAM_DENSITY_PPM2, seed: int = 0) -> None:
        """Every slot's jam limit for a jam density (persons/m²; None: no limit).

        Drawn from its own generator (``seed``) as :func:`window_people`, so the motion's
        stream is untouched.
        """
        if jam_ppm2 is None:
            self.jam[:] = 9
            return
        u = np.random.default_rng([seed, 5]).random(self.capacity)
        self.jam[:] = window_people(jam_ppm2, u, self.grid.cell)

    def _init_routes(self) -> None:
        """Route fields (congestion-corrected) for the current floor fields, if enabled."""
        p = self.params
        ff = self.fields.fields
        self._sr = np.stack([ff, ff], axis=-1)  # the kernel reads both from one cache line
        self.routes = None
        if p.route_every > 0.0 and not self.periodic_x:
            self.routes = RouteFields(self.fields, p.route_block, self._sr[..., 1])
        self._route_at = 0.0
        self._sample_at = 0.0

    @property
    def route(self) -> np.ndarray:
        """The fields agents rank their moves by (the floor fields corrected for crowds)."""
        return self._sr[..., 1]

    def update_routes(self) -> None:
        """Recompute the route fields of the destinations someone is heading for now."""
        if self.routes is None:
            return
        p = self.params
        used = np.zeros(self.fields.n_dest, dtype=bool)
        used[self.dest[self.active]] = True
        self.routes.update(
            self.ix, self.iy, self.active, used, p.route_free_density, p.route_gamma,
            p.route_jam_density, p.route_min_speed, p.route_min_moved,
        )  # fmt: skip

    @property
    def grid(self) -> Grid:
        """The grid."""
        return self.fields.grid

    @property
    def n_active(self) -> int:
        """Number of agents on the grid."""
        return int(np.count_nonzero(self.active))

    def add(
        self,
        x: np.ndarray,
        y: np.ndarray,
        dest: np.ndarray | int,
        rng: np.random.Generator,
        speed: np.ndarray | None = None,
        max_search: int = 25,
    ) -> np.ndarray:
        """Add agents near points ``(x, y)`` (each at the nearest free walkable cell).

        Returns the slot indices of the placed agents (agents with no free cell within
        ``max_search`` cells are dropped).
        """
        x = np.atleast_1d(np.asarray(x, dtype=np.float64))
        y = np.atleast_1d(np.asarray(y, dtype=np.float64))
        n = x.shape[0]
        if self._next + n > self.capacity:
            raise ValueError("crowd capacity exceeded")
        slots = np.arange(self._next, self._next + n, dtype=np.int64)
        cx, cy = self.grid.cell_of(x, y)
        K.place_agents(
            self._walk, self.occ, cx.astype(np.int64), cy.astype(np.int64), slots,
            self.ix, self.iy, max_search,
        )  # fmt: skip
        placed = slots[self.ix[slots] >= 0]
        self._next += n
        self.speed[slots] = draw_speeds(rng, n) if speed is None else speed
        self.dest[slots] = dest
        self.active[placed] = True
        self.budget[slots] = rng.random(n).astype(np.float32) * 0.4 * self.grid.cell
        return placed

    def fill_mask(
        self, mask: np.ndarray, n: int, dest: np.ndarray | int, rng: np.random.Generator
    ) -> np.ndarray:
        """Add ``n`` agents on distinct random free walkable cells of ``mask``."""
        free = np.flatnonzero(mask & self._walk & (self.occ < 0))
        if n > free.size:
            raise ValueError(f"only {free.size} free cells for {n} agents")
        pick = rng.choice(free, size=n, replace=False)
        iy, ix = np.unravel_index(pick, self.grid.shape)
        x, y = self.grid.centre(ix, iy)
        return self.add(x, y, dest, rng)

    def step(self, rng: np.random.Generator, dt: float | None = None) -> int:
        """Advance the crowd by one step; return the number of agents removed at sinks."""
        p = self.params
        dt = p.dt if dt is None else dt
        seed = int(rng.integers(0, 2**31 - 1))
        period = self.grid.nx * self.grid.cell if self.periodic_x else 0.0
        if self.routes is not None:
            if self.time >= self._sample_at - 1e-9:
                self.routes.accumulate(self.ix, self.iy, self.active)
                self._sample_at = self.time + p.route_sample
            if self.time >= self._route_at - 1e-9:
                self.update_routes()
                self._route_at = self.time + p.route_every
        removed = K.step_kernel(
            self._sr, self.fields.sink, self.fields.labels, self.occ, self._pas,
            self._free_at, self.time, p.lane_s, self.ix, self.iy, self.speed, self.dest,
            self.stop, self.room, self.jam, self.active, self.budget, self.odometer,
            self.counts, p.time_gap, p.overtake_max, p.lookahead, dt, self.grid.cell, period,
            p.noise, p.r_min, p.cost_floor, p.budget_cap, p.blocked_keep, p.max_moves,
            p.swaps, p.swap_speed, p.swap_r_min, seed,
        )  # fmt: skip
        self.time += dt
        return int(removed)

    def place(
        self,
        slots: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        dest: np.ndarray | int,
        speed: np.ndarray,
        max_search: int = 60,
    ) -> np.ndarray:
        """Put the given ``slots`` on the grid at the free cells nearest ``(x, y)``.

        For a caller that owns the slot numbering (one slot per person). Slots already on the
        grid are moved. Returns the slots placed; those with no free cell within
        ``max_search`` cells stay off the grid.
        """
        slots = np.atleast_1d(np.asarray(slots, dtype=np.int64))
        if slots.size == 0:
            return slots
        self.remove(slots)
        cx, cy = self.grid.cell_of(np.atleast_1d(x), np.atleast_1d(y))
        K.place_agents(
            self._walk, self.occ, cx.astype(np.int64), cy.astype(np.int64), slots,
            self.ix, self.iy, max_search,
        )  # fmt: skip
        placed = slots[self.ix[slots] >= 0]
        self.active[placed] = True
        self.dest[slots] = dest
        self.stop[slots] = 0.0
        self.speed[slots] = speed
        self.budget[slots] = 0.0
        self._next = max(self._next, int(slots.max()) + 1)
        return placed

    def remove(self, idx: np.ndarray | int) -> None:
        """Take agents off the grid (e.g. casualties, people leaving by other means).

        Their slots are not reused; arrival counts are not touched.
        """
        idx = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        idx = idx[self.active[idx]]
        self.occ[self.iy[idx], self.ix[idx]] = -1
        self.active[idx] = False

    def set_fields(self, fields: FloorFields) -> None:
        """Swap in new floor fields on the same lattice (exit closed, new destinations).

        ``dest`` indices then refer to the new stack; the caller must remap them if needed.
        Walls of the new grid must not cover any active agent.
        """
        if fields.grid.shape != self.grid.shape:
            raise ValueError("new fields are on a different lattice")
        walk = fields.grid.walkable
        if not walk[self.iy[self.active], self.ix[self.active]].all():
            raise ValueError("an active agent stands on a cell the new grid walls up")
        occ = np.where(walk, -1, -2).astype(np.int32)
        act = np.flatnonzero(self.active)
        occ[self.iy[act], self.ix[act]] = act
        self.fields = fields
        self.occ = occ
        self._walk = walk.astype(np.bool_)
        self._pas = fields.grid.open_fraction()
        self._free_at = np.zeros(fields.grid.shape, dtype=np.float64)
        self.counts = np.zeros(max(fields.n_labels, 1), dtype=np.int64)
        self._init_routes()

    def run(self, rng: np.random.Generator, duration: float) -> int:
        """Step for ``duration`` seconds; return the total removed."""
        steps = round(duration / self.params.dt)
        return sum(self.step(rng) for _ in range(steps))

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates ``(x, y)`` of all slots (meaningless where inactive)."""
        return self.grid.centre(self.ix, self.iy)

    def density(self, half: int = 1) -> np.ndarray:
        """Local density (persons/m²) per cell over a ``(2*half+1)`` cell square window.

        With 0.4 m cells and ``half=1`` the window is 1.2 m x 1.2 m (1.44 m²).  Walls inside
        the window count as empty floor, so densities next to walls are underestimated.
        """
        return K.box_density(self.occ, half, self.grid.cell**2)

    def density_of(self, slots: np.ndarray, half: int = 1) -> np.ndarray:
        """Local density (persons/m²) at the cells of the given on-grid ``slots``.

        The same window as :meth:`density`, computed only where asked (cheap for few slots).
        """
        slots = np.asarray(slots, dtype=np.int64)
        return K.density_at(self.occ, self.ix[slots], self.iy[slots], half, self.grid.cell**2)

    def density_at_agents(self, half: int = 1) -> np.ndarray:
        """Local density (persons/m²) at each slot's cell (0 for inactive slots)."""
        d = self.density(half)
        out = np.zeros(self.capacity, dtype=np.float32)
        a = self.active
        out[a] = d[self.iy[a], self.ix[a]]
        return out

    def peak_density(self, half: int = 1) -> float:
        """Largest local density (persons/m²) anywhere."""
        return float(self.density(half).max())
