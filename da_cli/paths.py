"""Where `da` keeps user state. Everything lives under `DA_HOME` when it is set (tests point
it at a temp dir); otherwise under the platform's user dirs. Models are big and shared, so
they have their own override, `DA_CACHE_DIR`, that tests leave alone."""

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir


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
