"""Is an answer grounded? Every number it quotes must appear in what the data showed:
an Execute output, the data profile, or the question itself. Small models otherwise
answer with numbers copied from examples or made up."""

import ast
import calendar
import math
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")


def numbers(text: str) -> list[str]:
    return [m.group(0) for m in _NUMBER.finditer(text)]


def value(token: str) -> float | None:
    try:
        return float(token.replace(",", ""))
    except ValueError:
        return None


def decimals(token: str) -> int:
    return len(token.split(".", 1)[1]) if "." in token else 0


def ungrounded(answer: str, evidence: list[str], small: float = 10) -> list[str]:
    """The numbers in `answer` that no evidence text supports, allowing the answer to
    round (2 decimals of 0.21345 is 0.21), to drop a trailing .0, or to be a percentage
    of a fraction shown (21.7 % of 0.217)."""
    seen: list[float] = []
    for text in evidence:
        for tok in numbers(text):
            v = value(tok)
            if v is not None:
                seen.append(v)
    missing = []
    for tok in numbers(answer):
        v = value(tok)
        if v is None or abs(v) <= small:  # small counts and ordinals need no evidence
            continue
        d = decimals(tok)
        tol = 0.5 * 10**-d + 1e-9
        if not any(
            abs(v - x) <= tol or abs(v - 100 * x) <= tol or abs(-v - x) <= tol for x in seen
        ):
            missing.append(tok)
    return missing


def misrounded(tokens: list[str], evidence: list[str]) -> dict[str, tuple[str, str]]:
    """The numbers among `tokens` (an answer's ungrounded ones) that are an evidence number
    rounded wrongly at their own precision (1013.54 for 1013.5345: a small model rounds in
    its head), each with that number and its right rounding: {"1013.54": ("1013.5345",
    "1013.53")}. Only a number with decimals, within one unit of its last place of a
    longer one."""
    shown = [tok for text in evidence for tok in numbers(text) if value(tok) is not None]
    out = {}
    for tok in tokens:
        v, d = value(tok), decimals(tok)
        if v is None or d == 0:
            continue
        near = [x for x in shown if decimals(x) > d and abs(v - value(x)) <= 10**-d + 1e-9]
        if near:
            source = min(near, key=lambda x: abs(v - value(x)))
            exact = Decimal(source.replace(",", ""))
            right = exact.quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP)
            if right != Decimal(tok.replace(",", "")):
                out[tok] = (source, str(right))
    return out


_COUNT_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_SIGNIFICANT = re.compile(
    r"\b(\d+|one|two|three|four|five|six|seven)\s+significant\s+(?:digits?|figures?)\b",
    re.IGNORECASE,
)


def significant_asked(question: str) -> int | None:
    """The significant digits a question asks its value in ("Give 4 significant digits"),
    or None."""
    m = _SIGNIFICANT.search(question)
    if m is None:
        return None
    word = m.group(1).lower()
    return int(word) if word.isdigit() else _COUNT_WORDS[word]


def significant_digits(token: str) -> int:
    """The significant digits a number is written with: 0.0045 has 2, 12.30 has 4. A whole
    number's trailing zeros say nothing (1200), so they are not counted."""
    digits = token.replace(",", "").lstrip("-").split("e")[0].split("E")[0]
    if "." not in digits:
        return len(digits.lstrip("0").rstrip("0"))
    return len(digits.replace(".", "").lstrip("0"))


def short_of_significant(answer: str, asked: int) -> str | None:
    """The answer's number that gives fewer significant digits than the question asks,
    where none of its numbers gives them all: a small model formats with `:.4f` and
    answers 0.0045 for 4 significant digits of 0.004467. None when it gives them."""
    short = None
    for tok in numbers(answer):
        if significant_digits(tok) >= asked:
            return None
        if "." in tok and short is None:
            short = tok
    return short


def with_significant(answer: str, outputs: list[str], asked: int) -> tuple[str, str, str] | None:
    """The answer with its number that falls short of the significant digits asked restated
    as the output that printed it more precisely shows it: (answer, short, restated). The
    1.5B, shown 0.00447 after it answered 0.0045, wrote 0.0045 again in 4 of 4 such
    analyses; the output says which value it meant. None when no output has a more precise
    number that rounds to it, or when two outputs' numbers do and disagree."""
    short = short_of_significant(answer, asked)
    v = value(short) if short is not None else None
    if short is None or v is None:
        return None
    have, places = significant_digits(short), decimals(short)
    restated = set()
    for text in outputs:
        for tok in numbers(text):
            x = value(tok)
            near = x is not None and abs(x - v) <= 0.5 * 10**-places + 1e-12
            if not near or significant_digits(tok) <= have:
                continue
            if significant_digits(tok) <= asked:
                restated.add(tok.replace(",", ""))  # no digit of it may be made up
            else:
                restated.add(f"{x:.{max(asked - 1 - math.floor(math.log10(abs(x))), 0)}f}")
    if len(restated) != 1:
        return None
    full = restated.pop()
    return re.sub(rf"(?<![\w.]){re.escape(short)}(?!\d)", full, answer), short, full


# A value a cell printed at a fixed number of decimals: f"{r:.4f}", round(r, 4).
_NAME = r"([A-Za-z_][\w.\[\]'\"]*)"
_FIXED = re.compile(rf"\{{{_NAME}\s*:\s*\.\d+f\}}|\bround\(\s*{_NAME}\s*,")


def fixed_names(code: str) -> list[str]:
    """The names whose values a cell printed at a fixed number of decimals (`{r:.4f}`,
    `round(slope, 4)`), in the order the code gives them."""
    found = (m.group(1) or m.group(2) for m in _FIXED.finditer(code))
    return list(dict.fromkeys(found))


