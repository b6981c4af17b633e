import json
import math
import os
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ROOT, SALES, answer_step, code_step, sha256

from da_cli.data.catalog import build_catalog
from da_cli.sandbox import Limits, Sandbox, isolation


@pytest.fixture
def sandbox(tmp_path):
    with Sandbox(build_catalog([str(SALES)]), tmp_path / "ws", Limits(timeout_s=5)) as sb:
        yield sb


def test_variables_persist_across_cells(sandbox):
    assert sandbox.run("x = 41").ok
    assert sandbox.run("x + 1").observation() == "42"


def test_no_deprecation_warning_reaches_a_cell_s_output(tmp_path):
    # DuckDB turns a zoned timestamp into pandas with an API pandas 3 deprecates: the
    # warning named da's load(), and a small model took it for a fault in its own code.
    src = tmp_path / "readings.csv"
    src.write_text("time,value\n2024-01-01 00:00:00+00,1\n2024-01-02 06:00:00+00,2\n")
    with Sandbox(build_catalog([str(src)]), tmp_path / "ws", Limits(timeout_s=20)) as sb:
        out = sb.run('print(len(load("readings")), len(sql("SELECT time FROM readings")))')
        assert out.observation() == "2 2"
        # Nor from the cell's own deprecated calls: pandas 3 warns at every inplace=True,
        # which works as it did; even where the cell asks to see every warning.
        out = sb.run("df = load('readings')\ndf.drop(columns=['value'], inplace=True)")
        assert out.ok and "Warning" not in out.observation()
        # Other warnings show, once, as Python shows them.
        loop = "import warnings\nfor i in range(4):\n    d = sql('SELECT value FROM readings')\n"
        out = sb.run(loop + "    warnings.warn('few rows', UserWarning)\nprint('done')")
        assert out.observation().count("UserWarning: few rows") == 1
        loop = "import warnings\nwarnings.simplefilter('always')\nfor i in range(4):\n"
        out = sb.run(loop + "    warnings.warn('old API', FutureWarning)\nprint('done')")
        assert out.observation() == "done"


def test_a_silent_cell_ending_in_an_assignment_shows_what_it_assigned(sandbox):
    # A small model computes a value, prints nothing, then answers with a number it never
    # saw: the cell shows its last assignment's plain names (numpy scalars as numbers),
    # after the short values its earlier lines assigned.
    cell = "import numpy as np\nr, _p = np.float64(0.25), 1\nn: int = 3\nn += 1"
    assert sandbox.run(cell).observation() == "r = 0.25\nn = 4"
    out = sandbox.run("import numpy as np\nr, p = np.float64(0.25), 'x'")
    assert out.observation() == "r = 0.25\np = 'x'"
    # Past 800 characters in all, a value is shown by its type (and shape, for a table).
    out = sandbox.run("a, b = list(range(1000)), 2")
    assert out.observation() == "a = <list of length 1000>\nb = 2"
    # A warning is not the cell showing a result.
    out = sandbox.run("import warnings\nwarnings.warn('few rows', UserWarning)\nv = 7")
    assert out.observation() == (
        "<cell 4>:2: UserWarning: few rows\n  warnings.warn('few rows', UserWarning)\nv = 7"
    )
    # A repr slower than its own short alarm shows nothing; the cell still ran.
    slow = "import time\nclass Slow:\n    def __repr__(self):\n        time.sleep(9)\ns = Slow()"
    out = sandbox.run(slow)
    assert out.ok and out.observation() == "(no output)"
    out = sandbox.run("import numpy as np\nm = np.arange(1000).reshape(500, 2) * 1.5")
    assert out.observation() == "m = <ndarray of shape (500, 2)>"
    # What it printed, an item assignment, or an error: shown as before, nothing added.
    assert sandbox.run("y = 2\nprint('done')\nz = 5").observation() == "done"
    assert sandbox.run("d = {}").observation() == "d = {}"
    assert sandbox.run("d['k'] = 1").observation() == "(no output)"
    assert "ZeroDivisionError" in sandbox.run("w = 1 / 0").observation()
    assert sandbox.run("w").error is not None


def test_a_silent_cell_ending_in_if_else_shows_what_every_branch_assigned(sandbox):
    # The 1.5B ended a cell with `if total > 0: per_kg = ... else: per_kg = None`, saw only
    # the two totals, and divided them in its head (22.845 for 2.285).
    cell = (
        "cost, kg = 76260.0, 33369.12\n"
        "if kg > 0:\n    per_kg = round(cost / kg, 3)\n    note = 'ok'\n"
        "elif kg == 0:\n    per_kg = 0.0\nelse:\n    per_kg = None"
    )
    assert sandbox.run(cell).observation() == "cost = 76260.0\nkg = 33369.12\nper_kg = 2.285"
    with_block = "import warnings\nwith warnings.catch_warnings():\n    share = 0.5"
    assert sandbox.run(with_block).observation() == "share = 0.5"
    # An if without an else may leave the name as an earlier cell set it: not shown.
    assert sandbox.run("late = 1\nif late > 5:\n    late = 9").observation() == "late = 1"


def test_a_ranking_of_values_all_equal_says_it_named_the_first(sandbox):
    # The 1.5B divided the late shipments per region by themselves (100 % everywhere) and
    # answered the first region as the one with the highest share.
    cell = (
        "import pandas as pd\nlate = pd.Series([3, 5, 2], index=['Alps', 'Baltic', 'Iberia'])\n"
        "share = late / late * 100\nprint(share.idxmax())"
    )
    out = sandbox.run(cell).observation()
    assert "Alps" in out.splitlines()
    assert (
        "(idxmax(): all 3 values are 100, so it returned the first label, 'Alps', "
        "not a highest one. Values all 1 or 100 are usually a share divided by itself"
    ) in out
    flat = sandbox.run("print(pd.Series([2.5, 2.5]).idxmin())").observation()
    assert flat.startswith("(idxmin(): all 2 values are 2.5") and "not a lowest one.)" in flat
    # Values that differ, or one value: nothing said.
    assert sandbox.run("print(pd.Series([1, 3, 3]).idxmax())").observation() == "1"
    assert sandbox.run("print(pd.Series([7.0]).idxmax())").observation() == "0"


def test_a_statistic_no_later_line_reads_is_named_unless_it_is_shown(sandbox):
    # The 1.5B counted outliers "3 standard deviations from its mean" as `x > 3 * sd`,
    # its mean computed on the line before and dropped.
    cell = (
        "import pandas as pd\nx = pd.Series([1.0, 2.0, 3.0, 40.0])\nm = x.mean()\n"
        "sd = x.std()\nprint(int((x > 3 * sd).sum()))"
    )
    assert sandbox.run(cell).observation() == (
        "0\n(`m` was computed, and no later line of the cell reads it.)"
    )
    cell = "import numpy as np\nlo = np.min([1, 2])\nhi = np.max([1, 2])\nprint('range')"
    assert sandbox.run(cell).observation() == (
        "range\n(`lo`, `hi` were computed, and no later line of the cell reads them.)"
    )
    # Read later (an f-string too), or not a statistic: nothing to say.
    cell = "import numpy as np\nm = np.mean([1, 3])\nn = len([1])\nprint(f'{m:.1f}')"
    assert sandbox.run(cell).observation() == "2.0"
    # A silent cell shows it, so it is not dropped; the last line's names are shown too.
    assert sandbox.run("import numpy as np\nm = np.mean([1, 3])\nk = 2").observation() == (
        "m = 2.0\nk = 2"
    )
    # Unless the cell went on from another statistic without it: shown, and still named.
    cell = "import numpy as np\nm = np.mean([1, 3])\nsd = np.std([1, 3])\ncut = 3 * sd"
    assert sandbox.run(cell).observation() == (
        "m = 2.0\nsd = 1.0\ncut = 3.0\n(`m` was computed, and no later line of the cell reads it.)"
    )
    # A cell that failed says why it failed, nothing more.
    out = sandbox.run("import numpy as np\nm = np.mean([1, 3])\nprint(1 / 0)").observation()
    assert "ZeroDivisionError" in out and "computed" not in out


