"""Namespace isolation for the code worker, with bubblewrap when it is installed and works.

Inside: no network (a fresh network namespace with only its own loopback), its own PID
namespace (it can neither see nor signal the CLI, and everything in it dies with it), a
read-only view of just what Python needs (system dirs, the Python install, da's package,
the DuckDB extensions) plus each source file, read-only at its own path, and one writable
workspace. Everything else of the host file system (home directory, other data) is absent.
Without bubblewrap (macOS, or a kernel without user namespaces) the worker runs with
rlimits only, and `level()` says so.
"""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from da_cli import paths

NAMESPACES = "namespaces (bubblewrap): no network, read-only system, writable workspace only"
RLIMITS_ONLY = (
    "rlimits only: network and file reads are not contained "
    "(install bubblewrap, e.g. apt-get install bubblewrap)"
)


@functools.cache
def bubblewrap() -> str | None:
    """The bwrap binary, if it can actually create namespaces here."""
    path = shutil.which("bwrap")
    if not path:
        return None
    probe = [path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"]
    try:
        ok = subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return path if ok else None


def level(mode: str = "auto") -> str:
    return NAMESPACES if mode != "none" and bubblewrap() else RLIMITS_ONLY


SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc", "/opt")


def _system_mounts() -> list[str]:
    args: list[str] = []
    for top in SYSTEM_DIRS:
        p = Path(top)
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), top]
        elif p.is_dir():
            args += ["--ro-bind", top, top]
    return args


def readable_roots() -> list[Path]:
    """What Python and da need to run: the interpreter's installs, da's own package, the
    DuckDB extension copies, and every other install location on sys.path."""
    package = Path(__file__).resolve().parents[1]
    interpreter = Path(sys.executable).resolve().parent
    roots = {Path(sys.prefix), Path(sys.base_prefix), package, interpreter}
    roots.add(paths.cache_dir() / "duckdb")
    roots.update(install_dirs())
    return sorted(r.resolve() for r in roots if r.exists())


def install_dirs() -> list[Path]:
    """The sys.path entries outside the prefix that hold installed distributions (the user
    site of `pip install --user`, a path a .pth file adds): without them the worker cannot
    import pandas or DuckDB. An entry with no *.dist-info in it (the current directory
    that `python -m` puts first) is not bound: it may be the user's home."""
    found = []
    for entry in sys.path:
        folder = Path(entry) if entry else None
        if folder is not None and folder.is_dir() and next(folder.glob("*.dist-info"), None):
            found.append(folder)
    return found


def symlinks_on(path: str) -> list[tuple[str, str]]:
    """(target, link) for every symbolic link met while resolving `path`, in the order met.
    A venv reached through a linked folder (`venvlink/bin/python`) must be found at the
    same path inside the namespaces, or Python cannot start there or loses its venv."""
    found: list[tuple[str, str]] = []
    todo = list(Path(os.path.abspath(path)).parts)
    current = Path(todo.pop(0))
    while todo and len(found) < 40:  # 40: the kernel's own bound on a link chain
        current = current / todo.pop(0)
        if current.is_symlink():
            target = os.readlink(current)
            found.append((target, str(current)))
            todo = list(Path(os.path.abspath(current.parent / target)).parts) + todo
            current = Path(todo.pop(0))
    return found


def wrap(
    command: list[str],
    *,
    workspace: Path,
    scratch: Path,
    sources: list[str],
    placed: dict[str, str] | None = None,
    mode: str = "auto",
) -> list[str]:
    """`command` run inside the namespaces, or unchanged when they are not available.
    `placed`: path in the workspace -> source, bound there read-only as well."""
    bwrap = bubblewrap() if mode != "none" else None
    if bwrap is None:
        return command
    # --cap-drop ALL: run as root, the worker would otherwise keep every capability
    # inside, enough to remount a read-only source writable.
    args = [bwrap, "--die-with-parent", "--unshare-all", "--new-session", "--cap-drop", "ALL"]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    args += _system_mounts()
    roots = readable_roots()
    for root in roots:
        args += ["--ro-bind", str(root), str(root)]
    # The interpreter's own path, as `command` names it, where links lead outside what is
    # bound above (a link inside a bound folder is already there, and read-only).
    bound = [*map(Path, SYSTEM_DIRS), *roots]
    for target, link in symlinks_on(command[0]):
        if not any(Path(link).is_relative_to(b) for b in bound):
            args += ["--symlink", target, link]
    for src in sources:
        args += ["--ro-bind", src, src]
    for rw in (workspace, scratch):
        args += ["--bind", str(rw), str(rw)]
    for inside, src in (placed or {}).items():
        args += ["--ro-bind", src, inside]
    # The directories bubblewrap made to hold those mounts live in writable tmpfs: make
    # them read-only too, so a write anywhere but the workspace fails instead of landing
    # somewhere the user never sees (TMPDIR points into the scratch dir).
    args += ["--remount-ro", "/tmp", "--remount-ro", "/"]
    return [*args, "--chdir", str(workspace), "--", *command]
