"""The survey's facts (da_cli.data.facts, chosen by da_cli.research.scan) on databases da has
never seen: generated ones with planted facts (tests/surveyed.py) and examples/warehouse.db.
Deterministic and quick (no model); the real model's report on the same databases is the slow
test at the end, with a smoke subset in `make test`."""

import re
import sqlite3

import duckdb
import pytest
import surveyed
from conftest import WAREHOUSE, run_da

from da_cli.data import facts
from da_cli.data.catalog import build_catalog
from da_cli.data.profile import profile
from da_cli.research import scan


def _plan(path):
    catalog = build_catalog([str(path)])
    con = catalog.connect()
    try:
        return scan.plan(con, profile(catalog, con, cache=False), 8)
    finally:
        con.close()


def _text(plan) -> str:
    return "\n\n".join(f"## {f.title}\n\n{f.sentence}" for f in [plan.overview, *plan.facts])


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    return surveyed.databases(tmp_path_factory.mktemp("surveyed"), (1, 2, 3))


def test_the_scan_states_the_planted_facts_of_databases_it_never_saw(databases):
    for db in databases:
        found = db.score(_text(_plan(db.path)))
        assert sum(found) >= 4, (
            db.name,
            [f.note for f, ok in zip(db.facts, found, strict=True) if not ok],
        )


def test_the_scan_states_what_was_planted_in_the_warehouse_example():
    db = surveyed.warehouse(WAREHOUSE)
    found = db.score(_text(_plan(WAREHOUSE)))
    assert sum(found) >= 4, [f.note for f, ok in zip(db.facts, found, strict=True) if not ok]


def test_the_checker_needs_the_words_and_a_true_number(databases):
    db = databases[0]
    assert db.score("") == [False] * len(db.facts)
    top = db.facts[0]
    assert top.found_in(f"## Top\n\n{top.words[0]} leads with {top.numbers[1]:,.2f}.")
    assert not top.found_in(f"{top.words[0]} leads with {top.numbers[1] * 1.5:,.2f}.")
    assert not top.found_in(f"Someone else leads with {top.numbers[1]:,.2f}.")


def _con(tmp_path, rows: list[tuple], ddl: str) -> duckdb.DuckDBPyConnection:
    path = tmp_path / "t.db"
    con = sqlite3.connect(path)
    con.execute(ddl)
    con.executemany(f"INSERT INTO t VALUES ({','.join('?' * len(rows[0]))})", rows)
    con.commit()
    con.close()
    return build_catalog([str(path)]).connect()


def test_an_incomplete_last_month_is_no_break_from_the_trend(tmp_path):
    # Twelve full months of 56 rows, then three days of the thirteenth: its total is small
    # because the data stops, not because anything fell.
    rows = [(f"2025-{m:02d}-{d:02d}", 10.0) for m in range(1, 13) for d in range(1, 29)] * 2
    rows += [(f"2026-01-0{d}", 10.0) for d in range(1, 4)]
    con = _con(tmp_path, rows, "CREATE TABLE t (day TEXT, amount REAL)")
    f = facts.trend(con, "t", "t.day", 'SUM("t"."amount")', "amount")
    assert f.mark is None and "2026-01 is incomplete" in f.sentence
    # The same data with a real dip in June is a break, named with its size.
    dipped = [(d, 4.0 if d.startswith("2025-06") else a) for d, a in rows]
    con = _con(tmp_path / "..", dipped, "CREATE TABLE t (day TEXT, amount REAL)")
    f = facts.trend(con, "t", "t.day", 'SUM("t"."amount")', "amount")
    assert f.mark == "2025-06" and "60.0 % below" in f.sentence and f.score > 0.5