def test_a_count_of_every_row_of_a_true_false_mask_says_how_many_it_keeps(sandbox):
    # The 1.5B printed len(outliers) of `outliers = (x < lo) | (x > hi)`: every row.
    cell = (
        "import pandas as pd\nx = pd.Series([1.0, 2.0, 3.0, 40.0])\n"
        "outliers = (x < 0) | (x > 10)\nprint(len(outliers))"
    )
    assert sandbox.run(cell).observation() == (
        "4\nlen(outliers) is 4, every row of the True/False mask outliers; the rows it keeps "
        "are outliers.sum(): 1."
    )
    # numpy's masks too, and a Series' .count() (the values that are not missing).
    out = sandbox.run("import numpy as np\nbig = np.array([1, 5, 9]) > 4\nprint(len(big))")
    assert out.observation().endswith("mask big; the rows it keeps are big.sum(): 2.")
    assert "outliers.count() is 4" in sandbox.run("print(outliers.count())").observation()
    # A count of the kept rows, or of a mask that keeps them all: nothing to say.
    assert sandbox.run("print(len(x[outliers]), outliers.sum())").observation() == "1 1"
    assert sandbox.run("every = x > 0\nprint(len(every))").observation() == "4"


def test_a_silent_cell_shows_the_values_its_earlier_lines_computed(sandbox):
    # The 1.5B computed a mean, a median and a deviation on three lines, saw only the
    # deviation, and answered with a mean it never saw.
    cell = "m = 10.5\nmed = 9.8\nsd = 2.34"
    assert sandbox.run(cell).observation() == "m = 10.5\nmed = 9.8\nsd = 2.34"
    # Only short values: not a table, a function or a long list; a name set twice shows
    # its final value once.
    cell = "t = load('orders')\nf = lambda x: x\nxs = list(range(99))\nk = 1\nk = len(t)\nz = 0"
    assert sandbox.run(cell).observation() == "k = 5319\nz = 0"
    # A statistic per group, in a few lines, is short too (the mean and median per class
    # computed before the deviation); one of more lines is not.
    cell = (
        "import pandas as pd\n"
        "fare = pd.DataFrame({'c': [1, 1, 2, 3], 'f': [10.0, 30.0, 14.0, 8.0]}).groupby('c').f\n"
        "means = fare.mean()\nmany = pd.Series(range(15))\nmedians = fare.median()\n"
        "sds = fare.std(ddof=0)"
    )
    out = sandbox.run(cell).observation()
    series = "c\n1    {}\n2    {}\n3     {}\nName: f, dtype: float64"
    assert out == "\n".join(
        [
            "means =\n" + series.format("20.0", "14.0", "8.0"),
            "medians =\n" + series.format("20.0", "14.0", "8.0"),
            "sds =\n" + series.format("10.0", " 0.0", "0.0"),
        ]
    ), out
    # The latest six of them.
    cell = "\n".join(f"v{i} = {i}" for i in range(9)) + "\nlast = -1"
    shown = [f"v{i} = {i}" for i in range(3, 9)] + ["last = -1"]
    assert sandbox.run(cell).observation() == "\n".join(shown)
    # A cell ending in a call that returns None is silent too.
    assert sandbox.run("q = 3\n[].clear()").observation() == "q = 3"
    # Names in a loop or a function body are not the cell's own lines.
    assert sandbox.run("for i in range(3):\n    j = i").observation() == "(no output)"
    # The last line's value comes first: earlier values take only the room and the time
    # it leaves, and one slow repr hides only itself.
    wide = "".join(f"coefficients_{i} = [{', '.join(['0.123457'] * 11)}]\n" for i in range(6))
    assert sandbox.run(wide + "answer = 0.25").observation().endswith("\nanswer = 0.25")
    slow = "import time\nclass Lazy:\n    def __repr__(self):\n        time.sleep(3)\n"
    out = sandbox.run(slow + "q = Lazy()\nn = 2\nanswer = 0.25")
    assert out.observation() == "n = 2\nanswer = 0.25"


def test_sql_and_load_see_the_sources(sandbox):
    out = sandbox.run('print(sql("SELECT count(*) AS n FROM orders").n[0])\nload("regions").shape')
    assert out.observation() == "5319\n(4, 3)"


def test_relative_paths_read_the_sources_and_writes_never_reach_them(sandbox):
    before = sha256(SALES)
    r = sandbox.run("import pandas as pd\nlen(pd.read_excel('sales.xlsx'))")
    assert r.observation() == "5319"
    sandbox.run("open('sales.xlsx', 'wb').write(b'x')")  # refused, or root writes the copy
    assert sha256(SALES) == before


def test_errors_come_back_short_with_the_failing_line(sandbox):
    r = sandbox.run("a = 1\nb = a / 0")
    assert not r.ok
    assert "ZeroDivisionError" in r.error and "b = a / 0" in r.error
    assert "da_cli" not in r.error  # the worker's own frames are not shown
    assert "did not run" not in r.error  # the failing line was the last


def test_an_error_says_which_later_lines_of_the_cell_did_not_run(sandbox):
    # After an error at line 13 of 46 the 1.5B's next cell fixed that line alone, and
    # what the lines after it compute was never computed (11 of 66 DABench analyses).
    r = sandbox.run("a = 1\nb = a / 0\nc = 2\n\nfor i in range(2):\n    print(i)")
    assert r.error.endswith(
        "The error stopped the cell at line 2: lines 3-6 did not run, so the next cell must "
        "run them too."
    )
    # Inside a function the cell defines: the line of the cell that called it.
    r = sandbox.run("def f():\n    return 1 / 0\nx = f()\nprint(x)")
    assert r.error.endswith("at line 3: line 4 did not run, so the next cell must run it too.")
    # Before any hint of the error's own, whose line to run stays last.
    r = sandbox.run("t = load('regions')\nkept = t[kept['region'] != 'x']\nprint(len(kept))")
    assert (
        "NameError: name 'kept' is not defined\nThe error stopped the cell at line 2: " in r.error
    )
    assert r.error.endswith("Line 2 with it: kept = t[t['region'] != 'x']"), r.error


def test_a_misplaced_column_error_says_which_tables_have_it(sandbox):
    r = sandbox.run('sql("SELECT channel FROM products")')
    assert "The column channel is in: orders.channel." in r.error
    # On the wrong alias: the alias the query gives the table that has it.
    r = sandbox.run('sql("SELECT p.category, AVG(p.revenue) FROM orders o JOIN products p ON '
                    'o.product = p.product GROUP BY 1")')  # fmt: skip
    assert r.error.endswith(
        "The column revenue is in: orders.revenue. In this query orders is o: o.revenue."
    ), r.error
    r = sandbox.run('sql("SELECT p.list_prise FROM products p")')
    assert "No table has a column list_prise. Similar columns: products.list_price," in r.error
    # A column no table has, on an alias: the columns of the table the alias stands for.
    r = sandbox.run('sql("SELECT p.name, COUNT(*) FROM orders o JOIN products AS p ON '
                    'o.product = p.product GROUP BY p.name")')  # fmt: skip
    assert r.error.endswith(
        "No table has a column name. The columns of products (p) are: product, category, "
        "list_price, launch_date."
    )
    r = sandbox.run('sql("SELECT orders.name FROM orders")')
    assert r.error.endswith("The columns of orders are: order_id, order_date, "
                            "region, product, channel, units, unit_price, revenue.")  # fmt: skip


def test_a_missing_table_error_names_the_datas_tables_not_duckdbs(sandbox):
    # A table copied from the prompt's worked example: DuckDB would suggest "pg_enum".
    r = sandbox.run('sql("SELECT count(*) FROM agents")')
    assert "Table with name agents does not exist!" in r.error
    assert "pg_" not in r.error
    assert r.error.endswith("The tables are: orders, products, regions.")
    # A suggestion that is one of the data's tables stays.
    r = sandbox.run('sql("SELECT count(*) FROM product")')
    assert 'Did you mean "products"?\nThe tables are: orders' in r.error


def test_a_cell_written_in_sql_is_shown_how_it_runs(sandbox):
    query = "SELECT region, COUNT(*) AS n -- per region\n  FROM orders\n  GROUP BY region;"
    r = sandbox.run(query)
    assert r.error.startswith("SyntaxError")
    # Its lines as written: joined, the comment would swallow the rest of the query.
    hint = 'print(sql("""\n' + query.rstrip(";") + '\n"""))'
    assert r.error.endswith(f"This cell is SQL, not Python: run it as {hint}.")
    assert sandbox.run(hint).ok  # the suggestion runs as written
    r = sandbox.run("   SELECT COUNT(*) FROM orders")  # indented: "unexpected indent"
    assert r.error.endswith('run it as print(sql("""SELECT COUNT(*) FROM orders""")).')
    r = sandbox.run('SELECT COUNT(*) FROM "orders"')  # a closing quote ends the string early
    hint = r.error.split("run it as ", 1)[1].removesuffix(".")
    assert hint == 'print(sql("""\nSELECT COUNT(*) FROM "orders"\n"""))'
    assert sandbox.run(hint).ok
    r = sandbox.run("SELECT 1 FROM orders; SELECT 2 FROM orders")  # two: no one line to copy
    assert r.error.endswith('run a query as print(sql("""SELECT ...""")).')
    r = sandbox.run("CREATE TABLE agents (agent_id BIGINT, name VARCHAR)")
    assert r.error.endswith("the data is read-only: query the tables as they are, with "
                            'print(sql("SELECT ...")).')  # fmt: skip
    # What DuckDB cannot parse is not SQL: Python with a syntax error whatever word it
    # starts with, prose, or a query with Python after it.
    for cell in (
        "with open('x') as f\n    pass",
        "select = [1, 2\nprint(select)",
        "Select the rows from the table where sales rise",
        "SELECT region FROM orders\nprint(df.head())",
    ):
        r = sandbox.run(cell)
        assert r.error.startswith("SyntaxError") and "SQL" not in r.error


