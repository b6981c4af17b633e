"""Prompt templates (Jinja2 files beside this module, rendered with StrictUndefined so a
missing variable is an error, not an empty string)."""

import json
import re
from functools import cache
from pathlib import Path

import jinja2

from da_cli.agent.grounding import FROM_MEAN, POPULATION, SAMPLE

_DIR = Path(__file__).parent / "prompts"


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def worked_examples() -> str:
    """The text of every worked example the system prompt can show: a small model copies
    their wording into its own answers, so reports check answers against it."""
    return "\n".join(p.read_text() for p in sorted((_DIR / "examples").glob("*.j2")))


def render(name: str, **values: object) -> str:
    return _env().get_template(name).render(**values).strip() + "\n"


def file_entry(path: Path, *, native: bool = False) -> str:
    """DeepAnalyze's description of one input file: its name and size, as JSON. The
    reference writes every size in KB; for other models MB reads better for big files."""
    size = path.stat().st_size
    kb = native or size < 1 << 20
    human = f"{size / 1024:.1f}KB" if kb else f"{size / (1 << 20):.1f}MB"
    return json.dumps({"name": path.name, "size": human}, indent=4, ensure_ascii=False)


def native_message(question: str, files: list[Path]) -> str:
    """The user message exactly as DeepAnalyze's reference builds it (API/utils.py:
    `prepare_vllm_messages`): the instruction, then each file sorted by name."""
    listing = "".join(
        f"File {i}:\n{file_entry(p, native=True)}\n\n"
        for i, p in enumerate(sorted(files, key=lambda p: p.name), 1)
    )
    if not listing:
        return f"# Instruction\n{question}"
    return f"# Instruction\n{question}\n\n# Data\n{listing}"


# Small models imitate the one worked example they are shown, so it should show the kind of
# analysis the question asks for. Questions about a change over time get the breakdown
# example; everything else the plain aggregate one.
#
# A change word alone is not enough: "values that fall below Q1 - 1.5*IQR", "drop these
# rows", "the percentage change from the previous day" or "must not be changed" ask for a
# computation, and a small model shown the breakdown example copies it into the wrong
# analysis (18 of DABench's 257 dev questions read as change questions that way). A change
# question asks why, says that something changed (a past-tense verb: "sales dropped"), or
# asks whether or how it did ("did revenue fall", "how has churn changed"). The present
# tense ("values that do not fall within") describes a rule, not a change.
_VERB = (
    r"(drop\w*|f[ae]ll\w*|declin\w*|decreas\w*|increas\w*|ris[ei]\w*|rose|gr[eo]w\w*|chang\w*|"
    r"spik\w*|dip\w*|jump\w*|plung\w*|slump\w*|surg\w*|shr[aiu]nk\w*)"
)
_CHANGE = re.compile(
    r"\bwhy\b"
    r"|\b(dropped|fell|declined|decreased|increased|rose|grew|spiked|dipped|jumped|plunged|"
    r"slumped|surged|shrank|went (up|down))\b"
    rf"|\b(did|has|have|had)\b(\W+\w+){{0,6}}?\W+{_VERB}\b"
    r"|\bwhat (caused|drove|explains)\b",
    re.IGNORECASE,
)


def is_change_question(question: str) -> bool:
    """Whether the question asks about a change over time (so explain_change is offered and
    its example shown), rather than a plain aggregate."""
    return bool(_CHANGE.search(question))


