"""The agent loop: a plain function over a transcript.

`step` asks the model for one protocol step, runs its code in the sandbox and appends the
output, and returns the steps it added; `run` repeats it until an Answer or a budget ends
the analysis. When a budget runs out the model must still write an Answer (grammar-forced
when the backend supports it), marked partial, instead of stopping with nothing.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from da_cli.agent import grounding, prompts, protocol
from da_cli.agent.transcript import Step, Transcript
from da_cli.models.base import Model
from da_cli.sandbox import Sandbox

MAX_REJECTED_ANSWERS = 1
RUT_TEMPERATURE = 0.8
MAX_REPEATS = 3
REPEAT_NOTE = "Do not run the same code again: change it as this output says."
UNGROUNDED_HINT = (
    "The answer quotes {numbers}, which no output shows. Write code that computes the "
    "numbers you need, then answer from its output."
)


@dataclass
class Budget:
    max_turns: int = 10  # model generations, the forced answer excluded
    max_tokens: int = 6000  # completion tokens over the whole analysis
    timeout_s: float | None = None  # wall clock for the whole analysis
    turn_tokens: int = 768  # completion tokens for one step


MAX_LISTED_FILES = 20


def new_transcript(
    question: str,
    files: list[Path],
    profile: str,
    tables: list[str],
    *,
    joins: bool = False,
    native: bool = False,
) -> Transcript:
    """The opening prompt: the protocol in a system message, then the DeepAnalyze-layout
    user message (instruction, files sorted by name) followed by the data profile. The
    worked example matches the question: a change over time, a join across related tables
    (`joins`: the profile found join keys), or a plain aggregate.

    `native`: a DeepAnalyze checkpoint gets the reference prompt byte for byte instead (one
    user message, no system prompt, no profile), as it was trained."""
    if native:
        message = prompts.native_message(question.strip(), files)
        return Transcript(question, [{"role": "user", "content": message}], native=True)
    change = prompts.is_change_question(question)
    if change:
        example = "examples/change.j2"
    else:
        example = "examples/join.j2" if joins else "examples/aggregate.j2"
    system = prompts.render("system.j2", tables=tables, example=example, change=change)
    listed = sorted(files, key=lambda p: p.name)
    entries = [prompts.file_entry(p) for p in listed[:MAX_LISTED_FILES]]
    if len(listed) > MAX_LISTED_FILES:
        entries.append(f"… and {len(listed) - MAX_LISTED_FILES} more files")
    user = prompts.render("user.j2", question=question.strip(), files=entries, profile=profile)
    return Transcript(
        question=question,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
    )


def follow_up(previous: dict, question: str) -> Transcript:
    """A new question in an earlier conversation: its assistant turn closes as it was, the
    follow-up is the next user message, and the new analysis starts a fresh assistant turn."""
    messages = [
        *previous["messages"],
        {"role": "assistant", "content": previous["continuation"]},
        {"role": "user", "content": question.strip()},
    ]
    return Transcript(question, messages, native=previous.get("native", False))


def _exhausted(t: Transcript, budget: Budget, started: float) -> str | None:
    u = t.usage
    if u.generations >= budget.max_turns:
        return f"max turns ({budget.max_turns})"
    if u.completion_tokens >= budget.max_tokens:
        return f"max tokens ({budget.max_tokens})"
    if budget.timeout_s is not None and time.monotonic() - started >= budget.timeout_s:
        return f"timeout ({budget.timeout_s:g} s)"
    return None


def _evidence(t: Transcript) -> list[str]:
    # Every message but the system prompt (its worked example has numbers a small model
    # would copy) counts: in a follow-up, earlier outputs are in the previous turn.
    return [t.question, *(m["content"] for m in t.messages if m["role"] != "system")] + [
        s.text for s in t.steps if s.kind == "execute"
    ]


def _close_truncated(t: Transcript, text: str, budget_cut: bool) -> str:
    """A step cut by the token limit: close the open block so the transcript stays
    well-formed. A cut Analyze lets the next step go straight to code or an answer.

    A cut at the per-step limit is a format failure (the model rambled); a cut because
    --max-tokens had less room left than a step may take is the budget's doing."""
    if budget_cut:
        t.usage.budget_cuts += 1
    else:
        t.usage.format_failures += 1
    opened = [
        tag
        for tag in ("Analyze", "Understand", "Code", "Answer")
        if f"<{tag}>" in text and f"</{tag}>" not in text
    ]
    if not opened:
        return text
    tag = opened[-1]
    if tag == "Code":
        fence = "" if text.count("```") % 2 == 0 else "\n```"
        return text + fence + "\n</Code>"
    return text + f"\n</{tag}>\n"


