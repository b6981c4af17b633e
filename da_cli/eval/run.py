"""One DABench task through the same analysis session as `da analyze` (catalog, profile,
the model's own prompt layout, agent loop, sandbox), then scored; and the summary over many."""

import json
import re
import statistics
import time
from dataclasses import dataclass, field

from da_cli.agent import grounding, loop
from da_cli.agent.session import Session
from da_cli.agent.transcript import Transcript
from da_cli.errors import DaError
from da_cli.eval.dabench import ANSWER, LEVELS, Task, conform, extract, score_values
from da_cli.models.base import Generation, Model
from da_cli.sandbox import Limits

# The benchmark wants `@name[value]` lines. When the Answer lacks some, the model writes
# them once more under a grammar that allows exactly those names: it still chooses every
# value (from the transcript it just wrote); only the layout is forced.
FORMAT_PROMPT = "\nThe final answer, in the required format:\n"
# The most of an analysis's assistant turn a result line keeps (for failure analysis and
# `reformat`): a longer one is cut from the front.
TURN_CHARS = 12000


_NUMERIC = re.compile(
    r"float|integer|\bint\b|number|numeric|decimal|rounded|(?<![a-z])counts?(?![a-z])|coefficient"
    r"|p-value|percent",
    re.IGNORECASE,
)
# Words that make a value text when they come before any number word in its description
# ("a string that is either Normal or Non-normal based on the p-value"); the free rule
# admits numbers too, so text is the safe side.
_TEXTUAL = re.compile(
    r"\bstrings?\b|boolean|\blist\b|\beither\b|\bnames?\b|categor|\btext\b|\bword",
    re.IGNORECASE,
)


# Between two names of one enumeration ("where "mean", "median", and "std" are floats").
_LISTED = re.compile(r"""[\s,;:"'`]*(?:(?:and|or|&)[\s"'`]*)?""")
# A new description starts a new sentence or line with "where".
_WHERE = re.compile(r"[.\n]\s*where\b", re.IGNORECASE)


def descriptions(name: str, spec: str) -> list[str]:
    """What the format says of one name's value, most specific first: its placeholder
    (`@n[integer]`, `@n[A string, either "Normal" or "Not Normal"]`), the text right after
    its `@name[...]`, each clause that mentions its placeholder or name, and the text after
    the last `@name[...]` that names no value ("where each answer is a float"). Formats
    describe every value in one closing sentence ("where r is a number ..., and kind is a
    string ..."), so a clause runs from a mention to the next mention of another value or
    the next "where"; names listed together ("x", "y" and "z" are floats) share the clause
    after the list."""
    tokens = list(ANSWER.finditer(spec))
    own = next((m for m in tokens if m.group(1) == name), None)
    if own is None:
        return []
    terms = {
        m.group(1): {m.group(1), m.group(2).strip().strip("\"'`").strip()} - {""} for m in tokens
    }
    inside = [m.span() for m in tokens]
    # Every mention of a value outside the `@name[...]` tokens: (start, end, is this one's).
    mentions: list[tuple[int, int, bool]] = []
    for other, words in terms.items():
        for word in words:
            found = [
                m
                for m in re.finditer(rf"(?<![\w@\[]){re.escape(word)}(?![\w\]])", spec)
                if not any(a <= m.start() < b for a, b in inside)
            ]
            # A quoted name ("mean") is the reference; its bare word is then prose ("the
            # mean and standard deviation of ..."). Unquoted, only a word no sentence uses
            # otherwise (`mean_fare`, `value1`) is a mention: "a" in "is a float" is not.
            quoted = [m for m in found if spec[m.start() - 1 : m.start()] in ("'", '"', "`")]
            bare = [m for m in found if re.search(r"[_\d]", word)]
            for m in quoted or bare:
                mentions.append((m.start(), m.end(), other == name or word in terms[name]))
    mentions.sort()
    starts = sorted(
        [a for a, _, _ in mentions]
        + [a for a, _ in inside]
        + [m.start() + 1 for m in _WHERE.finditer(spec)]
    )

    def until(pos: int) -> str:
        """The text from pos to the next mention, `@name[...]` or "where" sentence."""
        return spec[pos : next((a for a in starts if a > pos), len(spec))]

    clauses = []
    for i, (start, end, mine) in enumerate(mentions):
        if mine:
            j = i + 1  # past the rest of an enumeration this mention starts or is part of
            while j < len(mentions) and _LISTED.fullmatch(
                spec[mentions[j - 1][1] : mentions[j][0]]
            ):
                end = mentions[j][1]
                j += 1
            clauses.append(spec[start:end] + until(end - 1)[1:])
    last = inside[-1][1]
    general = spec[last : min([a for a, _, _ in mentions if a > last] + [len(spec)])]
    return [own.group(2), until(own.end() - 1)[1:], " ".join(clauses), general]


