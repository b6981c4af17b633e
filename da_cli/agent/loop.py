"""The agent loop: a plain function over a transcript.

`step` asks the model for one protocol step, runs its code in the sandbox and appends the
output, and returns the steps it added; `run` repeats it until an Answer or a budget ends
the analysis. When a budget runs out the model must still write an Answer (grammar-forced
when the backend supports it), marked partial, instead of stopping with nothing.
"""

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from da_cli.agent import grounding, prompts, protocol
from da_cli.agent.transcript import Step, Transcript
from da_cli.models.base import Generation, Model, Request, generate_all
from da_cli.sandbox import ExecutionResult, Sandbox
from da_cli.sandbox.session import ASIDE_LINES

MAX_REJECTED_ANSWERS = 1
RUT_TEMPERATURE = 0.8
MAX_REPEATS = 3
REPEAT_NOTE = "Do not run the same code again: change it as this output says."
STALE_NOTE = "Say what this output shows, then answer from it."
NO_VALUE_HINT = (
    "The answer states no value that an output shows. Print the values the question asks "
    "for, then answer from that output."
)
UNGROUNDED_HINT = (
    "The answer quotes {numbers}, which no output shows. Write code that computes the "
    "numbers you need, then answer from its output."
)
# After a send-back the next step must be code, so the hint says what code to write.
ROUNDING_HINT = (
    "The answer quotes {slips}. Print the values rounded in code (round(x, {places})), then "
    "answer from that output."
)
# nan has two common causes: missing values a scipy or numpy function did not skip, and a
# standard deviation (or variance) of a single row, from a filter or group too narrow. Told
# ".dropna()", the 1.5B dropped the rows with any gap, the rows a question was about among
# them: the hint names the columns' own.
NAN_HINT = (
    "The answer gives nan, which is no value: a function got data with missing values, or "
    "a standard deviation got a single row. Compute it again without the missing values "
    "of the columns it uses (df[['a', 'b']].dropna()) and over all the rows the question "
    "means, then answer from that output."
)
CHOICE_HINT = (
    "No output shows which of {options} the answer is. Print it from code that applies "
    "every condition of the question's rule to the computed values, with one branch for "
    "each of them (if, elif, else), then answer from that output."
)
SIGNIFICANT_HINT = (
    "The question asks for {asked} significant digits, and {value} has {has}. Print the value "
    "with {asked} significant digits, then answer from that output:\n{line}"
)
CUT_HINT = (
    "{value} is a value of an output that shows only some of its {rows:,} rows, and the "
    "question asks for one value over all of them. Compute that value in code (an average "
    "is .mean(), a total .sum(), a count .sum() of a condition) and print it, then answer "
    "from that output."
)
NAME_HINT = (
    'An output shows the name "{whole}", and the answer gives it as "{part}": its number is '
    "part of the name. Print the name with any count you give, then answer with the whole "
    "name from that output."
)
# Asked for the correlation "for first visits", the 1.5B correlated every visit.
VALUES_HINT = (
    "The question is about {rows}, and no cell selected those rows: keep only them "
    "({selection}), then answer from that output."
)
STATISTIC_HINT = (
    "The question asks for the {statistic}, and no cell computes one: compute it in code "
    "({how} of the values the question means), print it, then answer from that output."
)
YEAR_HINT = (
    "The question asks about {years}, and no cell selected it: keep the rows of {years} (by "
    "the date column's .dt.year), then answer from that output."
)
# Asked "which country", the 1.5B answered "Brazil" from a column of codes (BR).
WHICH_HINT = (
    "The question asks which {column}, and the answer names none of its values as the data "
    "has them ({values}). Print the {column} value from code, then answer with it as that "
    "output shows it."
)
RANKING_HINT = (
    "The answer names {named}, which an output shows with {its}, and {top} with {best}: the "
    "question asks for the {word}. Print the {column} with the {word} alone from code, then "
    "answer with it."
)
# Told not to run a failed cell again, the 1.5B wrote it again word for word, three times
# over, in 31 of 257 benchmark analyses (24 of them wrong), even when the output gave the
# failed line mended ("Line 2 with it: ..."): on such a repeat the loop runs the cell with
# that line. Having the model write the step again did not help: written on from the
# failed line after an Analyze quoting the error, the 1.5B wrote the same line again (3 of
# 3); with the error as a comment above the line, it recited the output as code (3 of 3);
# with the failed step taken out and its Analyze opened with how the first try failed, it
# wrote new code, and 4 -> 3 of the 27 benchmark analyses it reached were right (stop 51).
MENDED_ANALYZE = "Line {line} failed. I will run the cell with line {line} as the output gives it."
# Cells the loop runs rewritten before it takes an Answer from them, where the cell computed
# something other than what it meant or the question names, in a way with one reading.
# Asked for values "3 standard deviations from the mean", the 1.5B compared the values
# themselves with 3 * std and answered that count, told otherwise or not; asked for a
# population standard deviation, it wrote pandas' .std() beside the prompt's note that it
# divides by n - 1; it reported len() of a True/False mask as the count of its True values,
# counted values past a z-score threshold among z-scores scipy had made all nan, and called
# a t-test's nan p-value no significant difference. A rewritten cell whose output shows the
# same changes nothing: the Answer stands.
CENTERED_ANALYZE = (
    "The question asks for a distance from the mean, and the cell compared {values} itself "
    "with its standard deviation. I will run it with {values} - {mean}."
)
DDOF_ANALYZE = (
    "The question asks for a {kind} standard deviation or variance, which divides by {by}. "
    "I will run the cell with ddof={ddof} in each."
)
MASK_ANALYZE = (
    "`{mask}` holds True or False for every row, so len({mask}) is the number of rows. I "
    "will run the cell with the number of its True values."
)
MISSING_ANALYZE = (
    "scipy.stats gives nan when a value is missing. I will run the cell with nan_policy='omit'."
)
P_VALUE_HINT = (
    "The answer gives {value} as a p-value, and a p-value lies between 0 and 1: that is "
    "another number, a statistic or a coefficient. Print the test result's p-value by its "
    "name (result.pvalue), then answer from that output."
)
# The loop's own sentences, which a model sent back once may copy (whole or in part) into
# its next Answer: they are never part of an answer.
_LOOP_LINES = re.compile(
    "[ \t]*(?:"
    + "|".join(
        re.sub(r"\\\{\w+\\\}", "[^\n]*?", re.escape(sentence.strip()))
        for line in (
            NO_VALUE_HINT,
            UNGROUNDED_HINT,
            ROUNDING_HINT,
            NAN_HINT,
            P_VALUE_HINT,
            CHOICE_HINT,
            SIGNIFICANT_HINT,
            NAME_HINT,
            YEAR_HINT,
            REPEAT_NOTE,
            STALE_NOTE,
        )
        for sentence in re.findall(r"[^.:]+[.:]", line)
    )
    + ")"
)


