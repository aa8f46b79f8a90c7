"""Start-up: the command line imports nothing heavy; numba's cache goes to a per-user folder."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = {"numba", "seaborn", "solara", "mesa", "dask", "distributed", "pyarrow", "scipy"}


def _python(code: str, env: dict[str, str] | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _env_without_cache_settings(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"NUMBA_CACHE_DIR", "XDG_CACHE_HOME"}}
    env["HOME"] = str(home)
    return env


def test_the_command_line_imports_nothing_heavy():
    code = (
        "import softtarget.cli; import sys; print(sorted(m for m in sys.modules"
        f" if m.split('.')[0] in {sorted(HEAVY)!r}))"
    )
    assert ast.literal_eval(_python(code)) == []


def test_help_and_version_run_without_the_model():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from softtarget.cli import main\n"
        "for args in (['--help'], ['--version'], ['batch', '--help']):\n"
        "    result = CliRunner().invoke(main, args)\n"
        "    assert result.exit_code == 0, result.output\n"
        "print(result.output.splitlines()[0])\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(HEAVY)!r}))\n"
    )
    first, loaded = _python(code).splitlines()[-2:]
    assert first.startswith("Usage: ")
    assert ast.literal_eval(loaded) == []


def test_version_is_read_on_first_use():
    out = _python(
        "import sys, softtarget\n"
        "print('importlib.metadata' in sys.modules, '__version__' in vars(softtarget))\n"
        "print(softtarget.__version__)\n"
    )
    lazy, version = out.splitlines()
    assert lazy == "False False"
    assert version and version[0].isdigit()


@pytest.mark.slow
def test_numba_cache_goes_to_the_users_cache_folder(tmp_path):
    """Without NUMBA_CACHE_DIR the kernels are cached under ~/.cache/softtarget/numba.

    One small kernel of the lattice is compiled (a cold compile of every kernel, as a run
    does, costs some 40 s of CPU and tells nothing more about where the cache goes).
    """
    env = _env_without_cache_settings(tmp_path)
    code = (
        "import os, numpy as np, softtarget\n"
        "from softtarget.sim.motion import _kernels\n"
        "_kernels.box_density(np.full((3, 3), -1, dtype=np.int32), 1, 0.16)\n"
        "print(os.environ['NUMBA_CACHE_DIR'])\n"
    )
    shown = _python(code, env)
    folder = tmp_path / ".cache" / "softtarget" / "numba"
    assert Path(shown.splitlines()[-1]) == folder
    assert list(folder.rglob("*.nbi")), "no numba index written"
    assert list(folder.rglob("*.nbc")), "no compiled kernel written"


def test_xdg_cache_home_is_used(tmp_path):
    env = _env_without_cache_settings(tmp_path / "home")
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    shown = _python("import os, softtarget; print(os.environ['NUMBA_CACHE_DIR'])", env)
    assert Path(shown) == tmp_path / "xdg" / "softtarget" / "numba"


def test_a_custom_numba_cache_dir_is_respected(tmp_path):
    custom = tmp_path / "custom"
    env = _env_without_cache_settings(tmp_path / "home")
    env["NUMBA_CACHE_DIR"] = str(custom)
    code = (
        "import os, softtarget\n"
        "from softtarget.sim.motion import _kernels\n"  # cache=True: numba makes its folder
        "from numba.core import config\n"
        "print(os.environ['NUMBA_CACHE_DIR']); print(config.CACHE_DIR)\n"
    )
    assert _python(code, env).splitlines()[-2:] == [str(custom), str(custom)]
    assert custom.is_dir() and any(custom.iterdir())
    assert not (tmp_path / "home" / ".cache").exists()


def test_numba_imported_first_still_gets_the_folder(tmp_path):
    env = _env_without_cache_settings(tmp_path)
    code = "import numba, softtarget\nfrom numba.core import config\nprint(config.CACHE_DIR)\n"
    assert Path(_python(code, env)) == tmp_path / ".cache" / "softtarget" / "numba"


def test_an_unwritable_cache_folder_falls_back_to_the_temporary_folder(monkeypatch, tmp_path):
    from softtarget import _numba_cache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _numba_cache.default_cache_dir() == tmp_path / "xdg" / "softtarget" / "numba"
    monkeypatch.setattr(_numba_cache, "_can_create", lambda path: False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    assert _numba_cache.default_cache_dir().is_relative_to(tmp_path / "tmp")


def test_can_create_sees_files_and_missing_folders(tmp_path):
    from softtarget._numba_cache import _can_create

    assert _can_create(tmp_path / "a" / "b")
    (tmp_path / "file").write_text("x")
    assert not _can_create(tmp_path / "file" / "below")