def _generate(t: Transcript, model: Model, grammar: str, max_tokens: int) -> tuple[str, str]:
    # Decoding is greedy, so a model that just repeated itself would repeat again: after a
    # repeat, sample instead to get it out of the rut.
    stuck = bool(t.steps) and t.steps[-1].repeated
    gen = model.generate(
        t.messages,
        t.continuation,
        stop=protocol.STOP,
        grammar=grammar if model.supports_grammar else None,
        max_tokens=max_tokens,
        temperature=RUT_TEMPERATURE if stuck else 0.0,
    )
    u = t.usage
    u.generations += 1
    u.prompt_tokens += gen.prompt_tokens
    u.completion_tokens += gen.completion_tokens
    u.model_seconds += gen.seconds
    return gen.text, gen.finish


def step(t: Transcript, model: Model, sandbox: Sandbox, budget: Budget) -> list[Step]:
    """One model step (and the execution of its code). Returns the steps it added."""
    return list(steps(t, model, sandbox, budget))


def steps(t: Transcript, model: Model, sandbox: Sandbox, budget: Budget) -> Iterator[Step]:
    """One model step, yielding each of its steps as soon as it exists: the code before it
    runs, so the display and the run's transcript show what is running (and keep it when
    the run is interrupted in the middle of a cell)."""
    room = min(budget.turn_tokens, max(budget.max_tokens - t.usage.completion_tokens, 64))
    ran = any(s.kind == "execute" and not s.error for s in t.steps)
    if t.analysis_open:
        grammar = protocol.AFTER_ANALYZE_GRAMMAR if ran else protocol.AFTER_ANALYZE_CODE_GRAMMAR
    elif not t.continuation:
        grammar = protocol.FIRST_GRAMMAR
    else:
        grammar = protocol.STEP_GRAMMAR if ran else protocol.CODE_GRAMMAR
    text, finish = _generate(t, model, grammar, room)
    if model.supports_grammar:  # its `inline` path; other backends' text stays as written
        text = protocol.canonical(text)
    if finish == "length":
        text = _close_truncated(t, text, budget_cut=room < budget.turn_tokens)
    t.analysis_open = False
    parsed = protocol.parse_step(text)
    answer_only = parsed.answer is not None and parsed.code is None
    if not answer_only and parsed.code is not None and _ran_before(t, parsed.code):
        # Small models copy their own previous step, so a repeat left in the transcript begets
        # more repeats: drop it (the transcript is as before) and sample the next try.
        _amend_last_execute(t)
        yield _note(t, "The model repeated code that already ran; trying again.", True)
        return
    if parsed.analyze:
        yield _add(t, Step("analyze", parsed.analyze))
    if parsed.understand:
        yield _add(t, Step("understand", parsed.understand))

    if answer_only:
        assert parsed.answer is not None
        t.continuation += text
        missing = grounding.ungrounded(parsed.answer, _evidence(t))
        if missing and t.rejected_answers < MAX_REJECTED_ANSWERS:
            t.rejected_answers += 1
            hint = UNGROUNDED_HINT.format(numbers=", ".join(missing[:5]))
            t.continuation += protocol.execute_block(hint)
            yield _add(t, Step("notice", f"Answer rejected: {hint}"))
        else:
            t.answer = parsed.answer
            yield _add(t, Step("answer", parsed.answer))
    elif parsed.code is not None:
        # Keep only the text up to the end of the code block: anything a model writes after
        # it (a guessed <Execute>, say) must not reach the transcript.
        end = text.find("</Code>")
        t.continuation += text[: end + len("</Code>")] if end >= 0 else text + "\n</Code>"
        yield _add(t, Step("code", parsed.code))
        yield _add(t, _execute(t, parsed.code, sandbox))
    else:
        # No code and no answer: the step ran out of tokens inside Analyze (counted when it
        # was closed), or a backend without grammar stopped early. Continue from here, with
        # Analyze closed.
        if finish != "length":
            t.usage.format_failures += 1
        t.continuation += text
        t.analysis_open = "</Analyze>" in text or "<Analyze>" not in text
        yield _add(t, Step("notice", "The model's step had neither code nor an answer."))