def test_a_month_of_a_few_rows_is_no_break_whatever_its_swing(tmp_path):
    # Four sign-ups a month and one month of nine: 125 % up, and counting noise.
    rows = [(f"2025-{m:02d}-{d:02d}", 1.0) for m in range(1, 13) for d in (3, 9, 15, 21)]
    rows += [(f"2025-06-{d:02d}", 1.0) for d in (1, 5, 11, 25, 27)]
    con = _con(tmp_path, rows, "CREATE TABLE t (day TEXT, one REAL)")
    assert facts.trend(con, "t", "t.day", "COUNT(*)", "sign-ups").mark is None


def test_a_rate_weighs_how_many_rows_the_difference_touches(tmp_path):
    # A big site cancels 20 % against 5 % elsewhere; a tiny one cancels none.
    rows = [("Big", "cancelled" if i % 5 == 0 else "ok") for i in range(400)]
    rows += [("Mid", "cancelled" if i % 20 == 0 else "ok") for i in range(800)]
    rows += [("Tiny", "ok") for _ in range(40)]
    con = _con(tmp_path, rows, "CREATE TABLE t (site TEXT, status TEXT)")
    f = facts.rate(con, "t", "t.status", "cancelled", "t.site")
    assert f.mark == "Big" and "20.0 %" in f.sentence and "4.8 %" in f.sentence  # 40 of 840
    assert "4.2 times" in f.sentence


def test_duplicates_are_rows_that_repeat_all_but_their_own_key(tmp_path):
    rows = [(i, f"2025-01-{1 + i % 28:02d}", i * 1.5, f"c{i % 7}") for i in range(1, 201)]
    rows += [(300 + i, *rows[i][1:]) for i in range(10)]  # ten orders entered twice
    con = _con(tmp_path, rows, "CREATE TABLE t (order_id INT, day TEXT, amount REAL, c TEXT)")
    f = facts.quality(con, ["t"], [])
    assert "10 rows that repeat another" in f.sentence


def test_a_column_derived_from_another_is_no_correlation_finding(tmp_path):
    rows = [(float(i), 0.6 * i, float((i * 7919) % 101)) for i in range(1, 300)]
    con = _con(tmp_path, rows, "CREATE TABLE t (price REAL, cost REAL, other REAL)")
    f = facts.correlation(con, "t", ["price", "cost", "other"])
    assert not ("price" in f.title and "cost" in f.title)


def _report_score(db, tmp_path, *args: str) -> tuple[list[bool], str]:
    md = tmp_path / f"{db.name}.md"
    r = run_da("report", str(db.path), "-o", str(md), *args, timeout=3600)
    assert r.returncode in (0, 6), r.stderr
    text = md.read_text()
    return db.score(text), text


@pytest.mark.slow
@pytest.mark.smoke
@pytest.mark.timeout(1800)
def test_embedded_model_report_states_the_planted_facts_of_a_new_database(databases, tmp_path):
    found, text = _report_score(databases[0], tmp_path, "--angles", "1")
    assert sum(found) >= 4, text
    assert re.search(r"## Executive summary\n\n- ", text)


@pytest.mark.slow
@pytest.mark.timeout(7200)
def test_embedded_model_reports_state_four_of_five_planted_facts(databases, tmp_path):
    for db in [surveyed.warehouse(WAREHOUSE), *databases]:
        found, text = _report_score(db, tmp_path)
        assert sum(found) >= 4, (db.name, text)


def test_a_measure_carries_the_unit_its_name_states(tmp_path):
    rows = [(f"2025-{m:02d}-{d:02d}", "A" if d % 3 else "B", 10.0) for m in range(1, 13)
            for d in range(1, 29)]  # fmt: skip
    con = _con(tmp_path, rows, "CREATE TABLE t (day TEXT, kind TEXT, cost_eur REAL)")
    f = facts.share(con, "t", "t.kind", 'SUM("t"."cost_eur")', "cost_eur")
    assert re.search(r"[\d,.]+ EUR of [\d,.]+ EUR", f.sentence), f.sentence
    assert facts.amount(3.5, "weight_kg") == "3.50 kg" and facts.amount(3, "revenue") == "3"
    assert facts.unit_of_name("number of orders") == ""
