"""Where `da` keeps user state. Everything lives under `DA_HOME` when it is set (tests point
it at a temp dir); otherwise under the platform's user dirs. Models are big and shared, so
they have their own override, `DA_CACHE_DIR`, that tests leave alone."""

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

from da_cli.errors import SetupError


def home() -> Path | None:
    value = os.environ.get("DA_HOME")
    return Path(value) if value else None


def cache_dir() -> Path:
    value = os.environ.get("DA_CACHE_DIR")
    if value:
        return Path(value)
    return Path(user_cache_dir("da"))


def data_dir() -> Path:
    base = home()
    return base / "data" if base else Path(user_data_dir("da"))


def models_dir() -> Path:
    return cache_dir() / "models"


def derived_dir() -> Path:
    """Things derived from the user's sources (data profiles, UTF-8 copies of legacy
    encoded files): small, rebuildable, and kept under `DA_HOME` when tests set it."""
    base = home()
    return base / "cache" if base else cache_dir() / "derived"


def ensure(folder: Path) -> Path:
    """`folder`, created if need be and writable, or a SetupError that says so in one
    sentence (a `DA_HOME` that is a file, or read-only, is a setup problem, not a crash)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as e:
        base = f"DA_HOME ({home()})" if home() else "its user folder"
        raise SetupError(
            f"da cannot write to {folder} in {base}: {e.strerror or e}.",
            hint="Point DA_HOME at a writable folder, or unset it.",
        ) from e
    return folder
