"""From analyses to the report's document model: findings whose every number an output
backs, da's own cells marked, method and limitations in plain sentences. Rendering
(`da_cli.report`) reads only the `Report` this builds."""

import time
from pathlib import Path

from da_cli.agent import prompts
from da_cli.agent.transcript import Transcript
from da_cli.data.catalog import Catalog
from da_cli.report.document import Backing, Cell, Figure, Finding, Report, sources_of
from da_cli.research import chart, evidence
from da_cli.research.analyses import Analysis
from da_cli.research.summary import Point, Summary


class _Numbering:
    def __init__(self) -> None:
        self.cells = 0
        self.figures = 0


def _cells(a: Analysis, workspace: Path, title: str, n: _Numbering) -> list[Cell]:
    cells: list[Cell] = []
    analysis = ""
    steps = a.transcript.steps if a.transcript else []
    pending: str | None = None
    for s in steps:
        if s.kind == "analyze":
            analysis = s.text
        elif s.kind == "code":
            pending = s.text
        elif s.kind == "execute" and pending is not None:
            n.cells += 1
            cells.append(
                Cell(n.cells, pending, s.text, s.error, False, analysis, seconds=s.seconds)
            )
            cells[-1].figures = _figs(s.figures, workspace, title, n, by_da=False, cell=n.cells)
            pending, analysis = None, ""
    for d in a.da_cells:
        n.cells += 1
        c = Cell(n.cells, d.code, d.step.text, d.step.error, True, seconds=d.step.seconds)
        c.figures = _figs(d.step.figures, workspace, title, n, by_da=True, cell=n.cells)
        cells.append(c)
    return cells


def _figs(
    names: list[str], workspace: Path, title: str, n: _Numbering, *, by_da: bool, cell: int
) -> list[Figure]:
    out = []
    for name in names:
        path = workspace / name
        if not path.is_file():
            continue
        n.figures += 1
        who = "chart made by da from its own query" if by_da else "drawn by the model's code"
        out.append(Figure(str(path), f"{title} ({who}, cell {cell}).", by_da, n.figures))
    return out


def _reading(cells: list[Cell]) -> str | None:
    for c in cells:
        if c.by_da and not c.error:
            for line in c.output.splitlines():
                if line.startswith(chart.READING):
                    return line[len(chart.READING) :].strip()
    return None


def finding(a: Analysis, workspace: Path, n: _Numbering) -> Finding:
    asked = a.angle is None or a.angle.ask
    f = Finding(title=a.title, question=a.question if asked else "", answer="", skipped=a.skipped)
    if a.transcript is None and not a.da_cells:
        return f
    t = a.transcript
    f.cells = _cells(a, workspace, a.title, n)
    outputs = [c.output for c in f.cells]
    answer = t.answer if t is not None else ""
    f.answer, f.dropped = evidence.grounded_only(answer or "", outputs + [a.question])
    if a.angle is not None:
        f.answer, f.copied = evidence.original_only(
            f.answer, prompts.worked_examples(), outputs + [a.question]
        )
    if a.angle is not None and not evidence.backing(f.answer, outputs):
        # A survey angle asks for numbers: an answer with none that an output shows is a
        # failed attempt (an error described, a plan restated), not a finding.
        if f.answer:
            f.set_aside_why = "stated no number an output showed"
        f.answer, f.set_aside = "", f.answer
    fact = a.angle.fact if a.angle is not None else None
    if f.answer and fact is not None and fact.mark and fact.mark.lower() not in f.answer.lower():
        # da's query and the model's code reached different subjects (another period,
        # another group): da's is the one checked, so the model's is set aside.
        f.set_aside_why = f"did not reach {fact.mark}, which da's own query found"
        f.answer, f.set_aside = "", f.answer
    f.reading = _reading(f.cells)
    if (
        fact is not None
        and fact.chart_kind == "table"
        and any(c.by_da and not c.error for c in f.cells)
    ):
        f.table = fact.markdown()
    if t is not None:
        f.partial, f.stop_reason = t.partial, t.stop_reason
        f.notes = [s.text for s in t.steps if s.kind == "notice"]
    # The model's claims need their lines shown; da's reading is itself an output line.
    backed = evidence.backing(f.answer, outputs)
    f.backing = [Backing(b.number, b.line, f.cells[b.source].number) for b in backed]
    return f


def summary_points(analyses: list[Analysis], workspace: Path) -> list[Point]:
    """What the executive summary is written from: each analysis's backed answer and da's
    reading of its table, if any."""
    out = []
    for a in analyses:
        if a.angle is not None and a.angle.kind == "overview":
            continue  # what the data holds is the report's first section, not a finding
        f = finding(a, workspace, _Numbering())
        text = " ".join(x for x in (f.reading or "", f.answer) if x)
        out.append(Point(a.title, text))
    return out


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M")


