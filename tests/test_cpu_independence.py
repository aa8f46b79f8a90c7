"""The same run gives the same row and events on any CPU numpy may find.

numpy picks, when it is imported, an implementation of many functions for the machine's CPU:
sorting (on AVX-512 an unstable ``argsort`` orders ties differently), ``exp``, ``log``,
``expm1``, ``arctan2``, ``power`` (on AVX-512, implementations with other last bits). A model
that sorts ties or calls those functions gives another table on another machine, so a batch
spread over a cluster of mixed machines, or the pinned rows on another laptop, would not
reproduce. The model therefore sorts stably and computes those functions through the C
library (``tests/test_architecture.py`` checks the source for it).

Here the first 2 minutes of a pinned festival run are repeated in child processes, each with
the CPU features numpy dispatches to switched off from one level up
(``NPY_DISABLE_CPU_FEATURES``; the last runs numpy's baseline code), and each must match the
run made with every feature on: its events log, its outcome row so far, and at every step the
positions of every visitor and attacker. Before the stable sort, replicate 0 of
``public_only`` parted at once: the attacker on reconnaissance headed for another of several
equally dense cells, and 20 minutes later the row pinned on an AVX2 machine said "prevented"
where an AVX-512 machine said "detonated". On a machine whose CPU has no feature beyond
numpy's baseline there is nothing to switch off, and the test is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

CHILD = r"""
import hashlib, json
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import SoftTargetModel
from softtarget.sim.runs import run_seed

sc = load_scenario("festival", ["run.duration_s=20min"]).scenario  # the pinned rows' runs
model = SoftTargetModel(sc, "public_only", run_seed(sc.run.seed, 0))
state = hashlib.sha256()  # every step: where everyone is, and each attacker
for _ in range(round(120 / sc.run.dt_s)):  # their first 2 minutes
    model.step()
    state.update(model.crowd.xy.tobytes())
    for a in model.threat.attackers:
        state.update(a.pos.tobytes())
row = model.outcome()
model.close()
print(json.dumps({"row": row, "events": model.events, "state": state.hexdigest()}, default=str))
"""


def _run(disable: list[str]) -> dict:
    env = dict(os.environ)
    env.pop("NPY_DISABLE_CPU_FEATURES", None)
    if disable:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(disable)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@pytest.mark.slow
def test_a_run_does_not_depend_on_the_cpu_features_numpy_uses():
    found = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    if not found:
        pytest.skip("this CPU has no feature beyond numpy's baseline to switch off")
    full = _run([])
    assert any(e[1] == "reconnaissance_start" for e in full["events"])  # an attacker is about
    for level in range(len(found)):  # every level numpy could pick: the highest ones switched off
        lower = _run(found[level:])
        off = " ".join(found[level:])
        assert full["row"] == lower["row"], off
        assert full["events"] == lower["events"], off
        assert full["state"] == lower["state"], off