# A line that opens with a tag of its own ("<execute>", "< Execute>", "<Final Answer>"): a
# small model goes on past its Answer with a copy of the loop's step or of the Answer.
_SPILL = re.compile(r"\n[ \t]*<\s*/?\s*[A-Za-z][A-Za-z ]{0,20}>")


def _own_words(answer: str) -> str:
    """The Answer without the loop's lines copied into it, nor what follows a tag line."""
    spill = _SPILL.search(answer)
    if spill is not None and answer[: spill.start()].strip():
        answer = answer[: spill.start()]
    return re.sub(r"[ \t]*\n{3,}", "\n\n", _LOOP_LINES.sub("", answer)).strip()


@dataclass
class Budget:
    max_turns: int = 10  # model generations, the forced answer excluded
    max_tokens: int = 6000  # completion tokens over the whole analysis
    timeout_s: float | None = None  # wall clock for the whole analysis
    turn_tokens: int = 768  # completion tokens for one step


MAX_LISTED_FILES = 20
MAX_PRINTED = 3  # values of the last cell the loop prints itself for significant digits


def new_transcript(
    question: str,
    files: list[Path],
    profile: str,
    tables: list[str],
    *,
    joins: bool = False,
    alone: str | None = None,
    which: tuple[str, list[str]] | None = None,
    named_values: list[tuple[str, str]] | None = None,
    columns: list[str] | None = None,
    highest: dict[str, float] | None = None,
    native: bool = False,
) -> Transcript:
    """The opening prompt: the protocol in a system message, then the DeepAnalyze-layout
    user message (instruction, files sorted by name) followed by the data profile. The
    worked example matches the question: a change over time, a join across related tables
    (`joins`: the profile found join keys), or a plain aggregate. `alone`: the one table
    of several the question is about, which a note says to compute from without a join.
    `which`: the column a "which ..." question asks a value of, and its values, one of
    which the Answer must name. `named_values`: (column, value) of the rows the question
    names ("first visits"), which some cell must select. `columns`: the tables' columns, for
    the notes on an amount of time given in another unit than a column's; `highest`: each
    numeric column's largest value, for the notes on a percentage the question gives.

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
    user = prompts.render(
        "user.j2",
        question=question.strip(),
        files=entries,
        profile=profile,
        notes=[
            *prompts.method_notes(question),
            *([prompts.alone_note(alone)] if alone else []),
            *filter(None, [prompts.share_note(question, named_values or [])]),
            *prompts.unit_notes(question, columns or []),
            *prompts.percent_notes(question, highest or {}),
        ],
    )
    return Transcript(
        question=question,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
        which=which,
        named_values=list(named_values or []),
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


def _unbacked(t: Transcript, answer: str) -> str | None:
    """Why an Answer is sent back, or None: it quotes numbers no output shows, or the
    question asks for a value and it states none that a cell printed (a cell that printed
    nothing is no evidence, and a format placeholder copied from the question is no
    value), or it reads one value over all the rows (an average) off an output pandas cut
    short, or no cell selected a year the question names, or it cuts the number off a
    name ("Store" for "Store 12"), or it names none of the values of the column a "which"
    question asks about, or names one that a printed ranking shows below the top the
    question asks for, or it gives nan for one, or none where a number is asked
    for, or a p-value outside [0, 1], or fewer significant digits than the question asks
    for, or the question asks to choose among listed values and no output shows the
    answer's choice."""
    evidence = _evidence(t)
    missing = grounding.ungrounded(answer, evidence)
    if missing:
        # A number rounded wrongly in the head (1013.54 for 1013.5345) is no made-up one:
        # told only that no output shows it, the 1.5B computed the same value again and
        # rounded it the same way.
        slips = grounding.misrounded(missing, evidence)
        if len(slips) == len(missing):
            return ROUNDING_HINT.format(
                slips="; ".join(
                    f"{given} where an output shows {shown}, which rounds to {right}"
                    for given, (shown, right) in list(slips.items())[:5]
                ),
                places=grounding.decimals(next(iter(slips))),
            )
        return UNGROUNDED_HINT.format(numbers=", ".join(missing[:5]))
    # A follow-up may answer from the earlier analysis's outputs (in its assistant turn).
    outputs = [m["content"] for m in t.messages if m["role"] == "assistant"]
    outputs += _computed_outputs(t)
    cut = grounding.read_off_cut(t.question, answer, _computed_outputs(t))
    if cut is not None:
        return CUT_HINT.format(value=cut[0], rows=cut[1])
    years = grounding.years_unused(t.question, [s.text for s in t.steps if s.kind == "code"])
    if years:
        return YEAR_HINT.format(years=" and ".join(years))
    uncomputed = grounding.statistic_uncomputed(t.question, t.code)
    if uncomputed:
        return STATISTIC_HINT.format(statistic=uncomputed[0], how=uncomputed[1])
    unselected = grounding.values_unselected(t.named_values, t.code)
    if unselected:
        return VALUES_HINT.format(
            rows=" and ".join(f"{c} {v!r}" for c, v in unselected),
            selection=" & ".join(f"df[{c!r}] == {v!r}" for c, v in unselected),
        )
    split = grounding.split_name(answer, outputs)
    if split is not None:
        return NAME_HINT.format(whole=split[0], part=split[1])
    if t.which is not None and not grounding.names_a_value(answer, t.which[1]):
        column, values = t.which
        shown = grounding.values_shown(values, outputs)
        more = ", …" if len(values) > len(shown) else ""
        return WHICH_HINT.format(column=column, values=", ".join(shown) + more)
    if t.which is not None:
        misread = grounding.misread_ranking(t.question, answer, _computed_outputs(t), t.which[1])
        if misread is not None:
            word, named, its, top, best = misread
            return RANKING_HINT.format(
                named=named, its=its, top=" and ".join(top), best=best, word=word,
                column=t.which[0],
            )  # fmt: skip
    asked = grounding.significant_asked(t.question)
    if asked and not grounding.numbers(answer):
        # A number is asked for ("Give 4 significant digits"), and an answer that says why
        # there is none ("the slope cannot be determined due to missing values") names
        # words an output printed: the 1.5B said so of 3 of 13 slopes of data with gaps.
        nan = any(re.search(r"(?<![\w.])nan(?![\w.])", o, re.IGNORECASE) for o in outputs)
        return NAN_HINT if nan else NO_VALUE_HINT
    asks = grounding.asks_for_value(t.question)
    options = grounding.undecided_choice(answer, outputs, t.question)
    if asks and not grounding.states_computed_value(answer, outputs, t.question):
        # An answer that names one of the question's options decided it in the head: the
        # choice hint says how to decide it in code, which "print the values" does not.
        named = options is not None and grounding.named_choices(answer, options)
        return CHOICE_HINT.format(options=_listed(options)) if named else NO_VALUE_HINT
    if asks and grounding.states_nan(answer):
        return NAN_HINT
    impossible = grounding.impossible_p_value(answer)
    if impossible is not None:
        return P_VALUE_HINT.format(value=impossible)
    short = grounding.short_of_significant(answer, asked) if asked else None
    if short is not None:
        has = grounding.significant_digits(short)
        line = grounding.significant_print(_last_code(t), asked)
        return SIGNIFICANT_HINT.format(asked=asked, value=short, has=has, line=line)
    if options is not None:
        return CHOICE_HINT.format(options=_listed(options))
    return None


