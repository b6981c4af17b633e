import pytest

from da_cli.agent.grounding import ungrounded


def test_numbers_present_in_outputs_are_grounded():
    assert ungrounded("There are 5,319 orders.", ["count\n0  5319"]) == []


def test_invented_numbers_are_reported():
    assert ungrounded("Paris had 1520.5, Oslo 980.0.", ["n\n0 5319"]) == ["1520.5", "980.0"]


def test_rounding_and_percentages_are_allowed():
    evidence = ["r = 0.213456", "share 0.2173"]
    assert ungrounded("r is 0.21 and the share is 21.7 %.", evidence) == []


def test_small_numbers_need_no_evidence():
    assert ungrounded("Q3 fell in 2 of 4 regions.", []) == []


def test_numbers_from_the_question_are_evidence():
    assert ungrounded("Sales in 2025 fell.", ["why did 2025 drop?"]) == []


def test_an_answer_must_state_a_value_a_cell_printed():
    from da_cli.agent.grounding import states_computed_value

    q = "What is the mean fare? Answer as @mean_fare[mean_fare_value]."
    assert states_computed_value("@mean_fare[32.20]", ["32.2042"], q)
    # A cell that printed nothing is no evidence; loading the data is no answer.
    assert not states_computed_value("The data has been loaded.", ["(no output)"], q)
    assert not states_computed_value("It is 32.20.", [], q)
    # The format's placeholder copied back is no value, even when an output mentions it.
    assert not states_computed_value("@mean_fare[mean_fare_value]", ["mean_fare_value"], q)
    # A named value counts when an output shows it and the question did not give it.
    who = "Which region sold the most?"
    assert states_computed_value("West sold the most.", ["region\nWest  1204"], who)
    assert not states_computed_value("The region sold the most.", ["region\nWest  1204"], who)


def test_a_number_rounded_wrongly_is_told_from_one_made_up():
    from da_cli.agent.grounding import misrounded

    shown = ["mean\n1013.5345316934721", "kurtosis = 33.20428925264474"]
    assert misrounded(["1013.54", "33.21"], shown) == {
        "1013.54": ("1013.5345316934721", "1013.53"),
        "33.21": ("33.20428925264474", "33.20"),
    }
    # A number far from every output, or a whole one, is made up, not misrounded.
    assert misrounded(["1020.5", "1014"], shown) == {}


def test_a_cell_that_prints_only_what_its_code_spells_out_is_told_apart():
    from da_cli.agent.grounding import spelled_out

    for cell in ('print("Albania")', 'import math\nprint(f"@n[{0.00:.2f}]")', "best = 'Albania'"):
        assert spelled_out(cell), cell
    for cell in ("print(x)", 'print(f"{x:.2f}")', "import pandas as pd", "x = 3\nprint(x)", "("):
        assert not spelled_out(cell), cell


_FROM_MEAN_Q = "How many orders have a revenue more than 3 standard deviations away from its mean?"
_COUNTED = (
    'df = load("orders")\n'
    "mean_revenue = df['revenue'].mean()\n"
    "std_revenue = df['revenue'].std()\n"
    "threshold = 3 * std_revenue\n"
    "{compare}\n"
    "print(count)"
)