def test_an_api_the_library_removed_is_named_with_what_replaced_it(sandbox):
    frame = "t = pd.DataFrame({'x': [1, 2, 3], 'y': [2, 4, 7], 'city': ['a', 'b', 'c']})\n"
    for call in ("t.corr()", "t.mean()"):
        r = sandbox.run(frame + f"print({call})")
        name = call[2:-2]
        assert r.error.endswith(
            f"DataFrame.{name}() does not skip text columns (pandas 2.0 and later): pass "
            "numeric_only=True, or choose the numeric columns."
        ), r.error
        assert sandbox.run(frame + f"print(t.{name}(numeric_only=True))").ok
    r = sandbox.run(frame + "t.city.astype(float)")  # not a DataFrame-wide statistic
    assert "could not convert" in r.error and "numeric_only" not in r.error
    # scikit-learn 1.6 removed squared=; the call small models learned still gives the root
    # (the 1.5B, told what replaced it, went back to mean_squared_error and called its MSE
    # the RMSE).
    rmse = "from sklearn.metrics import mean_squared_error\nmean_squared_error([1, 2], [1, 4]"
    r = sandbox.run(rmse + ", squared=False)")
    aside = "(no squared= since scikit-learn 1.6: ran root_mean_squared_error)\n"
    assert r.ok and r.output == aside and r.value == str(2**0.5), r
    assert r.observation() == aside + str(2**0.5)
    r = sandbox.run(rmse.replace("[1, 4]", "[1, 4],\n") + "squared=True)")  # over two lines
    assert r.output == "" and r.value == "2.0", r
    msle = "import sklearn.metrics as m\nm.mean_squared_log_error([1, 2], [1, 4], squared=False)"
    r = sandbox.run(msle)
    assert r.output == "(no squared= since scikit-learn 1.6: ran root_mean_squared_log_error)\n"
    assert float(r.value) == pytest.approx(abs(math.log(3 / 5)) / 2**0.5)
    r = sandbox.run("def f(a): pass\nf(1, squared=False)")  # only scikit-learn's
    assert "TypeError" in r.error and "squared" in r.error
    # A pattern .str.replace() reads as plain text since pandas 2.0, found when the
    # conversion after it fails (the 1.5B strips "[...]" this way three times in a row).
    cases = "c = pd.Series(['630308[495000]', '12[3]'])\n"
    r = sandbox.run(cases + "c.str.replace('[\\[\\]]', '').astype(int)")
    assert r.error.endswith(
        "str.replace() matched '[\\[\\]]' as plain text (regex=False is the default since "
        "pandas 2.0): pass regex=True to use it as a regular expression."
    ), r.error
    assert sandbox.run(cases + "c.str.replace('[\\[\\]]', '', regex=True).astype(int)").ok
    for cell in ("c.str.replace('[', '').astype(int)", "c.str.replace('0', '').astype(int)"):
        assert "regex=True" not in sandbox.run(cases + cell).error  # plain text either way


def test_a_date_or_time_read_as_a_number_is_told_how_pandas_reads_it(sandbox):
    # The 1.5B took the hour of "7:13 PM" with a regular expression and int(), stripped the
    # colon and tried again ("713 PM"), until the loop stopped it.
    times = "import pandas as pd\nt = pd.Series(['7:13 PM', '11:02 AM'])\n"
    said = "is a date or a time of day, not a number: pd.to_datetime(column, format='mixed')"
    for cell, text in (
        ("t.str.extract(r'(\\d{1,2}:\\d{2})')[0].astype(int)", "'7:13'"),
        ("t.str.replace(':', '').astype(int)", "'713 PM'"),
        ("pd.to_numeric(t)", "'7:13 PM'"),
        ("float('2014-09-17')", "'2014-09-17'"),
    ):
        r = sandbox.run(times + cell)
        assert f"{text} {said}" in r.error, r.error
    hour = sandbox.run(times + "print(pd.to_datetime(t, format='mixed').dt.hour.tolist())")
    assert hour.observation() == "[19, 11]"
    for other in ("int('male')", "float('null')"):  # not a date: nothing to add
        assert "pd.to_datetime" not in sandbox.run(other).error


def test_columns_picked_with_a_tuple_get_the_line_with_a_list(sandbox):
    # pandas 2 refuses `g["a", "b"]` ("Use a list instead"); the 1.5B wrote it again until
    # its budget ran out.
    frame = (
        "import pandas as pd\nt = pd.DataFrame({'k': [1, 1, 2], 'a': [1, 2, 3], 'b': [4, 5, 6]})\n"
    )
    r = sandbox.run(frame + "s = t.groupby('k')['a', 'b'].sum()\nprint(s)")
    assert r.error.endswith("Line 3 with it: s = t.groupby('k')[['a', 'b']].sum()"), r.error
    assert sandbox.run(frame + "s = t.groupby('k')[['a', 'b']].sum()").ok
    assert "with it" not in sandbox.run(frame + "int('x')").error


def test_a_library_used_without_its_import_gets_the_import(sandbox):
    # Told only "name 'scipy' is not defined", the 1.5B tried `!pip install scipy`, pip in a
    # subprocess and a virtual environment until its budget ran out.
    cell = "x = [1, 2, 3]\nslope = scipy.stats.linregress(x, [2, 4, 7]).slope\nprint(slope)"
    r = sandbox.run(cell)
    assert "NameError: name 'scipy' is not defined\n" in r.error
    assert r.error.endswith(
        "\nThe cell did not import scipy; it is installed: import scipy.stats first.\n"
        "Line 2 with it: import scipy.stats; slope = scipy.stats.linregress(x, [2, 4, 7]).slope"
    ), r.error
    r = sandbox.run("for v in [1]:\n    plt.plot([v])")  # an alias, inside a loop
    assert r.error.endswith(
        "The cell did not import plt; it is installed: import matplotlib.pyplot as plt first."
        "\nLine 2 with it: import matplotlib.pyplot as plt; plt.plot([v])"
    ), r.error
    r = sandbox.run("w, p = shapiro([1, 2, 4, 8])")  # a function called bare
    assert r.error.endswith(
        "The cell did not import shapiro; it is installed: from scipy.stats import shapiro "
        "first.\nLine 1 with it: from scipy.stats import shapiro; w, p = shapiro([1, 2, 4, 8])"
    ), r.error
    r = sandbox.run("if True: print(scipy.stats)")  # no line: the import cannot go first
    assert r.error.endswith("import scipy.stats first."), r.error
    # A name that is no library: the error as it was.
    assert sandbox.run("print(undefined_thing)").error.endswith(
        "NameError: name 'undefined_thing' is not defined"
    )


def test_a_shell_line_is_told_nothing_installs_and_gets_the_import(sandbox):
    r = sandbox.run("!pip install scipy\nimport pandas as pd")
    assert r.error.endswith(
        "Lines that start with ! or % are shell or notebook commands, which do not run here, "
        "and nothing can be installed: the cell is plain Python. scipy is installed.\n"
        "Line 1 with it: import scipy"
    ), r.error
    r = sandbox.run("%matplotlib inline\nx = 1")
    assert r.error.endswith("the cell is plain Python."), r.error
    r = sandbox.run("!pip install no-such-package-here")
    assert r.error.endswith("the cell is plain Python."), r.error


