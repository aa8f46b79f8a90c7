"""Where numba keeps the compiled kernels: a per-user folder, so a read-only install works.

The lattice kernels are compiled with ``cache=True``. By default numba writes that cache
next to the source, in ``__pycache__``, which fails in a read-only install (a system
site-packages, a container image) and makes every worker process compile the kernels
again. :func:`configure` therefore sets ``NUMBA_CACHE_DIR``, unless the user has set it, to
``$XDG_CACHE_HOME/softtarget/numba`` (default ``~/.cache/softtarget/numba``), or to a folder
in the temporary directory when the home folder cannot be written. Worker processes inherit
the variable. ``import softtarget`` calls it, before any module of the package imports numba.

It only reads the environment and checks that a folder can be created: no folder is made
here (numba makes it when it first writes a kernel).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

__all__ = ["ENV", "configure", "default_cache_dir"]

#: The variable numba reads.
ENV = "NUMBA_CACHE_DIR"


def _can_create(path: Path) -> bool:
    """Whether ``path`` exists as a writable folder or could be created as one."""
    for folder in (path, *path.parents):
        if folder.exists():
            return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
    return False


def default_cache_dir() -> Path:
    """The per-user folder for the kernels.

    ``$XDG_CACHE_HOME/softtarget/numba``, else ``~/.cache/softtarget/numba``; a per-user
    folder in the temporary directory when neither can be written.
    """
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    candidates = []
    if base and os.path.isabs(base):
        candidates.append(Path(base) / "softtarget" / "numba")
    with contextlib.suppress(RuntimeError, KeyError):  # no home folder can be determined
        candidates.append(Path.home() / ".cache" / "softtarget" / "numba")
    for path in candidates:
        if _can_create(path):
            return path
    import tempfile

    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"softtarget-{user}" / "numba"


def configure() -> str:
    """Set ``NUMBA_CACHE_DIR`` to :func:`default_cache_dir` unless it is set; return its value.

    A value the user gave (even one numba cannot use: numba then falls back to its own
    locations) is left alone. If numba was imported before softtarget, its configuration is
    reloaded so that the kernels compiled afterwards use the folder too.
    """
    given = os.environ.get(ENV, "")
    if given:
        return given
    value = str(default_cache_dir())
    os.environ[ENV] = value
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba read the environment already
        config.reload_config()  # type: ignore[attr-defined]
    return value