def significant_print(code: str, asked: int) -> str:
    """The line that prints a value with `asked` significant digits: the value the cell
    printed at fixed decimals (`{r:.4f}` gives 0.0045 for 0.004467), else a placeholder.
    A small model told in words to use .4g wrote .4f again; the line itself it copies."""
    name = next(iter(fixed_names(code)), "value")
    return f'print(f"{{{name}:.{asked}g}}")'


NO_OUTPUT = "(no output)"  # what the sandbox shows for a cell that printed nothing
_BRACKET = re.compile(r"\[([^\[\]\n]{1,80})\]")
_WORD = re.compile(r"[A-Za-z][\w\-]{2,}")


# Words of a question that asks for a value (a number, a name, a yes/no with its figure)
# rather than, say, a chart or a file: its answer must state something a cell computed.
_ASKS = re.compile(
    r"@\w+\[|\b(what|which|how|who|when|where|why|whether|is there|are there|does|do|did|"
    r"calculate|compute|find|determine|identify|count|total|sum|mean|average|median|"
    r"percent\w*|ratio|rate|number|correlat\w*|deviation|variance|max\w*|min\w*|most|"
    r"least|top|largest|smallest|highest|lowest)\b",
    re.IGNORECASE,
)


def asks_for_value(question: str) -> bool:
    return bool(_ASKS.search(question))


def placeholders(question: str) -> set[str]:
    """What a question's answer format leaves to fill in (`@mean[mean_value]` ->
    `mean_value`): copied into an answer, such text is no value."""
    return {m.group(1).strip() for m in _BRACKET.finditer(question)}


# nan stated as a value: `@skewness[nan]`, "the p-value is nan", "r = NaN"; not "NaN values"
# or "no NaN in the column".
_NAN_VALUE = re.compile(
    r"(?:\[\s*|\b(?:is|was|are|were|of|equals?|gives?|returns?)\s+|[=:]\s*)nan\b(?!\s+values?)"
    r"|^\W*nan\W*$",  # an Answer that is nan alone
    re.IGNORECASE,
)


def states_nan(answer: str) -> bool:
    """Whether an answer gives nan as a value: a statistic of data with missing values that
    a function did not skip (scipy's tests, numpy), never what a question asks for."""
    return bool(_NAN_VALUE.search(answer))


# A p-value stated with its name: `@p_value[-0.0783]`, `@test_p_value[45.2]`, "the p-value is
# 1.3", "p = 45.2"; not `pclass = 3` or "p < 0.05".
_P_VALUE = re.compile(
    r"(?:\b|_)(?:p[-_ ]?val(?:ue)?s?|p)\b\s*(?:is\s+|of\s+|[=:\[(]\s*)\[?\s*"
    r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\d.])",
    re.IGNORECASE,
)


def impossible_p_value(answer: str) -> str | None:
    """A p-value an answer states outside [0, 1], as written: a statistic or a coefficient
    printed under the p-value's name (the 1.5B unpacked pearsonr's (r, p) as (p, _) and
    answered p = -0.0783)."""
    for m in _P_VALUE.finditer(answer):
        if not 0 <= float(m.group(1)) <= 1:
            return m.group(1)
    return None


# A table cell that is a name ending in a number ("Store 12", "Lumen Works 204"): pandas
# sets the columns of a printed frame apart by two spaces or more, and a cell's own words by
# one.
_NUMBERED_NAME = re.compile(r"^(?P<name>[A-Z][\w&'.-]*(?: [A-Za-z][\w&'.-]*)*) (?P<n>\d+)$")


def _split_names(answer: str, outputs: list[str]) -> dict[str, list[str]]:
    """The names the outputs print with a number at their end that the answer gives
    without it: {the part the answer gives: [each whole name printed]}."""
    found: dict[str, list[str]] = {}
    for text in outputs:
        for line in text.splitlines():
            cells = re.split(r"\s{2,}", line.strip())
            for cell in cells if len(cells) > 1 else ():  # a table's row, not a sentence
                m = _NUMBERED_NAME.match(cell)
                if m is None or re.search(rf"(?<![\w-]){re.escape(cell)}(?!\w)", answer):
                    continue
                if re.search(rf"(?<![\w-]){re.escape(m['name'])}(?![\w-])", answer):
                    found.setdefault(m["name"], [])
                    if cell not in found[m["name"]]:
                        found[m["name"]].append(cell)
    return found


def split_name(answer: str, outputs: list[str]) -> tuple[str, str] | None:
    """A name the outputs print with a number at its end that the answer gives without it:
    (the whole name, the part the answer gives). The 1.5B, shown the customer "Lumen Works
    204", answered "Lumen Works has the most rows, 204", the number taken for a count."""
    found = _split_names(answer, outputs)
    part = next(iter(found), None)
    return None if part is None else (found[part][0], part)


def with_whole_name(answer: str, outputs: list[str]) -> tuple[str, str, str] | None:
    """The answer with a name it cut the number off restated whole, as the one output cell
    that has it printed it: (answer, part, whole). Sent back with the whole name, the 1.5B
    printed the cut one in code and answered it again in 5 of 5 unseen-table analyses. None
    when two printed names extend the part."""
    for part, wholes in _split_names(answer, outputs).items():
        if len(wholes) == 1:
            whole = wholes[0]
            cut = rf"(?<![\w-]){re.escape(part)}(?![\w-])(?!\s+\d)"
            return re.sub(cut, whole, answer), part, whole  # no backslash in a name cell
    return None


_MONTH_NUMBERS = {
    **{m.lower(): i for i, m in enumerate(calendar.month_name) if m},
    **{m.lower(): i for i, m in enumerate(calendar.month_abbr) if m},
    "sept": 9,
}
_MONTH_NAMES = "|".join(sorted(_MONTH_NUMBERS, key=len, reverse=True))
# "January 2022", "March 9, 2022", "9 March 2022"
_WORDED_DATE = re.compile(
    rf"\b(?:(\d{{1,2}})\s+)?({_MONTH_NAMES})\.?\s+(?:(\d{{1,2}})(?:st|nd|rd|th)?,?\s+)?(\d{{4}})\b",
    re.IGNORECASE,
)