def test_a_groupby_after_the_columns_that_drop_its_key_gets_the_line_grouping_first(sandbox):
    # `df[['Fare']].groupby('Pclass')` raises only KeyError: 'Pclass'; the 1.5B read it as
    # the table lacking Pclass and wrote the line again until its budget ran out.
    frame = (
        "import pandas as pd\nt = pd.DataFrame({'k': [1, 1, 2], 'a': [1, 2, 3], 'b': [4, 5, 6]})\n"
    )
    r = sandbox.run(frame + "s = t[['a']].groupby('k')['a'].agg(['mean', 'std'])")
    assert r.error.endswith(
        "KeyError: 'k'\nt[['a']] keeps only those columns, so 'k' is not there to group by: "
        "group first, then pick the columns.\n"
        "Line 3 with it: s = t.groupby('k')['a'].agg(['mean', 'std'])"
    ), r.error
    r = sandbox.run(frame + "s = t[['a', 'b']].groupby(by='k').sum()")
    assert r.error.endswith("Line 3 with it: s = t.groupby(by='k')[['a', 'b']].sum()"), r.error
    assert sandbox.run(frame + "s = t.groupby(by='k')[['a', 'b']].sum()").ok
    # The key picked, or a key no table has: not this mistake.
    r = sandbox.run(frame + "t[['a', 'k']].groupby('z')")
    assert "group first" not in r.error and r.error.splitlines()[-1] != "", r.error


def test_an_aggregate_over_every_grouped_column_is_told_to_pick_the_column_first(sandbox):
    # The 1.5B read "datetime64 type does not support operation 'sum'" as its weight column
    # holding text, converted it three times, and answered a made-up origin.
    frame = (
        "import pandas as pd\nt = pd.DataFrame({'origin': ['a', 'b', 'a'], 'w': [1.0, 2, 3], "
        "'at': pd.to_datetime(['2020-01-01'] * 3), 'note': ['x', 'y', 'z']})\n"
    )
    r = sandbox.run(frame + "total = t.groupby('origin').sum()['w']")
    assert r.error.endswith(
        "TypeError: datetime64 type does not support operation 'sum'\n.sum() after groupby() "
        "runs over every column, and a date or text column cannot take it: pick the column "
        "first.\nLine 3 with it: total = t.groupby('origin')['w'].sum()"
    ), r.error
    r = sandbox.run(frame + "print(t.drop(columns='at').groupby('origin').mean()[['w']])")
    assert "Line 3 with it: print(t.drop(columns='at').groupby('origin')[['w']].mean())" in r.error
    assert sandbox.run(frame + "print(t.groupby('origin')['w'].sum().tolist())").ok
    # A column picked first that cannot take it is another error: nothing to rewrite.
    assert "pick the column" not in sandbox.run(frame + "t.groupby('origin')['note'].mean()").error


def test_a_name_used_before_the_cell_assigns_it_says_where_it_is_assigned(sandbox):
    # The 1.5B wrote a split like this three times, unchanged, after the bare NameError
    # (in the order it meant, the sandbox now runs it: the test below).
    split = "test, train = df.drop(train.index), df.sample(frac=0.5, random_state=1)"
    r = sandbox.run("df = load('regions')\n" + split)
    assert r.error.endswith(
        "NameError: name 'train' is not defined\ntrain is assigned by this same statement, "
        "whose right side runs first: assign train on a line of its own before the line "
        "that uses it."
    ), r.error
    fixed = "train = df.sample(frac=0.5, random_state=1)\ntest = df.drop(train.index)"
    assert sandbox.run("df = load('regions')\n" + fixed).ok
    r = sandbox.run("x = 1\nif x:\n    print(total_sales)\ntotal_sales = 3")
    assert r.error.endswith(
        "total_sales is assigned later in this cell, on line 4: move that first."
    )
    # A filter of one table written with the name it is assigned to means that table: the
    # 1.5B, told to assign the name on a line of its own first, answered a made-up total.
    r = sandbox.run("t = load('regions')\nkept = t[kept['region'] != 'x']\nprint(len(kept))")
    assert r.error.endswith(
        "kept is assigned by this line, so it does not exist yet: the condition inside t[...] "
        "tests t's own columns.\nLine 2 with it: kept = t[t['region'] != 'x']"
    ), r.error
    r = sandbox.run("print(never_made)")  # assigned nowhere: nothing to add
    assert r.error.endswith("NameError: name 'never_made' is not defined"), r.error


def test_a_line_whose_later_value_reads_a_name_it_assigns_runs_one_value_after_another(
    sandbox,
):
    # The 1.5B's split: Python computes the whole right side first and fails on `train`;
    # told so, it wrote the same line until its budget ran out.
    frame = "t = pd.DataFrame({'x': range(10)})\n"
    split = "train, test = t.sample(frac=0.7, random_state=0), t.drop(train.index)\n"
    r = sandbox.run(frame + split + "print(len(train), len(test), set(train.x) & set(test.x))")
    aside = "(assigned train, then test: a later value reads an earlier name)\n"
    assert r.ok and r.output == aside + "7 3 set()\n", r.output
    r = sandbox.run(frame + "low, high = t.x.min(), low + 10")  # a silent cell shows both
    assert r.observation().endswith("low = 0\nhigh = 10"), r.observation()
    # A name already defined keeps Python's meaning: the right side first.
    r = sandbox.run("a, b = 1, 2\na, b = b, a\nprint(a, b)")
    assert r.output == "2 1\n", r.output
    r = sandbox.run("x = 5\nx, y = 1, x + 1\nprint(x, y)")
    assert r.output == "1 6\n", r.output
    # An error in a value still names the cell's own line.
    r = sandbox.run("p, q = 1, p / 0")
    assert r.error.endswith("line 1: p, q = 1, p / 0\nZeroDivisionError: division by zero"), r.error


def test_a_test_result_unpacked_into_names_that_say_otherwise_gets_them_as_named(sandbox):
    # The 1.5B unpacked kstest's (statistic, pvalue) as (p-value, decision), printed the
    # statistic as the p-value and called the data normal; warned, it did so again.
    frame = "from scipy import stats\nx, y = [1, 2, 3, 4, 6], [2, 3, 5, 4, 7]\n"
    r = sandbox.run(
        frame + "ks_p_value, decision = stats.kstest(x, 'norm')\nprint(f\"{ks_p_value:.5f}\")"
    )
    assert r.ok and r.output == (
        "(KstestResult is (statistic, pvalue): gave ks_p_value its pvalue and decision its "
        "statistic, as the names say)\n0.00020\n"
    ), r.output
    # A silent cell still shows what it assigned: the aside is not output.
    r = sandbox.run(frame + "p, r = stats.pearsonr(x, y)")
    assert "gave p its pvalue and r its statistic, as the names say" in r.output
    shown = r.observation().splitlines()[-2:]
    assert shown[0].startswith("p = 0.0208") and shown[1].startswith("r = 0.932"), shown
    r = sandbox.run(frame + "p_value, _ = stats.pearsonr(x, y)\nprint(round(p_value, 4), _ > 0.9)")
    assert r.output.endswith("\n0.0209 True\n"), r.output
    # Names that do not say one order are left as written, with a warning.
    r = sandbox.run(frame + "p_value, p = stats.shapiro(x)\nprint(p_value > 0.5)")
    assert r.ok and r.output == (
        "<cell 4>:3: UnpackingWarning: ShapiroResult is (statistic, pvalue), in that order: "
        "p_value gets its statistic, p gets its pvalue.\n"
        "  p_value, p = stats.shapiro(x)\n"
        "True\n"
    ), r.output
    # Names that agree with the fields, or say nothing of them, are left alone.
    for names, call in [
        ("stat, p", "shapiro(x)"),
        ("t_stat, p_val", "ttest_ind(x, y)"),
        ("correlation, p_value", "pearsonr(x, y)"),
        ("slope, intercept, r_value, p_value, std_err", "linregress(x, y)"),
        ("chi2, p, dof, expected", "chi2_contingency([[1, 2], [3, 4]])"),
    ]:
        r = sandbox.run(frame + f"{names} = stats.{call}")
        assert r.ok and "Warning" not in r.output, (names, r.output)
    # A failing call keeps its own error and line.
    r = sandbox.run(frame + "s, p = stats.pearsonr(x, [1])")
    assert r.error.startswith("Traceback (most recent call last):\n  line 3: s, p = stats.pearsonr")


