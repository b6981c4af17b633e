"""The transcript of one analysis and the typed steps the loop yields.

The terminal display, the saved JSON Lines file, `--json` and reports all read these same
steps, so what a user sees live is what gets recorded.
"""

from dataclasses import asdict, dataclass, field
from typing import Literal

StepKind = Literal["analyze", "understand", "code", "execute", "answer", "notice"]


@dataclass
class Step:
    kind: StepKind
    text: str
    # execute: whether the cell failed, and the figures it saved
    error: bool = False
    figures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    partial: bool = False  # answer: written because a budget ran out
    repeated: bool = False  # execute: the code had run before, so it was not run again
    sample: int = 0  # which of several analyses of the question wrote it

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (False, [], 0.0)}


@dataclass
class Usage:
    generations: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_seconds: float = 0.0
    sandbox_seconds: float = 0.0
    format_failures: int = 0  # steps outside the protocol, or cut at the per-step limit
    budget_cuts: int = 0  # steps cut because --max-tokens had less room left than a step


@dataclass
class Transcript:
    question: str
    messages: list[dict[str, str]]  # system/user messages before the assistant turn
    continuation: str = ""  # the assistant turn so far: the model's text plus Execute blocks
    steps: list[Step] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    answer: str | None = None
    partial: bool = False
    stop_reason: str | None = None
    analysis_open: bool = False  # the last step's Analyze was closed but not yet acted on
    native: bool = False  # DeepAnalyze's own layout: reference prompt, "[Error]:" outputs
    rejected_answers: int = 0
    rejected: str | None = None  # the last Answer sent back, as the model wrote it
    # The Answer's number was restated from an output: `answer` is not the model's own text
    # (the continuation still has what it wrote).
    restated: bool = False
    # An Answer was sent back and no cell has run since: the next step must be code.
    sent_back: bool = False
    # Numbers of an answer no output shows: a forced answer's, or one that stood after it
    # was sent back once.
    unverified: list[str] = field(default_factory=list)
    # Sampling: 0 is greedy; one of several analyses of a question samples (`seed` fixes
    # its random stream, with the step number).
    temperature: float = 0.0
    seed: int = 0
    # The column a "which <column> ..." question asks a value of, and its values.
    which: tuple[str, list[str]] | None = None
    # (column, value) for each value the question names as the rows it is about ("first
    # visits"): the Answer is sent back when no cell selects them.
    named_values: list[tuple[str, str]] = field(default_factory=list)
    # A cell the loop ran rewritten before it took an Answer: the output of its first run,
    # and the output rewritten (an Answer's numbers from the first are restated).
    superseded: tuple[str, str] | None = None
    # When this analysis was chosen among several by their evidence: the vote (vote.Vote)
    agreement: dict | None = None

    @property
    def done(self) -> bool:
        return self.answer is not None

    @property
    def code(self) -> list[str]:
        return [s.text for s in self.steps if s.kind == "code"]