def in_asked_form(question: str, answer: str, outputs: list[str]) -> tuple[str, str, str] | None:
    """The answer with a date it wrote in words restated in the form the question asks for
    ("In which month (YYYY-MM) …": "January 2022" → "2022-01"), where an output printed it
    so: (answer, the words, the date). The 1.5B printed 2022-01 and answered "January 2022"."""
    if re.search(r"YYYY-MM-DD", question, re.IGNORECASE):
        form = "day"
    elif re.search(r"YYYY-MM(?![-\w])", question, re.IGNORECASE):
        form = "month"
    else:
        return None
    written = r"\d{4}-\d{2}-\d{2}" if form == "day" else r"\d{4}-\d{2}(?!-?\d)"
    if re.search(rf"(?<![\d-]){written}", answer):
        return None  # the answer has a date in the asked form already
    for m in _WORDED_DATE.finditer(answer):
        day = m.group(1) or m.group(3)
        if form == "day" and day is None:
            continue
        date = f"{m.group(4)}-{_MONTH_NUMBERS[m.group(2).lower()]:02d}"
        date += f"-{int(day):02d}" if form == "day" else ""
        if any(re.search(rf"(?<![\d-]){date}(?!\d)", o) for o in outputs):
            return answer.replace(m.group(0), date, 1), m.group(0), date
    return None


def gives_name_number(answer: str, whole: str) -> bool:
    """Whether the answer gives the number a name ends in ("Lumen Works 204") as a figure of
    its own: "Lumen Works has the most rows, 204" took it for a count."""
    number = float(whole.rsplit(" ", 1)[1])
    return number in (value(tok) for tok in numbers(answer))


def _value_pattern(value: str) -> re.Pattern[str]:
    # A code in capitals (BR, IN, US) is matched in its own case: "in" and "us" are words.
    short_code = len(value) <= 3 and value.isupper()
    flags = 0 if short_code else re.IGNORECASE
    return re.compile(rf"(?<![\w-]){re.escape(value)}(?![\w-])", flags)


def _value_patterns(values: list[str]) -> dict[str, re.Pattern[str]]:
    # Compiled once per check: a column may have up to a thousand values.
    return {v: _value_pattern(v) for v in values if v.strip()}


def names_a_value(answer: str, values: list[str]) -> bool:
    """Whether the answer names one of a column's values as the data writes them."""
    return any(p.search(answer) for p in _value_patterns(values).values())


def values_shown(values: list[str], outputs: list[str], most: int = 5) -> list[str]:
    """Up to `most` of a column's values, those an output shows first."""
    text = "\n".join(outputs)
    shown = [v for v, p in _value_patterns(values).items() if p.search(text)]
    return (shown + [v for v in values if v not in shown])[:most]


# A question that asks for the top or the bottom of a ranking, by the word it uses; not
# the second, nor a change up or down (whose largest is by absolute value).
_MOST = re.compile(r"\b(most|highest|largest|greatest|biggest|maximum|longest)\b", re.I)
_LEAST = re.compile(r"\b(lowest|least|smallest|fewest|minimum|shortest)\b", re.I)
_NOT_TOP = re.compile(
    r"\b(second|third|up or down|change[sd]?|increased?|decreased?|grew|fell|rose|dropped)\b",
    re.I,
)
_INDEX = re.compile(r"^\s*\d+\s+")  # a table's default row number


def _ranking(
    output: str, patterns: dict[str, re.Pattern[str]]
) -> dict[str, tuple[float, str]] | None:
    """{value: (its number, as printed)} of an output that prints a column's values one to
    a line, each with one number (a row number aside): a ranking, or None."""
    rows: dict[str, tuple[float, str]] = {}
    for line in output.splitlines():
        named = [v for v, p in patterns.items() if p.search(line)]
        if len(named) != 1 or named[0] in rows:
            continue
        rest = _INDEX.sub(" ", patterns[named[0]].sub(" ", line))
        found = numbers(rest)
        if len(found) == 1 and (number := value(found[0])) is not None:
            rows[named[0]] = (number, found[0])
    return rows if len(rows) >= 2 else None


def misread_ranking(
    question: str, answer: str, outputs: list[str], values: list[str]
) -> tuple[str, str, str, list[str], str] | None:
    """For a question that asks which value of a column is at the top (or bottom) of
    something: (the word it asks by, the value the answer names, its number as printed,
    the values at the top, the top number as printed) when the latest output that ranks
    the column's values shows another value at the top. Shown "Science 21, Arts 11", the
    1.5B answered "Arts has the most rows", the row below the first, in 2 unseen-table
    analyses."""
    most, least = _MOST.search(question), _LEAST.search(question)
    if bool(most) == bool(least) or _NOT_TOP.search(question):
        return None
    patterns = _value_patterns(values)
    named = [v for v, p in patterns.items() if p.search(answer)]
    if len(named) != 1:
        return None
    for output in reversed(outputs):
        rows = _ranking(output, patterns)
        if rows is None:
            continue
        if named[0] not in rows:
            return None
        top = (max if most else min)(n for n, _ in rows.values())
        if rows[named[0]][0] == top:
            return None
        word = (most or least).group(1).lower()  # type: ignore[union-attr]
        at_top = [v for v, (n, _) in rows.items() if n == top]
        return word, named[0], rows[named[0]][1], at_top, rows[at_top[0]][1]
    return None


