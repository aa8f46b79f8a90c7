"""Write docs/scenarios.md: each built-in scenario's plan, purpose, sources and outcome table.

For each built-in scenario (or those named with ``--only``) the script

* draws the plan with the ``public_private`` configuration into ``docs/img/<name>_plan.png``,
* runs a paired batch of ``--reps`` replications per configuration (2 x reps runs) into
  ``results/<name>/<time>/`` (git-ignored), timing it,
* summarises key outcomes per configuration with ``softtarget.analysis.compare`` (means or
  shares with 95% intervals, paired differences against ``public_only`` with their tests),
* writes the scenario's section of ``docs/scenarios.md``: the plan, what the scenario
  represents, where its numbers come from, the table, the command and the wall time.

Sections sit between ``<!-- scenario:NAME start -->`` and ``<!-- scenario:NAME end -->``
markers; sections of scenarios not run this time are kept as they are.

Usage (from the repository root)::

    .venv/bin/python benchmarks/scenario_tables.py [--reps 100] [--workers 2] [--only festival]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import softtarget  # noqa: E402
from softtarget import analysis  # noqa: E402
from softtarget.analysis.compare import (  # noqa: E402
    BASELINE,
    DIFF,
    DIFF_HIGH,
    DIFF_LOW,
    KIND,
    MEAN,
    MEAN_HIGH,
    MEAN_LOW,
    OUTCOME,
    P_HOLM,
    SHARE,
    TEST,
    compare,
    p_with_test,
    with_ci,
)
from softtarget.sim import columns as C  # noqa: E402
from softtarget.sim.batch import plan_tasks, run_batch  # noqa: E402
from softtarget.sim.loader import builtin_names, load_scenario  # noqa: E402
from softtarget.sim.plan import save_plan  # noqa: E402

DOCS = ROOT / "docs" / "scenarios.md"
IMG_DIR = ROOT / "docs" / "img"
RESULTS = ROOT / "results"
PLAN_CONFIGURATION = "public_private"
FULL_REPS = 100  # replications per configuration by default
TRIAL_REPS = 30  # fewer than this mark a section as a trial, to check the page's format

#: Outcomes in the tables, with the label and unit shown.
KEY_OUTCOMES: dict[str, str] = {
    C.DETECTED_BEFORE_ATTACK: "attacker detected before the attack (share of runs)",
    C.ATTACK_PREVENTED: "attack prevented (share of runs)",
    C.KILLED: "killed (people)",
    C.INJURED: "injured by the attack (people)",
    C.CRUSH_INJURED: "crush injuries (people)",
    C.T_POLICE_ALERTED_S: "police alerted, s after the attack start (runs where alerted)",
    C.MEAN_SCREENING_WAIT_S: "mean wait at screening, s",
    C.STAFF_COST_EUR: "staff cost, EUR",
}

#: What each scenario represents (beyond its description) and where its numbers come from.
#: Row names are those of REFERENCES.md, the project's reference table ("section: row").
NOTES: dict[str, dict[str, str]] = {
    "festival": {
        "represents": (
            "An evening at a large open-air music festival: most visitors are already on the "
            "field at the stages, bars and food court, late arrivals queue on the access road "
            "at the screening lanes of the two gates. In the 30-minute window a lone actor or "
            "a small cell with a firearm, a blade, a person-borne bomb or a vehicle arrives, "
            "spends 2 to 15 minutes on site and strikes the densest spot, the queue outside "
            "the fence or the bars. The comparison asks what private screening at every lane "
            "(64 guards at the gates), 50 stewards on the field, two CCTV operators watching "
            "nine cameras and a joint control room add "
            "to a police-only plan that screens at a third of the lanes: detection before the "
            "attack, time to alert the police, harm, the screening queue, and the cost."
        ),
        "sources": (
            "Walking, flight and reaction keep the crowd defaults: Crowd: *free walking speed* "
            "1.34 m/s (Weidmann 1993; V), *flight speed under attack* 3.9 m/s (Hayes & Hayes "
            "2014 via Briggs & Kennedy 2016; V), *reaction (recognition) delay near an attack* "
            "3 s (V); crush injury starts at *dangerous crowd forces* (Fruin; V) after "
            "*compressive asphyxia*'s ~30 s (Still; S). Screening: bag check (public_only) and "
            "bag check + pat-down (public_private) catch a firearm or bomb with P 0.35 and 0.5 "
            "(*P(detect firearm or explosive at bag check + pat-down)*, 0.05–0.9; S/E); "
            "service times are the methods' defaults, 8 s (E) and 10 s (*bag check + pat-down "
            "service time*, 6–15; S/E). Private staff: 64 guards and 50 stewards "
            "for ~12,600 visitors, about 1 per 110 — inside the 1:100–1:500 range of *private "
            "security per visitors (Dutch guideline)* (Veiligheidsregio Twente; V), denser than "
            "its 1 per 250. The armed unit arrives after a log-normal time of median 8 min "
            "(Attack and response: *first armed police on scene*, 5–15; S/V); visitors call "
            "the police 50 s into an attack (*first call to police after attack starts*, "
            "Westminster 51 s; V/S). Reporting chain: the joint control room reaches the police "
            "in ~1 min (*control room → police, joint control room*, Amsterdam ArenA; V/E), "
            "separate rooms in ~5 min (*control room → police, separate rooms*, Manchester; "
            "V/E); the venue orders evacuation 1.5 min after learning of an attack (*doors "
            "closed / invacuation started after decision*; S). A third of the attacks target "
            "the queue outside the fence (Frames for scenarios: Manchester Arena, Brussels "
            "airport, Stade de France). Crowd size, arrival rate, dwell times, the mix and "
            "timing of attacks, staff skills and hourly costs are estimates (E)."
        ),
        "findings": (
            "Over 30 pairs, private screening at every lane, stewards and CCTV (public_private "
            "and the four plans built on it) prevent 16.7 points more attacks than police alone "
            "(43 % against 27 % [3.3, 33.3]; Holm-adjusted McNemar p 0.63, not established at "
            "this size), detect 10 points more before the attack [−3.3, 26.7], and harm 5.8 "
            "people per run against 15.3 (injured −8.2 [−23.9, −1.5]). Most of the gap is the "
            "queue: police screening at a third of the lanes keeps a 600 s mean wait on the "
            "access road, against 54 s, and 7.2 of the 15.3 harmed per run under public_only were"
            " in that queue (0.4 under the others). How the rooms are organised moves only the "
            "moment the police hear, paired against public_private: separate rooms alert them 86 "
            "s later [38, 177] (the security company's phone to the police takes a median 284 s "
            "and loses 22 % of its messages: 6.5 messages lost per run against 2.1), a liaison "
            "officer in the private room 11.7 s sooner [6.0, 20.3], the shared information system"
            " 18.6 s sooner [9.2, 35.0]. The link that matters is therefore the private room's "
            "link to the police; it decides the alert in about a third of the runs (alert paths "
            "`security:radio > ...`), while in about half the police hear first from their own "
            "officers (`police:radio`). None of these plans changes prevention, and harm by at "
            "most one person in 30 runs: attacks are stopped at the lanes or by guards who "
            "challenge a suspect on their own notice, and those that begin last a median 17 s and"
            " end with staff or bystanders subduing the attacker, a vehicle stopping at the "
            "fence, or a shooter with nobody left in range, before any unit the alert sends can "
            "arrive. Engaged citizens change nothing here: visitors noticed an attacker before "
            "his attack once in 30 runs (one `visitor_to_staff` message), so the campaign and the"
            " app had nothing to carry. Neither plan causes crush injuries: crush needs sustained"
            " high density among people fleeing a threat they perceived, and an ordered "
            "evacuation queues calmly."
        ),
    },
    "stadium": {
        "represents": (
            "The last half hour before kick-off at a football stadium for 34,000: 22,000 "
            "spectators are in the four stands, 2,000 queue at eight turnstile banks on the "
            "north and south streets, and a late peak of 10,000 arrives around twenty minutes "
            "in. Half of the attacks target the crowd at the turnstiles outside the "
            "perimeter. public_only has police screening at half the turnstiles and patrolling "
            "the stands; public_private adds private screening with pat-down at every "
            "turnstile, 128 stewards in the stands, three CCTV operators watching eight "
            "cameras on the queues and stands, a joint control room, and a lockdown (gates "
            "shut, spectators kept in the ground, as at the Stade de France in 2015) instead "
            "of an evacuation."
        ),
        "sources": (
            "Crowd movement keeps the defaults of Crowd: *free walking speed* (Weidmann 1993; "
            "V), *flight speed under attack* (Hayes & Hayes via Briggs & Kennedy; V) and "
            "*reaction (recognition) delay near an attack* (V). The late peak follows "
            "Screening: *share of visitors arriving in the last 45 min before start*, 60–70% "
            "(vendor claim; S): about a third of the crowd is still to come in the last 30 "
            "minutes. 128 stewards for ~34,000 spectators are ~1 per 265, the 1 per 250 of "
            "*private security per "
            "visitors (Dutch guideline)* (Veiligheidsregio Twente; V). Eight 6 m egress gates "
            "at Crowd: *bottleneck specific flow* ~1.6 persons/(m·s) (Seyfried et al.; V) "
            "empty the stands in about 6.5 min, inside the 8 min of *normal maximum egress time "
            "(stadium)* (UK Green Guide; V). Screening detection and service times are the "
            "methods' defaults (S/E, as for the festival). The armed unit arrives after a "
            "median 8 min (*first armed police on scene*; S/V); the joint control room reaches "
            "the police in ~1 min and separate rooms in ~5 min (Reporting rows, Amsterdam "
            "ArenA and Manchester; V/E). The gate target follows Stade de France 2015 (Frames "
            "for scenarios), and so does the lockdown; lockdown is one of the procedures of the "
            "UK Protection of Premises Act's enhanced duty (Frames for scenarios). Crowd "
            "sizes, attack mix and "
            "timing, staff skills and costs are estimates (E)."
        ),
    },
    "station": {
        "represents": (
            "A large railway station at a busy hour: no screening perimeter, four platforms "
            "each served by a train every two minutes that unloads 250 passengers, a "
            "concourse with shops and three street entrances through which 150 people a "
            "minute walk in. Attackers mingle for 1 to 8 minutes and strike the densest spot "
            "or the concourse. public_only has four police officers on patrol and an armed "
            "unit; public_private adds transit staff on the platforms and transit enforcement "
            "officers (BOA) on patrol and two CCTV operators watching eleven cameras on the "
            "platforms and in the hall, reporting to a control room shared with the police."
        ),
        "sources": (
            "Crowd movement keeps the defaults of Crowd: *free walking speed* (Weidmann 1993; "
            "V), *flight speed under attack* (Hayes & Hayes via Briggs & Kennedy; V) and "
            "*reaction (recognition) delay near an attack* (V). Transit enforcement officers "
            "may demand ID, search and arrest (the note under Screening in REFERENCES.md: BOA "
            "OV powers). Police on patrol in the hall correspond to Attack and response: *first "
            "police on scene, police present at venue*, ~1 min (Amsterdam Centraal 2018: 9 s; "
            "V/S); the armed unit's median of 6 min lies within the 5–15 min of *first armed "
            "police on scene* (S/V), below its 8 min default for a city-centre hub (E). The "
            "shared control room reaches the police in ~1 min (*control room → police, joint "
            "control room*; V/E). Train interval, passengers per train, walk-in rate, dwell "
            "times, attack mix and staff skills and costs are estimates (E)."
        ),
        "findings": (
            "Over 30 pairs, the three plans with private staff detect and prevent the same "
            "attacks (13.3 % and 6.7 % of runs, against 10 % and 0 % with police alone) and harm "
            "the same people (40.5 killed + injured per run, against 45.4): how their control "
            "rooms are organised changes when the police hear, and nothing else. The police hear "
            "first from their own patrols (alert path `police:radio`, 70 % of the runs) or from "
            "visitors' calls, because patrols on the concourse see or hear an attack at once. A "
            "private room is first to know in 37-40 % of the runs, and where its message is the "
            "one that decides, separate rooms lose time: the police are alerted on average 25 s "
            "after the attack's start when the operator's and the station's rooms each phone "
            "them, against 0.8 s before it with the shared room and 3.8 s before it with a police"
            " liaison in the operator's room, and the phones lose 2.8 messages per run against "
            "0.9. The link that matters is the one from the private rooms to the police, and a "
            "liaison gives back what the shared room gives. None of it reaches harm, because "
            "attacks in the hall are over in a median 10 s (subdued, detonated or fled), before "
            "any alert can act (events: `message` hops and `police_alerted`, then `attacker_*` "
            "within seconds)."
        ),
    },
    "worship": {
        "represents": (
            "A service for about 300 people in a place of worship: a prayer hall with one main "
            "door and two side exits, volunteers greeting at the door, a forecourt on the "
            "street. This is the small-venue end of the range: the UK Terrorism (Protection "
            "of Premises) Act gives places of worship the standard duty (procedures for "
            "evacuation, invacuation, lockdown and communication) whatever their size. "
            "public_only has a police patrol in the street and volunteers without radios; "
            "public_private adds a licensed guard checking bags at the door, radios and "
            "training for the volunteers, a direct line to the police and a lockdown (doors "
            "shut, people kept in the hall) once an attack is known."
        ),
        "sources": (
            "The duty and its procedures are those of Frames for scenarios (*UK Terrorism "
            "(Protection of Premises) Act 2025*: 200–799 people, standard duty; places of "
            "worship always standard). Volunteers without radios report through Reporting: "
            "*steward → own control room delay*, 5 min or never (Manchester Arena, where the "
            "one report made never reached the control room; V/E); with radios ~30 s (E). The "
            "police patrol in the street corresponds to Attack and response: *first police on "
            "scene, police present at venue*, ~1 min (V/S); the armed unit's median of 9 min "
            "lies within the 5–15 min of *first armed police on scene* (S/V). The guard's bag "
            "check takes the method's defaults (8 s, P 0.35 of catching a firearm or bomb; "
            "E). Crowd movement keeps the Crowd defaults (Weidmann 1993; Hayes & Hayes via "
            "Briggs & Kennedy; V). Congregation size, arrival rate, attack mix and timing, "
            "volunteers' skill and costs are estimates (E)."
        ),
    },
}

START = "<!-- scenario:{name} start -->"
END = "<!-- scenario:{name} end -->"
SECTION_RE = re.compile(
    r"<!-- scenario:(?P<name>\w+) start -->\n(?P<body>.*?)<!-- scenario:(?P=name) end -->",
    re.DOTALL,
)

HEADER = """# Built-in scenarios

