import sqlite3

import duckdb
from conftest import SALES, WAREHOUSE

from da_cli.data import profile as profiler
from da_cli.data.catalog import build_catalog
from da_cli.data.profile import (
    BUDGET_TOKENS,
    by_relevance,
    column_asked_which,
    distinct_values,
    infer_joins,
    profile,
    render,
    tables_asked_about,
    values_named,
)

BUDGET_CHARS = BUDGET_TOKENS * profiler.CHARS_PER_TOKEN


def test_statistics_are_true():
    (orders,) = [p for p in profile(build_catalog([str(SALES)])) if p.name == "orders"]
    cols = {c.name: c for c in orders.columns}
    con = build_catalog([str(SALES)]).connect()
    lo, hi = con.execute("SELECT min(revenue), max(revenue) FROM orders").fetchone()
    assert orders.rows == 5319
    assert (float(cols["revenue"].min), float(cols["revenue"].max)) == (lo, hi)
    assert set(cols["region"].top) == {"North", "South", "East", "West"}
    assert cols["order_id"].type == "BIGINT"  # whole-number Excel columns are integers
    assert len(orders.sample) == profiler.SAMPLE_ROWS


def test_join_keys_are_inferred_between_tables():
    joins = {(j.left, j.right) for j in infer_joins(profile(build_catalog([str(WAREHOUSE)])))}
    assert ("orders.customer_id", "customers.customer_id") in joins
    assert ("order_items.order_id", "orders.order_id") in joins
    assert not any(left.startswith("customers.") for left, _ in joins)


def test_a_300_column_table_fits_the_budget(tmp_path):
    header = ",".join(f"measure_{i:03d}" for i in range(300))
    rows = "\n".join(",".join(str(r * i) for i in range(300)) for r in range(50))
    (tmp_path / "wide.csv").write_text(header + "\n" + rows + "\n")
    text = render(profile(build_catalog([str(tmp_path / "wide.csv")])))
    assert len(text) <= BUDGET_CHARS
    assert "measure_000 (BIGINT)" in text and "50 rows" in text
    assert "more columns" in text


def test_a_500_table_database_fits_the_budget(tmp_path):
    db = tmp_path / "many.db"
    con = sqlite3.connect(db)
    for i in range(500):
        con.execute(f"CREATE TABLE table_{i:03d} (id INTEGER PRIMARY KEY, value REAL)")
        con.execute(f"INSERT INTO table_{i:03d} VALUES (1, {i})")
    con.commit()
    con.close()
    text = render(profile(build_catalog([str(db)])))
    assert len(text) <= BUDGET_CHARS
    assert "Table `table_000`" in text
    assert "more tables" in text


def test_profile_is_cached_by_the_source_fingerprint(tmp_path, monkeypatch):
    csv = tmp_path / "s.csv"
    csv.write_text("a,b\n1,x\n2,y\n")
    assert profile(build_catalog([str(csv)]))[0].rows == 2
    scans = []
    real = profiler._profile_view
    monkeypatch.setattr(profiler, "_profile_view", lambda *a: scans.append(a) or real(*a))
    assert profile(build_catalog([str(csv)]))[0].rows == 2
    assert scans == []  # served from the cache
    csv.write_text("a,b\n1,x\n2,y\n3,z\n")  # a changed file is profiled again
    assert profile(build_catalog([str(csv)]))[0].rows == 3
    assert len(scans) == 1


def test_profile_never_loads_a_table_into_python(monkeypatch):
    # Everything is aggregated in DuckDB: no DataFrame is ever built.
    def refuse(*args, **kwargs):
        raise AssertionError("the profiler pulled a table into pandas")

    monkeypatch.setattr(duckdb.DuckDBPyConnection, "df", refuse)
    monkeypatch.setattr(duckdb.DuckDBPyRelation, "df", refuse)
    assert profile(build_catalog([str(WAREHOUSE)]), cache=False)


