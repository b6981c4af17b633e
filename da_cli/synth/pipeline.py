"""Questioner → solver → inspector over the user's sources: the loop `da synth` runs.

Each source argument is one dataset (a file, a directory, a glob), or all of them together
with `together`: a question is asked about one dataset, in the prompt `da analyze` builds
for that dataset alone, as a user would ask it. The questioner profiles a dataset, checks
which join keys really join (the profile's are guesses by name), proposes questions from the
templates and settles each label by running its SQL in a sandbox of its own. The solver is
`da analyze` exactly: `analysis.prepare` builds the prompt, `loop.run` runs the agent loop,
each question in a fresh sandbox (one question's variables must not help the next). Items
written without a model (`code`, `understand`) run their code in one sandbox per dataset
with the solver's limits, so their outputs read as the solver's would.
"""

import json
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from da_cli.agent import analysis, loop
from da_cli.agent.transcript import Transcript
from da_cli.data.catalog import build_catalog, expand
from da_cli.data.profile import ViewProfile, infer_joins, profile
from da_cli.errors import DaError, ModelError
from da_cli.models.base import Model
from da_cli.sandbox import Limits, Sandbox
from da_cli.synth import guard, items, paraphrase
from da_cli.synth.inspect import Verdict, inspect
from da_cli.synth.questions import Check, Join, Question, settle
from da_cli.synth.record import Outcome
from da_cli.synth.templates import ident, propose, sample

KINDS = ("qa", "research", "code", "understand")
JOIN_COVERAGE = 0.9  # share of a key's values the other table must hold for a real join
QUERY_OUTPUT_CHARS = 1_000_000
MAX_MODEL_ERRORS = 3  # in a row: the backend is broken, not one question too long

# Run in the questioner's sandbox: the query's rows as JSON, numpy scalars made plain.
_ROWS_CELL = """import json as _json
_rows = sql({query!r})
print(_json.dumps([[None if pd.isna(v) else (v.item() if isinstance(v, np.generic) else v)
                    for v in row] for row in _rows.itertuples(index=False, name=None)],
                  default=str))"""


@dataclass
class Settings:
    kind: str = "qa"
    n: int = 20
    seed: int = 0
    together: bool = False  # all sources one dataset, instead of one per source argument
    check_eval: bool = True  # refuse DABench sources, drop DABench questions
    budget: loop.Budget = field(
        default_factory=lambda: loop.Budget(max_turns=8, max_tokens=4000, timeout_s=180)
    )
    limits: Limits = field(default_factory=lambda: Limits(timeout_s=30))


@dataclass
class Plan:
    """What the questioner produced: the questions, and why others were dropped."""

    questions: list[Question] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)
    reworded: int = 0
    candidates: int = 0


class Questioner:
    """One dataset profiled once, with a sandbox that runs the reference queries."""

    def __init__(self, sources: list[str], work: Path) -> None:
        self.sources = sources
        self.catalog = build_catalog(sources)
        self.profiles: list[ViewProfile] = profile(self.catalog)
        self._sandbox = Sandbox(
            self.catalog,
            work / "questioner",
            Limits(timeout_s=120, output_chars=QUERY_OUTPUT_CHARS),
        )

    def __enter__(self) -> "Questioner":
        self._sandbox.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sandbox.close()

    def query(self, sql: str) -> list[list] | None:
        """The query's rows, or None when it fails (the question is then dropped)."""
        result = self._sandbox.run(_ROWS_CELL.format(query=sql))
        if not result.ok:
            return None
        try:
            rows = json.loads(result.output)
        except ValueError:
            return None
        return rows if isinstance(rows, list) else None

    def joins(self) -> list[Join]:
        """The profile's join keys that hold: nearly every key value is in the other table
        (the profile pairs columns by name only, and two files can share a key's name)."""
        out = []
        for j in infer_joins(self.profiles):
            fact, key = j.left.split(".", 1)
            dim, dim_key = j.right.split(".", 1)
            rows = self.query(
                f"SELECT avg(CASE WHEN d.k IS NULL THEN 0 ELSE 1 END) FROM "
                f"(SELECT DISTINCT {ident(key)} AS v FROM {ident(fact)} "
                f"WHERE {ident(key)} IS NOT NULL) f LEFT JOIN "
                f"(SELECT DISTINCT {ident(dim_key)} AS k FROM {ident(dim)}) d ON f.v = d.k"
            )
            share = rows[0][0] if rows and rows[0] else None
            if isinstance(share, int | float) and share >= JOIN_COVERAGE:
                out.append(Join(fact, key, dim, dim_key))
        return out

    def plan(self, kind: str, n: int, seed: int, *, teacher: Model | None, check: bool) -> Plan:
        """Up to `n` questions with settled labels, tried in the sampler's order."""
        candidates = propose(
            self.profiles, self.joins(), "research" if kind == "research" else "qa"
        )
        plan = Plan(candidates=len(candidates))
        for q in sample(candidates, seed):
            if len(plan.questions) >= n:
                break
            rows = self.query(q.sql)
            if rows is None:
                plan.dropped["reference query failed"] += 1
                continue
            if not settle(q, rows):
                plan.dropped["no single answer (empty, null or a tie)"] += 1
                continue
            if check and guard.is_eval_question(q.text):
                plan.dropped["a DABench question"] += 1
                continue
            if teacher is not None and paraphrase.reword(q, teacher):
                plan.reworded += 1
            q.sources, q.files = self.sources, self.catalog.sources
            plan.questions.append(q)
        return plan


