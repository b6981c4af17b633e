"""The worker process: a notebook kernel without Jupyter. It keeps one namespace across
cells, runs each cell with its stdout/stderr captured at the file-descriptor level (so
subprocess output is caught too), saves matplotlib figures to the workspace, and answers
each request with one frame. Started by `sandbox.session`; the CLI never imports it (the
report's script reads `assigned_names`, to show what the sandbox showed)."""

import ast
import builtins
import contextlib
import datetime
import functools
import importlib
import inspect
import linecache
import numbers
import os
import re
import signal
import sys
import textwrap
import time
import traceback
import types
import warnings

from da_cli.sandbox import wire
from da_cli.sandbox.forgiving import (
    SINGLE_TABLE_NAMES,
    column_meant,
    field_claims,
    fields_meant,
    forgive_columns,
    forgive_paths,
    forgive_removed_arguments,
    table_meant,
)
from da_cli.sandbox.quota import DiskQuota, WorkspaceFull, cell_clock

_DEPRECATIONS = (DeprecationWarning, FutureWarning)


def _show_warning(message, category, *args, _show=warnings.showwarning, **kwargs) -> None:
    """Warnings as Python shows them, but none that a call is deprecated. They say what a
    future version will do, never what this output is, and a small model reads them as a
    fault: pandas 3 warns at every `inplace=True` (3 lines a cell), and DuckDB's own
    conversion of zoned timestamps warned in da's `load()`. Dropped here rather than by a
    filter, which a cell's own `simplefilter` would undo."""
    if issubclass(category, _DEPRECATIONS):
        return
    _show(message, category, *args, **kwargs)


class _Namespace(dict):
    """Cell globals where a table's name, used as a variable before it is assigned, loads
    that table: small models often write `orders.groupby(...)` without loading it first.
    With a single table, `df` and `data` load it too. Loading happens on first use only,
    so a large table costs nothing until code asks for it."""

    def __init__(self, tables: list[str], load) -> None:
        super().__init__()
        self._names = {t: t for t in tables}
        if len(tables) == 1:
            self._names.update(dict.fromkeys(SINGLE_TABLE_NAMES, tables[0]))
        self._load = load

    def __missing__(self, name: str):
        if name in self._names:
            self[name] = value = self._load(self._names[name])
            return value
        raise KeyError(name)


def _setup_namespace(catalog: dict) -> dict:
    import duckdb  # imported here so each cell does not pay for it
    import numpy as np
    import pandas as pd

    from da_cli.data import drivers, facts
    from da_cli.data.catalog import Catalog

    warnings.showwarning = _show_warning
    pd.set_option("display.max_rows", 30)
    pd.set_option("display.max_columns", 20)
    pd.set_option("display.width", 120)
    con = Catalog.from_dict(catalog).connect()
    tables = [v["name"] for v in catalog["views"]]

    def sql(query: str) -> pd.DataFrame:
        """Run DuckDB SQL over the data's tables and return a DataFrame."""
        try:
            return con.sql(query).df()
        except duckdb.BinderException as e:
            hint = _column_hint(con, str(e), tables, query)
            if not hint:
                raise
            raise duckdb.BinderException(f"{e}\n{hint}") from None
        except duckdb.CatalogException as e:
            message = _table_hint(str(e), tables)
            if message is None:
                raise
            raise duckdb.CatalogException(message) from None

    def load(table: str, limit: int | None = None) -> pd.DataFrame:
        """Load a table (a DuckDB view) into pandas, optionally only the first `limit` rows."""
        table = table_meant(table, tables)
        if table not in tables:
            raise KeyError(f"no table {table!r}; the tables are {tables}")
        q = f'SELECT * FROM "{table}"' + (f" LIMIT {int(limit)}" if limit else "")
        return con.sql(q).df()

    def explain_change(table: str, period: str | None = None, **options) -> drivers.ChangeReport:
        """The cause of the change the question asks about: the period ('2025-Q3', 'Q3',
        '2025-07', 'July', '2025') and the measure are read from the question when not
        given; options: measure=, base="year", date_column=, by=."""
        options.setdefault("question", ns.get("QUESTION"))
        report = drivers.explain_change(con, table, period, **options)
        report.chart()  # saved with the cell: a report of the analysis shows the waterfall
        return report

    def survey_fact(kind: str, **params) -> facts.Fact:
        """One of a report's survey facts (da_cli/data/facts.py), drawn as it prints."""
        fact = facts.compute(con, kind, **params)
        fact.chart()  # saved with the cell, like any figure the cell draws
        return fact

    forgive_paths(pd, [os.path.basename(src) for src in catalog["sources"]])
    forgive_columns(pd)
    forgive_removed_arguments()
    flag_flat_rankings(pd)
    ns = _Namespace(tables, load)
    # Each table's columns, read when a hint needs the table that has a column the cell's
    # DataFrames lack (not at every worker start).
    ns.table_columns = functools.cache(lambda: _catalog_columns(con, tables))
    ns.update(
        {
            "__name__": "__main__",
            "pd": pd,
            "np": np,
            "sql": sql,
            "load": load,
            "explain_change": explain_change,
            "survey_fact": survey_fact,
            "TABLES": tables,
            FIELDS_CHECK: _check_fields,
            ASIDE_CALL: lambda said: print(said, file=sys.stderr),
        }
    )
    return ns


def flag_flat_rankings(pd) -> None:
    """Make `Series.idxmax()` and `.idxmin()` say so when every value is the same: the
    label they return is then the first, not a highest one. Asked which region had the
    highest share of late shipments, the 1.5B divided the late shipments' count per region
    by itself, got 100 % everywhere, and answered the first region."""
    for method in ("idxmax", "idxmin"):
        original = getattr(pd.Series, method)

        def ranked(self, *args, _original=original, _method=method, **kwargs):
            label = _original(self, *args, **kwargs)
            try:
                values = self.dropna()
                if len(values) > 1 and values.nunique() == 1:
                    v = values.iloc[0]
                    shown = f"{v:g}" if isinstance(v, numbers.Real) else repr(v)
                    most = "highest" if _method == "idxmax" else "lowest"
                    said = (
                        f"({_method}(): all {len(values)} values are {shown}, so it returned "
                        f"the first label, {label!r}, not a {most} one."
                    )
                    if v in (1, 100):
                        said += (
                            " Values all 1 or 100 are usually a share divided by itself: "
                            "divide by the count of all of each group's rows, not only the "
                            "rows a filter kept."
                        )
                    print(said + ")", file=sys.stderr)
            except Exception:  # noqa: BLE001  (a check must never fail the cell)
                pass
            return label

        ranked.__doc__ = original.__doc__
        setattr(pd.Series, method, ranked)


FIELDS_CHECK = "__da_fields__"


class UnpackingWarning(UserWarning):
    """Names that say one thing got another: `p_value, stat = shapiro(x)`."""


def _check_fields(value: object, names: tuple[str, ...]) -> object:
    """A result with named fields (scipy's tests: statistic, pvalue) unpacked into names
    that say other fields: the fields as the names say (`fields_meant`), or, where the
    names do not say one order, the value as it is and a warning: the 1.5B wrote
    `ks_p_value, decision = kstest(...)`, printed the statistic as the p-value and called
    skewed data normal."""
    try:
        meant = fields_meant(value, names)
        if meant is not value:
            return meant
        fields = getattr(value, "_fields", None)
        if not (isinstance(value, tuple) and isinstance(fields, tuple)):
            return value
        if not len(fields) == len(value) == len(names):
            return value
        pairs = list(zip(names, fields, strict=True))
        if any(
            not field_claims(n, f) and any(field_claims(n, g) for g in fields if g != f)
            for n, f in pairs
        ):
            got = ", ".join(f"{n} gets its {f}" for n, f in pairs)
            warnings.warn(
                f"{type(value).__name__} is ({', '.join(fields)}), in that order: {got}.",
                UnpackingWarning,
                stacklevel=2,
            )
    except Exception:  # noqa: BLE001  (a check must never fail the cell)
        pass
    return value


def unpacked_names(node: ast.Assign) -> tuple[str, ...] | None:
    """The names of `a, b = f(...)`, the one assignment whose result _check_fields sees."""
    (target, *more) = node.targets
    if (
        not more
        and isinstance(target, (ast.Tuple, ast.List))
        and all(isinstance(e, ast.Name) for e in target.elts)
        and isinstance(node.value, ast.Call)
    ):
        return tuple(e.id for e in target.elts)  # type: ignore[attr-defined]
    return None


class _Unpacking(ast.NodeTransformer):
    """`a, b = f(...)` becomes `a, b = __da_fields__(f(...), ("a", "b"))` (_check_fields)."""

    def visit_Assign(self, node: ast.Assign) -> ast.Assign:
        self.generic_visit(node)
        unpacked = unpacked_names(node)
        if unpacked is not None:
            names = ast.Constant(unpacked)
            check = ast.Call(ast.Name(FIELDS_CHECK, ast.Load()), [node.value, names], [])
            node.value = ast.fix_missing_locations(ast.copy_location(check, node.value))
        return node


_MISSING_COLUMN = re.compile(r'(?:column "|column named ")([^"]+)"')
_VALUES_LIST = re.compile(r'Values list "([^"]+)" does not have a column')
_TABLE_REF = re.compile(
    r'\b(?:FROM|JOIN)\s+"?(\w+)"?(?:\s+(?:AS\s+)?"?(?!(?:ON|USING|WHERE|GROUP|ORDER|JOIN|'
    r'LEFT|RIGHT|INNER|OUTER|FULL|CROSS|LIMIT|HAVING|UNION|NATURAL)\b)(\w+)"?)?',
    re.I,
)
MAX_LISTED_COLUMNS = 20


def _aliased(query: str, alias: str, tables: list[str]) -> str | None:
    """The data table `alias` stands for in the query (`FROM meters m`, or the name itself)."""
    for m in _TABLE_REF.finditer(query):
        table, name = m.group(1), m.group(2) or m.group(1)
        if alias in (name, table) and table in tables:
            return table
    return None


def _catalog_columns(con, tables: list[str]) -> dict[str, list[str]]:
    """Each data table's columns, in order."""
    columns: dict[str, list[str]] = {t: [] for t in tables}
    for t, c in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "ORDER BY table_name, ordinal_position"
    ).fetchall():
        if t in columns:
            columns[t].append(c)
    return columns


