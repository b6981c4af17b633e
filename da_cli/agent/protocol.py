"""The DeepAnalyze protocol: tags, the grammar that keeps small models inside it, and the
parser that turns model text into steps.

One assistant turn holds the whole analysis: `<Analyze>` (and optionally `<Understand>`)
then either `<Code>` with one Python block — the loop runs it and appends
`<Execute>…</Execute>` to the same turn — or the final `<Answer>`.
"""

import re
from dataclasses import dataclass

TAGS = ("Analyze", "Understand", "Code", "Execute", "Answer")
TAG_TOKENS = tuple(t for tag in TAGS for t in (f"<{tag}>", f"</{tag}>"))

# Generation ends when a code block closes (the loop must run it) or the answer closes.
STOP = ["</Code>", "</Answer>"]

# GBNF for generic instruct models. A step is Analyze (+ Understand) and then exactly one
# of Code or Answer; the model can never write <Execute> itself, never stop after Analyze,
# its code is always one fenced Python block, and its Answer is prose (no code fence).
# Blocks are bounded in characters: a small model otherwise rambles in Analyze until the
# token limit cuts the step; at the bound the grammar closes the block, and a whole step
# (about 170 + 550 tokens at most) fits in one turn's token budget.
#
# Small models like to write their code inside Analyze, as in a chat answer, and then go on
# to invent its output there (a "```output" block) and reason from the invention. Analyze
# text therefore has no code fence: a fence it opens is the step's code (`inline`), closed
# by "</Code>" like any Code block, and `canonical` rewrites the step into the protocol's
# layout before it reaches the transcript. In the same chat habit they close their Answer
# with a fence and go on to explain "this code" until the block's bound: a fence that ends
# an Answer's text ends the Answer. (A backtick is never followed by "<" inside a
# block, so "`</Analyze>" cannot pass as text; only the block's last character may be one.)
# The same models also open "<Code>" (or "<Answer>") inside Analyze and write their code
# there unfenced, until the grammar closes the Analyze and the real Code block gets a stray
# line or nothing: about one analysis in sixteen did, most of those then wrong, many ending on
# repeated code. Analyze and Understand text therefore never holds "<" before a tag's
# capital: a "<Code>" written there is the step's Code block, a "<Answer>" its Answer
# where one may come, and `canonical` closes the Analyze before it. Answer prose neither:
# a model sent back once went on after its next Answer with an "<Execute>" of its own
# (57 of 257 final answers), tokens the parser then cut; it now closes the Answer there.
_COMMON = r"""
understand ::= "<Understand>\n" text "</Understand>\n"
code ::= "<Code>\n```python\n" body "```\n</Code>"
inline ::= "```" [a-z]* "\n" body "```\n</Code>"
answer ::= "<Answer>\n" (prose | [^<`\n] prose "```" "\n"?) "</Answer>"
text ::= ([^<`] | "<" [^/`ACEU] | "`" [^`<] | "``" [^`<]){0,700} ("`" | "``")?
prose ::= ([^<`] | "<" [^/`ACEU] | "`" [^`<] | "``" [^`<]){0,1500} ("`" | "``")?
body ::= ([^`] | "`" [^`] | "``" [^`]){0,2000}
"""
STEP_GRAMMAR = (
    'root ::= "<Analyze>\\n" text ("</Analyze>\\n" understand? (code | answer) | inline | code '
    "| answer)\n" + _COMMON
)
# Until some code has run without error there is nothing to ground an answer in, so a
# small model may not answer from its imagination: it must write code first.
CODE_GRAMMAR = (
    'root ::= "<Analyze>\\n" text ("</Analyze>\\n" understand? code | inline | code)\n' + _COMMON
)
ANSWER_GRAMMAR = "root ::= answer\n" + _COMMON
# The first step opens with a plan, so a small model does not jump to a conclusion before
# it has seen any data.
FIRST_GRAMMAR = (
    'root ::= "<Analyze>\\nTo answer this, I will " text '
    '("</Analyze>\\n" understand? code | inline | code)\n' + _COMMON
)
# After an Analyze block that the token limit cut (and the loop closed).
AFTER_ANALYZE_GRAMMAR = "root ::= understand? (code | answer)\n" + _COMMON
AFTER_ANALYZE_CODE_GRAMMAR = "root ::= understand? code\n" + _COMMON

