"""The wheel installs one package, ``softtarget``, and works next to a user's own folders.

The folders sim/, analysis/ and scenarios/ of the repository install as softtarget.sim,
softtarget.analysis and softtarget.scenarios (pyproject.toml's package-dir). The wheel is built
from a copy of the source (a build writes build/ and *.egg-info next to pyproject.toml), without
build isolation when the environment has ``wheel`` and setuptools >= 68, else with it (pip then
fetches the build requirements from its index).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Source folder -> where its files land in the wheel.
FOLDERS = {
    "softtarget": "softtarget",
    "sim": "softtarget/sim",
    "analysis": "softtarget/analysis",
    "scenarios": "softtarget/scenarios",
}
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _can_build_without_isolation() -> bool:
    if importlib.util.find_spec("wheel") is None:
        return False
    import setuptools

    return int(setuptools.__version__.split(".")[0]) >= 68


def _run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the working tree."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for folder in FOLDERS:
        shutil.copytree(ROOT / folder, src / folder, ignore=IGNORE)
    isolation = ["--no-build-isolation"] if _can_build_without_isolation() else []
    out = tmp / "dist"
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-w", str(out), "."]
    done = _run(cmd, cwd=src, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    wheels = list(out.glob("softtarget-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def names(wheel) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def _source_files(pattern: str) -> dict[str, Path]:
    """Wheel name -> source file, for every file matching ``pattern`` in the package folders."""
    found = {}
    for folder, target in FOLDERS.items():
        for path in (ROOT / folder).rglob(pattern):
            rel = path.relative_to(ROOT / folder)
            if "__pycache__" not in rel.parts:
                found[f"{target}/{rel.as_posix()}"] = path
    return found


def test_the_wheel_holds_only_the_softtarget_package(names):
    tops = {name.split("/", 1)[0] for name in names}
    dist_info = {t for t in tops if t.startswith("softtarget-") and t.endswith(".dist-info")}
    assert len(dist_info) == 1, tops
    assert tops == {"softtarget", *dist_info}, f"unexpected top-level entries: {tops}"
    for generic in ("sim/", "analysis/", "scenarios/"):
        assert not any(name.startswith(generic) for name in names), generic


def test_the_wheel_declares_one_top_level_name_and_the_command(wheel, names):
    info = next(n.split("/", 1)[0] for n in names if ".dist-info/" in n)
    with zipfile.ZipFile(wheel) as zf:
        if f"{info}/top_level.txt" in names:
            assert zf.read(f"{info}/top_level.txt").decode().split() == ["softtarget"]
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    assert "softtarget = softtarget.cli:run_main" in entry_points


def test_the_wheel_holds_every_module_of_the_source(names):
    """A subpackage missing from pyproject's explicit ``packages`` list would be left out."""
    modules = _source_files("*.py")
    assert "softtarget/sim/motion/__init__.py" in modules
    missing = sorted(set(modules) - set(names))
    assert not missing, f"modules left out of the wheel (pyproject [tool.setuptools]): {missing}"
    assert any(name.startswith("softtarget/sim/motion/") for name in names)


def test_the_wheel_holds_the_builtin_scenarios(names):
    yamls = _source_files("*.yaml")
    assert "softtarget/scenarios/festival.yaml" in yamls
    assert "softtarget/scenarios/examples/my_venue.yaml" in yamls
    missing = sorted(set(yamls) - set(names))
    assert not missing, f"scenario files left out of the wheel: {missing}"


# --- next to a user's own sim/ and analysis/ ---------------------------------------------------


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory) -> Path:
    """A user's working folder with packages of the generic names softtarget must not import."""
    folder = tmp_path_factory.mktemp("user")
    for name in ("analysis", "sim", "scenarios"):
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(
            f'raise ImportError("the user\'s own {name} package was imported")\n'
        )
    return folder


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory, wheel) -> Path:
    """A Python with the wheel installed and the venv's other packages, not its editable one.

    A new virtual environment whose site-packages holds the wheel and a ``.pth`` line naming
    the venv's site-packages: that folder is then on ``sys.path``, but the ``.pth`` files in it
    (the editable install's finder, which would supply modules the wheel lacks) do not run.
    """
    env_dir = tmp_path_factory.mktemp("venv")
    done = _run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], cwd=env_dir)
    assert done.returncode == 0, done.stderr
    python = env_dir / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                cwd=env_dir)  # fmt: skip
    purelib = Path(site.stdout.strip())
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (purelib / "venv-packages.pth").write_text("\n".join(ours) + "\n")
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index"]
    cmd += ["--target", str(purelib), str(wheel)]
    done = _run(cmd, cwd=env_dir)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return python


@pytest.fixture(params=["editable", "wheel"])
def python(request) -> str:
    """A Python that imports the installed softtarget: the venv's (editable) or the wheel's."""
    if request.param == "wheel":
        return str(request.getfixturevalue("wheel_python"))
    return sys.executable


def test_the_command_line_runs_next_to_a_users_packages(user_folder, python):
    done = _run([python, "-m", "softtarget", "scenarios"], cwd=user_folder, env=ENV)
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    assert {"festival", "stadium", "station", "worship"} <= set(listed)


def test_the_api_runs_next_to_a_users_packages(user_folder, python):
    code = (
        "import softtarget\n"
        "sc = softtarget.load_scenario('festival')\n"
        "assert softtarget.Model.__name__ == 'SoftTargetModel'  # every module of the model\n"
        "print(sc.name, softtarget.__file__)\n"
    )
    done = _run([python, "-c", code], cwd=user_folder, env=ENV)
    assert done.returncode == 0, done.stderr
    name, file = done.stdout.split()
    assert name == "festival"
    source_tree = Path(file).is_relative_to(ROOT)
    assert source_tree == (python == sys.executable), file  # the wheel's copy, for the wheel