def _column_hint(con, message: str, tables: list[str], query: str = "") -> str:
    """Small models put a column on the wrong table; saying which tables have it turns a
    dead end into a one-step fix. A column no table has (a `name` copied from the worked
    example) gets the columns of the table its alias stands for: something to choose from."""
    m = _MISSING_COLUMN.search(message)
    if not m:
        return ""
    import difflib

    column = m.group(1).split(".")[-1]
    columns = [(t, c) for t, cols in _catalog_columns(con, tables).items() for c in cols]
    holders = list(dict.fromkeys((t, c) for t, c in columns if c.lower() == column.lower()))
    if holders:
        hint = f"The column {column} is in: {', '.join(f'{t}.{c}' for t, c in holders)}."
        # Read on the wrong alias (`m.kwh` of `meter_readings mr JOIN meters m`), the 1.5B
        # was told where kwh is, printed a few rows of meter_readings, and made an answer up.
        wrong = _VALUES_LIST.search(message)
        named = {m.group(1): m.group(2) or m.group(1) for m in _TABLE_REF.finditer(query)}
        for t, c in holders:
            if wrong and t in named and named[t] != wrong.group(1):
                hint += f" In this query {t} is {named[t]}: {named[t]}.{c}."
        return hint
    names = {c.lower() for _, c in columns}
    close = difflib.get_close_matches(column.lower(), names, n=3, cutoff=0.6)  # best first
    similar = list(
        dict.fromkeys(f"{t}.{c}" for name in close for t, c in columns if c.lower() == name)
    )
    hint = f"No table has a column {column}." + (
        f" Similar columns: {', '.join(similar[:6])}." if similar else ""
    )
    alias = _VALUES_LIST.search(message)
    table = _aliased(query, alias.group(1), tables) if alias else None
    if alias and table:
        own = [c for t, c in columns if t == table]
        name = alias.group(1)
        said = table if name == table else f"{table} ({name})"
        hint += f" The columns of {said} are: {_listed(own)}."
    return hint


_MISSING_TABLE = re.compile(r"Table with name (\S+) does not exist!")
_SUGGESTION = re.compile(r'\nDid you mean "([^"]+)"\?')


def _table_hint(message: str, tables: list[str]) -> str | None:
    """A missing table's error with the data's tables in it. DuckDB suggests the closest
    name in its whole catalog, a system table ("pg_enum") when the model copied a table
    from the prompt's worked example: such a suggestion goes, the real names come in."""
    if not _MISSING_TABLE.search(message):
        return None
    suggestion = _SUGGESTION.search(message)
    if suggestion and suggestion.group(1) not in tables:
        message = _SUGGESTION.sub("", message)
    return message + f"\nThe tables are: {', '.join(tables)}."


MAX_QUOTED_QUERY = 400
_GENERIC_SQL_HINT = '\nThis cell is SQL, not Python: run a query as print(sql("""SELECT ...""")).'
# Statements that would change tables; anything else DuckDB parses is a query of some kind.
_WRITES = {"CREATE", "INSERT", "UPDATE", "DELETE", "DROP", "ALTER", "COPY", "ATTACH"}


def _sql_cell_hint(code: str) -> str:
    """A cell that is SQL, not Python: small models write the query itself in the Python
    cell, and the bare SyntaxError sends them to write it again the same way. DuckDB's
    parser decides what is SQL (prose, or SQL mixed with Python, is not), and the query
    comes back wrapped as it runs, its lines as written (a `--` comment or a literal with
    two spaces would change if they were joined). A statement that would change tables is
    told that the data is read-only (a fake table made to fit the query answers nothing)."""
    import duckdb

    text = textwrap.dedent(code).strip().rstrip(";").rstrip()
    if not text:
        return ""
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error:
        return ""
    if any(st.type.name in _WRITES for st in statements):
        return (
            "\nThis cell is SQL, not Python, and the data is read-only: query the tables as "
            'they are, with print(sql("SELECT ...")).'
        )
    if len(statements) != 1 or len(text) > MAX_QUOTED_QUERY:
        return _GENERIC_SQL_HINT
    prefix = "r" if "\\" in text else ""
    if "\n" in text or text.endswith('"'):  # a closing quote would end the string early
        suggestion = f'print(sql({prefix}"""\n{text}\n"""))'
    else:
        suggestion = f'print(sql({prefix}"""{text}"""))'
    try:
        compile(suggestion, "<hint>", "exec")
    except SyntaxError:  # the query holds triple quotes of its own
        return _GENERIC_SQL_HINT
    return f"\nThis cell is SQL, not Python: run it as {suggestion}."


def _cell_traceback(exc: BaseException, filename: str) -> str:
    """Keep what helps a model fix its code: the cell's own frames and the error."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    lines = []
    for f in frames[-3:]:
        lines.append(f"  line {f.lineno}: {f.line}")
    head = "Traceback (most recent call last):\n" if lines else ""
    err = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return head + "\n".join(lines) + ("\n" if lines else "") + err


# DataFrame methods that reduce every column and, since pandas 2.0, no longer skip text ones.
_REDUCTIONS = {"corr", "corrwith", "cov", "mean", "median", "std", "var", "sem", "skew",
               "kurt", "sum", "prod", "quantile"}  # fmt: skip


def _unrun_hint(exc: BaseException, code: str, filename: str) -> str:
    """Which of the cell's lines did not run because the error stopped it. After an error
    at line 13 of 46, the 1.5B's next cell fixed that line and left out the rest (11 of the
    46 recorded benchmark analyses whose cell failed before its last statement, none right),
    so what those lines compute never existed. Keyed on the cell's own statements alone."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if not frames or frames[0].lineno is None:
        return ""
    failed = frames[0].lineno
    body = ast.parse(code).body
    stopped = next((s for s in body if s.lineno <= failed <= (s.end_lineno or s.lineno)), None)
    if stopped is None:
        return ""
    later = [s for s in body if s.lineno > (stopped.end_lineno or stopped.lineno)]
    if not later:
        return ""
    first, last = later[0].lineno, later[-1].end_lineno or later[-1].lineno
    lines, them = (f"line {first}", "it") if first == last else (f"lines {first}-{last}", "them")
    return (
        f"\nThe error stopped the cell at line {failed}: {lines} did not run, so the next "
        f"cell must run {them} too."
    )


def _mended_line(line: int, text: str, names: int = 1) -> str:
    """A hint's failed line, mended: the agent loop runs the cell with it when the model
    writes the failed cell again (agent/loop.py's `_MENDED` reads this form)."""
    return f"Line {line} with {'it' if names == 1 else 'them'}: {text}"


def _hint(make, *args) -> str:
    """A hint, or none when making it fails: the cell's own error must always come back
    (an exception whose str() raises, a frame pandas did not expect)."""
    try:
        return make(*args)
    except Exception:  # noqa: BLE001
        return ""


# A nan the cell printed: `nan`, `NaN`, `[nan, 0.3]`; not `dropna`, `nanmean(` or `NaNs`.
_NAN = re.compile(r"(?<![\w.])nan(?![\w(])", re.IGNORECASE)
MAX_MISSING_NOTED = 3


def _missing_inputs(code: str, ns: dict) -> str:
    """For a cell that printed nan: the arguments it passed to a function that hold missing
    values. scipy's tests and numpy return nan for data with any (pandas' own methods skip
    them): the 1.5B printed a Shapiro-Wilk p-value of nan and called the data not normal,
    and a t-test's nan "no significant difference". An argument is a name bound to a
    Series, DataFrame or float array, or a table's column (`df['x']`, `df[m]['x']`,
    `df[['x', 'y']]`), counted over the whole table."""
    import numpy as np
    import pandas as pd

    found: dict[str, tuple[int, int]] = {}
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call) or not _propagates_nan(node.func, ns):
            continue
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            values = _argument_values(arg, ns, pd)
            if values is None:
                continue
            if isinstance(values, np.ndarray):
                if values.dtype.kind not in "fc":
                    continue
                missing, total = int(np.isnan(values).sum()), len(values)
            else:
                missing, total = int(values.isna().to_numpy().sum()), len(values)
            text = _argument_text(arg, code)
            if missing and text and len(text) <= 80:
                found.setdefault(text, (missing, total))
    if not found:
        return ""
    listed = "; ".join(
        f"{text} has {missing:,} missing values (of {total:,} rows)"
        for text, (missing, total) in list(found.items())[:MAX_MISSING_NOTED]
    )
    empty = [text for text, (missing, total) in found.items() if missing == total]
    if empty:
        # Nothing to drop: a conversion before (to_numeric(errors='coerce') of text such as
        # '23.6%') turned every value into a missing one, and .dropna() would leave no rows.
        return (
            f"nan: {listed}: {empty[0]} has no values at all; the step that made it turned "
            "every value into a missing one (look at a few of the values it came from)."
        )
    first = next(iter(found))
    return (
        f"nan: {listed}. scipy and numpy give nan for data with any (pandas' own methods "
        f"skip them): pass {first}.dropna(), and for two columns that pair up, "
        "df[['a', 'b']].dropna() first."
    )


# Libraries whose functions return nan for data with a missing value (pandas' skip them).
_NAN_LIBRARIES = ("numpy", "scipy", "sklearn", "statsmodels")


def _propagates_nan(func: ast.expr, ns: dict) -> bool:
    """Whether a call's function is one of _NAN_LIBRARIES' (`shapiro`, `stats.pearsonr`,
    `np.corrcoef`), found through the namespace's modules only: `print(table)` of a table
    with a missing value, or a pandas method, is no such call."""
    if isinstance(func, ast.Name):
        target = ns.get(func.id)
    elif isinstance(func, ast.Attribute):
        chain = []
        while isinstance(func, ast.Attribute):
            chain.append(func.attr)
            func = func.value
        target = ns.get(func.id) if isinstance(func, ast.Name) else None
        for attr in reversed(chain):
            if not isinstance(target, type(sys)):  # through modules only: nothing runs
                return False
            target = getattr(target, attr, None)
    else:
        return False
    if target is None or isinstance(target, type(sys)):
        return False
    module = getattr(target, "__module__", None) or type(target).__module__ or ""
    return module.split(".")[0] in _NAN_LIBRARIES


def _argument_values(arg: ast.expr, ns: dict, pd):
    """The pandas or numpy values an argument names without running anything: a bound
    name, or a column of a bound table (the whole column, whatever rows the cell took)."""
    if isinstance(arg, ast.Name):
        value = ns.get(arg.id)
        return value if _is_data(value, pd) else None
    if not isinstance(arg, ast.Subscript):
        return None
    key = arg.slice
    columns = (
        [key.value]
        if isinstance(key, ast.Constant)
        else [e.value for e in key.elts]
        if isinstance(key, ast.List) and all(isinstance(e, ast.Constant) for e in key.elts)
        else None
    )
    root = _subscript_root(arg)  # `df[df['g'] == 1]['x']`: the table's column
    table = ns.get(root.id) if isinstance(root, ast.Name) else None
    if columns is None or not isinstance(table, pd.DataFrame):
        return None
    columns = [column_meant(c, table.columns) for c in columns]  # as `df[...]` took them
    if not all(isinstance(c, str) and c in table.columns for c in columns):
        return None
    return table[columns[0]] if isinstance(key, ast.Constant) else table[columns]


def _subscript_root(node: ast.expr) -> ast.expr:
    """What a chain of subscripts starts from: `df` in `df[m]['x']`."""
    while isinstance(node, ast.Subscript):
        node = node.value
    return node


def _argument_text(arg: ast.expr, code: str) -> str:
    """How the note names an argument: a column of a subset by the table's column
    (`df[df['g'] == 1]['x']` -> `df['x']`), whose whole column it counted."""
    root = _subscript_root(arg)
    if isinstance(arg, ast.Subscript) and isinstance(root, ast.Name):
        return f"{root.id}[{ast.get_source_segment(code, arg.slice)}]"
    return ast.get_source_segment(code, arg) or ""


def _is_data(value: object, pd) -> bool:
    import numpy as np

    return isinstance(value, (pd.Series, pd.DataFrame, np.ndarray))


