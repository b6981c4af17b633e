"""Numbers and dates stored as text are read as numbers and dates (da_cli/data/types.py):
in the views `sql()` queries, in the profile, and in `explain_change`."""

import codecs
import hashlib
import sqlite3

import pytest

from da_cli.data.catalog import build_catalog
from da_cli.data.drivers import explain_change
from da_cli.data.profile import profile, render


def _untyped_sqlite(path, as_text: bool) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (date, region, sales, zip)")
    rows = [
        (f"2025-0{m}-1{d}", region, 2.5 * m + d, f"0{d}123")
        for m in (1, 2, 3, 4, 5, 6)
        for d in range(3)
        for region in ("West", "East")
    ]
    if as_text:  # as the sqlite3 shell's .import stores them
        rows = [tuple(str(x) for x in r) for r in rows]
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
    con.commit()
    con.close()


@pytest.mark.parametrize("as_text", [False, True], ids=["real-values", "text-values"])
def test_untyped_sqlite_columns_sum_and_profile_as_numbers(tmp_path, as_text):
    path = tmp_path / "untyped.db"
    _untyped_sqlite(path, as_text)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    catalog = build_catalog([str(path)])
    con = catalog.connect()
    total = con.execute("SELECT sum(sales), min(date), max(region) FROM t").fetchone()
    assert total[0] == pytest.approx(sum(2.5 * m + d for m in range(1, 7) for d in range(3)) * 2)
    assert str(total[1]) == "2025-01-10" and total[2] == "West"
    columns = {c.name: c for c in profile(catalog, cache=False)[0].columns}
    assert columns["sales"].type == "DOUBLE" and columns["sales"].max == "17.0"
    assert columns["date"].type == "DATE"
    assert columns["zip"].type == "VARCHAR"  # a code with a leading zero stays text
    text = render(profile(catalog, cache=False))
    assert "b'" not in text
    assert "Read as numbers, dates or durations: date (dates" in text and "sales (numbers" in text
    report = explain_change(con, "t", "2025-06")
    assert report.measure == "sales" and report.total.change == pytest.approx(15.0)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, "the source is untouched"


def test_decimal_comma_csv_with_semicolons_and_a_bom_is_numeric(tmp_path):
    path = tmp_path / "umsatz.csv"
    body = "Datum;Region;Umsatz;Menge\n01.03.2025;Nord;1.000,50;3\n02.03.2025;Süd;20,25;4\n"
    path.write_bytes(codecs.BOM_UTF8 + body.encode())
    con = build_catalog([str(path)]).connect()
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE umsatz)").fetchall())
    assert types == {"Datum": "DATE", "Region": "VARCHAR", "Umsatz": "DOUBLE", "Menge": "BIGINT"}
    assert con.execute("SELECT sum(Umsatz) FROM umsatz").fetchone()[0] == pytest.approx(1020.75)


def test_quoted_numbers_with_thousands_separators_are_numeric(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        '"day","amount","code"\n"2025-01-01","1,200.50","007"\n"2025-01-02","30","12"\n'
    )
    con = build_catalog([str(path)]).connect()
    assert con.execute("SELECT sum(amount) FROM export").fetchone()[0] == pytest.approx(1230.5)
    kinds = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE export)").fetchall())
    assert kinds["code"] == "VARCHAR"


def test_text_that_is_not_a_number_stays_text(tmp_path):
    path = tmp_path / "mixed.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE m (label, amount)")
    con.executemany("INSERT INTO m VALUES (?, ?)", [("a", "1"), ("b", "two"), ("c", "3")])
    con.commit()
    con.close()
    kinds = dict(
        build_catalog([str(path)])
        .connect()
        .execute("SELECT column_name, column_type FROM (DESCRIBE m)")
        .fetchall()
    )
    assert kinds == {"label": "VARCHAR", "amount": "VARCHAR"}


def test_times_of_day_are_intervals_that_pandas_and_sql_can_compute_with(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_text("hour,avg wait time\n1,00:00:30\n2,00:01:04\n3,00:00:00\n4,\n")
    catalog = build_catalog([str(path)])
    con = catalog.connect()
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE calls)").fetchall())
    assert types["avg wait time"] == "INTERVAL"
    over, longest = con.execute(
        'SELECT count_if("avg wait time" > \'00:00:20\'), max("avg wait time") FROM calls'
    ).fetchone()
    assert over == 2 and str(longest) == "0:01:04"
    waits = con.sql("SELECT * FROM calls").df()["avg wait time"]
    assert waits.dt.total_seconds().tolist()[:3] == [30.0, 64.0, 0.0]
    assert waits.mean().total_seconds() == pytest.approx(94 / 3)  # the missing one left out
    text = render(profile(catalog, cache=False))
    assert "- avg wait time (INTERVAL): 00:00:00 .. 00:01:04" in text
    assert "avg wait time (times of day -> INTERVAL since 00:00)" in text
    assert ".dt.total_seconds() gives seconds" in text
