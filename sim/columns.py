"""Names and types of every column in the results tables: one place to rename, none to misspell.

``runs.parquet`` holds one row per successful run, ``failures.parquet`` one row per failed
run, ``timeseries.parquet`` the sampled model reporters and ``events.parquet`` what happened
when. Times in ``runs.parquet`` are measured from the attack's start where it started, and are
NaN where the event did not happen.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import pyarrow as pa

SCHEMA_VERSION: Final = 5  # 2: attack timeline; 3: exits; 4: harm by phase, place; 5: messages


def _metadata(table: str) -> dict[bytes, bytes]:
    """The self-description every results table carries: its name and the schema version."""
    return {
        b"softtarget.table": table.encode(),
        b"softtarget.schema_version": b"%d" % SCHEMA_VERSION,
    }


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
T_FIRST_CALL_S: Final = "t_first_call_s"  # first emergency call through to the police room
T_ARMED_ON_SCENE_S: Final = "t_armed_on_scene_s"  # first armed staff within engage range

# --- runs.parquet: who knew, and how the police heard (docs/organisations.md) -------------------
FIRST_TO_KNOW: Final = "first_to_know"  # the organisation whose room first heard of an attacker
T_FIRST_ROOM_S: Final = "t_first_room_s"  # when that was
ALERT_PATH: Final = "alert_path"  # hops of the message that alerted the police: "a > b > c"
MESSAGES_LOST: Final = "messages_lost"  # messages lost on a hop in the run

# --- runs.parquet: how the attack ended -----------------------------------------------------
ATTACK_END: Final = "attack_end"  # an End, "prevented", "ongoing" at the run's end, or null
ATTACK_DURATION_S: Final = "attack_duration_s"  # from its start to its last attacker's end

# --- runs.parquet: harm ---------------------------------------------------------------------
KILLED: Final = "killed"
INJURED: Final = "injured"
CRUSH_INJURED: Final = "crush_injured"
KILLED_OUTSIDE: Final = "killed_outside"
INJURED_OUTSIDE: Final = "injured_outside"
CRUSH_INJURED_OUTSIDE: Final = "crush_injured_outside"
# by place: in a screening queue (or being screened) when harmed, a part of "outside"
KILLED_IN_QUEUE: Final = "killed_in_queue"
INJURED_IN_QUEUE: Final = "injured_in_queue"
# by phase: harmed before the first armed officer was on scene (all, if none came)
KILLED_BEFORE_ARMED: Final = "killed_before_armed"
INJURED_BEFORE_ARMED: Final = "injured_before_armed"
# by cause: crush injuries after the venue had ordered an evacuation (the rest: in flight)
CRUSH_INJURED_IN_EVACUATION: Final = "crush_injured_in_evacuation"

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
        pa.field(T_FIRST_CALL_S, pa.float64()),
        pa.field(T_ARMED_ON_SCENE_S, pa.float64()),
        pa.field(FIRST_TO_KNOW, pa.string()),
        pa.field(T_FIRST_ROOM_S, pa.float64()),
        pa.field(ALERT_PATH, pa.string()),
        pa.field(MESSAGES_LOST, pa.int64(), nullable=False),
        pa.field(ATTACK_END, pa.string()),
        pa.field(ATTACK_DURATION_S, pa.float64()),
        pa.field(KILLED, pa.int64(), nullable=False),
        pa.field(INJURED, pa.int64(), nullable=False),
        pa.field(CRUSH_INJURED, pa.int64(), nullable=False),
        pa.field(KILLED_OUTSIDE, pa.int64(), nullable=False),
        pa.field(INJURED_OUTSIDE, pa.int64(), nullable=False),
        pa.field(CRUSH_INJURED_OUTSIDE, pa.int64(), nullable=False),
        pa.field(KILLED_IN_QUEUE, pa.int64(), nullable=False),
        pa.field(INJURED_IN_QUEUE, pa.int64(), nullable=False),
        pa.field(KILLED_BEFORE_ARMED, pa.int64(), nullable=False),
        pa.field(INJURED_BEFORE_ARMED, pa.int64(), nullable=False),
        pa.field(CRUSH_INJURED_IN_EVACUATION, pa.int64(), nullable=False),
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
    metadata=_metadata("runs"),
)

#: Outcomes that ``compare`` summarises (numeric or boolean columns of ``runs.parquet``).
OUTCOMES: Final = (
    ATTACK_STARTED,
    ATTACK_PREVENTED,
    DETECTED_BEFORE_ATTACK,
    T_DETECT_S,
    T_POLICE_ALERTED_S,
    T_NEUTRALISED_S,
    T_FIRST_CALL_S,
    T_ARMED_ON_SCENE_S,
    T_FIRST_ROOM_S,
    MESSAGES_LOST,
    ATTACK_DURATION_S,
    KILLED,
    INJURED,
    CRUSH_INJURED,
    KILLED_OUTSIDE,
    INJURED_OUTSIDE,
    CRUSH_INJURED_OUTSIDE,
    KILLED_IN_QUEUE,
    INJURED_IN_QUEUE,
    KILLED_BEFORE_ARMED,
    INJURED_BEFORE_ARMED,
    CRUSH_INJURED_IN_EVACUATION,
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
    metadata=_metadata("failures"),
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
    metadata=_metadata("timeseries"),
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
    metadata=_metadata("events"),
)


# --- exits.parquet: who left by which exit, and when -------------------------------------------
EXIT: Final = "exit"
N_LEFT_BY: Final = "left"
N_EVACUATED_BY: Final = "evacuated"
T_FIRST_EVACUATED_S: Final = "t_first_evacuated_s"
T_LAST_EVACUATED_S: Final = "t_last_evacuated_s"

EXITS_SCHEMA: Final = pa.schema(
    [
        pa.field(RUN_ID, pa.string(), nullable=False),
        pa.field(CONFIGURATION, pa.string(), nullable=False),
        pa.field(REPLICATE, pa.int64(), nullable=False),
        pa.field(EXIT, pa.string(), nullable=False),
        pa.field(N_LEFT_BY, pa.int64(), nullable=False),  # left in the normal course
        pa.field(N_EVACUATED_BY, pa.int64(), nullable=False),  # fled or evacuated through it
        pa.field(T_FIRST_EVACUATED_S, pa.float64()),  # model time; null when nobody
        pa.field(T_LAST_EVACUATED_S, pa.float64()),
    ],
    metadata=_metadata("exits"),
)


# --- messages.parquet: every message of the reporting chain ---------------------------------------
MESSAGE_ID: Final = "message"  # numbered in the order sent, per run
PARENT: Final = "parent"  # the message this one passes on (-1: none)
T_SENT_S: Final = "t_sent_s"
T_ARRIVED_S: Final = "t_arrived_s"  # delivered (a step's time); null: lost, or still on its way
HOP: Final = "hop"  # the link or hop: joint_to_police, security:radio, visitor_to_staff ...
SENDER: Final = "sender"
RECEIVER: Final = "receiver"  # room:<organisation> or staff:<id>
CONTENT: Final = "content"  # sighting, image, identity, alarm
ABOUT: Final = "about"  # the attacker's id, -1 for a false alarm
WAITED_S: Final = "waited_s"  # time waiting for room on a link with a capacity
LOST: Final = "lost"

MESSAGES_SCHEMA: Final = pa.schema(
    [
        pa.field(RUN_ID, pa.string(), nullable=False),
        pa.field(CONFIGURATION, pa.string(), nullable=False),
        pa.field(REPLICATE, pa.int64(), nullable=False),
        pa.field(MESSAGE_ID, pa.int64(), nullable=False),
        pa.field(PARENT, pa.int64(), nullable=False),
        pa.field(T_SENT_S, pa.float64(), nullable=False),
        pa.field(T_ARRIVED_S, pa.float64()),
        pa.field(HOP, pa.string(), nullable=False),
        pa.field(SENDER, pa.string(), nullable=False),
        pa.field(RECEIVER, pa.string(), nullable=False),
        pa.field(KIND, pa.string(), nullable=False),
        pa.field(CONTENT, pa.string(), nullable=False),
        pa.field(ABOUT, pa.int64(), nullable=False),
        pa.field(WAITED_S, pa.float64(), nullable=False),
        pa.field(LOST, pa.bool_(), nullable=False),
    ],
    metadata=_metadata("messages"),
)


# --- events.parquet: what happened (the KIND column) -----------------------------------------


class Event(StrEnum):
    """Every kind of event a run records; the value is what ``events.parquet`` holds."""

    ATTACK_PLANNED = "attack_planned"
    SCREENING_LANES = "screening_lanes"
    NO_ROOM = "no_room"
    RECONNAISSANCE_START = "reconnaissance_start"
    RECONNAISSANCE_END = "reconnaissance_end"
    ATTACKER_ARRIVED = "attacker_arrived"
    ATTACKER_ADAPTED = "attacker_adapted"
    SCREENING_PASSED = "screening_passed"
    BOMBER_CHALLENGED = "bomber_challenged"
    ATTACK_START = "attack_start"
    SHOT = "shot"
    HIT = "hit"
    STRIKE = "strike"
    DETONATION = "detonation"
    STRUCK = "struck"
    DETECTION = "detection"
    QUESTIONED = "questioned"
    CONCERN_DISMISSED = "concern_dismissed"
    CHALLENGED = "challenged"
    MESSAGE = "message"
    MESSAGE_HANDLED = "message_handled"  # a control room took a message up and acted on it
    MESSAGE_STUCK = "message_stuck"  # a room (or a contact) could not pass a message on
    POLICE_ALERTED = "police_alerted"
    DISPATCH = "dispatch"
    FALSE_ALARM = "false_alarm"
    FALSE_ALARM_CHECKED = "false_alarm_checked"
    VENUE_RESPONSE = "venue_response"
    PUBLIC_ADDRESS = "public_address"
    TRAIN = "train"
    CRUSH_INJURY = "crush_injury"
    # an attacker's part ends: "attacker_" + the End
    ATTACKER_CAUGHT = "attacker_caught"
    ATTACKER_STOPPED = "attacker_stopped"
    ATTACKER_DETERRED = "attacker_deterred"
    ATTACKER_NEUTRALISED = "attacker_neutralised"
    ATTACKER_SUBDUED = "attacker_subdued"
    ATTACKER_DETONATED = "attacker_detonated"
    ATTACKER_SPENT = "attacker_spent"
    ATTACKER_BARRIER = "attacker_barrier"
    ATTACKER_STOPPED_BY_OBSTACLE = "attacker_stopped_by_obstacle"
    ATTACKER_SUICIDE = "attacker_suicide"
    ATTACKER_FLED = "attacker_fled"
    ATTACKER_SURRENDERED = "attacker_surrendered"
    CALL = "call"  # an emergency call placed
    ARMED_ON_SCENE = "armed_on_scene"


class Phase(StrEnum):
    """An attacker's phase (the conspicuousness table is keyed by the observable ones)."""

    WAITING = "waiting"
    RECONNAISSANCE = "reconnaissance"
    APPROACH = "approach"
    ATTACK = "attack"
    ENDED = "ended"


