"""The Mesa model of one run: it wires the mechanisms and fixes the order of a step.

Each mechanism owns its state and its step (``docs/architecture.md`` draws them):

============================  ==================================================================
mechanism                     what it does
============================  ==================================================================
``crowd``   (crowd.py)        visitors: arrivals, walking, dwell, trains, flight, shelter, exits
``screening`` (screening.py)  checkpoints, lanes and the screeners who work them
``staff``   (staff.py)        staff agents: posts, beats, noticing, challenging, engaging
``threat``  (threat/)         the replicate's attack and its attackers, one class per mode
``detection`` (detection.py)  who notices an attacker: staff, cameras, visitors
``chain``   (coordination.py) messages over the hops of the reporting chain
``response`` (response.py)    police dispatch and the venue's evacuate/invacuate/lockdown order
``density`` (density.py)      coarse density, peak, exposure and crush injuries
============================  ==================================================================

One step of ``dt`` seconds does, in order: arrivals and screening; trains; messages due;
attackers' phases and harm; detection; false alarms; messages sent with no delay; the venue's
response; staff movement and engagement; the crowd's reactions and walk; density and crush;
the time series.

Every outcome comes out of these mechanisms; nothing is drawn as a result. Random numbers
come from named streams (:func:`softtarget.sim.runs.streams`): everything about the visitors
and the attacker is drawn up front from the ``crowd`` and ``threat`` streams, so every
configuration of one replicate sees the same people and the same attacker (common random
numbers).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import mesa
import numpy as np
import pandas as pd

from softtarget.sim import columns as C
from softtarget.sim.coordination import Chain
from softtarget.sim.crowd import Crowd
from softtarget.sim.density import Density
from softtarget.sim.detection import Detection
from softtarget.sim.errors import RunError
from softtarget.sim.invariants import InvariantChecker
from softtarget.sim.people import State
from softtarget.sim.response import Response
from softtarget.sim.runs import RunOutput, RunTask, streams
from softtarget.sim.schema import Configuration, Scenario
from softtarget.sim.screening import Screening
from softtarget.sim.staff import Staff
from softtarget.sim.threat import Threat
from softtarget.sim.venue import Geometry

#: The time series, one column per model reporter: people by state, queue, peak density.
_BY_STATE = {
    C.N_ARRIVING: State.ARRIVING,
    C.N_QUEUING: State.QUEUING,
    C.N_INSIDE: State.INSIDE,
    C.N_FLEEING: State.FLEEING,
    C.N_SHELTERING: State.SHELTERING,
    C.N_EVACUATED: State.EVACUATED,
    C.N_INJURED: State.INJURED,
    C.N_KILLED: State.KILLED,
    C.N_LEFT: State.LEFT,
}


def _reporters() -> dict[str, Any]:
    out: dict[str, Any] = {C.T_S: lambda m: m.t}
    for column, state in _BY_STATE.items():
        out[column] = lambda m, s=state: int(m.counts[s])
    out[C.QUEUE_LEN] = lambda m: int(m.counts[State.QUEUING])
    out[C.LOCAL_PEAK_DENSITY] = lambda m: m.crowd.peak_now
    return out


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
        self.arrival_point = self._arrival_point()
        # the order of building is the order of the random draws: never reorder
        self.chain = Chain(self)
        self.crowd = Crowd(self)
        self.screening = Screening(self)
        self.staff = Staff(self)
        self.detection = Detection(self)
        self.threat = Threat(self)
        self.response = Response(self)
        self.density = Density(self)
        self.max_queue_len = 0
        self.datacollector = mesa.DataCollector(model_reporters=_reporters())
        self.counts = self.crowd.counts()
        self._next_sample = 0.0
        self._sample()

    def _arrival_point(self) -> np.ndarray:
        """Where people and attackers on foot enter: the first checkpoint, entrance or exit."""
        geo = self.geo
        entries = geo.of_kind("checkpoint") + geo.of_kind("entrance")
        return geo.centroids[entries[0] if entries else geo.of_kind("exit")[0]].copy()

    def log(self, kind: str, actor: str, detail: str = "") -> None:
        """Record an event of ``kind`` (a :class:`~softtarget.sim.columns.Event`) now."""
        self.events.append((self.t, str(kind), actor, detail))

    def step(self) -> None:
        """Advance the run by ``dt`` seconds."""
        self.t = round(self.t + self.dt, 9)
        self.crowd.placed_now = []
        self.crowd.arrive()
        self.screening.step()
        self.crowd.board_trains()
        self.chain.deliver()
        self.threat.step()
        self.detection.step()
        self.staff.raise_false_alarms()
        self.chain.deliver()  # what is sent with no delay arrives at once
        self.response.step()
        self.staff.step()
        self.staff.engage()
        self.crowd.step()
        self.density.step()
        self.counts = self.crowd.counts()
        self.max_queue_len = max(self.max_queue_len, int(self.counts[State.QUEUING]))
        if self.t + 1e-9 >= self._next_sample:
            self._sample()

    def _sample(self) -> None:
        self.datacollector.collect(self)
        self._next_sample += self.scenario.run.sample_every_s

    def close(self) -> None:
        """Release the run once its results are taken; the model cannot step afterwards.

        Mesa keeps every model alive in a class-level registry (``Agent._ids``, the counter of
        agent ids, keyed by model), so a worker running one model after another would hold
        them all. This drops the model from that registry, deregisters its agents and breaks
        the model's reference to its own wrapped ``step``, so that the model, its arrays and
        its agents are freed. Calling it twice does nothing more.
        """
        for cls in {mesa.Agent, *self._agents_by_type}:
            registry = cls.__dict__.get("_ids")  # a class that declares its own counter
            if registry is not None:
                registry.pop(self, None)
        self.remove_all_agents()
        self.__dict__.pop("step", None)  # Mesa's wrapper, a bound method of this model
        self.running = False

    def outcome(self) -> dict[str, Any]:
        """The row of ``runs.parquet`` for this run (identity columns added by the caller)."""
        cw, threat, plan = self.crowd, self.threat, self.threat.plan
        start, started = threat.t_began, threat.began
        attackers = threat.attackers
        prevented = bool(
            plan.attack and not started and all(a.end in C.PREVENTED_ENDS for a in attackers)
        )
        neutral = [a.ended_at for a in attackers if a.end in C.NEUTRALISED_ENDS]
        all_neutral = started and len(neutral) == len(attackers)
        killed = cw.state == State.KILLED
        hurt = (cw.state == State.INJURED) & ~cw.crushed  # crush injuries are counted apart
        still_fleeing = int((cw.state == State.FLEEING).sum())
        since = start if started else self.response.t_ordered  # an attack, or a drill
        evac = (
            cw.t_last_evacuated - since
            if not math.isnan(cw.t_first_flight)
            and still_fleeing == 0
            and not math.isnan(cw.t_last_evacuated)
            else math.nan
        )
        t_detect = self.detection.t_first
        end, duration = threat.end()
        armed = threat.t_armed_on_scene
        before_armed = cw.t_harmed < armed if not math.isnan(armed) else ~np.isnan(cw.t_harmed)

        def rel(x: float) -> float:
            return x - start if not math.isnan(x) and plan.attack else math.nan

        waits = self.screening.waits
        first = self.chain.first_room
        return {
            C.ATTACK_MODE: plan.modes,
            C.ATTACKERS: plan.attackers,
            C.ATTACK_TARGET: threat.target_choice,
            C.ATTACK_START_S: plan.start_s,
            C.ATTACK_STARTED: bool(started),
            C.ATTACK_PREVENTED: prevented,
            C.DETECTED_BEFORE_ATTACK: bool(
                plan.attack and not math.isnan(t_detect) and t_detect < start
            ),
            C.T_DETECT_S: rel(t_detect),
            C.T_POLICE_ALERTED_S: rel(self.response.t_police_alerted),
            C.T_NEUTRALISED_S: rel(max(neutral)) if all_neutral else math.nan,
            C.T_FIRST_CALL_S: rel(self.chain.t_first_call),
            C.T_ARMED_ON_SCENE_S: rel(threat.t_armed_on_scene),
            C.FIRST_TO_KNOW: first[0] if first else None,
            C.T_FIRST_ROOM_S: rel(first[1]) if first else math.nan,
            C.ALERT_PATH: self.chain.alert_path(),
            C.MESSAGES_LOST: self.chain.net.lost,
            C.ATTACK_END: end,
            C.ATTACK_DURATION_S: duration,
            C.KILLED: int(killed.sum()),
            C.INJURED: int(hurt.sum()),
            C.CRUSH_INJURED: self.density.crush_injured,
            C.KILLED_OUTSIDE: int((killed & cw.outside_at_harm).sum()),
            C.INJURED_OUTSIDE: int((hurt & cw.outside_at_harm).sum()),
            C.CRUSH_INJURED_OUTSIDE: int((cw.crushed & cw.outside_at_harm).sum()),
            C.KILLED_IN_QUEUE: int((killed & cw.queuing_at_harm).sum()),
            C.INJURED_IN_QUEUE: int((hurt & cw.queuing_at_harm).sum()),
            C.KILLED_BEFORE_ARMED: int((killed & before_armed).sum()),
            C.INJURED_BEFORE_ARMED: int((hurt & before_armed).sum()),
            C.CRUSH_INJURED_IN_EVACUATION: int(cw.crushed_in_evacuation.sum()),
            C.VISITORS: int((cw.state != State.PLANNED).sum()),
            C.EVAC_TIME_S: evac,
            C.PEAK_DENSITY: self.density.peak,
            C.DENSITY_EXPOSURE: self.density.exposure,
            C.MEAN_SCREENING_WAIT_S: float(np.mean(waits)) if waits else math.nan,
            C.MAX_QUEUE_LEN: self.max_queue_len,
            C.FALSE_ALARMS: self.staff.false_alarms,
            C.STAFF_COST_EUR: float(self.staff.cost),
        }


#: The model under the name the Python API gives it.
Model = SoftTargetModel


def simulate(
    task: RunTask, observe: Callable[[SoftTargetModel, int], None] | None = None
) -> RunOutput:
    """Execute one run and return its row, time series and events.

    ``observe(model, step)``, if given, is called before the first step (step 0) and after
    each step; it must only read the model (:mod:`softtarget.sim.trajectories` records
    positions so).
    """
    t0 = time.perf_counter()
    try:
        model = SoftTargetModel(task.scenario, task.configuration, task.seed)
    except Exception as exc:  # pragma: no cover - re-raised with its stage
        raise RunError("build", f"{type(exc).__name__}: {exc}") from exc
    try:
        n_steps = round(task.scenario.run.duration_s / task.scenario.run.dt_s)
        checker = InvariantChecker(model, task.run_id) if task.check_invariants else None
        if observe is not None:
            observe(model, 0)
        for step in range(1, n_steps + 1):
            model.step()
            if checker is not None:
                checker.check()
            if observe is not None:
                observe(model, step)
        identity = task.identity
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
        ex = model.crowd.exit_records()
        msgs = model.chain.messages()
        for frame in (ex, msgs):
            for key in (C.REPLICATE, C.CONFIGURATION, C.RUN_ID):
                frame.insert(0, key, identity[key])
        return RunOutput(row=row, timeseries=ts, events=ev, exits=ex, messages=msgs)
    finally:  # a worker runs many models: free this one, its results taken or not
        model.close()


__all__ = ["Model", "SoftTargetModel", "simulate"]