def _changed_api_hint(exc: BaseException) -> str:
    """What replaced an API the library removed or changed. Small models learned from code
    written for older pandas and scikit-learn: `df.corr()` over a table with text columns
    (pandas before 2.0 skipped them) and `.str.replace("[\\[\\]]", "")` (a regular
    expression until pandas 2.0). The bare error sends them to guess; the hint names the
    call that does what they meant. (`mean_squared_error(..., squared=False)`, gone in
    scikit-learn 1.6, is forgiven: forgiving.forgive_squared.)"""
    message = str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    if "could not convert string to float" in message or "with string dtype" in message:
        for f in frames:
            if f.filename.endswith(os.path.join("pandas", "core", "frame.py")):
                if f.name in _REDUCTIONS:
                    return (
                        f"\nDataFrame.{f.name}() does not skip text columns (pandas 2.0 and "
                        f"later): pass numeric_only=True, or choose the numeric columns."
                    )
                break
    if any(m in message for m in _NOT_A_NUMBER):
        cells = [f.filename for f in frames if f.filename.startswith("<cell ")]
        patterns = _plain_replace_patterns("".join(linecache.getlines(cells[-1]))) if cells else []
        if patterns:
            return (
                f"\nstr.replace() matched {patterns[0]} as plain text (regex=False is the "
                f"default since pandas 2.0): pass regex=True to use it as a regular expression."
            )
    return ""


# Text a conversion to a number failed on that reads as a date or a time of day: `7:13`,
# `7:13 PM`, `713 PM` (a colon stripped), `2014-09-17`, `Apr 13 2017 10:00:00 AM`.
_DATE_OR_TIME = re.compile(
    r"\d{1,2}:\d{2}|\d\s*[AaPp]\.?[Mm]\b|\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{2,4}"
    r"|\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d",
    re.IGNORECASE,
)
_FAILED_TEXT = re.compile(
    r"(?:invalid literal for int\(\) with base 10|could not convert string to float"
    r"|Unable to parse string):? ['\"]([^'\"]{1,60})['\"]"
)


def _date_text_hint(exc: BaseException) -> str:
    """A conversion to a number that failed on a date or a time of day: the 1.5B took the
    hour of "7:13 PM" with a regular expression and int(), then stripped the colon and
    tried again ("713 PM"), until the loop stopped it. pandas reads such text itself."""
    m = _FAILED_TEXT.search(str(exc))
    if m is None or not _DATE_OR_TIME.search(m.group(1)):
        return ""
    return (
        f"\n'{m.group(1)}' is a date or a time of day, not a number: pd.to_datetime(column, "
        f"format='mixed') reads such text, and .dt.hour, .dt.day, .dt.month or .dt.year "
        f"takes a part of it."
    )


# What a conversion to a number says about text it could not read.
_NOT_A_NUMBER = (
    "invalid literal for int()",
    "could not convert string to float",
    "Unable to parse",
)
# A pattern that reads as a regular expression: a class, an escape, a group, an
# alternative, a repeat (one character is plain text either way).
_REGEX_SYNTAX = re.compile(r"\[|\\[dDsSwW.()\[\]|]|\(|\||[+*?]|\{\d")


def _plain_replace_patterns(code: str) -> list[str]:
    """Patterns, as written, that a cell gave `.str.replace` with no `regex=` and that read
    as regular expressions: pandas before 2.0 applied them as such, and small models
    learned from that code; now the replace changes nothing and the conversion after it
    fails."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "replace"
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "str"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and len(node.args[0].value) > 1
            and _REGEX_SYNTAX.search(node.args[0].value)
            and not any(k.arg == "regex" for k in node.keywords)
        ):
            found.append(ast.get_source_segment(code, node.args[0]) or repr(node.args[0].value))
    return found


ONE_AFTER_ANOTHER = re.compile(
    r"^\(assigned (\w+(?:, then \w+)+): a later value reads an earlier name\)$", re.M
)
ASIDE_CALL = "__da_aside__"


def reads_own_targets(stmt: ast.stmt) -> tuple[tuple[str, ...], set[str]] | None:
    """For `a, b = x, f(a)`, a tuple of names assigned a tuple whose later values read an
    earlier one of those names: the names, and the earlier ones read. None for any other
    statement."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
        return None
    target, value = stmt.targets[0], stmt.value
    if not (
        isinstance(target, (ast.Tuple, ast.List))
        and isinstance(value, (ast.Tuple, ast.List))
        and len(target.elts) == len(value.elts)
        and all(isinstance(e, ast.Name) for e in target.elts)
        and not any(isinstance(v, ast.Starred) for v in value.elts)
    ):
        return None
    names = tuple(e.id for e in target.elts)  # type: ignore[attr-defined]
    early = {
        n.id
        for j, v in enumerate(value.elts)
        for n in ast.walk(v)
        if isinstance(n, ast.Name) and n.id in names[:j]
    }
    return (names, early) if early and len(set(names)) == len(names) else None


def _one_after_another(body: list[ast.stmt], ns: dict) -> list[ast.stmt]:
    """`train, test = df.sample(frac=0.7), df.drop(train.index)`, with `train` not yet
    defined, runs as `train = ...` then `test = ...`, saying so: the writer meant each
    value to see the ones before it (Python evaluates the whole right side first, and the
    line fails). Told to assign train on a line of its own, the 1.5B rewrote the same line
    until its budget ran out in both DABench analyses that met it. A name already defined
    keeps Python's meaning (`a, b = b, a` swaps)."""
    out: list[ast.stmt] = []
    assigned: set[str] = set()
    tables = getattr(ns, "_names", {})  # loaded on first use: defined
    for stmt in body:
        found = reads_own_targets(stmt)
        defined = [
            n
            for n in (found[1] if found else ())
            if n in ns or n in assigned or n in tables or hasattr(builtins, n)
        ]
        if found and not defined:
            names, values = found[0], stmt.value.elts  # type: ignore[attr-defined]
            said = f"(assigned {', then '.join(names)}: a later value reads an earlier name)"
            aside = ast.Call(ast.Name(ASIDE_CALL, ast.Load()), [ast.Constant(said)], [])
            out.append(ast.copy_location(ast.Expr(aside), stmt))
            for name, value in zip(names, values, strict=True):
                out.append(
                    ast.copy_location(ast.Assign([ast.Name(name, ast.Store())], value), value)
                )
        else:
            out.append(stmt)
        assigned.update(assigned_names(stmt))
    return [ast.fix_missing_locations(stmt) for stmt in out]


def _name_hint(exc: NameError, code: str, filename: str) -> str:
    """Where the cell assigns a name it used before assigning: on the failing line itself
    (`test, train = df.drop(train.index), df.sample(frac=0.7)`: the right side runs first;
    in the other order, _one_after_another runs it as meant) or on a later line. The bare
    NameError sends a small model back to the same line: the 1.5B rewrote a split three
    times, unchanged, and answered with an invented MSE."""
    name = getattr(exc, "name", None)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    if not name or not frames or frames[-1].lineno is None:
        return ""
    line = frames[-1].lineno
    tree = ast.parse(code)
    at = [
        stmt
        for stmt in tree.body
        if stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno)
        and isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign))
    ]
    if at and name in assigned_names(at[0]):
        own = _filter_of_another(at[0], name, code)
        if own is not None:
            return own
        return (
            f"\n{name} is assigned by this same statement, whose right side runs first: "
            f"assign {name} on a line of its own before the line that uses it."
        )
    later = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Name)
        and node.id == name
        and isinstance(node.ctx, ast.Store)
        and node.lineno > line
    ]
    if later:
        return f"\n{name} is assigned later in this cell, on line {min(later)}: move that first."
    return ""


# Names a cell uses for a library it never imported, as its own docs import them.
_ALIASES = {
    "plt": "import matplotlib.pyplot as plt",
    "sns": "import seaborn as sns",
    "sm": "import statsmodels.api as sm",
    "smf": "import statsmodels.formula.api as smf",
    "stats": "from scipy import stats",
}


_SHELL_LINE = re.compile(r"^\s*[!%]{1,2}([A-Za-z].*)$", re.MULTILINE)
_PIP_INSTALL = re.compile(r"^\s*pip3?\s+install\s+(.+)$")
_PACKAGE_MODULES = {"scikit-learn": "sklearn"}


def _shell_line_hint(code: str) -> str:
    """A notebook's shell line (`!pip install scipy`, `%matplotlib inline`), a SyntaxError
    in plain Python: the 1.5B went on to pip in a subprocess and a virtual environment.
    Nothing installs here (no network), and what it wanted usually is installed: an
    install line of one installed package is given as its import."""
    found = _SHELL_LINE.search(code)
    if found is None:
        return ""
    hint = (
        "\nLines that start with ! or % are shell or notebook commands, which do not run "
        "here, and nothing can be installed: the cell is plain Python."
    )
    pip = _PIP_INSTALL.match(found[1])
    packages = pip[1].split() if pip else []
    if len(packages) == 1 and re.fullmatch(r"[\w.-]+", packages[0]):
        module = _PACKAGE_MODULES.get(packages[0].lower(), packages[0].replace("-", "_"))
        if _installed(module):
            line = code[: found.start(1)].count("\n") + 1
            hint += f" {module} is installed.\n" + _mended_line(line, f"import {module}")
    return hint


def _unimported_hint(exc: NameError, code: str, filename: str) -> str:
    """A library the cell uses without importing it (`scipy.stats.linregress(...)`, `plt`):
    told only "name 'scipy' is not defined", the 1.5B read it as scipy missing and spent
    its budget on `!pip install scipy`, pip in a subprocess, and a virtual environment. The
    import to write, and the line with it when the line is one simple statement."""
    name = getattr(exc, "name", None)
    line, _ = _past_cell(exc, filename)
    if not name or not line:
        return ""
    tree = ast.parse(code)
    statement = _import_for(name, tree, line)
    if statement is None:
        return ""
    hint = f"\nThe cell did not import {name}; it is installed: {statement} first."
    text = linecache.getline(filename, line).strip()
    # One simple statement that is the whole line: the import can go before it after a
    # `;` (not before `if x: y`, nor on a line of a statement that spans several).
    whole_line = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.stmt)
        and not hasattr(node, "body")
        and node.lineno == line == node.end_lineno
        and ast.get_source_segment(code, node) == text
    ]
    if whole_line:
        hint += "\n" + _mended_line(line, f"{statement}; {text}")
    return hint