def test_a_printed_nan_names_the_arguments_that_hold_missing_values(tmp_path):
    # scipy's tests return nan for data with any missing value, pandas' methods skip them:
    # the 1.5B printed a Shapiro-Wilk p-value of nan and called the column not normal.
    csv = tmp_path / "cov.csv"
    rows = [f"{i % 7 if i % 5 else ''},{i},g{i % 2}" for i in range(40)]
    csv.write_text("cov,n,g\n" + "\n".join(rows) + "\n")
    with Sandbox(build_catalog([str(csv)]), tmp_path / "ws", Limits(timeout_s=20)) as sb:
        r = sb.run("from scipy import stats\nprint(stats.shapiro(df['cov']).pvalue)")
        assert r.ok and r.output.strip() == "nan"
        note = "nan: df['cov'] has 8 missing values (of 40 rows). scipy and numpy give nan"
        assert r.observation().startswith("nan\n" + note), r.observation()
        assert "pass df['cov'].dropna()" in r.observation()
        # A column of a subset is counted over its table; a bound Series by itself.
        r = sb.run("x = df[df['g'] == 'g1']['cov']\nprint(stats.ttest_ind(x, df['n']).pvalue)")
        assert "x has 4 missing values (of 20 rows)" in r.observation()
        assert "df['n']" not in r.observation()  # it has none
        # Without a nan in the output, or with the values dropped, there is no note.
        assert r.note is not None
        for code in (
            "print(stats.shapiro(df['cov'].dropna()).pvalue > 0)",
            "print(df['cov'].mean())",
        ):
            assert sb.run(code).note is None, code
        assert sb.run("print('dropna nanmean')").note is None
        # A table printed with its own NaN, or a pandas method, is no call that propagates.
        shown = "t = pd.DataFrame({'std': [1.5, float('nan')]})\nprint(t)"
        assert "NaN" in sb.run(shown).output and sb.run("print(t)").note is None
        assert sb.run("import numpy as np\nprint(np.corrcoef(df['cov'], df['n'])[0, 1])").note
        # Nothing left to drop: the conversion before turned every value into a missing one.
        r = sb.run("df['q'] = pd.to_numeric(df['g'], errors='coerce')\nprint(np.mean(df['q']))")
        assert r.note == (
            "nan: df['q'] has 40 missing values (of 40 rows): df['q'] has no values at all; the "
            "step that made it turned every value into a missing one (look at a few of the "
            "values it came from)."
        ), r.note


def test_one_table_is_ready_as_df_and_a_wrong_path_says_what_is_here(tmp_path):
    csv = tmp_path / "trips.csv"
    csv.write_text("city,fare\nOslo,3.5\nParis,4.5\n")
    with Sandbox(build_catalog([str(csv)]), tmp_path / "ws", Limits(timeout_s=5)) as sb:
        assert sb.run("print(df.fare.sum())").observation() == "8.0"
        assert sb.run("len(data)").observation() == "2"
        r = sb.run("import pandas as pd\npd.read_csv('trips.xlsx')")
        assert "FileNotFoundError" in r.error
        assert "Files in the working directory: trips.csv." in r.error
        assert 'load("trips")' in r.error
        assert sb.run("df = 5\ndf + 1").observation() == "6"  # the model's own df wins


def test_a_table_name_means_a_table_only_when_one_is_spelled_so():
    from da_cli.sandbox.forgiving import table_meant

    tables = ["orders", "продажи", "t_2019"]
    assert table_meant("Продажи.csv", tables) == "продажи"
    assert table_meant("2019.csv", tables) == "t_2019"  # da's name for a digit-first file
    for name in ("клиенты", "", "...", "order"):  # nothing, or another word
        assert table_meant(name, tables) == name
    assert table_meant("a-b", ["a_b", "A_B"]) == "a-b"  # two alike: none is meant


def test_a_table_or_column_a_small_model_guessed_is_answered_with_the_real_ones(tmp_path):
    csv = tmp_path / "happiness.2019.csv"
    csv.write_text("Country,Economy (GDP per Capita),Score\nOslo,1.5,7.5\nRome,1.2,6.2\n")
    with Sandbox(build_catalog([str(csv)]), tmp_path / "ws", Limits(timeout_s=5)) as sb:
        [table] = sb.run("print(TABLES[0])").output.split()
        assert table != "happiness.2019"  # the file's own name is not a table name
        for name in ("happiness.2019", "happiness.2019.csv", "Happiness 2019"):
            r = sb.run(f"t = load({name!r})\nprint(len(t))")
            assert r.ok and r.output.splitlines()[-1] == "2", r.error
            assert f'(no table "{name}": loaded "{table}")' in r.output
        assert "no table 'sales'" in sb.run("load('sales')").error  # nothing like it
        r = sb.run("t = load(TABLES[0])\nt[['GDP per Capita', 'Score']]")
        assert r.error.endswith(
            "Columns close to 'GDP per Capita': 'Economy (GDP per Capita)' (in t)."
        ), r.error
        r = sb.run("t['TotalIncome'].mean()")  # a column the model never made
        assert r.error.endswith("The columns of t are: Country, Economy (GDP per Capita), Score.")
        # Not about columns: a dict's KeyError (also inside pandas), a row label.
        r = sb.run("{'a': 1}['b']")
        assert r.error.endswith("KeyError: 'b'")
        r = sb.run("m = {'Oslo': 1}\nt.Country.map(lambda c: m[c])")
        assert r.error.endswith("KeyError: 'Rome'")
        r = sb.run("t.set_index('Country').loc['Paris']")  # a row's: its labels, no columns
        assert r.error.endswith(
            "KeyError: 'Paris'\nt.set_index('Country') has no label 'Paris'; its labels are: "
            "'Oslo', 'Rome'."
        ), r.error
        r = sb.run("t[['Sorce']]")  # pandas 3 names the dtype, 'str', in the message
        assert r.error.endswith("Columns close to 'Sorce': 'Score' (in t)."), r.error
        r = sb.run("p = pd.DataFrame({2019: [1], 2020: [2]})\np['2019']")
        assert r.error.endswith("The column is 2019, not '2019'.\nLine 2 with it: p[2019]")
        # A name the question spelled its own way, the one column it matches but for case,
        # spaces and punctuation: df[...] takes it and says so; elsewhere the error says
        # which column it is, with the failing line mended, to copy.
        sb.run("w = pd.DataFrame({'wind speed': [1.0, 3.0], 'avg. wait time': [2.0, 4.0]})")
        r = sb.run("print(w['Wind_Speed'].sum() + w[['wind_speed', 'avg wait time']].sum().sum())")
        assert r.ok and r.output.splitlines() == [
            '(no column "Wind_Speed": used "wind speed")',
            '(no column "wind_speed": used "wind speed")',
            '(no column "avg wait time": used "avg. wait time")',
            "14.0",
        ], r.output
        r = sb.run("total = w['Wind_Speed'].sum()")  # silent: what it assigned still shows
        assert r.observation() == '(no column "Wind_Speed": used "wind speed")\ntotal = 4.0'
        r = sb.run("w.dropna(subset=['Avg wait time'])")
        assert r.error.endswith(
            "KeyError: ['Avg wait time']\nThe column is 'avg. wait time', not 'Avg wait time'."
            "\nLine 1 with it: w.dropna(subset=['avg. wait time'])"
        ), r.error
        assert "Columns close" in sb.run("w['wind']").error  # a part of a name: no guess
        # A column of another table the cell loaded: told "The column is 'mode', not
        # 'mode'.", the 1.5B ran the same cell again until the loop stopped it.
        sb.run(
            "s = pd.DataFrame({'carrier_id': [1], 'cost': [2.0]})\n"
            "c = pd.DataFrame({'carrier_id': [1], 'mode': ['road']})"
        )
        r = sb.run("s[s['mode'] == 'road']")
        assert r.error.endswith(
            "KeyError: 'mode'\ns has no column 'mode': it is a column of c. Merge it in on their "
            "shared column, then run line 1 as it is:\ns = s.merge(c, on='carrier_id')"
        ), r.error
        # Of several DataFrames, the one pandas looked in is the one whose columns are listed.
        r = sb.run(
            "g = s.groupby('carrier_id')['cost'].sum().reset_index()\ng.sort_values('total')"
        )
        assert r.error.endswith("KeyError: 'total'\nThe columns of g are: carrier_id, cost.")
        # A merge of two tables that both have the column keeps both, suffixed.
        r = sb.run("m = s.merge(g, on='carrier_id')\nm[m['cost'] > 1]")
        assert r.error.endswith(
            "KeyError: 'cost'\nThe merge kept both tables' 'cost' columns, as 'cost_x' (the left "
            "table's) and 'cost_y' (the right one's): use those, or rename one before merging."
            "\nLine 2 with it: m[m['cost_x'] > 1]"
        ), r.error
        # A hint that cannot be made leaves the cell's own error, and the worker, as they are.
        r = sb.run("class E(KeyError):\n    def __str__(self): return 1\nraise E('x')")
        assert "E" in r.error and sb.run("print(len(t))").output.strip() == "2"