def _restated(t: Transcript, answer: str) -> tuple[str, list[Step]]:
    """The answer, with a number it took from a cell's first run that the cell, run
    rewritten, printed otherwise restated as rewritten (`_rewritten_cell`), a number short
    of the significant digits the question asks for restated as an output of this analysis
    printed it, and a name it cut the number off restated whole (at once where the answer
    does not give the name's number, else once it was sent back), and a date it wrote in
    words restated in the form the question asks for ("YYYY-MM");
    and the notices that say so."""
    notices = []
    rewritten = grounding.with_rewritten_values(answer, *t.superseded) if t.superseded else None
    if rewritten is not None:
        answer, changes = rewritten
        notices.append(f"Answer restated from the rewritten cell's output: {'; '.join(changes)}.")
    outputs = _computed_outputs(t)
    asked = grounding.significant_asked(t.question)
    found = grounding.with_significant(answer, outputs, asked) if asked else None
    if found is not None:
        answer, short, full = found
        notices.append(
            f"Answer restated with the significant digits asked for: {short} is {full} in an "
            "output."
        )
    dated = grounding.in_asked_form(t.question, answer, outputs)
    if dated is not None:
        answer, words, date = dated
        notices.append(
            f'Answer restated in the form the question asks for: "{words}" is {date} in an output.'
        )
    # Where the answer gives the name's number as a figure of its own, the model is told
    # first: it may count again what it took the number for. Otherwise the name is restated
    # at once: sent back, the 1.5B looked the 882 of "Dr Chen Partners 882" up as an id and
    # answered that there was no such doctor.
    named = grounding.with_whole_name(answer, outputs)
    if named is not None and (
        t.rejected_answers >= MAX_REJECTED_ANSWERS
        or not grounding.gives_name_number(answer, named[2])
    ):
        answer, part, whole = named
        notices.append(f'Answer restated with the whole name: "{part}" is "{whole}" in an output.')
    t.restated = t.restated or bool(notices)
    return answer, [_add(t, Step("notice", said)) for said in notices]