# What a question's statistical terms mean in the libraries a small model writes, where the
# library's default is the other one (pandas' .std() and .var() divide by n - 1, a sample's;
# numpy's by n, a population's) or where a small model reaches for the wrong call (on unseen
# tables the 1.5B answered a correlation for a fitted line's slope, and formatted `:.4f` for
# 4 significant digits). Keyed on the term alone, as an analyst would say it. A note says
# what to write, never what not to: told that `round` and `:.Nf` give decimal places, the
# 1.5B wrote `:.4f` where, without the note, it had printed the value whole.
_FITTED = re.compile(r"\bslope\b|\bleast[- ]squares\b|\bstraight line\b", re.IGNORECASE)
_METHOD_NOTES = (
    (
        POPULATION,
        "A population standard deviation or variance divides by n: pandas' .std() and "
        ".var() divide by n - 1 unless given ddof=0 (np.std divides by n).",
    ),
    (
        SAMPLE,
        "A sample standard deviation or variance divides by n - 1: pandas' .std() and "
        ".var() do; np.std and np.var need ddof=1.",
    ),
    (
        _FITTED,
        "The slope of y fitted on x by least squares is np.polyfit(x, y, 1)[0] or "
        "scipy.stats.linregress(x, y).slope (drop rows missing either first); a correlation "
        "coefficient is not the slope.",
    ),
    (
        # The 1.5B counted values above k standard deviations (no mean) or above the mean
        # plus them (one side only).
        FROM_MEAN,
        "A value more than k standard deviations from the mean may lie on either side of it: "
        "(x - x.mean()).abs() > k * x.std().",
    ),
    (
        # The 1.5B took .idxmax() of the changes, the largest rise, where every group fell.
        re.compile(
            r"\bup or down\b|\beither direction\b|\bchanged? the most\b|"
            r"\b(?:biggest|largest) (?:absolute )?change\b",
            re.IGNORECASE,
        ),
        "The change up or down that is largest is the largest in absolute value: "
        "change.abs().idxmax() names it, and change[that name] gives it with its sign.",
    ),
    (
        # The 1.5B wrote x > 1.5 * iqr (no quartile) and iqr = 1.5 * (q3 - q1).
        re.compile(r"\bIQR\b|\binter-?quartile\b", re.IGNORECASE),
        "The IQR rule: q1, q3 = x.quantile(0.25), x.quantile(0.75); iqr = q3 - q1; outliers "
        "lie below q1 - 1.5 * iqr or above q3 + 1.5 * iqr.",
    ),
    (
        # The 1.5B answered a model's .score(), its R², for a mean squared error.
        re.compile(r"\bmean squared error\b|\b(R)?MSE\b|\broot mean square", re.IGNORECASE),
        "A model's mean squared error is mean_squared_error(y_test, model.predict(X_test)) "
        "from sklearn.metrics; its square root is the RMSE.",
    ),
    (
        # Asked which weekday, the 1.5B grouped by .dt.weekday and named 2 as Tuesday.
        re.compile(r"\bweek ?days?\b|\bdays? of (?:the )?week\b", re.IGNORECASE),
        "A day of the week by name: dates.dt.day_name() gives 'Monday'; .dt.weekday and "
        ".dt.dayofweek number the days from Monday = 0 to Sunday = 6.",
    ),
    (
        re.compile(r"\bsignificant (digits?|figures?)\b", re.IGNORECASE),
        'N significant digits: print f"{x:.Ng}" (4 significant digits of 0.0044671 are 0.004467).',
    ),
)


# Which variable a question fits on which: "y is fitted as a line of x", "y regressed on x",
# "a regression of y on x", "the slope of y against x", "predict y from x". On unseen tables
# the 1.5B passed them to polyfit the other way round in 3 of 5 slope questions.
_TERM = r"[A-Za-z_][\w%-]*(?: [A-Za-z_][\w%-]*){0,3}?"
_END = r"(?=\s+(?:in|from|for|using|with|by|across|over)\b|\s*[(,;:?.`]|\s*$)"
_FITS = (
    re.compile(
        rf"(?:^|\bif\s+|\bwhen\s+|[,;:]\s*)(?!(?:if|when)\b)(?:the\s+)?(?P<y>{_TERM})\s+(?:is|are)\s+"
        r"(?:fitted|fit|regressed|modell?ed|predicted)(?:\s+(?:as|by))?(?:\s+an?)?"
        r"(?:\s+(?:straight|linear))?(?:\s+(?:line|function|model))?\s+(?:of|on|against|from)\s+"
        rf"(?:the\s+)?(?P<x>{_TERM}){_END}",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b(?:regress(?:ion)?|slope|fit|line)\s+(?:of\s+)?(?:the\s+)?(?P<y>{_TERM})\s+"
        rf"(?:on|against|versus|vs\.?)\s+(?:the\s+)?(?P<x>{_TERM}){_END}",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\bpredict(?:s|ing)?\s+(?:the\s+)?(?P<y>{_TERM})\s+from\s+(?:the\s+)?(?P<x>{_TERM}){_END}",
        re.IGNORECASE,
    ),
)


def fit_roles(question: str) -> tuple[str, str] | None:
    """(y, x) of a fitted line the question names, in its own words, or None."""
    for pattern in _FITS:
        m = pattern.search(question)
        if m:
            return m.group("y").strip(), m.group("x").strip()
    return None


def alone_note(table: str) -> str:
    """The note for a question about one table of several. Shown join keys, the 1.5B joined
    a second table into a question about one in 25 of 80 such questions on unseen tables,
    and counted the joined rows ("38 courses of faculty Arts" for 10) or grouped the total
    asked for by the other table's category."""
    return f"The question is about `{table}` alone: compute it from `{table}`, with no join."