def _import_for(name: str, tree: ast.AST, line: int) -> str | None:
    """The import statement that binds `name` as the cell's line `line` uses it: an alias
    the libraries' own docs use, a function from where it lives, or the longest dotted
    module path the line reaches
    (`scipy.stats.linregress` -> `import scipy.stats`); None when no installed module has
    the name."""
    if name in _ALIASES:
        return _ALIASES[name]
    called = any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == name
        and node.lineno == line
        for node in ast.walk(tree)
    )
    for home in _FUNCTION_HOMES if called else ():  # a function called bare: `shapiro(x)`
        try:
            module = importlib.import_module(home)
        except Exception:  # noqa: BLE001  (a library that will not import has no hint)
            continue
        if callable(getattr(module, name, None)) and home != "numpy":
            return f"from {home} import {name}"
    paths = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.lineno == line:
            parts, inner = [node.attr], node.value
            while isinstance(inner, ast.Attribute):
                parts.insert(0, inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id == name:
                paths.append([name, *parts])
    for dotted in sorted(paths, key=len, reverse=True) + [[name]]:
        for n in range(len(dotted), 0, -1):
            module = ".".join(dotted[:n])
            if _installed(module):
                return f"import {module}"
    return None


def _installed(module: str) -> bool:
    """Whether `module` can be imported here (a dotted name imports its parents to tell)."""
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _filter_of_another(stmt: ast.stmt, name: str, code: str) -> str | None:
    """`kept = df[kept["year"] == 2023]`: a filter of one table written with the name it is
    about to be assigned to. It is meant to test the table it filters (the 1.5B, told to
    assign the name first, gave up and answered a made-up total): the line with that
    table's name in the condition."""
    value = getattr(stmt, "value", None)
    if not (isinstance(value, ast.Subscript) and isinstance(value.value, ast.Name)):
        return None
    table = value.value.id
    inside = {n.id for n in ast.walk(value.slice) if isinstance(n, ast.Name)}
    if table == name or name not in inside:
        return None
    line = ast.get_source_segment(code, stmt)
    condition = ast.get_source_segment(code, value.slice)
    if line is None or condition is None or "\n" in line:
        return None
    fixed = re.sub(rf"(?<![\w.]){re.escape(name)}\b", table, condition)
    return (
        f"\n{name} is assigned by this line, so it does not exist yet: the condition inside "
        f"{table}[...] tests {table}'s own columns.\n"
        + _mended_line(stmt.lineno, line.replace(condition, fixed, 1))
    )


_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_LISTED = re.compile(r"Index\(\[(.*?)\]|^\[(.*?)\] not in index")
_MAX_FRAMES = 20
# Where pandas looks a column up for a DataFrame method the cell called: a KeyError from
# elsewhere (a row label in .loc, a Series, the cell's own dict in a lambda) is not
# about columns.
# A groupby's column (`df.groupby('k')['x']`) is looked up in groupby/generic.py, then in
# base.py.
_FRAME_FILES = tuple(
    os.path.join("pandas", "core", *f)
    for f in (["frame.py"], ["generic.py"], ["base.py"], ["groupby", "generic.py"])
)
_NOT_FOUND = re.compile(r"^Columns? not found: (.*)$")


def _listed(columns: list) -> str:
    """Column labels as a hint lists them: the first MAX_LISTED_COLUMNS, a string as it is,
    any other label (a year as an int) as Python writes it."""
    shown = [c if isinstance(c, str) else repr(c) for c in columns[:MAX_LISTED_COLUMNS]]
    return ", ".join(shown) + (", ..." if len(columns) > MAX_LISTED_COLUMNS else "")


def _key_hint(exc: KeyError, ns: dict, filename: str) -> str:
    """A column pandas did not find, with the columns close to it in the cell's DataFrames
    (`'GDP per Capita'` for `'Economy (GDP per Capita)'`), or, with one DataFrame and
    nothing close, its columns: a model that guessed a name, or used one it never made,
    then has the real ones to choose from."""
    import difflib

    pd = sys.modules.get("pandas")
    _, inside = _past_cell(exc, filename)
    if pd is None or inside is None:
        return ""
    if not inside.tb_frame.f_code.co_filename.endswith(_FRAME_FILES):
        return ""
    arg = exc.args[0] if exc.args else None
    if isinstance(arg, list) and arg and all(isinstance(a, str) for a in arg):
        missing = arg  # `dropna(subset=[...])` raises the list of the names it lacks
    elif isinstance(arg, str) and _NOT_FOUND.match(arg):
        # A groupby's: "Column not found: x", "Columns not found: 'x', 'y'".
        listed = _NOT_FOUND.match(arg).group(1)
        missing = _QUOTED.findall(listed) if arg.startswith("Columns") else [listed]
    elif isinstance(arg, str):
        # `KeyError: 'x'`, or "None of [Index(['x', 'y'], dtype='str')] are in the
        # [columns]", or "['x'] not in index".
        listed = _LISTED.search(arg)
        missing = _QUOTED.findall(listed.group(1) or listed.group(2) or "") if listed else [arg]
    else:
        return ""
    tables = {}
    for name, v in list(ns.items()):
        if isinstance(v, pd.DataFrame) and not str(name).startswith("_") and len(v.columns) <= 500:
            tables[name] = list(v.columns)
        if len(tables) == _MAX_FRAMES:
            break
    if not missing or not tables:
        return ""
    looked = _frame_looked_in(inside, pd)
    lines, named = [], {}
    for key in missing[:3]:
        right = _same_name(key, tables)
        suffixed = _suffixed(key, looked)
        if suffixed:
            # With the line mended to the left table's: told of both alone, the 1.5B renamed
            # the column to the suffixed name before the merge, which suffixed it again.
            lines.append(suffixed)
            named[key] = f"{key}_x"
            continue
        if right is not None and looked is not None and right not in looked.columns:
            lines.append(_elsewhere(right, looked, ns, tables, _failed_line(exc, filename)[0]))
            continue
        if right is not None:
            named[key] = right
            lines.append(f"The column is {right!r}, not {key!r}.")
            continue
        low = key.lower()
        close = []
        for name, cols in tables.items():
            lower = {str(c).lower(): c for c in cols}
            near = difflib.get_close_matches(low, list(lower), n=3, cutoff=0.6)
            near += [c for c in lower if len(low) >= 3 and low in c and c not in near]
            close += [f"{lower[c]!r} (in {name})" for c in near]
        if close:
            lines.append(f"Columns close to {key!r}: {', '.join(dict.fromkeys(close[:6]))}.")
        elif looked is not None:
            lines += _unloaded(key, looked, ns, _failed_line(exc, filename)[0])
    if not lines and looked is not None:
        # The frame pandas looked in, of several: told only `KeyError: 'total'` of a
        # `sort_values(by='total')` on a per-category sum, the 1.5B wrote
        # `df['total'] = df['total']` next.
        name = _name_in(ns, looked) or "That DataFrame"
        lines.append(f"The columns of {name} are: {_listed(list(looked.columns))}.")
    elif not lines and len(tables) == 1:
        [(name, cols)] = tables.items()
        lines.append(f"The columns of {name} are: {_listed(cols)}.")
    if named:
        # The line itself, with the names mended: the 1.5B read "'wind speed'" in the hint,
        # wrote "wind speed" in its Analyze, and df["wind_speed"] in its next cell again,
        # until its budget ran out; a line to copy is what it follows.
        line, text = _failed_line(exc, filename)
        mended = text
        for key, right in named.items():
            mended = re.sub(
                rf"(['\"]){re.escape(key)}\1",
                lambda m, r=right: (
                    f"{m[1]}{r}{m[1]}" if isinstance(r, str) and m[1] not in r else repr(r)
                ),
                mended,
            )
        if mended != text:
            lines.append(_mended_line(line, mended, len(named)))
    return "".join("\n" + line for line in lines)


def _frame_looked_in(inside: types.TracebackType | None, pd: types.ModuleType) -> object | None:
    """The DataFrame pandas looked the column up in: the first method's `self` past the
    cell."""
    while inside is not None:
        frame = inside.tb_frame.f_locals.get("self")
        frame = getattr(frame, "obj", frame)  # a groupby's frame
        if isinstance(frame, pd.DataFrame):
            return frame
        inside = inside.tb_next
    return None


def _unloaded(column: str, looked: object, ns: dict, failed: int) -> list[str]:
    """The line for a column that a table the cell never loaded has. Told nothing of
    `carriers.groupby('mode')['transit_days']`, a column of `shipments`, the 1.5B added a
    column of zeros to `carriers` and answered from it."""
    tables = getattr(ns, "table_columns", dict)()
    holders = [t for t, cols in tables.items() if column in cols]
    if not holders:
        return []
    table = holders[0]
    name = _name_in(ns, looked)
    line = f"{name or 'That DataFrame'} has no column {column!r}: the table {table} has it "
    line += f"(load({table!r}))."
    return [line + _merge_line(name, looked, f"load({table!r})", tables[table], failed)]


def _merge_line(
    name: str | None, looked: object, other: str, other_columns: list, failed: int
) -> str:
    """The merge that brings a column in, as a line of its own before the failed one, when
    the two share one key (an id's, else their one shared column). Told "Join them …
    first: shipments.merge(carriers, on='carrier_id')", the 1.5B put the merge in place of
    its filter on `mode` and answered for every shipment."""
    shared = [c for c in looked.columns if c in other_columns]
    keys = [c for c in shared if re.search(r"(?:^|_)id$|Id$|ID$", str(c))] or shared
    if not name or len(keys) != 1:
        return ""
    return (
        f" Merge it in on their shared column, then run line {failed} as it is:\n"
        f"{name} = {name}.merge({other}, on={keys[0]!r})"
    )


def _name_in(ns: dict, value: object) -> str | None:
    """The cell's name for an object, if it has one."""
    return next((n for n, v in ns.items() if v is value and not str(n).startswith("_")), None)


def _suffixed(key: str, looked: object | None) -> str:
    """The line for a column that a merge of two tables that both had it renamed: pandas
    keeps both, as `<name>_x` (the left one's) and `<name>_y`. Told "The column is 'salary',
    not 'salary'." of a table merged with its per-department means, the 1.5B ran the cell
    again until the loop stopped it."""
    if looked is None:
        return ""
    both = [f"{key}_x", f"{key}_y"]
    if not all(c in looked.columns for c in both):
        return ""
    return (
        f"The merge kept both tables' {key!r} columns, as {both[0]!r} (the left table's) and "
        f"{both[1]!r} (the right one's): use those, or rename one before merging."
    )


def _elsewhere(
    column: object, looked: object, ns: dict, tables: dict[str, list], failed: int
) -> str:
    """The line for a column that another DataFrame of the cell has and the one it looked in
    lacks. Told "The column is 'mode', not 'mode'." of the carriers' `mode` looked up in
    `shipments`, the 1.5B ran the same cell again until the loop stopped it."""
    name = _name_in(ns, looked)
    holders = [n for n, cols in tables.items() if column in cols]
    line = (
        f"{name or 'That DataFrame'} has no column {column!r}: it is a column of "
        f"{' and '.join(holders)}."
    )
    return line + _merge_line(name, looked, holders[0], tables[holders[0]], failed)


def _same_name(key: str, tables: dict[str, list]) -> object | None:
    """The one column whose name is `key` but for case, spaces and punctuation ('wind
    speed' for 'wind_speed', 'avg. wait time' for 'avg.wait_time'), or None."""
    wanted = _squeezed(key)
    found = {c for cols in tables.values() for c in cols if wanted and _squeezed(c) == wanted}
    return found.pop() if len(found) == 1 else None


def _squeezed(name: object) -> str:
    return re.sub(r"[\W_]+", "", str(name)).lower()


def _past_cell(exc: BaseException, filename: str) -> tuple[int, types.TracebackType | None]:
    """The line the cell failed on (its last frame in the traceback), and the traceback
    from the first frame past it: the library code the cell called, whose locals say what
    it was given (0 and None when the cell is not in the traceback)."""
    tb, line, inside = exc.__traceback__, 0, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line, inside = tb.tb_lineno, tb.tb_next
        tb = tb.tb_next
    # The sandbox's own wrapper (forgive_columns) is not the library the cell called.
    while inside is not None and inside.tb_frame.f_code.co_filename == _FORGIVING:
        inside = inside.tb_next
    return line, inside


_FORGIVING = forgive_columns.__code__.co_filename


def _failed_line(exc: BaseException, filename: str) -> tuple[int, str]:
    """The number and the text (stripped) of the cell's line that failed: what a hint
    mends ("Line 2 with it: ..."); 0 and "" when the cell is not in the traceback."""
    line, _ = _past_cell(exc, filename)
    return line, linecache.getline(filename, line).strip() if line else ""


# Where a statistics function a small model calls on the wrong module lives: `pd.ttest_ind`
# is scipy.stats'. Searched in this order, each imported only for the hint.
_FUNCTION_HOMES = (
    "scipy.stats", "numpy", "sklearn.metrics", "sklearn.model_selection",
    "sklearn.linear_model", "sklearn.preprocessing", "statsmodels.api",
)  # fmt: skip
MAX_LISTED_FIELDS = 12


# DuckDB reads a TIME column as Python's datetime.time, which is neither text nor a date.
_TIME_OF_DAY = (
    "\nThat column holds times of day (datetime.time), not text or dates: each has .hour, "
    ".minute and .second; in seconds: column.apply(lambda t: t.hour * 3600 + t.minute * 60 "
    "+ t.second)."
)


def _accessed_values(code: str, line: int, ns: dict, attr: str, kind: type) -> bool:
    """Whether the cell's line `line` takes `attr` (`.dt`) of a bound table's column whose
    values are of `kind` (read from the namespace, nothing run)."""
    import pandas as pd

    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Attribute) and node.attr == attr and node.lineno == line:
            values = _argument_values(node.value, ns, pd)
            if isinstance(values, pd.Series):
                first = values.dropna()[:1].tolist()
                if first and isinstance(first[0], kind):
                    return True
    return False


