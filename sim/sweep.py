"""Parameter sweeps: a grid (or a list) of scenario variants, each run as an ordinary batch.

A sweep folder holds one results folder per point, ``point_000/``, ``point_001/``, ..., each
written by :func:`softtarget.sim.batch.run_batch` for the scenario loaded with that point's
``--set`` overrides (so each point has its own manifest and scenario hash), and ``sweep.json``, the
index: the swept parameter names and, per point, its folder, overrides and values. Replicate
``r`` has the same seed at every point (common random numbers), unless ``run.seed`` itself
is swept.

Every point is loaded (and so validated) by :func:`load_points` before any run starts, so a
bad parameter path or value is reported at once. :func:`run_points` runs the points in order
and, with ``resume``, skips the complete ones and completes the others.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from softtarget.sim.errors import Problem, ResultsError, ScenarioError
from softtarget.sim.loader import Loaded, load_scenario, parse_override

#: The index file of a sweep (or sensitivity) folder.
SWEEP_FILE: Final = "sweep.json"

#: Format version of ``sweep.json``.
SWEEP_VERSION: Final = 1

KIND_SWEEP: Final = "sweep"
KIND_SENSITIVITY: Final = "sensitivity"


@dataclass(frozen=True)
class Point:
    """One scenario variant of a sweep: its overrides, the values they set, the scenario."""

    index: int
    overrides: tuple[str, ...]
    values: dict[str, Any]
    loaded: Loaded = field(repr=False)

    @property
    def folder(self) -> str:
        """Name of the point's results folder inside the sweep folder."""
        return f"point_{self.index:03d}"


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` at ``sep`` outside brackets, braces and quotes (YAML flow values)."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    current: list[str] = []
    for ch in text:
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def parse_sweep_param(text: str) -> tuple[str, list[str]]:
    """Split ``--param dotted.path=v1,v2,...`` into the path and the raw value texts.

    Raises :class:`ScenarioError` (file ``--param TEXT``) for a missing ``=``, an empty path
    part or an empty value.
    """
    where = f"--param {text}"
    if "=" not in text:
        raise ScenarioError([Problem(where, None, "", "expected PATH=V1,V2,...", "a.b=1,2,3")])
    path, values = (s.strip() for s in text.split("=", 1))
    if not path or not all(path.split(".")):
        raise ScenarioError([Problem(where, None, path, "empty part in the dotted path")])
    raw = split_top_level(values)
    if not values or any(not v for v in raw):
        raise ScenarioError([Problem(where, None, path, "empty value in the list of values")])
    return path, raw


def value_at(data: Any, path: str) -> Any:
    """The value at dotted ``path`` in nested dicts and lists; ``KeyError`` when absent."""
    node = data
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit():
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node


def _resolved(loaded: Loaded, path: str, raw: str) -> Any:
    """The validated value ``path`` has in the loaded scenario (e.g. ``60.0`` for ``1min``)."""
    try:
        value = value_at(loaded.scenario.model_dump(mode="json"), path)
    except (KeyError, IndexError):
        value = None
    if isinstance(value, bool | int | float | str):
        return value
    return parse_override(f"{path}={raw}")[1]


def load_points(
    scenario: str,
    base_overrides: Sequence[str],
    variants: Sequence[Sequence[tuple[str, str, str]]],
) -> list[Point]:
    """Load every variant of ``scenario``; raise one :class:`ScenarioError` with all problems.

    A variant is a list of ``(path, raw value, origin)``: ``origin`` (e.g. ``--param
    a.b=1,2``) replaces ``--set path=value`` in the location of a problem it causes. The
    overrides of a point are ``base_overrides`` then its own.
    """
    points: list[Point] = []
    problems: list[Problem] = []
    for index, variant in enumerate(variants):
        own = tuple(f"{path}={raw}" for path, raw, _ in variant)
        origin = {f"--set {path}={raw}": where for path, raw, where in variant}
        try:
            loaded = load_scenario(scenario, [*base_overrides, *own])
        except ScenarioError as exc:
            for p in exc.problems:
                problem = Problem(origin.get(p.file, p.file), p.line, p.path, p.message, p.allowed)
                if problem not in problems:
                    problems.append(problem)
            continue
        values = {path: _resolved(loaded, path, raw) for path, raw, _ in variant}
        points.append(Point(index, own, values, loaded))
    if problems:
        raise ScenarioError(problems)
    return points


def grid_variants(params: Sequence[str]) -> tuple[list[str], list[list[tuple[str, str, str]]]]:
    """The swept paths and every combination (cartesian product) of ``--param`` values."""
    parsed = [(text, *parse_sweep_param(text)) for text in params]
    paths = [path for _, path, _ in parsed]
    if len(set(paths)) != len(paths):
        dup = next(p for p in paths if paths.count(p) > 1)
        raise ScenarioError([Problem(f"--param {dup}", None, dup, "parameter given twice")])
    axes = [[(path, raw, f"--param {text}") for raw in raws] for text, path, raws in parsed]
    return paths, [list(combo) for combo in itertools.product(*axes)]


def read_index(sweep_dir: str | Path) -> dict[str, Any]:
    """Read ``sweep.json`` of a sweep folder; ``ResultsError`` when missing or unreadable."""
    path = Path(sweep_dir) / SWEEP_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing; {sweep_dir} is not a sweep folder") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: cannot be read: {exc}") from None


def is_sweep(folder: str | Path) -> bool:
    """Whether ``folder`` is a sweep (or sensitivity) folder, i.e. holds ``sweep.json``."""
    return (Path(folder) / SWEEP_FILE).is_file()


def make_index(
    kind: str,
    scenario: str,
    base_overrides: Sequence[str],
    params: Sequence[str],
    points: Sequence[Point],
    *,
    reps: int | None,
    configurations: Sequence[str] | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The content of ``sweep.json`` for ``points``."""
    return {
        "version": SWEEP_VERSION,
        "kind": kind,
        "scenario": scenario,
        "scenario_name": points[0].loaded.scenario.name if points else None,
        "base_overrides": list(base_overrides),
        "params": list(params),
        "reps": reps,
        "configurations": list(configurations) if configurations else None,
        "points": [
            {
                "index": p.index,
                "folder": p.folder,
                "values": p.values,
                "overrides": list(p.overrides),
                "scenario_hash": p.loaded.hash,
            }
            for p in points
        ],
        **(extra or {}),
    }


def prepare_folder(out: Path, index: dict[str, Any], resume: bool) -> None:
    """Create ``out`` and write ``sweep.json``, or check it when resuming.

    Without ``resume`` the folder must not exist or be empty; with it, its ``sweep.json`` must
    list the same points (same scenario hashes). Raises ``ResultsError`` otherwise.
    """
    if out.exists() and not out.is_dir():
        raise ResultsError(f"{out}: exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not resume:
            raise ResultsError(
                f"{out}: the folder exists and is not empty; pass --resume to complete the"
                " sweep there, or choose another --out folder"
            )
        old = read_index(out)
        hashes = [p["scenario_hash"] for p in index["points"]]
        if [p.get("scenario_hash") for p in old.get("points", [])] != hashes or old.get(
            "params"
        ) != index["params"]:
            raise ResultsError(
                f"{out / SWEEP_FILE}: lists other points than the ones given (scenario,"
                " parameters, values or --set changed); --resume needs the very same sweep"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / SWEEP_FILE).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def point_complete(folder: Path, scenario_hash: str) -> bool:
    """Whether ``folder`` holds a complete batch of ``scenario_hash``."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return manifest.get("status") == "complete" and manifest.get("scenario_hash") == scenario_hash


def run_points(
    points: Sequence[Point],
    out: Path,
    *,
    reps: int | None = None,
    configurations: Sequence[str] | None = None,
    workers: int | None = None,
    resume: bool = False,
    on_point: Callable[[Point, str], None] | None = None,
) -> int:
    """Run every point as a batch into ``out/point_NNN``; return the number of failed runs.

    With ``resume`` a complete point is skipped and an incomplete one completed.
    ``on_point(point, message)`` is told after each point. ``KeyboardInterrupt`` propagates
    (the interrupted point's folder is left for ``resume``).
    """
    from softtarget.sim.batch import local_executor, plan_tasks, run_batch

    failed = 0
    executor: ProcessPoolExecutor | None = None
    try:
        for point in points:
            folder = out / point.folder
            if resume and point_complete(folder, point.loaded.hash):
                if on_point:
                    on_point(point, "already complete")
                continue
            if executor is None or getattr(executor, "_broken", False):
                if executor is not None:
                    _stop_pool(executor)
                executor = local_executor(workers)  # one pool for every point: starts once
            tasks = plan_tasks(
                point.loaded.scenario,
                point.loaded.hash,
                configurations=list(configurations) if configurations else None,
                replications=reps,
            )
            summary = run_batch(
                tasks,
                folder,
                workers=executor._max_workers,
                executor=executor,
                resume=resume,
                progress=False,
            )
            failed += summary.n_failed
            if on_point:
                on_point(point, f"{summary.n_ok}/{summary.n_tasks} runs ok")
    except BaseException:
        if executor is not None:
            _stop_pool(executor)
        raise
    if executor is not None:
        executor.shutdown(wait=True)
    return failed


def _stop_pool(executor: ProcessPoolExecutor) -> None:
    """Stop a pool at once: a half-written run leaves only staging files, safe to kill."""
    procs = list((getattr(executor, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.terminate()
    executor.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.join(timeout=5)


__all__ = [
    "KIND_SENSITIVITY",
    "KIND_SWEEP",
    "SWEEP_FILE",
    "Point",
    "grid_variants",
    "is_sweep",
    "load_points",
    "make_index",
    "parse_sweep_param",
    "point_complete",
    "prepare_folder",
    "read_index",
    "run_points",
    "split_top_level",
    "value_at",
]