def is_number(name: str, spec: str) -> bool:
    """Whether the format describes this name's value as a number: in the most specific
    description that says anything of a type, the first type word decides ("a string that
    is either Normal or Non-normal based on the p-value" is text; "an integer, the number of
    distinct categories" is a number)."""
    return _is_number(descriptions(name, spec))


def _is_number(texts: list[str]) -> bool:
    # Several values in one slot (`@n[month, year, price]`, `@n[id1, id2, ...]`).
    if texts and re.fullmatch(r"\s*[\w.…]+(\s*,\s*[\w.…]+)+\s*", texts[0]):
        return False
    for text in texts:
        numeric, textual = _NUMERIC.search(text), _TEXTUAL.search(text)
        if numeric or textual:
            return textual is None or (numeric is not None and numeric.start() < textual.start())
    return False


# A whole number: "an integer", "a whole number", `@n[int]`.
_WHOLE = re.compile(r"\bint(?:eger)?s?\b|\bwhole numbers?\b", re.IGNORECASE)


def is_whole(name: str, spec: str) -> bool:
    """Whether the format describes this name's value as a whole number: the first type
    word of its most specific description that says one is "integer" ("a positive
    integer", "a whole number, rounded"), not "float" or "string"."""
    texts = descriptions(name, spec)
    if not _is_number(texts):  # text, or several values in one slot (`[month, year]`)
        return False
    for text in texts:
        numeric, textual = _NUMERIC.search(text), _TEXTUAL.search(text)
        if numeric or textual:
            whole = _WHOLE.search(text)
            first = min(m.start() for m in (numeric, textual) if m)
            return whole is not None and whole.start() <= first
    return False


def choices(name: str, spec: str) -> list[str]:
    """The values the format allows for the name when one of its descriptions lists them
    ("a string that can either be "linear", "nonlinear", or "none""), else []."""
    return _choices(descriptions(name, spec))


def _choices(texts: list[str]) -> list[str]:
    """The first list of choices in the first description that has one."""
    for text in texts:
        lists = grounding.choice_lists(text)
        if lists:
            # A choice the grammar cannot hold as a literal is no constraint at all.
            literal = all(o.isprintable() and not set(o) & set("[]\\") for o in lists[0])
            return lists[0] if literal else []
    return []


def slot(name: str, spec: str) -> str:
    """The grammar of one value: one of the format's listed choices, a number where the
    format describes one (a small model otherwise copies the placeholder), else free text."""
    texts = descriptions(name, spec)
    options = _choices(texts)
    if options:
        return "(" + " | ".join(json.dumps(o, ensure_ascii=False) for o in options) + ")"
    return "number" if _is_number(texts) else "value"