# A year a question selects: "in 2020", "during 2019", "from 2021 to 2022"; not a bound of a
# format's range ("an integer from 1900 to the current year").
_Y = r"(?<![\w.,])(?:19|20)\d\d(?!\d|[.,]\d)"
_YEAR = re.compile(
    rf"\b(?:in|during|for|of|since|before|after|by|on)\s+({_Y})(?!\s+to\s+the\b|-\d)"
    rf"|({_Y})\s*(?:-|–|to|and|vs\.?|versus)\s*({_Y})",
    re.IGNORECASE,
)


def unprinted(code: str) -> str:
    """A cell's code with the text its print calls write blanked out, and its comment lines:
    `print(f"hired in 2023 is {avg}")` selects no year, and `print("median:", m)` computes
    no median (the 1.5B kept one day of 2023 and printed the year in its sentence). A query
    passed to print (`print(sql("… 2023"))`) stays."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    spans: list[tuple[ast.expr, str]] = []  # (a literal print writes, what it formats)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"):
            continue
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                spans.append((arg, ""))
            elif isinstance(arg, ast.JoinedStr):  # Python 3.11 places its parts at its own span
                kept = [
                    ast.unparse(v.value) for v in arg.values if isinstance(v, ast.FormattedValue)
                ]
                spans.append((arg, " ".join(kept)))
    lines = code.splitlines()
    for literal, kept in spans:
        if literal.lineno != literal.end_lineno or literal.end_col_offset is None:
            continue
        line = lines[literal.lineno - 1].encode()
        start, end = literal.col_offset, literal.end_col_offset
        blank = (
            kept.encode().ljust(end - start) if len(kept) <= end - start else b" " * (end - start)
        )
        lines[literal.lineno - 1] = (line[:start] + blank + line[end:]).decode(errors="replace")
    # Comments select nothing either ("# Filter rows where started_at is 2020-06-17").
    return "\n".join(re.sub(r"^(\s*)#.*$", r"\1", line) for line in lines)


def years_unused(question: str, code: list[str]) -> list[str]:
    """The years a question names ("In 2020, which origin …") that no cell's code has:
    the analysis answered over all the years. On unseen tables the 1.5B left out the
    question's year in 2 of 8 questions that named one, both answered wrong."""
    cells = "\n".join(map(unprinted, code))
    named = [y for m in _YEAR.finditer(question) for y in m.groups() if y]
    return [y for y in dict.fromkeys(named) if not _selects_year(cells, y)]


# A statistic a question asks for by name, how code computes it (pandas, numpy, scipy,
# SQL), and the call a hint shows. An average or a total is left out: sum / count is one.
_STATISTICS = (
    (
        "median",
        r"\bmedian\b",
        r"median|quantile\(\s*0?\.50?\b|percentile\w*\(.*\b50\b",
        "x.median()",
    ),
    (
        "standard deviation",
        r"\bstandard deviation\b|\bstd\b",
        r"\bstd|stdev|stddev|zscore|StandardScaler",
        "x.std()",
    ),
    (
        "variance",
        r"(?<!analysis of )\bvariance\b",
        r"\bvar\b|\.var\(|variance|var_(pop|samp)",
        "x.var()",
    ),
    ("correlation", r"\bcorrelat", r"corr|pearsonr|spearmanr|kendalltau|linregress", "x.corr(y)"),
    ("percentile", r"\bpercentile\b|\bquantile\b", r"quantile|percentile", "x.quantile(0.9)"),
)
# The helpers compute their own statistics.
_HELPERS = re.compile(r"\b(?:explain_change|survey_fact)\(")


def statistic_uncomputed(question: str, code: list[str]) -> tuple[str, str] | None:
    """(the statistic, the call that computes it) when the question asks for a median, a
    standard deviation, a variance, a correlation or a percentile and no cell's code
    computes one: asked for the median transactions per account, the 1.5B printed the
    largest count and answered it as the median."""
    cells = "\n".join(map(unprinted, code))
    if _HELPERS.search(cells):
        return None
    for name, asked, computed, how in _STATISTICS:
        if re.search(asked, question, re.IGNORECASE) and not re.search(
            computed, cells, re.IGNORECASE
        ):
            return name, how
    return None


def values_unselected(named: list[tuple[str, str]], code: list[str]) -> list[tuple[str, str]]:
    """The (column, value) pairs a question names as its rows ("first visits") that no
    cell's code spells as a string (in any case): the analysis ran over every row. A cell
    calling explain_change selected them (it reads them from the question)."""
    cells = "\n".join(map(unprinted, code)).lower()
    if "explain_change(" in cells:
        return []
    # Spelled as a string (Python's or SQL's, or in a LIKE pattern), not inside a name:
    # `store_orders_2020` selected no Store orders.
    return [
        (c, v) for c, v in named if not re.search(rf"['\"%]{re.escape(v.lower())}['\"%]", cells)
    ]


def _selects_year(cells: str, year: str) -> bool:
    """Whether code has the year as a selection of it: the year itself (`.dt.year == 2020`,
    `'2020%'`), or dates bounding it (`'2020-01-01'`, a range of two dates); not one day of
    it (`shipped_on = '2020-06-13'`: asked about "shipments of 2020", the 1.5B summed the
    one day of the profile's example); not a name (`df_2020` of one day of 2020)."""
    day = rf"{year}-\d\d-\d\d"
    days = re.findall(day, cells)
    alone = re.search(rf"(?<![\w.]){year}(?!\w)", re.sub(day, "", cells)) is not None
    return alone or len(set(days)) > 1 or f"{year}-01-01" in days


