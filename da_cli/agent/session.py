"""One analysis session: the one composition of an analysis that every front end uses.

`da analyze`, `da report`'s research, `da eval`, `da synth`, GRPO rollouts and the Python API
all open a `Session`, so each sees exactly what the others do: the same catalog and profile,
the same opening prompt (DeepAnalyze's reference layout for a native checkpoint, `da`'s own
otherwise), the same sandbox worker and the same agent loop. An improvement to any of these
lands once for all of them.

Opening a session registers and profiles the sources (DataError on a bad one) and needs no
model, so bad data fails before a slow model load. `start` opens a question's transcript,
`run` drives the loop and yields its typed steps, `ask` continues the conversation with a
follow-up, `cell` runs `da`'s own code in the same worker. Closing stops the worker, and
removes the workspace when the session made a temporary one.
"""

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path

import duckdb

from da_cli import interrupts
from da_cli.agent import loop, vote
from da_cli.agent.transcript import Step, Transcript
from da_cli.agent.vote import VOTE_WHEN
from da_cli.data.catalog import Catalog, build_catalog
from da_cli.data.profile import (
    ViewProfile,
    by_relevance,
    column_asked_which,
    distinct_values,
    infer_joins,
    profile,
    render,
    tables_asked_about,
    values_named,
)
from da_cli.errors import UsageError
from da_cli.models.base import Model
from da_cli.sandbox import ExecutionResult, Limits, Sandbox

# The model's context (8,192 tokens for the embedded models) must also hold the protocol,
# the data profile (about 2,000 tokens) and the analysis itself; at about 4 characters a
# token, a question past this cannot leave room for them.
MAX_QUESTION_CHARS = 12_000

# The temperature of the sampled analyses beside the greedy one when a question gets
# several (`samples`): diverse enough to disagree where the model is unsure, the usual
# value for self-consistency voting.
SAMPLE_TEMPERATURE = 0.7


def check_question(question: str) -> str:
    """The question, or a UsageError (before any model loads) when it is empty or too long
    to leave room for the analysis in the model's context."""
    if not question.strip():
        raise UsageError("The question is empty.")
    if len(question) > MAX_QUESTION_CHARS:
        raise UsageError(
            f"The question is {len(question):,} characters long; da takes up to "
            f"{MAX_QUESTION_CHARS:,} (the model's context must also hold the data profile "
            "and the analysis).",
            hint="Shorten it, or put the long text in a file and ask about that file.",
        )
    return question