def format_grammar(names: list[str], spec: str = "") -> str:
    """One `@name[value]` line per name, each value as `slot` says. Free text may be empty
    (`@outliers[]`: there are none) but never the format's own placeholder or the name: a
    small model otherwise writes `@country_name[country]` back where it had answered Congo."""
    holders = {m.group(1): m.group(2).strip() for m in ANSWER.finditer(spec)}
    lines, rules = [], []
    for i, n in enumerate(names):
        kind = slot(n, spec)
        if kind == "value":
            kind = f"text{i}"
            rules += _text_except([holders.get(n, ""), n], kind)
        lines.append(f'"@{n}[" {kind} "]"')
    newline = ' "\\n" '
    return (
        f"root ::= {newline.join(lines)}\n"
        + "".join(f"{r}\n" for r in rules)
        + f"tail ::= {_FREE}{{0,60}}\n"
        + 'number ::= "-"? [0-9]{1,15} ("." [0-9]{1,12})? ([eE] [-+]? [0-9]{1,3})?\n'
    )


# A character of a free-text value: a value ends at its bracket and its line.
_FREE = "[^\\n\\[\\]]"


def _char(c: str) -> str:
    """One character as a grammar character-class member, escaped unless alphanumeric."""
    return c if c.isascii() and c.isalnum() else f"\\u{ord(c):04x}" if ord(c) < 0x10000 else ""


def _text_except(words: list[str], rule: str) -> list[str]:
    """Rules for `rule`: free text of up to about 60 characters that neither is one of
    `words` nor starts with one as a word (`country where "country" is …`: a model held off
    the placeholder goes on copying the format's sentence), ignoring case. A walk down the
    words' shared prefixes (a trie): at each prefix the text may end unless the prefix is a
    whole word, go on with a letter that continues some word, or leave the words behind
    with any other letter and then anything (`tail`); past a whole word, only a letter of
    the same word may follow (`countryside`)."""
    words = [w.lower() for w in words if w and all(_char(c) for c in w)]
    prefixes = sorted({w[:k] for w in words for k in range(len(w) + 1)}, key=len)
    ids = {p: f"{rule}" if not p else f"{rule}x{i}" for i, p in enumerate(prefixes)}
    out = []
    for p in prefixes:
        nexts = sorted({w[len(p)] for w in words if len(w) > len(p) and w.startswith(p)})
        cases = sorted({x for c in nexts for x in (c, c.upper(), c.lower())})
        excluded = "".join(_char(c) for c in cases)
        other = (
            f"[^\\x00-\\x2f\\x3a-\\x40\\x5b-\\x5e\\x60\\x7b-\\x7f{excluded}] tail"
            if p in words  # a word goes on only as a longer word
            else f"[^\\n\\[\\]{excluded}] tail"
        )
        alts = [other] + [
            f"[{''.join(_char(x) for x in sorted({c, c.upper()}))}] {ids[p + c]}" for c in nexts
        ]
        if p not in words:
            alts.append('""')
        out.append(f"{ids[p]} ::= " + " | ".join(alts))
    return out


@dataclass(frozen=True)
class Setup:
    """What every question of a run is analysed with; each result line records it."""

    budget: loop.Budget = field(default_factory=loop.Budget)
    limits: Limits = field(default_factory=Limits)
    samples: int = 1
    vote: str = "always"  # when the other samples run (vote.VOTE_WHEN)

    def record(self) -> dict:
        """What a figure was measured with: each row of results states its settings."""
        return {
            "max_turns": self.budget.max_turns,
            "max_tokens": self.budget.max_tokens,
            "samples": self.samples,
            # Older results files lack it: they ran every sample always. With one sample
            # there is nothing to vote on, so it changes nothing and is not recorded.
            **({"vote": self.vote} if self.vote != "always" and self.samples > 1 else {}),
        }


def run_task(task: Task, model: Model, setup: Setup, *, grammar: bool = True) -> dict:
    started = time.perf_counter()
    record = {
        "id": task.id,
        "level": task.level,
        "model": model.name,
        "settings": setup.record(),
    }
    try:
        t, samples_run = analyse([str(task.file)], task.instruction(), model, setup)
    except DaError as e:
        record.update(error=str(e), correct=False, right=0, total=len(task.labels))
        record["seconds"] = round(time.perf_counter() - started, 2)
        return record
    response = t.answer or ""
    formatted = ""
    if grammar and model.supports_grammar:
        gen = format_step(task, response, t.messages, t.continuation, model)
        if gen is not None:
            t.usage.completion_tokens += gen.completion_tokens
            t.usage.prompt_tokens += gen.prompt_tokens
            formatted = gen.text
    record.update(answer=response, formatted=formatted)
    record.update(
        transcript_fields(t, samples_run), seconds=round(time.perf_counter() - started, 2)
    )
    # Scored once every analysis's own answer is in the record, so each is scored too.
    return rescore(record, task)