def spelled_out(code: str) -> bool:
    """Whether a cell only shows what its own code spells out: it prints literals
    (`print("Albania")`, `print(f"@n[{0}]")`) or assigns them (`country = "Albania"`, which
    the sandbox echoes), and does nothing else but import. Its output is no evidence: a
    small model sent back for an answer no output shows prints the answer it had."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False

    def literal(node: ast.expr) -> bool:
        if isinstance(node, ast.JoinedStr):
            return all(
                isinstance(v, ast.Constant) or literal(getattr(v, "value", v)) for v in node.values
            )
        return isinstance(node, ast.Constant)

    def shown(stmt: ast.stmt) -> bool:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return True
        if isinstance(stmt, ast.Assign):
            return literal(stmt.value)
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        return (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "print"
            and all(literal(a) for a in call.args)
        )

    return any(not isinstance(s, (ast.Import, ast.ImportFrom)) for s in body) and all(
        map(shown, body)
    )


# pandas' own line under a table or Series it printed only part of.
_CUT = re.compile(r"^\[(\d[\d,]*) rows x \d+ columns\]$|\bLength: (\d[\d,]*), dtype: ", re.M)
# A question asking for one value over many rows, not a value per group or a row itself.
_ONE_VALUE = re.compile(
    r"\b(?:average|mean|median|total|sum|how many|percentage|percent|proportion|share|ratio|"
    r"rate|standard deviation|variance|correlation)\b",
    re.IGNORECASE,
)
_PER_ROW = re.compile(
    r"\b(?:which|each|every|list|top \d+)\b|(?<!divided )(?<!multiplied )\bby (?!how\b)\w+",
    re.IGNORECASE,
)


def _small_count(token: str) -> bool:
    v = value(token)
    return v is not None and v.is_integer() and "." not in token and abs(v) <= 10


def read_off_cut(question: str, answer: str, outputs: list[str]) -> tuple[str, int] | None:
    """(a number, the rows of the output it came from) when the question asks for one
    value over the rows (an average, a total, how many) and every number the answer gives
    of its own shows only in an output pandas cut short (`[275 rows x 2 columns]`): the
    1.5B printed orders per customer and answered the first row's 39 as the average, and
    the first value of a 5,185-row Series as a mean ratio. None otherwise."""
    if not _ONE_VALUE.search(question) or _PER_ROW.search(question):
        return None
    asked = set(numbers(question))
    # A small whole number is a count of rows an output shows (1 outlier row): no read-off.
    stated = [n for n in numbers(answer) if n not in asked and not _small_count(n)]
    cut = [o for o in printed(outputs) if _CUT.search(o)]
    if not stated or not cut:
        return None
    whole = [o for o in printed(outputs) if not _CUT.search(o)]
    for n in stated:
        if not ungrounded(n, whole, small=-1):  # an output shown whole has it
            return None
    for o in cut:
        m = _CUT.search(o)
        rows = int((m.group(1) or m.group(2)).replace(",", ""))
        body = _CUT.sub("", o)  # its row count is a count of all the rows: "how many"
        if value(stated[0]) != rows and not ungrounded(stated[0], [body], small=-1):
            return stated[0], rows
    return None


def printed(outputs: list[str]) -> list[str]:
    """The outputs that are evidence: a cell that printed nothing showed nothing."""
    return [o for o in outputs if o.strip() and o.strip() != NO_OUTPUT]


def states_computed_value(answer: str, outputs: list[str], question: str) -> bool:
    """Whether `answer` states at least one value that a cell printed: a number the
    outputs show (at the answer's precision), or a word of an output that the question
    does not already contain, or one of the values it offers to choose from. A format
    placeholder copied from the question is not one."""
    shown = printed(outputs)
    if not shown:
        return False
    text = answer
    for holder in placeholders(question):
        text = text.replace(f"[{holder}]", "[]")
    stated = numbers(text)
    if stated and len(ungrounded(text, shown, small=-1)) < len(stated):
        return True
    if _printed_choice(text, shown, _options(question)):  # words the question offers
        return True
    asked = {w.lower() for w in _WORD.findall(question)}
    seen = {w.lower() for o in shown for w in _WORD.findall(o)}
    return any(w.lower() in seen and w.lower() not in asked for w in _WORD.findall(text))


# A closed set of values: `either "linear", "nonlinear", or "none"`, `one of 'yes', 'no'`.
_CHOOSE = re.compile(r"\b(?:either|one of|can be|could be|should be|must be)\b", re.IGNORECASE)
_QUOTE = r"""(?:"[^"\n]{1,40}"|'[^'\n]{1,40}')"""
_OPTIONS = re.compile(
    rf"(?:\s+(?:either|be)\b)*\s*:?\s*({_QUOTE}(?:\s*(?:,\s*(?:or\s+|and\s+)?|or\s+){_QUOTE})+)"
)


def choice_lists(text: str) -> list[list[str]]:
    """The closed sets of values a text offers to choose from ("a string that can either
    be "linear", "nonlinear", or "none""), in order, each as listed (without quotes)."""
    lists = []
    for m in _CHOOSE.finditer(text):
        listed = _OPTIONS.match(text, m.end())
        if listed:
            found = [q[1:-1] for q in re.findall(_QUOTE, listed.group(1))]
            lists.append(list(dict.fromkeys(found)))
    return lists


def named_choices(text: str, options: list[str]) -> list[str]:
    """The options `text` names, as whole words whatever their case; where one option holds
    another ("Not Normal", "Normal"), the longer one is what is named."""
    words = [o for o in dict.fromkeys(options) if o.strip()]
    if not words:
        return []
    alternatives = "|".join(re.escape(o) for o in sorted(words, key=len, reverse=True))
    found = re.finditer(rf"(?<![\w-])({alternatives})(?![\w-])", text, re.IGNORECASE)
    by_case = {o.lower(): o for o in words}
    return list(dict.fromkeys(by_case[m.group(1).lower()] for m in found))


def undecided_choice(answer: str, outputs: list[str], question: str) -> list[str] | None:
    """The options of a question that asks to choose one, when no output shows the choice
    the answer makes (it names none, or only ones no cell printed): a small model applies a
    question's rule ("linear if p < 0.05 and |r| >= 0.5") in its head and gets it wrong where
    code would not. None when the question offers no choice or an output shows the answer's."""
    options = _options(question)
    if not options or _printed_choice(answer, outputs, options):
        return None
    return options


def _options(question: str) -> list[str]:
    return list(dict.fromkeys(o for listed in choice_lists(question) for o in listed))


def _printed_choice(answer: str, outputs: list[str], options: list[str]) -> bool:
    """Whether the answer names an option that an output printed."""
    chosen = set(named_choices(answer, options))
    return any(chosen & set(named_choices(o, options)) for o in printed(outputs))


# "k standard deviations from the mean (average)": a distance from it, on either side.
FROM_MEAN = re.compile(
    r"\bstandard deviations?\b[^.?]{0,40}?\bfrom\s+(?:the\s+|its\s+|their\s+)?"
    r"(?:mean|average)\b",
    re.IGNORECASE,
)
_NUMPY = ("np", "numpy")


def _edited(code: str, edits: list[tuple[int, int, int, str]]) -> str:
    """`code` with each (line, start, end, text) edit: the line's bytes from start to end
    (ast's columns count UTF-8 bytes) replaced by the text; edits must not overlap."""
    lines = code.splitlines(keepends=True)
    for lineno, start, end, new in sorted(edits, reverse=True):
        raw = lines[lineno - 1].encode()
        lines[lineno - 1] = (raw[:start] + new.encode() + raw[end:]).decode()
    return "".join(lines)


def _inserted(code: str, calls: list[ast.Call], argument: str) -> str:
    """`code` with `argument` given last to each of the calls (`f(x)` -> `f(x, ddof=0)`)."""
    edits = []
    for call in calls:
        end = (call.end_col_offset or 1) - 1  # before the closing parenthesis
        added = f", {argument}" if call.args or call.keywords else argument
        edits.append((call.end_lineno or 1, end, end, added))
    return _edited(code, edits)


def _reduced(node: ast.AST, reduction: str) -> ast.expr | None:
    """The values `node` reduces: x of `x.std()`, `x.std(ddof=0)` or `np.std(x)`."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return None
    if node.func.attr != reduction:
        return None
    owner = node.func.value
    if isinstance(owner, ast.Name) and owner.id in _NUMPY:
        return node.args[0] if node.args else None
    return owner


def _absolute(node: ast.expr) -> ast.expr | None:
    """x of `x.abs()`, `abs(x)` or `np.abs(x)`."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Name) and func.id == "abs" and len(node.args) == 1:
        return node.args[0]
    if isinstance(func, ast.Attribute) and func.attr in ("abs", "absolute"):
        owner = func.value
        if isinstance(owner, ast.Name) and owner.id in _NUMPY:
            return node.args[0] if len(node.args) == 1 else None
        return owner if not node.args else None
    return None


def centered(question: str, code: str) -> tuple[str, str, str] | None:
    """The cell with its comparisons of a column against a multiple of the column's
    standard deviation measured from the column's mean, when the question asks for a
    distance from the mean: `x > 3 * std` counts values above three deviations from zero.
    Returns the cell, the column's code and the mean's; None when no comparison is such.
    The 1.5B wrote `threshold = 3 * std` beside a mean it computed and never read in 5 of
    the 9 wrong outlier counts of the unseen sets; neither a note in the prompt (which
    gives `(x - x.mean()).abs() > k * x.std()`) nor an Answer sent back with that
    expression changed what it wrote. A comparison on one side (`x > t`) becomes the
    distance on either side; one with both sides (`x > t` and `x < -t`) keeps its sides."""
    if not FROM_MEAN.search(question):
        return None
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    means: dict[str, set[str]] = {}  # a name -> the values whose mean it holds (their dump)
    spreads: dict[str, set[str]] = {}  # a name -> the values whose deviation it scales

    def reduced_in(node: ast.AST, reduction: str, names: dict[str, set[str]]) -> set[str]:
        """The values whose `reduction` the node reads: called there, or by a name."""
        found: set[str] = set()
        for n in ast.walk(node):
            reduced = _reduced(n, reduction)
            if reduced is not None:
                found.add(ast.dump(reduced))
            elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                found |= names.get(n.id, set())
        return found

    def spread(node: ast.AST) -> set[str]:
        return reduced_in(node, "std", spreads)

    def centres(node: ast.AST) -> set[str]:
        return reduced_in(node, "mean", means)

    bounds: dict[str, set[str]] = {}  # a name -> the values it bounds: mean + 3 * std

    def bound(node: ast.AST) -> set[str]:
        found = spread(node) & centres(node)
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                found |= bounds.get(n.id, set())
        return found

    assigns = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Assign) and len(n.targets) == 1),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for node in assigns:
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            continue
        mean = _reduced(node.value, "mean")
        if mean is not None:
            means[target.id] = {ast.dump(mean)}
        scaled = spread(node.value) - centres(node.value)  # mean + 3 * std is centred
        if scaled:
            spreads[target.id] = scaled
        bounded = bound(node.value)
        if bounded:
            bounds[target.id] = bounded
    # Each comparison of the values (or their absolute value) against their deviation, or
    # against the mean and the deviation (`x > mean + 3 * std`, one side of a distance):
    # (the values' node, the other side, whether under abs, the direction away from the
    # mean, whether the other side is such a bound).
    found: list[tuple[ast.expr, ast.expr, bool, str, bool]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare) or len(node.ops) != 1:
            continue
        op, sides = node.ops[0], (node.left, node.comparators[0])
        for i, (side, other) in enumerate((sides, sides[::-1])):
            inner = _absolute(side)
            values = inner if inner is not None else side
            key = ast.dump(values)
            plain = key in spread(other) and key not in centres(other) | centres(side)
            centred = inner is None and key in bound(other) and key not in centres(side)
            greater, less = isinstance(op, (ast.Gt, ast.GtE)), isinstance(op, (ast.Lt, ast.LtE))
            above, below = (greater, less) if i == 0 else (less, greater)
            if (plain or centred) and (above or below):
                direction = "above" if above else "below"
                found.append((values, other, inner is not None, direction, centred))
    if not found:
        return None
    values_code = ast.get_source_segment(code, found[0][0]) or ""
    key = ast.dump(found[0][0])
    mean_name = next((name for name, of in means.items() if key in of), None)
    mean_code = mean_name or f"{values_code}.mean()"
    directions = {d for v, _, _, d, _ in found if ast.dump(v) == key}
    edits = []
    for values, other, under_abs, direction, centred in found:
        if ast.dump(values) != key or values.lineno != values.end_lineno:
            continue
        text = ast.get_source_segment(code, values) or ""
        if centred:
            if directions != {"above"} or other.lineno != other.end_lineno:
                continue  # both sides bounded already
            bounded = ast.get_source_segment(code, other) or ""
            if not isinstance(other, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
                bounded = f"({bounded})"
            new_other = f"{bounded} - {mean_code}"
            edits.append((other.lineno, other.col_offset, other.end_col_offset, new_other))
            new = f"({text} - {mean_code}).abs()"
        elif under_abs or directions == {"above", "below"}:
            new = f"({text} - {mean_code})"
        elif direction == "above":
            new = f"({text} - {mean_code}).abs()"
        else:
            continue  # only below: a side of its own, not the distance
        edits.append((values.lineno, values.col_offset, values.end_col_offset, new))
    if not edits:
        return None
    return _edited(code, edits), values_code, mean_code


# A standard deviation or variance named for what it divides by: n (a population's) or n - 1
# (a sample's). pandas' .std() and .var() divide by n - 1, numpy's by n.
POPULATION = re.compile(r"\bpopulation (?:standard deviation|variance|std)\b", re.IGNORECASE)
SAMPLE = re.compile(r"\bsample (?:standard deviation|variance|std)\b", re.IGNORECASE)


def _calls_lacking(code: str, keyword: str, wanted: Callable[[ast.Call], bool]) -> list[ast.Call]:
    """The calls of a cell that `wanted` picks and that give no `keyword` (nor * or **
    arguments, which may); none when the cell does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and wanted(n)
        and not any(k.arg in (keyword, None) for k in n.keywords)
        and not any(isinstance(a, ast.Starred) for a in n.args)
    ]


def _numpy_call(call: ast.Call) -> bool:
    """`np.std(x)`, `x.values.std()` or `x.to_numpy().var()`: numpy's, which divides by n."""
    owner = call.func.value if isinstance(call.func, ast.Attribute) else None
    if isinstance(owner, ast.Name):
        return owner.id in _NUMPY
    if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Attribute):
        owner = owner.func
    return isinstance(owner, ast.Attribute) and owner.attr in ("values", "to_numpy")