def _attribute_hint(exc: AttributeError, ns: dict, code: str, filename: str) -> str:
    """What the object the cell asked for a missing attribute is, and what gives what it
    meant. The 1.5B's wrong guesses, each repeated until the budget ran out: a Pearson
    p-value as `df.a.corr(df.b).pvalue` (corr() gives r alone), `.values` on what was
    already one number, pandas' `.abs()` on scipy's zscore array, `pd.ttest_ind` (scipy's),
    `.pvalue` on scipy's AndersonResult (which has none), `.str` on a column read as
    numbers, `.dt` on dates read as text."""
    import numpy as np
    import pandas as pd

    message = str(exc)
    kind = re.search(r"Can only use \.str accessor with string values, not (\w+)", message)
    if kind:  # pandas names what the values are
        if kind[1] in ("floating", "integer", "mixed-integer-float", "decimal"):
            return (
                "\nThat column holds numbers already (it was read as numbers): use it as it "
                "is, without .str; pd.to_numeric is not needed."
            )
        if kind[1] == "time":
            return _TIME_OF_DAY
        if kind[1] in ("datetime64", "datetime", "date"):
            return "\nThat column holds dates already: use .dt (column.dt.year), not .str."
        return ""
    if "Can only use .dt accessor with datetimelike values" in message:
        if _accessed_values(code, _past_cell(exc, filename)[0], ns, "dt", datetime.time):
            return _TIME_OF_DAY
        return "\nThat column holds text, not dates: pd.to_datetime(column) first, then .dt."
    obj, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    if obj is None or not name:
        return ""
    if isinstance(obj, type(sys)):
        for home in _FUNCTION_HOMES:
            try:
                module = importlib.import_module(home)
            except Exception:  # noqa: BLE001  (a library that will not import has no hint)
                continue
            if callable(getattr(module, name, None)) and module is not obj:
                return f"\n{name} is in {home}: from {home} import {name}."
        return ""
    if isinstance(obj, (int, float, np.floating, np.integer)) and not isinstance(obj, bool):
        if "pvalue" in name.replace("_", "").lower():
            return f"\nThat is one number: {_CORR_R_ALONE}"
        # Not the number itself: the 1.5B took a number shown in a hint for a result.
        kind = type(obj).__name__
        mended = _attribute_mended(exc, code, filename, lambda held: held, dropped=True)
        return f"\nThat is one number already ({kind}): use it as it is, without .{name}.{mended}"
    if isinstance(obj, np.dtype) and obj.kind == "O":
        return _text_argument_hint(exc, ns, code, filename)
    if isinstance(obj, np.ndarray) and hasattr(pd.Series, name):
        own = f"np.{name}(x) or " if callable(getattr(np, name, None)) else ""
        call = "()" if callable(getattr(pd.Series, name)) else ""
        # The mended line needs pandas under the name the cell's namespace gives it.
        series = ns.get("pd") is pd
        mended = _attribute_mended(
            exc, code, filename, lambda held: f"pd.Series({held}).{name}", dropped=False
        )
        return f"\nThat is a numpy array, not a pandas Series: {own}pd.Series(x).{name}{call}." + (
            mended if series else ""
        )
    if isinstance(obj, (pd.DataFrame, pd.Series, np.ndarray, type)) or callable(obj):
        return ""
    # Looked up without running properties: no code of the object's runs for a hint.
    static = inspect.getattr_static
    fields = [f for f in dir(obj) if not f.startswith("_") and not callable(static(obj, f, None))]
    if 0 < len(fields) <= MAX_LISTED_FIELDS:
        return f"\n{type(obj).__name__} has: {', '.join(fields)}."
    return ""


def _attribute_mended(exc: AttributeError, code: str, filename: str, mend, dropped: bool) -> str:
    """The failed line with its one `held.name` written as `mend(held)`, or "" when the line
    holds no such access or more than one: told "use it as it is, without .values", the
    1.5B wrote the same line again until its budget ran out. `dropped`: the access goes,
    and with it the call of a method (`n.idxmax()` -> `n`)."""
    line, text = _failed_line(exc, filename)
    tree = ast.parse(code)
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == exc.name
        and node.lineno == line == node.end_lineno
    ]
    if len(found) != 1:
        return ""
    access = found[0]
    # A method given arguments (`n.round(2)`) has no such mending.
    calls = [n for n in ast.walk(tree) if dropped and isinstance(n, ast.Call) and n.func is access]
    if calls and (calls[0].args or calls[0].keywords):
        return ""
    whole = ast.get_source_segment(code, calls[0] if calls else access) or ""
    held = ast.get_source_segment(code, access.value) or ""
    if not (whole and held) or text.count(whole) != 1:
        return ""
    return "\n" + _mended_line(line, text.replace(whole, mend(held), 1))


def _text_argument_hint(
    exc: BaseException, ns: dict, code: str, filename: str, fallback: bool = True
) -> str:
    """A function that needs numbers got a column of text (scipy's pearsonr on object
    dtype fails with "'ObjectDType' object has no attribute 'dtype'"; a Series' own
    `.mean()` or `.corr()` with "string dtype" or "could not convert string to float"):
    which column, a few of its values, and how to take the number out of such text. Told
    only to convert it, the 1.5B ran to_numeric(errors='coerce') on '23.6%' values and got
    no numbers; told nothing, it dropped missing values and ran the same mean again."""
    import pandas as pd

    from da_cli.data.profile import LEADING_NUMBER

    line, _ = _past_cell(exc, filename)
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call) or node.lineno != line:
            continue
        called_on = [node.func.value] if isinstance(node.func, ast.Attribute) else []
        for arg in [*called_on, *node.args, *(k.value for k in node.keywords)]:
            values = _argument_values(arg, ns, pd)
            if not isinstance(values, pd.Series) or values.dtype.kind not in "OUT":
                continue
            text = _argument_text(arg, code)
            shown = ", ".join(repr(v) for v in values.dropna().unique()[:3].tolist())
            numbers = values.astype(str).str.match(r"\s*[-+]?[$€£]?\d").mean()
            if numbers >= 0.5:
                return (
                    f"\n{text} holds text ({shown}), not numbers: take the number out of "
                    f"it first: {text}{LEADING_NUMBER}"
                )
            return f"\n{text} holds text ({shown}), not numbers: choose a numeric column."
    if not fallback:
        return ""
    return "\nA function that needs numbers got text (dtype object): convert that column first."


# What pandas says when a Series of text meets arithmetic.
_TEXT_GIVEN = re.compile(r"with string dtype|could not convert string to float")
_CORR_R_ALONE = (
    ".corr() gives the coefficient r alone. scipy.stats.pearsonr(x, y) gives both: "
    "r, p = pearsonr(x, y) (from scipy.stats import pearsonr; drop missing values first)."
)
MAX_NOTED_COLUMNS = 6


def _input_hint(exc: Exception, filename: str) -> str:
    """What in the data a library refused: `r, p = df.corr().iloc[0, 1]` unpacks one
    number; a classification metric got a regression's predictions."""
    message = str(exc)
    if message.startswith("cannot unpack non-iterable") and "float" in message:
        line, _ = _past_cell(exc, filename)
        return "\nThe right side is one number" + (
            f": {_CORR_R_ALONE}" if ".corr(" in linecache.getline(filename, line) else "."
        )
    if message.startswith("Classification metrics can't handle a mix of binary and continuous"):
        return (
            "\nThe predictions are numbers, not classes (a regression's): make them classes "
            "first ((y_pred >= 0.5).astype(int) for 0 and 1), or fit a classifier."
        )
    return ""


_UNSUPPORTED = re.compile(r"does not support operation '(\w+)'|Cannot perform reduction '(\w+)'")


def _groupby_all_columns_hint(exc: Exception, code: str, filename: str) -> str:
    """`t.groupby("origin").sum()["weight_kg"]` aggregates every column before it picks one,
    and a date or text column cannot be summed ("datetime64 type does not support operation
    'sum'"): the 1.5B read that as weight_kg holding text, converted it three times and
    answered a made-up origin. The line with the column picked first."""
    if not _UNSUPPORTED.search(str(exc)):
        return ""
    frames = traceback.extract_tb(exc.__traceback__)
    if not any(os.sep + "groupby" + os.sep in f.filename for f in frames):
        return ""
    line, text = _failed_line(exc, filename)
    for node in ast.walk(ast.parse(code)):
        # node: <grouped>.<agg>(...)[<picked>], with <grouped> a .groupby(...) call
        if not (isinstance(node, ast.Subscript) and node.lineno == line):
            continue
        agg = node.value
        if not (isinstance(agg, ast.Call) and isinstance(agg.func, ast.Attribute)):
            continue
        grouped = agg.func.value
        if not (
            isinstance(grouped, ast.Call)
            and isinstance(grouped.func, ast.Attribute)
            and grouped.func.attr == "groupby"
        ):
            continue
        whole = ast.get_source_segment(code, node) or ""
        by = ast.get_source_segment(code, grouped) or ""
        picked = ast.get_source_segment(code, node.slice) or ""
        call = ast.get_source_segment(code, agg) or ""
        args = call[len(ast.get_source_segment(code, agg.func) or call) :]
        if not (whole and by and picked and args) or whole not in text:
            return ""
        fixed = text.replace(whole, f"{by}[{picked}].{agg.func.attr}{args}", 1)
        return (
            f"\n.{agg.func.attr}() after groupby() runs over every column, and a date or text "
            "column cannot take it: pick the column first.\n" + _mended_line(line, fixed)
        )
    return ""


