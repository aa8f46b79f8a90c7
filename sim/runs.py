"""Run identity, seeds and the contract between the batch runner and the model.

A run is identified by ``(scenario hash, configuration, replicate)``. Its random streams derive
from the scenario seed and the replicate only, never from the configuration, the worker or
the order of execution: every configuration of one replicate sees the same visitors and the
same attacker (common random numbers), so comparisons between configurations are paired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from softtarget.sim import columns as C

if TYPE_CHECKING:
    from softtarget.sim.schema import Scenario

#: Named random streams of one run, in a fixed order (never reorder: it changes every result;
#: a new stream goes at the end, which leaves the others as they were).
STREAMS: tuple[str, ...] = (
    "crowd",
    "threat",
    "screening",
    "detection",
    "coordination",
    "response",
    "harm",
    "mesa",
    "behaviour",
    "motion",
    "calls",
    "looks",
    "cell",
    "escalation",
    "rooms",
    "citizens",
)


def run_seed(scenario_seed: int, replicate: int) -> int:
    """The seed of one replicate, derived from the scenario seed with a ``SeedSequence``.

    The same for every configuration (common random numbers); fits a signed 64-bit column.
    """
    ss = np.random.SeedSequence(scenario_seed, spawn_key=(replicate,))
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators, one per named purpose, all derived from a run's ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {
        name: np.random.default_rng(child) for name, child in zip(STREAMS, children, strict=True)
    }


def make_run_id(scenario_hash: str, configuration: str, replicate: int) -> str:
    """A readable, stable identifier: ``<hash8>-<configuration>-<replicate:05d>``."""
    return f"{scenario_hash[:8]}-{configuration}-{replicate:05d}"


@dataclass(frozen=True)
class RunTask:
    """Everything a worker needs to execute one run; small and picklable."""

    scenario: Scenario
    scenario_hash: str
    configuration: str
    replicate: int
    seed: int
    check_invariants: bool = False

    @property
    def run_id(self) -> str:
        """The run's identity."""
        return make_run_id(self.scenario_hash, self.configuration, self.replicate)

    @property
    def identity(self) -> dict[str, Any]:
        """The identity columns of its row: run id, scenario, configuration, replicate, seed."""
        return {
            C.RUN_ID: self.run_id,
            C.SCENARIO: str(self.scenario.name),
            C.CONFIGURATION: self.configuration,
            C.REPLICATE: self.replicate,
            C.SEED: self.seed,
        }


@dataclass
class RunOutput:
    """What one run produces: a row for ``runs.parquet``, time series, events, exits, messages."""

    row: dict[str, Any]
    timeseries: pd.DataFrame
    events: pd.DataFrame
    exits: pd.DataFrame | None = None  # one row per exit (None: a run without exits' records)
    messages: pd.DataFrame | None = None  # one row per message of the reporting chain
    extra: dict[str, Any] = field(default_factory=dict)