def with_ddof(question: str, code: str) -> tuple[str, int] | None:
    """The cell with each standard deviation or variance it computes without a `ddof`
    where its library's default is the other one given the one the question names
    (pandas' `x.std()` -> `x.std(ddof=0)` for a population's; numpy's `np.std(x)` ->
    `np.std(x, ddof=1)` for a sample's), and that ddof; None when the question names
    neither (or both) or no call needs it. The 1.5B wrote `.std()` for "the population
    standard deviation (σ)" with the note that says pandas divides by n - 1 in its prompt.
    A ddof given to a call of either library is what the question asks, whichever library
    the value turns out to be of."""
    population, sample = POPULATION.search(question), SAMPLE.search(question)
    if bool(population) == bool(sample):
        return None
    ddof = 0 if population else 1
    calls = _calls_lacking(
        code,
        "ddof",
        lambda n: (
            isinstance(n.func, ast.Attribute)
            and n.func.attr in ("std", "var")
            and _numpy_call(n) == (ddof == 1)
        ),  # each library's default is the other's
    )
    if not calls:
        return None
    return _inserted(code, calls, f"ddof={ddof}"), ddof


# Calls whose value is a True/False value per row (`x.isna()`, `x.between(a, b)`).
_MASKS = frozenset(("isna", "isnull", "notna", "notnull", "duplicated", "between", "isin"))