class Session:
    """Sources, one sandbox worker and (once a question starts) a model and its transcript.

    `workspace`: where cells may write (figures, files); None makes a temporary one that
    closing removes. `catalog`: an already-built catalog of the same sources, to share."""

    def __init__(
        self,
        sources: list[str],
        *,
        limits: Limits | None = None,
        workspace: Path | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.sources = [str(s) for s in sources]
        self.catalog = catalog if catalog is not None else build_catalog(self.sources)
        self.limits = limits or Limits()
        self._temporary: Path | None = None
        self._workspace = Path(workspace) if workspace is not None else None
        self._profiles: list[ViewProfile] | None = None
        self._which_values: dict[str, tuple[str, list[str]] | None] = {}
        self._sandbox: Sandbox | None = None
        self.model: Model | None = None
        self.transcript: Transcript | None = None
        # Several analyses of the question (`start(samples=K)`): the others, their workers,
        # and the vote that chose `transcript` among them.
        self.samples: list[Transcript] = []
        self._extra: list[Sandbox] = []
        self.vote: vote.Vote | None = None
        self._question: str | None = None
        self.vote_when = "always"

    # --- the data --------------------------------------------------------------------------

    @property
    def profiles(self) -> list[ViewProfile]:
        """Every table's profile (computed once; the profiler also caches it on disk)."""
        if self._profiles is None:
            con = self.catalog.connect()
            try:
                with interrupts.hook(con.interrupt):  # Ctrl-C stops a long scan at once
                    self._profiles = profile(self.catalog, con)
            finally:
                con.close()
        return self._profiles

    def opening(
        self, question: str, *, native: bool = False, joins: bool | None = None
    ) -> Transcript:
        """The opening transcript for `question`: the protocol, the files and the profile
        with the tables most relevant to the question first. `native`: DeepAnalyze's
        reference prompt instead. `joins` overrides whether the join example is shown
        (default: the profile found join keys and the question is about two tables or more:
        a small model copies the example it is shown, so a question about one table of a
        joined dataset sees the one-table example, and a note to compute from it alone)."""
        ordered = by_relevance(self.profiles, question)
        asked = tables_asked_about(self.profiles, question)
        keyed = bool(infer_joins(self.profiles))
        if joins is None:
            joins = keyed and len(asked) >= 2
        # The one table of several joined ones that the question names (or that holds every
        # column it names) gets a note to leave the others out.
        alone = asked[0] if keyed and len(asked) == 1 else None
        return loop.new_transcript(
            question,
            [Path(s) for s in self.catalog.sources],
            render(ordered),
            [p.name for p in ordered],
            joins=joins,
            alone=alone,
            which=self._which(question),
            named_values=values_named(
                self.profiles, question, skip=(self._which(question) or ("",))[0]
            ),
            columns=[c.name for p in ordered for c in p.columns],
            highest=_highest(ordered),
            native=native,
        )

    def _which(self, question: str) -> tuple[str, list[str]] | None:
        """The column a "which <column> ..." question asks a value of, with every value
        it has (read once per question: each of several analyses checks its Answer by
        them); None when it names none or the column has too many values to list."""
        if question not in self._which_values:
            asked = column_asked_which(self.profiles, question)
            values = None
            if asked is not None:
                con = self.catalog.connect()
                try:
                    values = distinct_values(con, asked[1], asked[0])
                except duckdb.Error:
                    values = None  # a check of the Answer is never a reason to stop
                finally:
                    con.close()
            self._which_values[question] = (asked[0], values) if asked and values else None
        return self._which_values[question]

    # --- the analysis ----------------------------------------------------------------------

    def start(
        self,
        question: str,
        model: Model,
        *,
        joins: bool | None = None,
        samples: int = 1,
        temperature: float = SAMPLE_TEMPERATURE,
        vote_when: str = "always",
    ) -> Transcript:
        """A new analysis of `question` by `model`, in the layout the model was trained on.
        `samples` > 1: that many analyses, the first greedy and the others sampled at
        `temperature`; `run` votes among them by their evidence. `vote_when` (VOTE_WHEN): run
        the others "always", together with the greedy one, or only when the greedy one is
        "unsure"."""
        check_question(question)
        if samples < 1:
            raise UsageError(f"--samples must be at least 1, not {samples}.")
        if vote_when not in VOTE_WHEN:
            raise UsageError(f"--vote must be one of {', '.join(VOTE_WHEN)}, not '{vote_when}'.")
        self.vote_when = vote_when
        self.model = model
        self.transcript = self.opening(question, native=model.native, joins=joins)
        self.samples = [self.transcript]
        for i in range(1, samples):
            t = self.opening(question, native=model.native, joins=joins)
            t.temperature, t.seed = temperature, i
            self.samples.append(t)
        self.vote = None
        self._question = question
        return self.transcript

    def ask(self, question: str) -> Transcript:
        """A follow-up in this session's conversation: the earlier analysis stays in the
        transcript, and its variables in the worker."""
        if self.transcript is None:
            raise RuntimeError("ask() continues an analysis; start() one first")
        self.transcript = loop.follow_up(conversation(self.transcript), question)
        self.samples, self.vote = [self.transcript], None
        self._question = question
        return self.transcript

    def resume(self, previous: dict, question: str, model: Model) -> int:
        """Continue a stored conversation (`runs.last_state()`) with `question`: its clean
        cells run again so their variables exist in this worker. Returns how many of them
        failed this time."""
        self.model = model
        failed = sum(not self.cell(code).ok for code in previous.get("cells", []))
        self.transcript = loop.follow_up(previous, question)
        self.samples, self.vote = [self.transcript], None
        self._question = question
        return failed

    def run(self, budget: loop.Budget) -> Iterator[Step]:
        """The agent loop over the current transcript: its steps, until an Answer (a spent
        budget ends with a forced, partial one). With several analyses, their steps (each
        marked with its `sample`) as they run together, then a notice with the vote; the
        winner becomes `transcript`."""
        if self.transcript is None or self.model is None:
            raise RuntimeError("run() needs an analysis; start() one first")
        if len(self.samples) <= 1:
            yield from loop.run(self.transcript, self.model, self.sandbox, budget)
            return
        if self.vote_when == "unsure":
            voting = yield from self._run_if_unsure(budget)
            if not voting:
                return
        else:
            workers = [self.sandbox, *self._workers(len(self.samples) - 1)]
            for i, s in loop.run_many(self.samples, self.model, workers, budget):
                s.sample = i
                yield s
        self.vote = vote.choose(self.samples)
        self.transcript = self.samples[self.vote.winner]
        self.transcript.agreement = self.vote.to_dict()
        yield Step("notice", self.vote.summary(), sample=self.vote.winner)

    def _run_if_unsure(self, budget: loop.Budget) -> Generator[Step, None, bool]:
        """The greedy analysis alone, then the others only if its evidence is weak; returns
        whether they ran (and a vote is due). The others get what is left of the time."""
        started = time.monotonic()
        greedy, others = self.samples[0], self.samples[1:]
        for s in loop.run(greedy, self.model, self.sandbox, budget):
            s.sample = 0
            yield s
        doubts = vote.doubts(greedy)
        left = None if budget.timeout_s is None else budget.timeout_s - (time.monotonic() - started)
        if not doubts or (left is not None and left <= 0):
            self.samples = [greedy]  # a clean answer, or no time for more: nothing to vote on
            yield Step(
                "notice",
                f"The answer's evidence is clean; the other {len(others)} analyses were not needed."
                if not doubts
                else f"Unsure ({'; '.join(doubts)}), but the time budget is spent.",
                sample=0,
            )
            return False
        yield Step(
            "notice",
            f"Unsure ({'; '.join(doubts)}): running {len(others)} more analyses to vote.",
            sample=0,
        )
        rest = budget if left is None else dataclasses.replace(budget, timeout_s=left)
        for i, s in loop.run_many(others, self.model, self._workers(len(others)), rest):
            s.sample = i + 1
            yield s
        return True

    def _workers(self, n: int) -> list[Sandbox]:
        """Workers for the sampled analyses beside the session's own, each writing to its
        own folder (their cells may save files of the same name)."""
        while len(self._extra) < n:
            k = len(self._extra) + 1
            worker = Sandbox(self.catalog, self._sample_workspace(k), self.limits)
            worker.start()
            self._extra.append(worker)
        for worker in self._extra:
            worker.context = {"QUESTION": self._question} if self._question else {}
        return self._extra[:n]

    def cell(self, code: str) -> ExecutionResult:
        """Run `da`'s own code (not the model's) in the session's worker."""
        return self.sandbox.run(code)

    @property
    def workspace(self) -> Path:
        """Where cells write; a temporary folder (removed on close) unless one was given.
        It can be set until the worker starts (the CLI names its run after profiling)."""
        if self._workspace is None:
            self._temporary = Path(tempfile.mkdtemp(prefix="da-session-"))
            self._workspace = self._temporary / "workspace"
        return self._workspace

    @property
    def answer_workspace(self) -> Path:
        """Where the chosen analysis's cells wrote (its figures): the workspace, or a
        sampled analysis's own folder when the vote chose that one."""
        if self.vote is None or self.vote.winner == 0:
            return self.workspace
        return self._sample_workspace(self.vote.winner)

    def _sample_workspace(self, k: int) -> Path:
        # A folder of its own beside the workspace: a worker keeps its scratch files (the
        # cell-output capture) next to its workspace, so two workers must not share a parent.
        return self.workspace.parent / f"sample-{k}" / self.workspace.name

    @workspace.setter
    def workspace(self, path: Path) -> None:
        if self._sandbox is not None:
            raise RuntimeError("the worker has started in its workspace already")
        self._workspace = Path(path)

    @property
    def sandbox(self) -> Sandbox:
        """The session's worker, started on first use. Its cells see the question being
        analysed as QUESTION (explain_change reads its period and measure from it)."""
        if self._sandbox is None:
            self._sandbox = Sandbox(self.catalog, self.workspace, self.limits)
            self._sandbox.start()
        self._sandbox.context = {"QUESTION": self._question} if self._question else {}
        return self._sandbox

    # --- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        for worker in self._extra:
            worker.close()
        self._extra = []
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def conversation(t: Transcript) -> dict:
    """What a follow-up needs of an analysis: its messages, its assistant turn as it ended,
    and whether it speaks the native layout (also what `--continue` stores)."""
    return {"messages": t.messages, "continuation": t.continuation, "native": t.native}


def clean_cells(t: Transcript) -> list[str]:
    """The code of every cell that ran without error, in order: replayed, it rebuilds the
    analysis's variables in a new worker."""
    cells = []
    for code, result in zip(t.steps, t.steps[1:], strict=False):
        if code.kind == "code" and result.kind == "execute" and not result.error:
            cells.append(code.text)
    return cells


def _highest(profiles: list[ViewProfile]) -> dict[str, float]:
    """Each numeric column's largest value, as the profile read it."""
    out: dict[str, float] = {}
    for p in profiles:
        for c in p.columns:
            if c.max is None or c.name in out:
                continue
            try:
                out[c.name] = float(c.max)
            except ValueError:
                continue  # text or a date
    return out
