import hashlib
import sys

import pytest

from da_cli.errors import ModelError
from da_cli.models import load_model
from da_cli.models.catalog import EmbeddedModel, assemble, is_assembled, verify


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
