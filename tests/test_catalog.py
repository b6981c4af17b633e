import sqlite3

import duckdb
import pytest
from conftest import SALES, WAREHOUSE

from da_cli.data.catalog import build_catalog, sanitize
from da_cli.data.profile import profile, render
from da_cli.errors import DataError


def test_every_xlsx_sheet_is_a_view():
    cat = build_catalog([str(SALES)])
    assert [v.name for v in cat.views] == ["orders", "products", "regions"]
    con = cat.connect()
    assert con.execute("SELECT count(*) FROM orders").fetchone()[0] == 5319


def test_every_sqlite_table_is_a_view_and_read_only():
    cat = build_catalog([str(WAREHOUSE)])
    names = {v.name for v in cat.views}
    assert {"customers", "orders", "order_items", "products"} <= names
    alias = next(s for s in cat.statements if s.startswith("ATTACH")).split(" AS ")[1].split()[0]
    con = cat.connect()
    with pytest.raises(duckdb.Error, match="read-only|read only"):
        con.execute(f"CREATE TABLE {alias}.x(i INT)")


def test_colliding_names_get_the_file_stem(tmp_path):
    (tmp_path / "orders.csv").write_text("a,b\n1,2\n")
    cat = build_catalog([str(SALES), str(tmp_path / "orders.csv")])
    assert "orders" in [v.name for v in cat.views]
    assert "orders_orders" in [v.name for v in cat.views]


def test_profile_shows_real_columns_and_counts():
    text = render(profile(build_catalog([str(SALES)])))
    for name in ("order_date", "region", "channel", "revenue", "5,319 rows"):
        assert name in text
    assert "West" in text


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "does not exist"),
        ("empty.csv", b"", "is empty"),
        ("x.foo", b"1", "unknown file type"),
        ("bad.xlsx", b"not a zip at all", "not a readable XLSX"),
        ("", None, "is a directory"),
    ],
)
def test_bad_sources_raise_one_sentence(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        build_catalog([str(path)])
    assert "\n" not in str(err.value)


def test_sqlite_without_tables_is_a_data_error(tmp_path):
    db = tmp_path / "empty.db"
    sqlite3.connect(db).execute("PRAGMA user_version = 1").connection.close()
    with pytest.raises(DataError):
        build_catalog([str(db)])


def test_sanitize_names():
    assert sanitize("Q3 Sales (EU)") == "q3_sales_eu"
    assert sanitize("2024") == "t_2024"