This page is generated by `benchmarks/scenario_tables.py`; do not edit it by hand. The text
about each scenario is kept in that script, the numbers come from the scenario files
(`scenarios/*.yaml`, documented in [scenario-format.md](scenario-format.md)) and a paired batch
run by the script. Rows of the project's reference table (REFERENCES.md) are named
*in italics* under their section; basis tags: V read in the source, S secondary report,
E estimate.

In every table, replicate *r* of each configuration saw the same visitors and the same attacker
(common random numbers), so differences are paired. Shares and means come with 95% intervals
(Wilson for shares, bootstrap BCa for means); the difference is public_private minus
public_only with its bootstrap interval; p is two-sided and tests that same difference (exact
McNemar for yes/no outcomes, paired permutation test of the mean for numbers; sections last
generated before 2026-12-03 used the Wilcoxon signed-rank test, and each cell names its test),
Holm-adjusted over the outcomes of the table. Times count
only runs where the event happened. Unless a section says otherwise, every run has an attack
(`threat.probability: 1`): the outcomes are conditional on an attack.

"""


def machine() -> str:
    """CPU model (where the system tells it) and core count."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    model = model or platform.processor() or platform.machine()
    return f"{model}, {os.cpu_count()} cores"


def code_version() -> str:
    """Package version and git commit (with a note when the tree has local changes)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        commit, dirty = "", ""
    version = f"softtarget {softtarget.__version__}"
    if commit:
        version += f", commit {commit}" + (" with local changes" if dirty else "")
    return version


def fmt_duration(seconds: float) -> str:
    """``95`` -> ``1 min 35 s``, ``1200`` -> ``20 min``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")