def _add(t: Transcript, s: Step) -> Step:
    t.steps.append(s)
    return s


def _execute(t: Transcript, code: str, sandbox: Sandbox) -> Step:
    result = sandbox.run(code)
    observation = result.observation()
    if t.native and result.error:
        observation = "[Error]:\n" + observation  # how the reference marks a failed block
    t.usage.sandbox_seconds += result.seconds
    t.continuation += protocol.execute_block(observation)
    return Step(
        "execute",
        observation,
        error=not result.ok,
        figures=result.figures,
        seconds=result.seconds,
    )


def _amend_last_execute(t: Transcript) -> None:
    """Add a don't-repeat line to the last Execute block, once: the context must change, or
    the model would write the same step again."""
    closing = "\n</Execute>\n"
    body = t.continuation.removesuffix(closing)
    if body != t.continuation and not body.endswith(REPEAT_NOTE):
        t.continuation = body + "\n" + REPEAT_NOTE + closing


def _note(t: Transcript, text: str, repeated: bool = False) -> Step:
    return _add(t, Step("notice", text, repeated=repeated))


def _ran_before(t: Transcript, code: str) -> bool:
    key = protocol.normalize_code(code)
    return any(s.kind == "code" and protocol.normalize_code(s.text) == key for s in t.steps)


def force_answer(t: Transcript, model: Model, budget: Budget, reason: str) -> Step:
    """The budget ran out: the model writes its Answer now from what it found."""
    # Room for a real answer, but within what is left of --max-tokens when that is more.
    left = budget.max_tokens - t.usage.completion_tokens
    room = min(budget.turn_tokens, max(left, 128))
    text, finish = _generate(t, model, protocol.ANSWER_GRAMMAR, room)
    if finish == "length":
        text = _close_truncated(t, text, budget_cut=room < budget.turn_tokens)
    answer = protocol.parse_step(text).answer
    if answer is None:
        t.usage.format_failures += 1
        # A backend without a grammar can stop mid-code: never show raw protocol markup.
        answer = protocol.plain_text(text) or "(no answer: the model wrote nothing usable)"
    t.continuation += text
    t.answer, t.partial, t.stop_reason = answer, True, reason
    # There is no turn left to send an ungrounded answer back: say so instead.
    t.unverified = grounding.ungrounded(answer, _evidence(t))
    s = Step("answer", answer, partial=True)
    t.steps.append(s)
    return s


def run(t: Transcript, model: Model, sandbox: Sandbox, budget: Budget) -> Iterator[Step]:
    """Steps until an Answer; a spent budget ends with a forced, partial Answer."""
    started = time.monotonic()
    while not t.done:
        reason = _exhausted(t, budget, started)
        if reason is None and sum(s.repeated for s in t.steps) >= MAX_REPEATS:
            reason = "repeated code"
        if reason is not None:
            yield _note(t, f"Budget reached: {reason}; asking for a final answer.")
            yield force_answer(t, model, budget, reason)
            return
        yield from steps(t, model, sandbox, budget)