def _mask(node: ast.expr) -> bool:
    """Whether an expression is a True/False mask: a comparison, a mask's `|`, `&` or `~`,
    or a call that gives one."""
    if isinstance(node, ast.Compare):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitOr, ast.BitAnd)):
        return _mask(node.left) and _mask(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
        return _mask(node.operand)
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _MASKS
    )


def counted_mask(code: str) -> tuple[str, str] | None:
    """The cell with a count of a True/False mask taken by `len(mask)`, which is the number
    of rows, taken as the number of its True values (`int(mask.sum().sum())`: a frame's
    mask sums per column first), and the mask's name; None when no count is so. Only a
    count reported (assigned to a name no arithmetic reads, printed, or shown in an
    f-string): `len(mask)` as a share's denominator is the rows. The 1.5B reported
    `len(outliers)` for the outliers of `outliers = (x < low) | (x > high)`, every row of
    the table (1338 of 139)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    masks: set[str] = set()
    for node in sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Assign) and len(n.targets) == 1),
        key=lambda n: (n.lineno, n.col_offset),
    ):
        target = node.targets[0]
        if isinstance(target, ast.Name):
            (masks.add if _mask(node.value) else masks.discard)(target.id)

    def counted(node: ast.AST) -> str | None:
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "len"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in masks
            and node.lineno == node.end_lineno
        ):
            return node.args[0].id
        return None

    # A name given len(mask) that arithmetic reads (`total = len(mask)`, then `x / total`)
    # holds the rows on purpose.
    computed = {
        n.id
        for op in ast.walk(tree)
        if isinstance(op, ast.BinOp)
        for n in ast.walk(op)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    reported: list[ast.Call] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            shown = [node.value] if not computed.intersection(names) else []
        elif isinstance(node, ast.FormattedValue):
            shown = [node.value]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "print"
        ):
            shown = node.args
        else:
            continue
        reported += [n for n in shown if isinstance(n, ast.Call) and counted(n)]
    if not reported:
        return None
    edits = [
        (c.lineno, c.col_offset, c.end_col_offset or 0, f"int({counted(c)}.sum().sum())")
        for c in reported
    ]
    return _edited(code, edits), str(counted(reported[0]))


# scipy.stats functions that take nan_policy, whose default ('propagate') makes the result
# nan when one value is missing; and the names the module goes by in a cell.
_NAN_POLICY = frozenset((
    "zscore", "ttest_ind", "ttest_rel", "ttest_1samp", "mannwhitneyu", "wilcoxon", "kruskal",
    "f_oneway", "spearmanr", "kendalltau", "shapiro", "normaltest", "levene", "bartlett",
    "jarque_bera", "skew", "kurtosis", "sem", "iqr",
))  # fmt: skip
_STATS_MODULE = ("stats", "st", "ss", "sps")


def _scipy_stats_call(call: ast.Call) -> bool:
    """`stats.zscore(x)`, `scipy.stats.skew(x)` or a bare `ttest_ind(a, b)`: not a pandas
    method of the same name (`df.skew()`)."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in _NAN_POLICY
    if not (isinstance(func, ast.Attribute) and func.attr in _NAN_POLICY):
        return False
    owner = func.value
    return (isinstance(owner, ast.Name) and owner.id in _STATS_MODULE) or (
        isinstance(owner, ast.Attribute) and owner.attr == "stats"
    )