def _printed_significant(t: Transcript, sandbox: Sandbox, answer: str) -> tuple[str, list[Step]]:
    """The answer, with a number short of the significant digits the question asks for
    restated from the loop's own print of the value the last cell printed at fixed
    decimals (`{slope:.4f}` gave 0.0056; `{slope:#.4g}` prints 0.005612), when that print
    rounds to it; and the steps it added (the print, its output, the notice). Sent back
    with the line to run, the 1.5B ran its `:.4f` again and repeated 0.0056 (2 of 6
    send-backs on unseen tables): the value is in the worker, and printing it changes
    nothing. The answer as it was, and no steps, when no such print restates it."""
    asked = grounding.significant_asked(t.question)
    if not asked or grounding.short_of_significant(answer, asked) is None:
        return answer, []
    for name in grounding.fixed_names(_last_code(t))[:MAX_PRINTED]:
        # `#` keeps trailing zeros: .4g prints 0.06630 as 0.0663, three digits.
        line = f'print(f"{{{name}:#.{asked}g}}")'
        result = sandbox.run(line)
        t.usage.sandbox_seconds += result.seconds
        if not result.ok:
            continue
        output = result.observation()
        found = grounding.with_significant(answer, [output], asked)
        if found is None:
            continue
        restated, short, full = found
        t.restated = True
        said = (
            f"Answer restated with the significant digits asked for: {short} is {full}, "
            f"printed by {line}."
        )
        shown = [Step("code", line), Step("execute", output, seconds=result.seconds)]
        return restated, [_add(t, s) for s in (*shown, Step("notice", said))]
    return answer, []


def _ran(t: Transcript) -> list[tuple[str, str]]:
    """Each cell of this analysis that ran without an error, and its output, in order."""
    out, code = [], ""
    for s in t.steps:
        if s.kind == "code":
            code = s.text
        elif s.kind == "execute" and not s.error:
            out.append((code, s.text))
    return out


def _computed_outputs(t: Transcript) -> list[str]:
    """The outputs of this analysis's cells that ran and computed something: not a cell
    that failed, nor one that only printed what its code spelled out."""
    return [output for code, output in _ran(t) if not grounding.spelled_out(code)]


def _last_code(t: Transcript) -> str:
    return next((s.text for s in reversed(t.steps) if s.kind == "code"), "")


def _listed(options: list[str]) -> str:
    return ", ".join(f'"{o}"' for o in options)


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


@dataclass
class Turn:
    """What one transcript asks of the model next: a protocol step under `grammar`, or
    (`forced`: the budget that ran out) its final Answer."""

    grammar: str
    room: int  # completion tokens for this generation
    temperature: float
    # The room is less than a step may take because --max-tokens is nearly spent: a cut at
    # it is the budget's doing, not a format failure.
    budget_cut: bool
    forced: str | None = None


def _temperature(t: Transcript) -> float:
    # A greedy analysis that just repeated itself would repeat again: after a repeat,
    # sample instead to get it out of the rut.
    stuck = bool(t.steps) and t.steps[-1].repeated
    return max(t.temperature, RUT_TEMPERATURE) if stuck else t.temperature