def _column_tuple_hint(exc: Exception, code: str, filename: str) -> str:
    """`df.groupby("continent")["lifeexp", "gdppercap"]`: columns picked with a tuple, which
    pandas 2 refuses ("Use a list instead"). The 1.5B read that and wrote the same line
    again until its budget ran out: the line with the columns in a list."""
    if "Cannot subset columns with a tuple" not in str(exc):
        return ""
    line, text = _failed_line(exc, filename)
    fixed = text
    for node in ast.walk(ast.parse(code)):
        if not (isinstance(node, ast.Subscript) and node.lineno == line):
            continue
        if not (isinstance(node.slice, ast.Tuple) and len(node.slice.elts) > 1):
            continue
        picked = ast.get_source_segment(code, node.slice)
        if picked and "\n" not in picked:
            fixed = fixed.replace(f"[{picked}]", f"[[{picked}]]", 1)
    if fixed == text:
        return ""
    return "\n" + _mended_line(line, fixed)


_TEXT_ARITHMETIC = re.compile(
    r"operation '\w+' not supported for dtype 'str'|cannot perform __\w+__ with this index type: "
    r"DatetimeArray|integer-arrays with DatetimeArray"
)


def _text_arithmetic_hint(exc: Exception, ns: dict, code: str, filename: str) -> str:
    """Arithmetic on a whole table that has a text or date column (a count per group after
    `.reset_index()`, divided by a total): pandas names only the dtype, and the 1.5B cast
    an id column to int, failed the same way, and answered a share it never computed. The
    hint names the table's other and number columns, and with one number column mends the
    line to use it."""
    if not _TEXT_ARITHMETIC.search(str(exc)):
        return ""
    pd = sys.modules.get("pandas")
    line, text = _failed_line(exc, filename)
    if pd is None or not line:
        return ""
    for node in ast.walk(ast.parse(code)):
        if not (isinstance(node, ast.BinOp) and node.lineno == line):
            continue
        for side in (node.left, node.right):
            table = ns.get(side.id) if isinstance(side, ast.Name) else None
            if not isinstance(table, pd.DataFrame):
                continue
            types = table.dtypes
            others = [c for c, t in types.items() if not pd.api.types.is_numeric_dtype(t)]
            texts = [str(c) for c in others]
            figures = [str(c) for c, t in types.items() if pd.api.types.is_numeric_dtype(t)]
            if not texts:
                continue
            written = all(pd.api.types.is_string_dtype(types[c]) for c in others)
            kind = "text" if written else "non-number"
            said = (
                f"\n{side.id} has the {kind} column{'s' if len(texts) > 1 else ''} "
                f"{', '.join(texts)}: arithmetic takes its number columns"
            )
            if len(figures) == 1:
                fixed = re.sub(rf"\b{side.id}\b(?!\s*[\[.(])", f"{side.id}['{figures[0]}']", text)
                said += f", here {side.id}['{figures[0]}'].\n" + _mended_line(line, fixed)
            else:
                said += f" ({', '.join(figures) or 'none'})."
            return said
    return ""


def _format_hint(exc: Exception, ns: dict, code: str, filename: str) -> str:
    """A format spec (`{x:.3f}`) given a Series or a table: pandas says only that the
    format is unsupported, and the 1.5B cast the Series to float four times, failed the
    same way, and answered a number it never saw. The hint says what the value is and how
    to make it one number."""
    m = re.search(r"unsupported format string passed to (Series|DataFrame)\.__format__", str(exc))
    pd = sys.modules.get("pandas")
    line, _ = _failed_line(exc, filename)
    if not m or pd is None or not line:
        return ""
    for node in ast.walk(ast.parse(code)):
        if not (isinstance(node, ast.FormattedValue) and node.format_spec is not None):
            continue
        if node.lineno != line and getattr(node, "end_lineno", node.lineno) != line:
            continue
        value = ns.get(node.value.id) if isinstance(node.value, ast.Name) else None
        if isinstance(value, pd.Series):
            what = f"a Series of {len(value):,} value{'s' if len(value) != 1 else ''}"
        elif isinstance(value, pd.DataFrame):
            what = f"a table of {value.shape[0]:,} rows x {value.shape[1]} columns"
        else:
            continue
        return (
            f"\n{node.value.id} is {what}, not one number, and a format such as :.2f takes "
            "one. Reduce it to the value the question asks for first (an average is "
            ".mean(), a total .sum() of the column), or take one value with .iloc[0]."
        )
    return ""


def _refused_nan_hint(exc: Exception, filename: str) -> str:
    """scikit-learn's "Input X contains NaN" names neither the column nor the count (and
    suggests another model): the 1.5B fitted the same table again three times. The hint
    counts the missing values of what the estimator was given, by column."""
    m = re.match(r"Input (X|y) contains NaN", str(exc))
    if not m:
        return ""
    _, inside = _past_cell(exc, filename)
    if inside is None:
        return ""
    import numpy as np
    import pandas as pd

    given, call = None, ""
    while inside is not None and given is None:  # the estimator's fit(X, y), past wrappers
        frame = inside.tb_frame
        given, call = frame.f_locals.get(m.group(1)), f"{frame.f_code.co_name}()"
        inside = inside.tb_next
    if isinstance(given, pd.Series):
        given = given.to_frame()
    if isinstance(given, pd.DataFrame):
        counts = given.isna().sum()
        counts = counts[counts > 0]
        listed = ", ".join(f"{c} ({n:,} of {len(given):,} rows)" for c, n in counts.items())
        if len(counts) > MAX_NOTED_COLUMNS:
            listed = ", ".join(listed.split(", ")[:MAX_NOTED_COLUMNS]) + ", ..."
        what = f"missing values in: {listed}"
    elif isinstance(given, np.ndarray) and given.dtype.kind in "fc":
        rows = np.isnan(given).reshape(len(given), -1).any(axis=1).sum()
        what = f"{rows:,} rows (of {len(given):,}) with missing values"
    else:
        return ""
    return (
        f"\nThe {m.group(1)} given to {call} has {what}. Drop those rows first (on the "
        "columns used, before splitting, so X and y keep the same rows) or fill them as "
        "the question says."
    )


MAX_LISTED_LABELS = 10


def _label_hint(exc: KeyError, code: str, filename: str) -> str:
    """A row label a Series or DataFrame lacks (`s[0]`, `s.loc['Mr.']`), with the labels it
    has. pandas 3 reads `s[0]` as a label, never a position: the 1.5B wrote
    `results.params[0]` for statsmodels' coefficients (labelled `Age`, `Pclass`) three times,
    told only `KeyError: 0`; and `means.loc['Mr.']` on a per-title mean that a filter had
    emptied, told only `KeyError: 'Mr.'`. The object is the one pandas was looking in (the
    first frame past the cell's), so nothing is evaluated again."""
    pd = sys.modules.get("pandas")
    if pd is None or not exc.args or isinstance(exc.args[0], (list, tuple)):
        return ""
    key = exc.args[0]
    line, inside = _past_cell(exc, filename)
    if inside is None:
        return ""
    obj = inside.tb_frame.f_locals.get("self")
    obj = getattr(obj, "obj", obj) if type(obj).__name__ in ("_LocIndexer", "_AtIndexer") else obj
    if not isinstance(obj, (pd.Series, pd.DataFrame)):
        return ""
    index = obj.index
    if isinstance(obj, pd.DataFrame) and isinstance(index, pd.RangeIndex) and isinstance(key, str):
        return ""  # a name looked up as a row: a column meant, which _key_hint is for
    name = _looked_up(code, line, key)
    what = name or f"The {type(obj).__name__}"
    if len(index) == 0:
        return f"\n{what} is empty: the steps that made it kept no rows."
    if isinstance(index, pd.RangeIndex) and index.step == 1 and len(index) > 2:
        labels = f"{index[0]} to {index[-1]}"
    else:  # as the cell would write them: 'Braund, Mr. Owen' is one label
        labels = ", ".join(repr(v) for v in index[:MAX_LISTED_LABELS].tolist())
        labels += ", ..." if len(index) > MAX_LISTED_LABELS else ""
    hint = f"\n{what} has no label {key!r}; its labels are: {labels}."
    if isinstance(key, int) and not isinstance(key, bool) and -len(index) <= key < len(index):
        # Told "By position: .iloc[0]" for `sql(...).iloc[0][0]`, the 1.5B dropped the
        # [0] and divided two one-row Series.
        lines = code.splitlines()
        text = lines[line - 1] if line and line <= len(lines) else ""
        row = re.search(rf"\.iloc\[(-?\d+)\]\[{key}\]", text)
        if name:
            hint += f" By position: {name}.iloc[{key}]."
        elif row:
            at = f".iloc[{row.group(1)}, {key}]"
            hint += f" By position: {at} (row {row.group(1)}, column {key})."
        else:
            hint += f" By position: .iloc[{key}] in place of [{key}]."
    return hint


def _dropped_key_hint(exc: KeyError, ns: dict, code: str, filename: str) -> str:
    """`df[['Fare']].groupby('Pclass')`: the columns picked before the groupby leave out
    the column it groups by, and pandas says only `KeyError: 'Pclass'`. The 1.5B read that
    as the table lacking Pclass and wrote the same line until its budget ran out: the line
    grouping first and picking the columns after. Only for a table the namespace binds
    that has the column: a key no table has is another mistake (`_key_hint`'s)."""
    pd = sys.modules.get("pandas")
    key = exc.args[0] if exc.args else None
    if pd is None or not isinstance(key, str):
        return ""
    line, text = _failed_line(exc, filename)
    tree = ast.parse(code)
    # A groupby picked from afterwards (`...groupby('k')['a']`) needs no columns picked
    # again: pandas refuses `g[['a']]['a']` ("already selected").
    picked_after = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
    for node in ast.walk(tree):
        # node: <table>[[<columns>]].groupby(<by>), on the failed line
        if not (
            isinstance(node, ast.Call)
            and node.lineno == line == node.end_lineno
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "groupby"
            and isinstance(node.func.value, ast.Subscript)
            and isinstance(node.func.value.slice, ast.List)
        ):
            continue
        picked = node.func.value.slice
        names = [e.value for e in picked.elts if isinstance(e, ast.Constant)]
        by = [*node.args, *(k.value for k in node.keywords if k.arg == "by")]
        grouped = {e.value for a in by for e in ast.walk(a) if isinstance(e, ast.Constant)}
        frame = node.func.value.value
        table = ns.get(frame.id) if isinstance(frame, ast.Name) else None
        if key in names or key not in grouped or not isinstance(table, pd.DataFrame):
            continue
        if key not in table.columns:
            continue
        segments = [ast.get_source_segment(code, x) for x in (node, frame, picked)]
        call = ast.get_source_segment(code, node.func) or ""
        if not all(segments) or not call or segments[0] not in text:
            continue
        whole, held, columns = segments
        args = whole[len(call) :]
        regrouped = f"{held}.groupby{args}" + ("" if id(node) in picked_after else f"[{columns}]")
        fixed = text.replace(whole, regrouped, 1)
        return (
            f"\n{held}[{columns}] keeps only those columns, so {key!r} is not there to group "
            "by: group first, then pick the columns.\n" + _mended_line(line, fixed)
        )
    return ""


