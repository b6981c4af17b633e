"""`--emit-script`: a standalone Python script that recomputes the report's numbers.

It needs no da: a preamble (templates/preamble.py.j2) registers the same DuckDB views over
the same sources, checks their sha256 fingerprints, and defines `sql()` and `load()` as the
sandbox does (and `explain_change`, copied verbatim, when a cell calls it); then every cell
that ran without error follows, in order. The notebook's first cell is the same preamble.
"""

import ast
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from da_cli.data import drivers, facts
from da_cli.report import templates
from da_cli.report.document import Cell, Report
from da_cli.sandbox import forgiving, worker
from da_cli.sandbox.session import ASIDE_LINES

_LOAD = re.compile(r"^LOAD '(?P<path>.+)'$")
_READS_A_FILE = re.compile(r"\b(" + "|".join(forgiving.READERS) + r")\b")
_FIELDS_GIVEN = ", as the names say)"  # forgiving.fields_meant's aside
# What the sandbox says when it forgives a column's spelling, fields' order or a removed
# argument: the script must forgive the same to compute the same.
_FORGIVEN = ('(no column "', _FIELDS_GIVEN, "(no squared= ")


@dataclass
class ScriptCell:
    number: int
    by_da: bool
    title: str
    source: str
    question: str = ""  # repr() of the analysed question: explain_change reads it


def steps(report: Report) -> list[tuple[str, ...]]:
    """The catalog's statements as script steps: da loads DuckDB extensions from files it
    ships (a path only da has), so those become ("extension", name, path) steps that fall
    back to DuckDB's own extension loading."""
    out: list[tuple[str, ...]] = []
    for statement in report.statements:
        m = _LOAD.match(statement)
        if m:
            stem = Path(m.group("path")).name.split(".")[0]
            out.append(("extension", stem.removesuffix("_scanner"), m.group("path")))
        else:
            out.append(("sql", statement))
    return out