def omitting_missing(code: str) -> str | None:
    """The cell with each scipy.stats call that takes a `nan_policy` and gives none told to
    leave missing values out (`nan_policy='omit'`); None when none is such. By default
    one missing value makes the result nan: every z-score (the 1.5B counted 0 outliers of
    an age column with gaps), a t-test's p-value (compared with 0.05, nan said "no
    significant difference")."""
    calls = _calls_lacking(code, "nan_policy", _scipy_stats_call)
    return _inserted(code, calls, "nan_policy='omit'") if calls else None


# Methods that change the object they are called on (any other does when told inplace=True).
_MUTATORS = frozenset((
    "append", "extend", "insert", "pop", "remove", "update", "clear", "add", "discard",
    "setdefault", "popitem", "sort", "reverse", "fit", "partial_fit",
))  # fmt: skip


def reruns_alike(code: str) -> bool:
    """Whether running the cell again gives what it gave the first time: it changes no
    object an earlier cell made (`df['x'] = df['x'] * 2`, `df.dropna(inplace=True)`,
    `rows.append(r)`) and rebinds no name it read from one (`n += 1`, `df = df * 2`).
    A cell that loads its table (`df = load(...)`) and works on that reruns alike."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    made: set[str] = set()  # names the cell bound before the statement at hand

    def base(node: ast.expr) -> str | None:
        while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call)):
            node = node.func if isinstance(node, ast.Call) else node.value
        return node.id if isinstance(node, ast.Name) else None

    def changes(node: ast.AST) -> list[str | None]:
        """The names whose object (or binding) the node changes from what it was."""
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, ast.Store):
            return [base(node)]
        if isinstance(node, ast.AugAssign):
            return [base(node.target)]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            told = any(
                k.arg == "inplace" and not (isinstance(k.value, ast.Constant) and not k.value.value)
                for k in node.keywords
            )
            return [base(node.func.value)] if told or node.func.attr in _MUTATORS else []
        if isinstance(node, ast.Assign):  # `df = df * 2`: bound anew from itself
            read = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            return [t.id for t in node.targets if isinstance(t, ast.Name) and t.id in read]
        return []

    for stmt in body:
        nodes = list(ast.walk(stmt))
        if any(name not in made for node in nodes for name in changes(node) if name):
            return False
        made |= {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return True


def with_rewritten_values(answer: str, before: str, after: str) -> tuple[str, list[str]] | None:
    """The answer with each number it took from a cell's output `before` that the cell,
    run rewritten, printed otherwise in `after` given as `after` prints it, and the
    changes ("4008 is 13"); None when it gives none such. The two outputs are matched
    number by number where `after` shows the lines `before` opens with, numbers aside
    (what follows there is the sandbox's note on the first run). Shown 13 from the
    rewritten cell below the 4008 of its first run, the 1.5B answered 4008 in 5 of the 32
    outlier counts of the unseen sets."""
    template_before, template_after = _NUMBER.sub("#", before), _NUMBER.sub("#", after)
    if not template_after.strip() or not template_before.startswith(template_after.rstrip()):
        return None
    now: dict[float, str | None] = {}  # a value before -> its number after (None: several)
    for old, new in zip(numbers(before), numbers(after), strict=False):
        was, is_ = value(old), value(new)
        if was is None or is_ is None or was == is_:
            continue
        now[was] = new if now.get(was, new) == new else None
    shown_after = {value(n) for n in numbers(after)}
    changes: list[str] = []

    def restate(m: re.Match[str]) -> str:
        given = value(m.group(0))
        new = now.get(given) if given is not None and given not in shown_after else None
        if new is None:
            return m.group(0)
        changes.append(f"{m.group(0)} is {new}")
        return new

    restated = _NUMBER.sub(restate, answer)
    return (restated, list(dict.fromkeys(changes))) if changes else None
