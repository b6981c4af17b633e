"""The report as a Jupyter notebook: the narrative as Markdown cells and every code cell
with the outputs it had (text and figures), so it reads like the analysis as it ran. Its
first code cell is the script's preamble, so Run All recomputes it outside da."""

import base64
from pathlib import Path

import nbformat
from nbformat import v4

from da_cli.report import script
from da_cli.report.document import Cell, Report

_FIGURE_LINE = "[figure saved: "


def _outputs(c: Cell) -> list:
    text = "\n".join(x for x in c.output.splitlines() if not x.startswith(_FIGURE_LINE))
    outs = []
    if text.strip() and text.strip() != "(no output)":
        outs.append(v4.new_output("stream", name="stderr" if c.error else "stdout", text=text))
    for f in c.figures:
        png = base64.b64encode(Path(f.path).read_bytes()).decode("ascii")
        outs.append(
            v4.new_output(
                "display_data",
                data={"image/png": png, "text/plain": f"<Figure {f.number}: {f.caption}>"},
            )
        )
    return outs


def build(report: Report) -> nbformat.NotebookNode:
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["da"] = {"schema": report.schema, "model": report.model, "created": report.created}
    survey = report.kind == "survey"
    head = [f"# {report.title}", f"*{report.subtitle}* · {report.created} · model {report.model}"]
    head += ["## Executive summary" if survey else "## Answer"]
    if report.question:
        head.append(f"**Question:** {report.question}")
    head.append(report.summary)
    cells = [v4.new_markdown_cell("\n\n".join(head))]
    cells.append(
        v4.new_markdown_cell(
            "## Setup\nThe tables as da registered them (read-only DuckDB views over the "
            "sources), with `sql()` and `load()` as in da's sandbox. Run all cells to recompute."
        )
    )
    cells.append(v4.new_code_cell(script.preamble(report)))
    count = 0
    for i, f in enumerate(report.findings, 1):
        text = [f"## {i}. {f.title}" if survey else "## How it was found"]
        if f.reading:
            text.append(f"**Made by da:** {f.reading}")
        if f.table:
            text.append(f.table)
        if survey and f.question and (f.answer or not f.reading):
            text.append(f"*The model's own analysis. Asked: {f.question}*")
            why = f.set_aside_why or "stated no number an output showed"
            text.append(f.answer or f"*Its answer {why}, so it is left out.*")
        cells.append(v4.new_markdown_cell("\n\n".join(text)))
        for c in f.cells:
            who = "made by da" if c.by_da else "written by the model"
            note = f"*Cell {c.number}, {who}.*" + (f" {c.analysis}" if c.analysis else "")
            cells.append(v4.new_markdown_cell(note))
            count += 1
            code = script.as_ran(c.code, c.output)
            cells.append(v4.new_code_cell(code, execution_count=count, outputs=_outputs(c)))
    tail = ["## Method and limitations", *report.method]
    tail += ["\n".join(f"- {x}" for x in report.limitations)]
    tail += ["## Sources", "| file | tables | sha256 |\n|---|---|---|"]
    tail[-1] += "".join(
        f"\n| {s.name} | {', '.join(s.tables)} | `{s.sha256}` |" for s in report.sources
    )
    cells.append(v4.new_markdown_cell("\n\n".join(tail)))
    nb.cells = cells
    return nb


def write(report: Report, path: Path) -> None:
    nb = build(report)
    nbformat.validate(nb)  # a notebook Jupyter would refuse is a bug here, not a file to write
    nbformat.write(nb, str(path))