@pytest.mark.parametrize(
    ("compare", "centred"),
    [
        # One side only: the distance on either side of the mean.
        (
            "count = (df['revenue'] > threshold).sum()",
            "count = ((df['revenue'] - mean_revenue).abs() > threshold).sum()",
        ),
        # Both sides: each keeps its side.
        (
            "count = len(df[(df['revenue'] > threshold) | (df['revenue'] < -threshold)])",
            "count = len(df[((df['revenue'] - mean_revenue) > threshold) | "
            "((df['revenue'] - mean_revenue) < -threshold)])",
        ),
        # Under abs, the deviation inline, the values on the right.
        (
            "count = (np.abs(df['revenue']) > 3 * df['revenue'].std()).sum()",
            "count = (np.abs((df['revenue'] - mean_revenue)) > 3 * df['revenue'].std()).sum()",
        ),
        # One side of the distance: the distance, its bound less the mean.
        (
            "count = (df['revenue'] > mean_revenue + threshold).sum()",
            "count = ((df['revenue'] - mean_revenue).abs() > (mean_revenue + threshold) - "
            "mean_revenue).sum()",
        ),
        (
            "upper = mean_revenue + 3 * std_revenue\ncount = (df['revenue'] > upper).sum()",
            "upper = mean_revenue + 3 * std_revenue\n"
            "count = ((df['revenue'] - mean_revenue).abs() > upper - mean_revenue).sum()",
        ),
        # Written the other way round.
        (
            "count = (threshold < df['revenue']).sum()",
            "count = (threshold < (df['revenue'] - mean_revenue).abs()).sum()",
        ),
    ],
)
def test_values_compared_with_their_deviation_are_measured_from_their_mean(compare, centred):
    from da_cli.agent.grounding import centered

    found = centered(_FROM_MEAN_Q, _COUNTED.format(compare=compare))
    assert found == (_COUNTED.format(compare=centred), "df['revenue']", "mean_revenue")


def test_a_comparison_already_from_the_mean_or_a_question_without_one_is_left_alone():
    from da_cli.agent.grounding import centered

    for compare in (
        "count = ((df['revenue'] - mean_revenue).abs() > threshold).sum()",
        "count = ((df['revenue'] > mean_revenue + threshold) | "
        "(df['revenue'] < mean_revenue - threshold)).sum()",
        "count = (df['revenue'] < -threshold).sum()",  # one side, below: not a distance
        "count = (df['units'] > threshold).sum()",  # another column's values
    ):
        assert centered(_FROM_MEAN_Q, _COUNTED.format(compare=compare)) is None, compare
    cell = _COUNTED.format(compare="count = (df['revenue'] > threshold).sum()")
    assert centered("How many orders have a revenue above 3 standard deviations?", cell) is None
    average = "How many orders have a revenue over 3 standard deviations from their average?"
    assert centered(average, cell) is not None
    assert centered(_FROM_MEAN_Q, "count = (") is None
    # No mean computed: the column's own.
    found = centered(_FROM_MEAN_Q, "n = (df.revenue > 3 * df.revenue.std()).sum()")
    assert found is not None
    assert found[0] == "n = ((df.revenue - df.revenue.mean()).abs() > 3 * df.revenue.std()).sum()"


def test_a_deviation_named_for_its_divisor_gets_the_ddof_its_library_lacks():
    from da_cli.agent.grounding import with_ddof

    cell = (
        "s = df['Fare'].std()\n"
        "v = np.var(df.Fare)\n"
        "print(df.groupby('a')['b'].std(), x.values.std(), y.std(axis=0), z.std(ddof=1))"
    )
    population = "What is the population standard deviation of the fare?"
    assert with_ddof(population, cell) == (
        "s = df['Fare'].std(ddof=0)\n"
        "v = np.var(df.Fare)\n"  # numpy's divides by n already
        "print(df.groupby('a')['b'].std(ddof=0), x.values.std(), y.std(axis=0, ddof=0), "
        "z.std(ddof=1))",  # a ddof the cell gave is left as it is
        0,
    )
    assert with_ddof("What is the sample variance of the fare?", cell) == (
        "s = df['Fare'].std()\n"
        "v = np.var(df.Fare, ddof=1)\n"
        "print(df.groupby('a')['b'].std(), x.values.std(ddof=1), y.std(axis=0), z.std(ddof=1))",
        1,
    )
    # pandas' divides by n - 1 already; a question that names neither, or both, is left.
    assert with_ddof("What is the sample variance of the fare?", "s = df.Fare.std()") is None
    assert with_ddof("What is the standard deviation of the fare?", cell) is None
    assert with_ddof(population + " And the sample standard deviation?", cell) is None