def test_tables_the_question_names_come_first():
    profiles = profile(build_catalog([str(WAREHOUSE)]))
    ranked = [p.name for p in by_relevance(profiles, "which customer has the most orders?")]
    assert ranked[:2] == ["customers", "orders"]
    assert sorted(ranked) == sorted(p.name for p in profiles)


def test_the_tables_a_question_is_about():
    profiles = profile(build_catalog([str(WAREHOUSE)]))

    def asked(q: str) -> list[str]:
        return sorted(tables_asked_about(profiles, q))

    assert asked("which customer has the most orders?") == ["customers", "orders"]
    assert asked("How many orders were cancelled?") == ["orders"]
    # A column no named table has brings its table in: segment is in `customers`.
    assert asked("Which segment placed the most orders?") == ["customers", "orders"]
    # `order_items` names `orders` only inside its own name.
    assert asked("What is the average quantity in order_items?") == ["order_items"]
    assert asked("What is the average quantity?") == ["order_items"]


def test_the_column_a_which_question_asks_a_value_of_and_its_values():
    # Asked "which country", the 1.5B answered "Brazil" from a column of codes (BR): the
    # loop checks the Answer names one of the column's values.
    catalog = build_catalog([str(WAREHOUSE)])
    profiles = profile(catalog)
    assert column_asked_which(profiles, "Which segment placed the most orders?") == (
        "segment",
        ["customers"],
    )
    assert column_asked_which(profiles, "which statuses are most common?") == ("status", ["orders"])
    # Two tables have `city`: the one the question is about, else both.
    assert column_asked_which(profiles, "Which city has the most customers?") == (
        "city",
        ["customers"],
    )
    assert column_asked_which(profiles, "Which city is it?") == (
        "city",
        ["customers", "warehouses"],
    )
    # Asked as people also write it.
    assert column_asked_which(profiles, "What is the segment with the most orders?") == (
        "segment",
        ["customers"],
    )
    assert column_asked_which(profiles, "What was the name of the segment that ordered most?") == (
        "segment",
        ["customers"],
    )
    # A key, a number or a date, or no "which" before the column: nothing to check.
    for q in ["Which customer_id ordered most?", "In which order_date?", "What segment?"]:
        assert column_asked_which(profiles, q) is None
    con = catalog.connect()
    assert distinct_values(con, ["orders"], "status") == sorted(
        r[0] for r in con.execute("SELECT DISTINCT status FROM orders").fetchall()
    )
    assert len(distinct_values(con, ["customers", "warehouses"], "city")) >= 21
    assert distinct_values(con, ["orders"], "order_id") is None  # 3,075 values: too many
    from da_cli.agent.session import Session

    segments = sorted(
        r[0] for r in con.execute("SELECT DISTINCT segment FROM customers").fetchall()
    )
    with Session([str(WAREHOUSE)]) as s:
        assert s.opening("Which segment placed the most orders?").which == ("segment", segments)
        assert s.opening("How many orders were cancelled?").which is None


def test_a_which_question_may_name_its_column_by_the_last_word(tmp_path):
    # "What is the country with the highest total transaction amount": the 1.5B answered
    # "Germany" from `merchant_country` codes (DE), unchecked.
    (tmp_path / "transactions.csv").write_text(
        "merchant_country,customer_city,amount\nDE,Lyon,3\nFR,Köln,4\n"
    )
    (tmp_path / "stores.csv").write_text("store_city,store_country_code\nLyon,FR\n")
    profiles = profile(
        build_catalog([str(tmp_path / "transactions.csv"), str(tmp_path / "stores.csv")])
    )
    assert column_asked_which(profiles, "What is the country with the highest amount?") == (
        "merchant_country",
        ["transactions"],
    )
    # Two columns end in `city`: which one is asked is not known.
    assert column_asked_which(profiles, "Which city has the highest amount?") is None


