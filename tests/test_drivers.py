import pytest
from conftest import SALES

from da_cli.data.catalog import build_catalog
from da_cli.data.drivers import (
    asked_period,
    asked_periods,
    explain_change,
    parse_period,
    previous_period,
)


@pytest.fixture(scope="module")
def con():
    return build_catalog([str(SALES)]).connect()


def test_periods_are_read_in_the_usual_spellings():
    assert parse_period("2025-Q3", 2030) == (2025, "quarter", 3)
    assert parse_period("q3 2025", 2030) == (2025, "quarter", 3)
    assert parse_period("Q3", 2025) == (2025, "quarter", 3)
    assert parse_period("2025-07", 2030) == (2025, "month", 7)
    assert parse_period("2024", 2030) == (2024, "year", 1)
    assert previous_period(2025, "quarter", 1) == (2024, "quarter", 4)
    with pytest.raises(ValueError, match="cannot read the period"):
        parse_period("last summer", 2025)


def test_breakdown_totals_match_a_direct_query(con):
    report = explain_change(con, "orders", "2025-Q3", measure="revenue")
    direct = con.execute(
        "SELECT sum(revenue) FILTER (WHERE quarter(order_date) = 2), "
        "sum(revenue) FILTER (WHERE quarter(order_date) = 3) "
        "FROM orders WHERE year(order_date) = 2025"
    ).fetchone()
    assert (report.before_label, report.after_label) == ("2025-Q2", "2025-Q3")
    assert report.total.before == pytest.approx(direct[0], abs=0.01)
    assert report.total.after == pytest.approx(direct[1], abs=0.01)
    total = report.table.iloc[0]
    assert total["group"] == "total" and total["share_of_total_change_pct"] == 100.0


def test_groups_are_ranked_and_each_row_is_a_plain_group_sum(con):
    report = explain_change(con, "orders", "Q3", measure="revenue")
    changes = [c.change for c in report.changes]
    assert changes == sorted(changes)  # the total fell: biggest falls first
    for c in report.changes[:3]:
        where = " AND ".join(f"{part.split('=')[0]} = ?" for part in c.group.split(", "))
        values = [part.split("=", 1)[1] for part in c.group.split(", ")]
        after = con.execute(
            "SELECT sum(revenue) FROM orders WHERE year(order_date) = 2025 AND "
            f"quarter(order_date) = 3 AND {where}",
            values,
        ).fetchone()[0]
        assert c.after == pytest.approx(after, abs=0.01)


def test_a_pair_that_carries_its_single_group_replaces_it():
    from da_cli.data.drivers import Change, _drop_superseded

    west = Change("region=West", 100, 10, ("region",))
    pair = Change("region=West, channel=Retail", 90, 2, ("region", "channel"))
    small = Change("region=West, channel=Online", 10, 8, ("region", "channel"))
    kept = [c.group for c in _drop_superseded([west, pair, small])]
    assert kept == ["region=West, channel=Retail", "region=West, channel=Online"]


def test_the_printed_report_is_sentences_with_the_figures(con):
    text = str(explain_change(con, "orders", "2025-Q3", measure="units"))
    assert text.startswith("Total units fell from ")
    assert "in 2025-Q2 to" in text and "% of the total change" in text


def test_errors_name_the_valid_choices(con):
    with pytest.raises(ValueError, match="numeric columns are units, unit_price, revenue") as err:
        explain_change(con, "orders", "2025-Q3", measure="order_date")
    assert "order_id" not in str(err.value)  # identifiers are not measures
    with pytest.raises(ValueError, match="order_date"):
        explain_change(con, "orders", "2025-Q3", date_column="region")


def test_without_a_measure_the_largest_numeric_column_is_used(con):
    report = explain_change(con, "orders", "2025-Q3")
    assert report.measure == "revenue"


def test_the_period_and_measure_come_from_the_question_when_the_call_leaves_them_out(con):
    report = explain_change(con, "orders", question="Why did units fall in Q3 2025?")
    assert (report.after_label, report.before_label, report.measure) == (
        "2025-Q3",
        "2025-Q2",
        "units",
    )
    assert "fell" in str(report)


def test_the_question_wins_over_a_period_and_measure_copied_from_elsewhere(con):
    # A small model copies its worked example's arguments; the question says what is asked.
    report = explain_change(
        con, "orders", "Q1", measure="signups", question="why did revenue drop in 2025-Q3?"
    )
    assert (report.after_label, report.measure) == ("2025-Q3", "revenue")
    text = str(report)
    assert "The question asks about 2025-Q3, so this compares 2025-Q3, not Q1." in text
    assert "The question asks about revenue, so this measures revenue." in text


def test_a_question_asking_for_last_year_gets_the_year_ago_base(con):
    report = explain_change(
        con, "orders", question="why did revenue fall in Q3 2025 compared with last year?"
    )
    assert report.before_label == "2024-Q3"


