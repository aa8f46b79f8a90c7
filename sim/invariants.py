"""Runtime invariants of a run: the model never lies about people.

:class:`InvariantChecker` looks at a :class:`~softtarget.sim.model.SoftTargetModel` after every step
(``RunTask.check_invariants``; ``softtarget run/batch --check-invariants``) and raises
:class:`InvariantError` naming the run, the step and time, the invariant and the people or
agents involved. What is checked, and with which bounds, is documented in
``docs/invariants.md``; the names of the invariants are the constants below.

The checker only reads the model (it keeps its own copy of the previous step's positions and
states); it never changes a run's results or its random streams.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from matplotlib.path import Path as MplPath

from softtarget.sim import columns as C
from softtarget.sim.errors import RunError
from softtarget.sim.people import IS_STANDING, People, State
from softtarget.sim.screening import Lane
from softtarget.sim.units import Fixed, Normal, Uniform

if TYPE_CHECKING:
    from softtarget.sim.model import SoftTargetModel
    from softtarget.sim.units import Dist

# --------------------------------------------------------------------- invariant names ---

CONSERVATION: Final = "conservation"
ARRIVAL_TIME: Final = "arrival_time"
VENUE_AREA: Final = "venue_area"
MAX_SPEED: Final = "max_speed"
QUEUE_PLACEMENT: Final = "queue_placement"
WALLS: Final = "walls"
DENSITY: Final = "density"
CAUSAL_ORDER: Final = "causal_order"
HARM: Final = "harm"
KILLED_STILL: Final = "killed_still"
NON_NEGATIVE: Final = "non_negative"

INVARIANTS: Final = (
    CONSERVATION,
    ARRIVAL_TIME,
    VENUE_AREA,
    MAX_SPEED,
    QUEUE_PLACEMENT,
    WALLS,
    DENSITY,
    CAUSAL_ORDER,
    HARM,
    KILLED_STILL,
    NON_NEGATIVE,
)

#: Highest local density a crowd can physically reach, persons/m², on the model's density
#: grid (square cells of ``softtarget.sim.venue.DENSITY_CELL_M`` m). Fruin's critical static density
#: is 7.1/m²; crowd-crush reconstructions reach 9–10/m² at most (Still), so anything above 10 is
#: people standing inside each other.
MAX_DENSITY_PPM2: Final = 10.0

#: Positions are compared with this slack (m): floating-point error, and the 1e-6 m by which
#: ``Geometry.clamp`` keeps people off the far edges.
TOL_M: Final = 1e-6
#: Time comparisons are made with this slack (s).
TOL_S: Final = 1e-9
#: Indices listed in a message at most (the count is always given).
MAX_LISTED: Final = 10

#: Outcome columns that count a part of another's people (part, whole).
_PARTS: Final = (
    (C.KILLED_OUTSIDE, C.KILLED),
    (C.INJURED_OUTSIDE, C.INJURED),
    (C.CRUSH_INJURED_OUTSIDE, C.CRUSH_INJURED),
    (C.KILLED_IN_QUEUE, C.KILLED_OUTSIDE),
    (C.INJURED_IN_QUEUE, C.INJURED_OUTSIDE),
    (C.KILLED_BEFORE_ARMED, C.KILLED),
    (C.INJURED_BEFORE_ARMED, C.INJURED),
    (C.CRUSH_INJURED_IN_EVACUATION, C.CRUSH_INJURED),
)


class InvariantError(RunError):
    """A run broke one of its invariants: the model told something impossible.

    A :class:`~softtarget.sim.errors.RunError` at stage ``"invariant"``, so a batch records it as a
    failed run with that stage.
    """

    def __init__(
        self,
        run_id: str,
        step: int,
        t: float,
        invariant: str,
        detail: str,
        agents: Iterable[int | str] = (),
    ) -> None:
        """Violation of ``invariant`` in run ``run_id`` at ``step`` (time ``t``) by ``agents``."""
        self.run_id = run_id
        self.step = step
        self.t = t
        self.invariant = invariant
        self.detail = detail
        self.agents = list(agents)
        who = ""
        if self.agents:
            shown = ", ".join(str(a) for a in self.agents[:MAX_LISTED])
            more = f", ... ({len(self.agents)} in all)" if len(self.agents) > MAX_LISTED else ""
            who = f"; agents: {shown}{more}"
        super().__init__(
            "invariant",
            f"run {run_id} step {step} (t={t:g} s): invariant '{invariant}' violated: "
            f"{detail}{who}",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by the constructor's arguments (a batch sends errors between processes)."""
        return (
            InvariantError,
            (self.run_id, self.step, self.t, self.invariant, self.detail, self.agents),
        )