def _step_turn(t: Transcript, budget: Budget) -> Turn:
    room = min(budget.turn_tokens, max(budget.max_tokens - t.usage.completion_tokens, 64))
    # After an Answer was sent back, code comes first: told that no output shows its
    # numbers, a small model otherwise writes the same Answer again.
    ran = any(s.kind == "execute" and not s.error for s in t.steps) and not t.sent_back
    if t.analysis_open:
        grammar = protocol.AFTER_ANALYZE_GRAMMAR if ran else protocol.AFTER_ANALYZE_CODE_GRAMMAR
    elif not t.continuation:
        grammar = protocol.FIRST_GRAMMAR
    else:
        grammar = protocol.STEP_GRAMMAR if ran else protocol.CODE_GRAMMAR
    return Turn(grammar, room, _temperature(t), room < budget.turn_tokens)


def _answer_turn(t: Transcript, budget: Budget, reason: str) -> Turn:
    # Room for a real answer, but within what is left of --max-tokens when that is more.
    left = budget.max_tokens - t.usage.completion_tokens
    room = min(budget.turn_tokens, max(left, 128))
    return Turn(
        protocol.ANSWER_GRAMMAR, room, _temperature(t), room < budget.turn_tokens, forced=reason
    )


def _request(t: Transcript, model: Model, turn: Turn) -> Request:
    return Request(
        t.messages,
        t.continuation,
        stop=protocol.STOP,
        grammar=turn.grammar if model.supports_grammar else None,
        max_tokens=turn.room,
        temperature=turn.temperature,
        # Its own random stream per analysis and per step, fixed by the transcript alone,
        # so a sampled analysis does not depend on what else ran before it.
        seed=t.seed * 1009 + t.usage.generations,
    )


def _count(t: Transcript, gen: Generation) -> None:
    u = t.usage
    u.generations += 1
    u.prompt_tokens += gen.prompt_tokens
    u.completion_tokens += gen.completion_tokens
    u.model_seconds += gen.seconds


def step(t: Transcript, model: Model, sandbox: Sandbox, budget: Budget) -> list[Step]:
    """One model step (and the execution of its code). Returns the steps it added."""
    return list(steps(t, model, sandbox, budget))


def steps(t: Transcript, model: Model, sandbox: Sandbox, budget: Budget) -> Iterator[Step]:
    """One model step, yielding each of its steps as soon as it exists: the code before it
    runs, so the display and the run's transcript show what is running (and keep it when
    the run is interrupted in the middle of a cell)."""
    turn = _step_turn(t, budget)
    (gen,) = generate_all(model, [_request(t, model, turn)])
    _count(t, gen)
    added, code = _take(t, model, turn, gen, sandbox)
    yield from added
    if code is not None:
        yield _add(t, _observe(t, sandbox.run(code)))