def test_a_column_of_a_table_the_cell_never_loaded_names_that_table(tmp_path):
    # `carriers.groupby('mode')['transit_days']`, a column of `shipments`: pandas says only
    # "Column not found: transit_days", and the 1.5B added a column of zeros to carriers.
    (tmp_path / "carriers.csv").write_text("carrier_id,mode\n1,road\n2,rail\n")
    (tmp_path / "shipments.csv").write_text("shipment_id,carrier_id,transit_days\n1,1,3\n2,2,5\n")
    files = [str(tmp_path / "carriers.csv"), str(tmp_path / "shipments.csv")]
    with Sandbox(build_catalog(files), tmp_path / "ws", Limits(timeout_s=10)) as sb:
        r = sb.run("carriers = load('carriers')\ncarriers.groupby('mode')['transit_days'].mean()")
        assert r.error.endswith(
            "KeyError: 'Column not found: transit_days'\ncarriers has no column 'transit_days': "
            "the table shipments has it (load('shipments')). Merge it in on their shared "
            "column, then run line 2 as it is:\n"
            "carriers = carriers.merge(load('shipments'), on='carrier_id')"
        ), r.error
        r = sb.run("carriers.groupby('mode')[['transit_days', 'carrier_id']].mean()")
        assert "the table shipments has it" in r.error, r.error
        r = sb.run("carriers['speed']")  # no table has it: the frame's own columns
        assert r.error.endswith("The columns of carriers are: carrier_id, mode."), r.error


@contextmanager
def _one_table(tmp_path: Path, name: str, text: str):
    """A sandbox over one CSV of `text`, loaded as df."""
    csv = tmp_path / name
    csv.write_text(text)
    with Sandbox(build_catalog([str(csv)]), tmp_path / "ws", Limits(timeout_s=30)) as sb:
        sb.run("df = load(TABLES[0])")
        yield sb


def test_a_row_label_pandas_did_not_find_is_answered_with_the_labels_there_are(tmp_path):
    text = 'Name,Fare,Age,Pclass\n"Braund, Mr. Owen",7.25,22,3\n"Cumings, Mrs. J",71.3,38,1\n'
    with _one_table(tmp_path, "titanic.csv", text) as sb:
        # pandas 3 reads [0] as a label: statsmodels labels its coefficients by name.
        r = sb.run(
            "from statsmodels.api import OLS\n"
            "results = OLS(df['Fare'], df[['Age', 'Pclass']]).fit()\n"
            "print(results.params[0])"
        )
        assert r.error.endswith(
            "KeyError: 0\nresults.params has no label 0; its labels are: 'Age', 'Pclass'. "
            "By position: results.params.iloc[0]."
        ), r.error
        r = sb.run("means = df.groupby('Name')['Fare'].mean()\nprint(means.loc['Mr.'])")
        assert r.error.endswith(
            "means has no label 'Mr.'; its labels are: 'Braund, Mr. Owen', 'Cumings, Mrs. J'."
        ), r.error
        r = sb.run("means = means[means > 1000]\nprint(means.loc['Mr.'], means.loc['x'])")
        assert r.error.endswith(
            "KeyError: 'Mr.'\nmeans is empty: the steps that made it kept no rows."
        )
        r = sb.run("for k in [0]:\n    print(df['Fare'][df['Fare'] > 10][k])")  # no one text
        assert r.error.endswith(
            "The Series has no label 0; its labels are: 1. By position: .iloc[0] in place of [0]."
        )
        # A table's first row's first value, written .iloc[0][0]: both positions in one.
        r = sb.run("total = sql('SELECT sum(Fare) FROM titanic').iloc[0][0]")
        assert r.error.endswith(
            "its labels are: 'sum(Fare)'. By position: .iloc[0, 0] (row 0, column 0)."
        ), r.error
        assert sb.run("df.loc[5]").error.endswith("df has no label 5; its labels are: 0, 1.")
        r = sb.run("df.dropna(subset=['fare'])")  # pandas raises the list of names it lacks
        assert r.error.endswith(
            "KeyError: ['fare']\nThe column is 'Fare', not 'fare'.\n"
            "Line 1 with it: df.dropna(subset=['Fare'])"
        )


def test_a_position_in_something_empty_names_the_empty_table_and_the_values_there_are(tmp_path):
    text = (
        "timestamp,answered\nApr 13 2017 8:00:00 AM,5\nApr 13 2017 8:15:00 AM,7\n"
        "Apr 13 2017 8:30:00 AM,2\nApr 13 2017 8:45:00 AM,4\nApr 13 2017 9:00:00 AM,6\n"
    )
    with _one_table(tmp_path, "calls.csv", text) as sb:
        # The 1.5B's cell, eight times: a value in another format than the column's.
        r = sb.run(
            "stamp = '20170413_080000'\nrow = df[df['timestamp'] == stamp]\n"
            "print(row['answered'].values[0])"
        )
        assert r.error.endswith(
            "IndexError: index 0 is out of bounds for axis 0 with size 0\n"
            "row is empty: the steps that made it kept no rows. No df['timestamp'] equals "
            "'20170413_080000'; its values are like: 'Apr 13 2017 8:00:00 AM', "
            "'Apr 13 2017 8:15:00 AM', 'Apr 13 2017 8:30:00 AM', 'Apr 13 2017 8:45:00 AM' "
            "(5 in all)."
        ), r.error
        r = sb.run("big = df.loc[df['answered'] > 100]\nbig.iloc[0]")  # no value to show
        assert r.error.endswith(
            "out-of-bounds\nbig is empty: the steps that made it kept no rows."
        ), r.error
        # A cell that ran: its filter kept nothing, so its correlation is nan.
        r = sb.run("late = df[df['timestamp'] == 'Apr 14']\nprint(late['answered'].mean())")
        assert r.ok and r.note == (
            "late is empty: the steps that made it kept no rows. No df['timestamp'] equals "
            "'Apr 14'; its values are like: "
            "'Apr 13 2017 8:00:00 AM', 'Apr 13 2017 8:15:00 AM', 'Apr 13 2017 8:30:00 AM', "
            "'Apr 13 2017 8:45:00 AM' (5 in all)."
        ), r.note
        assert sb.run("some = df[df['answered'] == 7]\nprint(len(some))").note is None
        r = sb.run("[1, 2][5]")  # not a table's: the error as it was
        assert r.error.endswith("IndexError: list index out of range")
        r = sb.run("df['answered'].values[9]")  # not empty
        assert r.error.endswith("index 9 is out of bounds for axis 0 with size 5")


def test_arithmetic_on_a_table_with_a_text_column_names_its_number_column(tmp_path):
    # The 1.5B divided a count per channel, reset to a table, by a total; told only the
    # dtype, it cast an id to int and failed the same way.
    text = "channel,status,order_id\nWeb,cancelled,1\nWeb,done,2\nStore,cancelled,3\n"
    with _one_table(tmp_path, "orders.csv", text) as sb:
        r = sb.run(
            "per = df[df['status'] == 'cancelled'].groupby('channel')['order_id'].count()"
            ".reset_index()\nshare = (per / len(df)) * 100"
        )
        assert r.error.endswith(
            "per has the text column channel: arithmetic takes its number columns, here "
            "per['order_id'].\nLine 2 with it: share = (per['order_id'] / len(df)) * 100"
        ), r.error
        r = sb.run("d = df.assign(t=pd.to_datetime('2020-01-01'))[['t', 'order_id']]\nx = d / 2")
        assert r.error.endswith(
            "d has the non-number column t: arithmetic takes its number columns, here "
            "d['order_id'].\nLine 2 with it: x = d['order_id'] / 2"
        ), r.error
        r = sb.run("df['w'] = 1.0\nx = 100 - df")
        assert r.error.endswith(
            "df has the text columns channel, status: arithmetic takes its number columns "
            "(order_id, w)."
        ), r.error


def test_a_format_given_a_series_says_what_it_is_and_how_to_make_one_number(tmp_path):
    # The 1.5B took a row (.iloc[0]) for an average, cast it to float four times, failed the
    # same way, and answered a number it never saw.
    text = "kwh,temp\n1.5,-2\n2.5,-1\n4.0,3\n"
    with _one_table(tmp_path, "readings.csv", text) as sb:
        r = sb.run("cold = df[df['temp'] < 0]\navg = cold.iloc[0]\nprint(f'{avg:.3f}')")
        assert r.error.endswith(
            "avg is a Series of 2 values, not one number, and a format such as :.2f takes one. "
            "Reduce it to the value the question asks for first (an average is .mean(), a "
            "total .sum() of the column), or take one value with .iloc[0]."
        ), r.error
        r = sb.run("print(f'{cold:.1f}')")
        assert "cold is a table of 2 rows x 2 columns, not one number" in r.error


