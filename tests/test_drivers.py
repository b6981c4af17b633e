import pytest
from conftest import SALES

from da_cli.data.catalog import build_catalog
from da_cli.data.drivers import explain_change, parse_period, previous_period


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