def test_the_join_example_is_shown_for_a_question_about_two_tables_only():
    from da_cli.agent.session import Session

    with Session([str(WAREHOUSE)]) as s:
        two = s.opening("Which customer has the most orders?").messages[0]["content"]
        one = s.opening("How many orders were cancelled?").messages[0]["content"]
    assert "tickets per agent" in two and "tickets per agent" not in one
    assert "shop_sales" in one


def test_a_question_about_one_of_several_joined_tables_gets_a_note_to_leave_out_the_rest(
    tmp_path,
):
    # Shown the join keys, the 1.5B joined a second table into a question about one in 25
    # of 80 questions on unseen tables, and counted the joined rows.
    from da_cli.agent.session import Session

    with Session([str(WAREHOUSE)]) as s:
        one = s.opening("How many orders were cancelled?").messages[1]["content"]
        two = s.opening("Which customer has the most orders?").messages[1]["content"]
    note = "Note: The question is about `orders` alone: compute it from `orders`, with no join."
    assert note in one
    assert "alone" not in two
    # A single table has nothing to join: no note.
    csv = tmp_path / "s.csv"
    csv.write_text("a,b\n1,x\n2,y\n")
    with Session([str(csv)]) as s:
        assert "alone" not in s.opening("What is the mean of a in s?").messages[1]["content"]


def test_a_value_list_is_never_shown_as_complete_when_it_is_not(tmp_path):
    # HyperLogLog estimates these 7 values as fewer (a collision), as on a 290 MB file
    # whose 7 regions were listed as 6, with no "…".
    regions = [f"region 0-{i}" for i in range(7)]
    con = duckdb.connect()
    estimate = con.execute("SELECT approx_count_distinct(r) FROM unnest(?) t(r)", [regions])
    assert estimate.fetchone()[0] < 7  # the premise of this test
    csv = tmp_path / "sales.csv"
    rows = [f"{r},{n}" for n, r in enumerate(regions, 1) for _ in range(10 * n)]
    csv.write_text("region,units\n" + "\n".join(rows) + "\n")
    (p,) = profile(build_catalog([str(csv)]))
    assert p.columns[0].distinct == 7
    (line,) = [x for x in render([p]).splitlines() if x.startswith("- region")]
    assert line.endswith(", … (7 distinct)")
    assert "region 0-6" in line  # most frequent first


