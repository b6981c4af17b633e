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
    df = explain_change(con, "orders", "revenue", "2025-Q3")
    total = df.iloc[0]
    direct = con.execute(
        "SELECT sum(revenue) FILTER (WHERE quarter(order_date) = 2), "
        "sum(revenue) FILTER (WHERE quarter(order_date) = 3) "
        "FROM orders WHERE year(order_date) = 2025"
    ).fetchone()
    assert total["group"] == "all"
    assert total["2025-Q2"] == pytest.approx(direct[0], abs=0.01)
    assert total["2025-Q3"] == pytest.approx(direct[1], abs=0.01)
    assert total["share_of_total_change_pct"] == 100.0


def test_groups_are_ranked_by_their_share_of_the_change(con):
    df = explain_change(con, "orders", "revenue", "Q3").iloc[1:]
    assert list(df["change"]) == sorted(df["change"])  # the total fell: biggest falls first
    pair = df[df["breakdown"] == "region x channel"].iloc[0]
    # Each row is a plain group sum: recompute the top pair's figures directly.
    region, channel = pair["group"].split(" / ")
    after = con.execute(
        "SELECT sum(revenue) FROM orders WHERE year(order_date) = 2025 AND "
        "quarter(order_date) = 3 AND region = ? AND channel = ?",
        [region, channel],
    ).fetchone()[0]
    assert pair["2025-Q3"] == pytest.approx(after, abs=0.01)


def test_errors_name_the_valid_choices(con):
    with pytest.raises(ValueError, match="revenue"):
        explain_change(con, "orders", "order_date", "2025-Q3")
    with pytest.raises(ValueError, match="order_date"):
        explain_change(con, "orders", "revenue", "2025-Q3", date_column="region")