def test_a_count_of_a_mask_by_len_is_a_count_of_its_true_values():
    from da_cli.agent.grounding import counted_mask

    cell = (
        "outliers = (df.x < low) | (df.x > high)\n"
        "n = len(outliers)\n"
        "share = outliers.sum() / len(outliers)\n"  # the rows: a denominator
        'print(len(outliers), f"@n[{len(outliers)}]")\n'
        "kept = df[~outliers]\n"
        "print(len(kept))"  # a frame's rows
    )
    assert counted_mask(cell) == (
        "outliers = (df.x < low) | (df.x > high)\n"
        "n = int(outliers.sum().sum())\n"
        "share = outliers.sum() / len(outliers)\n"
        'print(int(outliers.sum().sum()), f"@n[{int(outliers.sum().sum())}]")\n'
        "kept = df[~outliers]\n"
        "print(len(kept))",
        "outliers",
    )
    assert counted_mask("m = df.x.isna()\nm = df[m]\nprint(len(m))") is None  # no mask now
    assert counted_mask("print(len(df[df.x > 3]))") is None
    # The rows, on purpose: a name arithmetic reads.
    assert counted_mask("m = df.x > 3\ntotal = len(m)\nprint(m.sum() / total * 100)") is None


def test_scipy_stats_leaves_missing_values_out():
    from da_cli.agent.grounding import omitting_missing

    cell = (
        "z = stats.zscore(df['Age'])\nt, p = ttest_ind(a, b)\n"
        "v = scipy.stats.skew(y, nan_policy='raise')\ns = df.skew()\nr = st.shapiro(x)"
    )
    assert omitting_missing(cell) == (
        "z = stats.zscore(df['Age'], nan_policy='omit')\n"
        "t, p = ttest_ind(a, b, nan_policy='omit')\n"
        "v = scipy.stats.skew(y, nan_policy='raise')\n"  # a policy given is left
        "s = df.skew()\n"  # pandas' skips missing values
        "r = st.shapiro(x, nan_policy='omit')"
    )
    assert omitting_missing("z = (x - x.mean()) / x.std()\nr = stats.pearsonr(a, b)") is None


@pytest.mark.parametrize(
    ("cell", "alike"),
    [
        ('df = load("t")\ndf["x"] = df["x"] * 2\ndf.dropna(inplace=True)\nprint(len(df))', True),
        ("t, p = ttest_ind(df[df.a == 1].x, df[df.a == 2].x)\nprint(p < 0.05)", True),
        ("rows = []\nrows.append(3)\nmodel = LinearRegression()\nmodel.fit(X, y)", True),
        ("x = df.x\nx = x.dropna()\nfor i in range(3):\n    print(i)", True),
        # An earlier cell's objects changed, or names bound anew from themselves.
        ('df["x"] = df["x"] * 2', False),
        ('df.loc[df.x > 3, "y"] = 1', False),
        ("df.dropna(inplace=True)", False),
        ("df = df.dropna()", False),
        ("n += 1", False),
        ("rows.append(3)", False),
    ],
)
def test_a_cell_that_reruns_alike_changes_nothing_an_earlier_cell_made(cell, alike):
    from da_cli.agent.grounding import reruns_alike

    assert reruns_alike(cell) is alike


def test_numbers_a_rewritten_cell_printed_otherwise_are_restated_as_rewritten():
    from da_cli.agent.grounding import with_rewritten_values

    first = "5319\nlen(big) is 5,319, every row of the True/False mask big; its rows: 710."
    assert with_rewritten_values("There are 5,319 big orders.", first, "710") == (
        "There are 710 big orders.",
        ["5,319 is 710"],
    )
    fare = "@mean_fare[32.20] @std_dev_fare[49.69]"
    assert with_rewritten_values("32.20 and 49.69", fare, fare.replace("49.69", "49.67")) == (
        "32.20 and 49.67",
        ["49.69 is 49.67"],
    )
    # Outputs of another shape are not matched; nor is an answer with no such number.
    assert with_rewritten_values("It is 0.3.", "p = 0.3", "t = 0.4\nmore 5") is None
    assert with_rewritten_values("It is 710.", first, "710") is None
