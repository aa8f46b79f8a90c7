"""A few rows of the built-in festival's runs table, pinned at fixed seeds.

The runs are the built-in festival's, cut to their first 20 minutes (``OVERRIDES``): both
attacks drawn for the pinned replicates start within it (at 12 and 18 minutes), so the rows
hold screening, detection, an attack and its end, flight and casualties, for two thirds of the
cost of the full 30 minutes.

Any change to the model that moves these rows must be deliberate: regenerate the reference
with ``python tests/test_pinned_rows.py --update`` and say in the commit why the rows moved.
"""

from __future__ import annotations

import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from softtarget.sim import columns as C
from softtarget.sim.loader import load_scenario
from softtarget.sim.model import simulate
from softtarget.sim.runs import RunTask, run_seed

REFERENCE = Path(__file__).resolve().parent / "reference" / "festival_rows.json"
#: (configuration, replicate) of the pinned runs: both plans, two replicates.
PINNED = [("public_only", 0), ("public_private", 0), ("public_only", 3), ("public_private", 3)]
#: The built-in festival, its first 20 minutes.
OVERRIDES = ["run.duration_s=20min"]
#: Columns that depend on the machine, not the model.
UNPINNED = {C.WALL_TIME_S}


def _row(job: tuple[str, int]) -> dict:
    configuration, replicate = job
    loaded = load_scenario("festival", OVERRIDES)
    sc = loaded.scenario
    task = RunTask(sc, loaded.hash, configuration, replicate, run_seed(sc.run.seed, replicate))
    row = simulate(task).row
    return {k: v for k, v in row.items() if k not in UNPINNED and k != C.RUN_ID}


def _rows() -> list[dict]:
    with ProcessPoolExecutor(2) as pool:
        return list(pool.map(_row, PINNED))


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
    return a == b


@pytest.mark.slow
def test_festival_rows_are_as_pinned():
    expected = json.loads(REFERENCE.read_text())
    got = _rows()
    assert len(expected) == len(got)
    for want, have in zip(expected, got, strict=True):
        moved = {k: (want[k], have.get(k)) for k in want if not _same(want[k], have.get(k))}
        assert not moved, f"{want[C.CONFIGURATION]} replicate {want[C.REPLICATE]}: {moved}"
        assert set(have) == set(want)


if __name__ == "__main__":
    if "--update" in sys.argv:
        REFERENCE.parent.mkdir(exist_ok=True)
        REFERENCE.write_text(json.dumps(_rows(), indent=1, allow_nan=True) + "\n")
        print(f"wrote {REFERENCE}")