def test_two_periods_the_question_compares_are_the_ones_compared(con):
    # Asked "from 2024 to 2025", it compared 2025's last quarter with the one before; told
    # "2025-Q3" (the error's own example, copied), the question still wins.
    for period in (None, "2025-Q3"):
        report = explain_change(
            con,
            "orders",
            period,
            question="By what percentage did revenue change from 2024 to 2025?",
        )
        assert (report.before_label, report.after_label) == ("2024", "2025")
    report = explain_change(con, "orders", question="why did units drop between Q3 and Q2 2025?")
    assert (report.before_label, report.after_label) == ("2025-Q2", "2025-Q3")
    assert asked_periods("revenue went from 10 to 20 in 2025", 2025) is None
    assert asked_periods("from 2025 to Q3", 2025) is None  # two kinds of period: not a pair


def test_a_question_that_counts_measures_rows(con):
    # Asked for the number of orders, it measured the largest column (revenue) instead.
    direct = con.execute(
        "SELECT count(*) FILTER (WHERE quarter(order_date) = 2), "
        "count(*) FILTER (WHERE quarter(order_date) = 3) "
        "FROM orders WHERE year(order_date) = 2025"
    ).fetchone()
    for question in (
        "By what percentage did the number of orders change in Q3 2025?",
        "How many fewer orders were placed in Q3 2025?",
    ):
        report = explain_change(con, "orders", measure="revenue", question=question)
        assert report.measure == "number of rows"
        assert (report.total.before, report.total.after) == direct
        assert str(report).startswith("The question asks about number of rows")
        assert report.mechanism == []  # a count has no price
    # A column the question names is still summed: "how many units" is units.
    units = explain_change(con, "orders", question="How many units did we lose in Q3 2025?")
    assert units.measure == "units"
    assert explain_change(con, "orders", "2025-Q3", measure="count").measure == "number of rows"


def test_the_rows_a_question_names_are_the_ones_measured(con):
    # "the number of returned orders": the count of those rows, not of every order.
    question = "By how many did the number of Online orders in the West change in Q3 2025?"
    report = explain_change(con, "orders", question=question)
    direct = con.execute(
        "SELECT count(*) FILTER (WHERE quarter(order_date) = 2), "
        "count(*) FILTER (WHERE quarter(order_date) = 3) FROM orders "
        "WHERE year(order_date) = 2025 AND channel = 'Online' AND region = 'West'"
    ).fetchone()
    assert (report.total.before, report.total.after) == direct
    assert report.measure == "number of rows (region=West; channel=Online)"
    text = str(report)
    assert text.startswith("Only the rows where region=West; channel=Online, as the question")
    groups = text.split("Groups with the biggest changes:")[1].split("In short")[0]
    assert "channel=" not in groups and "region=" not in groups  # the others break it down
    # Words of any question ("the first quarter") name no rows; nor do unnamed values.
    assert explain_change(con, "orders", question="Why did revenue drop in Q3 2025?").measure == (
        "revenue"
    )


def test_a_table_with_a_date_and_no_number_is_counted():
    import duckdb

    con = duckdb.connect()
    con.execute(
        "CREATE VIEW tickets AS SELECT DATE '2025-01-05' + INTERVAL (i % 60) DAY AS opened, "
        "CASE WHEN i % 3 = 0 THEN 'web' ELSE 'phone' END AS channel FROM range(300) t(i)"
    )
    report = explain_change(con, "tickets", "2025-02")
    assert report.measure == "number of rows"
    assert report.total.after == 140  # 28 February days x 5 tickets a day


@pytest.mark.parametrize(
    "question, period",
    [
        ("why did billings drop in Q4 2025?", "Q4 2025"),
        ("why did conversions change in June?", "June"),
        ("sales fell in 2024-07: why?", "2024-07"),
        ("why did signups drop in March 2024?", "March 2024"),
        ("what may explain the drop?", None),  # "may" the verb is no month
        ("how has churn changed?", None),
    ],
)
def test_periods_are_found_in_questions(question, period):
    assert asked_period(question) == period


def test_without_a_period_anywhere_the_error_says_what_to_pass(con):
    with pytest.raises(
        ValueError, match='give the period to explain, e.g. explain_change\\("orders"'
    ):
        explain_change(con, "orders", question="what drives revenue?")


def test_the_change_is_drawn_as_a_waterfall_in_the_worker():
    # examples/sales.xlsx: Q3 fell because West x Retail collapsed. The worker's
    # explain_change draws the contribution chart, saved with the cell, so a report of the
    # analysis shows it; the bars are before, the cause, the rest, after.
    from da_cli.agent.session import Session

    with Session([str(SALES)]) as s:
        code = 'r = explain_change("orders", "2025-Q3")\nprint(len(r.chart().axes[0].patches))'
        r = s.cell(code)
        assert r.ok and r.output.strip() == "4"
        assert len(r.figures) == 2  # the one explain_change drew, and this cell's own
        assert (s.workspace / r.figures[0]).stat().st_size > 10_000