def test_a_short_value_list_is_shown_whole(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("channel\nweb\nstore\nweb\nphone\nweb\nstore\n")
    text = render(profile(build_catalog([str(csv)])))
    (line,) = [x for x in text.splitlines() if x.startswith("- channel")]
    assert line == "- channel (VARCHAR): values web, store, phone"


def test_values_seen_equally_often_are_listed_in_the_same_order_every_time(tmp_path):
    # DuckDB's parallel aggregation returns equal counts in any order: a prompt that changed
    # from run to run changed what the greedy model wrote (two DABench tables did).
    csv = tmp_path / "t.csv"
    names = [f"team {c}" for c in "qwertyuiopasdfgh"]
    csv.write_text("team,other\n" + "".join(f"{n},{n}\n" for n in reversed(names)))
    (p,) = profile(build_catalog([str(csv)]))
    team, other = p.columns
    assert team.top == sorted(names)[: profiler.TOP_VALUES]
    assert other.top == team.top


def test_numbers_written_with_text_after_them_are_shown_with_how_to_take_the_number(tmp_path):
    # A count with its range in brackets, a percent, a weight with its unit: text to DuckDB
    # and pandas. The 1.5B coerced them with to_numeric(errors='coerce'), which kept only
    # the bare zeros, and answered with a mean of 2,200 for one of 2,081,990.
    csv = tmp_path / "malaria.csv"
    rows = [
        ("630308[495000-801000]", "15.17%", "12 kg", "5 Jan 2017", "02013"),
        ("0", "3%", "7.5 kg", "12 Feb 2017", "02016"),
        ("4615605[3106000-6661000]", "0.04%", "20kg", "3rd Mar 2017", "10001"),
        ("0", "1.5%", "1,200 kg", "1 Apr 2017", "10002"),
    ]
    header = "cases,share,weight,day,zip\n"
    csv.write_text(header + "\n".join(",".join(f'"{v}"' for v in r) for r in rows) + "\n")
    (p,) = profile(build_catalog([str(csv)]), cache=False)
    mixed = {c.name: c.numbers_with_text for c in p.columns}
    assert mixed == {
        "cases": "4615605[3106000-6661000]",
        "share": "0.04%",
        "weight": "1,200 kg",
        "day": "",  # a date
        "zip": "",  # numbers alone
    }
    text = render([p])
    (cases,) = [line for line in text.splitlines() if line.startswith("- cases (VARCHAR)")]
    assert cases.endswith("; numbers, some with text after them (4615605[3106000-6661000])")
    assert sum("some with text after them" in line for line in text.splitlines()) == 3
    (how,) = [line for line in text.splitlines() if line.startswith("The number in such text")]
    # What the line tells the model to write takes the numbers.
    import pandas as pd

    malaria = pd.read_csv(csv, dtype=str)
    code = how.removeprefix("The number in such text: ")
    assert code.startswith("malaria['cases'].str.extract(")
    assert eval(code).tolist() == [630308.0, 0.0, 4615605.0, 0.0]
    weight = eval(code.replace("'cases'", "'weight'"))
    assert weight.tolist() == [12.0, 7.5, 20.0, 1200.0] and malaria is not None


def test_a_which_question_may_put_one_word_before_its_column(tmp_path):
    # "Which traffic source has the highest conversion rate?": the 1.5B answered "no", a
    # value of `converted`, unchecked.
    (tmp_path / "sessions.csv").write_text("source,device,converted\nemail,mobile,yes\n")
    profiles = profile(build_catalog([str(tmp_path / "sessions.csv")]))
    asked = column_asked_which(profiles, "Which traffic source has the highest conversion rate?")
    assert asked == ("source", ["sessions"])
    # Only after "which", and only one word: "What is the total source …" asks of no column.
    for q in ["What is the mobile device share?", "Which of the big traffic sources?"]:
        assert column_asked_which(profiles, q) is None


def test_the_values_a_question_names_as_its_rows(tmp_path):
    # "for first visits": the 1.5B correlated every visit; the loop checks some cell
    # selects the rows the question names.
    (tmp_path / "visits.csv").write_text(
        "visit_type,insurer,hotel_type,wait\nfirst,Public,Hotel,3\nfollow-up,Vita,Inn,4\n"
        "emergency,Public,Hotel,5\n"
    )
    profiles = profile(build_catalog([str(tmp_path / "visits.csv")]), cache=False)
    q = "What is the mean wait of first visits insured by Vita?"
    assert values_named(profiles, q) == [("visit_type", "first"), ("insurer", "Vita")]
    assert values_named(profiles, q, skip="insurer") == [("visit_type", "first")]
    for q in (
        "What is the mean wait in the first quarter?",  # an ordinal before no table's name
        "What is the mean wait per hotel?",  # a word of a column's name
        "Is Public or Vita faster?",  # two values of one column: a comparison
        'Drop rows where wait in the "Vita" column is missing.',  # called a column
        "Any follow-ups?",  # a plural
    ):
        assert values_named(profiles, q) == ([("visit_type", "follow-up")] if "follow" in q else [])
    # A value that begins a term names no rows: "standard deviation" of a `standard` tariff.
    from da_cli.data.profile import values_named_in

    assert values_named_in("The standard deviation of kwh?", ["standard", "night"], []) == []
    assert values_named_in("Kwh of standard meters?", ["standard", "night"], []) == ["standard"]