_SHARE_OF = re.compile(
    r"\b(?:percentage|percent|share|fraction|proportion|rate)\s+of\s+(?:the\s+)?", re.IGNORECASE
)


_PREPOSITIONS = "(?:in|of|by|per|for|from|on|at|with|to|over|across|during|and|or)"


def share_note(question: str, named_values: list[tuple[str, str]]) -> str | None:
    """The note for a share "of" rows the question names, with the condition after them
    ("What percentage of Senior employees work remotely?"): the 1.5B divided the Senior
    remote employees by every employee."""
    for m in _SHARE_OF.finditer(question):
        after = question[m.end() :].lower()
        for column, value in named_values:
            # "Senior employees work remotely": the value names the rows and a clause says
            # the condition; in "the share of cancelled orders" the value is the condition.
            clause = rf"{re.escape(value.lower())}\s+[\w-]+\s+(?!{_PREPOSITIONS}\b)[a-z]"
            if re.match(clause, after):
                return (
                    f"A share of the {value} rows is out of those rows: divide the count "
                    f"that meets the condition among rows with {column} {value!r} by the "
                    f"count of rows with {column} {value!r}, not by all rows."
                )
    return None


# A time unit as a column's last word says it (`duration_s`, `wait_minutes`, `transit_days`)
# and as a question says it, in seconds.
_COLUMN_UNITS = {
    "s": "seconds", "sec": "seconds", "secs": "seconds", "seconds": "seconds",
    "ms": "milliseconds", "min": "minutes", "mins": "minutes", "minutes": "minutes",
    "hr": "hours", "hrs": "hours", "hours": "hours", "days": "days", "weeks": "weeks",
}  # fmt: skip
_SECONDS = {
    "milliseconds": 0.001, "seconds": 1, "minutes": 60, "hours": 3600, "days": 86400,
    "weeks": 604800,
}  # fmt: skip
_AMOUNT = re.compile(
    r"\b(\d+(?:\.\d+)?)\s*(milliseconds?|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)\b",
    re.IGNORECASE,
)


def unit_notes(question: str, columns: list[str]) -> list[str]:
    """For an amount of time the question gives in another unit than a column's name says
    ("sessions that lasted longer than 10 minutes" of `duration_s`), the amount in the
    column's unit: the 1.5B kept `duration_s > 10`."""
    notes = []
    for m in _AMOUNT.finditer(question):
        said = m.group(2).lower()
        unit = next(u for u in _SECONDS if u.startswith(said[:3]) or _COLUMN_UNITS.get(said) == u)
        for column in dict.fromkeys(columns):
            own = _COLUMN_UNITS.get(re.split(r"[_\s]+", column.lower())[-1])
            if own is None or own == unit or len(notes) == 2:
                continue
            amount = float(m.group(1)) * _SECONDS[unit] / _SECONDS[own]
            if amount < 0.01:  # minutes as days: a column of another kind of time
                continue
            shown = f"{amount:g}"
            notes.append(f"{column} is in {own}: {m.group(0)} is {shown} {own}.")
    return notes


_PERCENT = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:%|percent\b|per cent\b)", re.IGNORECASE)
_SHARE_COLUMN = re.compile(r"pct|percent|share|ratio|rate", re.IGNORECASE)


def percent_notes(question: str, highest: dict[str, float]) -> list[str]:
    """For a percentage the question gives ("attendance below 70 percent"), how a column
    named as a share holds it: `highest` is each numeric column's largest value; one up to
    1 holds fractions, one above, percents. The 1.5B wrote `attendance_pct < 0.7` of a
    column of 0 to 100."""
    m = _PERCENT.search(question)
    if m is None:
        return []
    notes = []
    for column, top in highest.items():
        if not _SHARE_COLUMN.search(column) or len(notes) == 2:
            continue
        amount = float(m.group(1))
        if top > 1.5:
            notes.append(f"{column} holds percents (up to {top:g}): {m.group(0)} is {amount:g}.")
        else:
            notes.append(
                f"{column} holds fractions (up to {top:g}): {m.group(0)} is {amount / 100:g}."
            )
    return notes


def method_notes(question: str) -> list[str]:
    """Notes on the methods the question names, where a library's default differs, and
    which of the question's variables a line it asks for is fitted on."""
    notes = [note for pattern, note in _METHOD_NOTES if pattern.search(question)]
    roles = fit_roles(question) if _FITTED.search(question) else None
    if roles is not None:
        notes.append(f'In this question y is "{roles[0]}" and x is "{roles[1]}".')
    return notes
