"""The layering the tree shows, checked by reading every module's imports (function-level
imports included), so a change cannot break it silently:

- the library never imports the CLI, the training code or a terminal library;
- models know no protocol, and rendering (`report/`) knows no model, agent or research;
- a CLI module imports no other CLI module but the shared console;
- there are no import cycles between modules;
- one composition: only the session constructs a Sandbox and runs the agent loop.
"""

import ast
from pathlib import Path

from conftest import ROOT

PACKAGES = ("da_cli", "train")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for pkg in PACKAGES
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if "configs" not in p.parts
    }


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import names (`da_cli.x.y` may be a module or a name in
    package `da_cli.x`), or None for a third-party import."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module: str) -> set[str]:
    """Every module `module` imports: project modules by name, others by top-level name."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    is_package = MODULES[module].name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out.add(_resolve(a.name) or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                pkg = module.split(".")
                pkg = pkg if is_package else pkg[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            for a in node.names:
                target = _resolve(f"{base}.{a.name}") or _resolve(base)
                out.add(target or base.split(".")[0])
    out.discard(module)
    return out


def _under(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(rule: str, modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{rule}: {m} imports {dep}"
        for m in modules
        for dep in sorted(imports(m))
        if _under(dep, *forbidden)
    ]


def test_the_library_never_imports_the_cli_training_or_a_terminal_library():
    library = [
        m for m in MODULES if _under(m, "da_cli") and not _under(m, "da_cli.cli", "da_cli.__main__")
    ]
    assert library, "no library modules found"
    assert violations("library", library, ("da_cli.cli", "train", "typer", "rich", "click")) == []


def test_models_know_no_protocol_and_rendering_knows_no_model():
    models = [m for m in MODULES if _under(m, "da_cli.models")]
    report = [m for m in MODULES if _under(m, "da_cli.report")]
    assert models and report
    assert violations("models", models, ("da_cli.agent", "da_cli.research", "da_cli.report")) == []
    assert (
        violations(
            "rendering",
            report,
            ("da_cli.models", "da_cli.agent", "da_cli.research", "da_cli.eval", "da_cli.synth"),
        )
        == []
    )


def test_cli_modules_share_only_the_console():
    cli = [m for m in MODULES if _under(m, "da_cli.cli") and m != "da_cli.cli"]
    bad = [
        f"{m} imports {dep}"
        for m in cli
        for dep in imports(m)
        if _under(dep, "da_cli.cli") and dep != "da_cli.cli.console"
    ]
    assert bad == []


def test_there_are_no_import_cycles():
    graph = {m: {d for d in imports(m) if d in MODULES} for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            strongconnect(v)
    assert cycles == []


def _calls(module: str) -> set[str]:
    """Dotted names this module calls (`Sandbox`, `loop.run`, …)."""
    out = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name):
                out.add(f.id)
            elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                out.add(f"{f.value.id}.{f.attr}")
    return out


def test_only_the_session_composes_an_analysis():
    # The sandbox package may start a worker of its own (its health check, for da doctor).
    builds = sorted(
        m for m in MODULES if "Sandbox" in _calls(m) and not _under(m, "da_cli.sandbox")
    )
    runs = sorted(m for m in MODULES if "loop.run" in _calls(m))
    assert builds == ["da_cli.agent.session"]
    assert runs == ["da_cli.agent.session"]


def test_the_checker_sees_a_violation_and_a_cycle(monkeypatch, tmp_path):
    # The rules above must be able to fail: a module importing the CLI, and a cycle.
    (tmp_path / "a.py").write_text("from da_cli.cli import console\nimport b\n")
    (tmp_path / "b.py").write_text("def f():\n    import a\n")
    monkeypatch.setitem(MODULES, "a", tmp_path / "a.py")
    monkeypatch.setitem(MODULES, "b", tmp_path / "b.py")
    assert imports("a") == {"da_cli.cli.console", "b"}
    assert imports("b") == {"a"}
    found = violations("library", ["a"], ("da_cli.cli",))
    assert found == ["library: a imports da_cli.cli.console"]