def test_a_missing_attribute_is_answered_with_what_the_object_is_and_what_gives_it(tmp_path):
    text = "Date,Open,Volume\n2020-01-03,1.5,100\n2020-01-04,2.5,300\n2020-01-05,2.0,250\n"
    cells = {  # what the 1.5B wrote, each until its budget ran out, and what it is told
        "df['Open'].corr(df['Volume']).pvalue": "r, p = pearsonr(x, y) (from scipy.stats "
        "import pearsonr; drop missing values first).",
        # ... with the line mended, which the loop runs if the model writes the cell again.
        "df[['Open', 'Volume']].corr().iloc[0, 1].values": "That is one number already "
        "(float64): use it as it is, without .values.\nLine 1 with it: "
        "df[['Open', 'Volume']].corr().iloc[0, 1]",
        "from scipy.stats import zscore\nzscore(df['Open']).abs()": "That is a numpy array, "
        "not a pandas Series: np.abs(x) or pd.Series(x).abs().\nLine 2 with it: "
        "pd.Series(zscore(df['Open'])).abs()",
        # A method goes with its call; one given arguments is not mended.
        "m = df['Open'].mean()\nprint(m.idxmax())": "That is one number already (float64): "
        "use it as it is, without .idxmax.\nLine 2 with it: print(m)",
        "m = float(df['Open'].mean())\nprint(m.round(2))": "That is one number already "
        "(float): use it as it is, without .round.",
        # Two accesses on the line: which one failed is not known, so no line is given.
        "r = df['Open'].corr(df['Volume'])\nprint(r.values, r.values)": "That is one number "
        "already (float64): use it as it is, without .values.",
        "pd.ttest_ind(df['Open'], df['Volume'])": "ttest_ind is in scipy.stats: from "
        "scipy.stats import ttest_ind.",
        "from scipy.stats import anderson\nanderson(df['Open']).pvalue": "AndersonResult has: "
        "critical_values, fit_result, significance_level, statistic.",
        # scipy given text: which argument, its values, how to take the number (not
        # to_numeric(errors='coerce'), which turns '23.6%' into nothing).
        "from scipy.stats import pearsonr\npct = df['Open'].astype(str) + '%'\n"
        "pearsonr(df['Volume'], pct)": "pct holds text ('1.5%', '2.5%', '2.0%'), not numbers: "
        "take the number out of it first: pct.str.extract(r'([-+]?\\d[\\d,]*\\.?\\d*)')[0]"
        ".str.replace(',', '').astype(float)",
        # A Series of text asked for its own mean or correlation.
        "df['Pct'] = df['Open'].astype(str) + '%'\ndf['Pct'].mean()": "df['Pct'] holds text "
        "('1.5%', '2.5%', '2.0%'), not numbers: take the number out of it first: df['Pct']"
        ".str.extract(r'([-+]?\\d[\\d,]*\\.?\\d*)')[0].str.replace(',', '').astype(float)",
        "df['Open'].corr(df['Pct'])": "df['Pct'] holds text ('1.5%', '2.5%', '2.0%'), not "
        "numbers: take the number out of it first: df['Pct']"
        ".str.extract(r'([-+]?\\d[\\d,]*\\.?\\d*)')[0].str.replace(',', '').astype(float)",
        "df['Volume'].str.replace(',', '')": "That column holds numbers already (it was read "
        "as numbers): use it as it is, without .str; pd.to_numeric is not needed.",
        "df['Date'].astype(str).dt.weekday": "That column holds text, not dates: "
        "pd.to_datetime(column) first, then .dt.",
        # A TIME column comes as datetime.time: neither numbers, text nor dates.
        "import datetime\ndf['At'] = [datetime.time(0, 1, 30)] * 3\ndf['At'].str.split(':')": (
            "That column holds times of day (datetime.time), not text or dates: each has "
            ".hour, .minute and .second; in seconds: column.apply(lambda t: t.hour * 3600 + "
            "t.minute * 60 + t.second)."
        ),
        "df['At'].dt.total_seconds()": "in seconds: column.apply(lambda t: t.hour * 3600 + "
        "t.minute * 60 + t.second).",
        # ... also when the cell names it by a spelling `df[...]` forgives.
        "df['at'].dt.total_seconds()": "in seconds: column.apply(lambda t: t.hour * 3600 + "
        "t.minute * 60 + t.second).",
        "pd.to_datetime(df['Date']).str.len()": "That column holds dates already: use .dt "
        "(column.dt.year), not .str.",
    }
    with _one_table(tmp_path, "prices.csv", text) as sb:
        for cell, hint in cells.items():
            r = sb.run(cell)
            assert r.error.startswith("Traceback") and r.error.endswith(hint), r.error
        # Nothing to say: an object with many attributes, a module nothing else has it in.
        for cell in ("df.fit()", "import math\nmath.nothing_here"):
            assert sb.run(cell).error.splitlines()[-1].startswith("AttributeError"), cell


def test_missing_values_a_model_refused_are_counted_by_column(tmp_path):
    csv = tmp_path / "titanic.csv"
    csv.write_text("Age,Fare,Survived\n22,7.25,0\n,71.3,1\n26,,1\n35,53.1,1\n35,8.05,0\n")
    with Sandbox(build_catalog([str(csv)]), tmp_path / "ws", Limits(timeout_s=30)) as sb:
        sb.run("df = load(TABLES[0])\nfrom sklearn.linear_model import LinearRegression")
        r = sb.run("LinearRegression().fit(df[['Age', 'Fare']], df['Survived'])")
        assert r.error.endswith(
            "ValueError: Input X contains NaN.\nThe X given to fit() has missing values in: "
            "Age (1 of 5 rows), Fare (1 of 5 rows). Drop those rows first (on the columns "
            "used, before splitting, so X and y keep the same rows) or fill them as the "
            "question says."
        ), r.error  # scikit-learn's advice to change the model is cut
        r = sb.run("LinearRegression().fit(df[['Survived']].to_numpy(), df['Age'])")
        assert "The y given to fit() has missing values in: Age (1 of 5 rows)." in r.error
        r = sb.run(
            "from sklearn.metrics import accuracy_score\nd = df.dropna()\n"
            "accuracy_score(d['Survived'], LinearRegression().fit(d[['Age']], d['Survived'])"
            ".predict(d[['Age']]))"
        )
        assert r.error.endswith(
            "make them classes first ((y_pred >= 0.5).astype(int) for 0 "
            "and 1), or fit a classifier."
        )
        r = sb.run("r, p = df[['Age', 'Fare']].corr().iloc[0, 1]")
        assert r.error.endswith(
            "r, p = pearsonr(x, y) (from scipy.stats import pearsonr; drop missing values first)."
        )
        assert sb.run("int('x')").error.endswith(
            "ValueError: invalid literal for int() with base 10: 'x'"
        )


@pytest.mark.parametrize(
    "path", ["path/to/trips 2024.csv", "trips_2024.csv", "data.csv", "/data/Trips-2024.CSV"]
)
def test_a_path_a_small_model_guessed_reads_the_data_file_it_meant(tmp_path, path):
    csv = tmp_path / "trips 2024.csv"
    csv.write_text("city,fare\nOslo,3.5\nParis,4.5\n")
    with Sandbox(build_catalog([str(csv)]), tmp_path / "ws", Limits(timeout_s=5)) as sb:
        r = sb.run(f"import pandas as pd\nprint(pd.read_csv({path!r}).fare.sum())")
        assert r.ok, r.error
        assert r.output.splitlines()[-1] == "8.0"
        assert f'(no file "{path}": read "trips 2024.csv", the data file here)' in r.output


def test_a_guess_that_fits_several_data_files_fails_as_it_would(tmp_path):
    files = [tmp_path / "a.csv", tmp_path / "b.csv"]
    for f in files:
        f.write_text("x\n1\n")
    with Sandbox(build_catalog(list(map(str, files))), tmp_path / "ws", Limits(timeout_s=5)) as sb:
        assert sb.run("import pandas as pd\nprint(len(pd.read_csv('a.csv')))").ok
        r = sb.run("import pandas as pd\npd.read_csv('data.csv')")
        assert "FileNotFoundError" in r.error and "a.csv, b.csv" in r.error


