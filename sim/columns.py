"""Names and types of every column in the results tables: one place to rename, none to misspell.

``runs.parquet`` holds one row per successful run, ``failures.parquet`` one row per failed
run, ``timeseries.parquet`` the sampled model reporters and ``events.parquet`` what happened
when. Times in ``runs.parquet`` are measured from the attack's start where it started, and are
NaN where the event did not happen.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

SCHEMA_VERSION: Final = 1

# --- identity (every table) ---------------------------------------------------------------
RUN_ID: Final = "run_id"
SCENARIO: Final = "scenario"
CONFIGURATION: Final = "configuration"
REPLICATE: Final = "replicate"
SEED: Final = "seed"

# --- runs.parquet: threat draws -------------------------------------------------------------
ATTACK_MODE: Final = "attack_mode"
ATTACKERS: Final = "attackers"
ATTACK_TARGET: Final = "attack_target"
ATTACK_START_S: Final = "attack_start_s"
ATTACK_STARTED: Final = "attack_started"
ATTACK_PREVENTED: Final = "attack_prevented"
DETECTED_BEFORE_ATTACK: Final = "detected_before_attack"

# --- runs.parquet: times from the attack's start --------------------------------------------
T_DETECT_S: Final = "t_detect_s"
T_POLICE_ALERTED_S: Final = "t_police_alerted_s"
T_NEUTRALISED_S: Final = "t_neutralised_s"

# --- runs.parquet: harm ---------------------------------------------------------------------
KILLED: Final = "killed"
INJURED: Final = "injured"
CRUSH_INJURED: Final = "crush_injured"
KILLED_OUTSIDE: Final = "killed_outside"
INJURED_OUTSIDE: Final = "injured_outside"
CRUSH_INJURED_OUTSIDE: Final = "crush_injured_outside"

# --- runs.parquet: crowd --------------------------------------------------------------------
VISITORS: Final = "visitors"
EVAC_TIME_S: Final = "evac_time_s"
PEAK_DENSITY: Final = "peak_density_ppm2"
DENSITY_EXPOSURE: Final = "person_s_above_5_5"
MEAN_SCREENING_WAIT_S: Final = "mean_screening_wait_s"
MAX_QUEUE_LEN: Final = "max_queue_len"

# --- runs.parquet: security -----------------------------------------------------------------
FALSE_ALARMS: Final = "false_alarms"
STAFF_COST_EUR: Final = "staff_cost_eur"
WALL_TIME_S: Final = "wall_time_s"

IDENTITY_FIELDS: Final = (
    pa.field(RUN_ID, pa.string(), nullable=False),
    pa.field(SCENARIO, pa.string(), nullable=False),
    pa.field(CONFIGURATION, pa.string(), nullable=False),
    pa.field(REPLICATE, pa.int64(), nullable=False),
    pa.field(SEED, pa.int64(), nullable=False),
)

#: The pinned Arrow schema of ``runs.parquet``; column order is the order here.
RUNS_SCHEMA: Final = pa.schema(
    [
        *IDENTITY_FIELDS,
        pa.field(ATTACK_MODE, pa.string()),  # null when the run drew no attack
        pa.field(ATTACKERS, pa.int64(), nullable=False),
        pa.field(ATTACK_TARGET, pa.string()),
        pa.field(ATTACK_START_S, pa.float64()),
        pa.field(ATTACK_STARTED, pa.bool_(), nullable=False),
        pa.field(ATTACK_PREVENTED, pa.bool_(), nullable=False),
        pa.field(DETECTED_BEFORE_ATTACK, pa.bool_(), nullable=False),
        pa.field(T_DETECT_S, pa.float64()),
        pa.field(T_POLICE_ALERTED_S, pa.float64()),
        pa.field(T_NEUTRALISED_S, pa.float64()),
        pa.field(KILLED, pa.int64(), nullable=False),
        pa.field(INJURED, pa.int64(), nullable=False),
        pa.field(CRUSH_INJURED, pa.int64(), nullable=False),
        pa.field(KILLED_OUTSIDE, pa.int64(), nullable=False),
        pa.field(INJURED_OUTSIDE, pa.int64(), nullable=False),
        pa.field(CRUSH_INJURED_OUTSIDE, pa.int64(), nullable=False),
        pa.field(VISITORS, pa.int64(), nullable=False),
        pa.field(EVAC_TIME_S, pa.float64()),
        pa.field(PEAK_DENSITY, pa.float64(), nullable=False),
        pa.field(DENSITY_EXPOSURE, pa.float64(), nullable=False),
        pa.field(MEAN_SCREENING_WAIT_S, pa.float64()),
        pa.field(MAX_QUEUE_LEN, pa.int64(), nullable=False),
        pa.field(FALSE_ALARMS, pa.int64(), nullable=False),
        pa.field(STAFF_COST_EUR, pa.float64(), nullable=False),
        pa.field(WALL_TIME_S, pa.float64(), nullable=False),
    ],
    metadata={b"softtarget.table": b"runs", b"softtarget.schema_version": b"1"},
)

#: Outcomes that ``compare`` summarises (numeric or boolean columns of ``runs.parquet``).
OUTCOMES: Final = (
    ATTACK_STARTED,
    ATTACK_PREVENTED,
    DETECTED_BEFORE_ATTACK,
    T_DETECT_S,
    T_POLICE_ALERTED_S,
    T_NEUTRALISED_S,
    KILLED,
    INJURED,
    CRUSH_INJURED,
    KILLED_OUTSIDE,
    INJURED_OUTSIDE,
    CRUSH_INJURED_OUTSIDE,
    EVAC_TIME_S,
    PEAK_DENSITY,
    DENSITY_EXPOSURE,
    MEAN_SCREENING_WAIT_S,
    MAX_QUEUE_LEN,
    FALSE_ALARMS,
    STAFF_COST_EUR,
)

# --- failures.parquet -------------------------------------------------------------------------
STAGE: Final = "stage"
ERROR: Final = "error"
TRACEBACK: Final = "traceback"

FAILURES_SCHEMA: Final = pa.schema(
    [
        *IDENTITY_FIELDS,
        pa.field(STAGE, pa.string(), nullable=False),
        pa.field(ERROR, pa.string(), nullable=False),
        pa.field(TRACEBACK, pa.string(), nullable=False),
    ],
    metadata={b"softtarget.table": b"failures", b"softtarget.schema_version": b"1"},
)

# --- timeseries.parquet -----------------------------------------------------------------------
T_S: Final = "t_s"
N_ARRIVING: Final = "arriving"
N_QUEUING: Final = "queuing"
N_INSIDE: Final = "inside"
N_FLEEING: Final = "fleeing"
N_SHELTERING: Final = "sheltering"
N_EVACUATED: Final = "evacuated"
N_INJURED: Final = "injured"
N_KILLED: Final = "killed"
N_LEFT: Final = "left"
QUEUE_LEN: Final = "queue_len"
LOCAL_PEAK_DENSITY: Final = "peak_density_ppm2"

TIMESERIES_SCHEMA: Final = pa.schema(
    [
        pa.field(RUN_ID, pa.string(), nullable=False),
        pa.field(CONFIGURATION, pa.string(), nullable=False),
        pa.field(REPLICATE, pa.int64(), nullable=False),
        pa.field(T_S, pa.float64(), nullable=False),
        pa.field(N_ARRIVING, pa.int64(), nullable=False),
        pa.field(N_QUEUING, pa.int64(), nullable=False),
        pa.field(N_INSIDE, pa.int64(), nullable=False),
        pa.field(N_FLEEING, pa.int64(), nullable=False),
        pa.field(N_SHELTERING, pa.int64(), nullable=False),
        pa.field(N_EVACUATED, pa.int64(), nullable=False),
        pa.field(N_INJURED, pa.int64(), nullable=False),
        pa.field(N_KILLED, pa.int64(), nullable=False),
        pa.field(N_LEFT, pa.int64(), nullable=False),
        pa.field(QUEUE_LEN, pa.int64(), nullable=False),
        pa.field(LOCAL_PEAK_DENSITY, pa.float64(), nullable=False),
    ],
    metadata={b"softtarget.table": b"timeseries", b"softtarget.schema_version": b"1"},
)

# --- events.parquet ---------------------------------------------------------------------------
KIND: Final = "kind"
ACTOR: Final = "actor"
DETAIL: Final = "detail"

EVENTS_SCHEMA: Final = pa.schema(
    [
        pa.field(RUN_ID, pa.string(), nullable=False),
        pa.field(CONFIGURATION, pa.string(), nullable=False),
        pa.field(REPLICATE, pa.int64(), nullable=False),
        pa.field(T_S, pa.float64(), nullable=False),
        pa.field(KIND, pa.string(), nullable=False),
        pa.field(ACTOR, pa.string(), nullable=False),
        pa.field(DETAIL, pa.string(), nullable=False),
    ],
    metadata={b"softtarget.table": b"events", b"softtarget.schema_version": b"1"},
)
