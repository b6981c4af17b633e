"""llama.cpp's Hugging Face → GGUF converter, fetched offline-friendly from PyPI.

The converter is not on PyPI as a package, and the `gguf` package there lags behind it
(`AttributeError: DFLASH`). But the llama-cpp-python sdist vendors llama.cpp whole:
`convert_hf_to_gguf.py`, its `conversion/` modules and the matching `gguf-py`. The sdist of
the installed llama-cpp-python version (so the GGUF it writes is one the bindings load) is
downloaded once with pip and just those files are kept in the cache (~4 MB).

    python -m train.converter        # prefetch (make install does this); prints the script path
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from da_cli import paths
from da_cli.errors import ModelError

SCRIPT = "convert_hf_to_gguf.py"
_KEEP = (SCRIPT, "conversion/", "gguf-py/")


def version() -> str:
    try:
        return importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError as e:
        raise ModelError("llama-cpp-python is not installed.") from e


def converter_dir() -> Path:
    return paths.cache_dir() / "train" / f"llama.cpp-{version()}"


def script() -> Path:
    """The converter script, fetched first if it is not in the cache."""
    path = converter_dir() / SCRIPT
    return path if path.is_file() else fetch()


def fetch() -> Path:
    """Download the llama-cpp-python sdist with pip and keep the converter from it."""
    dest = converter_dir()
    if (dest / SCRIPT).is_file():
        return dest / SCRIPT
    ver = version()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fetch-") as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", f"llama-cpp-python=={ver}", "--dest", tmp,
        ]  # fmt: skip
        r = subprocess.run(cmd, capture_output=True, text=True)
        sdists = list(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if r.returncode != 0 or not sdists:
            last = (r.stderr.strip().splitlines() or ["no sdist downloaded"])[-1]
            raise ModelError(
                f"Could not download the llama-cpp-python {ver} source for its GGUF converter: "
                f"{last}",
                hint="It needs pip's index (or pip's cache) once; "
                "run `python -m train.converter` where PyPI is reachable.",
            )
        staging = Path(tmp) / "converter"
        _extract(sdists[0], f"llama_cpp_python-{ver}/vendor/llama.cpp/", staging)
        if not (staging / SCRIPT).is_file():
            raise ModelError(f"The llama-cpp-python {ver} source has no {SCRIPT}.")
        shutil.rmtree(dest, ignore_errors=True)
        staging.rename(dest)
    return dest / SCRIPT


def _extract(sdist: Path, prefix: str, into: Path) -> None:
    with tarfile.open(sdist) as tar:
        for m in tar.getmembers():
            if not m.name.startswith(prefix) or not m.isfile():
                continue
            rel = m.name[len(prefix) :]
            if rel.startswith(_KEEP) and rel.endswith((".py", ".toml", ".json", ".txt")):
                m.name = rel
                tar.extract(m, into, filter="data")


if __name__ == "__main__":
    try:
        print(fetch())
    except ModelError as e:
        print(f"Error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