def _names(code: str) -> tuple[set[str], set[str]]:
    """The names a cell reads, and those it assigns."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(), set()
    read, stored = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            (stored if isinstance(n.ctx, ast.Store) else read).add(n.id)
    return read, stored


def _context(report: Report, cells: list[Cell]) -> dict:
    """What the preamble needs: the sources, the steps, and which helpers the cells use."""
    read: set[str] = set()
    stored: set[str] = set()
    for c in cells:
        r, s = _names(c.code)
        read |= r
        stored |= s
    # The sandbox loads a table used as a variable on its first use (with one table, `df`
    # and `data` too); the script loads those up front (the ones some cell reads without
    # assigning).
    names = {t: t for t in report.tables}
    if len(report.tables) == 1:
        names.update(dict.fromkeys(forgiving.SINGLE_TABLE_NAMES, report.tables[0]))
    reads_files = any(_READS_A_FILE.search(c.code) for c in cells)
    forgiven = any(aside in c.output for aside in _FORGIVEN for c in cells)
    return {
        "sources": report.sources,
        "steps": steps(report),
        "tables": report.tables,
        "drivers": inspect.getsource(drivers).strip() if "explain_change" in read else "",
        "facts": inspect.getsource(facts).strip() if "survey_fact" in read else "",
        "question": repr(report.question or ""),
        # Also for load(): a table name a cell guessed is resolved as the sandbox did.
        "forgiving": inspect.getsource(forgiving).strip()
        if reads_files or forgiven or "load" in read
        else "",
        "table_variables": [
            (name, table) for name, table in names.items() if name in read and name not in stored
        ],
    }


def as_ran(code: str, output: str) -> str:
    """A cell's code as the sandbox ran it, where its output says the sandbox departed from
    plain Python: `a, b = f(...)` whose fields it gave as the names said reads
    `a, b = fields_meant(f(...), ("a", "b"))` (the script defines it), and
    `a, b = x, g(a)` it assigned one after another reads `a = x` and `b = g(a)`."""
    sequential = {tuple(m.split(", then ")) for m in worker.ONE_AFTER_ANOTHER.findall(output)}
    if _FIELDS_GIVEN not in output and not sequential:
        return code
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    raw = code.encode()
    starts = [0]
    for line in raw.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def span(node: ast.AST) -> tuple[int, int]:  # ast's columns count bytes
        end = starts[node.end_lineno - 1] + (node.end_col_offset or 0)  # type: ignore[attr-defined]
        return starts[node.lineno - 1] + node.col_offset, end  # type: ignore[attr-defined]

    edits = []
    for node in ast.walk(tree) if _FIELDS_GIVEN in output else ():
        names = worker.unpacked_names(node) if isinstance(node, ast.Assign) else None
        if names is not None:
            begin, end = span(node.value)  # type: ignore[attr-defined]
            edits.append((begin, end, f"fields_meant({raw[begin:end].decode()}, {names!r})"))
    for stmt in tree.body:
        found = worker.reads_own_targets(stmt)
        if found and found[0] in sequential:
            values = [raw[slice(*span(v))].decode() for v in stmt.value.elts]  # type: ignore[attr-defined]
            lines = [f"{n} = {v}" for n, v in zip(found[0], values, strict=True)]
            edits.append((*span(stmt), "\n".join(lines)))
    for begin, end, text in sorted(edits, reverse=True):
        raw = raw[:begin] + text.encode() + raw[end:]
    return raw.decode()


def preamble(report: Report) -> str:
    """The setup code alone (the notebook's first cell)."""
    context = _context(report, runnable(report))
    return templates.render("preamble.py.j2", autoescape=False, **context).strip()


def runnable(report: Report) -> list[Cell]:
    """The cells a script replays: those that ran without error."""
    return [c for c in report.cells if not c.error]


def show_last_expression(code: str, output: str = "") -> str:
    """The sandbox printed a cell's last expression, and what the cell assigned when it
    printed nothing else (its recorded `output`, warnings aside, is then that block and
    nothing more); the script must say so explicitly."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    ends_in_expression = bool(tree.body) and isinstance(tree.body[-1], ast.Expr)
    earlier, names = worker.silent_cell_names(tree.body)
    shown = _names_shown(ASIDE_LINES.sub("", output).strip("\n"), earlier, names)
    names_call = f"\n_show_names({', '.join(f'{n}={n}' for n in shown)})" if shown else ""
    if not ends_in_expression:
        return code.rstrip() + names_call if names_call else code
    last = tree.body[-1]
    lines = code.splitlines()
    start, end = last.lineno - 1, (last.end_lineno or last.lineno) - 1
    segment = ast.get_source_segment(code, last) or ""
    if (
        isinstance(last.value, ast.Call)
        and isinstance(last.value.func, ast.Name)
        and last.value.func.id == "print"
    ):
        return code
    # What shares its lines stays (`a = 1; a + 1`); ast's columns count UTF-8 bytes.
    before = lines[start].encode()[: last.col_offset].decode()
    after = lines[end].encode()[last.end_col_offset or len(lines[end].encode()) :].decode()
    shown_line = f"{before}_show({segment}){after}"
    shown_code = "\n".join(lines[:start] + [shown_line] + lines[end + 1 :])
    return shown_code + names_call


def _starts_block(line: str, names: list[str]) -> bool:
    return any(line.startswith(f"{n} = ") or line == f"{n} =" for n in names)


def _names_shown(text: str, earlier: list[str], names: list[str]) -> list[str]:
    """The names whose values make up `text`, if it is all a block the sandbox shows: a
    line (or a few) for each of some earlier names, in order, then the last line's names
    (the first of which is always shown). Text the cell printed itself is not such a block."""
    lines, shown = text.split("\n"), []
    for i, name in enumerate(earlier):
        if lines and lines[0].startswith(f"{name} = "):
            shown.append(name)
            lines.pop(0)
        elif lines and lines[0] == f"{name} =":  # a value of a few lines, up to the next name
            after = earlier[i + 1 :] + names[:1]
            ends = (j for j, line in enumerate(lines[1:], 1) if _starts_block(line, after))
            shown.append(name)
            del lines[: next(ends, len(lines))]
    rest = "\n".join(lines)
    if not names:
        return shown if shown and not rest else []
    if not re.match(rf"{re.escape(names[0])} =[ \n]", rest):
        return []
    return shown + [n for n in names if re.search(rf"^{re.escape(n)} =[ \n]", rest, re.M)]


def render(report: Report, filename: str) -> str:
    cells = runnable(report)
    titles = {c.number: f.title for f in report.findings for c in f.cells}
    asked = {c.number: f.question for f in report.findings for c in f.cells}
    script_cells = [
        ScriptCell(
            c.number,
            c.by_da,
            titles[c.number],
            show_last_expression(as_ran(c.code, c.output), c.output).strip(),
            repr(asked.get(c.number) or ""),
        )
        for c in cells
    ]
    return templates.render(
        "script.py.j2",
        autoescape=False,
        report=report,
        cells=script_cells,
        filename=filename,
        **_context(report, cells),
    )


def write(report: Report, path: Path) -> None:
    path.write_text(render(report, path.name), encoding="utf-8")
    path.chmod(0o755)
