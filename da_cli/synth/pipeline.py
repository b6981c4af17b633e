"""Questioner → solver → inspector over the user's sources: the loop `da synth` runs.

Each source argument is one dataset (a file, a directory, a glob), or all of them together
with `together`: a question is asked about one dataset, in the prompt `da analyze` builds
for that dataset alone, as a user would ask it. The questioner profiles a dataset, checks
which join keys really join (the profile's are guesses by name), proposes questions from the
templates and settles each label by running its SQL in a sandbox of its own. The solver is
`da analyze` exactly: each question opens its own analysis session (the same prompt, loop and
a fresh sandbox: one question's variables must not help the next). Items
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

from da_cli.agent import loop
from da_cli.agent.session import SAMPLE_TEMPERATURE, Session
from da_cli.agent.transcript import Transcript
from da_cli.data.catalog import expand
from da_cli.data.profile import ViewProfile, infer_joins
from da_cli.errors import DaError, ModelError
from da_cli.models.base import Model
from da_cli.sandbox import Limits
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
    # Tries per qa/research question: the first greedy, the others sampled, until the
    # inspector accepts one (rejection sampling that keeps a hard question's right attempt).
    attempts: int = 1
    # Keys of questions not to ask again (`guard.excluded`: `da synth --exclude FILE`).
    exclude: frozenset[str] = frozenset()


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
        self.session = Session(
            sources,
            limits=Limits(timeout_s=120, output_chars=QUERY_OUTPUT_CHARS),
            workspace=work / "questioner",
        )
        self.catalog = self.session.catalog
        self.profiles: list[ViewProfile] = self.session.profiles

    def __enter__(self) -> "Questioner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def query(self, sql: str) -> list[list] | None:
        """The query's rows, or None when it fails (the question is then dropped)."""
        result = self.session.cell(_ROWS_CELL.format(query=sql))
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

    def plan(
        self,
        kind: str,
        n: int,
        seed: int,
        *,
        teacher: Model | None,
        check: bool,
        exclude: frozenset[str] = frozenset(),
    ) -> Plan:
        """Up to `n` questions with settled labels, tried in the sampler's order."""
        candidates = propose(
            self.profiles, self.joins(), "research" if kind == "research" else "qa"
        )
        plan = Plan(candidates=len(candidates))
        for q in sample(candidates, seed):
            if len(plan.questions) >= n:
                break
            if exclude and not exclude.isdisjoint(
                guard.exclusion_keys(self.catalog.sources, q.text, q.sql)
            ):
                plan.dropped["asked before (--exclude)"] += 1
                continue
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
                settings.kind,
                want,
                settings.seed,
                teacher=teacher,
                check=settings.check_eval,
                exclude=settings.exclude,
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


def solve(q: Question, model: Model, settings: Settings, attempt: int = 0) -> Transcript:
    """The question through `da analyze`'s own session: prompt, loop, a fresh sandbox.
    Attempt 0 is greedy, as `da analyze` answers; a later one samples at the temperature of
    analyze's extra samples (seeded by its number where a backend takes a seed)."""
    with Session(q.sources, limits=settings.limits) as session:
        t = session.start(q.text, model)
        if attempt:
            t.temperature, t.seed = SAMPLE_TEMPERATURE, attempt
        for _ in session.run(settings.budget):
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
        for attempt in range(max(1, settings.attempts)):
            t = Transcript(q.text, [])
            try:
                t = solve(q, model, settings, attempt)
                verdict, errors = inspect(q, t), 0
            except ModelError as e:
                # One question can overflow the context; a backend that fails every time
                # is broken, and the run stops with its error.
                errors += 1
                if errors >= MAX_MODEL_ERRORS:
                    raise
                verdict = _failed(e)
            if verdict.accepted:
                break
        seconds = time.perf_counter() - started
        yield Outcome(q, t, verdict, seconds, settings.kind, attempts=attempt + 1)


def _code_items(plan: Plan, settings: Settings) -> Iterator[Outcome]:
    """Code items in one session per dataset; the prompt is `da`'s own (stage 1 teaches
    the protocol as `da` writes it)."""
    sessions: dict[tuple[str, ...], Session] = {}
    try:
        for i, q in enumerate(plan.questions):
            started = time.perf_counter()
            key = tuple(q.sources)
            if key not in sessions:
                sessions[key] = Session(q.sources, limits=settings.limits)
            session = sessions[key]
            first = session.opening(q.text)
            # Alternate SQL and pandas: stage 1 sees both ways to the same number.
            t = items.code_item(q, first.messages, session.sandbox, pandas=i % 2 == 1)
            yield Outcome(q, t, inspect(q, t), time.perf_counter() - started, "code")
    finally:
        for session in sessions.values():
            session.close()


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
            with Session(
                group, limits=settings.limits, workspace=work / "items", catalog=questioner.catalog
            ) as session:
                for p, q in zip(profiles, qs, strict=True):
                    started = time.perf_counter()
                    first = session.opening(q.text)
                    t = items.understand_item(p, joins, first.messages, session.sandbox, q)
                    yield Outcome(q, t, inspect(q, t), time.perf_counter() - started, "understand")