def from_analysis(
    t: Transcript, catalog: Catalog, model: str, workspace: Path, title: str | None = None
) -> Report:
    """The report of one question's analysis (`da analyze -o`, `da report --question`)."""
    asked = " ".join(t.question.split())
    asked = asked[:1].upper() + asked[1:]
    short = asked if len(asked) <= 80 else asked[:79] + "…"
    a = Analysis(title=short, question=t.question, transcript=t)
    n = _Numbering()
    f = finding(a, workspace, n)
    names = ", ".join(Path(s).name for s in catalog.sources)
    steps = sum(1 for s in t.steps if s.kind in ("code", "answer"))
    method = [
        f"The model {model} answered the question in {t.usage.generations} generations "
        f"({steps} steps), writing Python that ran in one sandboxed session (no network, the "
        "sources read-only) and reading its output, following the DeepAnalyze protocol "
        "(Analyze, Code, Execute, Answer).",
        "Its code read the sources through DuckDB. The cells that ran and their outputs are in "
        "the appendix; every number in the answer above appears in one of those outputs.",
    ]
    if t.agreement:
        v = t.agreement
        agreed = (
            f"all {v['samples']} agreed"
            if v["agreeing"] == v["samples"]
            else f"{v['agreeing']} of {v['samples']} agreed"
            + (" (a split vote: no answer had a majority)" if v["split"] else "")
        )
        method.append(
            f"The model ran {v['samples']} analyses of the question (one greedy, the others "
            f"sampled), and the answer is the one their executed evidence supported best: "
            f"{agreed}. The analysis shown is number {v['winner'] + 1}."
        )
    return Report(
        kind="analysis",
        title=title or asked,
        subtitle=f"An analysis of {names}",
        question=t.question.strip(),
        summary=f.answer or "(The answer quoted no number that an output showed.)",
        summary_by="answer",
        summary_dropped=list(f.dropped),
        findings=[f],
        method=method,
        limitations=limitations([f], model),
        sources=sources_of(catalog),
        statements=list(catalog.statements),
        tables=[v.name for v in catalog.views],
        model=model,
        created=_now(),
        partial=t.partial,
    )


def from_survey(
    analyses: list[Analysis],
    summary: Summary,
    catalog: Catalog,
    model: str,
    workspace: Path,
    max_turns: int,
    considered: int | None = None,
) -> Report:
    """The report of a survey: the angles da chose, each analysed, and the summary.
    `considered`: how many candidate facts da computed to choose them (a fact survey)."""
    n = _Numbering()
    findings = [finding(a, workspace, n) for a in analyses]
    names = [Path(s).name for s in catalog.sources]
    subject = names[0] if len(names) == 1 else f"{len(names)} sources"
    ran = [a for a in analyses if a.transcript is not None or (a.angle and not a.angle.ask)]
    da_made = sum(1 for f in findings for c in f.cells if c.by_da)
    asked = [a for a in analyses if a.transcript is not None]
    method = [
        f"da profiled the {len(catalog.views)} tables of {', '.join(names)} in DuckDB (row "
        "counts, column types, ranges, frequent values and the keys that join tables) and "
        f"chose {len(analyses)} angles from that profile alone: "
        + "; ".join(a.title for a in analyses)
        + ".",
        f"For each angle the model {model} wrote Python, ran it and read its output, at most "
        f"{max_turns} steps per angle, following the DeepAnalyze protocol (Analyze, Code, "
        "Execute, Answer). All angles shared one sandboxed Python session (no network, the "
        "sources read-only); the code read the sources through DuckDB.",
        "Where the model's code drew no figure, or its answer quoted no number an output "
        "showed, da ran its own fixed query for the angle and charted it: "
        + (
            f"{da_made} such cell{'s' if da_made != 1 else ''}, marked 'made by da'."
            if da_made
            else "this was not needed."
        ),
        (
            "The executive summary was written by the model from the findings"
            if summary.by == "model"
            else "The model's executive summary quoted no number an output showed, so da "
            "wrote the summary from the findings' first sentences"
        )
        + "; every number in this report was checked against the code outputs, and "
        "sentences quoting numbers no output showed were left out.",
    ]
    if considered is not None:
        method[:3] = [
            f"da profiled the {len(catalog.views)} tables of {', '.join(names)} in DuckDB and "
            f"computed {considered} candidate facts with its own queries: the main measure's "
            "trend and any period that breaks from it, shares by segment, leading entities, "
            "averages and rates that differ across segments, growth that differs, correlations "
            "and data quality (missing values, duplicated rows, keys that reference nothing). "
            f"It ranked them by how much they matter and kept {len(analyses) - 1}, after an "
            "overview of what the data holds.",
            "Each finding rests on da's own cell (marked 'made by da'): it recomputes the fact "
            "in the sandboxed Python session (no network, the sources read-only) and prints its "
            "table and reading.",
            f"The model {model} analysed the top {len(asked)} findings independently, writing "
            f"its own Python (at most {max_turns} steps each, following the DeepAnalyze "
            "protocol: Analyze, Code, Execute, Answer). Its answer is shown where every number "
            "it quotes appears in an output and it reached the same subject as da's query.",
        ]
    lims = limitations(findings, model)
    if summary.dropped:
        lims.append(
            f"{len(summary.dropped)} sentence(s) of the model's summary were left out because "
            "they quoted numbers no output showed."
        )
    if len(ran) < len(analyses):
        lims.append(
            f"Only {len(ran)} of {len(analyses)} angles ran before the time budget was spent."
        )
    return Report(
        kind="survey",
        title=f"What the data in {subject} shows",
        subtitle="A survey of "
        + ", ".join(names)
        + f": {len(catalog.views)} tables, {len(analyses)} "
        + ("findings" if considered is not None else "angles"),
        question=None,
        summary=summary.text,
        summary_by=summary.by,
        summary_dropped=summary.dropped,
        findings=findings,
        method=method,
        limitations=lims,
        sources=sources_of(catalog),
        statements=list(catalog.statements),
        tables=[v.name for v in catalog.views],
        model=model,
        created=_now(),
        partial=len(ran) < len(analyses),
    )