def datasets(sources: list[str], together: bool) -> list[list[str]]:
    return [sources] if together else [[s] for s in sources]


def check_sources(sources: list[str]) -> None:
    """DataError when a source is (part of) the DABench evaluation set."""
    guard.check_sources([f.resolve() for s in sources for f in expand(s)])


def plan_questions(sources: list[str], settings: Settings, *, teacher: Model | None) -> Plan:
    """Only the questioner: up to `settings.n` questions with labels and checklists, shared
    out evenly over the datasets (what one cannot use passes to the next)."""
    if settings.check_eval:
        check_sources(sources)
    groups = datasets(sources, settings.together)
    plan = Plan()
    per_group: list[list[Question]] = []
    want = 0
    for i, group in enumerate(groups):
        want += settings.n // len(groups) + (i < settings.n % len(groups))
        with (
            tempfile.TemporaryDirectory(prefix="da-synth-") as tmp,
            Questioner(group, Path(tmp)) as questioner,
        ):
            sub = questioner.plan(
                settings.kind, want, settings.seed, teacher=teacher, check=settings.check_eval
            )
        want -= len(sub.questions)
        per_group.append(sub.questions)
        plan.dropped.update(sub.dropped)
        plan.reworded += sub.reworded
        plan.candidates += sub.candidates
    # Interleave the datasets, so an interrupted run has some of each.
    while any(per_group):
        for qs in per_group:
            if qs:
                plan.questions.append(qs.pop(0))
    return plan


def solve(q: Question, model: Model, settings: Settings) -> Transcript:
    """The question through `da analyze`'s own path: prompt, loop, a fresh sandbox."""
    catalog, t = analysis.prepare(q.sources, q.text, native=model.native)
    with (
        tempfile.TemporaryDirectory(prefix="da-synth-") as work,
        Sandbox(catalog, Path(work) / "workspace", settings.limits) as sandbox,
    ):
        for _ in loop.run(t, model, sandbox, settings.budget):
            pass
    return t


def _failed(error: DaError) -> Verdict:
    return Verdict([(Check("error", f"the analysis failed: {error}"), False)])


def run(
    sources: list[str],
    settings: Settings,
    *,
    model: Model | None,
    teacher: Model | None,
    on_plan: Callable[[Plan], None] | None = None,
) -> Iterator[Outcome]:
    """Every attempted item, in order, inspected. `model` solves qa and research items;
    code and understand items need none. `on_plan` hears the plan before the first item."""
    if settings.kind not in KINDS:
        raise ValueError(settings.kind)
    if settings.kind == "understand":
        if settings.check_eval:
            check_sources(sources)
        yield from _understand(sources, settings, on_plan)
        return
    plan = plan_questions(sources, settings, teacher=teacher)
    if on_plan:
        on_plan(plan)
    if settings.kind == "code":
        yield from _code_items(plan, settings)
        return
    assert model is not None, "qa and research items need a model to solve them"
    errors = 0
    for q in plan.questions:
        started = time.perf_counter()
        t = Transcript(q.text, [])
        try:
            t = solve(q, model, settings)
            verdict, errors = inspect(q, t), 0
        except ModelError as e:
            # One question can overflow the context; a backend that fails every time is
            # broken, and the run stops with its error.
            errors += 1
            if errors >= MAX_MODEL_ERRORS:
                raise
            verdict = _failed(e)
        yield Outcome(q, t, verdict, time.perf_counter() - started, settings.kind)


def _code_items(plan: Plan, settings: Settings) -> Iterator[Outcome]:
    sandboxes: dict[tuple[str, ...], Sandbox] = {}
    with tempfile.TemporaryDirectory(prefix="da-synth-") as tmp:
        try:
            for i, q in enumerate(plan.questions):
                started = time.perf_counter()
                catalog, first = analysis.prepare(q.sources, q.text)
                key = tuple(q.sources)
                if key not in sandboxes:
                    sandboxes[key] = Sandbox(
                        catalog, Path(tmp) / f"items{len(sandboxes)}", settings.limits
                    )
                    sandboxes[key].start()
                # Alternate SQL and pandas: stage 1 sees both ways to the same number.
                t = items.code_item(q, first.messages, sandboxes[key], pandas=i % 2 == 1)
                yield Outcome(q, t, inspect(q, t), time.perf_counter() - started, "code")
        finally:
            for sandbox in sandboxes.values():
                sandbox.close()


def _understand(
    sources: list[str], settings: Settings, on_plan: Callable[[Plan], None] | None
) -> Iterator[Outcome]:
    """One item per table, up to `settings.n`, dataset by dataset."""
    left = settings.n
    for group in datasets(sources, settings.together):
        if left <= 0:
            return
        with tempfile.TemporaryDirectory(prefix="da-synth-") as tmp:
            work = Path(tmp)
            with Questioner(group, work) as questioner:
                joins = questioner.joins()
            profiles = questioner.profiles[:left]
            left -= len(profiles)
            qs = [items.understand_question(p) for p in profiles]
            for q in qs:
                q.sources, q.files = group, questioner.catalog.sources
            if on_plan:
                on_plan(Plan(qs, candidates=len(questioner.profiles)))
            with Sandbox(questioner.catalog, work / "items", settings.limits) as sandbox:
                for p, q in zip(profiles, qs, strict=True):
                    started = time.perf_counter()
                    _, first = analysis.prepare(group, q.text)
                    t = items.understand_item(p, joins, first.messages, sandbox, q)
                    yield Outcome(q, t, inspect(q, t), time.perf_counter() - started, "understand")