def _take(
    t: Transcript, model: Model, turn: Turn, gen: Generation, sandbox: Sandbox
) -> tuple[list[Step], str | None]:
    """Add one generation to the transcript: the steps it adds, and the code it asks to
    run (None: no cell to run). The cell's output is added by `_observe` once it ran; the
    sandbox is for the cells the loop runs itself: a value an Answer gives short of the
    digits asked printed again (`_printed_significant`), the cell an Answer comes from
    rewritten (`_rewritten_cell`)."""
    text, finish = gen.text, gen.finish
    if turn.forced is not None:
        return [_forced_answer(t, turn, text, finish)], None
    if model.supports_grammar:  # its `inline` path; other backends' text stays as written
        text = protocol.canonical(text)
    if finish == "length":
        text = _close_truncated(t, text, budget_cut=turn.budget_cut)
    t.analysis_open = False
    parsed = protocol.parse_step(text)
    answer_only = parsed.answer is not None and parsed.code is None
    if not answer_only and parsed.code is not None and _ran_before(t, parsed.code):
        # Small models copy their own previous step, so a repeat left in the transcript begets
        # more repeats: drop it (the transcript is as before) and sample the next try, or
        # run the cell that just failed with the line its output mended.
        _amend_last_execute(t)
        mended = _mended(t, parsed.code)
        if mended is not None:
            return mended
        return [_note(t, "The model repeated code that already ran; trying again.", True)], None
    if answer_only and _stale(t, parsed.analyze):
        # After new output a small model often copies an earlier Analyze word for word and
        # then the Answer that followed it, which the new output may contradict ("poor fit"
        # printed, "good fit" answered). Drop the step and sample it again, told to read it.
        _amend_last_execute(t, STALE_NOTE)
        return [_note(t, "The model repeated an earlier analysis after new output; trying "
                         "again.", True)], None  # fmt: skip
    if answer_only:
        rewritten = _rewritten_cell(t, sandbox)
        if rewritten is not None:
            return rewritten, None
    added = []
    if parsed.analyze:
        added.append(_add(t, Step("analyze", parsed.analyze)))
    if parsed.understand:
        added.append(_add(t, Step("understand", parsed.understand)))

    if answer_only:
        assert parsed.answer is not None
        t.continuation += text
        parsed.answer = _own_words(parsed.answer)
        if not parsed.answer:  # only the loop's lines, or a tag at once: no answer yet
            t.usage.format_failures += 1
            added.append(_add(t, Step("notice", "The model's Answer was empty.")))
            return added, None
        parsed.answer, restated = _restated(t, parsed.answer)
        added += restated
        if not restated:
            parsed.answer, printed = _printed_significant(t, sandbox, parsed.answer)
            added += printed
        hint = _unbacked(t, parsed.answer)
        if hint is not None and t.rejected_answers < MAX_REJECTED_ANSWERS:
            t.rejected_answers += 1
            t.rejected = parsed.answer
            t.sent_back = True
            t.continuation += protocol.execute_block(hint)
            added.append(_add(t, Step("notice", f"Answer rejected: {hint}")))
        else:
            t.answer = parsed.answer
            if hint is not None:
                # Sent back once already: it stands, and a number no output shows is flagged
                # as a forced answer's is (the 1.5B answered an invented total twice).
                t.unverified = grounding.ungrounded(parsed.answer, _evidence(t))
            added.append(_add(t, Step("answer", parsed.answer)))
        return added, None
    if parsed.code is not None:
        # Keep only the text up to the end of the code block: anything a model writes after
        # it (a guessed <Execute>, say) must not reach the transcript.
        end = text.find("</Code>")
        kept = text[: end + len("</Code>")] if end >= 0 else text + "\n</Code>"
        code = parsed.code
        repaired = _repaired(t, code) if code in kept else None
        if repaired is not None:
            kept = kept.replace(code, repaired[0], 1)
            code = repaired[0]
            added.append(_note(t, repaired[1]))
        t.continuation += kept
        added.append(_add(t, Step("code", code)))
        return added, code
    # No code and no answer: the step ran out of tokens inside Analyze (counted when it
    # was closed), or a backend without grammar stopped early. Continue from here, with
    # Analyze closed.
    if finish != "length":
        t.usage.format_failures += 1
    t.continuation += text
    t.analysis_open = "</Analyze>" in text or "<Analyze>" not in text
    added.append(_add(t, Step("notice", "The model's step had neither code nor an answer.")))
    return added, None


# A sandbox hint that gives the failed line mended (sandbox/worker.py's `_mended_line`).
_MENDED = re.compile(r"^Line (\d+) with (?:it|them): (.+)$", re.MULTILINE)


def _mended(t: Transcript, code: str) -> tuple[list[Step], str] | None:
    """`code` is the cell that just failed, written again, and its output gave a line of it
    mended: the steps that run the cell with that line, and the cell; else None."""
    cells = [s for s in t.steps if s.kind in ("code", "execute")]
    if len(cells) < 2 or cells[-1].kind != "execute" or not cells[-1].error:
        return None
    if protocol.normalize_code(cells[-2].text) != protocol.normalize_code(code):
        return None
    mended = _MENDED.search(cells[-1].text)
    written = cells[-2].text.splitlines()
    if mended is None or not 1 <= int(mended[1]) <= len(written):
        return None
    line = int(mended[1])
    old = written[line - 1]
    written[line - 1] = old[: len(old) - len(old.lstrip())] + mended[2].strip()
    cell = "\n".join(written)
    if _ran_before(t, cell):
        return None
    analyze = MENDED_ANALYZE.format(line=line)
    t.continuation += f"<Analyze>\n{analyze}\n</Analyze>\n<Code>\n```python\n{cell}\n```\n</Code>"
    said = f"The model wrote the failed cell again; it runs with line {line} as the output gave it."
    steps = [_note(t, said, True), _add(t, Step("analyze", analyze))]
    return [*steps, _add(t, Step("code", cell))], cell


_MERGE = re.compile(
    r"Merge it in on their shared column, then run line (\d+) as it is:\n"
    r"((\w+) = \3\.merge\(.+\))$",
    re.MULTILINE,
)


def _failed_again(t: Transcript, code: str, pattern: re.Pattern[str]) -> tuple | None:
    """(what `pattern` found in the last cell's error output, `code`'s lines, where among
    them the line that failed stands), when the last cell failed, its output says how to
    mend it (`pattern`, whose first group is the failed line's number), and `code` has that
    line word for word; else None."""
    cells = [s for s in t.steps if s.kind in ("code", "execute")]
    if len(cells) < 2 or cells[-1].kind != "execute" or not cells[-1].error:
        return None
    m = pattern.search(cells[-1].text)
    before = cells[-2].text.splitlines()
    if m is None or not 1 <= int(m[1]) <= len(before):
        return None
    failed = before[int(m[1]) - 1].strip()
    lines = code.splitlines()
    at = next((i for i, line in enumerate(lines) if line.strip() == failed), None)
    return None if at is None else (m, lines, at)