def test_with_several_tables_df_is_the_models_to_define(sandbox):
    r = sandbox.run("df.head()")
    assert "NameError" in r.error
    assert sandbox.run("len(orders)").observation() == "5319"  # tables load by name


@pytest.mark.parametrize(
    "breaker",
    [
        "import os; os.close(1)",
        "import os; os.close(2); os.close(1)",
        "import sys; sys.stdout.close()",
        "import io, sys; sys.stdout = io.StringIO(); sys.stderr = None",
    ],
)
def test_a_cell_cannot_break_the_next_cells_output(sandbox, breaker):
    sandbox.run(breaker)
    assert sandbox.run("print('after')").output == "after\n"
    r = sandbox.run(
        "import sys, os; print('out'); print('err', file=sys.stderr); os.system('echo sh')"
    )
    assert r.output.split() == ["out", "err", "sh"]
    assert sandbox.run("print('again')").output == "again\n"


def test_subprocess_output_is_captured(sandbox):
    assert "from-shell" in sandbox.run("import os; os.system('echo from-shell')").output


def test_long_output_is_cut_head_and_tail(sandbox):
    r = sandbox.run("print('A' * 50000 + 'END')")
    assert len(r.output) < 5000 and r.output.rstrip().endswith("END") and "cut" in r.output


def test_a_cell_past_the_timeout_is_interrupted_and_state_kept(sandbox):
    sandbox.run("kept = 7")
    r = sandbox.run("while True: pass")
    assert r.timed_out and "TimeoutError" in r.error
    assert sandbox.run("kept").observation() == "7"


def test_a_dead_worker_is_restarted(sandbox):
    r = sandbox.run("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert r.restarted and "died" in r.error
    assert sandbox.run("1 + 1").observation() == "2"


def test_figures_are_saved_in_the_workspace(sandbox):
    r = sandbox.run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])")
    assert r.figures and (sandbox.workspace / r.figures[0]).is_file()
    assert "[figure saved:" in r.observation()


def test_secrets_are_scrubbed_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_API_KEY", "hunter2")
    monkeypatch.setenv("GITHUB_TOKEN", "hunter3")
    with Sandbox(build_catalog([str(SALES)]), tmp_path / "ws") as sb:
        r = sb.run("import os; sorted(k for k in os.environ if 'KEY' in k or 'TOKEN' in k)")
    assert r.observation() == "[]"


def test_the_worker_inherits_only_an_allow_list_of_variables(tmp_path, monkeypatch):
    # Secrets whose names no deny-list catches: a PAT, a password inside a URL.
    monkeypatch.setenv("GITHUB_PAT", "ghp_hunter4")
    monkeypatch.setenv("DATABASE_URL", "postgres://app:hunter5@db.internal/prod")
    monkeypatch.setenv("SOME_TOOL_SETTING", "x")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    with Sandbox(build_catalog([str(SALES)]), tmp_path / "ws") as sb:
        r = sb.run("import os; print(sorted(os.environ.items()))")
    assert r.ok, r.error
    for leaked in ("GITHUB_PAT", "ghp_hunter4", "DATABASE_URL", "hunter5", "SOME_TOOL_SETTING"):
        assert leaked not in r.output
    for kept in ("'PATH'", "'LC_ALL', 'C.UTF-8'", "'MPLBACKEND', 'Agg'"):
        assert kept in r.output


def test_memory_limit_applies(tmp_path):
    with Sandbox(build_catalog([str(SALES)]), tmp_path / "ws", Limits(memory_mb=2048)) as sb:
        r = sb.run("b = bytearray(4 * 1024**3)")
    assert "MemoryError" in r.error


@pytest.fixture
def contained(tmp_path):
    """A sandbox that must have namespace isolation: make install provides bubblewrap."""
    if not sys.platform.startswith("linux"):
        pytest.skip("namespace isolation is Linux-only; elsewhere the worker has rlimits only")
    with Sandbox(build_catalog([str(SALES)]), tmp_path / "ws", Limits(timeout_s=10)) as sb:
        assert sb.isolation == isolation.NAMESPACES, "bubblewrap is missing or cannot run"
        yield sb


def test_no_network_even_to_a_local_server(contained):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        r = contained.run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), 2)")
    finally:
        server.close()
    assert "ConnectionRefusedError" in r.error or "OSError" in r.error


def test_files_outside_the_sources_are_invisible(contained, tmp_path):
    secret = tmp_path / "home" / ".ssh" / "id_rsa"
    secret.parent.mkdir(parents=True)
    secret.write_text("PRIVATE KEY")
    r = contained.run(f"open({str(secret)!r}).read()")
    assert "FileNotFoundError" in r.error


def test_sources_and_the_host_cannot_be_changed(contained, tmp_path):
    before = sha256(SALES)
    outside = tmp_path / "outside.txt"
    r1 = contained.run(f"import os\nos.remove({str(SALES)!r})")
    r2 = contained.run(f"open({str(SALES)!r}, 'wb').write(b'x')")
    contained.run(f"open({str(outside)!r}, 'w').write('escaped')")
    assert not r1.ok and not r2.ok
    assert sha256(SALES) == before
    assert not outside.exists()


def test_the_worker_has_no_capabilities(contained):
    # Even when da runs as root: with CAP_SYS_ADMIN a cell could remount a source writable.
    out = contained.run("print(open('/proc/self/status').read())").output
    assert "CapEff:\t0000000000000000" in out


def test_the_cli_process_is_out_of_reach(contained):
    contained.run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")
    assert contained.run("print('still here')").output.strip() == "still here"


def test_selfcheck_starts_a_real_worker_and_runs_a_cell():
    from da_cli.sandbox import selfcheck  # what `da doctor` reports

    check = selfcheck()
    assert check.ok, check.detail
    assert check.isolation == isolation.level()


def test_an_interpreter_reached_through_a_linked_folder_runs_the_sandbox(tmp_path, replay):
    # `venvlink/bin/python -m da_cli ...`: bubblewrap must find the interpreter at that
    # path inside the namespaces, and Python must still find the venv's site-packages.
    link = tmp_path / "venvlink"
    link.symlink_to(Path(sys.prefix).resolve(), target_is_directory=True)
    csv = tmp_path / "t.csv"
    csv.write_text("x\n1\n2\n")
    model = replay(code_step("import duckdb, pandas\nprint(df.x.sum())"), answer_step("3"))
    r = subprocess.run(
        [str(link / "bin" / "python"), "-m", "da_cli", "analyze", str(csv), "q"]
        + ["--model", model, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert r.returncode == 0, r.stderr
    (execute,) = [t for t in json.loads(r.stdout)["turns"] if t["kind"] == "execute"]
    assert execute["text"] == "3"


def test_sources_are_mounted_in_the_workspace_not_copied(contained, tmp_path):
    # Two questions on a 200 MB CSV used to leave two 200 MB copies behind.
    assert contained.run("import os\nos.path.getsize('sales.xlsx')").observation() == str(
        SALES.stat().st_size
    )
    on_host = contained.workspace / "sales.xlsx"
    assert not on_host.exists() or on_host.stat().st_size == 0  # only the mount point
    contained.close()
    assert list(contained.workspace.iterdir()) == []


def test_a_cell_that_writes_past_the_workspace_cap_fails_and_its_files_go(tmp_path):
    limits = Limits(timeout_s=20, workspace_mb=24)
    with Sandbox(build_catalog([str(SALES)]), tmp_path / "ws", limits) as sb:
        assert sb.run("open('keep.txt', 'w').write('mine')").ok
        r = sb.run(
            "import os\nfor i in range(50):\n"
            "    with open(f'big-{i}.bin', 'wb') as f:\n        f.write(os.urandom(8 << 20))"
        )
        assert "past the workspace's limit of 24 MB" in r.error
        used = sum(f.stat().st_size for f in sb.workspace.rglob("*") if f.is_file())
        assert used <= 24 << 20
        assert (sb.workspace / "keep.txt").read_text() == "mine"  # earlier work is kept
        assert sb.run("print('next')").output == "next\n"


def test_without_namespaces_a_source_is_a_read_only_copy_removed_at_close(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("x\n1\n")
    limits = Limits(timeout_s=5, isolation="none")
    with Sandbox(build_catalog([str(csv)]), tmp_path / "ws", limits) as sb:
        assert sb.run("print(open('t.csv').read())").output == "x\n1\n\n"
        sb.run("open('out.csv', 'w').write('mine')")
    assert sorted(f.name for f in (tmp_path / "ws").iterdir()) == ["out.csv"]
    assert csv.read_text() == "x\n1\n"