_BLOCK = {tag: re.compile(rf"<{tag}>(.*?)(?:</{tag}>|\Z)", re.DOTALL) for tag in TAGS}
# A tag, protocol or not: an Answer's text ends at one. A model whose answer was sent back
# copies the Execute block that said why into its next Answer; that text is the loop's,
# never part of an answer. The grammar keeps "<Execute>" out of prose, and the 1.5B then
# wrote "< Execute>" or "<Final Answer>" after its answer. A tag is capitalised words in
# angle brackets ("A < B > C" is none).
_ANY_TAG = re.compile(r"<\s?/?\s?[A-Z][a-z]+(?: [A-Z][a-z]+)*\s?>")
# The fence that may end an Answer (a backtick the text ended with can precede it).
_CLOSING_FENCE = re.compile(r"\s*`{3,}\s*\Z")
# A Code or Answer block the model opened inside Analyze (see the grammar).
_OPENED_INSIDE = re.compile(r"<(?:Code|Answer)>")
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL)


@dataclass
class ParsedStep:
    analyze: str | None = None
    understand: str | None = None
    code: str | None = None
    answer: str | None = None


def canonical(text: str) -> str:
    """A step whose code or Answer opened inside Analyze (the grammar's `inline`, or a
    "<Code>" or "<Answer>" in its text), in the protocol's layout: the Analyze closed
    before it, a fence as the step's Code block, and nothing after the fence closes. Any
    other step is returned as it is."""
    if not text.startswith("<Analyze>") or "</Analyze>" in text:
        return text
    tag = _OPENED_INSIDE.search(text)
    fenced = text.find("```")
    if tag is not None and (fenced < 0 or tag.start() < fenced):
        return f"{text[: tag.start()].rstrip()}\n</Analyze>\n{text[tag.start() :]}"
    analysis, fence, rest = text.partition("```")
    if not fence:
        return text
    _, newline, rest = rest.partition("\n")  # the fence's language, whatever the model wrote
    code, closed, _ = rest.partition("```")
    layout = f"{analysis.rstrip()}\n</Analyze>\n<Code>\n```python\n{code if newline else ''}"
    return layout + "```\n</Code>" if closed else layout


def parse_step(text: str) -> ParsedStep:
    """Read one model step. An unclosed final block still counts (the budget may cut it)."""
    step = ParsedStep()
    for tag, field in (("Analyze", "analyze"), ("Understand", "understand"), ("Answer", "answer")):
        m = _BLOCK[tag].search(text)
        if m:
            setattr(step, field, m.group(1).strip())
    m = _BLOCK["Code"].search(text)
    if m:
        step.code = extract_code(m.group(1))
    if step.answer is not None:
        answer = _ANY_TAG.split(step.answer, maxsplit=1)[0].strip()
        step.answer = trim_repetition(_CLOSING_FENCE.sub("", answer))
    return step


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def trim_repetition(text: str, min_chars: int = 24) -> str:
    """Cut a degenerate answer at the first sentence it says a second time: greedy
    decoding from a small model can loop on one sentence until the token limit."""
    seen: set[str] = set()
    for m in _SENTENCE.finditer(text):
        key = " ".join(m.group(0).split()).lower()
        if len(key) < min_chars:
            continue
        if key in seen:
            return text[: m.start()].rstrip()
        seen.add(key)
    return text


def extract_code(block: str) -> str:
    """The code inside a <Code> block: its first ```python fence if there is one."""
    m = _FENCE.search(block)
    return (m.group(1) if m else block).strip("\n")


# Blocks that are never prose: code (and a fence the model opened inside Analyze), and an
# Execute a model without a grammar wrote itself (invented output). Each may be unclosed.
_NOT_PROSE = re.compile(r"<(Code|Execute)>.*?(?:</\1>|\Z)|```.*?(?:```|\Z)", re.DOTALL)
_TAG = re.compile(r"</?(?:" + "|".join(TAGS) + r")>|<(?:/?[A-Za-z]*)?\Z")


def plain_text(text: str) -> str:
    """A model's step as prose, with no protocol markup: for a partial answer made from a
    step that is not an Answer (a backend without a grammar can stop mid-code when the budget
    ends). Code and Execute blocks and code fences go whole, every tag goes (a tag cut off
    at the end too), the analysis text stays; "" when nothing is left."""
    text = _TAG.sub("", _NOT_PROSE.sub("", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def execute_block(observation: str) -> str:
    return f"\n<Execute>\n{observation}\n</Execute>\n"


def normalize_code(code: str) -> str:
    """Code compared for repetition: whitespace and comments do not make code new."""
    lines = []
    for line in code.splitlines():
        line = line.split("#", 1)[0].strip() if "#" in line and "'" not in line else line.strip()
        if line:
            lines.append(" ".join(line.split()))
    return "\n".join(lines)