def dist_upper(dist: Dist, drawn: np.ndarray) -> float:
    """Largest value a distribution can give: its documented maximum where it has one.

    Normal (clipped at ``max``), fixed and uniform distributions have one; for the others
    (exponential, log-normal) the largest value drawn in this run is the bound.
    """
    if isinstance(dist, Normal) and math.isfinite(dist.max):
        return float(dist.max)
    if isinstance(dist, Fixed):
        return float(dist.value)
    if isinstance(dist, Uniform):
        return float(max(dist.low, dist.high))
    return float(drawn.max()) if len(drawn) else 0.0


def _nan_eq(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _before(a: float, b: float) -> bool:
    """Whether both times are known and ``a`` is earlier than ``b`` (beyond the slack)."""
    return not math.isnan(a) and not math.isnan(b) and a < b - TOL_S


class InvariantChecker:
    """Checks one model's invariants; call :meth:`check` after every ``model.step()``.

    Creating the checker checks the initial state (step 0).
    """

    def __init__(self, model: SoftTargetModel, run_id: str = "?") -> None:
        """Remember what must stay fixed for ``model`` and check its initial state."""
        self.model = model
        self.run_id = run_id
        self.step = 0
        cw = model.crowd
        self.n = int(cw.n)
        cfg = model.scenario.crowd
        #: documented top walking speed (m/s) and top speed of anyone, fleeing included
        self.max_walk = dist_upper(cfg.speed, cw.speed)
        self.max_speed = max(self.max_walk, dist_upper(cfg.flight_speed, cw.flight_speed))
        venue = model.scenario.venue
        self.width, self.height = float(venue.width_m), float(venue.height_m)
        self.walls = [(w.rect, MplPath(w.corners())) for w in venue.walls]
        self.doors = np.array([d[1:] for d in model.crowd.layout.doors], dtype=float).reshape(-1, 4)
        params = model.crowd.lattice.params
        #: the lattice charges a move at least cost_floor × its length, from a budget that
        #: grows by speed × dt and holds at most budget_cap: the farthest a step can take anyone
        self.cost_floor, self.budget_cap = float(params.cost_floor), float(params.budget_cap)
        self.prev_xy = cw.xy.copy()
        self.prev_state = cw.state.copy()
        self.milestones = self._milestones()
        self.harmed = 0
        self.n_events = 0
        self.check()

    # ---------------------------------------------------------------------------- api ---

    def fail(self, invariant: str, detail: str, agents: Iterable[Any] = ()) -> None:
        """Raise :class:`InvariantError` for this run, step and time."""
        raise InvariantError(
            self.run_id, self.step, float(self.model.t), invariant, detail, list(agents)
        )

    def check(self) -> None:
        """Check every invariant of the current state against the previous step."""
        cw = self.model.crowd
        self._conservation()
        changed = np.flatnonzero(cw.state != self.prev_state)
        self._arrival_time()
        self._venue_area()
        self._walls()
        self._density()
        self._killed_still()
        self._queue_placement(len(changed))
        self._max_speed(changed)
        self._causal_order()
        self._harm()
        self._non_negative()
        self.prev_xy = cw.xy.copy()
        self.prev_state = cw.state.copy()
        self.step += 1

    def check_row(self, row: dict[str, Any]) -> None:
        """Check the outcome row: no negative count, cost or time; every part within its whole."""
        over = [f"{p}={row[p]} > {w}={row[w]}" for p, w in _PARTS if row[p] > row[w]]
        if over:
            self.fail(NON_NEGATIVE, "a part of an outcome exceeds its whole: " + ", ".join(over))
        bad = []
        for key, value in row.items():
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                continue
            if key.startswith("t_") or key == "evac_time_s":
                continue  # times are relative to the attack's start: may be negative
            if math.isinf(float(value)) or float(value) < 0:
                bad.append(f"{key}={value}")
        if bad:
            self.fail(NON_NEGATIVE, "negative or infinite value in the outcome: " + ", ".join(bad))

    # ------------------------------------------------------------------------- people ---

    def _conservation(self) -> None:
        """Every visitor is in exactly one valid state; nobody appears or disappears."""
        cw = self.model.crowd
        arrays = {name: len(getattr(cw, name)) for name in People.fields()}
        wrong = {k: v for k, v in arrays.items() if v != self.n}
        if cw.n != self.n or wrong:
            self.fail(
                CONSERVATION,
                f"the crowd had {self.n} people; now n={cw.n}, "
                + ", ".join(f"len({k})={v}" for k, v in sorted(wrong.items())),
            )
        state = cw.state.astype(np.int64)
        invalid = np.flatnonzero((state < 0) | (state >= len(State)))
        if len(invalid):
            self.fail(
                CONSERVATION,
                f"{len(invalid)} people in no valid state (values "
                f"{sorted({int(state[i]) for i in invalid[:MAX_LISTED]})})",
                invalid,
            )
        counts = np.bincount(state, minlength=len(State))
        if int(counts.sum()) != self.n:  # pragma: no cover - bincount of valid states
            self.fail(CONSERVATION, f"states add up to {int(counts.sum())}, not {self.n}")
        model_counts = getattr(self.model, "counts", None)
        if self.step > 0 and model_counts is not None and not np.array_equal(model_counts, counts):
            named = ", ".join(
                f"{s.name.lower()} {int(model_counts[s])} vs {int(counts[s])}"
                for s in State
                if model_counts[s] != counts[s]
            )
            self.fail(CONSERVATION, f"the model's counts differ from the people: {named}")
        # structural: queuing people stand in exactly one lane; exit queues hold fleeing people
        in_lane: dict[int, int] = {}
        for cp in self.model.screening.checkpoints:
            for lane in cp.lanes:
                members = [*lane.queue, *([lane.serving] if lane.serving >= 0 else [])]
                for p in members:
                    in_lane[int(p)] = in_lane.get(int(p), 0) + 1
        queuing = set(np.flatnonzero(cw.state == State.QUEUING).tolist())
        lost = sorted(queuing - set(in_lane))
        if lost:
            self.fail(CONSERVATION, f"{len(lost)} queuing people are in no lane", lost)
        stray = sorted(p for p, k in in_lane.items() if k > 1 or p not in queuing)
        if stray:
            self.fail(
                CONSERVATION, "people in a screening lane who are not queuing there once", stray
            )
        # the lattice holds exactly the people walking or standing in the venue, one per cell
        m = self.model.crowd.lattice
        on = np.flatnonzero(m.active[: self.n])
        wrong = on[~IS_STANDING[cw.state[on]] | (cw.state[on] == State.QUEUING)]
        if len(wrong):
            self.fail(CONSERVATION, "people on the lattice who are not in the venue", wrong)
        cells = m.iy[on].astype(np.int64) * m.grid.nx + m.ix[on]
        if len(np.unique(cells)) != len(on) or not (m.occ.ravel()[cells] == on).all():
            self.fail(CONSERVATION, "two people on one lattice cell, or the cells disagree")

    def _arrival_time(self) -> None:
        """Nobody arrives before their time, nor is left waiting outside the run after it.

        Once an order has closed the site, those still to come stay away.
        """
        cw, t, dt = self.model.crowd, float(self.model.t), float(self.model.dt)
        response = self.model.response
        due = min(t, float(response.t_ordered)) if response.entry_closed else t
        planned = cw.state == State.PLANNED
        early = np.flatnonzero(~planned & (cw.arrive_at > t + TOL_S))
        if len(early):
            self.fail(
                ARRIVAL_TIME,
                f"{len(early)} people arrived before their time "
                f"(first due at {float(cw.arrive_at[early[0]]):g} s)",
                early,
            )
        late = np.flatnonzero(planned & (cw.arrive_at <= due - dt - TOL_S))
        if len(late):
            self.fail(
                ARRIVAL_TIME,
                f"{len(late)} people still planned a step after their arrival time",
                late,
            )

    def _venue_area(self) -> None:
        """Everyone present, and every staff member and attacker on site, is in the area."""
        cw = self.model.crowd
        present = np.flatnonzero(cw.state != State.PLANNED)
        xy = cw.xy[present]
        out = present[~self._in_area(xy)]
        if len(out):
            x, y = cw.xy[out[0]]
            self.fail(
                VENUE_AREA,
                f"{len(out)} people outside the venue area 0..{self.width:g} x "
                f"0..{self.height:g} m (first at ({x:g}, {y:g}))",
                out,
            )
        agents = [
            (f"staff:{s.unique_id}", s.pos) for s in self.model.staff.members if s.on_site
        ] + [(f"attacker:{a.ident}", a.pos) for a in self.model.threat.attackers if a.active]
        if agents:
            pts = np.array([p for _, p in agents], dtype=float).reshape(-1, 2)
            ok = self._in_area(pts)
            if not ok.all():
                self.fail(
                    VENUE_AREA,
                    "agents outside the venue area",
                    [name for (name, _), good in zip(agents, ok, strict=True) if not good],
                )

    def _in_area(self, xy: np.ndarray) -> np.ndarray:
        """In the area, or in the strip beyond one of its doors (on the way out)."""
        inside = (
            np.isfinite(xy).all(axis=1)
            & (xy[:, 0] >= -TOL_M)
            & (xy[:, 0] <= self.width + TOL_M)
            & (xy[:, 1] >= -TOL_M)
            & (xy[:, 1] <= self.height + TOL_M)
        )
        for x0, y0, x1, y1 in self.doors:
            inside |= (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        return inside

    def _killed_still(self) -> None:
        """A killed person never changes state again and never moves again."""
        cw = self.model.crowd
        was = self.prev_state == State.KILLED
        revived = np.flatnonzero(was & (cw.state != State.KILLED))
        if len(revived):
            self.fail(KILLED_STILL, f"{len(revived)} killed people changed state", revived)
        moved = np.flatnonzero(was & (cw.xy != self.prev_xy).any(axis=1))
        if len(moved):
            self.fail(KILLED_STILL, f"{len(moved)} killed people moved", moved)

    def _max_speed(self, changed: np.ndarray) -> None:
        """People walk at most as far as the lattice lets their speed take them in a step.

        The lattice charges each move at least ``cost_floor`` × its length, from a budget that
        grows by speed × dt and holds at most ``budget_cap``: nobody moves more than
        ``(budget_cap + speed × dt) / cost_floor`` in a step. Speed is the desired walking
        speed, or the larger of walking and flight speed for people fleeing before or after
        the step (or hurt or gone since, who may have fled first); it never exceeds the
        documented maxima of ``crowd.speed`` and ``crowd.flight_speed``.

        Exempt, because the model places rather than walks them: people put on the lattice
        this step (arrived, screened, stepped out of a line, re-placed), and people in a
        screening line before or after the step (held to :meth:`_queue_placement`).
        """
        cw, dt = self.model.crowd, float(self.model.dt)
        exempt = (
            (self.prev_state == State.PLANNED)
            | (self.prev_state == State.QUEUING)
            | (cw.state == State.QUEUING)
        )
        placed = np.asarray(getattr(self.model, "placed_now", []), dtype=np.int64)
        exempt[placed] = True
        idx = np.flatnonzero(~exempt)
        if len(idx) == 0:
            return
        moved = np.hypot(*(cw.xy[idx] - self.prev_xy[idx]).T)
        now, before = cw.state[idx], self.prev_state[idx]
        fleeing = (
            (now == State.FLEEING)
            | (before == State.FLEEING)
            | (~IS_STANDING[now] & (now != before))
        )
        own = np.where(
            fleeing,
            np.minimum(np.maximum(cw.speed[idx], cw.flight_speed[idx]), self.max_speed),
            np.minimum(cw.speed[idx], self.max_walk),
        )
        limit = (self.budget_cap + own * dt) / self.cost_floor * (1 + 1e-6) + TOL_M
        too_far = ~(moved <= limit)  # NaN counts as too far
        fast = idx[too_far]
        if len(fast):
            over = np.where(too_far, np.nan_to_num(moved - limit, nan=np.inf), -np.inf)
            k = int(np.argmax(over))
            self.fail(
                MAX_SPEED,
                f"{len(fast)} people moved farther than their speed allows in a step "
                f"(worst {moved[k]:.3g} m in {dt:g} s, limit {limit[k]:.3g} m; documented "
                f"maximum speed {self.max_speed if fleeing[k] else self.max_walk:g} m/s "
                f"{'fleeing' if fleeing[k] else 'walking'})",
                fast,
            )

    def _queue_placement(self, n_changed: int) -> None:
        """People in a screening queue stand at a place of their lane.

        A lane puts the person of rank r at ``Lane.place(r)`` (clamped to the area); someone
        who left the lane after the placement of this step leaves the ranks behind them one too
        high until the next step, hence ranks up to index + people who changed state.
        """
        cw = self.model.crowd
        for cp in self.model.screening.checkpoints:
            for lane in cp.lanes:
                if not lane.queue:
                    continue
                who = np.fromiter(lane.queue, dtype=np.int64)
                far = who[self._lane_offsets(lane, cw.xy[who], n_changed) > TOL_M]
                if len(far):
                    self.fail(
                        QUEUE_PLACEMENT,
                        f"{len(far)} queuing people are not at a place of their lane "
                        f"at checkpoint zone {cp.zone}",
                        far,
                    )

    def _lane_offsets(self, lane: Lane, xy: np.ndarray, slack: int) -> np.ndarray:
        """Distance of each queued person (in lane order) to the nearest place they may hold."""
        n = len(xy)
        ranks = np.arange(1, n + 1)[:, None] + np.arange(slack + 1)[None, :]
        places = lane.place(ranks.ravel())
        places = self.model.geo.clamp(places).reshape(n, slack + 1, 2)
        d = np.hypot(*(places - xy[:, None, :]).transpose(2, 0, 1))
        return np.nan_to_num(d.min(axis=1), nan=np.inf)

    def _walls(self) -> None:
        """Nobody standing in the venue is inside a wall or obstacle."""
        if not self.walls:
            return
        cw = self.model.crowd
        idx = np.flatnonzero(IS_STANDING[cw.state])
        if len(idx) == 0:
            return
        xy = cw.xy[idx]
        for w, (rect, path) in enumerate(self.walls):
            if rect is not None:
                x0, y0, x1, y1 = rect
                inside = (
                    (xy[:, 0] > x0 + TOL_M)
                    & (xy[:, 0] < x1 - TOL_M)
                    & (xy[:, 1] > y0 + TOL_M)
                    & (xy[:, 1] < y1 - TOL_M)
                )
            else:
                inside = path.contains_points(xy)
            if inside.any():
                self.fail(
                    WALLS,
                    f"{int(inside.sum())} people inside wall {w} (venue.walls[{w}])",
                    idx[inside],
                )

    def _density(self) -> None:
        """Local density on the model's grid never exceeds :data:`MAX_DENSITY_PPM2`."""
        cw, geo = self.model.crowd, self.model.geo
        standing = np.flatnonzero(IS_STANDING[cw.state])
        if len(standing) == 0:
            return
        grid = geo.density(cw.xy[standing]).ravel()
        worst = int(np.argmax(grid))
        if grid[worst] > MAX_DENSITY_PPM2:
            who = standing[geo.cell_of(cw.xy[standing]) == worst]
            centre = geo.cell_centre(worst)
            self.fail(
                DENSITY,
                f"{grid[worst]:.3g} persons/m² in the density cell around "
                f"({centre[0]:g}, {centre[1]:g}) m (maximum {MAX_DENSITY_PPM2:g})",
                who,
            )

    # -------------------------------------------------------------------- milestones ---

    def _milestones(self) -> dict[str, float]:
        m = self.model
        return {
            "t_first_detect": float(m.detection.t_first),
            "t_police_alerted": float(m.response.t_police_alerted),
            "t_response_ordered": float(m.response.t_ordered),
            "t_first_flight": float(m.crowd.t_first_flight),
        }

    def _causal_order(self) -> None:
        """Times happen in their causal order and, once set, never change."""
        m = self.model
        t = float(m.t)
        now = self._milestones()
        for name, value in now.items():
            old = self.milestones[name]
            if not math.isnan(old) and not _nan_eq(old, value):
                self.fail(CAUSAL_ORDER, f"{name} changed from {old:g} to {value:g} s")
            if value > t + TOL_S:
                self.fail(CAUSAL_ORDER, f"{name}={value:g} s lies in the future")
        self.milestones = now
        detect, alerted = now["t_first_detect"], now["t_police_alerted"]
        ordered, flight = now["t_response_ordered"], now["t_first_flight"]
        start = float(m.threat.t_began)
        drill = m.config.coordination.drill_at_s
        # a drill's order comes by the clock, at its time, with or without an attack
        drilled = drill is not None and not math.isnan(ordered) and ordered >= drill - TOL_S
        new_events = m.events[self.n_events :]
        self.n_events = len(m.events)
        if not m.threat.plan.attack:
            detections = [e for e in new_events if e[1] == "detection"]
            if not math.isnan(detect) or detections:
                self.fail(
                    CAUSAL_ORDER,
                    "a detection although this run has no attacker",
                    [e[2] for e in detections],
                )
            if not math.isnan(alerted) or (not math.isnan(ordered) and not drilled):
                self.fail(CAUSAL_ORDER, "police alerted or response ordered without an attack")
        if not math.isnan(alerted):
            if math.isnan(detect) and (math.isnan(start) or alerted < start - TOL_S):
                self.fail(
                    CAUSAL_ORDER,
                    f"police alerted at {alerted:g} s with no detection and before the attack "
                    f"(start {start:g} s)",
                )
            if _before(alerted, detect):
                self.fail(
                    CAUSAL_ORDER,
                    f"police alerted at {alerted:g} s before the first detection at {detect:g} s",
                )
        if (
            not math.isnan(ordered)
            and not drilled
            and (math.isnan(detect) or _before(ordered, detect))
        ):
            self.fail(
                CAUSAL_ORDER,
                f"response ordered at {ordered:g} s before any detection (first {detect:g} s)",
            )
        if m.threat.began and _before(t, start):
            self.fail(CAUSAL_ORDER, f"the attack began before its start at {start:g} s")
        for a in m.threat.attackers:
            if a.end in ("neutralised", "subdued") and (
                not m.threat.began or _before(float(a.ended_at), float(a.start))
            ):
                self.fail(
                    CAUSAL_ORDER,
                    f"attacker {a.end} at {float(a.ended_at):g} s before the attack started "
                    f"({float(a.start):g} s)",
                    [f"attacker:{a.ident}"],
                )
        if not math.isnan(flight):
            first_cause = min((x for x in (start, ordered) if not math.isnan(x)), default=math.nan)
            if math.isnan(first_cause) or _before(flight, first_cause):
                self.fail(
                    CAUSAL_ORDER,
                    f"first flight at {flight:g} s before the attack ({start:g} s) "
                    f"and the response order ({ordered:g} s)",
                )
        cw = m.crowd
        evacuated = np.flatnonzero(cw.state == State.EVACUATED)
        if len(evacuated):
            last = float(m.crowd.t_last_evacuated)
            if math.isnan(flight) or math.isnan(last) or _before(last, flight):
                self.fail(
                    CAUSAL_ORDER,
                    f"people evacuated (last at {last:g} s) without or before the first "
                    f"flight ({flight:g} s)",
                    evacuated,
                )

    # -------------------------------------------------------------------------- harm ---

    def _harm(self) -> None:
        """Killed + injured never exceed the people exposed; harm is never undone."""
        m, cw = self.model, self.model.crowd
        killed = cw.state == State.KILLED
        injured = cw.state == State.INJURED
        harmed = int(killed.sum() + injured.sum())
        exposed = int((cw.state != State.PLANNED).sum())
        if harmed > exposed:  # pragma: no cover - implied by conservation
            self.fail(HARM, f"{harmed} killed or injured of {exposed} people exposed")
        if harmed < self.harmed:
            self.fail(HARM, f"killed + injured fell from {self.harmed} to {harmed}")
        self.harmed = harmed
        crushed = np.asarray(m.crowd.crushed, dtype=bool)
        if int(m.density.crush_injured) != int(crushed.sum()):
            self.fail(
                HARM,
                f"crush_injured={m.density.crush_injured} but {int(crushed.sum())} people crushed",
            )
        wrong = np.flatnonzero(crushed & ~injured & ~killed)
        if len(wrong):
            self.fail(HARM, "crushed people who are not injured", wrong)
        untimed = np.flatnonzero((killed | injured) != ~np.isnan(cw.t_harmed))
        if len(untimed):
            self.fail(HARM, "the time of harm is set for exactly the killed and injured", untimed)
        attack_harm = np.flatnonzero(killed | (injured & ~crushed))
        if len(attack_harm) and not m.threat.began:
            self.fail(
                HARM,
                f"{len(attack_harm)} people killed or injured by an attack that never began",
                attack_harm,
            )

    def _non_negative(self) -> None:
        """Costs, counts and running measures are never negative (nor NaN)."""
        m = self.model
        values = {
            "staff_cost": m.staff.cost,
            "false_alarms": m.staff.false_alarms,
            "max_queue_len": m.max_queue_len,
            "crush_injured": m.density.crush_injured,
            "peak_density": m.density.peak,
            "density_exposure": m.density.exposure,
        }
        bad = [f"{k}={v}" for k, v in values.items() if not (float(v) >= 0) or math.isinf(v)]
        waits = np.asarray(m.screening.waits, dtype=float)
        if len(waits) and not (waits >= -TOL_S).all():
            bad.append(f"screening wait {float(np.nanmin(waits)):g} s")
        agents = [
            f"attacker:{a.ident}"
            for a in m.threat.attackers
            if getattr(a, "rounds_left", 0) < 0 or a.visitor_reports < 0
        ]
        if agents:
            bad.append("attacker rounds or reports")
        if bad:
            self.fail(NON_NEGATIVE, "negative or undefined: " + ", ".join(bad), agents)
        queuing = int((m.crowd.state == State.QUEUING).sum())
        if m.max_queue_len < queuing:
            self.fail(
                NON_NEGATIVE, f"max_queue_len={m.max_queue_len} below the {queuing} queuing now"
            )


__all__ = [
    "INVARIANTS",
    "MAX_DENSITY_PPM2",
    "InvariantChecker",
    "InvariantError",
    "dist_upper",
]