def needs_format(task: Task, answer: str) -> bool:
    """Whether the Answer lacks a value the format asks for. A value copied from the
    format's own placeholder (`@mean_fare[mean_fare_value]`) is no answer either; an empty
    one the model wrote (`@outliers[]`: there are none) is an answer."""
    given = extract(answer)
    return any(n not in given or given[n] in task.placeholders for n in task.names)


def format_step(
    task: Task, answer: str, messages: list[dict], continuation: str, model: Model
) -> Generation | None:
    """The `@name[value]` lines written once more under the format grammar, when the
    Answer lacks one the format asks for (None: it has them all)."""
    if not needs_format(task, answer):
        return None
    return model.generate(
        messages,
        continuation + FORMAT_PROMPT,
        stop=[],
        grammar=format_grammar(task.names, task.format),
        max_tokens=40 * len(task.names),
    )


def reformat(record: dict, task: Task, model: Model) -> dict:
    """A recorded analysis's format step run again with this build's format grammar (the
    model must take a grammar), and the record scored again: the analysis itself does not
    run again. Its prompt is rebuilt by the session (the same catalog and profile), its turn
    is the one recorded. A record whose turn was cut to fit the file (or that has none) is
    only scored again. Its seconds and token counts stay those of the run that made it."""
    if "error" in record:
        return record
    turn = record.get("turn", "")
    if not turn or len(turn) >= TURN_CHARS:
        return rescore(record, task)
    # In `run_task` the step follows the analysis in a warm cache; here the prompt is
    # evaluated afresh. The logits can differ in their last bits, as between any two runs.
    _cold(model)
    with Session([str(task.file)]) as session:
        t = session.start(task.instruction(), model)
    gen = format_step(task, record.get("answer", ""), t.messages, turn, model)
    record["formatted"] = gen.text if gen is not None else ""
    return rescore(record, task)


def analyse(
    files: list[str], question: str, model: Model, setup: Setup
) -> tuple[Transcript, list[Transcript]]:
    """One question through the analysis session `da analyze` uses: the chosen transcript
    (several analyses: the one their vote chose) and every analysis run."""
    _cold(model)  # each question is timed from a cold cache, as a user's first one is
    with Session(files, limits=setup.limits) as session:
        session.start(question, model, samples=setup.samples, vote_when=setup.vote)
        for _ in session.run(setup.budget):
            pass
        t = session.transcript
        assert t is not None
        return t, list(session.samples)


def _cold(model: Model) -> None:
    """Empty the model's cache, for backends that keep one (llama.cpp)."""
    forget = getattr(model, "forget", None)
    if forget is not None:
        forget()


def transcript_fields(t: Transcript, samples_run: list[Transcript]) -> dict:
    """What a result line records of an analysis besides its score."""
    u = t.usage
    return {
        "partial": t.partial,
        "stop_reason": t.stop_reason,
        "turns": u.generations,
        "format_failures": u.format_failures,
        "budget_cuts": u.budget_cuts,
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "code": t.code,
        **({"agreement": t.agreement} if t.agreement else {}),
        # Every analysis's own answer, so a run also tells how often one of them was right
        # where the vote (or the greedy analysis) was not.
        **({"sample_answers": [x.answer for x in samples_run]} if len(samples_run) > 1 else {}),
        # The whole assistant turn, Execute outputs included: what failure analysis reads.
        "turn": t.continuation[-TURN_CHARS:],
    }


def wholes(task: Task) -> set[str]:
    """The answer names whose value the format describes as a whole number."""
    return {n for n in task.names if is_whole(n, task.format)}