class End(StrEnum):
    """How an attacker's part ended."""

    CAUGHT = "caught"  # at screening
    STOPPED = "stopped"  # challenged by staff before the attack
    DETERRED = "deterred"  # questioned during reconnaissance and gave up
    NEUTRALISED = "neutralised"  # by armed staff
    SUBDUED = "subdued"  # a blade attacker overpowered by staff or bystanders
    DETONATED = "detonated"
    SPENT = "spent"  # out of rounds, or the vehicle's path is driven
    BARRIER = "barrier"  # a vehicle stopped by hostile-vehicle barriers
    STOPPED_BY_OBSTACLE = "stopped_by_obstacle"  # a vehicle stuck at a wall, fence or in bodies
    SUICIDE = "suicide"  # the attacker's own end
    FLED = "fled"  # left the scene: targets ran out, or on their own initiative
    SURRENDERED = "surrendered"  # gave up when armed police arrived

    @property
    def event(self) -> Event:
        """The event recorded when an attacker's part ends this way."""
        return Event("attacker_" + self.value)


#: Ends that count as an attack prevented (no attack began).
PREVENTED_ENDS: Final = frozenset({End.CAUGHT, End.STOPPED, End.DETERRED})
#: Ends that count as an attacker neutralised.
NEUTRALISED_ENDS: Final = frozenset({End.NEUTRALISED, End.SUBDUED})