def _empty_hint(exc: IndexError, ns: dict, code: str, filename: str) -> str:
    """A position past the end of something empty (`row['calls'].values[0]`, `s.iloc[0]`):
    which table on the failing line has no rows, and, when this cell made it by keeping the
    rows equal to a value, a few of the values the column does have. The 1.5B looked up
    "20170413_080000" in a column of 'Apr 13  2017 8:00:00 AM' and ran `.values[0]` on the
    empty result eight times, told only "index 0 is out of bounds for axis 0 with size 0"."""
    if not re.search(r"out[ -]of[ -]bounds", str(exc)):
        return ""
    pd = sys.modules.get("pandas")
    line, _ = _past_cell(exc, filename)
    tree = ast.parse(code)
    used = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and getattr(n, "lineno", 0) == line
    }
    empty = [
        n for n in sorted(used)
        if pd is not None and isinstance(ns.get(n), (pd.DataFrame, pd.Series)) and len(ns[n]) == 0
    ]  # fmt: skip
    if len(empty) != 1:
        return ""
    [name] = empty
    hint = f"\n{name} is empty: the steps that made it kept no rows."
    for node in ast.walk(tree):
        kept = _kept_equal(node)
        if kept is not None and kept[0] == name:
            return hint + (_no_match(ns, *kept[1:]) or "")
    return hint


def _emptied_by_filter(code: str, ns: dict) -> str:
    """For a cell that ran: a table it made by keeping the rows equal to a value that kept
    none, with a few of the values the column has. Its mean or correlation is then nan, and
    the 1.5B read the nan as "no relationship" ('ABC News' in a column of 'abc-news')."""
    pd = sys.modules.get("pandas")
    if pd is None:
        return ""
    for node in ast.walk(ast.parse(code)):
        kept = _kept_equal(node)
        if kept is None:
            continue
        name = kept[0]
        if isinstance(ns.get(name), (pd.DataFrame, pd.Series)) and len(ns[name]) == 0:
            said = _no_match(ns, *kept[1:])
            if said:
                return f"{name} is empty: the steps that made it kept no rows.{said}"
    return ""


def _mask_counted(code: str, ns: dict) -> str:
    """For a cell that ran: `len(m)` or `m.count()` of a True/False mask `m`, which counts
    every row the mask has, not the rows it keeps. The 1.5B wrote `outliers = (x < lo) |
    (x > hi)` and printed `len(outliers)`, all 1,338 rows, as the number of outliers."""
    import numpy as np

    pd = sys.modules.get("pandas")
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id == "len" and len(node.args) == 1:
            target, how = node.args[0], "len({})"
        elif isinstance(f, ast.Attribute) and f.attr == "count" and not node.args:
            target, how = f.value, "{}.count()"
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        mask = ns.get(target.id)
        kinds = (np.ndarray,) + ((pd.Series,) if pd is not None else ())
        if not isinstance(mask, kinds) or mask.dtype.kind != "b":
            continue
        kept = int(mask.sum())
        if kept == len(mask):
            continue  # every row kept: both counts agree
        name = target.id
        return (
            f"{how.format(name)} is {len(mask):,}, every row of the True/False mask {name}; "
            f"the rows it keeps are {name}.sum(): {kept:,}."
        )
    return ""


MAX_SHOWN_VALUES = 4


def _no_match(ns: dict, table: str, column: object, value: ast.expr) -> str | None:
    """ " No df['source'] equals 'ABC News'; its values are like: ...", or None when the
    table or the value cannot be read without running code."""
    pd = sys.modules.get("pandas")
    frame = ns.get(table)
    if pd is None or not isinstance(frame, pd.DataFrame) or column not in frame.columns:
        return None
    if isinstance(value, ast.Name):
        value = ns.get(value.id)
    elif isinstance(value, ast.Constant):
        value = value.value
    else:
        return None
    values = frame[column].dropna().unique()
    shown = ", ".join(repr(v) for v in values[:MAX_SHOWN_VALUES].tolist())
    more = f" ({len(values):,} in all)" if len(values) > MAX_SHOWN_VALUES else ""
    return f" No {table}[{column!r}] equals {value!r}; its values are like: {shown}{more}."


def _kept_equal(node: ast.AST) -> tuple[str, str, object, ast.expr] | None:
    """`name = table[table[column] == value]` (or `.loc[...]`): name, table, column, value."""
    if not (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Subscript)
    ):
        return None
    sub = node.value
    table = sub.value.value if isinstance(sub.value, ast.Attribute) else sub.value
    test = sub.slice
    if not (
        isinstance(table, ast.Name)
        and isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.Eq)
        and isinstance(test.left, ast.Subscript)
        and isinstance(test.left.value, ast.Name)
        and test.left.value.id == table.id
        and isinstance(test.left.slice, ast.Constant)
    ):
        return None
    return node.targets[0].id, table.id, test.left.slice.value, test.comparators[0]


def _looked_up(code: str, line: int, key: object) -> str | None:
    """The text of what the cell's failing line looked `key` up in (`results.params` for
    `results.params[0]`, `means` for `means.loc['Mr.']`), when only one thing was."""
    found = set()
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Subscript) or node.lineno != line:
            continue
        index = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
        if not (isinstance(index, ast.Constant) and index.value == key):
            continue
        value = node.value
        if isinstance(value, ast.Attribute) and value.attr in ("loc", "at"):
            value = value.value
        text = ast.get_source_segment(code, value)
        if text and len(text) <= 60:
            found.add(text)
    return found.pop() if len(found) == 1 else None


def _file_hint(tables: list[str]) -> str:
    """Small models read `path/to/data.csv` or a name they guessed: say what is here."""
    try:
        here = sorted(
            f for f in os.listdir(".") if os.path.isfile(f) and not f.startswith((".", "figure-"))
        )
    except OSError:
        here = []
    hint = f"\nFiles in the working directory: {', '.join(here[:10]) or 'none'}."
    if tables:
        names = ", ".join(tables[:10])
        hint += f' Tables are ready as load("{tables[0]}") (the tables: {names}).'
    return hint


class CellTimeout(BaseException):
    """Raised inside a cell by its alarm; a BaseException so `except Exception` in generated
    code does not swallow it."""


def _alarm(signum, frame):
    raise CellTimeout


MAX_SHOWN_NAMES = 4
MAX_EARLIER_NAMES = 6  # the latest of those earlier lines assigned, with a short value
EARLIER_CHARS = 120  # an earlier line's value is shown if its repr is one line this short,
EARLIER_BLOCK_CHARS = 400  # or a few lines this short in all (a per-group mean of 20 groups
EARLIER_LINES = 12  # at most, say: `_many`), in this many lines at most
EARLIER_SECONDS = 0.5  # for their reprs together, within SHOW_SECONDS
SHOWN_CHARS = 800  # of the assigned values' reprs together; a bigger one is summarized
SHOW_SECONDS = 2.0


def assigned_names(stmt: ast.stmt) -> list[str]:
    """The plain names a statement assigns (`r, p = pearsonr(...)` → r, p); none for an
    item or attribute (`df["x"] = ...` changes a table, whose repr would be noise)."""
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
        targets = [stmt.target]
    else:
        return []
    names: list[str] = []
    for target in targets:
        parts = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
        for part in parts:
            if isinstance(part, ast.Starred):
                part = part.value
            if isinstance(part, ast.Name) and not part.id.startswith("_"):
                names.append(part.id)
    return list(dict.fromkeys(names))


def _surely_assigned(stmt: ast.stmt) -> list[str]:
    """The names a statement assigns whenever it finishes: a plain assignment's; of an
    if/elif/else, those every branch assigns; a with block's. A cell ending in `if total >
    0: per_kg = a / b else: per_kg = None` showed nothing, and the 1.5B divided in its head
    (22.845 for 2.285). An `if` without an `else` may leave the name as an earlier cell
    set it, so it shows none."""
    if isinstance(stmt, ast.If):
        if not stmt.orelse:
            return []
        other = [n for s in stmt.orelse for n in _surely_assigned(s)]
        then = (n for s in stmt.body for n in _surely_assigned(s) if n in other)
        return list(dict.fromkeys(then))
    if isinstance(stmt, ast.With):
        return list(dict.fromkeys(n for s in stmt.body for n in _surely_assigned(s)))
    return assigned_names(stmt)


def silent_cell_names(body: list[ast.stmt]) -> tuple[list[str], list[str]]:
    """What a cell that printed nothing may show: the names its earlier top-level lines
    assigned, and those its last line assigned. A small model computes the mean, the
    median and the deviation on three lines, sees only the last, and then answers with a
    mean it never saw. A cell that ends in an expression (`df.sort_values(...,
    inplace=True)`, showing None) has only earlier lines."""
    ends_in_expression = bool(body) and isinstance(body[-1], ast.Expr)
    last = _surely_assigned(body[-1]) if body and not ends_in_expression else []
    earlier = [n for stmt in body[:-1] for n in assigned_names(stmt) if n not in last]
    return list(dict.fromkeys(reversed(earlier)))[::-1], last


# Reductions whose value is a statistic of the data (`x.mean()`, `np.std(x)`, `s.max()`).
# fmt: off
_STATISTICS = frozenset((
    "mean", "std", "median", "var", "quantile", "sum", "min", "max", "mode", "corr", "cov",
    "skew", "kurt", "count", "nunique", "idxmax", "idxmin", "sem",
))
# fmt: on