def _repaired(t: Transcript, code: str) -> tuple[str, str] | None:
    """The cell `code` with what the last error's output gave it to run, and the notice that
    says so, when `code` has the line that failed word for word: the merge before it (told
    "readings has no column 'site': it is a column of devices" and the merge to run first,
    the 1.5B said it had merged, wrote its filter on `site` again without it, and answered
    a number it never saw), or the line as the output mended it ("Line 14 with it: …"; told
    to divide `channel_totals['order_id']`, it wrote a new cell around the same division)."""
    found = None if re.search(r"\bmerge\(|\.join\(", code) else _failed_again(t, code, _MERGE)
    if found is not None:
        m, lines, at = found
        lines.insert(at, lines[at][: len(lines[at]) - len(lines[at].lstrip())] + m[2].strip())
        said = (
            "The model ran the line that failed again without the merge its output gave; "
            f"the cell runs with that merge as line {at + 1}."
        )
        return "\n".join(lines), said
    found = _failed_again(t, code, _MENDED)
    if found is not None:
        m, lines, at = found
        lines[at] = lines[at][: len(lines[at]) - len(lines[at].lstrip())] + m[2].strip()
        said = (
            "The model wrote the line that failed again; the cell runs with line "
            f"{at + 1} as the output mended it."
        )
        return "\n".join(lines), said
    return None


def _rewritten(question: str, code: str) -> tuple[str, list[str], list[str]] | None:
    """The cell as it reads with what the question names and what its code meant
    (grounding's centered, with_ddof, counted_mask, omitting_missing), with the
    Analyze sentences and the notices that say how; None when it reads so already."""
    cell, analyses, notices = code, [], []
    centred = grounding.centered(question, cell)
    if centred is not None:
        cell, values, mean = centred
        analyses.append(CENTERED_ANALYZE.format(values=values, mean=mean))
        notices.append(f"compared {values} with its standard deviation ({values} - {mean})")
    ddof = grounding.with_ddof(question, cell)
    if ddof is not None:
        cell, n = ddof
        kind, by = ("population", "n") if n == 0 else ("sample", "n - 1")
        analyses.append(DDOF_ANALYZE.format(kind=kind, by=by, ddof=n))
        notices.append(f"left the {kind} deviation's ddof to its library (ddof={n})")
    counted = grounding.counted_mask(cell)
    if counted is not None:
        cell, mask = counted
        analyses.append(MASK_ANALYZE.format(mask=mask))
        notices.append(f"counted the mask `{mask}` with len() (its True values)")
    omitting = grounding.omitting_missing(cell)
    if omitting is not None:
        cell = omitting
        analyses.append(MISSING_ANALYZE)
        notices.append("left missing values in scipy.stats (nan_policy='omit')")
    return (cell, analyses, notices) if analyses else None


def _rewritten_cell(t: Transcript, sandbox: Sandbox) -> list[Step] | None:
    """The latest cell that ran, run again as it reads with what the question names and
    what its code meant (`_rewritten`): the steps that show it and its output, for the
    model to answer from. None when no cell reads otherwise, when it ran so before, when
    running it again would change what an earlier cell made (its output would differ for
    that), or when the rewritten cell fails or shows what the cell showed (the Answer
    stands)."""
    for code, output in reversed(_ran(t)):
        found = _rewritten(t.question, code)
        if found is None:
            continue
        cell, analyses, notices = found
        if _ran_before(t, cell) or not grounding.reruns_alike(code):
            return None
        result = sandbox.run(cell)
        t.usage.sandbox_seconds += result.seconds
        if not result.ok or _shows_same(output, result.observation()):
            return None
        analyze = " ".join(analyses)
        t.continuation += (
            f"<Analyze>\n{analyze}\n</Analyze>\n<Code>\n```python\n{cell}\n```\n</Code>"
        )
        said = f"The model answered from a cell that {' and '.join(notices)}; it runs rewritten."
        steps = [_note(t, said), _add(t, Step("analyze", analyze)), _add(t, Step("code", cell))]
        shown = _add(t, _observe(t, result))
        t.superseded = (output, shown.text)
        return [*steps, shown]
    return None


def _shows_same(before: str, after: str) -> bool:
    """Whether two outputs of a cell show the same, warnings and asides aside: a rewrite
    that leaves the numbers as they were can still turn "no significant" to "significant"
    (a t-test's p-value no longer nan)."""
    return ASIDE_LINES.sub("", before).strip() == ASIDE_LINES.sub("", after).strip()


def _add(t: Transcript, s: Step) -> Step:
    t.steps.append(s)
    return s


def _observe(t: Transcript, result: ExecutionResult) -> Step:
    """A cell's result, added to the transcript as the Execute block the model reads."""
    observation = result.observation()
    if result.ok:
        t.sent_back = False
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