def para(text: str, prefix: str = "", indent: str = "") -> str:
    """``text`` as one Markdown paragraph wrapped at 100 characters."""
    return textwrap.fill(
        " ".join(text.split()),
        100,
        initial_indent=prefix,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def outcome_table(table: object) -> str:
    """A compact Markdown table: one row per outcome, one column per configuration."""
    import pandas as pd

    assert isinstance(table, pd.DataFrame)
    configurations = [str(c) for c in table[C.CONFIGURATION].cat.categories]
    baseline = str(table.attrs["baseline"])
    others = [c for c in configurations if c != baseline]
    head = ["outcome", f"{baseline} (baseline)", *others]
    for other in others:
        head += [f"{other} − {baseline} [95% CI]", "p, Holm (test)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for outcome, label in KEY_OUTCOMES.items():
        rows = table[table[OUTCOME] == outcome]
        rows = rows.set_index(rows[C.CONFIGURATION].astype(str))
        if rows.empty:
            continue
        share = str(rows[KIND].iloc[0]) == SHARE
        cells = [label]
        for conf in configurations:
            r = rows.loc[conf]
            cells.append(with_ci(r[MEAN], r[MEAN_LOW], r[MEAN_HIGH], share=share))
        for other in others:
            r = rows.loc[other]
            assert str(r[BASELINE]) == baseline
            cells.append(with_ci(r[DIFF], r[DIFF_LOW], r[DIFF_HIGH], share=share, diff=True))
            cells.append(p_with_test(r[P_HOLM], r[TEST]))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: Where the harm falls: (label, numerator columns) of the "where the harm falls" table; each
#: cell is the mean per run of the sum of the columns.
HARM_PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("killed + injured by the attack", (C.KILLED, C.INJURED)),
    ("… outside the perimeter", (C.KILLED_OUTSIDE, C.INJURED_OUTSIDE)),
    ("… of them in a screening queue", (C.KILLED_IN_QUEUE, C.INJURED_IN_QUEUE)),
    ("… before armed police were on scene", (C.KILLED_BEFORE_ARMED, C.INJURED_BEFORE_ARMED)),
    ("crush injuries", (C.CRUSH_INJURED,)),
    ("… after an evacuation order", (C.CRUSH_INJURED_IN_EVACUATION,)),
    ("… outside the perimeter", (C.CRUSH_INJURED_OUTSIDE,)),
]


def explain_tables(runs: object) -> str:
    """Which attacks get through, how they end and where the harm falls, per configuration.

    Three Markdown tables from the runs table: per mode of attack, the runs that drew it, the
    share prevented and the mean harm per run; the share of attacks ending each way; and
    the mean harm per run split by place, phase and cause (the parts of each whole).
    """
    import pandas as pd

    assert isinstance(runs, pd.DataFrame)
    confs = [str(c) for c in runs[C.CONFIGURATION].cat.categories]
    data = runs.assign(**{C.CONFIGURATION: runs[C.CONFIGURATION].astype(str)})
    data = data[data[C.ATTACK_MODE].notna()]
    harm = data[C.KILLED] + data[C.INJURED]
    lines = ["| mode of attack | runs | " + " | ".join(
        f"{c}: prevented, killed + injured, crush" for c in confs) + " |"]  # fmt: skip
    lines.append("|---|---|" + "---|" * len(confs))
    for mode, sub in data.groupby(C.ATTACK_MODE, sort=True):
        cells = [str(mode), str(int((sub[C.CONFIGURATION] == confs[0]).sum()))]
        for c in confs:
            one = sub[sub[C.CONFIGURATION] == c]
            cells.append(
                f"{one[C.ATTACK_PREVENTED].mean():.0%}, {harm[one.index].mean():.1f}, "
                f"{one[C.CRUSH_INJURED].mean():.1f}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    by_mode = "\n".join(lines) + "\n"

    ends = pd.crosstab(data[C.ATTACK_END].astype("string").fillna("not begun"),
                       data[C.CONFIGURATION], normalize="columns")  # fmt: skip
    ends = ends.reindex(columns=confs).fillna(0.0)
    ends = ends.loc[ends.mean(axis=1).sort_values(ascending=False).index]
    lines = ["| how the attack ended | " + " | ".join(confs) + " |", "|---|" + "---|" * len(confs)]
    for end, row in ends.iterrows():
        lines.append(f"| {end} | " + " | ".join(f"{row[c]:.0%}" for c in confs) + " |")
    dur = data.groupby(C.CONFIGURATION)[C.ATTACK_DURATION_S].median()
    lines.append("| *median duration of the attacks that began and ended, s* | "
                 + " | ".join(f"{dur.get(c, float('nan')):.0f}" for c in confs) + " |")  # fmt: skip
    how = "\n".join(lines) + "\n"

    lines = ["| harm, mean per run | " + " | ".join(confs) + " |", "|---|" + "---|" * len(confs)]
    for label, columns in HARM_PARTS:
        if not all(col in data.columns for col in columns):
            continue
        total = data[list(columns)].sum(axis=1).groupby(data[C.CONFIGURATION]).mean()
        lines.append(f"| {label} | " + " | ".join(f"{total.get(c, 0.0):.2f}" for c in confs) + " |")
    where = "\n".join(lines) + "\n"
    return (
        "**Which attacks get through**, per mode of attack (share of that mode's runs where "
        "the attack was prevented; mean killed + injured and crush injuries per run of that "
        "mode, prevented runs counted as 0):\n\n"
        + by_mode
        + "\n**How the attacks ended** (share of runs with an attack; *not begun*: a cell "
        "member still to come at the end of the run):\n\n"
        + how
        + "\n**Where the harm falls** (mean per run with an attack; rows starting with … are "
        "parts of the total above them, and the queue is a part of outside):\n\n" + where
    )


def chain_tables(runs: object) -> str:
    """Who knew first and how the police heard, per configuration (docs/organisations.md).

    One Markdown table: the share of runs in which each organisation's room heard first, the
    median time the first room heard and the police were alerted (from the attack's start),
    the mean number of messages lost, and the two commonest paths of the message that alerted
    the police with their shares.
    """
    import pandas as pd

    from softtarget.analysis import chain

    assert isinstance(runs, pd.DataFrame)
    confs = [str(c) for c in runs[C.CONFIGURATION].cat.categories]
    first = chain.first_to_know(runs)
    paths = chain.alert_paths(runs)
    lines = ["| | " + " | ".join(confs) + " |", "|---|" + "---|" * len(confs)]
    for org in first.columns:
        cells = [f"{first.loc[c, org]:.0%}" if c in first.index else "–" for c in confs]
        lines.append(f"| first to know: {org} | " + " | ".join(cells) + " |")
    for column, label in ((C.T_FIRST_ROOM_S, "a room first heard, median s"),
                          (C.T_POLICE_ALERTED_S, "police alerted, median s")):  # fmt: skip
        med = runs.groupby(C.CONFIGURATION, observed=True)[column].median()
        lines.append(f"| {label} | " + " | ".join(f"{med.get(c, float('nan')):.0f}" for c in confs)
                     + " |")  # fmt: skip
    lost = runs.groupby(C.CONFIGURATION, observed=True)[C.MESSAGES_LOST].mean()
    lines.append("| messages lost per run | " + " | ".join(f"{lost.get(c, 0):.1f}" for c in confs)
                 + " |")  # fmt: skip
    for rank in range(2):
        cells = []
        for c in confs:
            mine = paths[paths[C.CONFIGURATION].astype(str) == c]
            cells.append(
                f"`{mine.iloc[rank][C.ALERT_PATH]}` ({mine.iloc[rank]['share']:.0%})"
                if len(mine) > rank else "–"
            )  # fmt: skip
        lines.append(f"| alert path, {'commonest' if rank == 0 else 'next'} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    return (
        "**Who knew first and how the police heard** (runs with an attack or a detection; "
        "times from the attack's start, negative before it; an alert path lists the hops of "
        "the message that first reached the police room):\n\n" + "\n".join(lines) + "\n"
    )


def run_scenario(name: str, reps: int, workers: int) -> str:
    """Draw the plan, run the batch and return the scenario's section (without markers)."""
    loaded = load_scenario(name)
    sc = loaded.scenario
    plan = save_plan(sc, IMG_DIR / f"{name}_plan.png", PLAN_CONFIGURATION)
    print(f"{name}: plan {plan.relative_to(ROOT)}", file=sys.stderr)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / str(sc.name) / stamp
    tasks = plan_tasks(sc, loaded.hash, replications=reps)
    t0 = time.monotonic()
    summary = run_batch(tasks, out, scenario=sc, scenario_hash=loaded.hash, workers=workers)
    wall = time.monotonic() - t0
    print(
        f"{name}: {summary.n_ok} runs ok, {summary.n_failed} failed, {wall:.0f} s", file=sys.stderr
    )

    runs = analysis.load(out)
    failures = analysis.load_failures(out, missing_ok=True)
    metrics = [m for m in KEY_OUTCOMES if m in runs.columns]
    table = compare(runs, metrics=metrics, failures=failures)

    notes = NOTES.get(name, {})
    n_conf = len(sc.configurations)
    command = (
        f".venv/bin/python benchmarks/scenario_tables.py --reps {reps} --workers {workers}"
        f" --only {name}"
    )
    parts = [f"## {name}\n"]
    if reps < TRIAL_REPS:
        trial = (
            f"**Trial output**: {reps} replications per configuration, run to check the "
            "format of this page; the numbers mean nothing yet. The page is regenerated with "
            f"`--reps {FULL_REPS}` on the final model."
        )
        parts.append(para(trial, "> ", "> ") + "\n")
    parts.append(
        f"![The {name} plan with the {PLAN_CONFIGURATION} staff posts and beats]"
        f"(img/{name}_plan.png)\n\n"
        f"*The plan with the {PLAN_CONFIGURATION} configuration* "
        f"(`softtarget venue {name} --config {PLAN_CONFIGURATION}`).\n"
    )
    parts.append(para(f"**What it represents.** {sc.description}") + "\n")
    if notes.get("represents"):
        parts.append(para(notes["represents"]) + "\n")
    configs = "\n".join(
        para(f"`{c}`: {cfg.description}", "- ", "  ") for c, cfg in sc.configurations.items()
    )
    parts.append(f"**Configurations.**\n\n{configs}\n")
    sources = notes.get("sources", "Not written yet: add this scenario to NOTES in the script.")
    parts.append(para(f"**Sources of the numbers.** {sources}") + "\n")
    attack = (
        ""
        if sc.threat.probability >= 1
        else f"; a run has an attack with probability {sc.threat.probability:g}"
    )
    outcomes = (
        f"**Outcomes**, a {n_conf * reps}-run comparison ({reps} replications per "
        f"configuration, paired; {fmt_duration(sc.run.duration_s)} simulated per run{attack}):"
    )
    parts.append(para(outcomes) + "\n\n" + outcome_table(table))
    parts.append(explain_tables(runs))
    parts.append(chain_tables(runs))
    if notes.get("findings"):
        parts.append(para(f"**What the tables say.** {notes['findings']}") + "\n")
    failed = f", {summary.n_failed} failed" if summary.n_failed else ""
    produced = (
        f"Produced by `{command}` on {datetime.now(UTC):%Y-%m-%d} ({code_version()}, "
        f"scenario hash {loaded.hash[:12]}): {summary.n_ok} runs{failed} in "
        f"{fmt_duration(wall)} wall time with {workers} worker processes on {machine()}. "
        f"Results folder: `{out.relative_to(ROOT)}` (not in git; "
        f"`softtarget compare {out.relative_to(ROOT)}` gives every outcome)."
    )
    parts.append(para(produced) + "\n")
    return "\n".join(parts)


def read_sections(path: Path) -> dict[str, str]:
    """Sections (between markers) of an existing page, by scenario name."""
    if not path.is_file():
        return {}
    return {m["name"]: m["body"] for m in SECTION_RE.finditer(path.read_text(encoding="utf-8"))}


def write_page(path: Path, sections: dict[str, str], names: list[str]) -> None:
    """Write the page: header, contents, then every scenario's section between markers."""
    contents = "\n".join(f"- [{n}](#{n})" for n in names)
    body = []
    for name in names:
        text = sections.get(name) or (
            f"## {name}\n\nNot generated yet: run `.venv/bin/python "
            f"benchmarks/scenario_tables.py --only {name}`.\n"
        )
        body.append(f"{START.format(name=name)}\n{text.rstrip()}\n{END.format(name=name)}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + contents + "\n\n" + "\n".join(body), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--reps", type=int, default=FULL_REPS, help="replications per configuration"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="only this scenario (repeat, or comma-separate, for more)",
    )
    parser.add_argument("--docs", type=Path, default=DOCS, help="page to write")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.workers < 1:
        parser.error("--reps and --workers must be at least 1")
    names = builtin_names()
    chosen = [n for item in args.only for n in item.split(",") if n] or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; built-ins: {', '.join(names)}")
    sections = read_sections(args.docs)
    for name in chosen:
        sections[name] = run_scenario(name, args.reps, args.workers)
        write_page(args.docs, sections, names)  # after each scenario: a crash loses no work
    print(f"wrote {args.docs}", file=sys.stderr)


if __name__ == "__main__":
    main()