def limitations(findings: list[Finding], model: str) -> list[str]:
    out = [
        f"{model} is a small language model: its code and its reading of the output can be "
        "wrong. Check a finding against its cells and outputs in the appendix before acting "
        "on it.",
        "The findings describe these sources as they were read (see their fingerprints); "
        "they show what happened in the data, not why.",
    ]
    for f in findings:
        if f.partial:
            out.append(f"'{f.title}': the budget ran out ({f.stop_reason}); its answer is partial.")
        if f.dropped:
            out.append(
                f"'{f.title}': {len(f.dropped)} sentence(s) of the model's answer were left "
                "out because they quoted numbers no output showed."
            )
        if f.copied:
            out.append(
                f"'{f.title}': {len(f.copied)} sentence(s) of the model's answer were left "
                "out because they copied the wording of the prompt's worked example."
            )
        if f.set_aside:
            out.append(
                f"'{f.title}': the model's answer {f.set_aside_why or 'was not backed'} and "
                "was left out; the finding rests on da's own table."
            )
        if f.skipped:
            out.append(f"'{f.title}' did not run: {f.skipped}.")
    cells = [c for f in findings for c in f.cells]
    failed = sum(c.error for c in cells)
    if failed:
        out.append(
            f"{failed} of {len(cells)} code cells failed; their errors are in the appendix "
            "(the model read them and went on)."
        )
    return out


def usage(analyses: list[Analysis]) -> dict:
    """Model and sandbox use over all the analyses (the summary's generation not included)."""
    ts = [a.transcript.usage for a in analyses if a.transcript]
    return {
        "generations": sum(u.generations for u in ts),
        "prompt_tokens": sum(u.prompt_tokens for u in ts),
        "completion_tokens": sum(u.completion_tokens for u in ts),
        "model_s": round(sum(u.model_seconds for u in ts), 3),
        "sandbox_s": round(sum(u.sandbox_seconds for u in ts), 3),
    }


def run_record(
    doc: Report, analyses: list[Analysis], seconds: float, summary: Summary | None
) -> tuple[dict, list[dict]]:
    """A report as a stored run: the header `da history` lists, and every step tagged with
    its analysis (da's own cells marked as such)."""
    header = {
        "schema": doc.schema,
        "question": doc.question or doc.title,
        "sources": [s.path for s in doc.sources],
        "model": doc.model,
        "answer": doc.summary,
        "partial": doc.partial,
        "angles": [a.title for a in analyses],
        "figures": [f.path for f in doc.figures],
        "usage": usage(analyses),
        "timings": {"total_s": round(seconds, 3)},
    }
    if summary is not None:
        header["summary"] = {
            "by": summary.by,
            "attempts": summary.attempts,
            "completion_tokens": summary.completion_tokens,
            "seconds": round(summary.seconds, 3),
        }
    steps = []
    for i, a in enumerate(analyses, 1):
        own = [s.to_dict() for s in (a.transcript.steps if a.transcript else [])]
        for c in a.da_cells:
            own += [{"kind": "code", "text": c.code, "by": "da"}, c.step.to_dict()]
        steps += [{"analysis": i, **s} for s in own]
    return header, steps