def _amend_last_execute(t: Transcript, note: str = REPEAT_NOTE) -> None:
    """Add `note` (don't repeat the code; read the output) to the last Execute block, once:
    the context must change, or the model would write the same step again."""
    closing = "\n</Execute>\n"
    body = t.continuation.removesuffix(closing)
    if body != t.continuation and not body.endswith(note):
        t.continuation = body + "\n" + note + closing


def _stale(t: Transcript, analyze: str | None) -> bool:
    """This Analyze repeats an earlier one word for word although a cell has run since."""
    text = (analyze or "").strip()
    if not text:
        return False
    ran_since = False
    for s in reversed(t.steps):
        if s.kind == "execute":
            ran_since = True
        elif s.kind == "analyze" and s.text.strip() == text:
            return ran_since
    return False


def _note(t: Transcript, text: str, repeated: bool = False) -> Step:
    return _add(t, Step("notice", text, repeated=repeated))


def _ran_before(t: Transcript, code: str) -> bool:
    key = protocol.normalize_code(code)
    return any(s.kind == "code" and protocol.normalize_code(s.text) == key for s in t.steps)


def _forced_answer(t: Transcript, turn: Turn, text: str, finish: str) -> Step:
    """The budget ran out: the model's Answer, written now from what it found."""
    if finish == "length":
        text = _close_truncated(t, text, budget_cut=turn.budget_cut)
    answer = protocol.parse_step(text).answer
    answer = _own_words(answer) if answer is not None else None
    if not answer:
        t.usage.format_failures += 1
        # A backend without a grammar can stop mid-code: never show raw protocol markup. The
        # Answer sent back is better than none: after "US had the most sessions, 1047" was
        # sent back for its 1047, the 1.5B's next Answers were the loop's own lines.
        answer = (
            _own_words(protocol.plain_text(text))
            or t.rejected
            or "(no answer: the model wrote nothing usable)"
        )
    t.continuation += text
    t.answer, t.partial, t.stop_reason = answer, True, turn.forced
    # There is no turn left to send an ungrounded answer back: say so instead.
    t.unverified = grounding.ungrounded(answer, _evidence(t))
    return _add(t, Step("answer", answer, partial=True))


def force_answer(t: Transcript, model: Model, budget: Budget, reason: str) -> Step:
    """The budget ran out: the model writes its Answer now from what it found."""
    turn = _answer_turn(t, budget, reason)
    (gen,) = generate_all(model, [_request(t, model, turn)])
    _count(t, gen)
    return _forced_answer(t, turn, gen.text, gen.finish)


def run(t: Transcript, model: Model, sandbox: Sandbox, budget: Budget) -> Iterator[Step]:
    """Steps until an Answer; a spent budget ends with a forced, partial Answer."""
    for _, s in run_many([t], model, [sandbox], budget):
        yield s


def run_many(
    ts: list[Transcript], model: Model, sandboxes: list[Sandbox], budget: Budget
) -> Iterator[tuple[int, Step]]:
    """Several analyses in lockstep, each to its Answer: every round, one generation for
    each analysis still going, decoded together (`generate_all`), then their cells run at
    the same time, each in its own worker. Yields (analysis index, step) pairs."""
    started = time.monotonic()
    while True:
        live = [i for i, t in enumerate(ts) if not t.done]
        if not live:
            return
        turns: dict[int, Turn] = {}
        for i in live:
            t = ts[i]
            reason = _exhausted(t, budget, started)
            if reason is None and sum(s.repeated for s in t.steps) >= MAX_REPEATS:
                reason = "repeated code"
            if reason is not None:
                yield i, _note(t, f"Budget reached: {reason}; asking for a final answer.")
                turns[i] = _answer_turn(t, budget, reason)
            else:
                turns[i] = _step_turn(t, budget)
        gens = generate_all(model, [_request(ts[i], model, turns[i]) for i in live])
        cells: dict[int, str] = {}
        for i, gen in zip(live, gens, strict=True):
            _count(ts[i], gen)
            added, code = _take(ts[i], model, turns[i], gen, sandboxes[i])
            for s in added:
                yield i, s
            if code is not None:
                cells[i] = code
        for i, result in _run_cells(cells, sandboxes):
            yield i, _add(ts[i], _observe(ts[i], result))


def _run_cells(
    cells: dict[int, str], sandboxes: list[Sandbox]
) -> Iterator[tuple[int, ExecutionResult]]:
    """Each analysis's cell in its own worker; several at once on threads (a cell is a
    worker process's time, so the threads only wait)."""
    if len(cells) <= 1:
        for i, code in cells.items():
            yield i, sandboxes[i].run(code)
        return
    with ThreadPoolExecutor(max_workers=len(cells)) as pool:
        futures = {i: pool.submit(sandboxes[i].run, code) for i, code in cells.items()}
        for i, future in futures.items():
            yield i, future.result()
