"""The Mesa model of one run: crowd, screening, staff, threat, reporting chain and response.

One step of ``dt`` seconds does, in order: arrivals and screening; the reporting chain
(messages due now); attackers' phases and harm; detection by staff and visitors; false
alarms; staff movement; crowd reactions (flight, evacuation, shelter) and walking; exits;
density and crush hazard; the time series.

Every outcome comes out of these mechanisms; nothing is drawn as a result. Random numbers
come from named streams (:func:`sim.runs.streams`): everything about the visitors and the
attacker is drawn up front from the ``crowd`` and ``threat`` streams, so every configuration
of one replicate sees the same people and the same attacker (common random numbers).
"""

from __future__ import annotations

import math
import time
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim import columns as C
from sim.agents import INTERCEPT_RANGE, Attacker, StaffMember
from sim.coordination import Message, Network
from sim.crowd import CAN_REACT, Crowd, State
from sim.errors import RunError
from sim.invariants import InvariantChecker
from sim.layout import STAY, layout_for
from sim.motion import Crowd as Lattice
from sim.motion import MotionParams
from sim.runs import RunOutput, RunTask, streams
from sim.schema import (
    DEFAULT_SIDE,
    POWERS,
    Configuration,
    Pbied,
    Scenario,
    detection_probability,
    service_time,
)
from sim.screening import Checkpoint
from sim.sight import coverage_for, shielding_bodies, sight_for
from sim.venue import Geometry

BOTTLENECK_FLOW = 1.6  # persons/(m·s) through a door (Seyfried et al.; V); guided evacuation
TOWARDS_THREAT_M = 200.0  # detour (m) people accept rather than flee past the threat (E)
MOTION_DT = 0.3  # s: the lattice's calibrated step; a model step takes ceil(dt / 0.3) of them
SIGHT_RANGE_M = 30.0  # people who see a stabbing or a vehicle attack flee (E)
BLADE_CHASE_SPEED = 2.0  # m/s (E)
OCCLUSION_DENSITY = 2.0  # persons/m² at which crowd occlusion halves the chance to notice (E)
MAX_VISITOR_REPORTS = 10  # reports per attacker after which more callers add nothing (E)
ADAPTIVE_THRESHOLD = 0.5  # screening catch probability that makes an attacker adapt


def blast_risk(
    blast: np.ndarray, people: np.ndarray, bodies: np.ndarray, pbied: Pbied
) -> tuple[np.ndarray, np.ndarray]:
    """Each person's chance of being killed, and of being hurt, by a person-borne explosive.

    Unshielded, everyone within ``lethal_radius_m`` is killed and the chance of injury falls
    linearly from 1 there to 0 at ``injury_radius_m``. Fragments are absorbed by the bodies
    in the line of fire: behind n of them (:func:`sim.sight.shielding_bodies`) a person keeps
    (1 − ``shielding_per_body``)^n of both chances. People with a wall between them and the
    blast are not passed here.
    """
    people = np.atleast_2d(people)
    d = np.hypot(people[:, 0] - blast[0], people[:, 1] - blast[1])
    span = max(pbied.injury_radius_m - pbied.lethal_radius_m, 1e-9)
    unshielded_kill = (d <= pbied.lethal_radius_m).astype(float)
    unshielded_hurt = 1.0 - np.clip((d - pbied.lethal_radius_m) / span, 0.0, 1.0)
    unshielded_hurt[d > pbied.injury_radius_m] = 0.0
    n = shielding_bodies(blast, people, bodies, pbied.body_radius_m)
    keep = (1.0 - pbied.shielding_per_body) ** n
    return unshielded_kill * keep, unshielded_hurt * keep


def _weighted_choice(weights: dict[Any, float], u: float) -> Any:
    keys = list(weights)
    w = np.array([weights[k] for k in keys], dtype=float)
    cum = np.cumsum(w / w.sum())
    return keys[int(min(np.searchsorted(cum, u, side="right"), len(keys) - 1))]