def rescore(record: dict, task: Task) -> dict:
    """Score a record from the text the model wrote (its Answer and format step), so a
    results file can be scored again without running anything.

    `correct_raw` is the benchmark's rule on that text as it is. `correct` adds the format
    self-check: numbers with more decimals than the question asked for are rounded to its
    precision (`conformed` lists what changed)."""
    given = extract(record.get("answer", "") + "\n" + record.get("formatted", ""))
    whole = wholes(task)  # read from the format once, for the answer and every sample's
    fixed = conform(given, task, whole=whole)
    raw, s = score_values(given, task.labels), score_values(fixed, task.labels)
    record.update(
        correct=s.correct,
        right=s.right,
        total=s.total,
        correct_raw=raw.correct,
        extracted=given,
        conformed={n: v for n, v in fixed.items() if given.get(n) != v},
    )
    if "sample_answers" in record:
        # Each analysis's own Answer by the same rule (without the format step, which only
        # the chosen one gets): how often one of them was right where the choice was not.
        record["samples_correct"] = [
            score_values(conform(extract(a or ""), task, whole=whole), task.labels).correct
            for a in record["sample_answers"]
        ]
    return record


def summarize(records: list[dict]) -> dict:
    n = len(records)
    if not n:
        return {"questions": 0}

    def accuracy(rows: list[dict]) -> float | None:
        return round(100 * sum(r["correct"] for r in rows) / len(rows), 1) if rows else None

    total_subs = sum(r["total"] for r in records)
    settings = [
        json.loads(s) for s in {json.dumps(r.get("settings"), sort_keys=True) for r in records}
    ]
    return {
        "questions": n,
        "correct": sum(r["correct"] for r in records),
        "accuracy": accuracy(records),
        # The benchmark's rule on the text as written, without the format self-check.
        "accuracy_raw": round(
            100 * sum(r.get("correct_raw", r["correct"]) for r in records) / n, 1
        ),
        "sub_accuracy": round(100 * sum(r["right"] for r in records) / total_subs, 1)
        if total_subs
        else None,
        "by_level": {
            lv: {"questions": len(rows), "accuracy": accuracy(rows)}
            for lv in LEVELS
            if (rows := [r for r in records if r.get("level") == lv])
        },
        # Synthesized questions: accuracy by question family (template group).
        "by_group": {
            g: {"questions": len(rows), "accuracy": accuracy(rows)}
            for g in sorted({r["group"] for r in records if r.get("group")})
            if (rows := [r for r in records if r.get("group") == g])
        },
        "format_failures": sum(r.get("format_failures", 0) for r in records),
        "tasks_with_format_failures": sum(1 for r in records if r.get("format_failures")),
        "budget_cuts": sum(r.get("budget_cuts", 0) for r in records),
        "errors": sum(1 for r in records if r.get("error")),
        "partial": sum(1 for r in records if r.get("partial")),
        "mean_seconds": round(statistics.mean(r["seconds"] for r in records), 1),
        "median_seconds": round(statistics.median(r["seconds"] for r in records), 1),
        # One settings object when every record shares it; a mixed file says so.
        "settings": settings[0] if len(settings) == 1 else "mixed",
        "mean_completion_tokens": round(
            statistics.mean(r.get("completion_tokens", 0) for r in records)
        ),
        "mean_prompt_tokens": round(statistics.mean(r.get("prompt_tokens", 0) for r in records)),
        **_votes(records),
    }


def _votes(records: list[dict]) -> dict:
    """With several analyses a question: how many questions were voted on, how many votes
    split, and in how many one analysis was right where the chosen answer was wrong (what
    a better vote could still gain)."""
    voted = [r for r in records if r.get("agreement")]
    if not voted:
        return {}
    return {
        "voted": len(voted),
        "split_votes": sum(1 for r in voted if r["agreement"].get("split")),
        "missed_by_vote": sum(
            1 for r in voted if not r["correct"] and any(r.get("samples_correct", []))
        ),
    }