def unused_statistics(code: str) -> list[tuple[str, bool]]:
    """The names a cell's top-level lines set to a statistic that no later line of the cell
    reads, each with whether a later line reads another of the cell's statistics. The 1.5B
    counted outliers "3 standard deviations from the mean" as `x > 3 * std`, the mean
    computed on the line before and then dropped. In the recorded runs of three unseen
    question sets, all 14 analyses with a cell that left a statistic unread and unshown, or
    shown while the cell went on from a sibling (the deviation), were wrong; a silent cell
    that shows its statistics, none read, is how a mean and a median get reported. The last
    line's names are left out: a silent cell shows them."""
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return []
    statistics: list[tuple[str, bool]] = []
    for i, stmt in enumerate(body[:-1]):
        if not (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            continue
        calls = [n for n in ast.walk(stmt.value) if isinstance(n, ast.Call)]
        if not any(isinstance(c.func, ast.Attribute) and c.func.attr in _STATISTICS for c in calls):
            continue
        name = stmt.targets[0].id
        read = {
            n.id
            for later in body[i + 1 :]
            for n in ast.walk(later)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        if not name.startswith("_"):
            statistics.append((name, name in read))
    beside = any(read for _, read in statistics)
    unread = dict.fromkeys(name for name, read in statistics if not read)
    return [(name, beside) for name in unread]


def _shown(ns: dict, names: list[str], earlier: list[str]) -> str | None:
    """`name = value` for each name, a table's lines under its name; a value whose repr
    does not fit what is left of SHOWN_CHARS (four train/test splits, say) by its type and
    shape only. Before them, the latest `earlier` names whose value is short (a number, a
    test's result in one line; a per-group statistic of a few groups in a few lines) in
    the room and time the last line's names left: the mean and median per class computed
    on the lines before the deviation's are what the question asked for too. A loaded
    table, a long array or a function there would be noise. Runs after the cell, each repr
    under what is left of a short clock: a slow repr (a lazy query object runs its query)
    shows nothing rather than turning a finished cell into a timeout."""
    until = time.monotonic() + SHOW_SECONDS
    lines, room = [], SHOWN_CHARS
    for name in [k for k in names if k in ns][:MAX_SHOWN_NAMES]:
        text = _brief_until(ns[name], room, until)
        if text is not None:
            room -= len(text)
            lines.append(f"{name} =\n{text}" if "\n" in text else f"{name} = {text}")
    short: list[str] = []
    until = min(until, time.monotonic() + EARLIER_SECONDS)
    for name in [k for k in reversed(earlier) if k in ns]:
        value = ns[name]
        if len(short) == MAX_EARLIER_NAMES:
            break
        if callable(value) or isinstance(value, type(sys)):
            continue
        text = None if _many(value) else _brief_until(value, EARLIER_BLOCK_CHARS, until)
        if not text or text.startswith("<"):  # none in time, or too big: by its type only
            continue
        if "\n" in text:
            line = f"{name} =\n{text}"
            short_enough = text.count("\n") < EARLIER_LINES
        else:
            line, short_enough = f"{name} = {text}", len(text) <= EARLIER_CHARS
        if short_enough and len(line) <= room:
            short.insert(0, line)
            room -= len(line)
    return "\n".join(short + lines) or None


def _brief_until(value: object, room: int, until: float) -> str | None:
    """`_brief` under the clock's remaining time; None when it has run out."""
    left = until - time.monotonic()
    if left <= 0:
        return None
    signal.setitimer(signal.ITIMER_REAL, left)
    try:
        return _brief(value, room)
    except CellTimeout:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _many(value: object) -> bool:
    """A table or long array, whose repr would be costly and never one short line."""
    try:
        return getattr(value, "ndim", 0) >= 1 and len(value) > 20  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001  (an object with odd ndim/len is not shown either)
        return True


def _brief(value: object, room: int) -> str:
    try:
        # A numpy scalar's repr is "np.float64(0.21)" since numpy 2: show the number.
        if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
            value = value.item()  # type: ignore[attr-defined]
        sized = isinstance(value, (str, bytes, list, tuple, dict, set))
        if sized and len(value) > room:  # type: ignore[arg-type]
            return f"<{type(value).__name__} of length {len(value)}>"  # type: ignore[arg-type]
        text = repr(value)
        if len(text) <= room:
            return text
        shape = getattr(value, "shape", None)
        size = f" of shape {tuple(shape)}" if isinstance(shape, tuple) else ""
        return f"<{type(value).__name__}{size}>"
    except Exception:  # noqa: BLE001  (a broken repr is no reason to fail a cell that ran)
        return f"<{type(value).__name__}>"


def _run_cell(
    code: str, ns: dict, n: int, workspace: str, timeout: float, quota: DiskQuota
) -> dict:
    filename = f"<cell {n}>"
    value = None
    assigned = None
    finished = False
    names: list[str] = []
    earlier: list[str] = []
    error = None
    # Registered so tracebacks can quote the cell's lines back to the model.
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        tree = ast.parse(code, filename=filename)
        earlier, names = silent_cell_names(tree.body)
        tree.body = _one_after_another(tree.body, ns)
        tree = _Unpacking().visit(tree)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        with quota.watching():
            exec(compile(tree, filename, "exec"), ns)
            if last is not None:
                result = eval(compile(last, filename, "eval"), ns)
                if result is not None:
                    value = repr(result)
            finished = True
    except CellTimeout:
        error = f"TimeoutError: the cell ran longer than {timeout:g} s and was stopped."
    except WorkspaceFull:
        error = "OSError: the cell was stopped: it wrote past the workspace's limit."
    except SyntaxError as e:
        error = f"SyntaxError: {e.msg} (line {e.lineno})\n  {(e.text or '').rstrip()}"
        error += _sql_cell_hint(code) or _shell_line_hint(code)
    except BaseException as e:  # noqa: BLE001  (anything the cell raises is the model's)
        if isinstance(e, SystemExit):
            error = f"SystemExit: {e.code}"
        else:
            error = _cell_traceback(e, filename)
            # The clock stops first: a timeout inside a hint would escape this handler.
            signal.setitimer(signal.ITIMER_REAL, 0)
            hints = ""
            if isinstance(e, FileNotFoundError):
                hints += _file_hint(ns.get("TABLES", []))
            changed_api = _hint(_changed_api_hint, e)
            hints += changed_api
            if isinstance(e, KeyError):
                hints += (
                    _hint(_dropped_key_hint, e, ns, code, filename)
                    or _hint(_key_hint, e, ns, filename)
                    or _hint(_label_hint, e, code, filename)
                )
            if isinstance(e, IndexError):
                hints += _hint(_empty_hint, e, ns, code, filename)
            if isinstance(e, NameError):
                hints += _hint(_name_hint, e, code, filename) or _hint(
                    _unimported_hint, e, code, filename
                )
            elif isinstance(e, AttributeError):
                hints += _hint(_attribute_hint, e, ns, code, filename)
            elif isinstance(e, (ValueError, TypeError)):
                refused = _hint(_refused_nan_hint, e, filename)
                if refused:
                    # scikit-learn's advice after its first line is to change the model.
                    error = error.replace(str(e), str(e).split("\n")[0])
                hints += (
                    refused
                    or _hint(_input_hint, e, filename)
                    or _hint(_date_text_hint, e)
                    or _hint(_groupby_all_columns_hint, e, code, filename)
                    or _hint(_column_tuple_hint, e, code, filename)
                    or _hint(_text_arithmetic_hint, e, ns, code, filename)
                    or _hint(_format_hint, e, ns, code, filename)
                )
                if not changed_api and _TEXT_GIVEN.search(str(e)):
                    hints += _hint(_text_argument_hint, e, ns, code, filename, False)
            # The lines that did not run come right after the error: a hint's line to run
            # comes last, as the model copies what it reads last.
            error += _hint(_unrun_hint, e, code, filename) + hints
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if finished and error is None and value is None and (names or earlier):
        # What a silent cell computed, shown only if it printed nothing
        # (`ExecutionResult.observation`): small models compute a value, print nothing,
        # and then answer with a number they never saw.
        assigned = _shown(ns, names, earlier)
    figures = _save_figures(workspace, n)
    return {"value": value, "assigned": assigned, "error": error, "figures": figures}


def _save_figures(workspace: str, n: int) -> list[str]:
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    saved = []
    for i, num in enumerate(plt.get_fignums(), 1):
        name = f"figure-{n}-{i}.png"
        try:
            plt.figure(num).savefig(os.path.join(workspace, name), dpi=110, bbox_inches="tight")
            saved.append(name)
        except Exception:  # noqa: BLE001  (a figure that cannot render is skipped)
            pass
    plt.close("all")
    return saved


def strays_error(n: int) -> str:
    return (
        f"RuntimeError: the cell left {n} process{'es' if n > 1 else ''} running in the "
        "background; stopped (background processes are not allowed)."
    )


def _stat(pid: str) -> tuple[int, int] | None:
    """(parent pid, session id) of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), int(fields[3])
    except (OSError, IndexError, ValueError):
        return None


def _stop_strays(own_namespace: bool) -> int:
    """Kill what the cell left running: in our own PID namespace every process but this one
    and its ancestors (bubblewrap's), otherwise those in this worker's session. Repeated,
    since a fork bomb refills as it is emptied; returns how many were stopped."""
    if not os.path.isdir("/proc"):
        return 0
    me, stopped = os.getpid(), set()
    for _ in range(200):
        procs = {int(p): st for p in os.listdir("/proc") if p.isdigit() and (st := _stat(p))}
        keep, pid = {me}, me
        while pid in procs and pid not in (0, 1):
            pid = procs[pid][0]
            keep.add(pid)
        sid = os.getsid(0)
        strays = {p for p, (_, s) in procs.items() if p not in keep and (own_namespace or s == sid)}
        if not strays:
            break
        for p in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, signal.SIGKILL)
        stopped |= strays
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        time.sleep(0.01)
    return len(stopped)


def _read_capture(path: str, limit: int) -> str:
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        if size <= limit:
            data = f.read()
            return data.decode("utf-8", "replace")
        head = f.read(limit // 2)
        f.seek(size - limit // 2)
        tail = f.read()
    cut = size - len(head) - len(tail)
    return (
        head.decode("utf-8", "replace")
        + f"\n… [{cut:,} bytes of output cut] …\n"
        + tail.decode("utf-8", "replace")
    )


def _capture_output(capture: str) -> None:
    """Point fds 1 and 2, and fresh `sys.stdout`/`sys.stderr` on them, at an emptied
    capture file. Whatever the previous cell did to them (closed fd 1, closed or replaced
    `sys.stdout`), the next cell starts with working output."""
    _flush_output()
    out_fd = os.open(capture, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # With fd 1 or 2 closed by a cell, open() returns that very number: closing it after
    # the dup2s would close the capture again.
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    if out_fd > 2:
        os.close(out_fd)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        original = getattr(sys, f"__{name}__")
        if original is None or original.closed:
            original = open(  # noqa: SIM115  (lives as long as the worker)
                fd, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False
            )
            setattr(sys, f"__{name}__", original)
        setattr(sys, name, original)


def _flush_output() -> None:
    """Flush what a cell printed; a stream the cell closed or replaced is no reason to fail."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()


def main(fd_in: int, fd_out: int) -> None:
    me = os.getpid()
    init = wire.recv(fd_in)
    workspace = init["workspace"]
    capture = init["capture"]
    placed = {os.path.join(workspace, name) for name in init.get("placed", [])}
    quota = DiskQuota(
        init.get("writable", [workspace]), placed, int(init.get("workspace_mb", 2048))
    )
    try:
        ns = _setup_namespace(init["catalog"])
    except Exception as e:  # noqa: BLE001
        wire.send(fd_out, {"error": f"{type(e).__name__}: {e}"})
        return
    wire.send(fd_out, {"ok": True})
    n = 0
    while True:
        try:
            msg = wire.recv(fd_in)
        except EOFError:
            return
        if msg.get("op") == "shutdown":
            return
        n += 1
        # What the analysis is about (the question), for helpers that read it: da's own
        # values, set before each cell so a follow-up question replaces the first.
        ns.update(msg.get("context") or {})
        _capture_output(capture)
        start, since = time.perf_counter(), cell_clock()
        result = _run_cell(msg["code"], ns, n, workspace, float(msg["timeout"]), quota)
        if os.getpid() != me:
            os._exit(0)  # a child the cell forked, returning here: only the worker answers
        strays = _stop_strays(bool(init.get("own_pid_namespace")))
        if strays:
            result["strays"] = strays
            result["error"] = (result["error"] + "\n" if result["error"] else "") + strays_error(
                strays
            )
        over = quota.enforce(since)
        if over:
            result["error"] = (result["error"] + "\n" if result["error"] else "") + over
        _flush_output()
        result["seconds"] = time.perf_counter() - start
        result["output"] = _read_capture(capture, int(msg.get("limit", 4000)))
        if result["error"] is None:
            notes = [
                _hint(_emptied_by_filter, msg["code"], ns),
                _hint(_mask_counted, msg["code"], ns),
            ]
            if _NAN.search(result["output"] + (result["value"] or "")):
                notes.append(_hint(_missing_inputs, msg["code"], ns))
            result["note"] = "\n".join(n for n in notes if n) or None
            result["unused"] = unused_statistics(msg["code"])
        wire.send(fd_out, result)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