class SoftTargetModel(mesa.Model):
    """One run of a scenario under one configuration."""

    def __init__(self, scenario: Scenario, configuration: str, seed: int) -> None:
        """Build the venue, draw the visitors and the threat, and post the staff."""
        rngs = streams(seed)
        super().__init__(rng=rngs["mesa"])
        self.rngs = rngs
        self.scenario = scenario
        self.config_name = configuration
        self.config: Configuration = scenario.configurations[configuration]
        self.geo = Geometry.build(scenario.venue)
        self.dt = scenario.run.dt_s
        self.t = 0.0
        self.events: list[tuple[float, str, str, str]] = []
        self.net = Network(rngs["coordination"])
        self.arrival_point = self._arrival_point()
        self._build_crowd()
        self.crushed = np.zeros(self.crowd.n, dtype=bool)
        self._build_screening()
        self._build_motion()
        self._build_staff()
        self._build_cameras()
        self._draw_threat()
        self.peak_density = 0.0
        self.density_exposure = 0.0
        self.max_queue_len = 0
        self.crush_injured = 0
        self.false_alarms = 0
        self.t_police_alerted = math.nan
        self.t_first_detect = math.nan
        self.t_response_ordered = math.nan
        self.response_pending_at = math.inf
        self.t_first_flight = math.nan
        self.t_last_evacuated = math.nan
        self.police_dispatched: set[int] = set()
        self.camera_noticed: set[tuple[str, int]] = set()
        self.room_knows_attack = False
        self._coarse: tuple[float, np.ndarray] | None = None  # (time, grid) cache
        self.datacollector = mesa.DataCollector(
            model_reporters={
                C.T_S: lambda m: m.t,
                C.N_ARRIVING: lambda m: int(m._counts[State.ARRIVING]),
                C.N_QUEUING: lambda m: int(m._counts[State.QUEUING]),
                C.N_INSIDE: lambda m: int(m._counts[State.INSIDE]),
                C.N_FLEEING: lambda m: int(m._counts[State.FLEEING]),
                C.N_SHELTERING: lambda m: int(m._counts[State.SHELTERING]),
                C.N_EVACUATED: lambda m: int(m._counts[State.EVACUATED]),
                C.N_INJURED: lambda m: int(m._counts[State.INJURED]),
                C.N_KILLED: lambda m: int(m._counts[State.KILLED]),
                C.N_LEFT: lambda m: int(m._counts[State.LEFT]),
                C.QUEUE_LEN: lambda m: int(m._counts[State.QUEUING]),
                C.LOCAL_PEAK_DENSITY: lambda m: m.peak_now,
            }
        )
        self._counts = self.crowd.counts()
        self._next_sample = 0.0
        self._sample()

    # ------------------------------------------------------------------------ building ---

    def _arrival_point(self) -> np.ndarray:
        entries = self.geo.of_kind("checkpoint") + self.geo.of_kind("entrance")
        if entries:
            return self.geo.centroids[entries[0]].copy()
        return self.geo.centroids[self.geo.of_kind("exit")[0]].copy()

    def _build_crowd(self) -> None:
        """Draw every visitor of the run up front (common random numbers across configurations).

        Warm start: ``initial_inside`` people at attractors and ``initial_queuing`` in the
        lines; then arrivals at the entries by profile, and train passengers on platforms.
        """
        sc, rng = self.scenario, self.rngs["crowd"]
        cw = sc.crowd
        a = cw.arrivals
        horizon = sc.run.duration_s
        if a.profile == "constant":
            n_arr = rng.poisson(a.rate_per_min / 60.0 * horizon)
            times = np.sort(rng.uniform(0.0, horizon, n_arr))
        elif a.profile == "peak":
            times = np.sort(rng.normal(a.peak_at_s, a.spread_s, a.total))
            times = times[(times >= 0) & (times < horizon)]
        else:
            times = np.zeros(0)
        self.trains: list[tuple[float, int]] = []
        train_times, train_zones = np.zeros(0), np.zeros(0, dtype=np.int64)
        if cw.trains is not None:
            tr = cw.trains
            stops = np.arange(tr.first_s, horizon, max(tr.every_s, 1.0))
            zones = [self.geo.index(p) for p in tr.platforms]
            self.trains = [(float(t), zones[k % len(zones)]) for k, t in enumerate(stops)]
            train_times = np.repeat(stops, tr.passengers)
            train_zones = np.repeat([z for _, z in self.trains], tr.passengers).astype(np.int64)
            train_times = train_times + rng.exponential(tr.alight_s, len(train_times))
            keep = train_times < horizon
            train_times, train_zones = train_times[keep], train_zones[keep]
        n0, nq = cw.initial_inside, cw.initial_queuing
        n_entry = n0 + nq + len(times)
        n = n_entry + len(train_times)
        crowd = Crowd(n)
        crowd.speed = np.asarray(cw.speed.sample(rng, n), dtype=float)
        crowd.flight_speed = np.maximum(
            np.asarray(cw.flight_speed.sample(rng, n), dtype=float), crowd.speed
        )
        crowd.reaction = np.asarray(cw.reaction_delay_s.sample(rng, n), dtype=float)
        attractors = self.geo.of_kind("attractor")
        self.attractor_zones = np.asarray(attractors, dtype=np.int64)
        weights = np.array([sc.venue.zones[self.geo.names[z]].weight for z in attractors])
        total = weights.sum()
        self.attractor_p = weights / total if total > 0 else np.full(len(weights), 1 / len(weights))
        choice = rng.choice(len(attractors), size=n, p=self.attractor_p)
        crowd.attractor = self.attractor_zones[choice]
        u = rng.random((n, 2))
        for k, z in enumerate(attractors):
            sel = choice == k
            crowd.attractor_point[sel] = self.geo.sample(z, u[sel])
        crowd.checkpoint_u = rng.random(n)
        crowd.dwell = np.asarray(cw.dwell_s.sample(rng, n), dtype=float)
        crowd.u_leave = rng.random(n)
        spawn_u = rng.random((n, 2))
        crowd.current_speed = crowd.speed.copy()
        # train passengers appear on their platform and walk out
        crowd.spawn_zone[n_entry:] = train_zones
        for z in np.unique(train_zones):
            sel = np.flatnonzero(crowd.spawn_zone == z)
            crowd.spawn_point[sel] = self.geo.sample(int(z), spawn_u[sel])
        # warm start: people at attractors and in the queues
        crowd.state[:n0] = State.INSIDE
        crowd.xy[:n0] = crowd.attractor_point[:n0]
        crowd.dwell_until[:n0] = crowd.dwell[:n0]  # memoryless: a fresh draw is the residual
        crowd.dwell[:n0] = np.nan
        crowd.warm[: n0 + nq] = True
        crowd.arrive_at[: n0 + nq] = 0.0
        crowd.arrive_at[n0 + nq : n_entry] = times
        crowd.arrive_at[n_entry:] = train_times
        self.platforms = {z for _, z in self.trains}
        self.crowd = crowd
        self._wait_for_train(np.arange(n0))
        later = np.arange(n0, n)
        self._planned = later[np.argsort(crowd.arrive_at[later], kind="stable")]
        self._next_planned = 0
        self._next_train = 0

    def _wait_for_train(self, idx: np.ndarray) -> None:
        """People whose attractor is a served platform wait there for the next train."""
        if self.platforms and len(idx):
            on_platform = np.isin(self.crowd.attractor[idx], list(self.platforms))
            self.crowd.dwell_until[idx[on_platform]] = np.inf

    def _build_screening(self) -> None:
        cfg, geo = self.config, self.geo
        towards = (
            geo.centroids[geo.index(self.scenario.venue.perimeter)]
            if self.scenario.venue.perimeter
            else np.array([self.scenario.venue.width_m / 2, self.scenario.venue.height_m / 2])
        )
        self.checkpoints: list[Checkpoint] = []
        for z in geo.of_kind("checkpoint"):
            name = geo.names[z]
            lanes = cfg.screening.lanes.get(name, self.scenario.venue.zones[name].lanes)
            if lanes > 0:
                area = (self.scenario.venue.width_m, self.scenario.venue.height_m)
                self.checkpoints.append(Checkpoint(z, geo.bounds[z], towards, lanes, area))
        self.entrances = geo.of_kind("entrance")
        self.service = service_time(cfg.screening)
        self.waits: list[float] = []

    def _build_motion(self) -> None:
        """The lattice and floor fields of the venue; the warm-start crowd stands on it."""
        self.layout = layout_for(self.scenario.venue)
        self.placed_now: list[int] = []  # people put on the lattice this step
        self.motion_steps = max(1, math.ceil(self.dt / MOTION_DT - 1e-9))
        self.motion = Lattice(
            self.layout.fields,
            capacity=max(self.crowd.n, 1),
            params=MotionParams(dt=self.dt / self.motion_steps, swaps=True),
        )
        self.stay = self.layout.dest[STAY]
        self.zone_dest = np.array([self.layout.dest.get(n, -1) for n in self.geo.names])
        self.exit_dest = np.asarray(self.layout.exit_dest, dtype=np.int64)
        zones = self.scenario.venue.zones
        self.shelters = self.geo.of_kind("shelter")
        self.locked = False  # lockdown: gates shut, nobody screened
        self.evacuating = False  # the venue ordered an evacuation
        co = self.config.coordination
        guides = sum(g.count for g in self.config.staff.values() if "guide" in POWERS[g.role])
        self.guided = co.guided_evacuation if co.guided_evacuation is not None else guides > 0
        widths = [zones[name].width_m for name in self.layout.exit_names]
        self.exit_capacity = np.asarray(widths) * BOTTLENECK_FLOW  # persons per second
        self.rho = np.zeros(self.crowd.n, dtype=np.float32)  # local density at each person
        self.resting = np.zeros(self.crowd.n, dtype=bool)  # at their spot at an attractor
        self.pressed = np.zeros(self.crowd.n)  # seconds continuously above crush density
        self.peak_now = 0.0
        inside = np.flatnonzero(self.crowd.state == State.INSIDE)
        self._put(inside, self.crowd.attractor_point[inside], self.stay)
        self._head_for(inside, self.crowd.attractor[inside])
        self.resting[inside] = True

    def _put(self, idx: np.ndarray, xy: np.ndarray, dest: np.ndarray | int) -> None:
        """Put people on the lattice near ``xy`` heading for ``dest`` (or standing: stay)."""
        idx = np.atleast_1d(np.asarray(idx, dtype=np.int64))
        if len(idx) == 0:
            return
        xy = np.atleast_2d(xy)
        cw, m = self.crowd, self.motion
        placed = m.place(idx, xy[:, 0], xy[:, 1], dest, cw.current_speed[idx])
        self.placed_now.extend(idx.tolist())
        x, y = m.grid.centre(m.ix[placed], m.iy[placed])
        cw.xy[placed, 0], cw.xy[placed, 1] = x, y
        if len(placed) < len(idx):
            self.log("no_room", "crowd", f"n={len(idx) - len(placed)}")

    def _head_for(self, idx: np.ndarray, zones: np.ndarray) -> None:
        """Send people to attractor (or shelter) ``zones``; each stops at their own spot.

        Their spot is their drawn point in the zone: they walk down the zone's floor field
        until they are as close to its focus as that point, and rest there, so a zone fills
        evenly rather than from the focus out. Walkers squeeze past people at rest, and
        someone pushed back walks back to their own distance.
        """
        cw, m = self.crowd, self.motion
        dest = self.zone_dest[zones]
        m.dest[idx] = dest
        ix, iy = m.grid.cell_of(cw.attractor_point[idx, 0], cw.attractor_point[idx, 1])
        m.stop[idx] = self.layout.fields.fields[dest, iy, ix]
        self.resting[idx] = False

    def _exit_for(self, idx: np.ndarray) -> np.ndarray:
        """The exit each fleeing person heads for.

        The nearest by walking distance or, in a guided evacuation, the one with the shortest
        expected time: walking distance / walking speed + (people already heading there + 1)
        / the door's capacity (width × 1.6 persons/(m·s), the measured bottleneck flow).
        People are assigned one by one in a random order, so loads balance.
        """
        if not (self.guided and self.evacuating) or len(idx) == 0:
            return self._nearest_exit(idx)
        cw, m = self.crowd, self.motion
        ix, iy = m.grid.cell_of(cw.xy[idx, 0], cw.xy[idx, 1])
        walk = self.layout.fields.fields[self.exit_dest[:, None], iy[None, :], ix[None, :]]
        walk_s = (walk + self._away_penalty(idx)) / np.maximum(cw.speed[idx], 0.3)[None, :]
        heading = m.dest[m.active]
        load = np.array([(heading == d).sum() for d in self.exit_dest], dtype=float)
        out = np.empty(len(idx), dtype=np.int64)
        for k in self.rngs["behaviour"].permutation(len(idx)):
            cost = walk_s[:, k] + (load + 1.0) / self.exit_capacity
            best = int(np.argmin(cost))
            load[best] += 1.0
            out[k] = self.exit_dest[best]
        return out

    def _away_penalty(self, idx: np.ndarray) -> np.ndarray:
        """Extra metres for each exit (rows) and person (columns) fleeing from a threat.

        People flee away from what they fled from: an exit whose direction lies within 60° of
        the threat's, with the threat not beyond the exit, costs :data:`TOWARDS_THREAT_M`
        more, so they take it only when every way out passes the threat.
        """
        cw = self.crowd
        src = cw.flee_from[idx]
        known = ~np.isnan(src[:, 0])
        out = np.zeros((len(self.exit_dest), len(idx)))
        if known.any():
            names = self.layout.exit_names
            centres = np.array([self.geo.centroids[self.geo.index(n)] for n in names])
            me = cw.xy[idx[known]]
            to_src = src[known] - me
            to_exit = centres[:, None, :] - me[None, :, :]
            d_src = np.hypot(*to_src.T)
            d_exit = np.hypot(to_exit[..., 0], to_exit[..., 1])
            cos = (to_exit * to_src[None]).sum(-1) / np.maximum(d_exit * d_src[None, :], 1e-9)
            towards = (cos > 0.5) & (d_src[None, :] < d_exit + 5.0)
            out[:, known] = np.where(towards, TOWARDS_THREAT_M, 0.0)
        return out

    def _nearest_exit(self, idx: np.ndarray) -> np.ndarray:
        """Floor-field index of the exit each person reaches by the shortest walk.

        People fleeing a threat steer away from it (:meth:`_away_penalty`).
        """
        ix, iy = self.motion.grid.cell_of(self.crowd.xy[idx, 0], self.crowd.xy[idx, 1])
        dist = self.layout.fields.fields[self.exit_dest[:, None], iy[None, :], ix[None, :]]
        return self.exit_dest[np.argmin(dist + self._away_penalty(idx), axis=0)]

    def _build_staff(self) -> None:
        rng = self.rngs["response"]
        self.staff: list[StaffMember] = []
        for group, spec in self.config.staff.items():
            for _ in range(spec.count):
                on_site = spec.role != "armed_response"
                if spec.post == "control_room" or (spec.post is None and not spec.patrol):
                    pos = self.arrival_point.copy()
                elif spec.patrol:
                    pos = self.patrol_point(spec.patrol[int(rng.integers(len(spec.patrol)))])
                else:
                    pos = self.patrol_point(spec.post)  # type: ignore[arg-type]
                member = StaffMember(self, group, spec, pos, on_site)
                if spec.patrol:
                    member.patrol_index = int(rng.integers(len(spec.patrol)))
                    member.waypoint = self.patrol_point(spec.patrol[member.patrol_index])
                self.staff.append(member)
        self.staff_cost = sum(
            s.count * s.cost_per_hour_eur * self.config.shift_h for s in self.config.staff.values()
        )

    def _build_cameras(self) -> None:
        """Each camera's coverage, its operators' group and the attention it gets from them.

        An operator gives full attention to ``screens_per_operator`` cameras; a group watching
        more cameras than its operators can follow shares its attention among them evenly.
        Cameras nobody watches record only: they detect nothing live.
        """
        self.sight = sight_for(self.scenario.venue)
        operators = [n for n, g in self.config.staff.items() if g.role == "cctv_operator"]
        watched: dict[str, list[str]] = {}
        for name, cam in self.config.cameras.items():
            group = cam.watched_by or (operators[0] if operators else None)
            if group is not None:
                watched.setdefault(group, []).append(name)
        self.cameras: list[tuple[str, np.ndarray, str, float]] = []
        for group, names in watched.items():
            spec = self.config.staff[group]
            attention = min(1.0, spec.count * spec.screens_per_operator / len(names))
            for name in names:
                mask = coverage_for(self.scenario.venue, self.config.cameras[name])
                self.cameras.append((name, mask, group, attention))

    def patrol_point(self, zone_name: str) -> np.ndarray:
        """A random point in the named zone (staff posts and beats)."""
        z = self.geo.index(zone_name)
        return self.geo.sample(z, self.rngs["response"].random((1, 2)))[0]

    def _draw_threat(self) -> None:
        """Draw the attack for this replicate; a fixed number of draws (common random numbers)."""
        th, rng = self.scenario.threat, self.rngs["threat"]
        u = rng.random(8)
        per_attacker = rng.random((max(th.attackers), 6))
        start = float(th.start_s.sample(rng))
        on_site = float(th.on_site_before_s.sample(rng))
        recon_len = float(th.reconnaissance_s.sample(rng))
        self.attack = bool(u[0] < th.probability)
        self.attack_began = False
        self.attackers: list[Attacker] = []
        self.attackers_by_id: dict[int, Attacker] = {}
        self.attack_mode = _weighted_choice(th.mix, u[1]) if self.attack else None
        self.n_attackers = int(_weighted_choice(th.attackers, u[2])) if self.attack else 0
        self.target_choice = _weighted_choice(th.target, u[3]) if self.attack else None
        self.attack_start = start if self.attack else math.nan  # as drawn
        self.t_attack_began = self.attack_start  # earlier when a challenged bomber detonates
        self.recon = bool(self.attack and u[4] < th.reconnaissance_probability)
        self.adapts = bool(u[5] < th.adaptive_probability)
        self.target_u = u[6:8]
        # a vehicle drives up shortly before striking; people on foot spend a while on site
        on_site = 10.0 if self.attack_mode == "vehicle" else on_site
        self.arrive_at = max(0.0, start - on_site)
        self.recon_window = (
            (max(0.0, self.arrive_at - recon_len - 600.0 * u[7]), 0.0) if self.recon else None
        )
        if self.recon_window is not None:
            r0 = self.recon_window[0]
            self.recon_window = (r0, min(r0 + recon_len, self.arrive_at))
        for i in range(self.n_attackers):
            a = Attacker(self, i, self.attack_mode, start)
            a.screen_u = per_attacker[i, 0]
            a.deter_u = per_attacker[i, 3]
            a.detonate_u = per_attacker[i, 4]
            a.offset = (per_attacker[i, 1:3] - 0.5) * 6.0  # cell members stand within a few m
            a.rounds_left = th.firearm.magazine * th.firearm.magazines
            self.attackers.append(a)
            self.attackers_by_id[i] = a
        if self.attack:
            self.log(
                "attack_planned",
                "threat",
                f"{self.attack_mode} x{self.n_attackers} "
                f"target={self.target_choice} start={start:.0f}s",
            )

    # ---------------------------------------------------------------------- utilities ---

    def log(self, kind: str, actor: str, detail: str = "") -> None:
        """Record an event at the current time."""
        self.events.append((self.t, kind, actor, detail))

    def density_grid(self) -> np.ndarray:
        """People per m² on the coarse 4 m grid (attackers' targeting, occlusion).

        Computed when asked, at most once per step.
        """
        if self._coarse is None or self._coarse[0] != self.t:
            xy = self.crowd.xy[self._standing_idx()]
            self._coarse = (self.t, self.geo.density(xy))
        return self._coarse[1]

    def _standing_idx(self) -> np.ndarray:
        return np.flatnonzero(self.crowd.standing())

    def _target_point(self, attacker: Attacker) -> tuple[np.ndarray, bool]:
        """Where the attacker heads, and whether that is inside the perimeter."""
        geo, choice = self.geo, self.target_choice
        if choice == "queue" and self.checkpoints:
            cp = max(self.checkpoints, key=lambda c: c.queue_len())
            lane = max(cp.lanes, key=lambda ln: len(ln.queue))
            point = lane.head + lane.back * (0.6 * max(1, len(lane.queue)) / 2)
        elif choice == "densest":
            grid = self.density_grid().ravel()
            centres = np.array([geo.cell_centre(i) for i in np.argsort(grid)[::-1][:50]])
            inside = geo.inside_perimeter(centres)
            pick = int(np.argmax(inside)) if (inside.any() and geo.perimeter is not None) else 0
            point = centres[pick]
        elif choice == "random" or choice == "queue":
            attractors = geo.of_kind("attractor")
            z = attractors[int(self.target_u[0] * len(attractors)) % len(attractors)]
            point = geo.sample(z, self.target_u[None, :])[0]
        else:
            point = geo.sample(geo.index(choice), self.target_u[None, :])[0]
        moved = geo.clamp((point + attacker.offset)[None, :])[0]
        if choice == "queue" and self.checkpoints and geo.inside_perimeter(moved[None, :])[0]:
            moved = geo.clamp((point + lane.back * 2.0)[None, :])[0]  # stay in the line
        return moved, bool(geo.inside_perimeter(moved[None, :])[0])

    # ------------------------------------------------------------------------- stepping ---

    def step(self) -> None:
        """Advance the run by ``dt`` seconds."""
        self.t = round(self.t + self.dt, 9)
        self.placed_now = []
        self._arrivals_and_screening()
        self._board_trains()
        self._deliver_messages()
        self._attackers()
        self._detection()
        self._false_alarms()
        self._deliver_messages()  # what is sent with no delay arrives at once
        self._response_order()
        for member in self.staff:
            member.step()
        self._engagement()
        self._crowd_motion()
        self._density()
        self._counts = self.crowd.counts()
        self.max_queue_len = max(self.max_queue_len, int(self._counts[State.QUEUING]))
        if self.t + 1e-9 >= self._next_sample:
            self._sample()

    def _sample(self) -> None:
        self.datacollector.collect(self)
        self._next_sample += self.scenario.run.sample_every_s

    def _arrivals_and_screening(self) -> None:
        cw, t = self.crowd, self.t
        # planned visitors whose time has come
        start = self._next_planned
        while self._next_planned < len(self._planned) and (
            cw.arrive_at[self._planned[self._next_planned]] <= t
        ):
            self._next_planned += 1
        new = self._planned[start : self._next_planned]
        spawned = new[cw.spawn_zone[new] >= 0]
        if len(spawned):  # train passengers step onto their platform and head out
            cw.state[spawned] = State.INSIDE
            self._put(spawned, cw.spawn_point[spawned], self.stay)
            self._leave(spawned)
        new = new[cw.spawn_zone[new] < 0]
        if len(new):
            if self.checkpoints:
                weights = np.array([len(c.lanes) for c in self.checkpoints], dtype=float)
                cum = np.cumsum(weights / weights.sum())
                which = np.minimum(
                    np.searchsorted(cum, cw.checkpoint_u[new], side="right"), len(cum) - 1
                )
                for person, k in zip(new, which, strict=True):
                    cp = self.checkpoints[int(k)]
                    lane = cp.shortest()
                    if cw.warm[person]:
                        cp.join(int(person), 0.0)
                        cw.state[person] = State.QUEUING
                    else:  # appear 10 m behind the back of the line and walk to the gate
                        cw.state[person] = State.ARRIVING
                        back_of_line = lane.place(np.array([len(lane.queue) + 1]))[0]
                        start_xy = self.geo.clamp((back_of_line + lane.back * 10.0)[None, :])
                        cw.exit[person] = int(k)  # checkpoint index while arriving
                        self._put(np.array([person]), start_xy, self.zone_dest[cp.zone])
                arriving = new[cw.state[new] == State.ARRIVING]
                self._join_lines(arriving[self.motion.ix[arriving] < 0])  # no room: join now
            else:  # open venue: straight in, by one of the entrances
                cw.state[new] = State.INSIDE
                if self.entrances:
                    k = (cw.checkpoint_u[new] * len(self.entrances)).astype(np.int64)
                    where = self.geo.centroids[np.asarray(self.entrances)[k]]
                else:
                    where = np.repeat(self.arrival_point[None, :], len(new), axis=0)
                self._put(new, where, self.stay)
                self._head_for(new, cw.attractor[new])
        # screening
        rng = self.rngs["screening"]
        for cp in [] if self.locked else self.checkpoints:
            served: list[tuple[int, float]] = []
            cp.advance(t, self.service, rng, served)
            for person, _end in served:
                if cw.state[person] != State.QUEUING:
                    continue
                if not cw.warm[person]:
                    self.waits.append(cp.started[person] - cp.joined[person])
                cw.state[person] = State.INSIDE
                through = cw.xy[person] - cp.lanes[0].back * 1.6  # past the lane, inside
                self._put(np.array([person]), through[None, :], self.stay)
                self._head_for(np.array([person]), cw.attractor[person : person + 1])
            cp.positions(cw.xy)

    # ------------------------------------------------------------------- threat phases ---

    def _attackers(self) -> None:
        t = self.t
        for a in self.attackers:
            if a.phase == "waiting":
                if self.recon_window and self.recon_window[0] <= t < self.recon_window[1]:
                    a.phase = "reconnaissance"
                    a.pos = self.arrival_point.copy()
                    a.goal, _ = self._target_point(a)
                    self.log("reconnaissance_start", f"attacker:{a.ident}")
                elif t >= self.arrive_at:
                    self._arrive(a)
            elif a.phase == "reconnaissance":
                a.pos = self._walk_point(a.pos, a.goal, 1.2)
                # the visit ends at its planned end, or for the whole cell when one of them
                # was questioned and not put off
                if self.recon_window is None or t >= self.recon_window[1]:
                    a.phase = "waiting"
                    self.log("reconnaissance_end", f"attacker:{a.ident}")
            elif a.phase == "approach":
                speed = 1.2 if a.mode != "vehicle" else 0.0
                a.pos = self._walk_point(a.pos, a.goal, speed)
                if t >= a.start:
                    self._start_attack(a)
            elif a.phase == "attack":
                {
                    "firearm": self._shoot,
                    "blade": self._stab,
                    "vehicle": self._drive,
                    "pbied": lambda _a: None,
                }[a.mode](a)

    def _walk_point(self, pos: np.ndarray, goal: np.ndarray, speed: float) -> np.ndarray:
        d = goal - pos
        dist = float(np.hypot(*d))
        return goal.copy() if dist <= speed * self.dt else pos + d * speed * self.dt / dist

    def _arrive(self, a: Attacker) -> None:
        mode = a.mode
        if mode == "vehicle":
            va = self.geo.of_kind("vehicle_approach")[0]
            a.pos = self.geo.centroids[va].copy()
            a.goal, _ = self._target_point(a)
            a.phase = "approach"
            self.log("attacker_arrived", f"attacker:{a.ident}", "vehicle approach")
            return
        goal, inside = self._target_point(a)
        p_catch = detection_probability(self.config.screening, mode) if self.checkpoints else 0.0
        if inside and self.checkpoints and p_catch >= ADAPTIVE_THRESHOLD and self.adapts:
            self.target_choice = "queue"
            goal, inside = self._target_point(a)
            self.log("attacker_adapted", f"attacker:{a.ident}", "strikes the queue outside")
        a.pos = self.arrival_point.copy()
        a.goal = goal
        a.phase = "approach"
        self.log(
            "attacker_arrived",
            f"attacker:{a.ident}",
            "target inside" if inside else "target outside",
        )
        if inside and self.checkpoints:
            if a.screen_u < p_catch:
                self._detected(a, "screening")
                self._send("police_to_police", kind="suspect", to="police", about=a.ident,
                           sender="screening")  # fmt: skip
                self._challenged(a, end="caught")  # at the lanes: the arrival point
            else:
                self.log("screening_passed", f"attacker:{a.ident}", mode)

    def _challenged(self, a: Attacker, end: str = "stopped") -> None:
        """An attacker stopped before the attack: a bomber may detonate where they stand."""
        if a.mode == "pbied" and a.detonate_u < self.scenario.threat.pbied.detonate_if_challenged:
            self.log("bomber_challenged", f"attacker:{a.ident}", "detonates")
            self._start_attack(a)
            return
        a.finish(end)

    def _start_attack(self, a: Attacker) -> None:
        self.attack_began = True
        self.t_attack_began = min(self.t_attack_began, self.t)
        a.phase = "attack"
        inside = bool(self.geo.inside_perimeter(a.pos[None, :])[0])
        where = "inside" if inside else "outside"
        self.log(
            "attack_start",
            f"attacker:{a.ident}",
            f"{a.mode} at ({a.pos[0]:.1f}, {a.pos[1]:.1f}) {where} the perimeter",
        )
        fa = self.scenario.threat.firearm
        a.next_shot = self.t
        if a.mode == "pbied":
            self._detonate(a)
        elif a.mode == "vehicle" and self.config.vehicle_barriers:
            a.finish("barrier")
        elif a.mode == "firearm":
            a.rounds_left = fa.magazine * fa.magazines

    def _alive_near(self, point: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        idx = self._standing_idx()
        d = np.hypot(self.crowd.xy[idx, 0] - point[0], self.crowd.xy[idx, 1] - point[1])
        sel = d <= radius
        return idx[sel], d[sel]

    def _harm(self, people: np.ndarray, killed: np.ndarray, cause: str, a: Attacker) -> None:
        cw = self.crowd
        if len(people) == 0:
            return
        outside = ~self.geo.inside_perimeter(cw.xy[people])
        for p in people:
            if cw.state[p] == State.QUEUING:
                for cp in self.checkpoints:
                    cp.leave(int(p))
        self.motion.remove(people)
        cw.outside_at_harm[people] = outside
        cw.state[people] = np.where(killed, State.KILLED, State.INJURED)
        self.log(
            cause,
            f"attacker:{a.ident}",
            f"killed={int(killed.sum())} injured={int((~killed).sum())}",
        )

    def _alarm(self, a: Attacker, radius: float) -> None:
        """Everyone within ``radius`` of the attack perceives it (gunfire, a blast, a stabbing).

        Visitors flee after their reaction delay. Staff on site perceive it too: they report
        the attack, and those who may stop an attacker (armed to neutralise, or with powers to
        detain facing a blade) go for them; the others stay at a distance.
        """
        for s in self.staff:
            if not s.observes or a.ident in s.noticed or not a.active:
                continue
            if np.hypot(*(s.pos - a.pos)) > radius:
                continue
            s.noticed.add(a.ident)
            self._detected(a, f"staff:{s.unique_id}:{s.role}")
            self._staff_report(s, a.ident, "attack")
            engages = "neutralise" in s.powers or (a.mode == "blade" and "detain" in s.powers)
            if engages and s.target is None:
                s.target = a.ident
        self._flee_from(a.pos, radius)

    def _flee_from(self, point: np.ndarray, radius: float) -> None:
        """People within ``radius`` of ``point`` flee after their reaction delay."""
        cw = self.crowd
        idx, _ = self._alive_near(point, radius)
        idx = idx[CAN_REACT[cw.state[idx]]]
        pending = np.isinf(cw.flee_at[idx])
        idx = idx[pending]
        cw.flee_at[idx] = self.t + cw.reaction[idx]
        cw.flee_fast[idx] = True
        cw.flee_from[idx] = point

    def _in_view(self, a: Attacker, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """People within ``radius`` of the attacker with no wall between: (indices, metres)."""
        idx, d = self._alive_near(a.pos, radius)
        if len(idx):
            seen = self.sight.clear(self.crowd.xy[idx], a.pos)
            idx, d = idx[seen], d[seen]
        return idx, d

    def _shoot(self, a: Attacker) -> None:
        """Fire at the rate of fire, reloading each magazine, at people in view.

        Each round goes at one person in view within range, the nearer more likely (weight
        1 / (1 + d)), and hits with accuracy × (1 − falloff × d / range); a hit kills with
        ``p_death_given_hit``. Every round is an event, with whether anyone was in view.
        """
        fa, rng = self.scenario.threat.firearm, self.rngs["harm"]
        while a.rounds_left > 0 and a.next_shot <= self.t:
            idx, d = self._in_view(a, fa.range_m)
            a.rounds_left -= 1
            self.log("shot", f"attacker:{a.ident}", "aimed" if len(idx) else "nobody in view")
            self._alarm(a, self.scenario.crowd.hearing_range_m)
            if len(idx):
                w = 1.0 / (1.0 + d)
                k = int(np.searchsorted(np.cumsum(w / w.sum()), rng.random(), side="right"))
                k = min(k, len(idx) - 1)
                p_hit = fa.accuracy * (1.0 - fa.falloff * d[k] / fa.range_m)
                if rng.random() < p_hit:
                    killed = np.array([rng.random() < fa.p_death_given_hit])
                    self._harm(idx[k : k + 1], killed, "hit", a)
            a.next_shot += 1.0 / fa.rate_of_fire_per_s
            used = fa.magazine * fa.magazines - a.rounds_left
            if a.rounds_left and used % fa.magazine == 0:
                a.next_shot += fa.reload_s
        if a.rounds_left <= 0:
            a.finish("spent")

    def _stab(self, a: Attacker) -> None:
        bl, rng, cw = self.scenario.threat.blade, self.rngs["harm"], self.crowd
        idx, d = self._alive_near(a.pos, 30.0)
        if len(idx) == 0:
            return
        self._alarm(a, SIGHT_RANGE_M)
        near = int(np.argmin(d))
        if d[near] > bl.reach_m:
            a.pos = self._walk_point(a.pos, cw.xy[idx[near]], BLADE_CHASE_SPEED)
            return
        if rng.random() < bl.strikes_per_min / 60.0 * self.dt:
            killed = np.array([rng.random() < bl.p_death_given_strike])
            self._harm(idx[near : near + 1], killed, "strike", a)
        bystanders = int((d <= bl.reach_m).sum())
        staff_close = sum(
            1 for s in self.staff if s.on_site and np.hypot(*(s.pos - a.pos)) <= bl.reach_m
        )
        p = 1.0 - (1.0 - bl.subdue_per_s) ** (bystanders * self.dt) * (
            1.0 - bl.staff_subdue_per_s
        ) ** (staff_close * self.dt)
        if rng.random() < p:
            a.finish("subdued")

    def _detonate(self, a: Attacker) -> None:
        """Blast and fragments: harm by distance, lowered by the bodies in the line of fire."""
        pb, rng = self.scenario.threat.pbied, self.rngs["harm"]
        idx, _ = self._in_view(a, pb.injury_radius_m)
        bodies = self.crowd.xy[self._standing_idx()]
        p_kill, p_hurt = blast_risk(a.pos, self.crowd.xy[idx], bodies, pb)
        u = rng.random((2, len(idx)))
        killed = u[0] < p_kill
        hurt = killed | (u[1] < p_hurt)
        self._harm(idx[hurt], killed[hurt], "detonation", a)
        self._alarm(a, self.scenario.crowd.hearing_range_m)
        a.finish("detonated")

    def _drive(self, a: Attacker) -> None:
        ve, rng, cw = self.scenario.threat.vehicle, self.rngs["harm"], self.crowd
        start = a.pos.copy()
        a.pos = self._walk_point(a.pos, a.goal, ve.speed_mps)
        a.travelled += float(np.hypot(*(a.pos - start)))
        seg = a.pos - start
        length2 = float(seg @ seg)
        idx = self._standing_idx()
        rel = cw.xy[idx] - start
        s = np.clip(rel @ seg / length2, 0.0, 1.0) if length2 > 0 else np.zeros(len(idx))
        closest = start + s[:, None] * seg
        dist = np.hypot(*(cw.xy[idx] - closest).T)
        hit = idx[dist <= ve.half_width_m]
        if len(hit):
            killed = rng.random(len(hit)) < ve.p_death_given_struck
            self._harm(hit, killed, "struck", a)
        self._alarm(a, SIGHT_RANGE_M)
        if a.travelled >= ve.path_m or np.allclose(a.pos, a.goal):
            if a.travelled < ve.path_m:  # drive on in the same direction
                direction = seg / max(math.sqrt(length2), 1e-9)
                a.goal = self.geo.clamp((a.pos + direction * (ve.path_m - a.travelled))[None])[0]
                if np.allclose(a.goal, a.pos):
                    a.finish("spent")
            else:
                a.finish("spent")

    # ----------------------------------------------------------------- detection, chain ---

    def _detected(self, a: Attacker, by: str) -> None:
        if math.isnan(self.t_first_detect):
            self.t_first_detect = self.t
        self.log("detection", by, f"attacker:{a.ident} phase={a.phase}")

    def _occlusion(self, point: np.ndarray) -> float:
        rho = float(self.density_grid().ravel()[self.geo.cell_of(point[None, :])[0]])
        return 1.0 / (1.0 + rho / OCCLUSION_DENSITY)

    def _detection(self) -> None:
        """Observers with the attacker in range and sight may notice indicators.

        Each observer has a per-second chance skill × conspicuousness of the attacker's phase ×
        crowd occlusion at the attacker; staff and visitors need a clear line of sight within
        their view range, a camera needs the attacker in its coverage (not its blind spot) and
        is as good as its operators' skill and share of attention.
        """
        th, rng = self.scenario.threat, self.rngs["detection"]
        for a in self.attackers:
            if not a.active or (a.mode == "vehicle" and a.phase == "attack"):
                continue
            c = th.conspicuousness.get(a.phase, 0.0)
            if c <= 0:
                continue
            occ = self._occlusion(a.pos)
            kind = "attack" if a.phase == "attack" else "suspect"
            watching = [
                s
                for s in self.staff
                if s.observes
                and a.ident not in s.noticed
                and np.hypot(*(s.pos - a.pos)) <= s.spec.view_range_m
            ]
            if watching:
                seen = self.sight.clear(np.array([s.pos for s in watching]), a.pos)
                for s, sees in zip(watching, seen, strict=True):
                    p = 1.0 - (1.0 - s.spec.skill * c * occ) ** self.dt
                    if sees and rng.random() < p:
                        s.noticed.add(a.ident)
                        self._detected(a, f"staff:{s.unique_id}:{s.role}")
                        self._staff_report(s, a.ident, kind)
                        if kind == "suspect" and "detain" in s.powers and s.target is None:
                            s.target = a.ident  # go and challenge them
            for name, mask, group, attention in self.cameras:
                if (name, a.ident) in self.camera_noticed:
                    continue
                if not self.sight.covered(mask, a.pos)[0]:
                    continue
                spec = self.config.staff[group]
                p = 1.0 - (1.0 - spec.skill * c * occ * attention) ** self.dt
                if rng.random() < p:
                    self.camera_noticed.add((name, a.ident))
                    self._detected(a, f"camera:{name}")
                    self._operator_report(group, name, a.ident, kind)
            if a.visitor_reports < MAX_VISITOR_REPORTS:
                idx, _ = self._alive_near(a.pos, self.scenario.crowd.view_range_m)
                if len(idx):
                    idx = idx[self.sight.clear(self.crowd.xy[idx], a.pos)]
                k = len(idx)
                p_one = self.scenario.crowd.notice_skill * c * occ
                p_any = 1.0 - (1.0 - p_one) ** (k * self.dt)
                # a visitor's notice counts as a detection when they report it
                noticed = bool(k) and rng.random() < p_any
                if noticed and rng.random() < self.scenario.crowd.report_probability:
                    self._detected(a, "visitor")
                    a.visitor_reports += 1
                    self._visitor_report(a, kind)

    def _send(self, hop: str, *, kind: str, to: str, about: int, sender: str) -> None:
        """Send a message over the configuration's hop named ``hop``."""
        link = getattr(self.config.coordination, hop)
        self.net.send(self.t, hop, link, kind=kind, to=to, about=about, sender=sender)

    def _visitor_report(self, a: Attacker, kind: str) -> None:
        staff_here = [s for s in self.staff if s.observes]
        if kind == "attack" or not staff_here:
            self._send("visitor_to_police", kind=kind, to="police", about=a.ident,
                       sender="visitor")  # fmt: skip
            return
        nearest = min(staff_here, key=lambda s: float(np.hypot(*(s.pos - a.pos))))
        self._send("visitor_to_staff", kind=kind, to=f"staff:{nearest.unique_id}",
                   about=a.ident, sender="visitor")  # fmt: skip

    def _staff_report(self, s: StaffMember, about: int, kind: str) -> None:
        sender = f"staff:{s.unique_id}"
        if s.police:
            self._send("police_to_police", kind=kind, to="police", about=about, sender=sender)
            return
        hop = "staff_radio_to_control" if s.spec.radio else "staff_to_control"
        self._send(hop, kind=kind, to="private_room", about=about, sender=sender)

    def _operator_report(self, group: str, camera: str, about: int, kind: str) -> None:
        """A CCTV operator who saw something on ``camera`` tells the room they sit in."""
        spec = self.config.staff[group]
        sender = f"camera:{camera}"
        if (spec.side or DEFAULT_SIDE[spec.role]) == "public":  # a police CCTV room
            self._send("police_to_police", kind=kind, to="police", about=about, sender=sender)
        else:
            self._private_room(Message(self.t, -1, kind, "private_room", about, "in_room", sender))

    def _private_room(self, msg: Message) -> None:
        """The private control room relays what it learns to the police and may act on it."""
        joint = self.config.coordination.joint_control_room
        hop = "joint_to_police" if joint else "private_to_police"
        self._send(hop, kind=msg.kind, to="police", about=msg.about, sender="private_room")
        self._room_learns(msg)

    def _deliver_messages(self) -> None:
        """Deliver every message due by now, including those that arrive with no delay."""
        due = self.net.due(self.t)
        while due:
            for msg in due:
                self.log("message", msg.sender, f"{msg.hop} -> {msg.to} ({msg.kind})")
                if msg.to.startswith("staff:"):
                    member = next(s for s in self.staff if f"staff:{s.unique_id}" == msg.to)
                    self._staff_report(member, msg.about, msg.kind)
                elif msg.to == "private_room":
                    self._private_room(msg)
                elif msg.to == "police":
                    self._police_receive(msg)
                    self._room_learns(msg)
            due = self.net.due(self.t)

    def _room_learns(self, msg: Message) -> None:
        attack_on = msg.kind == "attack" or any(a.phase == "attack" for a in self.attackers)
        if attack_on and msg.kind != "false_alarm" and not self.room_knows_attack:
            self.room_knows_attack = True
            delay = float(self.config.coordination.decision_delay_s.sample(self.rngs["response"]))
            self.response_pending_at = self.t + delay

    def _police_receive(self, msg: Message) -> None:
        if msg.kind == "false_alarm":
            free = [
                s
                for s in self.staff
                if s.police and s.on_site and s.target is None and self.t >= s.busy_until
            ]
            if free:
                free[0].busy_until = self.t + self.config.coordination.false_alarm_busy_s
                self.log("false_alarm_checked", f"staff:{free[0].unique_id}")
            return
        if math.isnan(self.t_police_alerted):
            self.t_police_alerted = self.t
            self.log("police_alerted", "police", msg.kind)
        a = self.attackers_by_id.get(msg.about)
        if a is None or not a.active or msg.about in self.police_dispatched:
            return
        self.police_dispatched.add(msg.about)
        rng = self.rngs["response"]
        # the nearest capable units on site: armed first against a gun or a vehicle
        armed_first = a.mode in ("firearm", "vehicle") and a.phase == "attack"
        free = [s for s in self.staff if s.police and s.on_site and s.target is None]
        free.sort(key=lambda s: (armed_first and not s.spec.armed, np.hypot(*(s.pos - a.pos))))
        sent = free[: self.config.coordination.units_per_incident]
        for s in sent:
            s.target = a.ident
        for s in self.staff:  # units off site set out; they arrive after their response time
            if s.police and not s.on_site and math.isinf(s.arrives_at) and s.spec.response_time_s:
                s.arrives_at = self.t + float(s.spec.response_time_s.sample(rng))
                s.target = a.ident
        units = ",".join(str(s.unique_id) for s in sent)
        self.log("dispatch", "police", f"attacker:{a.ident} units={units or 'none on site'}")

    def _false_alarms(self) -> None:
        rng = self.rngs["detection"]
        watchers = [s for s in self.staff if s.observes and s.spec.false_alarms_per_h > 0]
        if not watchers:
            return
        rates = np.array([s.spec.false_alarms_per_h for s in watchers]) / 3600.0 * self.dt
        for i in np.flatnonzero(rng.random(len(watchers)) < rates):
            s = watchers[int(i)]
            self.false_alarms += 1
            self.log("false_alarm", f"staff:{s.unique_id}")
            self._staff_report(s, -1, "false_alarm")

    def _response_order(self) -> None:
        if self.t < self.response_pending_at or not math.isnan(self.t_response_ordered):
            return
        self.t_response_ordered = self.t
        order = self.config.coordination.response
        if order == "invacuate" and not self.shelters:
            order = "evacuate"
        self.log("venue_response", "control_room", order)
        if order == "none":
            return
        guides = "stewards guide" if self.guided else "no guidance"
        self.log("public_address", "control_room", f"{order}; {guides}")
        cw = self.crowd
        if order == "lockdown":  # gates shut; everyone inside stops where they are
            self.locked = True
            inside = np.flatnonzero(cw.state == State.INSIDE)
            cw.state[inside] = State.SHELTERING
            cw.leaving[inside] = False
            cw.dwell_until[inside] = np.inf
            self.motion.stop[inside] = np.inf
            self.resting[inside] = True
            return
        idx = np.flatnonzero(CAN_REACT[cw.state] & (cw.state != State.SHELTERING))
        idx = idx[np.isinf(cw.flee_at[idx])]
        cw.flee_at[idx] = self.t + cw.reaction[idx]
        self.evacuating = order == "evacuate"
        if order == "invacuate":
            inside = idx[cw.state[idx] == State.INSIDE]
            cw.flee_at[inside] = np.inf
            z = np.asarray(self.shelters)
            ix, iy = self.motion.grid.cell_of(cw.xy[inside, 0], cw.xy[inside, 1])
            walk = self.layout.fields.fields[self.zone_dest[z][:, None], iy[None, :], ix[None, :]]
            cw.state[inside] = State.SHELTERING
            cw.leaving[inside] = False
            cw.dwell_until[inside] = np.inf
            cw.attractor[inside] = z[np.argmin(walk, axis=0)]
            for k in np.unique(cw.attractor[inside]):  # each to a spot in their shelter
                sel = inside[cw.attractor[inside] == k]
                u = self.rngs["behaviour"].random((len(sel), 2))
                cw.attractor_point[sel] = self.geo.sample(int(k), u)
            self._head_for(inside, cw.attractor[inside])

    def _engagement(self) -> None:
        rng = self.rngs["response"]
        for a in self.attackers:
            if not a.active:
                continue
            for s in self.staff:
                if s.target != a.ident or not s.on_site:
                    continue
                d = float(np.hypot(*(s.pos - a.pos)))
                if a.phase == "reconnaissance":
                    if d <= INTERCEPT_RANGE:
                        self._detected(a, f"staff:{s.unique_id}:{s.role}")
                        self.log("questioned", f"staff:{s.unique_id}", f"attacker:{a.ident}")
                        s.target = None
                        if a.deter_u < self.scenario.threat.deterred_if_questioned:
                            a.finish("deterred")
                        else:  # the visit ends; the plan goes on
                            a.phase = "waiting"
                            self.recon_window = None
                        break
                elif a.phase != "attack":
                    if d <= INTERCEPT_RANGE:
                        self._detected(a, f"staff:{s.unique_id}:{s.role}")
                        self.log("challenged", f"staff:{s.unique_id}", f"attacker:{a.ident}")
                        self._challenged(a)
                        break
                elif s.spec.armed and d <= s.spec.engage_range_m:
                    if rng.random() < 1.0 - (1.0 - s.spec.hit_probability) ** self.dt:
                        a.finish("neutralised")
                        break
                elif (
                    a.mode == "blade"
                    and d <= self.scenario.threat.blade.reach_m
                    and rng.random()
                    < 1.0 - (1.0 - self.scenario.threat.blade.staff_subdue_per_s) ** self.dt
                ):
                    a.finish("subdued")
                    break

    # -------------------------------------------------------------------- crowd motion ---

    def _crowd_motion(self) -> None:
        """Reactions, one move of the lattice, and what follows from where people got to."""
        cw, t, m = self.crowd, self.t, self.motion
        start = np.flatnonzero(cw.flee_at <= t)
        if len(start):
            cw.flee_at[start] = np.inf
            start = start[CAN_REACT[cw.state[start]]]
            in_line = start[cw.state[start] == State.QUEUING]
            for p in in_line:
                for cp in self.checkpoints:
                    cp.leave(int(p))
            if len(start):
                if math.isnan(self.t_first_flight):
                    self.t_first_flight = t
                cw.state[start] = State.FLEEING
                cw.leaving[start] = False
                cw.dwell_until[start] = np.inf
                cw.current_speed[start] = np.where(
                    cw.flee_fast[start], cw.flight_speed[start], cw.speed[start]
                )
                self._put(in_line, cw.xy[in_line], self.stay)  # step out of the line
                m.dest[start] = self._exit_for(start)
                m.stop[start] = 0.0
                self.resting[start] = False
                m.speed[start] = cw.current_speed[start]
        gone = self._move_crowd()
        if len(gone):
            left = cw.leaving[gone] | (cw.state[gone] != State.FLEEING)
            cw.state[gone] = np.where(left, State.LEFT, State.EVACUATED)
            cw.leaving[gone] = False
            if not left.all():
                self.t_last_evacuated = t
        self._reach_lines()
        self._settle()
        self._move_on()

    def _move_crowd(self) -> np.ndarray:
        """Step the lattice; return who left through an exit; update positions and density."""
        cw, m = self.crowd, self.motion
        before = m.active.copy()
        for _ in range(self.motion_steps):
            m.step(self.rngs["motion"])
        on = np.flatnonzero(m.active)
        x, y = m.grid.centre(m.ix[on], m.iy[on])
        cw.xy[on, 0], cw.xy[on, 1] = x, y
        self.rho[:] = 0.0
        self.rho[on] = m.density_of(on, half=1)  # persons/m² over 1.2 m x 1.2 m around each
        self.peak_now = float(self.rho[on].max()) if len(on) else 0.0
        return np.flatnonzero(before & ~m.active)

    def _reach_lines(self) -> None:
        """Arriving people who reached their checkpoint's zone join its shortest line."""
        cw, m = self.crowd, self.motion
        arriving = np.flatnonzero((cw.state == State.ARRIVING) & m.active)
        for k, cp in enumerate(self.checkpoints):
            mine = arriving[cw.exit[arriving] == k]
            mask = self.layout.zone_masks[self.geo.names[cp.zone]]
            self._join_lines(mine[mask[m.iy[mine], m.ix[mine]]])

    def _join_lines(self, reached: np.ndarray) -> None:
        """Arriving people join the shortest line of their checkpoint (and leave the lattice)."""
        cw = self.crowd
        self.motion.remove(reached)
        for person in reached:
            cp = self.checkpoints[int(cw.exit[person])]
            cp.join(int(person), self.t)
            cw.state[person] = State.QUEUING
            cw.exit[person] = -1
        if len(reached):
            for cp in self.checkpoints:
                cp.positions(cw.xy)

    def _leave(self, idx: np.ndarray) -> None:
        """Send the people ``idx`` out of the venue by their nearest exit (normal departure)."""
        cw = self.crowd
        self.resting[idx] = False
        self.motion.stop[idx] = 0.0
        cw.leaving[idx] = True
        cw.dwell_until[idx] = np.inf
        self.motion.dest[idx] = self._nearest_exit(idx)

    def _settle(self) -> None:
        """People reaching their spot at an attractor or shelter start their stay there."""
        cw, m = self.crowd, self.motion
        going = np.flatnonzero(
            ((cw.state == State.INSIDE) | (cw.state == State.SHELTERING))
            & ~cw.leaving
            & m.active
            & ~self.resting
        )
        if len(going) == 0:
            return
        here = self.layout.fields.fields[m.dest[going], m.iy[going], m.ix[going]]
        arrived = going[here <= m.stop[going] + 1e-3]
        self.resting[arrived] = True
        self._arrived_at_attractor(arrived)

    def _arrived_at_attractor(self, arrived: np.ndarray) -> None:
        """People reaching their attractor start their dwell (or wait for their train)."""
        cw = self.crowd
        idx = arrived[(cw.state[arrived] == State.INSIDE) & ~cw.leaving[arrived]]
        if len(idx) == 0:
            return
        first = ~np.isnan(cw.dwell[idx])
        dwell = np.where(first, cw.dwell[idx], 0.0)
        later = idx[~first]
        if len(later):
            dwell[~first] = self.scenario.crowd.dwell_s.sample(self.rngs["behaviour"], len(later))
        cw.dwell_until[idx] = self.t + dwell
        cw.dwell[idx] = np.nan
        self._wait_for_train(idx)

    def _move_on(self) -> None:
        """People whose dwell is over leave, or go to another attractor (weighted choice)."""
        cw, t = self.crowd, self.t
        due = np.flatnonzero((cw.dwell_until <= t) & (cw.state == State.INSIDE))
        if len(due) == 0:
            return
        cw.dwell_until[due] = np.inf
        rng = self.rngs["behaviour"]
        first = ~np.isnan(cw.u_leave[due])
        u = np.where(first, cw.u_leave[due], rng.random(len(due)))
        cw.u_leave[due] = np.nan
        leave = u < self.scenario.crowd.leave_probability
        self._leave(due[leave])
        stay = due[~leave]
        if len(stay):
            choice = rng.choice(len(self.attractor_zones), size=len(stay), p=self.attractor_p)
            points = rng.random((len(stay), 2))
            for k, z in enumerate(self.attractor_zones):
                sel = choice == k
                cw.attractor[stay[sel]] = z
                cw.attractor_point[stay[sel]] = self.geo.sample(int(z), points[sel])
            self._head_for(stay, cw.attractor[stay])

    def _board_trains(self) -> None:
        """A train takes the people waiting on its platform."""
        cw = self.crowd
        while self._next_train < len(self.trains) and self.trains[self._next_train][0] <= self.t:
            _, zone = self.trains[self._next_train]
            self._next_train += 1
            board = np.flatnonzero(
                (cw.state == State.INSIDE) & (cw.attractor == zone) & self.resting & ~cw.leaving
            )
            cw.state[board] = State.LEFT
            self.motion.remove(board)
            self.log("train", self.geo.names[zone], f"boarded={len(board)}")

    def _density(self) -> None:
        """Peak local density, exposure above 5.5/m² and the crush-injury hazard.

        Exposure (person-seconds above 5.5/m²) counts everyone on the lattice; the crush
        hazard applies to people in flight or evacuation who have been in a jammed
        neighbourhood for longer than the onset.
        """
        cw, sc, m = self.crowd, self.scenario.crowd, self.motion
        self.peak_density = max(self.peak_density, self.peak_now)
        on = np.flatnonzero(m.active)
        rho = self.rho[on]
        self.density_exposure += float((rho > 5.5).sum()) * self.dt
        exposed = rho >= sc.crush_density_ppm2
        self.pressed[:] = np.where(self.rho >= sc.crush_density_ppm2, self.pressed + self.dt, 0.0)
        # crowds push in flight and evacuation: that is where crush injures (DESIGN); a
        # standing audience at the same density is not pushed
        pushed = cw.state[on] == State.FLEEING
        at_risk = exposed & pushed & (self.pressed[on] >= sc.crush_onset_s)
        if at_risk.any():
            p = 1.0 - np.exp(-sc.crush_hazard_per_s * self.dt)
            hurt = on[at_risk][self.rngs["harm"].random(int(at_risk.sum())) < p]
            if len(hurt):
                cw.outside_at_harm[hurt] = ~self.geo.inside_perimeter(cw.xy[hurt])
                cw.state[hurt] = State.INJURED
                m.remove(hurt)
                self.crushed[hurt] = True
                self.crush_injured += len(hurt)
                self.log("crush_injury", "crowd", f"n={len(hurt)}")

    # ------------------------------------------------------------------------- results ---

    def outcome(self) -> dict[str, Any]:
        """The row of ``runs.parquet`` for this run (identity columns added by the caller)."""
        cw = self.crowd
        start = self.t_attack_began
        started = self.attack_began
        prevented = bool(
            self.attack
            and not started
            and all(a.end in ("caught", "stopped", "deterred") for a in self.attackers)
        )
        neutral = [a.ended_at for a in self.attackers if a.end in ("neutralised", "subdued")]
        all_neutral = started and len(neutral) == len(self.attackers)
        killed = cw.state == State.KILLED
        hurt = (cw.state == State.INJURED) & ~self.crushed  # crush injuries are counted apart
        still_fleeing = int((cw.state == State.FLEEING).sum())
        evac = (
            self.t_last_evacuated - start
            if not math.isnan(self.t_first_flight)
            and still_fleeing == 0
            and not math.isnan(self.t_last_evacuated)
            else math.nan
        )

        def rel(x: float) -> float:
            return x - start if not math.isnan(x) and self.attack else math.nan

        return {
            C.ATTACK_MODE: self.attack_mode,
            C.ATTACKERS: self.n_attackers,
            C.ATTACK_TARGET: self.target_choice,
            C.ATTACK_START_S: self.attack_start,
            C.ATTACK_STARTED: bool(started),
            C.ATTACK_PREVENTED: prevented,
            C.DETECTED_BEFORE_ATTACK: bool(
                self.attack and not math.isnan(self.t_first_detect) and self.t_first_detect < start
            ),
            C.T_DETECT_S: rel(self.t_first_detect),
            C.T_POLICE_ALERTED_S: rel(self.t_police_alerted),
            C.T_NEUTRALISED_S: rel(max(neutral)) if all_neutral else math.nan,
            C.KILLED: int(killed.sum()),
            C.INJURED: int(hurt.sum()),
            C.CRUSH_INJURED: self.crush_injured,
            C.KILLED_OUTSIDE: int((killed & cw.outside_at_harm).sum()),
            C.INJURED_OUTSIDE: int((hurt & cw.outside_at_harm).sum()),
            C.CRUSH_INJURED_OUTSIDE: int((self.crushed & cw.outside_at_harm).sum()),
            C.VISITORS: int((cw.state != State.PLANNED).sum()),
            C.EVAC_TIME_S: evac,
            C.PEAK_DENSITY: self.peak_density,
            C.DENSITY_EXPOSURE: self.density_exposure,
            C.MEAN_SCREENING_WAIT_S: float(np.mean(self.waits)) if self.waits else math.nan,
            C.MAX_QUEUE_LEN: self.max_queue_len,
            C.FALSE_ALARMS: self.false_alarms,
            C.STAFF_COST_EUR: float(self.staff_cost),
        }


def simulate(task: RunTask) -> RunOutput:
    """Execute one run and return its row, time series and events."""
    t0 = time.perf_counter()
    try:
        model = SoftTargetModel(task.scenario, task.configuration, task.seed)
    except Exception as exc:  # pragma: no cover - re-raised with its stage
        raise RunError("build", f"{type(exc).__name__}: {exc}") from exc
    n_steps = round(task.scenario.run.duration_s / task.scenario.run.dt_s)
    checker = InvariantChecker(model, task.run_id) if task.check_invariants else None
    for _ in range(n_steps):
        model.step()
        if checker is not None:
            checker.check()
    identity = {
        C.RUN_ID: task.run_id,
        C.SCENARIO: task.scenario.name,
        C.CONFIGURATION: task.configuration,
        C.REPLICATE: task.replicate,
        C.SEED: task.seed,
    }
    row = {**identity, **model.outcome(), C.WALL_TIME_S: time.perf_counter() - t0}
    if checker is not None:
        checker.check_row(row)
    ts = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    for key in (C.RUN_ID, C.CONFIGURATION, C.REPLICATE):
        ts.insert(0, key, identity[key])
    ts = ts[[f.name for f in C.TIMESERIES_SCHEMA]]
    ev = pd.DataFrame(model.events, columns=[C.T_S, C.KIND, C.ACTOR, C.DETAIL])
    for key in (C.REPLICATE, C.CONFIGURATION, C.RUN_ID):
        ev.insert(0, key, identity[key])
    return RunOutput(row=row, timeseries=ts, events=ev)


__all__ = ["SoftTargetModel", "blast_risk", "simulate"]
